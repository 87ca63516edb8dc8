//! `arena-server` binary: parses flags and env, binds, and calls [`arena_server::run`].
//!
//! Owns only process concerns: logging setup, signals (SIGINT, SIGTERM) and
//! the `listening on HOST:PORT (STUN on UDP ...)` line (with the real port
//! for `--port 0`).

use anyhow::Context;
use clap::Parser;

/// Signaling and relay server of P2P Arena.
#[derive(Debug, Parser)]
#[command(name = "arena-server", version, about)]
struct Cli {
    #[command(flatten)]
    server: arena_server::ServerArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let cli = Cli::parse();
    let config = cli.server.to_config().context("invalid configuration")?;
    let listeners = arena_server::Listeners::bind(&cli.server).await?;
    println!("{}", listeners.describe());
    arena_server::serve(listeners, config, arena_server::shutdown_signal())
        .await
        .context("server failed")?;
    Ok(())
}
