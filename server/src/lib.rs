//! `arena-server`: the signaling and relay server of P2P Arena.
//!
//! It introduces peers (rooms and the `signal` relay of WebRTC offers, answers
//! and candidates), relays game traffic for pairs of players that cannot reach
//! each other directly, and hands out short-lived TURN credentials. The wire
//! contract is `PROTOCOL.md`; the message types live once, in [`protocol`].
//!
//! The entry point is [`run`]: it takes an already bound listener, a validated
//! [`Config`] and a shutdown future, so the `arena-server` binary, `arena
//! server` and the game's embedded host all start it the same way, and tests
//! bind `127.0.0.1:0` and read the port back.

pub mod config;
pub mod protocol;

pub use config::Config;

use std::future::Future;

use axum::Router;
use axum::routing::get;
use tokio::net::TcpListener;

/// Serves the signaling server on `listener` until `shutdown` completes.
///
/// Returns once every connection has been closed after the shutdown signal.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let _ = config;
    let app = Router::new().route("/healthz", get(|| async { "ok" }));
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
}
