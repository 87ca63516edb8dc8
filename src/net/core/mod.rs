//! Every decision of the net thread, as a state machine without I/O.
//!
//! [`NetCore`] owns the server link (connection, `hello`, room operations,
//! the core-only self-identification probe), one [`Link`] per peer (which
//! route carries its traffic), the reliable event streams, per-peer rate
//! limits, pings, liveness and statistics. It reads no clock, owns no socket
//! and spawns nothing: a shell feeds it [`Input`]s with the current time and
//! carries out the [`Output`]s it returns — emits to the server, peer
//! connections to open, feed, write or close, events for the game.
//! [`NetCore::poll_timeout`] says when it next wants [`Input::Timeout`].
//!
//! The native shell is [`super::driver`] (tokio, rust_socketio, webrtc); the
//! tests in `tests/` wire several cores to an in-memory server and links and
//! run whole sessions in simulated time.
//!
//! The rules are split by concern: [`server`] (the signaling server and the
//! room), [`peers`] (discovery, WebRTC negotiation, routes) and [`messages`]
//! (game messages in and out: `Hello`/`Resume`, states, reliable events,
//! pings).

mod messages;
mod peers;
mod server;
#[cfg(test)]
mod tests;

use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};
use std::net::IpAddr;
use std::time::Duration;

use crate::time::Instant;

use arena_server::protocol::{ArenaError, ErrorCode, HelloAck, IceServer, JoinRoomAck};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;

use super::api::{NetCommand, NetConfig, NetEvent, PeerStats};
use super::conditioner::Conditioner;
use super::reliable::{ReliableReceiver, ReliableSender};
use super::route::{CandidateKind, CandidatePair, Link, NetMode, Route};
use crate::proto::{GameEvent, NetId};
use crate::sync::{AutoRate, SendThrottle};

/// How often the core wants [`Input::Timeout`] (route timeouts, resends, pings).
pub const TICK: Duration = Duration::from_millis(20);
/// How long a peer connection stays open after our `Bye` when we leave (the
/// shell delays that close; otherwise the peer may see the close first and
/// briefly fall back to the relay).
pub const BYE_LINGER: Duration = Duration::from_millis(200);

/// A peer heard before and silent this long is gone.
const PEER_TIMEOUT: f64 = 5.0;
/// A peer the server says left (`user_left`) while it still talks to us on
/// a direct link is kept until it has been silent this long: that socket is
/// gone, but the player may only have moved to another signaling node.
const SERVER_LEFT_GRACE: f64 = 1.0;
/// Reliable events unacknowledged this long are sent again.
const RESEND_AFTER: f64 = 1.0;
/// `Hello` is repeated this often until the peer's `Resume` arrives.
const HELLO_EVERY: f64 = 1.0;
/// Reliable streams of players gone this long are forgotten.
const STREAM_MEMORY: f64 = 60.0;
/// Per-sender rate limit: sustained messages per second, and burst.
const RATE_PER_SEC: f64 = 400.0;
const RATE_BURST: f64 = 200.0;
/// Queued outgoing messages above which a route counts as congested.
const CONGESTED_QUEUE: usize = 32;
/// Invalid or forged messages after which a peer is blocked
/// ([`NetEvent::PeerBlocked`]). A peer of this protocol version sends none:
/// a few may be noise, fifty are a broken or hostile program.
pub const BLOCK_AFTER: u64 = 50;
/// Blocked socket ids remembered at most (new sockets cannot grow it forever).
const MAX_BLOCKED: usize = 1024;

/// What happened that the core must hear of. Each comes with the time it
/// happened (see [`NetCore::handle`]).
#[derive(Debug)]
pub enum Input {
    /// A command from the game.
    Command(NetCommand),
    /// How many messages wait in each outgoing queue now. The shell feeds it
    /// before each [`NetCommand::SendState`] (congestion lowers the send rate).
    Backlog(Backlog),
    /// The answer to [`Output::Connect`]: connected (namespace acknowledged),
    /// or why not.
    Connected(Result<(), String>),
    /// The answer to [`Output::Hello`]: the ack, `None` when the server did
    /// not answer in time (a core-only server), or why the emit failed.
    Hello(Result<Option<HelloAck>, String>),
    /// The answer to [`Output::Join`]. A core-only join answers only when the
    /// emit fails (success shows as `room_users`).
    Joined {
        /// The request it answers.
        request: JoinRequest,
        /// The server's answer.
        result: Result<JoinRoomAck, RequestError>,
    },
    /// An event from the signaling server.
    Server(ServerEvent),
    /// A peer connection reported.
    Peer {
        /// The peer's socket id.
        sid: String,
        /// Which connection of that peer (see [`PeerSetup::generation`]).
        generation: u64,
        /// What happened.
        event: PeerEvent,
    },
    /// [`NetCore::poll_timeout`] has passed.
    Timeout,
}

