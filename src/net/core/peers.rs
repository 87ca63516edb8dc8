//! The members of the room: discovery, WebRTC negotiation (offers, answers,
//! candidates, offer collisions), each peer's route state machine, liveness
//! and departure.

use std::collections::VecDeque;

use arena_server::protocol::{SdpType, Signal};
use serde_json::Value;

use super::{Bucket, Conn, NetCore, Output, Peer, PeerEvent, PeerSetup, short};
use crate::net::api::{LeaveReason, NetEvent, PeerStats};
use crate::net::route::{Link, LinkAction, NetMode, Route};
use crate::sync::{AutoRate, SendThrottle};

/// How a P2P attempt closed by the route policy's timeout is reported.
const TIMED_OUT: &str = "timed out: not open within the P2P timeout";
/// Candidates held for a peer before its connection exists.
const MAX_EARLY_CANDIDATES: usize = 64;

impl NetCore {
    pub(super) fn ensure_peer(&mut self, sid: &str, link: Link) {
        if self.peers.contains_key(sid) || self.blocked.contains(sid) {
            return;
        }
        let now = self.now;
        tracing::debug!(%sid, "peer discovered");
        self.peers.insert(
            sid.to_owned(),
            Peer {
                sid: sid.to_owned(),
                id: None,
                name: String::new(),
                link,
                reported: None,
                conn: None,
                generation: 0,
                early_candidates: Vec::new(),
                throttle: SendThrottle::new(self.cfg.send_rate.cap()),
                auto_rate: AutoRate::new(self.cfg.send_rate),
                bucket: Bucket::new(now),
                discovered: now,
                heard: None,
                server_left: None,
                last_hello: f64::NEG_INFINITY,
                next_ping: now,
                pings: VecDeque::new(),
                stats: PeerStats::default(),
                last_state_seq: None,
                states_expected: 0,
                state_seq: 0,
            },
        );
    }

    pub(super) fn drop_peer(&mut self, sid: &str, reason: LeaveReason) {
        let Some(p) = self.peers.remove(sid) else {
            return;
        };
        if let Some(conn) = p.conn {
            self.push(Output::ClosePeer {
                generation: conn.generation,
                linger: reason == LeaveReason::WeLeft,
            });
        }
        if let Some(id) = p.id {
            let now = self.now;
            if let Some(s) = self.streams.get_mut(&id) {
                if s.sid == p.sid {
                    s.gone_since = Some(now);
                    s.silent = reason == LeaveReason::TimedOut;
                }
            }
            tracing::info!(peer = %short(id), name = %p.name, ?reason, "peer left");
            self.emit(NetEvent::PeerLeft { peer: id, reason });
        }
    }

    /// `user_left`: the server says the socket `sid` is gone. A peer still
    /// heard on a direct link may only have lost its signaling node and come
    /// back under a new socket (the direct link never needed the server), so
    /// it stays until silent for [`super::SERVER_LEFT_GRACE`]; any other
    /// leaves at once.
    pub(super) fn on_user_left(&mut self, sid: &str) {
        let now = self.now;
        let talking = self.peers.get(sid).is_some_and(|p| {
            matches!(p.reported, Some((Route::Direct, _)))
                && p.heard.is_some_and(|h| now - h < super::SERVER_LEFT_GRACE)
        });
        match self.peers.get_mut(sid) {
            Some(p) if talking => {
                tracing::info!(%sid, "the server says it left, but it still talks to us directly");
                p.server_left.get_or_insert(now);
            }
            _ => self.drop_peer(sid, LeaveReason::Left),
        }
    }

    /// Closes our connection to `sid`, if any (a newer one replaces it).
    fn close_conn(&mut self, sid: &str) {
        if let Some(conn) = self.peers.get_mut(sid).and_then(|p| p.conn.take()) {
            self.push(Output::ClosePeer {
                generation: conn.generation,
                linger: false,
            });
        }
    }

