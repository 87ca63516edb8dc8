//! The net thread's event loop: one task that owns every piece of network
//! state and reacts to commands from the game, server events, peer-connection
//! events and a timer.
//!
//! Nothing here blocks: requests with acks run in spawned tasks that post
//! their result back; emits go through the signaling outbox; data-channel
//! writes through each peer connection's writer. The decisions live in the
//! pure state machines ([`super::route::Link`], [`super::reliable`],
//! [`super::conditioner`], `proto`); this file wires them to the sockets.
//!
//! Peers are keyed by socket id (the server's address for them); a player's
//! identity is its [`NetId`], learnt from its `Hello`. Reliable streams are
//! keyed by `NetId`, so they survive a player's reconnection with a new
//! socket id.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use arena_server::protocol::{
    ErrorCode, HelloAck, IceCandidate, IceServer, JoinRoomAck, RoomCode, SdpType, Signal,
    normalize_code,
};
use crossbeam_channel::Sender;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use tokio::sync::mpsc;

use super::api::{LeaveReason, NetCommand, NetConfig, NetEvent, PeerStats, RoomErrorKind};
use super::conditioner::Conditioner;
use super::peer::{Channel, PcEvent, PcSetup, PeerConn};
use super::reliable::{Outgoing, ReliableReceiver, ReliableSender};
use super::route::{Link, LinkAction, NetMode, Route};
use super::signaling::{Inbound, RequestError, Signaling};
use crate::proto::{self, GameEvent, Message, NetId};
use crate::sync::SendThrottle;

/// How a P2P attempt closed by the route policy's timeout is reported.
const TIMED_OUT: &str = "timed out: not open within the P2P timeout";
/// Timer tick of the loop (route timeouts, resends, pings).
const TICK: Duration = Duration::from_millis(20);
/// How long `hello` may go unanswered before the server counts as core-only.
const HELLO_WAIT: Duration = Duration::from_secs(2);
/// Connect attempt timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// A peer heard before and silent this long is gone.
const PEER_TIMEOUT: f64 = 5.0;
/// Reliable events unacknowledged this long are sent again.
const RESEND_AFTER: f64 = 1.0;
/// `Hello` is repeated this often until the peer's `Resume` arrives.
const HELLO_EVERY: f64 = 1.0;
/// Reliable streams of players gone this long are forgotten.
const STREAM_MEMORY: f64 = 60.0;
/// Core-only servers answer `join_room` with `room_users` only: this long at most.
const CORE_JOIN_WAIT: f64 = 5.0;
/// Per-sender rate limit: sustained messages per second, and burst.
const RATE_PER_SEC: f64 = 400.0;
const RATE_BURST: f64 = 200.0;
/// Queued outgoing messages above which a route counts as congested.
const CONGESTED_QUEUE: usize = 32;
/// Candidates held for a peer before its connection exists.
const MAX_EARLY_CANDIDATES: usize = 64;
/// How long a connection stays open after our `Bye` when we leave.
const BYE_LINGER: Duration = Duration::from_millis(200);
/// How long the self-identification probe may take.
const PROBE_WAIT: f64 = 1.5;
/// Marker of the self-identification probe on core-only servers.
const PROBE_PREFIX: &str = "arena-probe-";