/// Outgoing queue lengths, for congestion control.
#[derive(Debug, Clone, Default)]
pub struct Backlog {
    /// Emits waiting for the signaling socket.
    pub relay: usize,
    /// Messages waiting in each open peer connection, by generation.
    pub peers: Vec<(u64, usize)>,
}

/// What the core asks the shell to do, in order.
#[derive(Debug, Clone)]
pub enum Output {
    /// Hand this to the game.
    Event(NetEvent),
    /// Connect to the signaling server; answer with [`Input::Connected`], then
    /// pass its events as [`Input::Server`].
    Connect,
    /// Emit `hello` (wait [`HELLO_WAIT`] for its ack); answer with [`Input::Hello`].
    Hello {
        /// Our name.
        name: String,
    },
    /// Create and/or join a room; answer with [`Input::Joined`].
    Join(JoinRequest),
    /// Emit `leave_room`.
    LeaveRoom,
    /// Emit `signal` to a member.
    Signal {
        /// Its socket id.
        to: String,
        /// Browser-shaped description or candidate.
        signal: Value,
    },
    /// Emit `relay`: one game message to one member, through the server.
    Relay {
        /// Its socket id.
        to: String,
        /// The encoded message.
        bytes: Vec<u8>,
    },
    /// Emit `broadcast` (core-only servers have no `relay`).
    Broadcast {
        /// The encoded message.
        bytes: Vec<u8>,
    },
    /// Start a peer connection; its reports come back as [`Input::Peer`].
    OpenPeer(PeerSetup),
    /// Apply a remote description or candidate to a connection.
    PeerSignal {
        /// Which connection.
        generation: u64,
        /// Browser-shaped description or candidate.
        signal: Value,
    },
    /// Write a message on a data channel of a connection.
    PeerSend {
        /// Which connection.
        generation: u64,
        /// Which channel.
        channel: Channel,
        /// The encoded message.
        bytes: Vec<u8>,
    },
    /// Close a connection (after [`BYE_LINGER`] when `linger`: our `Bye` is
    /// on its way on it).
    ClosePeer {
        /// Which connection.
        generation: u64,
        /// Whether to let queued messages leave first.
        linger: bool,
    },
}

/// A room operation for the shell to carry out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinRequest {
    /// The code to join; empty with `created`: create one first.
    pub code: String,
    /// Whether we create it.
    pub created: bool,
    /// The automatic rejoin after a reconnection.
    pub rejoin: bool,
    /// The server speaks only the six core events (`join_room` with no ack).
    pub core_only: bool,
    /// Room-creation token.
    pub token: Option<String>,
}

/// What the signaling server said.
#[derive(Debug, Clone, PartialEq)]
pub enum ServerEvent {
    /// The namespace was acknowledged again (a reconnection by the client library).
    Connected,
    /// The connection closed or errored (the client library reconnects by itself).
    Disconnected(String),
    /// `room_users`: everyone in the room, us included.
    RoomUsers(Vec<String>),
    /// `user_joined`.
    UserJoined(String),
    /// `user_left`.
    UserLeft(String),
    /// A WebRTC signal from another member.
    Signal {
        /// Sender's socket id.
        from: String,
        /// Browser-shaped description or candidate.
        signal: Value,
    },
    /// Game bytes relayed by the server (`relay`, or `broadcast` on core servers).
    Data {
        /// Sender's socket id.
        from: String,
        /// One encoded game message.
        bytes: Vec<u8>,
    },
    /// `arena_error`: a refused event that had no ack.
    ServerError(ArenaError),
    /// An event that did not parse (dropped and counted).
    Malformed(String),
}

