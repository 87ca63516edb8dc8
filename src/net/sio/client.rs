//! The client's side of one Socket.IO session over one WebSocket, as a state
//! machine: frames and the time in, frames and events out.
//!
//! Opening (waiting for engine.io's open packet) → Connecting (CONNECT sent
//! to the namespace) → Connected (the server's CONNECT gave the socket id)
//! → Closed. Owns the heartbeat (pings answered, a silent server noticed),
//! the ack ids and their deadlines; never reconnects (the shell makes a new
//! [`Client`] on a new WebSocket) and never interprets an event.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::time::Duration;

use serde_json::Value;

use super::engineio::{self, Handshake};
use super::socketio::{self, Decoder, Packet, PacketKind};
use super::{DecodeError, Frame};

/// The number of an event sent with [`Client::emit_with_ack`], or of one the
/// server wants answered ([`Client::ack`]).
pub type AckId = u64;

/// Event names a Socket.IO client may not emit (socket.io's own reserved names).
const RESERVED: [&str; 6] = [
    "connect",
    "connect_error",
    "disconnect",
    "disconnecting",
    "newListener",
    "removeListener",
];

/// How a [`Client`] behaves.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientConfig {
    /// The namespace to connect: `/` (arena-server's) or `/name`.
    pub namespace: String,
    /// The CONNECT packet's `auth` object (arena-server reads `{"token": T}`).
    pub auth: Option<Value>,
    /// Time allowed from [`Client::new`] to the namespace's acceptance.
    pub connect_timeout: Duration,
    /// Time an [`Client::emit_with_ack`] waits for its ack.
    pub ack_timeout: Duration,
    /// Largest received WebSocket message, and largest sum of one packet's
    /// attachments, accepted (larger ones are a [`DecodeError::TooLarge`]).
    pub max_frame: usize,
    /// Whether the client answers engine.io's pings. A browser tab hidden
    /// by the player runs no frames, so the page's plugin answers them on
    /// the WebSocket itself (and still passes them on, so the client knows
    /// the server is alive): then this is `false`.
    pub answer_pings: bool,
}

impl Default for ClientConfig {
    /// Namespace `/`, no auth, 10 s to connect, 5 s per ack (the native
    /// client's), 1 MiB messages (arena-server's transport limit), pings
    /// answered.
    fn default() -> Self {
        ClientConfig {
            namespace: "/".to_owned(),
            auth: None,
            connect_timeout: Duration::from_secs(10),
            ack_timeout: Duration::from_secs(5),
            max_frame: 1 << 20,
            answer_pings: true,
        }
    }
}

/// What the caller asked that the client cannot do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientError {
    /// The namespace is not `/` or `/name` without a comma.
    BadNamespace(String),
    /// The `auth` is not a JSON object.
    BadAuth,
    /// Emitting or answering before the namespace is connected, or after the end.
    NotConnected,
    /// The event name is one Socket.IO reserves.
    ReservedEvent(String),
    /// The packet is larger than the server's `maxPayload` (it would close
    /// the connection): not sent.
    TooLarge {
        /// The packet's size in bytes.
        len: usize,
        /// The server's limit.
        max: u64,
    },
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::BadNamespace(n) => write!(f, "bad namespace {n:?}"),
            ClientError::BadAuth => f.write_str("auth is not a JSON object"),
            ClientError::NotConnected => f.write_str("not connected"),
            ClientError::ReservedEvent(n) => write!(f, "event name {n:?} is reserved"),
            ClientError::TooLarge { len, max } => {
                write!(
                    f,
                    "packet of {len} bytes exceeds the server's {max}-byte limit"
                )
            }
        }
    }
}

impl std::error::Error for ClientError {}

/// An event's or an ack's arguments.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Payload {
    /// The JSON arguments; binary ones are placeholders
    /// ([`Payload::attachment`] resolves them).
    pub args: Vec<Value>,
    /// The binary attachments (none in arena-server's protocol).
    pub attachments: Vec<Vec<u8>>,
}

impl Payload {
    /// The first argument (every event of `docs/PROTOCOL.md` has one).
    pub fn first(&self) -> Option<&Value> {
        self.args.first()
    }

    /// The bytes a placeholder `v` stands for (`None` if `v` is not one).
    pub fn attachment(&self, v: &Value) -> Option<&[u8]> {
        let n = usize::try_from(socketio::placeholder(v)?).ok()?;
        self.attachments.get(n).map(Vec::as_slice)
    }
}

/// Why an ack will not come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckError {
    /// No ack within [`ClientConfig::ack_timeout`].
    Timeout,
    /// The session ended first.
    Disconnected,
}

