//! The headless network bot (`arena bot`, and the bots of `arena play
//! --bots N`): the same net thread and networked match ([`OnlineMatch`]) as
//! the game, played by the AI, without a window.
//!
//! It creates or joins a room, plays its avatar with the AI at 60 Hz against
//! everyone in the room (shots, hits decided by the victim, kills), sends its
//! state (and, on request, a numbered series of reliable events), draws every
//! remote player through the match's sync as a renderer would, and at the end
//! writes a JSON report: per peer, the route
//! and candidate type, RTT percentiles, what arrived, timings, bytes and the
//! live sync figures. It prints one line per notable event on stdout, the
//! first being `ROOM <code>`, so scripts and tests can follow it without
//! polling; it owns no socket itself.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::ai::Ai;
use crate::net::{
    CandidateKind, CandidatePair, LinkConditions, NetCommand, NetConfig, NetEvent, NetHandle,
    NetMode, PeerStats, Route,
};
use crate::online::OnlineMatch;
use crate::proto::{Bounds, GameEvent, NetId};
use crate::sim::{DT, Map};
use crate::sync::{SyncConfig, SyncStats};

/// Prefix of the numbered reliable events a bot sends (`--events N`).
const SERIES: &str = "series ";
/// Rate of those events, per second.
const SERIES_RATE: f64 = 40.0;

/// What the bot does.
#[derive(Debug, Clone)]
pub struct BotConfig {
    /// Network configuration (server URL, name, mode, ICE, conditioner, ...).
    pub net: NetConfig,
    /// `None`: create a room; `Some(code)`: join it.
    pub room: Option<String>,
    /// How long to play after joining.
    pub duration: Duration,
    /// Where to write the JSON report.
    pub report: Option<PathBuf>,
    /// Send this many numbered reliable events (`Chat("series i")`) at 40/s
    /// once a first peer is there.
    pub events: u32,
    /// Start those events once this many peers are in the room (at least 1),
    /// so every peer can receive the whole series.
    pub events_after_peers: usize,
    /// Switch to this mode after this long in the room (tests of live switching).
    pub switch_mode: Option<(Duration, NetMode)>,
    /// Seed of the AI and the simulation.
    pub seed: u64,
    /// Set to leave the room and end early (bots of `arena play --bots N`).
    pub stop: Option<Arc<AtomicBool>>,
}

/// The JSON report.
#[derive(Debug, Clone, Serialize)]
pub struct BotReport {
    /// Our network id (hex).
    pub id: String,
    /// Our name.
    pub name: String,
    /// The room code.
    pub room: Option<String>,
    /// The network mode at the end.
    pub mode: NetMode,
    /// Seconds from start to being in the room.
    pub joined_after_s: Option<f64>,
    /// Seconds from joining to every known peer being on WebRTC (or `null`).
    pub mesh_ready_after_s: Option<f64>,
    /// Reliable series events sent.
    pub events_sent: u32,
    /// Errors reported by the net thread.
    pub errors: Vec<String>,
    /// Per peer, by id (hex).
    pub peers: BTreeMap<String, PeerReport>,
}

/// One peer in the report.
#[derive(Debug, Clone, Serialize, Default)]
pub struct PeerReport {
    /// Its name.
    pub name: String,
    /// Route at the end.
    pub route: Option<Route>,
    /// Candidate type at the end, when on WebRTC (`relay` when TURN relays it).
    pub candidate: Option<CandidateKind>,
    /// The candidate pair of the last WebRTC link: types and addresses.
    pub pair: Option<CandidatePair>,
    /// Why the last WebRTC attempt failed, if one did.
    pub p2p_failure: Option<String>,
    /// Every route it had, in order.
    pub routes: Vec<Route>,
    /// Seconds after our joining when it first went on WebRTC.
    pub p2p_after_s: Option<f64>,
    /// Seconds after our joining when it first went to the relay.
    pub relay_after_s: Option<f64>,
    /// RTT percentiles, milliseconds.
    pub rtt_p50_ms: Option<f64>,
    /// 99th percentile RTT, milliseconds.
    pub rtt_p99_ms: Option<f64>,
    /// States received.
    pub states_in: u64,
    /// Longest time between two consecutive states, milliseconds.
    pub max_state_gap_ms: Option<f64>,
    /// Reliable events received.
    pub events_in: u64,
    /// Numbered series events received.
    pub series_in: u32,
    /// Whether they arrived exactly once, in order (0, 1, 2, ...).
    pub series_in_order: bool,
    /// The first departures from that order: (expected, received).
    pub series_jumps: Vec<(u32, u32)>,
    /// Seconds after our joining when its `Hello` arrived.
    pub joined_after_s: Option<f64>,
    /// Whether it left, and why.
    pub left: Option<String>,
    /// Net thread statistics (bytes, drops, ...).
    pub net: Option<PeerStats>,
    /// Mean interpolation delay, milliseconds (live sync pipeline).
    pub sync_mean_delay_ms: Option<f64>,
    /// Share of frames extrapolated.
    pub sync_extrapolated: f64,
    /// Share of frames held.
    pub sync_held: f64,
}

