//! A simulated world for [`NetCore`]s, in the style of quinn-proto's `Pair`:
//! several cores, an in-memory signaling server with arena-server's rules
//! (or a core-only one), peer connections that open once both ends have
//! exchanged descriptions, and links with latency, all on one simulated
//! clock. A whole session (join, mesh, fallback, reconnection) runs in
//! milliseconds, deterministically.

#![allow(clippy::expect_used)]

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet};
use std::time::{Duration, Instant};

use arena_server::protocol::{
    ArenaError, ErrorCode, HelloAck, JoinRoomAck, RoomCode, SdpType, Signal, normalize_code,
};
use glam::Vec2;
use serde_json::json;

use crate::net::api::{NetCommand, NetConfig, NetEvent, PeerStats};
use crate::net::core::{Input, JoinRequest, NetCore, Output, PeerEvent, RequestError, ServerEvent};
use crate::net::route::{CandidateKind, CandidatePair, NetMode, Route};
use crate::proto::{Bounds, NetId, PlayerState};

/// One-way latency of every simulated link (server and peer), seconds.
pub const LATENCY: f64 = 0.010;
/// How long ICE takes once both descriptions are in, seconds.
pub const ICE_TIME: f64 = 0.050;

/// Something due at a simulated time.
enum Due {
    /// An input for node `.0`.
    Input(usize, Input),
    /// ICE succeeded for connection `generation` of node `node`.
    Open { node: usize, generation: u64 },
    /// The other end of connection `generation` of node `node` closed or broke.
    Broken {
        node: usize,
        generation: u64,
        why: String,
    },
    /// A dead signaling node's member `.0` is taken out of its room (the
    /// others get its `user_left`).
    Reap(String),
}

/// One player: a core and what it told its game.
pub struct Node {
    pub core: NetCore,
    pub id: NetId,
    /// Its current socket id on the server (a new one after a reconnection).
    pub sid: Option<String>,
    /// Every event for the game, in order.
    pub events: Vec<NetEvent>,
    /// Every output, in order (for counting what it asked for).
    pub outputs: Vec<Output>,
    /// Whether its network reaches anything (server and peers).
    pub online: bool,
    /// Whether its WebRTC attempts can ever connect (e.g. a symmetric NAT
    /// with no TURN).
    pub p2p_ok: bool,
    conns: HashMap<u64, SimConn>,
}

/// One simulated peer connection.
struct SimConn {
    /// The remote player's socket id, as this node knows it.
    sid: String,
    /// The other end, once descriptions are exchanged: (node, generation).
    remote: Option<(usize, u64)>,
    open: bool,
}

/// The in-memory signaling server.
pub struct Server {
    /// Whether it accepts connections.
    pub up: bool,
    /// Only the six core events (no hello answer, no acks, no relay).
    pub core_only: bool,
    /// Whether a `signal` addressed to its sender reaches it (arena-server
    /// and socket.io: yes).
    pub signal_to_self: bool,
    /// Players per room.
    pub capacity: usize,
    /// The token `create_room` needs, if any.
    pub token: Option<String>,
    /// Whether it ignores `join_room` (a core-only server that never answers).
    pub mute: bool,
    /// Whether it refuses every join `unavailable` (a node that lost its Redis).
    pub unavailable: bool,
    sockets: HashMap<String, usize>,
    rooms: BTreeMap<String, Vec<String>>,
    next_sid: u64,
    next_code: u64,
}

impl Server {
    /// Forgets every room (a restart, as far as rooms go).
    pub fn forget_rooms(&mut self) {
        self.rooms.clear();
    }
}

/// The simulated world.
pub struct World {
    pub epoch: Instant,
    /// Seconds since `epoch`.
    pub t: f64,
    pub nodes: Vec<Node>,
    pub server: Server,
    /// Pairs of nodes whose direct link is cut (a mapping change, a
    /// firewall): their connections break and new ones never open.
    pub cut: HashSet<(usize, usize)>,
    queue: BinaryHeap<Reverse<(u64, u64)>>,
    due: HashMap<u64, Due>,
    seq: u64,
}

/// Seconds → the queue's integer nanoseconds.
fn ns(t: f64) -> u64 {
    (t * 1e9).round() as u64
}

impl World {
    /// A world with `n` players (not yet connected) and an arena-server.
    pub fn new(n: usize) -> World {
        World::with(n, |_, _| {})
    }