/// Why a request failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestError {
    /// The server refused it.
    Refused {
        /// Error code.
        code: ErrorCode,
        /// The server's explanation.
        message: String,
    },
    /// No ack in time.
    Timeout,
    /// The emit failed (not connected).
    Send(String),
    /// The ack was not the documented shape.
    BadReply(String),
}

impl std::fmt::Display for RequestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Refused { code, message } => write!(f, "{message} ({code})"),
            Self::Timeout => f.write_str("the server did not answer in time"),
            Self::Send(e) => write!(f, "not connected to the server ({e})"),
            Self::BadReply(e) => write!(f, "unexpected answer from the server ({e})"),
        }
    }
}

/// What a peer connection reports.
#[derive(Debug, Clone, PartialEq)]
pub enum PeerEvent {
    /// A local description or candidate to forward as `signal` (browser JSON).
    LocalSignal(Value),
    /// Both channels are open over this candidate pair.
    Open(CandidatePair),
    /// A message arrived on either channel.
    Message(Vec<u8>),
    /// The connection failed or closed; it is gone. Why, in words that
    /// start with the kind of failure (`ICE failed`, `no candidates`, `TURN
    /// refused`, `closed`) and end with the candidates seen.
    Failed(String),
}

/// How to build a peer connection.
#[derive(Debug, Clone, PartialEq)]
pub struct PeerSetup {
    /// The remote player's socket id.
    pub sid: String,
    /// Unique number of this connection (reports of older ones are ignored).
    pub generation: u64,
    /// Whether we offer (and create the channels) or answer.
    pub offerer: bool,
    /// STUN/TURN servers.
    pub ice_servers: Vec<IceServer>,
    /// Only TURN candidates.
    pub relay_only: bool,
    /// Local address to bind UDP on.
    pub bind_ip: IpAddr,
    /// Test switch: gather no candidates for the peer (every attempt fails).
    pub block_p2p: bool,
}

/// Which data channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// `state`: unordered, no retransmits.
    State,
    /// `events`: ordered, reliable.
    Events,
}

/// How long `hello` may go unanswered before the server counts as core-only.
pub const HELLO_WAIT: Duration = Duration::from_secs(2);

/// The net thread's state machine. See the module documentation.
pub struct NetCore {
    cfg: NetConfig,
    mode: NetMode,
    me: NetId,
    /// Seconds since `cfg.epoch` of the input being handled.
    now: f64,
    out: VecDeque<Output>,
    /// Messages held back by the link conditioner, by due time.
    delayed: BinaryHeap<Delayed>,
    delayed_seq: u64,
    next_tick: f64,
    server: server::ServerState,
    room: Option<server::Room>,
    peers: HashMap<String, Peer>,
    streams: HashMap<NetId, Streams>,
    cond: Conditioner,
    rng: StdRng,
    backlog: Backlog,
    next_stats: f64,
    next_generation: u64,
    malformed: u64,
    /// Socket ids of blocked peers: ignored whatever they send.
    blocked: HashSet<String>,
    closed: bool,
}

/// One member of the room, keyed by its socket id.
struct Peer {
    sid: String,
    /// Its identity, from its `Hello`.
    id: Option<NetId>,
    name: String,
    link: Link,
    /// The route and candidate last reported to the game.
    reported: Option<(Route, Option<CandidateKind>)>,
    conn: Option<Conn>,
    /// The generation of our latest connection, also after we closed it
    /// (its last report, why it closed, still counts).
    generation: u64,
    /// Candidates that arrived before the offer that makes our connection.
    early_candidates: Vec<Value>,
    throttle: SendThrottle,
    /// The automatic choice of the throttle's rate.
    auto_rate: AutoRate,
    bucket: Bucket,
    discovered: f64,
    heard: Option<f64>,
    /// When the server said this socket left while the peer still talked to
    /// us directly (see [`SERVER_LEFT_GRACE`]).
    server_left: Option<f64>,
    last_hello: f64,
    next_ping: f64,
    pings: VecDeque<Ping>,
    stats: PeerStats,
    last_state_seq: Option<u16>,
    states_expected: u64,
    state_seq: u16,
}

