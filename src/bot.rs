//! The headless network bot (`arena bot`, and the bots of `arena play
//! --bots N`): the same [`Session`] (net thread and networked match) as the
//! game, played by the AI, without a window.
//!
//! It creates or joins a room, plays its avatar with the AI at 60 Hz against
//! everyone in the room (shots, hits decided by the victim, kills), sends its
//! state (and, on request, a numbered series of reliable events), draws every
//! remote player through the match's sync as a renderer would, and at the end
//! writes a JSON report ([`report`]). It prints one line per notable event on
//! stdout ([`crate::session::Line`]), the first being `ROOM <code>`, so
//! scripts and tests can follow it without polling; it owns no socket itself.

pub mod churn;
mod hostile;
mod report;

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::ai::Ai;
use crate::net::{LinkConditions, NetCommand, NetConfig, NetError, NetMode, RoomErrorKind};
use crate::proto::GameEvent;
use crate::session::{Intent, Line, Session, print};
use crate::sim::{DT, Map};
use crate::sync::SyncConfig;
pub use report::{BotReport, PeerReport};
use report::{SERIES, Tally};

/// Rate of the numbered reliable events, per second.
const SERIES_RATE: f64 = 40.0;
/// A bot not in a room this long after starting gives up.
const ROOM_WAIT_S: f64 = 30.0;

/// What the bot does.
#[derive(Debug, Clone)]
pub struct BotConfig {
    /// Network configuration (server URL, name, mode, ICE, conditioner,
    /// seed of the match and the AI, ...).
    pub net: NetConfig,
    /// Create a room or join one.
    pub intent: Intent,
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
    /// Set to leave the room and end early (bots of `arena play --bots N`).
    pub stop: Option<Arc<AtomicBool>>,
    /// Play a hostile peer sending this many messages per second to every
    /// peer (0: a well-behaved bot); see [`hostile`].
    pub hostile: u32,
    /// Print a `USAGE` line (memory, descriptors, net tasks, peers) this
    /// often once in the room (leak checks: tests/churn.rs).
    pub usage_every: Option<Duration>,
}

