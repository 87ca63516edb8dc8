//! `arena-server` binary: parses flags and env, binds, and calls [`arena_server::run`].

use anyhow::Context;
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info".into()),
        )
        .init();
    let port: u16 = std::env::var("PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(3536);
    let listener = TcpListener::bind(("0.0.0.0", port)).await.context("bind")?;
    println!("listening on {}", listener.local_addr()?);
    arena_server::run(listener, arena_server::Config::default(), async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}
