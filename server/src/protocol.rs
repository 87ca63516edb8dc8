//! Signaling message types of `PROTOCOL.md`, shared by the server and the game.