struct Remote {
    report: PeerReport,
    /// Sync figures kept when the peer leaves the match.
    sync: Option<SyncStats>,
    rtts: Vec<f64>,
    next_series: u32,
    last_state_at: Option<f64>,
}

impl Remote {
    fn new() -> Remote {
        Remote {
            report: PeerReport {
                series_in_order: true,
                ..PeerReport::default()
            },
            sync: None,
            rtts: Vec::new(),
            next_series: 0,
            last_state_at: None,
        }
    }
}

/// Runs the bot to the end; prints progress lines to `out`.
pub fn run(config: BotConfig, out: &mut impl Write) -> anyhow::Result<BotReport> {
    let started = Instant::now();
    let mut net_cfg = config.net.clone();
    net_cfg.epoch = started;
    let map = Map::builtin();
    let net = NetHandle::spawn(net_cfg)?;
    match &config.room {
        None => net.send(NetCommand::CreateRoom),
        Some(code) => net.send(NetCommand::JoinRoom(code.clone())),
    }
    let mut game = OnlineMatch::new(
        map,
        config.seed,
        &config.net.name,
        config.net.color,
        net.id(),
        SyncConfig::default(),
    );
    let mut ai = Ai::new(config.seed ^ 0xB07);
    let mut report = BotReport {
        id: format!("{:016x}", net.id()),
        name: config.net.name.clone(),
        room: None,
        mode: config.net.mode,
        joined_after_s: None,
        mesh_ready_after_s: None,
        events_sent: 0,
        errors: Vec::new(),
        peers: BTreeMap::new(),
    };
    let mut remotes: BTreeMap<NetId, Remote> = BTreeMap::new();
    // Members we never heard from (no `Hello`: WebRTC-only with no link), by socket id.
    let mut unknown: BTreeMap<String, PeerStats> = BTreeMap::new();
    let mut joined_at: Option<f64> = None;
    let mut tick: u64 = 0;
    let mut commands = Vec::new();
    let mut next_series_at = 0.0;
    let mut switched = false;
    loop {
        let now = started.elapsed().as_secs_f64();
        for ev in net.events().try_iter() {
            if let NetEvent::PeerLeft { peer, .. } = &ev {
                let sync = game.remote(*peer).map(|r| r.sync.stats());
                if let Some(r) = remotes.get_mut(peer) {
                    r.sync = sync;
                }
            }
            game.handle(&ev, now);
            match ev {
                NetEvent::RoomJoined { code, .. } => {
                    writeln!(out, "ROOM {code}")?;
                    out.flush()?;
                    report.room = Some(code);
                    report.joined_after_s = Some(now);
                    joined_at = Some(now);
                }
                NetEvent::RoomFailed { kind, message } => {
                    anyhow::bail!("could not enter the room ({kind:?}): {message}");
                }
                NetEvent::PeerJoined { peer, name, .. } => {
                    writeln!(out, "JOINED {peer:016x} {name}")?;
                    let since = joined_at.map(|j| now - j);
                    let r = remotes.entry(peer).or_insert_with(Remote::new);
                    r.report.name = name;
                    r.report.left = None;
                    r.report.joined_after_s.get_or_insert(since.unwrap_or(0.0));
                }
                NetEvent::PeerLeft { peer, reason } => {
                    writeln!(out, "LEFT {peer:016x} {reason:?}")?;
                    if let Some(r) = remotes.get_mut(&peer) {
                        r.report.left = Some(format!("{reason:?}"));
                    }
                }
                NetEvent::RouteChanged {
                    peer,
                    route,
                    candidate,
                } => {
                    let c = candidate.map_or("-", CandidateKind::as_str);
                    writeln!(out, "ROUTE {peer:016x} {route} {c}")?;
                    // A peer we have no `Hello` from (WebRTC-only with no
                    // path) is still reported, with its route and why.
                    {
                        let r = remotes.entry(peer).or_insert_with(Remote::new);
                        let since = joined_at.map_or(0.0, |j| now - j);
                        r.report.routes.push(route);
                        r.report.route = Some(route);
                        r.report.candidate = candidate;
                        if route.is_p2p() {
                            r.report.p2p_after_s.get_or_insert(since);
                        }
                        if route == Route::Relay {
                            r.report.relay_after_s.get_or_insert(since);
                        }
                    }
                }
                NetEvent::State { peer, at, .. } => {
                    if let Some(r) = remotes.get_mut(&peer) {
                        r.report.states_in += 1;
                        if let Some(last) = r.last_state_at {
                            let gap = (at - last) * 1000.0;
                            if r.report.max_state_gap_ms.is_none_or(|g| gap > g) {
                                r.report.max_state_gap_ms = Some(gap);
                            }
                        }
                        r.last_state_at = Some(at);
                    }
                }
                NetEvent::Event { peer, event } => {
                    if let Some(r) = remotes.get_mut(&peer) {
                        r.report.events_in += 1;
                        if let GameEvent::Chat(text) = &event {
                            if let Some(n) = text
                                .strip_prefix(SERIES)
                                .and_then(|n| n.parse::<u32>().ok())
                            {
                                if n != r.next_series {
                                    r.report.series_in_order = false;
                                    if r.report.series_jumps.len() < 10 {
                                        r.report.series_jumps.push((r.next_series, n));
                                    }
                                }
                                r.next_series = n + 1;
                                r.report.series_in += 1;
                            }
                        }
                    }
                }
                NetEvent::ClockSample {
                    peer,
                    sent,
                    received,
                    ..
                } => {
                    if let Some(r) = remotes.get_mut(&peer) {
                        r.rtts.push((received - sent) * 1000.0);
                    }
                }
                NetEvent::Stats(stats) => {
                    for s in stats {
                        if s.peer == 0 {
                            unknown.insert(s.sid.clone(), s);
                        } else if let Some(r) = remotes.get_mut(&s.peer) {
                            unknown.remove(&s.sid);
                            r.report.net = Some(s);
                        }
                    }
                }
                NetEvent::Error(e) | NetEvent::ServerUnreachable { message: e } => {
                    writeln!(out, "ERROR {e}")?;
                    report.errors.push(e);
                }
                NetEvent::Disconnected { message } => writeln!(out, "DISCONNECTED {message}")?,
                NetEvent::Reconnected => writeln!(out, "RECONNECTED")?,
                NetEvent::Connected { core_only } => {
                    tracing::info!(core_only, "connected to the signaling server");
                }
            }
        }
        out.flush()?;
        let Some(joined) = joined_at else {
            if now > 30.0 {
                anyhow::bail!("not in a room after 30 s");
            }
            std::thread::sleep(Duration::from_millis(10));
            continue;
        };
        let stopped = config
            .stop
            .as_ref()
            .is_some_and(|s| s.load(Ordering::Relaxed));
        if stopped || now - joined >= config.duration.as_secs_f64() {
            break;
        }
        if let Some((after, mode)) = config.switch_mode {
            if !switched && now - joined >= after.as_secs_f64() {
                switched = true;
                writeln!(out, "MODE {mode}")?;
                report.mode = mode;
                net.send(NetCommand::SetMode(mode));
            }
        }
        if report.mesh_ready_after_s.is_none()
            && !remotes.is_empty()
            && remotes
                .values()
                .all(|r| r.report.left.is_some() || r.report.route.is_some_and(Route::is_p2p))
        {
            report.mesh_ready_after_s = Some(now - joined);
        }

        // One simulation tick: our avatar, played by the AI, among the others.
        let input = ai.think(&game.world, game.local);
        game.step(input, now, &mut commands);
        tick += 1;
        for c in commands.drain(..) {
            net.send(c);
        }
        let joined_peers = remotes
            .values()
            .filter(|r| r.report.left.is_none() && !r.report.name.is_empty())
            .count();
        let series_started = report.events_sent > 0;
        let enough_peers = joined_peers >= config.events_after_peers.max(1);
        if report.events_sent < config.events
            && (series_started || enough_peers)
            && now >= next_series_at
        {
            next_series_at = now + 1.0 / SERIES_RATE;
            net.send(NetCommand::SendEvent(GameEvent::Chat(format!(
                "{SERIES}{}",
                report.events_sent
            ))));
            report.events_sent += 1;
        }
        // Fixed 60 Hz: sleep until the next tick is due.
        let next = Duration::from_secs_f64(tick as f64 * f64::from(DT));
        let since_join = Duration::from_secs_f64(now - joined);
        if let Some(wait) = next.checked_sub(since_join) {
            std::thread::sleep(wait.min(Duration::from_millis(50)));
        }
    }
    for ev in net.events().try_iter() {
        if let NetEvent::Stats(stats) = ev {
            for s in stats {
                if let Some(r) = remotes.get_mut(&s.peer) {
                    r.report.net = Some(s);
                }
            }
        }
    }
    net.shutdown();
    for r in game.remotes() {
        if let Some(mine) = remotes.get_mut(&r.net) {
            mine.sync = Some(r.sync.stats());
        }
    }
    for (id, mut r) in remotes {
        if let Some(net) = &r.report.net {
            r.report.pair = net.pair.clone();
            r.report.p2p_failure = net.p2p_failure.clone();
        }
        r.rtts.sort_by(f64::total_cmp);
        r.report.rtt_p50_ms = percentile(&r.rtts, 0.50);
        r.report.rtt_p99_ms = percentile(&r.rtts, 0.99);
        let s = r.sync.unwrap_or_default();
        r.report.sync_mean_delay_ms = s.mean_delay.map(|d| d * 1000.0);
        r.report.sync_extrapolated = s.extrapolated_ratio();
        r.report.sync_held = s.held_ratio();
        report.peers.insert(format!("{id:016x}"), r.report);
    }
    for (sid, s) in unknown {
        let report_of = PeerReport {
            route: s.route,
            routes: s.route.into_iter().collect(),
            p2p_failure: s.p2p_failure.clone(),
            net: Some(s),
            ..PeerReport::default()
        };
        report.peers.insert(format!("sid:{sid}"), report_of);
    }
    if let Some(path) = &config.report {
        let json = serde_json::to_string_pretty(&report)?;
        std::fs::write(path, json)
            .map_err(|e| anyhow::anyhow!("cannot write the report {}: {e}", path.display()))?;
    }
    writeln!(out, "DONE")?;
    Ok(report)
}

