//! Game messages in and out: which route carries each one (through the link
//! conditioner), the per-sender rate limit and validation of what arrives,
//! `Hello`/`Resume` (who a peer is, where its event stream stands), states at
//! each peer's send rate, reliable events exactly once, pings.

use super::{CONGESTED_QUEUE, Channel, NetCore, Output, Peer, Ping, Streams, short};
use crate::net::api::NetEvent;
use crate::net::reliable::{Outgoing, ReliableReceiver, ReliableSender};
use crate::net::route::{Link, NetMode, Route, RoutePolicy};
use crate::proto::{self, GameEvent, Message, NetId};
use rand::Rng;

/// Pings kept waiting for their pong.
const MAX_PINGS: usize = 8;

/// States per second we send through the server, all relayed peers together:
/// within the server's default relay budget per connection (250 messages/s,
/// `--relay-rate`), leaving room for events, acks and pings.
pub(super) const RELAY_STATES_PER_S: f64 = 150.0;

/// Which way a message to one peer goes now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Path {
    /// On our peer connection of this generation (direct or through TURN).
    Conn(u64),
    /// Through the signaling server: the relay, or, in Hybrid mode, while
    /// the peer connection is still being set up.
    Server,
    /// Nowhere (unreachable, or a route without its connection).
    Nowhere,
}

impl Peer {
    /// The one rule for where a message to this peer goes at `now`.
    fn path(&self, mode: NetMode, now: f64, policy: &RoutePolicy) -> Path {
        match self.link.route(mode, now, policy) {
            Route::Direct | Route::Turn => self
                .conn
                .map_or(Path::Nowhere, |c| Path::Conn(c.generation)),
            Route::Relay => Path::Server,
            Route::Connecting if mode == NetMode::Hybrid => Path::Server,
            Route::Connecting | Route::Unreachable => Path::Nowhere,
        }
    }
}

impl NetCore {
    /// The state goes to each peer at that peer's rate. Its `seq` is
    /// renumbered per peer (consecutive on each link), so a receiver can
    /// count losses from the gaps.
    pub(super) fn send_state(&mut self, state: proto::PlayerState, discrete: bool) {
        let (now, mode, policy) = (self.now, self.mode, self.cfg.policy);
        let relay_congested = self.backlog.relay > CONGESTED_QUEUE;
        let backlog = &self.backlog.peers;
        // Peers reached through the server share its relay budget.
        let via_server = |p: &Peer| p.path(mode, now, &policy) == Path::Server;
        let relayed = self
            .peers
            .values()
            .filter(|p| p.id.is_some() && via_server(p))
            .count();
        let relay_share = RELAY_STATES_PER_S / relayed.max(1) as f64;
        let sends: Vec<(String, Message)> = self
            .peers
            .iter_mut()
            .filter(|(_, p)| p.id.is_some())
            .filter_map(|(sid, p)| {
                let conn_congested = p.conn.is_some_and(|c| {
                    backlog
                        .iter()
                        .any(|&(g, queued)| g == c.generation && queued > CONGESTED_QUEUE)
                });
                let congested = relay_congested || conn_congested;
                if congested {
                    p.auto_rate.on_congestion();
                }
                let rate = p.auto_rate.rate(now);
                let rate = if via_server(p) {
                    p.auto_rate.level_at_most(rate.min(relay_share))
                } else {
                    rate
                };
                p.throttle.set_rate(rate);
                if !p.throttle.should_send(now, discrete, congested) {
                    return None;
                }
                p.state_seq = p.state_seq.wrapping_add(1);
                p.stats.states_out += 1;
                Some((
                    sid.clone(),
                    Message::State(proto::PlayerState {
                        seq: p.state_seq,
                        ..state
                    }),
                ))
            })
            .collect();
        for (sid, msg) in sends {
            self.send_to(&sid, &msg);
        }
    }

    pub(super) fn send_event(&mut self, event: GameEvent) {
        let now = self.now;
        let mut sends = Vec::new();
        // Every player in the room gets it on its stream, also one gone
        // silent (timed out: its network may come back): the `Resume` that
        // follows its return delivers what it missed, exactly once.
        for (&id, s) in &mut self.streams {
            if s.gone_since.is_some() && !s.silent {
                continue;
            }
            if let Some(o) = s.tx.push(event.clone(), now) {
                if s.gone_since.is_none() {
                    let (seq, event) = (o.seq, o.event);
                    sends.push((s.sid.clone(), Message::Event { to: id, seq, event }));
                }
            }
        }
        for (sid, msg) in sends {
            self.send_to(&sid, &msg);
        }
    }