    /// A world whose players' configuration `tweak(index, config)` adjusts.
    pub fn with(n: usize, tweak: impl Fn(usize, &mut NetConfig)) -> World {
        let epoch = Instant::now();
        let nodes = (0..n)
            .map(|i| {
                let bounds = Bounds::new(Vec2::ZERO, Vec2::new(1600.0, 1000.0));
                let mut cfg = NetConfig::new("http://sim", format!("p{i}"), bounds);
                cfg.epoch = epoch;
                cfg.seed = 1000 + i as u64;
                cfg.color = i as u8;
                tweak(i, &mut cfg);
                let id = 0x1000_0000_0000_0001 + ((i as u64) << 40);
                Node {
                    core: NetCore::new(cfg, id),
                    id,
                    sid: None,
                    events: Vec::new(),
                    outputs: Vec::new(),
                    online: true,
                    p2p_ok: true,
                    conns: HashMap::new(),
                }
            })
            .collect();
        World {
            epoch,
            t: 0.0,
            nodes,
            server: Server {
                up: true,
                core_only: false,
                signal_to_self: true,
                capacity: 8,
                token: None,
                mute: false,
                unavailable: false,
                sockets: HashMap::new(),
                rooms: BTreeMap::new(),
                next_sid: 1,
                next_code: 0x1234_5678,
            },
            cut: HashSet::new(),
            queue: BinaryHeap::new(),
            due: HashMap::new(),
            seq: 0,
        }
    }

    fn at(&self, t: f64) -> Instant {
        self.epoch + Duration::from_secs_f64(t)
    }

    fn schedule(&mut self, delay: f64, due: Due) {
        self.seq += 1;
        self.queue.push(Reverse((ns(self.t + delay), self.seq)));
        self.due.insert(self.seq, due);
    }

    fn input_after(&mut self, delay: f64, node: usize, input: Input) {
        self.schedule(delay, Due::Input(node, input));
    }

    /// Feeds node `n` a command now.
    pub fn command(&mut self, n: usize, c: NetCommand) {
        self.feed(n, Input::Command(c));
    }

    /// Feeds node `n` any input now.
    pub fn feed(&mut self, n: usize, input: Input) {
        let now = self.at(self.t);
        let outputs: Vec<Output> = self.nodes[n].core.handle(input, now).collect();
        for o in outputs {
            self.nodes[n].outputs.push(o.clone());
            self.carry_out(n, o);
        }
    }

    /// Runs until `secs` more have passed.
    pub fn run_for(&mut self, secs: f64) {
        let end = self.t + secs;
        self.run_until(end, |_| false);
    }

    /// Runs until `done` holds (checked after every step) or `limit` more
    /// seconds have passed; returns whether it held.
    pub fn run_until_true(&mut self, limit: f64, done: impl Fn(&World) -> bool) -> bool {
        let end = self.t + limit;
        self.run_until(end, done)
    }

    fn run_until(&mut self, end: f64, done: impl Fn(&World) -> bool) -> bool {
        loop {
            if done(self) {
                return true;
            }
            let timer = (0..self.nodes.len())
                .map(|n| {
                    let t = self.nodes[n].core.poll_timeout();
                    (t.saturating_duration_since(self.epoch).as_secs_f64(), n)
                })
                .min_by(|a, b| a.0.total_cmp(&b.0));
            let queued = self.queue.peek().map(|r| r.0.0 as f64 / 1e9);
            let next = match (timer, queued) {
                (Some((tt, _)), Some(q)) => tt.min(q),
                (Some((tt, _)), None) => tt,
                (None, Some(q)) => q,
                (None, None) => return false,
            };
            if next > end {
                self.t = end;
                return done(self);
            }
            self.t = self.t.max(next);
            if queued.is_some_and(|q| q <= next) {
                let Some(Reverse((_, seq))) = self.queue.pop() else {
                    continue;
                };
                if let Some(due) = self.due.remove(&seq) {
                    self.deliver(due);
                }
            } else if let Some((_, n)) = timer {
                self.feed(n, Input::Timeout);
            }
        }
    }

