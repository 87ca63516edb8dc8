//! The network side of the game: everything that owns a socket or a tokio
//! runtime lives here and nowhere else. It must not touch macroquad or the
//! game rules.

mod host;

pub use host::{NetError, serve_blocking};