    pub(super) fn on_signal(&mut self, from: String, value: Value) {
        let signal: Signal = match serde_json::from_value(value.clone()) {
            Ok(s) => s,
            Err(e) => {
                self.malformed += 1;
                return tracing::debug!(%from, "bad signal: {e}");
            }
        };
        if self.on_probe_signal(&from, &signal) || self.blocked.contains(&from) {
            return;
        }
        if self.room.is_none() || !self.mode.uses_p2p() {
            return;
        }
        let now = self.now;
        self.ensure_peer(&from, Link::awaiting_offer(now));
        // Perfect negotiation: on an offer collision the larger socket id
        // yields (polite) and answers; the smaller keeps its own offer.
        let polite = self
            .server
            .my_sid
            .as_deref()
            .is_some_and(|me| me > from.as_str());
        let block_p2p = self.cfg.block_p2p;
        let Some(peer) = self.peers.get_mut(&from) else {
            return;
        };
        match &signal {
            Signal::Description {
                kind: SdpType::Offer,
                ..
            } => {
                let glare = peer.conn.is_some_and(|c| c.offering && !c.answered);
                if glare && !polite {
                    return tracing::debug!(%from, "offer collision: ours wins");
                }
                peer.link.on_remote_offer(now);
                let early = std::mem::take(&mut peer.early_candidates);
                self.close_conn(&from);
                let generation = self.open_conn(&from, false);
                self.push(Output::PeerSignal {
                    generation,
                    signal: value,
                });
                for signal in early {
                    self.push(Output::PeerSignal { generation, signal });
                }
            }
            Signal::Description { .. } => {
                if let Some(conn) = peer.conn.as_mut().filter(|c| c.offering) {
                    conn.answered = true;
                    let generation = conn.generation;
                    self.push(Output::PeerSignal {
                        generation,
                        signal: value,
                    });
                }
            }
            Signal::Candidate { .. } => {
                if block_p2p {
                    return;
                }
                match peer.conn {
                    Some(conn) => self.push(Output::PeerSignal {
                        generation: conn.generation,
                        signal: value,
                    }),
                    None if peer.early_candidates.len() < MAX_EARLY_CANDIDATES => {
                        peer.early_candidates.push(value)
                    }
                    None => {}
                }
            }
        }
    }

    /// Asks for a new connection to `sid`; returns its generation.
    fn open_conn(&mut self, sid: &str, offerer: bool) -> u64 {
        let generation = self.next_generation;
        self.next_generation += 1;
        let mut ice_servers = self.cfg.ice_servers.clone();
        ice_servers.extend(self.server.ice.iter().cloned());
        if let Some(peer) = self.peers.get_mut(sid) {
            peer.generation = generation;
            peer.conn = Some(Conn {
                generation,
                offering: offerer,
                answered: false,
            });
        }
        self.push(Output::OpenPeer(PeerSetup {
            sid: sid.to_owned(),
            generation,
            offerer,
            ice_servers,
            relay_only: self.cfg.relay_only,
            bind_ip: self.cfg.bind_ip,
            block_p2p: self.cfg.block_p2p,
        }));
        generation
    }

    fn start_offer(&mut self, sid: &str) {
        self.close_conn(sid);
        if let Some(peer) = self.peers.get_mut(sid) {
            peer.early_candidates.clear();
            self.open_conn(sid, true);
        }
    }

    pub(super) fn on_peer_event(&mut self, sid: String, generation: u64, ev: PeerEvent) {
        let now = self.now;
        let can_emit = self.server.can_emit();
        // The shell names the socket id the connection was opened for; the
        // peer may be known under a newer one since (`carry_on`).
        let sid = match self.peers.get(&sid) {
            Some(p) if p.generation == generation => sid,
            _ => match self
                .peers
                .iter()
                .find(|(_, p)| p.generation == generation && p.conn.is_some())
            {
                Some((s, _)) => s.clone(),
                None => return,
            },
        };
        let Some(peer) = self.peers.get_mut(&sid) else {
            return;
        };
        match ev {
            PeerEvent::LocalSignal(signal) => {
                if can_emit {
                    self.push(Output::Signal { to: sid, signal });
                }
            }
            PeerEvent::Open(pair) => {
                let kind = pair.kind();
                tracing::info!(%sid, candidate = kind.as_str(), after_s = now - peer.discovered, "WebRTC link open");
                peer.link.on_open(kind);
                peer.stats.pair = Some(pair);
                peer.stats
                    .p2p_open_after
                    .get_or_insert(now - peer.discovered);
                self.poll_links();
            }
            PeerEvent::Message(bytes) => self.on_bytes(&sid, &bytes, false),
            PeerEvent::Failed(why) => {
                tracing::info!(%sid, "WebRTC link down: {why}");
                // A close we asked for after the P2P timeout keeps that reason.
                peer.stats.p2p_failure = Some(match peer.stats.p2p_failure.take() {
                    Some(timeout)
                        if timeout.starts_with(TIMED_OUT) && why.starts_with("closed") =>
                    {
                        format!(
                            "{TIMED_OUT} ({})",
                            why.trim_start_matches("closed ").trim_matches(['(', ')'])
                        )
                    }
                    _ => why,
                });
                peer.conn = None;
                let policy = self.cfg.policy;
                peer.link.on_failed(now, &policy);
                self.poll_links();
            }
        }
    }