/// Why the session ended.
#[derive(Debug, Clone, PartialEq)]
pub enum DisconnectReason {
    /// The caller called [`Client::disconnect`].
    ClientDisconnect,
    /// The server sent DISCONNECT for our namespace.
    ServerDisconnect,
    /// The server sent engine.io's close packet.
    ServerClose,
    /// Nothing heard from the server for `pingInterval + pingTimeout`.
    PingTimeout,
    /// The namespace was not connected within [`ClientConfig::connect_timeout`].
    ConnectTimeout,
    /// The server refused the namespace (CONNECT_ERROR): its message and data.
    Refused {
        /// The server's `message`.
        message: String,
        /// The server's optional `data`.
        data: Option<Value>,
    },
    /// The shell's WebSocket closed or failed ([`Client::transport_closed`]).
    Transport(String),
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DisconnectReason::ClientDisconnect => f.write_str("client disconnect"),
            DisconnectReason::ServerDisconnect => f.write_str("server disconnect"),
            DisconnectReason::ServerClose => f.write_str("server closed the connection"),
            DisconnectReason::PingTimeout => f.write_str("ping timeout (server silent)"),
            DisconnectReason::ConnectTimeout => f.write_str("connect timeout"),
            DisconnectReason::Refused { message, .. } => write!(f, "refused: {message}"),
            DisconnectReason::Transport(why) => write!(f, "transport closed: {why}"),
        }
    }
}

/// Something for the caller.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The namespace accepted us under this Socket.IO socket id (the id
    /// other clients see, `userId` in `docs/PROTOCOL.md`).
    Connected {
        /// The socket id.
        sid: String,
    },
    /// The server emitted an event.
    Message {
        /// The event's name.
        name: String,
        /// Its arguments.
        payload: Payload,
        /// Set when the server wants an answer: pass it to [`Client::ack`].
        ack: Option<AckId>,
    },
    /// The outcome of an [`Client::emit_with_ack`].
    Ack {
        /// The id [`Client::emit_with_ack`] returned.
        id: AckId,
        /// The ack's arguments, or why none will come.
        result: Result<Payload, AckError>,
    },
    /// The session ended; every outstanding ack has been failed before it.
    /// The client stays closed.
    Disconnected {
        /// Why.
        reason: DisconnectReason,
    },
}

/// What the shell must do, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Send this message on the WebSocket.
    Send(Frame),
    /// Close the WebSocket (the session is over).
    Close,
    /// Tell the caller.
    Event(Event),
}

#[derive(Debug, Clone, PartialEq)]
enum State {
    /// The WebSocket is open; engine.io's open packet has not come yet.
    Opening,
    /// CONNECT sent; waiting for the namespace's answer.
    Connecting,
    /// Connected under this socket id.
    Connected(String),
    /// Over.
    Closed,
}

/// One Socket.IO session on one WebSocket (see the module doc).
#[derive(Debug)]
pub struct Client {
    cfg: ClientConfig,
    state: State,
    handshake: Option<Handshake>,
    decoder: Decoder,
    /// When the client was made (the connect deadline counts from it).
    started: Duration,
    /// When a frame last came from the server.
    heard: Duration,
    next_ack: AckId,
    /// Outstanding acks and their deadlines.
    pending: BTreeMap<AckId, Duration>,
    out: VecDeque<Output>,
}

impl Client {
    /// A client for a WebSocket the shell is opening (to [`super::websocket_url`]) at `now`.
    pub fn new(cfg: ClientConfig, now: Duration) -> Result<Client, ClientError> {
        let nsp = &cfg.namespace;
        if !nsp.starts_with('/') || nsp.contains(',') {
            return Err(ClientError::BadNamespace(nsp.clone()));
        }
        if cfg.auth.as_ref().is_some_and(|a| !a.is_object()) {
            return Err(ClientError::BadAuth);
        }
        Ok(Client {
            decoder: Decoder::new(cfg.max_frame),
            cfg,
            state: State::Opening,
            handshake: None,
            started: now,
            heard: now,
            next_ack: 0,
            pending: BTreeMap::new(),
            out: VecDeque::new(),
        })
    }

    /// The next thing to do, if any. Drain it after every call.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// When [`Client::handle_timeout`] is next due (`None` once closed).
    pub fn poll_timeout(&self) -> Option<Duration> {
        if self.state == State::Closed {
            return None;
        }
        let mut due = self.pending.values().min().copied();
        let mut at = |t: Duration| due = Some(due.map_or(t, |d| d.min(t)));
        if !matches!(self.state, State::Connected(_)) {
            at(self.started.saturating_add(self.cfg.connect_timeout));
        }
        if let Some(h) = &self.handshake {
            at(self.silence_deadline(h));
        }
        due
    }

    /// The Socket.IO socket id, once connected.
    pub fn sid(&self) -> Option<&str> {
        match &self.state {
            State::Connected(sid) => Some(sid),
            _ => None,
        }
    }