    /// Sends one message to one peer on its current route, through the conditioner.
    pub(super) fn send_to(&mut self, sid: &str, msg: &Message) {
        let state = matches!(msg, Message::State(_));
        self.send_encoded(sid, proto::encode(msg), msg.is_reliable(), state);
    }

    /// Sends `bytes` to `sid` by its current route (a peer connection's
    /// events channel when `reliable`, else its state channel; or the
    /// server), through the conditioner.
    pub(super) fn send_bytes(&mut self, sid: &str, bytes: Vec<u8>, reliable: bool) {
        self.send_encoded(sid, bytes, reliable, false);
    }

    /// [`NetCore::send_bytes`], saying whether `bytes` is a state (its size
    /// counts towards the send rate's bandwidth estimate).
    fn send_encoded(&mut self, sid: &str, bytes: Vec<u8>, reliable: bool, state: bool) {
        let (now, mode, policy) = (self.now, self.mode, self.cfg.policy);
        let can_relay = self.server.can_emit();
        let core_only = self.server.core_only;
        let Some(peer) = self.peers.get_mut(sid) else {
            return;
        };
        let via = match peer.path(mode, now, &policy) {
            Path::Conn(generation) => Some(generation),
            Path::Server if can_relay => None,
            Path::Server | Path::Nowhere => return,
        };
        let Some(delay) = self.cond.fate(now) else {
            return;
        };
        peer.stats.msgs_out += 1;
        peer.stats.bytes_out += bytes.len() as u64;
        peer.auto_rate.on_sent(bytes.len(), state);
        let output = match via {
            Some(generation) => Output::PeerSend {
                generation,
                channel: if reliable {
                    Channel::Events
                } else {
                    Channel::State
                },
                bytes,
            },
            None if core_only => Output::Broadcast { bytes },
            None => Output::Relay {
                to: sid.to_owned(),
                bytes,
            },
        };
        self.push_after(delay, output);
    }

    /// Sends sequenced events of our stream to player `id` (at `sid`).
    pub(super) fn send_events(&mut self, sid: &str, id: NetId, events: Vec<Outgoing<GameEvent>>) {
        for o in events {
            let msg = Message::Event {
                to: id,
                seq: o.seq,
                event: o.event,
            };
            self.send_to(sid, &msg);
        }
    }

    /// Sends to `sid` the events of our stream to it that `pick` chooses
    /// (all unacknowledged ones, or those due for a resend).
    pub(super) fn resend(
        &mut self,
        sid: &str,
        pick: impl FnOnce(&mut ReliableSender<GameEvent>) -> Vec<Outgoing<GameEvent>>,
    ) {
        let Some(id) = self.peers.get(sid).and_then(|p| p.id) else {
            return;
        };
        let events = self.streams.get_mut(&id).map(|s| pick(&mut s.tx));
        self.send_events(sid, id, events.unwrap_or_default());
    }

    pub(super) fn send_hello(&mut self, sid: &str) {
        let now = self.now;
        if let Some(p) = self.peers.get_mut(sid) {
            p.last_hello = now;
        }
        let hello = Message::Hello {
            id: self.me,
            name: self.cfg.name.clone(),
            color: self.cfg.color,
        };
        self.send_to(sid, &hello);
    }

    pub(super) fn ping_if_due(&mut self, sid: &str) {
        let now = self.now;
        let interval = self.cfg.ping_interval.clamp(0.01, 2.0);
        let nonce: u32 = self.rng.random();
        let Some(peer) = self.peers.get_mut(sid) else {
            return;
        };
        if now < peer.next_ping {
            return;
        }
        peer.next_ping = now + interval;
        peer.pings.push_back(Ping { nonce, sent: now });
        if peer.pings.len() > MAX_PINGS {
            peer.pings.pop_front();
        }
        self.send_to(sid, &Message::Ping { nonce, t: now });
    }