/// Everything that can wake the driver.
pub(super) enum Internal {
    /// A command from the game.
    Cmd(NetCommand),
    /// A server event.
    Sig(Inbound),
    /// A connection attempt ended.
    Connected(Result<Signaling, String>),
    /// `hello` answered (or timed out: `None`).
    Hello(Result<Option<HelloAck>, String>),
    /// A `create_room` + `join_room` or `join_room` request ended.
    Joined {
        /// The code asked for.
        code: String,
        /// Whether we created it.
        created: bool,
        /// Whether this was the automatic rejoin after a reconnection.
        rejoin: bool,
        /// The outcome.
        result: Result<JoinRoomAck, RequestError>,
    },
    /// A peer connection reported.
    Pc {
        /// The peer's socket id.
        sid: String,
        /// Which connection of that peer (older ones are ignored).
        generation: u64,
        /// What happened.
        ev: PcEvent,
    },
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum ServerLink {
    /// A connection attempt is under way.
    Connecting,
    /// Connected, `hello` asked.
    Greeting,
    /// Ready for room operations.
    Up,
    /// rust_socketio is reconnecting.
    Lost,
    /// The last attempt failed; the next at `retry_at`.
    Down { retry_at: f64, failures: u32 },
}

#[derive(Debug, Clone, PartialEq)]
enum RoomOp {
    Create,
    Join(String),
}

struct Room {
    code: String,
    /// A core-only join waiting for `room_users` since this time.
    awaiting_users: Option<(f64, bool, bool)>,
}

/// Token bucket for the per-sender rate limit.
struct Bucket {
    tokens: f64,
    last: f64,
}

impl Bucket {
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

struct Peer {
    sid: String,
    id: Option<NetId>,
    name: String,
    link: Link,
    reported: Option<(Route, Option<super::route::CandidateKind>)>,
    pc: Option<PeerConn>,
    generation: u64,
    early_candidates: Vec<Value>,
    throttle: SendThrottle,
    bucket: Bucket,
    discovered: f64,
    heard: Option<f64>,
    last_hello: f64,
    next_ping: f64,
    pings: VecDeque<(u32, f64)>,
    stats: PeerStats,
    last_state_seq: Option<u16>,
    states_expected: u64,
    state_seq: u16,
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

pub(super) struct Driver {
    cfg: NetConfig,
    mode: NetMode,
    me: NetId,
    out: Sender<NetEvent>,
    tx: mpsc::UnboundedSender<Internal>,
    sig: Option<Signaling>,
    server: ServerLink,
    core_only: bool,
    ever_up: bool,
    my_sid: Option<String>,
    room: Option<Room>,
    want: Option<RoomOp>,
    busy: bool,
    server_ice: Vec<IceServer>,
    peers: HashMap<String, Peer>,
    streams: HashMap<NetId, Streams>,
    cond: Conditioner,
    rng: StdRng,
    /// Self-identification probe on a core-only server: nonce, room users, sent at.
    probe: Option<(String, Vec<String>, f64)>,
    next_stats: f64,
    next_generation: u64,
    malformed: u64,
    quit: bool,
}

impl Driver {
    pub(super) fn new(
        cfg: NetConfig,
        me: NetId,
        out: Sender<NetEvent>,
        tx: mpsc::UnboundedSender<Internal>,
    ) -> Driver {
        let mut rng = StdRng::seed_from_u64(cfg.seed);
        Driver {
            mode: cfg.mode,
            cond: Conditioner::new(cfg.conditions, rng.random()),
            me,
            out,
            tx,
            sig: None,
            server: ServerLink::Down {
                retry_at: 0.0,
                failures: 0,
            },
            core_only: false,
            ever_up: false,
            my_sid: None,
            room: None,
            want: None,
            busy: false,
            server_ice: Vec::new(),
            peers: HashMap::new(),
            streams: HashMap::new(),
            rng,
            probe: None,
            next_stats: 1.0,
            next_generation: 1,
            malformed: 0,
            quit: false,
            cfg,
        }
    }

    /// Runs until [`NetCommand::Shutdown`] or until the game drops its ends.
    pub(super) async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Internal>) {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        while !self.quit {
            tokio::select! {
                msg = rx.recv() => match msg {
                    Some(m) => self.handle(m),
                    None => break,
                },
                _ = tick.tick() => self.on_tick(),
            }
        }
        self.shutdown().await;
    }

    fn now(&self) -> f64 {
        self.cfg.epoch.elapsed().as_secs_f64()
    }

    fn emit(&self, ev: NetEvent) {
        // The game may have gone away: nothing to do about it here.
        let _ = self.out.send(ev);
    }

    fn handle(&mut self, m: Internal) {
        match m {
            Internal::Cmd(c) => self.on_command(c),
            Internal::Sig(s) => self.on_server_event(s),
            Internal::Connected(r) => self.on_connected(r),
            Internal::Hello(r) => self.on_hello(r),
            Internal::Joined {
                code,
                created,
                rejoin,
                result,
            } => self.on_joined(code, created, rejoin, result),
            Internal::Pc {
                sid,
                generation,
                ev,
            } => self.on_pc(sid, generation, ev),
        }
    }

    // ---- commands ------------------------------------------------------------

    fn on_command(&mut self, c: NetCommand) {
        match c {
            NetCommand::CreateRoom => self.request_room(RoomOp::Create),
            NetCommand::JoinRoom(code) => self.request_room(RoomOp::Join(code)),
            NetCommand::LeaveRoom => self.leave_room(),
            NetCommand::SendState { state, discrete } => self.send_state(state, discrete),
            NetCommand::SendEvent(event) => self.send_event(event),
            NetCommand::SetMode(mode) => {
                if mode != self.mode {
                    tracing::info!(from = %self.mode, to = %mode, "network mode");
                    self.mode = mode;
                    self.poll_links();
                }
            }
            NetCommand::SetConditions(c) => self.cond.set(c),
            NetCommand::SetSendRate(hz) => {
                self.cfg.send_rate_hz = hz;
                for p in self.peers.values_mut() {
                    p.throttle.set_rate(hz);
                }
            }
            NetCommand::Shutdown => self.quit = true,
        }
    }

