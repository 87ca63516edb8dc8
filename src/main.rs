//! The `arena` binary: parses the command line and hands over to the library.
//!
//! `arena` (= `arena play`) opens the game window; `arena server` runs the
//! signaling server in the foreground; `arena bot` is a headless player.
//! Everything else lives in the library.

use std::net::IpAddr;
use std::path::PathBuf;

use std::time::Duration;

use anyhow::Context;
use arena::bot::BotConfig;
use arena::config::PlayArgs;
use arena::net::NetMode;
use arena::session::Intent;
use arena::settings::Settings;
use clap::{Parser, Subcommand};

/// P2P Arena: a peer-to-peer top-down arena game.
#[derive(Debug, Parser)]
#[command(version, about, args_conflicts_with_subcommands = true)]
struct Cli {
    /// `arena [FLAGS]` is `arena play [FLAGS]`.
    #[command(flatten)]
    play: PlayArgs,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Open the game window (the default).
    Play(Box<PlayArgs>),
    /// Run the signaling and relay server in the foreground.
    Server(Box<arena_server::ServerArgs>),
    /// A headless player: joins a room over the network and plays with the AI.
    Bot(Box<BotFlags>),
    /// Test what your network allows (server, STUN, NAT type, TURN, UDP) and
    /// say it in plain words. Exit status: 0 direct connections should work
    /// with everyone, 1 only through TURN or the relay, 2 server unreachable.
    Doctor(DoctorFlags),
    /// Check a TURN server: allocate, relay round trip, peer permissions
    /// (one JSON line per check on stdout).
    #[command(hide = true)]
    TurnProbe(TurnProbeFlags),
    /// Leak check: join a room and leave it N times, a WebRTC link opened
    /// and closed each time; prints memory, descriptors and net tasks.
    #[command(hide = true)]
    Churn(ChurnFlags),
}

#[derive(Debug, Clone, clap::Args)]
struct ChurnFlags {
    /// Signaling server URL.
    #[arg(long, default_value = "http://127.0.0.1:3536", env = "ARENA_SERVER")]
    server: String,
    /// The room to join and leave (a long-lived player must be in it).
    #[arg(long)]
    room: String,
    /// How many times to join and leave.
    #[arg(long, default_value_t = 30)]
    cycles: u32,
    /// Player name.
    #[arg(long, default_value = "Churn")]
    name: String,
    /// Local IP address for WebRTC (0.0.0.0: every interface).
    #[arg(long, default_value = "0.0.0.0")]
    bind: IpAddr,
    /// After the first cycle's baseline, print HOLD and wait for a line on stdin.
    #[arg(long)]
    hold: bool,
    /// Seconds each step (join, link open, leave) may take.
    #[arg(long, default_value_t = 20.0)]
    step_timeout: f64,
}

#[derive(Debug, Clone, clap::Args)]
struct DoctorFlags {
    /// The signaling server to test (default: the one in your settings).
    #[arg(long, env = "ARENA_SERVER")]
    server: Option<String>,
    /// Print the whole report as JSON instead of the verdict lines.
    #[arg(long)]
    json: bool,
    /// Settings file to read the server from (default: the OS config directory's).
    #[arg(long, env = "ARENA_CONFIG", value_name = "PATH")]
    config: Option<PathBuf>,
}

#[derive(Debug, Clone, clap::Args)]
struct TurnProbeFlags {
    /// The TURN server (UDP), IP:PORT.
    #[arg(long)]
    server: std::net::SocketAddr,
    /// TURN username (with TURN REST credentials: `EXPIRY:ID`).
    #[arg(long)]
    user: String,
    /// TURN password (credential).
    #[arg(long)]
    pass: String,
    /// Also check a permission to this peer (repeatable).
    #[arg(long)]
    peer: Vec<std::net::SocketAddr>,
    /// Seconds each check may take.
    #[arg(long, default_value_t = 5.0)]
    timeout: f64,
}