/// Our current peer connection to one member.
#[derive(Debug, Clone, Copy)]
struct Conn {
    generation: u64,
    /// Whether we sent the offer.
    offering: bool,
    /// Whether the answer to our offer arrived.
    answered: bool,
}

/// A ping waiting for its pong.
#[derive(Debug, Clone, Copy)]
struct Ping {
    nonce: u32,
    sent: f64,
}

/// Token bucket for the per-sender rate limit.
struct Bucket {
    tokens: f64,
    last: f64,
}

impl Bucket {
    fn new(now: f64) -> Bucket {
        Bucket {
            tokens: RATE_BURST,
            last: now,
        }
    }

    fn allow(&mut self, now: f64) -> bool {
        self.tokens = (self.tokens + (now - self.last) * RATE_PER_SEC).min(RATE_BURST);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Reliable streams with one player, kept across its socket ids.
struct Streams {
    tx: ReliableSender<GameEvent>,
    rx: ReliableReceiver<GameEvent>,
    sid: String,
    gone_since: Option<f64>,
    /// Gone because it fell silent (it may come back), not because it left.
    silent: bool,
}

/// A message the conditioner delays.
#[derive(Debug)]
struct Delayed {
    due: f64,
    seq: u64,
    output: Output,
}

impl PartialEq for Delayed {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for Delayed {}

impl Ord for Delayed {
    /// Earliest first in a max-heap; equal due times in send order.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        other
            .due
            .total_cmp(&self.due)
            .then(other.seq.cmp(&self.seq))
    }
}

impl PartialOrd for Delayed {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl NetCore {
    /// A core for player `me` with `cfg`; nothing happens until the first input.
    pub fn new(cfg: NetConfig, me: NetId) -> NetCore {
        let mut rng = StdRng::seed_from_u64(cfg.seed);
        NetCore {
            mode: cfg.mode,
            cond: Conditioner::new(cfg.conditions, rng.random()),
            me,
            now: 0.0,
            out: VecDeque::new(),
            delayed: BinaryHeap::new(),
            delayed_seq: 0,
            next_tick: 0.0,
            server: server::ServerState::new(),
            room: None,
            peers: HashMap::new(),
            streams: HashMap::new(),
            rng,
            backlog: Backlog::default(),
            next_stats: 1.0,
            next_generation: 1,
            malformed: 0,
            blocked: HashSet::new(),
            closed: false,
            cfg,
        }
    }

    /// Handles one input that happened at `now`; returns what to do, in order.
    pub fn handle(
        &mut self,
        input: Input,
        now: Instant,
    ) -> std::collections::vec_deque::Drain<'_, Output> {
        self.now = self.seconds(now);
        match input {
            Input::Command(c) => self.on_command(c),
            Input::Backlog(b) => self.backlog = b,
            Input::Connected(r) => self.on_connected(r),
            Input::Hello(r) => self.on_hello(r),
            Input::Joined { request, result } => self.on_joined(request, result),
            Input::Server(ev) => self.on_server_event(ev),
            Input::Peer {
                sid,
                generation,
                event,
            } => self.on_peer_event(sid, generation, event),
            Input::Timeout => {}
        }
        if self.now >= self.next_tick {
            self.next_tick = self.now + TICK.as_secs_f64();
            self.on_tick();
        }
        self.release_delayed();
        self.out.drain(..)
    }

    /// When the core next wants [`Input::Timeout`].
    pub fn poll_timeout(&self) -> Instant {
        let tick = self.next_tick;
        let due = self.delayed.peek().map_or(tick, |d| d.due.min(tick));
        // Rounded up, so that handling `Timeout` at exactly this instant
        // finds the timer due (a float second is not a whole nanosecond).
        let nanos = (due.max(0.0) * 1e9).ceil() as u64 + 1;
        self.cfg.epoch + Duration::from_nanos(nanos)
    }

    /// Whether [`NetCommand::Shutdown`] was handled: the shell lets the last
    /// outputs leave and stops.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Server events that did not parse, so far.
    pub fn malformed(&self) -> u64 {
        self.malformed
    }

    fn seconds(&self, t: Instant) -> f64 {
        t.saturating_duration_since(self.cfg.epoch).as_secs_f64()
    }

    fn emit(&mut self, ev: NetEvent) {
        self.out.push_back(Output::Event(ev));
    }

    fn push(&mut self, output: Output) {
        self.out.push_back(output);
    }

    /// `output` after `delay` seconds (the link conditioner's latency).
    fn push_after(&mut self, delay: f64, output: Output) {
        if delay <= 0.0 {
            return self.push(output);
        }
        self.delayed_seq += 1;
        self.delayed.push(Delayed {
            due: self.now + delay,
            seq: self.delayed_seq,
            output,
        });
    }

    fn release_delayed(&mut self) {
        while self.delayed.peek().is_some_and(|d| d.due <= self.now) {
            if let Some(d) = self.delayed.pop() {
                self.out.push_back(d.output);
            }
        }
    }

    fn on_command(&mut self, c: NetCommand) {
        match c {
            NetCommand::CreateRoom => self.request_room(server::RoomOp::Create),
            NetCommand::JoinRoom(code) => self.request_room(server::RoomOp::Join(code)),
            NetCommand::SendState { state, discrete } => self.send_state(state, discrete),
            NetCommand::SendEvent(event) => self.send_event(event),
            NetCommand::SendRaw { bytes, reliable } => {
                let sids: Vec<String> = self.peers.keys().cloned().collect();
                for sid in sids {
                    self.send_bytes(&sid, bytes.clone(), reliable);
                }
            }
            NetCommand::SetMode(mode) => {
                if mode != self.mode {
                    tracing::info!(from = %self.mode, to = %mode, "network mode");
                    self.mode = mode;
                    self.poll_links();
                }
            }
            NetCommand::LeaveRoom => {
                self.server.forget_room_op();
                self.leave_room();
            }
            NetCommand::Shutdown => {
                self.leave_room();
                self.closed = true;
            }
        }
    }

    fn on_tick(&mut self) {
        let now = self.now;
        self.server_timers();
        self.poll_links();
        self.peer_timers();
        self.streams
            .retain(|_, s| s.gone_since.is_none_or(|g| now - g < STREAM_MEMORY));
        if now >= self.next_stats {
            self.next_stats = now + 1.0;
            self.publish_stats();
        }
    }

    fn publish_stats(&mut self) {
        let stats: Vec<PeerStats> = self.peers.values().map(|p| self.stats_of(p)).collect();
        self.emit(NetEvent::Stats(stats));
    }

    /// The statistics of `p` as reported to the game.
    fn stats_of(&self, p: &Peer) -> PeerStats {
        let (now, mode, policy) = (self.now, self.mode, self.cfg.policy);
        let mut s = p.stats.clone();
        s.sid.clone_from(&p.sid);
        s.route = Some(p.link.route(mode, now, &policy));
        s.candidate = p.link.candidate();
        s.send_rate_hz = p.throttle.effective_rate();
        s.send_rate_reason = p.auto_rate.reason().as_str().to_owned();
        s.upstream_kbps = p.auto_rate.upstream_bps().map(|b| b / 1000.0);
        s.state_loss = if p.states_expected > 0 {
            1.0 - (s.states_in as f64 / p.states_expected as f64).min(1.0)
        } else {
            0.0
        };
        s
    }

    /// Blocks `sid` if it has sent [`BLOCK_AFTER`] invalid or forged messages.
    fn block_if_hostile(&mut self, sid: &str) {
        let Some(p) = self.peers.get(sid) else {
            return;
        };
        if p.stats.dropped_invalid + p.stats.dropped_forged < BLOCK_AFTER {
            return;
        }
        let stats = self.stats_of(p);
        tracing::warn!(
            %sid,
            name = %p.name,
            invalid = stats.dropped_invalid,
            forged = stats.dropped_forged,
            "peer blocked: it sends invalid or forged messages"
        );
        if self.blocked.len() >= MAX_BLOCKED {
            self.blocked.clear();
        }
        self.blocked.insert(sid.to_owned());
        self.emit(NetEvent::PeerBlocked {
            stats: Box::new(stats),
        });
        self.drop_peer(sid, crate::net::api::LeaveReason::Blocked);
    }
}

/// The first 8 hex digits of an id, for logs.
fn short(id: NetId) -> String {
    format!("{:08x}", id >> 32)
}