    fn request_room(&mut self, op: RoomOp) {
        if self.room.is_some() {
            self.leave_room();
        }
        if let RoomOp::Join(code) = &op {
            if !self.core_only || self.server == ServerLink::Up {
                if let Err(e) = normalize_code(code) {
                    if !self.core_only {
                        return self.emit(NetEvent::RoomFailed {
                            kind: RoomErrorKind::BadCode,
                            message: format!("{e}: room codes look like ABCD-EFGH"),
                        });
                    }
                }
            }
        }
        self.want = Some(op);
        if let ServerLink::Down { .. } = self.server {
            // Try at once rather than waiting for the backoff.
            self.server = ServerLink::Down {
                retry_at: 0.0,
                failures: 0,
            };
        }
        self.start_room_op();
    }

    fn start_room_op(&mut self) {
        if self.server != ServerLink::Up || self.busy {
            return;
        }
        let (Some(op), Some(sig)) = (self.want.take(), self.sig.clone()) else {
            return;
        };
        let code = match &op {
            RoomOp::Create if self.core_only => RoomCode::from_bits(self.rng.random()).to_string(),
            RoomOp::Create => String::new(),
            RoomOp::Join(c) => normalize_code(c)
                .map(|c| c.to_string())
                .unwrap_or(c.trim().into()),
        };
        self.join(sig, code, op == RoomOp::Create, false);
    }

    /// After a reconnection: back into the room we were in (re-created if
    /// the server forgot it).
    fn rejoin(&mut self) {
        let (Some(room), Some(sig)) = (&self.room, self.sig.clone()) else {
            return;
        };
        let code = room.code.clone();
        self.join(sig, code, false, true);
    }

    /// Creates (`created` with an empty code on a full server) and joins a
    /// room in a task that posts [`Internal::Joined`]. A core-only server
    /// answers with `room_users` alone, which may overtake the end of the
    /// emit: then we are in the room before sending.
    fn join(&mut self, sig: Signaling, code: String, created: bool, rejoin: bool) {
        self.busy = true;
        let tx = self.tx.clone();
        let token = self.cfg.create_token.clone();
        let core = self.core_only;
        if core {
            let now = self.now();
            self.room = Some(Room {
                code: code.clone(),
                awaiting_users: Some((now, created, rejoin)),
            });
        }
        tokio::spawn(async move {
            let joined = |code, result| Internal::Joined {
                code,
                created,
                rejoin,
                result,
            };
            if core {
                if let Err(e) = sig.join_room_core(&code).await {
                    let _ = tx.send(joined(code, Err(e)));
                }
                return;
            }
            let code = if created && code.is_empty() {
                match sig.create_room(token).await {
                    Ok(c) => c,
                    Err(e) => {
                        let _ = tx.send(joined(code, Err(e)));
                        return;
                    }
                }
            } else {
                code
            };
            let result = sig.join_room(&code, rejoin).await;
            let _ = tx.send(joined(code, result));
        });
    }

    fn leave_room(&mut self) {
        if self.room.is_none() {
            return;
        }
        // Say goodbye on every route first (queued ahead of the closes below).
        let sids: Vec<String> = self.peers.keys().cloned().collect();
        for sid in &sids {
            self.send_to(sid, &Message::Bye);
        }
        self.room = None;
        if let Some(sig) = self.sig.clone() {
            tokio::spawn(async move { sig.leave_room().await });
        }
        for sid in sids {
            self.drop_peer(&sid, LeaveReason::WeLeft);
        }
        self.probe = None;
    }