#[derive(Debug, clap::Args)]
struct BotFlags {
    /// Signaling server URL.
    #[arg(long, default_value = "http://127.0.0.1:3536", env = "ARENA_SERVER")]
    server: String,
    /// Create a room (prints `ROOM <code>` as the first line on stdout).
    #[arg(long, conflicts_with = "room", required_unless_present = "room")]
    create: bool,
    /// Join the room with this code.
    #[arg(long)]
    room: Option<String>,
    /// Network mode: hybrid, webrtc or signaling.
    #[arg(long, default_value = "hybrid", value_parser = parse_mode)]
    mode: NetMode,
    /// Player name.
    #[arg(long, default_value = "Bot")]
    name: String,
    /// Seconds to play once in the room.
    #[arg(long, default_value_t = 30.0)]
    duration: f64,
    /// Write a JSON report here at the end.
    #[arg(long)]
    report: Option<PathBuf>,
    /// STUN/TURN server URL (repeatable), e.g. turn:127.0.0.1:3478?transport=udp.
    #[arg(long = "ice-server")]
    ice_servers: Vec<String>,
    /// TURN username for the --ice-server entries.
    #[arg(long)]
    turn_user: Option<String>,
    /// TURN password for the --ice-server entries.
    #[arg(long)]
    turn_pass: Option<String>,
    /// Only relay (TURN) candidates.
    #[arg(long)]
    relay_only: bool,
    /// Make every WebRTC attempt of this bot fail (to exercise the fallback).
    #[arg(long)]
    block_p2p: bool,
    /// Added latency on outgoing game traffic, ms.
    #[arg(long, default_value_t = 0.0)]
    latency_ms: f64,
    /// Jitter around the added latency, ms.
    #[arg(long, default_value_t = 0.0)]
    jitter_ms: f64,
    /// Loss probability of outgoing game traffic (0-1).
    #[arg(long, default_value_t = 0.0)]
    loss: f64,
    /// Send this many numbered reliable events (40 per second).
    #[arg(long, default_value_t = 0)]
    events: u32,
    /// Start the series once this many peers are in the room.
    #[arg(long, default_value_t = 1)]
    events_after_peers: usize,
    /// Local IP address for WebRTC (0.0.0.0: every interface).
    #[arg(long, default_value = "0.0.0.0")]
    bind: IpAddr,
    /// Seconds a WebRTC link may take to open before Hybrid falls back to the relay.
    #[arg(long, default_value_t = 5.0)]
    p2p_timeout: f64,
    /// Switch network mode after SECS in the room, as SECS:MODE.
    #[arg(long, value_parser = parse_switch)]
    switch_mode: Option<(f64, NetMode)>,
    /// State send rate: "auto" (20-60 Hz per link) or at most this many Hz (5-60).
    #[arg(long, default_value = "auto")]
    send_rate: arena::sync::SendRate,
    /// Seed of the AI.
    #[arg(long)]
    seed: Option<u64>,
    /// Pings per second to each peer (RTT samples; 1 by default).
    #[arg(long, default_value_t = 1.0)]
    ping_hz: f64,
    /// Play a hostile peer: N messages per second to every peer, well-formed
    /// floods for 2 s, then garbage, out-of-range states and forged fields
    /// (a robustness test of the other peers; they block it).
    #[arg(long, default_value_t = 0)]
    hostile: u32,
    /// Print `USAGE rss_kb=N fds=N tasks=N peers=N` every SECS once in the
    /// room: resident memory, open descriptors, live net tasks (leak checks).
    #[arg(long, value_name = "SECS")]
    usage_every: Option<f64>,
    /// Record where each ping's round trip goes, hop by hop, into the
    /// report (benches/net_link.rs `--hops`).
    #[arg(long)]
    hops: bool,
}

fn parse_mode(s: &str) -> Result<NetMode, String> {
    s.parse()
}

fn parse_switch(s: &str) -> Result<(f64, NetMode), String> {
    let (secs, mode) = s
        .split_once(':')
        .ok_or("expected SECS:MODE, e.g. 3:signaling")?;
    let secs: f64 = secs.parse().map_err(|e| format!("{secs:?}: {e}"))?;
    if !secs.is_finite() || secs < 0.0 {
        return Err(format!("{secs} is not a number of seconds"));
    }
    Ok((secs, mode.parse()?))
}

fn bot(f: BotFlags) -> anyhow::Result<()> {
    if !(f.duration.is_finite() && f.duration > 0.0) {
        anyhow::bail!("--duration must be a positive number of seconds");
    }
    if !(f.p2p_timeout.is_finite() && f.p2p_timeout > 0.0) {
        anyhow::bail!("--p2p-timeout must be a positive number of seconds");
    }
    if !(f.ping_hz.is_finite() && (0.5..=100.0).contains(&f.ping_hz)) {
        anyhow::bail!("--ping-hz must be between 0.5 and 100");
    }
    if f.usage_every
        .is_some_and(|s| !(s.is_finite() && (0.01..=3600.0).contains(&s)))
    {
        anyhow::bail!("--usage-every must be between 0.01 and 3600 seconds");
    }
    // A player with the flags' settings, plus the test knobs only bots have.
    let settings = Settings {
        name: f.name,
        mode: f.mode,
        send_rate: f.send_rate,
        ice_servers: f.ice_servers,
        turn_user: f.turn_user,
        turn_pass: f.turn_pass,
        ..Settings::default()
    };
    let seed = f.seed.unwrap_or_else(rand::random);
    let map = arena::sim::Map::builtin();
    let mut net = arena::session::net_config(&settings, f.server, f.bind, seed, &map);
    net.conditions = arena::bot::conditions(f.latency_ms, f.jitter_ms, f.loss);
    net.relay_only = f.relay_only;
    net.block_p2p = f.block_p2p;
    net.policy.p2p_timeout = f.p2p_timeout;
    net.ping_interval = 1.0 / f.ping_hz;
    net.record_hops = f.hops;
    let config = BotConfig {
        net,
        intent: f.room.map_or(Intent::Create, Intent::Join),
        duration: Duration::from_secs_f64(f.duration),
        report: f.report,
        events: f.events,
        events_after_peers: f.events_after_peers,
        switch_mode: f.switch_mode.map(|(s, m)| (Duration::from_secs_f64(s), m)),
        stop: None,
        hostile: f.hostile,
        usage_every: f.usage_every.map(Duration::from_secs_f64),
    };
    arena::bot::run(config, &mut std::io::stdout().lock())?;
    Ok(())
}

