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
    play: PlayFlags,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Open the game window (the default).
    Play(Box<PlayFlags>),
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

#[derive(Debug, Clone, clap::Args)]
struct PlayFlags {
    /// Go straight into a practice match against AI opponents.
    #[arg(long, conflicts_with_all = ["create", "room"])]
    practice: bool,
    /// Create a room and play in it (prints `ROOM <code>` and `SERVER <url>` on stdout).
    #[arg(long, conflicts_with = "room")]
    create: bool,
    /// Join the room with this code (any case; spaces and dashes ignored).
    #[arg(long, value_name = "CODE")]
    room: Option<String>,
    /// Open the settings screen first.
    #[arg(long = "settings", conflicts_with_all = ["practice", "create", "room"])]
    open_settings: bool,
    /// Open the settings screen and test the connection to the server (as
    /// its Test connection button does; `arena doctor` is the same in a terminal).
    #[arg(long, conflicts_with_all = ["practice", "create", "room", "open_settings"])]
    test_connection: bool,
    /// AI opponents in practice (default 3), or bots that join the room you
    /// create, over the real network (default 0). 0-7.
    #[arg(long, env = "ARENA_BOTS")]
    bots: Option<usize>,
    /// Your player name (saved setting).
    #[arg(long, env = "ARENA_NAME")]
    name: Option<String>,
    /// Your colour, 0-7 (saved setting).
    #[arg(long, env = "ARENA_COLOR")]
    color: Option<u8>,
    /// Network mode: hybrid, webrtc or signaling (saved setting).
    #[arg(long, env = "ARENA_MODE", value_parser = parse_mode)]
    mode: Option<NetMode>,
    /// Signaling server URL; "host" = host on this machine (saved setting).
    #[arg(long, env = "ARENA_SERVER")]
    server: Option<String>,
    /// Where a server hosted on this machine listens (saved setting; port 0: any free port).
    #[arg(long, env = "ARENA_HOST_ADDR")]
    host_addr: Option<std::net::SocketAddr>,
    /// State send rate, Hz (5-60; saved setting).
    #[arg(long, env = "ARENA_SEND_RATE")]
    send_rate: Option<f64>,
    /// Interpolation delay: auto or milliseconds (saved setting).
    #[arg(long, env = "ARENA_INTERP_DELAY", value_parser = parse_delay)]
    interp_delay: Option<arena::settings::InterpDelay>,
    /// STUN/TURN server URL, repeatable (saved setting).
    #[arg(long = "ice-server", env = "ARENA_ICE_SERVERS", value_delimiter = ',')]
    ice_servers: Option<Vec<String>>,
    /// TURN username (saved setting).
    #[arg(long, env = "ARENA_TURN_USER")]
    turn_user: Option<String>,
    /// TURN password (saved setting).
    #[arg(long, env = "ARENA_TURN_PASS")]
    turn_pass: Option<String>,
    /// Link conditioner: added latency, ms (saved setting).
    #[arg(long, env = "ARENA_LATENCY_MS")]
    latency_ms: Option<f64>,
    /// Link conditioner: jitter, ms (saved setting).
    #[arg(long, env = "ARENA_JITTER_MS")]
    jitter_ms: Option<f64>,
    /// Link conditioner: loss, 0-0.5 (saved setting).
    #[arg(long, env = "ARENA_LOSS")]
    loss: Option<f64>,
    /// Show the net graph (F3 toggles it in a match; saved setting).
    #[arg(long, env = "ARENA_NET_GRAPH")]
    net_graph: Option<bool>,
    /// Token for creating rooms on a server that requires one (saved setting).
    #[arg(long, env = "ARENA_CREATE_TOKEN")]
    create_token: Option<String>,
    /// Settings file (default: the OS config directory's p2p-arena/settings.toml).
    #[arg(long, env = "ARENA_CONFIG", value_name = "PATH")]
    config: Option<PathBuf>,
    /// Local IP address for WebRTC (0.0.0.0: every interface).
    #[arg(long, env = "ARENA_BIND", default_value = "0.0.0.0")]
    bind: IpAddr,
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
    /// Write every frame's duration and the game's own share of it (ms, one
    /// frame per line: `period work`) here at exit (benchmarks).
    #[arg(long, value_name = "PATH")]
    frame_times: Option<PathBuf>,
    /// Anti-aliasing samples: 1 (off), 2, 4 or 8. Software GL (Xvfb, VMs)
    /// draws much faster with 1.
    #[arg(long, env = "ARENA_MSAA", default_value_t = 4)]
    msaa: u8,
    /// Play no sound.
    #[arg(long, env = "ARENA_MUTE")]
    mute: bool,
}

fn parse_delay(s: &str) -> Result<arena::settings::InterpDelay, String> {
    s.parse().map_err(|e| format!("{e}"))
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
    /// State send rate, Hz (5-60).
    #[arg(long, default_value_t = 20.0)]
    send_rate: f64,
    /// Seed of the AI.
    #[arg(long)]
    seed: Option<u64>,
    /// Pings per second to each peer (RTT samples; 1 by default).
    #[arg(long, default_value_t = 1.0)]
    ping_hz: f64,
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
    // A player with the flags' settings, plus the test knobs only bots have.
    let settings = Settings {
        name: f.name,
        mode: f.mode,
        send_rate_hz: f.send_rate,
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
    let config = BotConfig {
        net,
        intent: f.room.map_or(Intent::Create, Intent::Join),
        duration: Duration::from_secs_f64(f.duration),
        report: f.report,
        events: f.events,
        events_after_peers: f.events_after_peers,
        switch_mode: f.switch_mode.map(|(s, m)| (Duration::from_secs_f64(s), m)),
        stop: None,
    };
    arena::bot::run(config, &mut std::io::stdout().lock())?;
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
        Command::Play(flags) => play(*flags),
        Command::Bot(flags) => bot(*flags),
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

fn play(f: PlayFlags) -> anyhow::Result<()> {
    let overrides = arena::settings::Overrides {
        name: f.name,
        color: f.color,
        mode: f.mode,
        server_url: f.server,
        host_addr: f.host_addr,
        send_rate_hz: f.send_rate,
        interp_delay: f.interp_delay,
        ice_servers: f.ice_servers,
        turn_user: f.turn_user,
        turn_pass: f.turn_pass,
        latency_ms: f.latency_ms,
        jitter_ms: f.jitter_ms,
        loss: f.loss,
        net_graph: f.net_graph,
        create_token: f.create_token,
    };
    let args = PlayArgs {
        practice: f.practice,
        create: f.create,
        room: f.room,
        open_settings: f.open_settings,
        test_connection: f.test_connection,
        bots: f.bots,
        seed: f.seed,
        map: f.map,
        screenshot: f.screenshot,
        exit_after: f.exit_after,
        frame_times: f.frame_times,
        msaa: f.msaa,
        mute: f.mute,
        overrides,
        settings_path: f.config,
        bind_ip: f.bind,
    };
    let clock_seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let config = args.validate(clock_seed)?;
    arena::ui::run(config)
}
