//! What a bot counts while it plays, and the JSON report it makes of it:
//! per peer, the route and candidate type, RTT percentiles, what arrived,
//! timings, bytes and the live sync figures. It also prints the bot's
//! stdout lines ([`Line`]) as the events come.

use std::collections::BTreeMap;
use std::io::Write;

use serde::Serialize;

use super::BotError;
use crate::net::hops::HopReport;
use crate::net::{CandidateKind, CandidatePair, NetEvent, NetMode, PeerStats, Route};
use crate::online_match::{Notice, Remote as MatchRemote};
use crate::proto::{GameEvent, NetId};
use crate::session::{Line, Peer, print};
use crate::sync::SyncStats;

/// Prefix of the numbered reliable events a bot sends (`--events N`).
pub(super) const SERIES: &str = "series ";

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
    /// Simulation ticks per second while in the room (the bot's frame
    /// rate; 60 when it keeps up).
    pub ticks_per_s: f64,
    /// Longest time between two ticks, milliseconds.
    pub max_tick_gap_ms: f64,
    /// Per peer, by id (hex).
    pub peers: BTreeMap<String, PeerReport>,
    /// Where ping round trips went, per hop (`--hops`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hops: Option<HopReport>,
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
    /// Whether we blocked it (invalid or forged messages; its counts are in
    /// `net` as they were then).
    pub blocked: bool,
    /// Reliable game events that spoke for another player (a hit or death
    /// claimed for someone else), ignored by the match.
    pub forged_events: u64,
    /// Net thread statistics (bytes, drops, ...).
    pub net: Option<PeerStats>,
    /// Mean interpolation delay, milliseconds (live sync pipeline).
    pub sync_mean_delay_ms: Option<f64>,
    /// Share of frames extrapolated.
    pub sync_extrapolated: f64,
    /// Share of frames held.
    pub sync_held: f64,
    /// Remote-view age, mean over the frames: `now −` the sender's time of
    /// the state drawn (transit + buffering), milliseconds.
    pub sync_age_mean_ms: Option<f64>,
    /// Remote-view age, 95th percentile, milliseconds.
    pub sync_age_p95_ms: Option<f64>,
}

/// What the bot keeps of one remote player while playing.
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

    /// A numbered series event `n` arrived.
    fn on_series(&mut self, n: u32) {
        if n != self.next_series {
            self.report.series_in_order = false;
            if self.report.series_jumps.len() < 10 {
                self.report.series_jumps.push((self.next_series, n));
            }
        }
        self.next_series = n + 1;
        self.report.series_in += 1;
    }

    /// The finished report of this peer.
    fn finish(mut self) -> PeerReport {
        if let Some(net) = &self.report.net {
            self.report.pair = net.pair.clone();
            self.report.p2p_failure = net.p2p_failure.clone();
        }
        self.rtts.sort_by(f64::total_cmp);
        self.report.rtt_p50_ms = percentile(&self.rtts, 0.50);
        self.report.rtt_p99_ms = percentile(&self.rtts, 0.99);
        let s = self.sync.unwrap_or_default();
        self.report.sync_mean_delay_ms = s.mean_delay.map(|d| d * 1000.0);
        self.report.sync_extrapolated = s.extrapolated_ratio();
        self.report.sync_held = s.held_ratio();
        self.report.sync_age_mean_ms = s.mean_age.map(|a| a * 1000.0);
        self.report.sync_age_p95_ms = s.p95_age.map(|a| a * 1000.0);
        self.report
    }
}

/// The bot's running count: the report so far and what each peer sent.
pub(super) struct Tally {
    pub(super) report: BotReport,
    remotes: BTreeMap<NetId, Remote>,
    /// Members we never heard from (no `Hello`: WebRTC-only with no link), by socket id.
    unknown: BTreeMap<String, PeerStats>,
    /// When we entered the room (seconds on the session's clock).
    pub(super) joined_at: Option<f64>,
    ticks: u64,
    first_tick: Option<f64>,
}

impl Tally {
    pub(super) fn new(id: NetId, name: &str, mode: NetMode) -> Tally {
        Tally {
            report: BotReport {
                id: format!("{id:016x}"),
                name: name.to_owned(),
                room: None,
                mode,
                joined_after_s: None,
                mesh_ready_after_s: None,
                events_sent: 0,
                errors: Vec::new(),
                ticks_per_s: 0.0,
                max_tick_gap_ms: 0.0,
                peers: BTreeMap::new(),
                hops: None,
            },
            ticks: 0,
            first_tick: None,
            remotes: BTreeMap::new(),
            unknown: BTreeMap::new(),
            joined_at: None,
        }
    }

