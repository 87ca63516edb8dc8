//! The signaling server and the room: connecting with backoff, `hello` (and
//! telling a core-only server from a full one), creating, joining, rejoining
//! after a reconnection and leaving rooms, and the self-identification probe
//! on core-only servers.

use arena_server::protocol::{
    ErrorCode, HelloAck, IceCandidate, JoinRoomAck, RoomCode, Signal, normalize_code,
};
use rand::Rng;

use super::{JoinRequest, NetCore, Output, RequestError, ServerEvent};
use crate::net::api::{LeaveReason, NetEvent, RoomErrorKind};
use crate::net::route::Link;
use crate::proto::Message;

/// Core-only servers answer `join_room` with `room_users` only: this long at most.
const CORE_JOIN_WAIT: f64 = 5.0;
/// How long the self-identification probe may take.
const PROBE_WAIT: f64 = 1.5;
/// Marker of the self-identification probe on core-only servers.
const PROBE_PREFIX: &str = "arena-probe-";
/// Longest wait between connection attempts, seconds.
const MAX_BACKOFF: f64 = 10.0;
/// A rejoin the server could not decide (`unavailable`, no answer, rate
/// limited) is asked again after this many seconds.
const REJOIN_RETRY: f64 = 2.0;

/// Where we stand with the signaling server.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum ServerLink {
    /// A connection attempt is under way.
    Connecting,
    /// Connected, `hello` asked.
    Greeting,
    /// Ready for room operations.
    Up,
    /// The client library is reconnecting.
    Lost,
    /// The last attempt failed; the next at `retry_at`.
    Down { retry_at: f64 },
}

/// What the game asked for and we have not started yet.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum RoomOp {
    Create,
    Join(String),
}

/// Everything about the server link.
pub(super) struct ServerState {
    link: ServerLink,
    /// Connection attempts failed in a row (the backoff doubles with each).
    failures: u32,
    /// A connection exists (emits can be queued, also while it reconnects).
    connected_once: bool,
    /// The server speaks only the six core events.
    pub(super) core_only: bool,
    ever_up: bool,
    /// Our socket id, when known.
    pub(super) my_sid: Option<String>,
    /// Our earlier socket ids (before reconnections): a multi-node server may
    /// list one in the room until it reaps the node that held it.
    old_sids: Vec<String>,
    /// When to ask again to be taken back into our room, after the server
    /// could not say yes or no (see [`REJOIN_RETRY`]).
    rejoin_at: Option<f64>,
    /// The player was told that rejoining is being retried.
    rejoin_told: bool,
    want: Option<RoomOp>,
    /// A room request is under way.
    busy: bool,
    /// The game asked to leave while a join was under way: leave as soon as
    /// it is answered ([`NetCommand::LeaveRoom`](crate::net::NetCommand::LeaveRoom)).
    leave_after_join: bool,
    /// ICE servers the server gave with the room.
    pub(super) ice: Vec<arena_server::protocol::IceServer>,
    probe: Option<Probe>,
}

impl ServerState {
    pub(super) fn new() -> ServerState {
        ServerState {
            link: ServerLink::Down { retry_at: 0.0 },
            failures: 0,
            connected_once: false,
            core_only: false,
            ever_up: false,
            my_sid: None,
            old_sids: Vec::new(),
            rejoin_at: None,
            rejoin_told: false,
            want: None,
            busy: false,
            leave_after_join: false,
            ice: Vec::new(),
            probe: None,
        }
    }

    /// Drops the room operation not started yet; one under way is left as
    /// soon as it is answered.
    pub(super) fn forget_room_op(&mut self) {
        self.want = None;
        self.leave_after_join = self.busy;
    }

    /// Whether emits can go out (now or once the client library reconnects).
    pub(super) fn can_emit(&self) -> bool {
        self.connected_once
    }

    /// Whether `sid` is ours (now or before a reconnection).
    pub(super) fn is_me(&self, sid: &str) -> bool {
        self.my_sid.as_deref() == Some(sid) || self.old_sids.iter().any(|s| s == sid)
    }
}

/// The room we are in (or joining).
pub(super) struct Room {
    pub(super) code: String,
    /// A core-only join waiting for `room_users`.
    awaiting_users: Option<AwaitingUsers>,
}

/// A core-only join sent, `room_users` not yet seen.
#[derive(Debug, Clone, Copy)]
struct AwaitingUsers {
    since: f64,
    created: bool,
    rejoin: bool,
}