    fn deliver(&mut self, due: Due) {
        match due {
            Due::Input(n, input) => {
                if self.nodes[n].online {
                    self.feed(n, input);
                }
            }
            Due::Open { node, generation } => {
                let Some(c) = self.nodes[node].conns.get_mut(&generation) else {
                    return;
                };
                c.open = true;
                let sid = c.sid.clone();
                let pair = CandidatePair::new(
                    (CandidateKind::Host, format!("10.0.0.{}:5000", node + 1)),
                    (CandidateKind::Host, "10.0.0.99:5000".into()),
                    &[],
                );
                self.feed(node, peer_input(sid, generation, PeerEvent::Open(pair)));
            }
            Due::Broken {
                node,
                generation,
                why,
            } => {
                if let Some(c) = self.nodes[node].conns.remove(&generation) {
                    self.feed(node, peer_input(c.sid, generation, PeerEvent::Failed(why)));
                }
            }
            Due::Reap(sid) => self.leave(&sid),
        }
    }

    /// Carries out one output of node `n`, as the native shell would.
    fn carry_out(&mut self, n: usize, o: Output) {
        let network = !matches!(
            o,
            Output::Event(_)
                | Output::Connect
                | Output::OpenPeer(_)
                | Output::PeerSignal { .. }
                | Output::ClosePeer { .. }
        );
        if network && !self.nodes[n].online {
            return;
        }
        match o {
            Output::Event(ev) => self.nodes[n].events.push(ev),
            Output::Connect => {
                let result = if self.server.up && self.nodes[n].online {
                    self.open_socket(n);
                    Ok(())
                } else {
                    Err("connection refused".to_owned())
                };
                self.input_after(LATENCY, n, Input::Connected(result));
            }
            Output::Hello { .. } => {
                if self.server.core_only {
                    // No answer: the shell gives up after HELLO_WAIT.
                    let wait = super::super::HELLO_WAIT.as_secs_f64();
                    self.input_after(wait, n, Input::Hello(Ok(None)));
                } else if let Some(sid) = self.nodes[n].sid.clone() {
                    let ack: HelloAck = serde_json::from_value(json!({
                        "server": "arena-server", "version": "sim", "features": [], "id": sid}))
                    .expect("a hello ack");
                    self.input_after(2.0 * LATENCY, n, Input::Hello(Ok(Some(ack))));
                }
            }
            Output::Join(request) => self.join(n, request),
            Output::LeaveRoom => {
                if let Some(sid) = self.nodes[n].sid.clone() {
                    self.leave(&sid);
                }
            }
            Output::Signal { to, signal } => {
                let Some(from) = self.nodes[n].sid.clone() else {
                    return;
                };
                let same =
                    self.room_of(&from).is_some() && self.room_of(&from) == self.room_of(&to);
                if to == from && !self.server.signal_to_self {
                    return;
                }
                if let Some(&target) = self.server.sockets.get(&to).filter(|_| same) {
                    let ev = ServerEvent::Signal { from, signal };
                    self.input_after(2.0 * LATENCY, target, Input::Server(ev));
                }
            }
            Output::Relay { to, bytes } => {
                assert!(!self.server.core_only, "relay on a core-only server");
                let Some(from) = self.nodes[n].sid.clone() else {
                    return;
                };
                if let Some(&target) = self.server.sockets.get(&to) {
                    let ev = ServerEvent::Data { from, bytes };
                    self.input_after(2.0 * LATENCY, target, Input::Server(ev));
                }
            }
            Output::Broadcast { bytes } => {
                let Some(from) = self.nodes[n].sid.clone() else {
                    return;
                };
                for to in self.members_except(&from) {
                    let target = self.server.sockets[&to];
                    let ev = ServerEvent::Data {
                        from: from.clone(),
                        bytes: bytes.clone(),
                    };
                    self.input_after(2.0 * LATENCY, target, Input::Server(ev));
                }
            }
            Output::OpenPeer(setup) => {
                let generation = setup.generation;
                self.nodes[n].conns.insert(
                    generation,
                    SimConn {
                        sid: setup.sid.clone(),
                        remote: None,
                        open: false,
                    },
                );
                if setup.offerer {
                    let offer = json!({"type": "offer", "sdp": format!("sim {n} {generation}")});
                    let ev = PeerEvent::LocalSignal(offer);
                    self.input_after(0.001, n, peer_input(setup.sid, generation, ev));
                }
            }
            Output::PeerSignal { generation, signal } => self.peer_signal(n, generation, signal),
            Output::PeerSend {
                generation, bytes, ..
            } => {
                let Some((to, their_generation)) = self.nodes[n]
                    .conns
                    .get(&generation)
                    .filter(|c| c.open)
                    .and_then(|c| c.remote)
                else {
                    return;
                };
                if let Some(sid) = self.nodes[to]
                    .conns
                    .get(&their_generation)
                    .map(|c| c.sid.clone())
                {
                    let ev = PeerEvent::Message(bytes);
                    self.input_after(LATENCY, to, peer_input(sid, their_generation, ev));
                }
            }
            Output::ClosePeer { generation, .. } => {
                let Some(c) = self.nodes[n].conns.remove(&generation) else {
                    return;
                };
                // The connection's task reports its own end, then the other
                // end sees its channels close.
                let ev = PeerEvent::Failed("closed (by us)".into());
                self.input_after(0.001, n, peer_input(c.sid, generation, ev));
                if let Some((to, generation)) = c.remote {
                    let why = "closed (by the peer)".into();
                    self.schedule(
                        LATENCY,
                        Due::Broken {
                            node: to,
                            generation,
                            why,
                        },
                    );
                }
            }
        }
    }

