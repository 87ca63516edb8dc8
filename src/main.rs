//! The `arena` binary: parses the command line and hands over to the library.
//!
//! `arena` (= `arena play`) opens the game window; `arena server` runs the
//! signaling server in the foreground. Everything else lives in the library.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use anyhow::Context;
use arena::config::PlayArgs;
use clap::{Parser, Subcommand};

/// P2P Arena: a peer-to-peer top-down arena game.
#[derive(Debug, Parser)]
#[command(version, about, args_conflicts_with_subcommands = true)]
struct Cli {
    /// `arena [FLAGS]` is `arena play [FLAGS]`.
    #[command(flatten)]
    play: PlayFlags,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Open the game window (the default).
    Play(PlayFlags),
    /// Run the signaling and relay server in the foreground.
    Server(ServerFlags),
}

#[derive(Debug, Clone, clap::Args)]
struct PlayFlags {
    /// Go straight into a practice match against AI opponents.
    #[arg(long)]
    practice: bool,
    /// Number of AI opponents in practice (0-7).
    #[arg(long, default_value_t = 3, env = "ARENA_BOTS")]
    bots: usize,
    /// Your player name.
    #[arg(long, default_value = "Player", env = "ARENA_NAME")]
    name: String,
    /// Seed of the simulation and the AI (random when absent).
    #[arg(long)]
    seed: Option<u64>,
    /// Arena map file (TOML); the built-in arena when absent.
    #[arg(long, env = "ARENA_MAP")]
    map: Option<PathBuf>,
    /// Save a PNG of the frame shown at --exit-after, then exit.
    #[arg(long, requires = "exit_after")]
    screenshot: Option<PathBuf>,
    /// Exit after this many seconds (with --screenshot: after saving it).
    #[arg(long, value_name = "SECS")]
    exit_after: Option<f64>,
    /// Play no sound.
    #[arg(long, env = "ARENA_MUTE")]
    mute: bool,
}

#[derive(Debug, clap::Args)]
struct ServerFlags {
    /// Address to listen on.
    #[arg(long, default_value = "0.0.0.0", env = "HOST")]
    host: IpAddr,
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 3536, env = "PORT")]
    port: u16,
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,wgpu=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Play(cli.play)) {
        Command::Play(flags) => play(flags),
        Command::Server(flags) => {
            let addr = SocketAddr::new(flags.host, flags.port);
            arena::net::serve_blocking(addr, arena_server::Config::default())
                .context("signaling server")
        }
    }
}

fn play(flags: PlayFlags) -> anyhow::Result<()> {
    let args = PlayArgs {
        practice: flags.practice,
        bots: flags.bots,
        name: flags.name,
        seed: flags.seed,
        map: flags.map,
        screenshot: flags.screenshot,
        exit_after: flags.exit_after,
        mute: flags.mute,
    };
    let clock_seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let config = args.validate(clock_seed)?;
    arena::ui::run(config)
}