    /// The server's engine.io handshake, once received.
    pub fn handshake(&self) -> Option<&Handshake> {
        self.handshake.as_ref()
    }

    /// Whether the namespace is connected (emits are possible).
    pub fn is_connected(&self) -> bool {
        matches!(self.state, State::Connected(_))
    }

    /// Whether the session is over.
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// Acks still awaited.
    pub fn pending_acks(&self) -> usize {
        self.pending.len()
    }

    /// A WebSocket message received at `now`. An error drops that message
    /// (and a binary packet it was part of); the session goes on.
    pub fn handle_frame(&mut self, frame: Frame, now: Duration) -> Result<(), DecodeError> {
        if self.state == State::Closed {
            return Ok(());
        }
        // Any message, even a bad one, shows the server is alive.
        self.heard = self.heard.max(now);
        let packet = engineio::Packet::decode(frame, self.cfg.max_frame)?;
        match (packet, &self.state) {
            (engineio::Packet::Open(h), State::Opening) => {
                self.handshake = Some(h);
                self.state = State::Connecting;
                let connect = Packet::connect(&self.cfg.namespace, self.cfg.auth.clone());
                self.send(&connect);
                Ok(())
            }
            (engineio::Packet::Open(_), _) => Err(DecodeError::Unexpected("a second open packet")),
            (_, State::Opening) => Err(DecodeError::Unexpected("a packet before the open packet")),
            (engineio::Packet::Close, _) => {
                self.end(DisconnectReason::ServerClose, false);
                Ok(())
            }
            (engineio::Packet::Ping(data), _) => {
                if self.cfg.answer_pings {
                    self.out
                        .push_back(Output::Send(engineio::Packet::Pong(data).encode()));
                }
                Ok(())
            }
            (engineio::Packet::Pong(_) | engineio::Packet::Upgrade | engineio::Packet::Noop, _) => {
                Ok(())
            }
            (engineio::Packet::Message(text), _) => match self.decoder.text(&text)? {
                Some(p) => self.on_packet(p),
                None => Ok(()),
            },
            (engineio::Packet::Binary(bytes), _) => match self.decoder.binary(bytes)? {
                Some(p) => self.on_packet(p),
                None => Ok(()),
            },
        }
    }

    /// Time passed: fails acks past their deadline, ends a session that
    /// did not connect in time or whose server went silent.
    pub fn handle_timeout(&mut self, now: Duration) {
        if self.state == State::Closed {
            return;
        }
        let expired: Vec<AckId> = self
            .pending
            .iter()
            .filter(|(_, due)| **due <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            self.pending.remove(&id);
            self.event(Event::Ack {
                id,
                result: Err(AckError::Timeout),
            });
        }
        let silent = self
            .handshake
            .as_ref()
            .is_some_and(|h| now >= self.silence_deadline(h));
        let late =
            !self.is_connected() && now >= self.started.saturating_add(self.cfg.connect_timeout);
        if silent {
            self.end(DisconnectReason::PingTimeout, false);
        } else if late {
            let polite = self.handshake.is_some();
            self.end(DisconnectReason::ConnectTimeout, polite);
        }
    }

    /// The shell's WebSocket closed (by the peer or an error), saying `why`.
    pub fn transport_closed(&mut self, why: &str) {
        if self.state != State::Closed {
            self.finish(DisconnectReason::Transport(why.to_owned()));
        }
    }

    /// Emits `name` with `args`, no ack.
    pub fn emit(&mut self, name: &str, args: Vec<Value>) -> Result<(), ClientError> {
        self.check_event(name)?;
        let p = Packet::event(&self.cfg.namespace, name, args, None);
        self.send_checked(&p)
    }

    /// Emits `name` with `args` asking for an ack, at `now`; the answer comes
    /// as [`Event::Ack`] with the returned id (an error after
    /// [`ClientConfig::ack_timeout`]).
    pub fn emit_with_ack(
        &mut self,
        name: &str,
        args: Vec<Value>,
        now: Duration,
    ) -> Result<AckId, ClientError> {
        self.check_event(name)?;
        let id = self.next_ack;
        let p = Packet::event(&self.cfg.namespace, name, args, Some(id));
        self.send_checked(&p)?;
        self.next_ack = self.next_ack.wrapping_add(1);
        self.pending
            .insert(id, now.saturating_add(self.cfg.ack_timeout));
        Ok(id)
    }

    /// Answers the server's event that carried ack `id`.
    pub fn ack(&mut self, id: AckId, args: Vec<Value>) -> Result<(), ClientError> {
        if !self.is_connected() {
            return Err(ClientError::NotConnected);
        }
        let p = Packet::ack(&self.cfg.namespace, id, args);
        self.send_checked(&p)
    }