    fn peer_signal(&mut self, n: usize, generation: u64, signal: serde_json::Value) {
        let Ok(Signal::Description { kind, sdp }) = serde_json::from_value::<Signal>(signal) else {
            return; // candidates: the simulated ICE needs none
        };
        let mut words = sdp.split(' ').skip(1).map(|w| w.parse::<u64>().ok());
        let (Some(Some(node)), Some(Some(their_generation))) = (words.next(), words.next()) else {
            return;
        };
        let Some(c) = self.nodes[n].conns.get_mut(&generation) else {
            return;
        };
        c.remote = Some((node as usize, their_generation));
        let sid = c.sid.clone();
        if kind == SdpType::Offer {
            let answer = json!({"type": "answer", "sdp": format!("sim {n} {generation}")});
            self.input_after(
                0.001,
                n,
                peer_input(sid, generation, PeerEvent::LocalSignal(answer)),
            );
        } else {
            self.try_ice(n, generation);
        }
    }

    /// Both descriptions are in at the offerer: ICE succeeds if nothing
    /// blocks the pair (the answerer's end must point back at this one).
    fn try_ice(&mut self, n: usize, generation: u64) {
        let Some((m, their_generation)) =
            self.nodes[n].conns.get(&generation).and_then(|c| c.remote)
        else {
            return;
        };
        let back = self.nodes[m]
            .conns
            .get(&their_generation)
            .and_then(|c| c.remote);
        if back == Some((n, generation)) && self.p2p_possible(n, m) {
            self.schedule(
                ICE_TIME,
                Due::Open {
                    node: n,
                    generation,
                },
            );
            self.schedule(
                ICE_TIME,
                Due::Open {
                    node: m,
                    generation: their_generation,
                },
            );
        }
    }

    fn p2p_possible(&self, a: usize, b: usize) -> bool {
        let (na, nb) = (&self.nodes[a], &self.nodes[b]);
        na.p2p_ok && nb.p2p_ok && na.online && nb.online && !self.is_cut(a, b)
    }

    fn is_cut(&self, a: usize, b: usize) -> bool {
        self.cut.contains(&(a, b)) || self.cut.contains(&(b, a))
    }

    /// Cuts the direct path between `a` and `b`: open connections between
    /// them break (ICE fails) after `after` seconds.
    pub fn cut_direct(&mut self, a: usize, b: usize, after: f64) {
        self.cut.insert((a, b));
        for (x, y) in [(a, b), (b, a)] {
            let gens: Vec<u64> = self.nodes[x]
                .conns
                .iter()
                .filter(|(_, c)| c.remote.is_some_and(|(to, _)| to == y))
                .map(|(&g, _)| g)
                .collect();
            for generation in gens {
                let why = "ICE failed (candidates seen: sim)".into();
                self.schedule(
                    after,
                    Due::Broken {
                        node: x,
                        generation,
                        why,
                    },
                );
            }
        }
    }

    // ---- the server ----------------------------------------------------------

    fn open_socket(&mut self, n: usize) {
        let sid = format!("s{:02}", self.server.next_sid);
        self.server.next_sid += 1;
        self.server.sockets.insert(sid.clone(), n);
        self.nodes[n].sid = Some(sid);
    }