/// The self-identification probe on a core-only server.
struct Probe {
    nonce: String,
    users: Vec<String>,
    sent: f64,
}

impl NetCore {
    pub(super) fn request_room(&mut self, op: RoomOp) {
        if self.room.is_some() {
            self.leave_room();
        }
        if let RoomOp::Join(code) = &op {
            if !self.server.core_only {
                if let Err(e) = normalize_code(code) {
                    return self.emit(NetEvent::RoomFailed {
                        kind: RoomErrorKind::BadCode,
                        message: format!("{e}: room codes look like ABCD-EFGH"),
                    });
                }
            }
        }
        self.server.want = Some(op);
        if let ServerLink::Down { .. } = self.server.link {
            // Try at once rather than waiting for the backoff; a success
            // starts the operation.
            self.server.failures = 0;
            self.connect();
        }
        self.start_room_op();
    }

    fn start_room_op(&mut self) {
        if self.server.link != ServerLink::Up || self.server.busy {
            return;
        }
        let Some(op) = self.server.want.take() else {
            return;
        };
        let code = match &op {
            RoomOp::Create if self.server.core_only => {
                RoomCode::from_bits(self.rng.random()).to_string()
            }
            RoomOp::Create => String::new(),
            RoomOp::Join(c) => normalize_code(c)
                .map(|c| c.to_string())
                .unwrap_or(c.trim().into()),
        };
        self.join(code, op == RoomOp::Create, false);
    }

    /// After a reconnection: back into the room we were in (re-created if
    /// the server forgot it).
    fn rejoin(&mut self) {
        if let Some(room) = &self.room {
            let code = room.code.clone();
            self.join(code, false, true);
        }
    }

    /// Asks the shell to create (`created` with an empty code on a full
    /// server) and join a room. A core-only server answers with `room_users`
    /// alone, which may overtake the end of the emit: then we are in the room
    /// before sending.
    fn join(&mut self, code: String, created: bool, rejoin: bool) {
        self.server.busy = true;
        let core_only = self.server.core_only;
        if core_only {
            self.room = Some(Room {
                code: code.clone(),
                awaiting_users: Some(AwaitingUsers {
                    since: self.now,
                    created,
                    rejoin,
                }),
            });
        }
        let token = self.cfg.create_token.clone();
        self.push(Output::Join(JoinRequest {
            code,
            created,
            rejoin,
            core_only,
            token,
        }));
    }

    pub(super) fn leave_room(&mut self) {
        if self.room.is_none() {
            return;
        }
        // Say goodbye on every route first (queued ahead of the closes below).
        let sids: Vec<String> = self.peers.keys().cloned().collect();
        for sid in &sids {
            self.send_to(sid, &Message::Bye);
        }
        self.room = None;
        self.server.rejoin_at = None;
        self.server.rejoin_told = false;
        if self.server.can_emit() {
            self.push(Output::LeaveRoom);
        }
        for sid in sids {
            self.drop_peer(&sid, LeaveReason::WeLeft);
        }
        self.server.probe = None;
    }

    fn connect(&mut self) {
        self.server.link = ServerLink::Connecting;
        self.push(Output::Connect);
    }

