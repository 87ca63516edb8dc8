//! Hosting the signaling server in this process: `arena server` in the
//! foreground, and (for LAN play and the one-command demo) an embedded server
//! on a background runtime.

use std::net::SocketAddr;

use thiserror::Error;
use tokio::net::TcpListener;

/// Failures of the network layer that end the operation.
#[derive(Debug, Error)]
pub enum NetError {
    /// The tokio runtime could not be built.
    #[error("cannot start the network runtime: {0}")]
    Runtime(std::io::Error),
    /// The listening address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// The server stopped with an error.
    #[error("signaling server failed: {0}")]
    Serve(std::io::Error),
}

/// Runs the signaling server in the foreground until SIGINT or SIGTERM.
///
/// Prints `listening on HOST:PORT` (the real port when `addr` asks for port 0)
/// on stdout once it accepts connections.
pub fn serve_blocking(addr: SocketAddr, config: arena_server::Config) -> Result<(), NetError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(NetError::Runtime)?;
    runtime.block_on(async move {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| NetError::Bind { addr, source })?;
        let local = listener.local_addr().map_err(NetError::Serve)?;
        println!("listening on {local}");
        arena_server::run(listener, config, shutdown_signal())
            .await
            .map_err(NetError::Serve)
    })
}

/// Completes on SIGINT (Ctrl-C) or, on Unix, SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!("cannot listen for Ctrl-C: {e}");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!("cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
    tracing::info!("shutting down");
}