    /// Runs every peer's route state machine; starts or closes WebRTC
    /// attempts; reports route changes and (re)introduces us on a new route.
    pub(super) fn poll_links(&mut self) {
        let now = self.now;
        let policy = self.cfg.policy;
        let mode = self.mode;
        let sids: Vec<String> = self.peers.keys().cloned().collect();
        for sid in sids {
            let Some(peer) = self.peers.get_mut(&sid) else {
                continue;
            };
            match peer.link.poll(mode, now, &policy) {
                LinkAction::Idle => {}
                LinkAction::Offer => self.start_offer(&sid),
                LinkAction::Close => {
                    if peer.conn.is_some() {
                        if mode != NetMode::SignalingOnly {
                            peer.stats.p2p_failure = Some(TIMED_OUT.to_owned());
                        }
                        self.close_conn(&sid);
                    }
                }
            }
            let Some(peer) = self.peers.get_mut(&sid) else {
                continue;
            };
            let route = peer.link.route(mode, now, &policy);
            let candidate = peer.link.candidate();
            if peer.reported == Some((route, candidate)) {
                continue;
            }
            let before = peer.reported.map(|r| r.0);
            peer.reported = Some((route, candidate));
            peer.stats.route = Some(route);
            peer.stats.candidate = candidate;
            if let Some(id) = peer.id {
                tracing::info!(peer = %short(id), ?before, %route, "route");
                self.emit(NetEvent::RouteChanged {
                    peer: id,
                    route,
                    candidate,
                });
            }
            // A new path: introduce ourselves on it and resend what is unacknowledged.
            self.send_hello(&sid);
            self.resend(&sid, |tx| tx.resend_all(now));
        }
    }

    /// Liveness, repeated `Hello`s, pings and reliable resends of every peer.
    pub(super) fn peer_timers(&mut self) {
        let now = self.now;
        let sids: Vec<String> = self.peers.keys().cloned().collect();
        for sid in sids {
            let Some(peer) = self.peers.get_mut(&sid) else {
                continue;
            };
            if peer.server_left.is_some()
                && peer
                    .heard
                    .is_none_or(|h| now - h > super::SERVER_LEFT_GRACE)
            {
                self.drop_peer(&sid, LeaveReason::Left);
                continue;
            }
            if peer.heard.is_some_and(|h| now - h > super::PEER_TIMEOUT) {
                self.drop_peer(&sid, LeaveReason::TimedOut);
                // The server still counts it in the room (its `user_left`
                // ends this): keep trying to reach it, so a player whose
                // network comes back returns by itself, with a new link
                // and the events it missed (its stream is kept).
                if self.room.is_some() {
                    self.ensure_peer(&sid, Link::offering());
                }
                continue;
            }
            let resumed = peer
                .id
                .and_then(|id| self.streams.get(&id))
                .is_some_and(|s| s.tx.is_resumed());
            if !resumed && now - peer.last_hello >= super::HELLO_EVERY {
                self.send_hello(&sid);
            }
            self.ping_if_due(&sid);
            self.resend(&sid, |tx| tx.due(now, super::RESEND_AFTER));
        }
    }
}