/// A bot playing in a thread of this process (`arena play --bots N`, or
/// "Add a bot" in the match menu): it joins the room over the real network
/// like any other player. Dropping it makes it leave and waits for it.
pub struct BotThread {
    stop: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl BotThread {
    /// Starts a bot that joins room `code` with `net` (server, name, colour,
    /// bind address) and plays until stopped.
    pub fn spawn(net: NetConfig, code: String) -> std::io::Result<BotThread> {
        let stop = Arc::new(AtomicBool::new(false));
        let config = BotConfig {
            seed: net.seed,
            net,
            room: Some(code),
            duration: Duration::from_secs(7 * 24 * 3600),
            report: None,
            events: 0,
            events_after_peers: 1,
            switch_mode: None,
            stop: Some(stop.clone()),
        };
        let name = format!("bot {}", config.net.name);
        let handle = std::thread::Builder::new().name(name).spawn(move || {
            let who = config.net.name.clone();
            if let Err(e) = run(config, &mut std::io::sink()) {
                tracing::warn!("bot {who} stopped: {e:#}");
            }
        })?;
        Ok(BotThread {
            stop,
            handle: Some(handle),
        })
    }

    /// Asks the bot to leave (without waiting; dropping waits).
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl Drop for BotThread {
    fn drop(&mut self) {
        self.stop();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// The arena bounds game messages are checked against.
pub fn arena_bounds(map: &Map) -> Bounds {
    Bounds::new(glam::Vec2::ZERO, map.size)
}

/// Link conditions from CLI values.
pub fn conditions(latency_ms: f64, jitter_ms: f64, loss: f64) -> LinkConditions {
    LinkConditions {
        latency_ms,
        jitter_ms,
        loss,
    }
    .clamped()
}

fn percentile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted.get(i).copied()
}