/// Why a bot stopped before the end.
#[derive(Debug, thiserror::Error)]
pub enum BotError {
    /// The net thread could not start.
    #[error(transparent)]
    Net(#[from] NetError),
    /// The server refused to create or join the room.
    #[error("could not enter the room ({kind:?}): {message}")]
    Room {
        /// Why, as a kind.
        kind: RoomErrorKind,
        /// Why, as the server said it.
        message: String,
    },
    /// No room after [`ROOM_WAIT_S`].
    #[error("not in a room after 30 s")]
    NoRoom,
    /// Writing a line on stdout failed.
    #[error("cannot write to stdout: {0}")]
    Out(#[from] std::io::Error),
    /// Writing the JSON report failed.
    #[error("cannot write the report {}: {source}", path.display())]
    Report {
        /// Where.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
}

/// Runs the bot to the end; prints progress lines to `out`.
pub fn run(config: BotConfig, out: &mut impl Write) -> Result<BotReport, BotError> {
    let seed = config.net.seed;
    let mut session = Session::start(config.net.clone(), Map::builtin(), SyncConfig::default())?;
    session.enter(&config.intent);
    let mut ai = Ai::new(seed ^ 0xB07);
    let mut tally = Tally::new(session.id(), &config.net.name, config.net.mode);
    let mut tick: u64 = 0;
    // When the series started (its events are due at SERIES_RATE from then).
    let mut series = None;
    let mut switched = false;
    let mut hostile = (config.hostile > 0).then(|| {
        tracing::warn!(rate = config.hostile, "playing a hostile peer");
        hostile::Hostile::new(config.hostile, seed, session.id())
    });
    let mut first_peer_at = None;
    let mut last_tick_at = None;
    let mut next_usage_at = 0.0;
    loop {
        let now = session.now();
        while let Some((event, notice)) = session.next_event(now) {
            tally.record(event, notice, now, out)?;
        }
        let Some(joined) = tally.joined_at else {
            if now > ROOM_WAIT_S {
                return Err(BotError::NoRoom);
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
                print(out, Line::Mode(mode))?;
                tally.report.mode = mode;
                session.send(NetCommand::SetMode(mode));
            }
        }
        if let Some(every) = config.usage_every {
            if now >= next_usage_at {
                next_usage_at = now + every.as_secs_f64();
                let (usage, peers) = (session.usage(), tally.peers_in_room());
                print(out, Line::Usage { usage, peers })?;
            }
        }
        if tally.report.mesh_ready_after_s.is_none() && tally.mesh_ready() {
            tally.report.mesh_ready_after_s = Some(now - joined);
        }

        // One simulation tick: our avatar, played by the AI, among the others.
        let input = ai.think(&session.game.world, session.game.local);
        session.step(input, now);
        tick += 1;
        tally.tick(now, last_tick_at.replace(now));
        if let Some(h) = hostile.as_mut() {
            let victims = tally.peer_ids();
            if !victims.is_empty() {
                let since = *first_peer_at.get_or_insert(now);
                for c in h.due(now - since, &victims) {
                    session.send(c);
                }
            }
        }
        let sent = tally.report.events_sent;
        let enough_peers = tally.peers_in_room() >= config.events_after_peers.max(1);
        if sent < config.events && (sent > 0 || enough_peers) {
            let start = series.get_or_insert(now);
            let due = series_due(*start, now).min(config.events);
            for n in sent..due {
                session.send(NetCommand::SendEvent(GameEvent::Chat(format!(
                    "{SERIES}{n}"
                ))));
            }
            tally.report.events_sent = tally.report.events_sent.max(due);
        }
        // Fixed 60 Hz: sleep until the next tick is due.
        let next = Duration::from_secs_f64(tick as f64 * f64::from(DT));
        let since_join = Duration::from_secs_f64(now - joined);
        if let Some(wait) = next.checked_sub(since_join) {
            std::thread::sleep(wait.min(Duration::from_millis(50)));
        }
    }
    // The last statistics (and whatever else came meanwhile).
    let now = session.now();
    while let Some((event, notice)) = session.next_event(now) {
        tally.record(event, notice, now, out)?;
    }
    let mut report = tally.finish(session.game.remotes());
    report.hops = session.hops();
    drop(session);
    if let Some(path) = &config.report {
        let json = serde_json::to_string_pretty(&report).map_err(std::io::Error::from);
        json.and_then(|json| std::fs::write(path, json))
            .map_err(|source| BotError::Report {
                path: path.clone(),
                source,
            })?;
    }
    print(out, Line::Done)?;
    Ok(report)
}

/// How many events of a series started at `start` are due at `now`: one at
/// the start, then one every 1/[`SERIES_RATE`] s. Counted from the start, not
/// from the last send, so 60 Hz ticks neither round the rate down (a send
/// every other tick would be 30/s) nor let a late tick lose its events.
fn series_due(start: f64, now: f64) -> u32 {
    let due = ((now - start).max(0.0) * SERIES_RATE).floor() + 1.0;
    // Saturating: the series never runs long enough to reach u32::MAX.
    due.min(f64::from(u32::MAX)) as u32
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
            net,
            intent: Intent::Join(code),
            duration: Duration::from_secs(7 * 24 * 3600),
            report: None,
            events: 0,
            events_after_peers: 1,
            switch_mode: None,
            stop: Some(stop.clone()),
            hostile: 0,
            usage_every: None,
        };
        let name = format!("bot {}", config.net.name);
        let handle = std::thread::Builder::new().name(name).spawn(move || {
            let who = config.net.name.clone();
            if let Err(e) = run(config, &mut std::io::sink()) {
                tracing::warn!("bot {who} stopped: {e}");
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

/// The bots started from one match, each in a thread of this process.
/// Dropping the set tells every bot to leave at once, then waits for each.
#[derive(Default)]
pub struct Bots(Vec<BotThread>);

impl Bots {
    /// Starts one more bot, joining room `code` with `net`.
    pub fn add(&mut self, net: NetConfig, code: String) -> std::io::Result<()> {
        self.0.push(BotThread::spawn(net, code)?);
        Ok(())
    }

    /// How many were started.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether none was started.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Drop for Bots {
    fn drop(&mut self) {
        for b in &self.0 {
            b.stop();
        }
    }
}

/// Link conditions from CLI values (wider ranges than the settings').
pub fn conditions(latency_ms: f64, jitter_ms: f64, loss: f64) -> LinkConditions {
    LinkConditions {
        latency_ms,
        jitter_ms,
        loss,
    }
    .clamped()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_series_keeps_its_rate_at_60_hz_ticks() {
        // The bot's loop: a tick every DT, the due events sent at each tick.
        let (mut sent, mut tick) = (0, 0_u32);
        let start = 0.0;
        while f64::from(tick) * f64::from(DT) < 10.0 {
            sent = sent.max(series_due(start, f64::from(tick) * f64::from(DT)));
            tick += 1;
        }
        // 10 s at 40/s: 400 events (+ the one at the start), not 300.
        assert_eq!(sent, 400);
    }

    #[test]
    fn a_late_tick_sends_what_was_due_meanwhile() {
        assert_eq!(series_due(5.0, 5.0), 1);
        assert_eq!(series_due(5.0, 4.0), 1);
        assert_eq!(series_due(5.0, 5.0 + 0.5), 21);
    }
}