    /// One game message from `sid`, on a data channel or `relayed` by the server.
    pub(super) fn on_bytes(&mut self, sid: &str, bytes: &[u8], relayed: bool) {
        let now = self.now;
        if self.blocked.contains(sid) {
            return;
        }
        if !self.peers.contains_key(sid) {
            if !relayed || self.room.is_none() || self.server.is_me(sid) {
                return;
            }
            // A member we have not heard of yet (its user_joined may be behind).
            self.ensure_peer(sid, Link::awaiting_offer(now));
        }
        let bounds = self.cfg.bounds;
        let me = self.me;
        let core_only = self.server.core_only;
        let Some(peer) = self.peers.get_mut(sid) else {
            return;
        };
        if !peer.bucket.allow(now) {
            peer.stats.dropped_rate += 1;
            return;
        }
        let msg = match proto::decode(bytes, &bounds) {
            Ok(m) => m,
            Err(e) => {
                peer.stats.dropped_invalid += 1;
                tracing::debug!(%sid, reason = e.reason(), "dropped invalid message");
                return self.block_if_hostile(sid);
            }
        };
        peer.heard = Some(now);
        peer.stats.msgs_in += 1;
        peer.stats.bytes_in += bytes.len() as u64;
        peer.stats.relayed_in += u64::from(relayed);
        // Addressed to another player: forged, unless a core-only server
        // broadcast it (there everything reaches everyone).
        let to = match &msg {
            Message::Event { to, .. } | Message::Ack { to, .. } | Message::Resume { to, .. } => {
                Some(*to)
            }
            _ => None,
        };
        if to.is_some_and(|to| to != me) && !(relayed && core_only) {
            peer.stats.dropped_forged += 1;
            return self.block_if_hostile(sid);
        }
        match msg {
            Message::Hello { id, name, color } => self.on_peer_hello(sid, id, name, color),
            Message::Bye => self.drop_peer(sid, crate::net::api::LeaveReason::Left),
            Message::State(state) => {
                let Some(id) = peer.id else { return };
                peer.stats.states_in += 1;
                peer.auto_rate.on_state(state.seq, now - state.sent_at);
                if let Some(last) = peer.last_state_seq {
                    let gap = state.seq.wrapping_sub(last);
                    if gap != 0 && gap < u16::MAX / 2 {
                        peer.states_expected += u64::from(gap);
                        peer.last_state_seq = Some(state.seq);
                    }
                } else {
                    peer.states_expected += 1;
                    peer.last_state_seq = Some(state.seq);
                }
                self.emit(NetEvent::State {
                    peer: id,
                    state,
                    at: now,
                });
            }
            Message::Event { to, seq, event } => {
                let Some(id) = peer.id.filter(|_| to == me) else {
                    return;
                };
                let Some(s) = self.streams.get_mut(&id) else {
                    return;
                };
                let got = s.rx.receive(seq, event);
                let ack = Message::Ack {
                    to: id,
                    session: s.rx.session(),
                    upto: got.ack_upto,
                };
                peer.stats.events_in += got.deliver.len() as u64;
                for event in got.deliver {
                    self.emit(NetEvent::Event { peer: id, event });
                }
                self.send_to(sid, &ack);
            }
            Message::Ack { to, session, upto } => {
                if let Some(s) = peer
                    .id
                    .filter(|_| to == me)
                    .and_then(|id| self.streams.get_mut(&id))
                {
                    s.tx.ack(session, upto);
                }
            }
            Message::Resume { to, session, next } => {
                let Some(id) = peer.id.filter(|_| to == me) else {
                    return;
                };
                let Some(s) = self.streams.get_mut(&id) else {
                    return;
                };
                let resend = s.tx.resume(session, next, now);
                tracing::debug!(peer = %short(id), session, next, first = ?resend.first().map(|o| o.seq), n = resend.len(), "resume");
                self.send_events(sid, id, resend);
            }
            Message::Ping { nonce, t } => {
                let pong = Message::Pong {
                    nonce,
                    t_ping: t,
                    t_remote: now,
                };
                self.send_to(sid, &pong);
            }
            Message::Pong {
                nonce,
                t_ping,
                t_remote,
            } => {
                let Some(i) = peer
                    .pings
                    .iter()
                    .position(|p| p.nonce == nonce && p.sent == t_ping)
                else {
                    return;
                };
                peer.pings.drain(..=i);
                peer.stats.rtt_ms = Some((now - t_ping) * 1000.0);
                if let Some(id) = peer.id {
                    self.emit(NetEvent::ClockSample {
                        peer: id,
                        sent: t_ping,
                        remote: t_remote,
                        received: now,
                    });
                }
            }
        }
    }

