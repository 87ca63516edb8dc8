//! Settings of the game.