    fn room_of(&self, sid: &str) -> Option<&String> {
        self.server
            .rooms
            .iter()
            .find(|(_, m)| m.iter().any(|s| s == sid))
            .map(|(code, _)| code)
    }

    fn members_except(&self, sid: &str) -> Vec<String> {
        let Some(code) = self.room_of(sid) else {
            return Vec::new();
        };
        self.server.rooms[code]
            .iter()
            .filter(|s| s.as_str() != sid)
            .cloned()
            .collect()
    }

    fn tell(&mut self, sid: &str, ev: ServerEvent) {
        if let Some(&n) = self.server.sockets.get(sid) {
            self.input_after(LATENCY, n, Input::Server(ev));
        }
    }

    fn join(&mut self, n: usize, mut request: JoinRequest) {
        let Some(sid) = self.nodes[n].sid.clone() else {
            return;
        };
        if self.server.mute {
            return;
        }
        let refuse = |error: ErrorCode| RequestError::Refused {
            code: error,
            message: format!("sim: {error}"),
        };
        if self.server.unavailable {
            let result = Err(refuse(ErrorCode::Unavailable));
            return self.input_after(2.0 * LATENCY, n, Input::Joined { request, result });
        }
        if request.created && request.code.is_empty() {
            if self.server.token.is_some() && request.token != self.server.token {
                let result = Err(refuse(ErrorCode::Unauthorized));
                return self.input_after(2.0 * LATENCY, n, Input::Joined { request, result });
            }
            request.code = RoomCode::from_bits(self.server.next_code).to_string();
            self.server.next_code += 1;
            self.server.rooms.insert(request.code.clone(), Vec::new());
        }
        let code = if self.server.core_only {
            Ok(request.code.clone())
        } else {
            normalize_code(&request.code)
                .map(|c| c.to_string())
                .map_err(|_| refuse(ErrorCode::BadCode))
        };
        let result = code.and_then(|code| {
            match self.server.rooms.get(&code) {
                None if self.server.core_only || request.rejoin => {}
                None => return Err(refuse(ErrorCode::NotFound)),
                Some(m) if m.len() >= self.server.capacity => return Err(refuse(ErrorCode::Full)),
                Some(_) => {}
            }
            Ok(code)
        });
        let code = match result {
            Ok(code) => code,
            Err(e) if self.server.core_only => {
                let RequestError::Refused { code, message } = e else {
                    return;
                };
                let event = "join_room".to_owned();
                let ev = ServerEvent::ServerError(ArenaError {
                    error: code,
                    message,
                    event,
                });
                return self.tell(&sid, ev);
            }
            Err(e) => {
                return self.input_after(
                    2.0 * LATENCY,
                    n,
                    Input::Joined {
                        request,
                        result: Err(e),
                    },
                );
            }
        };
        self.leave(&sid);
        let members = self.server.rooms.entry(code).or_default();
        members.push(sid.clone());
        let users = members.clone();
        for other in users.iter().filter(|s| **s != sid) {
            self.tell(other, ServerEvent::UserJoined(sid.clone()));
        }
        self.tell(&sid, ServerEvent::RoomUsers(users.clone()));
        if !self.server.core_only {
            let ack = JoinRoomAck {
                users,
                ice_servers: Vec::new(),
            };
            self.input_after(
                2.0 * LATENCY,
                n,
                Input::Joined {
                    request,
                    result: Ok(ack),
                },
            );
        }
    }

    fn leave(&mut self, sid: &str) {
        let others = self.members_except(sid);
        for members in self.server.rooms.values_mut() {
            members.retain(|s| s != sid);
        }
        for other in others {
            self.tell(&other, ServerEvent::UserLeft(sid.to_owned()));
        }
    }

    /// Node `n`'s socket drops (the server sees it go at once); the client
    /// library reconnects by itself when the server is reachable, after `after`.
    pub fn drop_socket(&mut self, n: usize, reconnect_after: Option<f64>) {
        let Some(sid) = self.nodes[n].sid.take() else {
            return;
        };
        self.leave(&sid);
        self.server.sockets.remove(&sid);
        let ev = ServerEvent::Disconnected("transport close".into());
        self.feed(n, Input::Server(ev));
        if let Some(after) = reconnect_after {
            self.open_socket(n);
            self.input_after(after, n, Input::Server(ServerEvent::Connected));
        }
    }