    /// Player `id`, known under the socket ids `old`, now says hello from
    /// `sid` (its signaling node died or its socket reconnected): a direct
    /// link to it under an old id carries on under the new one, untouched
    /// (it never needed the server). Whether that happened.
    fn carry_on(&mut self, sid: &str, id: NetId, old: &[String]) -> bool {
        if self.peers.get(sid).is_none_or(|p| p.conn.is_some()) {
            return false;
        }
        let live = old.iter().find(|s| {
            self.peers.get(s.as_str()).is_some_and(|p| {
                p.conn.is_some() && matches!(p.reported, Some((Route::Direct | Route::Turn, _)))
            })
        });
        let Some(mut peer) = live.and_then(|s| self.peers.remove(s.as_str())) else {
            return false;
        };
        tracing::info!(old = %peer.sid, new = %sid, "same player under a new socket id: its direct link carries on");
        for s in old.iter().filter(|s| **s != peer.sid) {
            if let Some(conn) = self.peers.remove(s.as_str()).and_then(|p| p.conn) {
                self.push(Output::ClosePeer {
                    generation: conn.generation,
                    linger: false,
                });
            }
        }
        peer.sid = sid.to_owned();
        peer.server_left = None;
        self.peers.insert(sid.to_owned(), peer);
        if let Some(s) = self.streams.get_mut(&id) {
            s.sid = sid.to_owned();
        }
        true
    }

    /// After a rejoin under a new socket id, tells each peer still reached
    /// directly who that socket is: one `Hello` through the server, so the
    /// peer can tie the new id to the link it has (see [`Self::carry_on`]).
    pub(super) fn introduce_new_socket(&mut self) {
        if !self.server.can_emit() || self.server.core_only {
            return;
        }
        let direct: Vec<String> = self
            .peers
            .iter()
            .filter(|(_, p)| {
                p.conn.is_some() && matches!(p.reported, Some((Route::Direct | Route::Turn, _)))
            })
            .map(|(s, _)| s.clone())
            .collect();
        let hello = proto::encode(&Message::Hello {
            id: self.me,
            name: self.cfg.name.clone(),
            color: self.cfg.color,
        });
        for to in direct {
            self.push(Output::Relay {
                to,
                bytes: hello.clone(),
            });
        }
    }

    fn on_peer_hello(&mut self, sid: &str, id: NetId, name: String, color: u8) {
        if id == self.me {
            return;
        }
        let now = self.now;
        let Some(peer) = self.peers.get(sid) else {
            return;
        };
        let first = peer.id.is_none();
        if first {
            // The same player under an older socket id (it reconnected).
            let old: Vec<String> = self
                .peers
                .iter()
                .filter(|(s, p)| p.id == Some(id) && s.as_str() != sid)
                .map(|(s, _)| s.clone())
                .collect();
            if self.carry_on(sid, id, &old) {
                return;
            }
            // Otherwise retire those entries quietly.
            let continuing = !old.is_empty();
            for s in old {
                if let Some(conn) = self.peers.remove(&s).and_then(|p| p.conn) {
                    self.push(Output::ClosePeer {
                        generation: conn.generation,
                        linger: false,
                    });
                }
            }
            let session = self.rng.random();
            let s = self.streams.entry(id).or_insert_with(|| Streams {
                tx: ReliableSender::new(),
                rx: ReliableReceiver::new(session),
                sid: sid.to_owned(),
                gone_since: None,
                silent: false,
            });
            if s.sid != sid {
                s.tx.pause();
                s.sid = sid.to_owned();
            }
            s.gone_since = None;
            s.silent = false;
            let Some(peer) = self.peers.get_mut(sid) else {
                return;
            };
            peer.id = Some(id);
            peer.name = name.clone();
            peer.stats.peer = id;
            peer.stats.name = name.clone();
            peer.stats.joined_after = Some(now - peer.discovered);
            // A new identity on this entry: report its route afresh.
            peer.reported = None;
            if !continuing {
                tracing::info!(peer = %short(id), %name, "peer joined");
                self.emit(NetEvent::PeerJoined {
                    peer: id,
                    name,
                    color,
                });
            }
            self.poll_links();
        }
        // Tell it where its stream to us stands (also on every repeated Hello:
        // a new route may have opened, and a Resume is idempotent).
        let Some(s) = self.streams.get(&id) else {
            return;
        };
        let resume = Message::Resume {
            to: id,
            session: s.rx.session(),
            next: s.rx.next_expected(),
        };
        self.send_to(sid, &resume);
        // Introduce ourselves in return: to a new player, and to one that
        // keeps saying hello, which means it does not know us on this route
        // (e.g. our socket id changed when we reconnected). At most once per
        // HELLO_EVERY, so two players never bounce hellos back and forth.
        let last = self
            .peers
            .get(sid)
            .map_or(f64::NEG_INFINITY, |p| p.last_hello);
        if first || now - last >= super::HELLO_EVERY {
            self.send_hello(sid);
        }
    }
}