    pub(super) fn on_connected(&mut self, r: Result<(), String>) {
        match r {
            Ok(()) => {
                tracing::info!(url = %self.cfg.server_url, "connected to the signaling server");
                self.server.connected_once = true;
                self.server.failures = 0;
                self.greet();
            }
            Err(e) => {
                self.server.failures += 1;
                let doublings = self.server.failures.min(5) as i32;
                let backoff = (0.5 * 2f64.powi(doublings)).min(MAX_BACKOFF);
                self.server.link = ServerLink::Down {
                    retry_at: self.now + backoff,
                };
                let message = format!(
                    "cannot reach the signaling server at {}: {e} (retrying in {backoff:.0} s)",
                    self.cfg.server_url
                );
                tracing::warn!("{message}");
                if self.server.want.take().is_some() {
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
        self.server.link = ServerLink::Greeting;
        if let Some(old) = self.server.my_sid.take() {
            // A few are plenty: a reap takes seconds, reconnections take longer.
            self.server.old_sids.truncate(7);
            self.server.old_sids.insert(0, old);
        }
        let name = self.cfg.name.clone();
        self.push(Output::Hello { name });
    }

    pub(super) fn on_hello(&mut self, r: Result<Option<HelloAck>, String>) {
        if self.server.link != ServerLink::Greeting {
            return;
        }
        let ack = match r {
            Ok(a) => a,
            Err(e) => {
                // The emit failed: we are disconnected again; the next
                // (re)connection greets again.
                tracing::debug!("hello failed: {e}");
                self.server.link = ServerLink::Lost;
                return;
            }
        };
        self.server.core_only = ack.is_none();
        self.server.my_sid = ack.and_then(|a| a.id);
        self.server.link = ServerLink::Up;
        self.server.busy = false;
        if self.server.ever_up {
            self.emit(NetEvent::Reconnected);
            self.rejoin();
        } else {
            self.server.ever_up = true;
            let core_only = self.server.core_only;
            self.emit(NetEvent::Connected { core_only });
        }
        self.start_room_op();
    }

    pub(super) fn on_joined(
        &mut self,
        request: JoinRequest,
        result: Result<JoinRoomAck, RequestError>,
    ) {
        self.server.busy = false;
        let JoinRequest {
            code,
            created,
            rejoin,
            ..
        } = request;
        match result {
            Ok(ack) => {
                self.server.rejoin_at = None;
                self.server.rejoin_told = false;
                self.server.ice = ack.ice_servers;
                self.room = Some(Room {
                    code: code.clone(),
                    awaiting_users: None,
                });
                if std::mem::take(&mut self.server.leave_after_join) {
                    // Left before the answer came: out again, unannounced.
                    self.leave_room();
                    return self.start_room_op();
                }
                if !rejoin {
                    self.emit(NetEvent::RoomJoined { code, created });
                }
                self.on_room_users(ack.users);
                if rejoin {
                    self.introduce_new_socket();
                }
            }
            Err(e) => {
                let kind = match &e {
                    RequestError::Refused { code, .. } => RoomErrorKind::from(*code),
                    _ => RoomErrorKind::Unreachable,
                };
                let message = match kind {
                    RoomErrorKind::NotFound => {
                        format!("no room {code}: check the code (rooms expire when empty)")
                    }
                    RoomErrorKind::Full => format!("room {code} is full"),
                    _ => e.to_string(),
                };
                let undecided = matches!(
                    kind,
                    RoomErrorKind::Unavailable
                        | RoomErrorKind::Unreachable
                        | RoomErrorKind::RateLimited
                );
                if rejoin && undecided {
                    // The server could not say yes or no (a node without its
                    // Redis, say): we are still in the room for our peers, so
                    // ask again rather than leave.
                    if !self.server.rejoin_told {
                        self.server.rejoin_told = true;
                        self.emit(NetEvent::Error(format!(
                            "cannot get back into room {code} yet ({message}); retrying"
                        )));
                    }
                    self.server.rejoin_at = Some(self.now + REJOIN_RETRY);
                } else if rejoin {
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

    pub(super) fn on_server_event(&mut self, ev: ServerEvent) {
        match ev {
            ServerEvent::Connected => {
                // The first connection is answered by Input::Connected; later
                // ones are the client library's reconnections.
                if self.server.connected_once && self.server.link != ServerLink::Greeting {
                    tracing::info!("reconnected to the signaling server");
                    self.greet();
                }
            }
            ServerEvent::Disconnected(reason) => {
                if matches!(self.server.link, ServerLink::Up | ServerLink::Greeting) {
                    tracing::warn!("lost the signaling server: {reason}");
                    self.server.link = ServerLink::Lost;
                    self.server.busy = false;
                    self.emit(NetEvent::Disconnected {
                        message: format!("lost the signaling server ({reason}); reconnecting"),
                    });
                }
            }
            ServerEvent::RoomUsers(users) => {
                if self.server.core_only {
                    self.on_room_users(users);
                }
            }
            ServerEvent::UserJoined(sid) => {
                if self.room.is_some() && !self.server.is_me(&sid) {
                    let link = Link::awaiting_offer(self.now);
                    self.ensure_peer(&sid, link);
                }
            }
            ServerEvent::UserLeft(sid) => self.on_user_left(&sid),
            ServerEvent::Signal { from, signal } => self.on_signal(from, signal),
            ServerEvent::Data { from, bytes } => self.on_bytes(&from, &bytes, true),
            ServerEvent::ServerError(e) => {
                tracing::debug!(event = %e.event, error = %e.error, "server refused: {}", e.message);
                let awaiting = self
                    .room
                    .as_ref()
                    .is_some_and(|r| r.awaiting_users.is_some());
                if awaiting && e.event == "join_room" {
                    self.room = None;
                    self.server.busy = false;
                    let kind = RoomErrorKind::from(e.error);
                    return self.emit(NetEvent::RoomFailed {
                        kind,
                        message: e.message,
                    });
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
            ServerEvent::Malformed(what) => {
                self.malformed += 1;
                tracing::debug!("malformed server event: {what}");
            }
        }
    }

    /// `users`: everyone in the room, us included.
    fn on_room_users(&mut self, users: Vec<String>) {
        let Some(room) = &mut self.room else { return };
        if let Some(w) = room.awaiting_users.take() {
            self.server.busy = false;
            if !w.rejoin {
                let code = room.code.clone();
                self.emit(NetEvent::RoomJoined {
                    code,
                    created: w.created,
                });
            }
        }
        if self.server.my_sid.is_none() {
            if let [only] = users.as_slice() {
                self.server.my_sid = Some(only.clone());
            } else {
                return self.start_probe(users);
            }
        }
        for sid in users {
            if self.server.is_me(&sid) {
                continue;
            }
            self.ensure_peer(&sid, Link::offering());
            // We are the joiner, so we offer, also to members we first heard
            // of through their (broadcast) traffic and so were waiting on.
            if let Some(p) = self.peers.get_mut(&sid) {
                if p.conn.is_none() && p.link.candidate().is_none() {
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
        // Our player id in the nonce: the random draw alone repeats between
        // clients run with the same seed (bots), and two of them probing at
        // once would each take the other's probe for their own.
        let nonce = format!(
            "{PROBE_PREFIX}{:016x}{:016x}",
            self.me,
            self.rng.random::<u64>()
        );
        let probe = serde_json::json!({"candidate": {
            "candidate": "", "sdpMid": "0", "sdpMLineIndex": 0, "usernameFragment": nonce}});
        for u in &users {
            self.push(Output::Signal {
                to: u.clone(),
                signal: probe.clone(),
            });
        }
        self.server.probe = Some(Probe {
            nonce,
            users,
            sent: self.now,
        });
    }

    /// Whether `signal` is a self-identification probe (ours: now we know
    /// our socket id; another member's: ignored).
    pub(super) fn on_probe_signal(&mut self, from: &str, signal: &Signal) -> bool {
        let Signal::Candidate {
            candidate:
                IceCandidate {
                    username_fragment: Some(u),
                    ..
                },
        } = signal
        else {
            return false;
        };
        if !u.starts_with(PROBE_PREFIX) {
            return false;
        }
        if self.server.probe.as_ref().is_some_and(|p| &p.nonce == u) {
            if let Some(p) = self.server.probe.take() {
                self.server.my_sid = Some(from.to_owned());
                self.on_room_users(p.users);
            }
        }
        true
    }

    /// Connection retries, rejoin retries, the core-only join's wait and the
    /// probe's wait.
    pub(super) fn server_timers(&mut self) {
        let now = self.now;
        if let ServerLink::Down { retry_at, .. } = self.server.link {
            if now >= retry_at {
                self.connect();
            }
        }
        let rejoin_due = self.server.rejoin_at.is_some_and(|t| now >= t);
        if rejoin_due && self.server.link == ServerLink::Up && !self.server.busy {
            self.server.rejoin_at = None;
            self.rejoin();
        }
        if let Some(room) = &self.room {
            if room
                .awaiting_users
                .is_some_and(|w| now - w.since > CORE_JOIN_WAIT)
            {
                let message = format!("the server did not answer joining room {}", room.code);
                self.room = None;
                self.server.busy = false;
                self.emit(NetEvent::RoomFailed {
                    kind: RoomErrorKind::Unreachable,
                    message,
                });
            }
        }
        if self
            .server
            .probe
            .as_ref()
            .is_some_and(|p| now - p.sent > PROBE_WAIT)
        {
            if let Some(p) = self.server.probe.take() {
                // The server does not deliver signals to their sender: assume
                // the joiner is listed last (arena-server and socket.io keep
                // join order).
                tracing::warn!(
                    "no answer to the self-identification probe; assuming we are listed last"
                );
                self.server.my_sid = p.users.last().cloned();
                self.on_room_users(p.users);
            }
        }
    }
}