/// `arena churn`: the churning side of the leak test (tests/churn.rs).
fn churn(f: ChurnFlags) -> anyhow::Result<()> {
    if f.cycles == 0 {
        anyhow::bail!("--cycles must be at least 1");
    }
    if !(f.step_timeout.is_finite() && f.step_timeout > 0.0) {
        anyhow::bail!("--step-timeout must be a positive number of seconds");
    }
    let settings = Settings {
        name: f.name,
        ..Settings::default()
    };
    let map = arena::sim::Map::builtin();
    let net = arena::session::net_config(&settings, f.server, f.bind, rand::random(), &map);
    let config = arena::bot::churn::ChurnConfig {
        net,
        code: f.room,
        cycles: f.cycles,
        hold: f.hold,
        step_timeout: Duration::from_secs_f64(f.step_timeout),
    };
    let stdin = std::io::stdin();
    arena::bot::churn::run(config, &mut std::io::stdout().lock(), &mut stdin.lock())?;
    Ok(())
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
    match cli.command.unwrap_or(Command::Play(Box::new(cli.play))) {
        Command::Play(args) => play(*args),
        Command::Bot(flags) => bot(*flags),
        Command::Churn(flags) => churn(flags),
        Command::TurnProbe(flags) => turn_probe(flags),
        Command::Doctor(flags) => doctor(flags),
        Command::Server(args) => arena::net::serve_blocking(&args).context("signaling server"),
    }
}

/// `arena doctor`: exits with the verdict's status (0, 1, 2).
fn doctor(f: DoctorFlags) -> anyhow::Result<()> {
    use arena::net::doctor::{Level, Timeouts, run_blocking};
    let url = match f
        .server
        .as_deref()
        .and_then(arena::settings::server_url_from_input)
    {
        Some(u) => u,
        None => {
            let saved = f
                .config
                .clone()
                .or_else(arena::settings::default_path)
                .and_then(|p| arena::settings::load(&p).settings.server_url);
            match saved {
                Some(u) => u,
                None => {
                    eprintln!(
                        "arena doctor: no server to test: your settings host games on this machine. \
                         Pass --server URL (the server your friends use)."
                    );
                    std::process::exit(2);
                }
            }
        }
    };
    let report = run_blocking(&url, Timeouts::default()).context("network test")?;
    if f.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("Testing {url}");
        for l in &report.lines {
            let mark = match l.level {
                Level::Ok => "  ok ",
                Level::Warn => "  !! ",
                Level::Fail => "  XX ",
                Level::Info => "  -- ",
            };
            println!("{mark}{}", l.text);
        }
        println!("({:.1} s)", report.elapsed_ms / 1000.0);
    }
    std::process::exit(report.exit_code);
}

/// `arena turn-probe`: the relay check, then one permission check per
/// `--peer`, each printed as one JSON line; the exit status is 0 whatever
/// the server answered (the lines say).
fn turn_probe(f: TurnProbeFlags) -> anyhow::Result<()> {
    use arena::net::turn_probe::{allocate_round_trip, peer_report, permission, relay_report};
    use std::io::Write;
    if !(f.timeout.is_finite() && f.timeout > 0.0 && f.timeout <= 600.0) {
        clap::Error::raw(
            clap::error::ErrorKind::ValueValidation,
            "--timeout must be a number of seconds between 0 and 600\n",
        )
        .exit();
    }
    let timeout = Duration::from_secs_f64(f.timeout);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("tokio runtime")?;
    runtime.block_on(async {
        let mut out = std::io::stdout().lock();
        let relay = allocate_round_trip(f.server, &f.user, &f.pass, timeout).await;
        writeln!(out, "{}", relay_report(&relay))?;
        for peer in f.peer {
            let r = permission(f.server, &f.user, &f.pass, peer, timeout).await;
            writeln!(out, "{}", peer_report(peer, &r))?;
        }
        out.flush()
    })?;
    Ok(())
}

fn play(args: PlayArgs) -> anyhow::Result<()> {
    let clock_seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let config = args.validate(clock_seed)?;
    arena::ui::run(config)
}
