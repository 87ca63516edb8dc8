//! The network side of the game.