    /// Leaves: DISCONNECT and engine.io's close go out, then [`Output::Close`].
    pub fn disconnect(&mut self) {
        if self.is_connected() {
            let p = Packet::disconnect(&self.cfg.namespace);
            self.send(&p);
        }
        if self.state != State::Closed {
            self.end(DisconnectReason::ClientDisconnect, self.handshake.is_some());
        }
    }

    fn silence_deadline(&self, h: &Handshake) -> Duration {
        self.heard
            .saturating_add(h.ping_interval)
            .saturating_add(h.ping_timeout)
    }

    fn on_packet(&mut self, p: Packet) -> Result<(), DecodeError> {
        if p.nsp != self.cfg.namespace {
            // Another namespace on the same connection: not ours to handle.
            return Ok(());
        }
        match p.kind {
            PacketKind::Connect => {
                if self.state != State::Connecting {
                    return Err(DecodeError::Unexpected("CONNECT while connected"));
                }
                let sid = p
                    .data
                    .as_ref()
                    .and_then(|d| d.get("sid"))
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
                    .ok_or(DecodeError::Payload("CONNECT without a sid"))?
                    .to_owned();
                self.state = State::Connected(sid.clone());
                self.event(Event::Connected { sid });
            }
            PacketKind::ConnectError => {
                let (message, data) = match p.data {
                    Some(Value::String(m)) => (m, None),
                    Some(Value::Object(mut o)) => (
                        match o.remove("message") {
                            Some(Value::String(m)) => m,
                            Some(other) => other.to_string(),
                            None => String::new(),
                        },
                        o.remove("data"),
                    ),
                    _ => (String::new(), None),
                };
                self.end(DisconnectReason::Refused { message, data }, true);
            }
            PacketKind::Disconnect => self.end(DisconnectReason::ServerDisconnect, true),
            PacketKind::Event | PacketKind::BinaryEvent => {
                if !self.is_connected() {
                    return Err(DecodeError::Unexpected("an event before CONNECT"));
                }
                let Some(Value::Array(mut args)) = p.data else {
                    return Err(DecodeError::Payload("event is not an array"));
                };
                let name = match (!args.is_empty()).then(|| args.remove(0)) {
                    Some(Value::String(n)) => n,
                    _ => return Err(DecodeError::Payload("event without a name")),
                };
                self.event(Event::Message {
                    name,
                    payload: Payload {
                        args,
                        attachments: p.attachments,
                    },
                    ack: p.id,
                });
            }
            PacketKind::Ack | PacketKind::BinaryAck => {
                let id = p.id.ok_or(DecodeError::Header("ack without an id"))?;
                // An ack nobody waits for (late, after its timeout) is dropped.
                if self.pending.remove(&id).is_some() {
                    let Some(Value::Array(args)) = p.data else {
                        return Err(DecodeError::Payload("ack is not an array"));
                    };
                    self.event(Event::Ack {
                        id,
                        result: Ok(Payload {
                            args,
                            attachments: p.attachments,
                        }),
                    });
                }
            }
        }
        Ok(())
    }

    fn check_event(&self, name: &str) -> Result<(), ClientError> {
        if !self.is_connected() {
            return Err(ClientError::NotConnected);
        }
        if RESERVED.contains(&name) {
            return Err(ClientError::ReservedEvent(name.to_owned()));
        }
        Ok(())
    }

    /// Queues `p` unless one of its messages exceeds the server's `maxPayload`.
    fn send_checked(&mut self, p: &Packet) -> Result<(), ClientError> {
        let frames = p.frames();
        let max = self.handshake.as_ref().map_or(0, |h| h.max_payload);
        if let Some(len) = frames
            .iter()
            .map(Frame::len)
            .find(|&len| u64::try_from(len).unwrap_or(u64::MAX) > max)
        {
            return Err(ClientError::TooLarge { len, max });
        }
        self.out.extend(frames.into_iter().map(Output::Send));
        Ok(())
    }

    fn send(&mut self, p: &Packet) {
        self.out.extend(p.frames().into_iter().map(Output::Send));
    }

    fn event(&mut self, e: Event) {
        self.out.push_back(Output::Event(e));
    }

    /// Ends the session: engine.io's close first when `polite`, then the
    /// WebSocket's close.
    fn end(&mut self, reason: DisconnectReason, polite: bool) {
        if polite {
            self.out
                .push_back(Output::Send(engineio::Packet::Close.encode()));
        }
        self.out.push_back(Output::Close);
        self.finish(reason);
    }

    /// Fails every outstanding ack, then reports the end.
    fn finish(&mut self, reason: DisconnectReason) {
        self.state = State::Closed;
        self.decoder = Decoder::new(self.cfg.max_frame);
        for id in std::mem::take(&mut self.pending).into_keys() {
            self.event(Event::Ack {
                id,
                result: Err(AckError::Disconnected),
            });
        }
        self.event(Event::Disconnected { reason });
    }
}