    /// Counts one event from the net thread, received at `now`, with the
    /// match's `notice` about it; prints its line to `out`. A failed
    /// create or join ends the bot.
    pub(super) fn record(
        &mut self,
        event: NetEvent,
        notice: Option<Notice>,
        now: f64,
        out: &mut impl Write,
    ) -> Result<(), BotError> {
        let since_join = self.joined_at.map(|j| now - j);
        match event {
            NetEvent::RoomJoined { code, .. } => {
                print(out, Line::Room(&code))?;
                self.report.room = Some(code);
                self.report.joined_after_s = Some(now);
                self.joined_at = Some(now);
            }
            NetEvent::RoomFailed { kind, message } => {
                return Err(BotError::Room { kind, message });
            }
            NetEvent::PeerJoined { peer, name, .. } => {
                print(out, Line::Joined(Peer::Id(peer, &name)))?;
                let r = self.remotes.entry(peer).or_insert_with(Remote::new);
                r.report.name = name;
                r.report.left = None;
                r.report
                    .joined_after_s
                    .get_or_insert(since_join.unwrap_or(0.0));
            }
            NetEvent::PeerLeft { peer, reason } => {
                print(
                    out,
                    Line::Left {
                        peer: Peer::Id(peer, ""),
                        reason,
                    },
                )?;
                if let Some(r) = self.remotes.get_mut(&peer) {
                    r.report.left = Some(format!("{reason:?}"));
                    r.sync = match notice {
                        Some(Notice::Left { sync, .. }) => Some(*sync),
                        _ => None,
                    };
                }
            }
            NetEvent::RouteChanged {
                peer,
                route,
                candidate,
            } => {
                print(
                    out,
                    Line::Route {
                        peer: Peer::Id(peer, ""),
                        route,
                        candidate,
                    },
                )?;
                // A peer we have no `Hello` from (WebRTC-only with no
                // path) is still reported, with its route and why.
                let r = self.remotes.entry(peer).or_insert_with(Remote::new);
                let since = since_join.unwrap_or(0.0);
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
            NetEvent::State { peer, at, .. } => {
                if let Some(r) = self.remotes.get_mut(&peer) {
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
                if let Some(r) = self.remotes.get_mut(&peer) {
                    r.report.events_in += 1;
                    if let GameEvent::Hit { victim } | GameEvent::Killed { victim, .. } = &event
                        && *victim != peer
                    {
                        r.report.forged_events += 1;
                    }
                    if let GameEvent::Chat(text) = &event {
                        let series = text.strip_prefix(SERIES).and_then(|n| n.parse().ok());
                        if let Some(n) = series {
                            r.on_series(n);
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
                if let Some(r) = self.remotes.get_mut(&peer) {
                    r.rtts.push((received - sent) * 1000.0);
                }
            }
            NetEvent::PeerBlocked { stats } => {
                if stats.peer == 0 {
                    self.unknown.insert(stats.sid.clone(), *stats);
                } else if let Some(r) = self.remotes.get_mut(&stats.peer) {
                    r.report.blocked = true;
                    r.report.net = Some(*stats);
                }
            }
            NetEvent::Stats(stats) => {
                for s in stats {
                    if s.peer == 0 {
                        self.unknown.insert(s.sid.clone(), s);
                    } else if let Some(r) = self.remotes.get_mut(&s.peer) {
                        self.unknown.remove(&s.sid);
                        r.report.net = Some(s);
                    }
                }
            }
            NetEvent::Error(e) | NetEvent::ServerUnreachable { message: e } => {
                print(out, Line::Error(&e))?;
                self.report.errors.push(e);
            }
            NetEvent::Disconnected { message } => print(out, Line::Disconnected(&message))?,
            NetEvent::Reconnected => print(out, Line::Reconnected)?,
            NetEvent::Connected { core_only } => {
                tracing::info!(core_only, "connected to the signaling server");
            }
        }
        Ok(())
    }

    /// One simulation tick at `now`; the previous one was at `last`.
    pub(super) fn tick(&mut self, now: f64, last: Option<f64>) {
        self.ticks += 1;
        let first = *self.first_tick.get_or_insert(now);
        if let Some(last) = last {
            let r = &mut self.report;
            r.max_tick_gap_ms = r.max_tick_gap_ms.max((now - last) * 1000.0);
        }
        if now > first {
            self.report.ticks_per_s = (self.ticks - 1) as f64 / (now - first);
        }
    }

    /// The ids of the players in the room now.
    pub(super) fn peer_ids(&self) -> Vec<NetId> {
        self.remotes
            .iter()
            .filter(|(_, r)| r.report.left.is_none() && !r.report.name.is_empty())
            .map(|(id, _)| *id)
            .collect()
    }

    /// Peers that joined and have not left (have sent a `Hello`).
    pub(super) fn peers_in_room(&self) -> usize {
        self.remotes
            .values()
            .filter(|r| r.report.left.is_none() && !r.report.name.is_empty())
            .count()
    }

    /// Whether every known peer is on WebRTC or gone (and there is one).
    pub(super) fn mesh_ready(&self) -> bool {
        !self.remotes.is_empty()
            && self
                .remotes
                .values()
                .all(|r| r.report.left.is_some() || r.report.route.is_some_and(Route::is_p2p))
    }

    /// The report, with the sync figures of the players still in the match.
    pub(super) fn finish<'a>(
        mut self,
        in_match: impl Iterator<Item = &'a MatchRemote>,
    ) -> BotReport {
        for r in in_match {
            if let Some(mine) = self.remotes.get_mut(&r.net) {
                mine.sync = Some(r.sync.stats());
            }
        }
        for (id, r) in self.remotes {
            self.report.peers.insert(format!("{id:016x}"), r.finish());
        }
        for (sid, s) in self.unknown {
            let report_of = PeerReport {
                route: s.route,
                routes: s.route.into_iter().collect(),
                p2p_failure: s.p2p_failure.clone(),
                net: Some(s),
                ..PeerReport::default()
            };
            self.report.peers.insert(format!("sid:{sid}"), report_of);
        }
        self.report
    }
}

fn percentile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted.get(i).copied()
}