    /// The signaling node node `n` is connected to dies (a multi-node
    /// server): its socket closes at once, it reconnects straight away (to a
    /// live node, under a new socket id) if `reconnects`, and its old socket
    /// stays in the room until the dead node is reaped, `reaped_after` s
    /// later, when the others get its `user_left`.
    pub fn lose_node(&mut self, n: usize, reconnects: bool, reaped_after: f64) {
        let Some(sid) = self.nodes[n].sid.take() else {
            return;
        };
        self.server.sockets.remove(&sid);
        self.schedule(reaped_after, Due::Reap(sid));
        let ev = ServerEvent::Disconnected("transport close".into());
        self.feed(n, Input::Server(ev));
        if reconnects {
            self.open_socket(n);
            self.input_after(LATENCY, n, Input::Server(ServerEvent::Connected));
        }
    }

    // ---- what the game saw ---------------------------------------------------

    /// Events of node `n` matching `f`.
    pub fn count(&self, n: usize, f: impl Fn(&NetEvent) -> bool) -> usize {
        self.nodes[n].events.iter().filter(|e| f(e)).count()
    }

    /// Whether node `n` sees every other node of `others` as joined, on `route`.
    pub fn sees(&self, n: usize, others: &[usize], route: Route) -> bool {
        others.iter().filter(|&&o| o != n).all(|&o| {
            let id = self.nodes[o].id;
            self.route(n, id) == Some(route)
        })
    }

    /// The latest route node `n` reported for player `id`.
    pub fn route(&self, n: usize, id: NetId) -> Option<Route> {
        let joined = self.nodes[n]
            .events
            .iter()
            .rposition(|e| matches!(e, NetEvent::PeerJoined { peer, .. } if *peer == id))?;
        let left = self.nodes[n]
            .events
            .iter()
            .rposition(|e| matches!(e, NetEvent::PeerLeft { peer, .. } if *peer == id));
        if left.is_some_and(|l| l > joined) {
            return None;
        }
        self.nodes[n].events.iter().rev().find_map(|e| match e {
            NetEvent::RouteChanged { peer, route, .. } if *peer == id => Some(*route),
            _ => None,
        })
    }

    /// The room code node `n` is in (from its `RoomJoined`).
    pub fn code(&self, n: usize) -> Option<String> {
        self.nodes[n].events.iter().rev().find_map(|e| match e {
            NetEvent::RoomJoined { code, .. } => Some(code.clone()),
            _ => None,
        })
    }

    /// The latest statistics node `n` published for player `id`.
    pub fn stats(&self, n: usize, id: NetId) -> Option<PeerStats> {
        self.nodes[n].events.iter().rev().find_map(|e| match e {
            NetEvent::Stats(all) => all.iter().find(|s| s.peer == id).cloned(),
            _ => None,
        })
    }

    /// Connects every node, lets node 0 create a room and the others join it
    /// one after the other; runs until the mesh is complete on `route`.
    pub fn mesh(&mut self, route: Route) -> bool {
        self.command(0, NetCommand::CreateRoom);
        if !self.run_until_true(5.0, |w| w.code(0).is_some()) {
            return false;
        }
        let code = self.code(0).unwrap_or_default();
        for n in 1..self.nodes.len() {
            self.command(n, NetCommand::JoinRoom(code.clone()));
            if !self.run_until_true(5.0, |w| w.code(n).is_some()) {
                return false;
            }
        }
        let all: Vec<usize> = (0..self.nodes.len()).collect();
        self.run_until_true(20.0, |w| all.iter().all(|&n| w.sees(n, &all, route)))
    }

    /// Mode of every node.
    pub fn set_mode(&mut self, mode: NetMode) {
        for n in 0..self.nodes.len() {
            self.command(n, NetCommand::SetMode(mode));
        }
    }
}

fn peer_input(sid: String, generation: u64, event: PeerEvent) -> Input {
    Input::Peer {
        sid,
        generation,
        event,
    }
}

/// A player state at `pos`.
pub fn state_at(x: f32) -> PlayerState {
    PlayerState {
        seq: 0,
        sent_at: 0.0,
        pos: Vec2::new(x, 100.0),
        vel: Vec2::ZERO,
        aim: 0.0,
        hp: 100,
        alive: true,
        spawn: 0,
        kills: 0,
        deaths: 0,
    }
}