    /// The state goes to each peer at that peer's rate. Its `seq` is
    /// renumbered per peer (consecutive on each link), so a receiver can
    /// count losses from the gaps.
    fn send_state(&mut self, state: proto::PlayerState, discrete: bool) {
        let now = self.now();
        let relay_congested = self
            .sig
            .as_ref()
            .is_some_and(|s| s.queued() > CONGESTED_QUEUE);
        let sends: Vec<(String, Message)> = self
            .peers
            .iter_mut()
            .filter(|(_, p)| p.id.is_some())
            .filter_map(|(sid, p)| {
                let congested = relay_congested
                    || p.pc
                        .as_ref()
                        .is_some_and(|pc| pc.queued() > CONGESTED_QUEUE);
                if !p.throttle.should_send(now, discrete, congested) {
                    return None;
                }
                p.state_seq = p.state_seq.wrapping_add(1);
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

    fn send_event(&mut self, event: GameEvent) {
        let now = self.now();
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

    // ---- the server ------------------------------------------------------------

    fn connect(&mut self) {
        self.server = ServerLink::Connecting;
        let url = self.cfg.server_url.clone();
        let tx = self.tx.clone();
        tokio::spawn(async move {
            let (sig_tx, mut sig_rx) = mpsc::unbounded_channel();
            let result = Signaling::connect(&url, sig_tx, CONNECT_TIMEOUT).await;
            let ok = result.is_ok();
            let _ = tx.send(Internal::Connected(result));
            if ok {
                while let Some(ev) = sig_rx.recv().await {
                    if tx.send(Internal::Sig(ev)).is_err() {
                        break;
                    }
                }
            }
        });
    }

    fn on_connected(&mut self, r: Result<Signaling, String>) {
        match r {
            Ok(sig) => {
                tracing::info!(url = %self.cfg.server_url, "connected to the signaling server");
                self.sig = Some(sig);
                self.greet();
            }
            Err(e) => {
                let failures = match self.server {
                    ServerLink::Down { failures, .. } => failures + 1,
                    _ => 1,
                };
                let backoff = (0.5 * 2f64.powi(failures.min(5) as i32)).min(10.0);
                self.server = ServerLink::Down {
                    retry_at: self.now() + backoff,
                    failures,
                };
                let message = format!(
                    "cannot reach the signaling server at {}: {e} (retrying in {backoff:.0} s)",
                    self.cfg.server_url
                );
                tracing::warn!("{message}");
                if self.want.take().is_some() {
                    self.emit(NetEvent::RoomFailed {
                        kind: RoomErrorKind::Unreachable,
                        message: message.clone(),
                    });
                }
                self.emit(NetEvent::ServerUnreachable { message });
            }
        }
    }

    fn greet(&mut self) {
        let Some(sig) = self.sig.clone() else { return };
        self.server = ServerLink::Greeting;
        self.my_sid = None;
        let tx = self.tx.clone();
        let name = self.cfg.name.clone();
        tokio::spawn(async move {
            let _ = tx.send(Internal::Hello(sig.hello(&name, HELLO_WAIT).await));
        });
    }

    fn on_hello(&mut self, r: Result<Option<HelloAck>, String>) {
        if self.server != ServerLink::Greeting {
            return;
        }
        let ack = match r {
            Ok(a) => a,
            Err(e) => {
                // The emit failed: we are disconnected again; the next Connected retries.
                tracing::debug!("hello failed: {e}");
                self.server = ServerLink::Lost;
                return;
            }
        };
        self.core_only = ack.is_none();
        self.my_sid = ack.and_then(|a| a.id);
        self.server = ServerLink::Up;
        self.busy = false;
        if self.ever_up {
            self.emit(NetEvent::Reconnected);
            self.rejoin();
        } else {
            self.ever_up = true;
            self.emit(NetEvent::Connected {
                core_only: self.core_only,
            });
        }
        self.start_room_op();
    }

    fn on_joined(
        &mut self,
        code: String,
        created: bool,
        rejoin: bool,
        result: Result<JoinRoomAck, RequestError>,
    ) {
        self.busy = false;
        match result {
            Ok(ack) => {
                self.server_ice = ack.ice_servers;
                self.room = Some(Room {
                    code: code.clone(),
                    awaiting_users: None,
                });
                if !rejoin {
                    self.emit(NetEvent::RoomJoined { code, created });
                }
                self.on_room_users(ack.users);
            }
            Err(e) => {
                let kind = match &e {
                    RequestError::Refused { code, .. } => RoomErrorKind::from(*code),
                    _ => RoomErrorKind::Unreachable,
                };
                let message = match (&e, kind) {
                    (_, RoomErrorKind::NotFound) => {
                        format!("no room {code}: check the code (rooms expire when empty)")
                    }
                    (_, RoomErrorKind::Full) => format!("room {code} is full"),
                    _ => e.to_string(),
                };
                if rejoin {
                    self.emit(NetEvent::Error(format!(
                        "could not rejoin room {code}: {message}"
                    )));
                    self.leave_room();
                } else {
                    self.room = None;
                    self.emit(NetEvent::RoomFailed { kind, message });
                }
            }
        }
        self.start_room_op();
    }

    fn on_server_event(&mut self, ev: Inbound) {
        match ev {
            Inbound::Connected => {
                // The first Connected is handled by on_connected; later ones are reconnections.
                if self.sig.is_some() && self.server != ServerLink::Greeting {
                    tracing::info!("reconnected to the signaling server");
                    self.greet();
                }
            }
            Inbound::Disconnected(reason) => {
                if matches!(self.server, ServerLink::Up | ServerLink::Greeting) {
                    tracing::warn!("lost the signaling server: {reason}");
                    self.server = ServerLink::Lost;
                    self.busy = false;
                    self.emit(NetEvent::Disconnected {
                        message: format!("lost the signaling server ({reason}); reconnecting"),
                    });
                }
            }
            Inbound::RoomUsers(users) => {
                if self.core_only {
                    self.on_room_users(users);
                }
            }
            Inbound::UserJoined(sid) => {
                if self.room.is_some() && Some(&sid) != self.my_sid.as_ref() {
                    let now = self.now();
                    self.ensure_peer(&sid, Link::awaiting_offer(now));
                }
            }
            Inbound::UserLeft(sid) => self.drop_peer(&sid, LeaveReason::Left),
            Inbound::Signal { from, signal } => self.on_signal(from, signal),
            Inbound::Data { from, bytes } => self.on_bytes(&from, &bytes, true),
            Inbound::ServerError(e) => {
                tracing::debug!(event = %e.event, error = %e.error, "server refused: {}", e.message);
                if let Some(room) = &self.room {
                    if room.awaiting_users.is_some() && e.event == "join_room" {
                        let (kind, message) = (RoomErrorKind::from(e.error), e.message);
                        self.room = None;
                        self.busy = false;
                        return self.emit(NetEvent::RoomFailed { kind, message });
                    }
                }
                // A message to a player who left a moment ago (its
                // `user_left` is on the way) is not worth showing.
                let gone = e.error == ErrorCode::NotFound
                    && matches!(e.event.as_str(), "relay" | "signal" | "broadcast");
                if e.error != ErrorCode::RateLimited && !gone {
                    self.emit(NetEvent::Error(format!(
                        "server: {} ({})",
                        e.message, e.event
                    )));
                }
            }
            Inbound::Malformed(what) => {
                self.malformed += 1;
                tracing::debug!("malformed server event: {what}");
            }
        }
    }

    /// `users`: everyone in the room, us included.
    fn on_room_users(&mut self, users: Vec<String>) {
        let Some(room) = &mut self.room else { return };
        if let Some((_, created, rejoin)) = room.awaiting_users.take() {
            self.busy = false;
            if !rejoin {
                let code = room.code.clone();
                self.emit(NetEvent::RoomJoined { code, created });
            }
        }
        if self.my_sid.is_none() {
            if let [only] = users.as_slice() {
                self.my_sid = Some(only.clone());
            } else {
                return self.start_probe(users);
            }
        }
        for sid in users {
            if Some(&sid) == self.my_sid.as_ref() {
                continue;
            }
            self.ensure_peer(&sid, Link::offering());
            // We are the joiner, so we offer, also to members we first heard
            // of through their (broadcast) traffic and so were waiting on.
            if let Some(p) = self.peers.get_mut(&sid) {
                if p.pc.is_none() && p.link.candidate().is_none() {
                    p.link = Link::offering();
                }
            }
        }
        self.poll_links();
    }

    /// Core-only servers do not tell a client its own socket id: send a
    /// harmless end-of-candidates signal to everyone listed and see which
    /// one comes back to us.
    fn start_probe(&mut self, users: Vec<String>) {
        let nonce = format!("{PROBE_PREFIX}{:016x}", self.rng.random::<u64>());
        let probe = serde_json::json!({"candidate": {
            "candidate": "", "sdpMid": "0", "sdpMLineIndex": 0, "usernameFragment": nonce}});
        if let Some(sig) = &self.sig {
            for u in &users {
                sig.signal(u, probe.clone());
            }
        }
        self.probe = Some((nonce, users, self.now()));
    }

    // ---- peers -------------------------------------------------------------------

    fn ensure_peer(&mut self, sid: &str, link: Link) {
        if self.peers.contains_key(sid) {
            return;
        }
        let now = self.now();
        tracing::debug!(%sid, "peer discovered");
        self.peers.insert(
            sid.to_owned(),
            Peer {
                sid: sid.to_owned(),
                id: None,
                name: String::new(),
                link,
                reported: None,
                pc: None,
                generation: 0,
                early_candidates: Vec::new(),
                throttle: SendThrottle::new(self.cfg.send_rate_hz),
                bucket: Bucket {
                    tokens: RATE_BURST,
                    last: now,
                },
                discovered: now,
                heard: None,
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

    fn drop_peer(&mut self, sid: &str, reason: LeaveReason) {
        let Some(p) = self.peers.remove(sid) else {
            return;
        };
        if let Some(pc) = p.pc.clone() {
            if reason == LeaveReason::WeLeft {
                // Linger so our `Bye` leaves before the channels close
                // (otherwise the peer may see the close first and briefly
                // fall back to the relay).
                tokio::spawn(async move {
                    tokio::time::sleep(BYE_LINGER).await;
                    pc.close();
                });
            } else {
                pc.close();
            }
        }
        if let Some(id) = p.id {
            let now = self.now();
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

    fn on_signal(&mut self, from: String, value: Value) {
        let signal: Signal = match serde_json::from_value(value.clone()) {
            Ok(s) => s,
            Err(e) => {
                self.malformed += 1;
                return tracing::debug!(%from, "bad signal: {e}");
            }
        };
        if let Signal::Candidate {
            candidate:
                IceCandidate {
                    username_fragment: Some(u),
                    ..
                },
        } = &signal
        {
            if u.starts_with(PROBE_PREFIX) {
                if let Some((nonce, users, at)) = self.probe.take() {
                    if u == &nonce {
                        self.my_sid = Some(from);
                        return self.on_room_users(users);
                    }
                    self.probe = Some((nonce, users, at));
                }
                return;
            }
        }
        if self.room.is_none() || !self.mode.uses_p2p() {
            return;
        }
        let now = self.now();
        self.ensure_peer(&from, Link::awaiting_offer(now));
        let polite = self.my_sid.as_deref().is_some_and(|me| me > from.as_str());
        let Some(peer) = self.peers.get_mut(&from) else {
            return;
        };
        match &signal {
            Signal::Description {
                kind: SdpType::Offer,
                ..
            } => {
                let glare = peer
                    .pc
                    .as_ref()
                    .is_some_and(|pc| pc.offering && !pc.answered);
                if glare && !polite {
                    return tracing::debug!(%from, "offer collision: ours wins");
                }
                let setup = self.setup(&from, false);
                let tx = self.tx.clone();
                let Some(peer) = self.peers.get_mut(&from) else {
                    return;
                };
                peer.link.on_remote_offer(now);
                if let Some(old) = peer.pc.take() {
                    old.close();
                }
                let pc = PeerConn::spawn(setup, tx);
                pc.remote(value);
                for c in peer.early_candidates.drain(..) {
                    pc.remote(c);
                }
                peer.generation = pc.generation;
                peer.pc = Some(pc);
            }
            Signal::Description { .. } => {
                if let Some(pc) = peer.pc.as_mut().filter(|pc| pc.offering) {
                    pc.answered = true;
                    pc.remote(value);
                }
            }
            Signal::Candidate { .. } => {
                if self.cfg.block_p2p {
                    return;
                }
                match &peer.pc {
                    Some(pc) => pc.remote(value),
                    None if peer.early_candidates.len() < MAX_EARLY_CANDIDATES => {
                        peer.early_candidates.push(value)
                    }
                    None => {}
                }
            }
        }
    }

    fn setup(&mut self, sid: &str, offerer: bool) -> PcSetup {
        let generation = self.next_generation;
        self.next_generation += 1;
        let mut ice_servers = self.cfg.ice_servers.clone();
        ice_servers.extend(self.server_ice.iter().cloned());
        PcSetup {
            sid: sid.to_owned(),
            generation,
            offerer,
            ice_servers,
            relay_only: self.cfg.relay_only,
            bind_ip: self.cfg.bind_ip,
            block_p2p: self.cfg.block_p2p,
        }
    }

    fn start_offer(&mut self, sid: &str) {
        let setup = self.setup(sid, true);
        let tx = self.tx.clone();
        if let Some(peer) = self.peers.get_mut(sid) {
            if let Some(old) = peer.pc.take() {
                old.close();
            }
            peer.early_candidates.clear();
            let pc = PeerConn::spawn(setup, tx);
            peer.generation = pc.generation;
            peer.pc = Some(pc);
        }
    }

    fn on_pc(&mut self, sid: String, generation: u64, ev: PcEvent) {
        let now = self.now();
        let Some(peer) = self.peers.get_mut(&sid) else {
            return;
        };
        if peer.generation != generation {
            return;
        }
        match ev {
            PcEvent::LocalSignal(v) => {
                if let Some(sig) = &self.sig {
                    sig.signal(&sid, v);
                }
            }
            PcEvent::Open(pair) => {
                let kind = pair.kind();
                tracing::info!(%sid, candidate = kind.as_str(), after_s = now - peer.discovered, "WebRTC link open");
                peer.link.on_open(kind);
                peer.stats.pair = Some(pair);
                peer.stats
                    .p2p_open_after
                    .get_or_insert(now - peer.discovered);
                self.poll_links();
            }
            PcEvent::Message(bytes) => self.on_bytes(&sid, &bytes, false),
            PcEvent::Failed(why) => {
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
                peer.pc = None;
                let policy = self.cfg.policy;
                peer.link.on_failed(now, &policy);
                self.poll_links();
            }
        }
    }

    // ---- game messages -------------------------------------------------------------

    fn on_bytes(&mut self, sid: &str, bytes: &[u8], relayed: bool) {
        let now = self.now();
        if !self.peers.contains_key(sid) {
            if !relayed || self.room.is_none() || Some(sid) == self.my_sid.as_deref() {
                return;
            }
            // A member we have not heard of yet (its user_joined may be behind).
            self.ensure_peer(sid, Link::awaiting_offer(now));
        }
        let bounds = self.cfg.bounds;
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
                return tracing::debug!(%sid, reason = e.reason(), "dropped invalid message");
            }
        };
        peer.heard = Some(now);
        peer.stats.msgs_in += 1;
        peer.stats.bytes_in += bytes.len() as u64;
        peer.stats.relayed_in += u64::from(relayed);
        match msg {
            Message::Hello { id, name, color } => self.on_peer_hello(sid, id, name, color),
            Message::Bye => self.drop_peer(sid, LeaveReason::Left),
            Message::State(state) => {
                let Some(id) = peer.id else { return };
                peer.stats.states_in += 1;
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
                let Some(id) = peer.id.filter(|_| to == self.me) else {
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
                    .filter(|_| to == self.me)
                    .and_then(|id| self.streams.get_mut(&id))
                {
                    s.tx.ack(session, upto);
                }
            }
            Message::Resume { to, session, next } => {
                let Some(id) = peer.id.filter(|_| to == self.me) else {
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
                self.send_to(
                    sid,
                    &Message::Pong {
                        nonce,
                        t_ping: t,
                        t_remote: now,
                    },
                );
            }
            Message::Pong {
                nonce,
                t_ping,
                t_remote,
            } => {
                let Some(i) = peer
                    .pings
                    .iter()
                    .position(|&(n, t)| n == nonce && t == t_ping)
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

    fn on_peer_hello(&mut self, sid: &str, id: NetId, name: String, color: u8) {
        if id == self.me {
            return;
        }
        let now = self.now();
        let Some(peer) = self.peers.get(sid) else {
            return;
        };
        let first = peer.id.is_none();
        if first {
            // The same player under an older socket id (it reconnected): retire that entry quietly.
            let old: Vec<String> = self
                .peers
                .iter()
                .filter(|(s, p)| p.id == Some(id) && s.as_str() != sid)
                .map(|(s, _)| s.clone())
                .collect();
            let continuing = !old.is_empty();
            for s in old {
                if let Some(p) = self.peers.remove(&s) {
                    if let Some(pc) = p.pc {
                        pc.close();
                    }
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
            if !continuing {
                tracing::info!(peer = %short(id), %name, "peer joined");
                self.emit(NetEvent::PeerJoined {
                    peer: id,
                    name,
                    color,
                });
            }
            self.reported_route_reset(sid);
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
        if first {
            self.send_hello(sid);
        }
    }

    fn reported_route_reset(&mut self, sid: &str) {
        if let Some(p) = self.peers.get_mut(sid) {
            p.reported = None;
        }
        self.poll_links();
    }

    fn send_hello(&mut self, sid: &str) {
        let now = self.now();
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

    /// Sends sequenced events of our stream to player `id` (at `sid`).
    fn send_events(&mut self, sid: &str, id: NetId, events: Vec<Outgoing<GameEvent>>) {
        for o in events {
            self.send_to(
                sid,
                &Message::Event {
                    to: id,
                    seq: o.seq,
                    event: o.event,
                },
            );
        }
    }

    /// Sends one message to one peer on its current route, through the conditioner.
    fn send_to(&mut self, sid: &str, msg: &Message) {
        let now = self.now();
        let policy = self.cfg.policy;
        let mode = self.mode;
        let Some(peer) = self.peers.get_mut(sid) else {
            return;
        };
        let route = peer.link.route(mode, now, &policy);
        let path = match route {
            Route::Direct | Route::Turn => match &peer.pc {
                Some(pc) => Path::P2p(pc.clone()),
                None => return,
            },
            Route::Relay => Path::Relay,
            Route::Connecting if mode == NetMode::Hybrid => Path::Relay,
            Route::Connecting | Route::Unreachable => return,
        };
        let Some(delay) = self.cond.fate(now) else {
            return;
        };
        let bytes = proto::encode(msg);
        peer.stats.msgs_out += 1;
        peer.stats.bytes_out += bytes.len() as u64;
        let channel = if msg.is_reliable() {
            Channel::Events
        } else {
            Channel::State
        };
        let relay = match (&path, &self.sig) {
            (Path::Relay, Some(sig)) => Some((sig.clone(), self.core_only)),
            (Path::Relay, None) => return,
            _ => None,
        };
        let sid = sid.to_owned();
        let send = move || match (path, relay) {
            (Path::P2p(pc), _) => {
                pc.send(channel, bytes);
            }
            (Path::Relay, Some((sig, true))) => {
                sig.broadcast(&bytes);
            }
            (Path::Relay, Some((sig, false))) => {
                sig.relay(&sid, &bytes);
            }
            (Path::Relay, None) => {}
        };
        if delay <= 0.0 {
            send();
        } else {
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs_f64(delay)).await;
                send();
            });
        }
    }

    // ---- timers --------------------------------------------------------------------

    fn on_tick(&mut self) {
        let now = self.now();
        if let ServerLink::Down { retry_at, .. } = self.server {
            if now >= retry_at {
                self.connect();
            }
        }
        if let Some(Room {
            awaiting_users: Some((since, _, _)),
            code,
        }) = &self.room
        {
            if now - since > CORE_JOIN_WAIT {
                let message = format!("the server did not answer joining room {code}");
                self.room = None;
                self.busy = false;
                self.emit(NetEvent::RoomFailed {
                    kind: RoomErrorKind::Unreachable,
                    message,
                });
            }
        }
        if let Some((_, users, at)) = &self.probe {
            if now - at > PROBE_WAIT {
                // The server does not deliver signals to their sender: assume
                // the joiner is listed last (arena-server and socket.io keep
                // join order).
                let users = users.clone();
                tracing::warn!(
                    "no answer to the self-identification probe; assuming we are listed last"
                );
                self.probe = None;
                self.my_sid = users.last().cloned();
                self.on_room_users(users);
            }
        }
        self.poll_links();
        self.timers(now);
        if now >= self.next_stats {
            self.next_stats = now + 1.0;
            self.publish_stats(now);
        }
    }

    /// Runs every peer's route state machine; starts or closes WebRTC
    /// attempts; reports route changes and (re)introduces us on a new route.
    fn poll_links(&mut self) {
        let now = self.now();
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
                    if let Some(pc) = peer.pc.take() {
                        if mode != NetMode::SignalingOnly {
                            peer.stats.p2p_failure = Some(TIMED_OUT.to_owned());
                        }
                        pc.close();
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
            let Some(id) = self.peers.get(&sid).and_then(|p| p.id) else {
                continue;
            };
            let resend = self
                .streams
                .get_mut(&id)
                .map(|s| s.tx.resend_all(now))
                .unwrap_or_default();
            self.send_events(&sid, id, resend);
        }
    }

    fn timers(&mut self, now: f64) {
        let sids: Vec<String> = self.peers.keys().cloned().collect();
        for sid in sids {
            let Some(peer) = self.peers.get_mut(&sid) else {
                continue;
            };
            if peer.heard.is_some_and(|h| now - h > PEER_TIMEOUT) {
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
            if !resumed && now - peer.last_hello >= HELLO_EVERY {
                self.send_hello(&sid);
            }
            let Some(peer) = self.peers.get_mut(&sid) else {
                continue;
            };
            if now >= peer.next_ping {
                peer.next_ping = now + self.cfg.ping_interval.clamp(0.01, 2.0);
                let nonce: u32 = self.rng.random();
                peer.pings.push_back((nonce, now));
                if peer.pings.len() > 8 {
                    peer.pings.pop_front();
                }
                self.send_to(&sid, &Message::Ping { nonce, t: now });
            }
            let Some(id) = self.peers.get(&sid).and_then(|p| p.id) else {
                continue;
            };
            let due = self
                .streams
                .get_mut(&id)
                .map(|s| s.tx.due(now, RESEND_AFTER))
                .unwrap_or_default();
            self.send_events(&sid, id, due);
        }
        self.streams
            .retain(|_, s| s.gone_since.is_none_or(|g| now - g < STREAM_MEMORY));
    }

    fn publish_stats(&mut self, now: f64) {
        let policy = self.cfg.policy;
        let stats: Vec<PeerStats> = self
            .peers
            .iter()
            .map(|(sid, p)| {
                let mut s = p.stats.clone();
                s.sid.clone_from(sid);
                s.route = Some(p.link.route(self.mode, now, &policy));
                s.candidate = p.link.candidate();
                s.send_rate_hz = p.throttle.effective_rate();
                s.state_loss = if p.states_expected > 0 {
                    1.0 - (s.states_in as f64 / p.states_expected as f64).min(1.0)
                } else {
                    0.0
                };
                s
            })
            .collect();
        self.emit(NetEvent::Stats(stats));
    }

    async fn shutdown(&mut self) {
        self.leave_room();
        // Let the byes and leave_room go out, and the lingering closes run.
        tokio::time::sleep(BYE_LINGER + Duration::from_millis(50)).await;
        if let Some(sig) = self.sig.take() {
            let _ = tokio::time::timeout(Duration::from_millis(500), sig.disconnect()).await;
        }
    }
}

#[derive(Clone)]
enum Path {
    P2p(PeerConn),
    Relay,
}

/// The first 8 hex digits of an id, for logs.
fn short(id: NetId) -> String {
    format!("{:08x}", id >> 32)
}
