//! The typed boundary between the game and the net thread: configuration,
//! commands in, events out, per-peer statistics.

use crate::time::Instant;
use std::net::{IpAddr, Ipv4Addr};

use arena_server::protocol::{ErrorCode, IceServer};
use serde::Serialize;

use super::route::{CandidateKind, NetMode, Route, RoutePolicy};
use crate::proto::{Bounds, GameEvent, NetId, PlayerState};

/// Artificial link conditions applied to outgoing game traffic on every
/// route (for tests and the settings menu).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct LinkConditions {
    /// Added one-way latency, milliseconds.
    pub latency_ms: f64,
    /// Uniform jitter around the latency (±), milliseconds.
    pub jitter_ms: f64,
    /// Probability (0–1) of dropping a message.
    pub loss: f64,
}

impl LinkConditions {
    /// Largest added latency, milliseconds (the settings' range too).
    pub const MAX_LATENCY_MS: f64 = 1000.0;
    /// Largest jitter, milliseconds (the settings' range too).
    pub const MAX_JITTER_MS: f64 = 500.0;

    /// Whether any condition is set.
    pub fn is_active(&self) -> bool {
        self.latency_ms > 0.0 || self.jitter_ms > 0.0 || self.loss > 0.0
    }

    /// Clamps to sane ranges (latency 0–[`Self::MAX_LATENCY_MS`], jitter
    /// 0–[`Self::MAX_JITTER_MS`], loss 0–1; non-finite → 0).
    pub fn clamped(self) -> LinkConditions {
        let within = |v: f64, max: f64| {
            if v.is_finite() {
                v.clamp(0.0, max)
            } else {
                0.0
            }
        };
        LinkConditions {
            latency_ms: within(self.latency_ms, Self::MAX_LATENCY_MS),
            jitter_ms: within(self.jitter_ms, Self::MAX_JITTER_MS),
            loss: within(self.loss, 1.0),
        }
    }
}

/// Everything the net thread needs to start.
#[derive(Debug, Clone)]
pub struct NetConfig {
    /// Signaling server URL, e.g. `http://127.0.0.1:3536`.
    pub server_url: String,
    /// This player's name (sent in `Hello`).
    pub name: String,
    /// This player's colour index (sent in `Hello`).
    pub color: u8,
    /// Network mode at start (switchable with [`NetCommand::SetMode`]).
    pub mode: NetMode,
    /// ICE servers from the settings; the server's list is added on join.
    pub ice_servers: Vec<IceServer>,
    /// ICE transport policy `relay`: only TURN candidates (tests, strict networks).
    pub relay_only: bool,
    /// Test switch: every WebRTC attempt of this client fails (no ICE
    /// candidates are sent or accepted), to exercise the fallback.
    pub block_p2p: bool,
    /// P2P timeout and retry backoff.
    pub policy: RoutePolicy,
    /// Link conditioner at start.
    pub conditions: LinkConditions,
    /// Local address for ICE host candidates (`0.0.0.0`: every interface;
    /// `127.0.0.1`: loopback only, for tests on one machine).
    pub bind_ip: IpAddr,
    /// What counts as in range for received positions.
    pub bounds: Bounds,
    /// Time zero of every `f64` time in commands and events (seconds since).
    pub epoch: Instant,
    /// State send rate: automatic per link, or automatic up to a cap.
    pub send_rate: crate::sync::SendRate,
    /// Room-creation token, if the server needs one.
    pub create_token: Option<String>,
    /// Seed of the conditioner and of session nonces.
    pub seed: u64,
    /// Seconds between pings to each peer (RTT, clock offset, liveness).
    pub ping_interval: f64,
    /// Record where each ping's round trip goes ([`super::hops`]; read with
    /// [`super::NetHandle::hops`]). For benchmarks: off in the game.
    pub record_hops: bool,
}

impl NetConfig {
    /// Defaults for `server_url` and `name`, for arena `bounds`.
    pub fn new(server_url: impl Into<String>, name: impl Into<String>, bounds: Bounds) -> Self {
        NetConfig {
            server_url: server_url.into(),
            name: name.into(),
            color: 0,
            mode: NetMode::Hybrid,
            ice_servers: Vec::new(),
            relay_only: false,
            block_p2p: false,
            policy: RoutePolicy::default(),
            conditions: LinkConditions::default(),
            bind_ip: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            bounds,
            epoch: Instant::now(),
            send_rate: crate::sync::SendRate::Auto,
            create_token: None,
            seed: crate::random::u64(),
            ping_interval: 1.0,
            record_hops: false,
        }
    }
}

/// What the game asks of the net thread. Sending never blocks.
#[derive(Debug, Clone)]
pub enum NetCommand {
    /// Create a room on the server (a core-only server: a code made here) and join it.
    CreateRoom,
    /// Join the room with this code (any case, spaces and dashes ignored).
    JoinRoom(String),
    /// The local player's state, every simulation tick; the net thread sends
    /// it to each peer at the send rate (at once when `discrete`: respawn,
    /// fire), lowering a congested peer's rate.
    SendState {
        /// The state.
        state: PlayerState,
        /// A discrete change that must go out now.
        discrete: bool,
    },
    /// A reliable game event to every peer in the room: exactly once, in order.
    SendEvent(GameEvent),
    /// Switch the network mode live (no leaving the room).
    SetMode(NetMode),
    /// Raw bytes to every peer, unchecked, on its events channel (`reliable`)
    /// or state channel (or through the server). Never used by the game: it
    /// is how `arena bot --hostile` plays a malformed or hostile peer, to test
    /// that peers drop, count and block one.
    SendRaw {
        /// The bytes, sent as they are.
        bytes: Vec<u8>,
        /// The events channel rather than the state channel.
        reliable: bool,
    },
    /// Leave the room (goodbye to every peer, links closed) and stay
    /// connected to the server; a room operation not started yet is
    /// forgotten. Peers leave with [`LeaveReason::WeLeft`].
    LeaveRoom,
    /// Leave the room, close everything and end the thread.
    Shutdown,
}

/// Why joining or creating a room failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RoomErrorKind {
    /// No room with that code (or it expired).
    NotFound,
    /// The room is full.
    Full,
    /// The code is not 8 Crockford base32 characters.
    BadCode,
    /// Too many attempts; wait and retry.
    RateLimited,
    /// Creating rooms needs a token.
    Unauthorized,
    /// The server refused the request as malformed.
    BadRequest,
    /// The server could not be reached or did not answer.
    Unreachable,
    /// The server cannot serve rooms for now (a multi-node server lost its
    /// Redis); retry in a few seconds.
    Unavailable,
}

impl From<ErrorCode> for RoomErrorKind {
    fn from(c: ErrorCode) -> Self {
        match c {
            ErrorCode::NotFound => Self::NotFound,
            ErrorCode::Full => Self::Full,
            ErrorCode::BadCode => Self::BadCode,
            ErrorCode::RateLimited => Self::RateLimited,
            ErrorCode::Unauthorized => Self::Unauthorized,
            ErrorCode::BadRequest => Self::BadRequest,
            ErrorCode::Unavailable => Self::Unavailable,
        }
    }
}

/// Why a peer is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LeaveReason {
    /// The server said it left (`user_left`).
    Left,
    /// Nothing heard from it for the peer timeout.
    TimedOut,
    /// We left the room.
    WeLeft,
    /// It sent [`BLOCK_AFTER`](crate::net::core::BLOCK_AFTER) invalid or
    /// forged messages: we closed our link and ignore it from now on.
    Blocked,
}

/// What the net thread reports. Drain with `try_iter()` once per frame.
#[derive(Debug, Clone)]
pub enum NetEvent {
    /// Connected to the signaling server (`core_only`: it answered no `hello`).
    Connected {
        /// Whether the server speaks only the six core events.
        core_only: bool,
    },
    /// The server could not be reached; retrying in the background.
    ServerUnreachable {
        /// What went wrong, for the person.
        message: String,
    },
    /// The connection to the server was lost; reconnecting. Direct links go on.
    Disconnected {
        /// What happened.
        message: String,
    },
    /// Reconnected to the server (and back in the room, if we were in one).
    Reconnected,
    /// We are in a room.
    RoomJoined {
        /// Its code (8 characters, ungrouped).
        code: String,
        /// Whether we created it.
        created: bool,
    },
    /// Creating or joining a room failed; we are not in a room.
    RoomFailed {
        /// What kind of failure.
        kind: RoomErrorKind,
        /// Explanation for the person.
        message: String,
    },
    /// A player became reachable and said who it is.
    PeerJoined {
        /// Its stable id.
        peer: NetId,
        /// Its name.
        name: String,
        /// Its colour index.
        color: u8,
    },
    /// A player is gone.
    PeerLeft {
        /// Its id.
        peer: NetId,
        /// Why.
        reason: LeaveReason,
    },
    /// The route to a peer changed.
    RouteChanged {
        /// The peer.
        peer: NetId,
        /// The new route.
        route: Route,
        /// Local candidate type of the selected pair, when on WebRTC.
        candidate: Option<CandidateKind>,
    },
    /// A peer's state arrived (validated).
    State {
        /// From whom.
        peer: NetId,
        /// The state.
        state: PlayerState,
        /// Arrival time, seconds since the epoch.
        at: f64,
    },
    /// A reliable game event arrived (exactly once, in order per sender).
    Event {
        /// From whom.
        peer: NetId,
        /// The event.
        event: GameEvent,
    },
    /// A ping round trip: feeds `sync`'s clock-offset estimate.
    ClockSample {
        /// With whom.
        peer: NetId,
        /// When our ping left, seconds since the epoch.
        sent: f64,
        /// The peer's clock when it answered, seconds.
        remote: f64,
        /// When the pong arrived, seconds since the epoch.
        received: f64,
    },
    /// A peer sent [`BLOCK_AFTER`](crate::net::core::BLOCK_AFTER) invalid or
    /// forged messages and is blocked: our link to it is closed and whatever
    /// it sends from now on (directly or through the server) is ignored. A
    /// [`NetEvent::PeerLeft`] with [`LeaveReason::Blocked`] follows if it had
    /// said who it is.
    PeerBlocked {
        /// Its statistics when blocked (what it sent, what was dropped).
        stats: Box<PeerStats>,
    },
    /// Per-peer statistics, once a second.
    Stats(Vec<PeerStats>),
    /// A problem worth showing; the net thread goes on.
    Error(String),
}

/// Statistics of one peer link.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PeerStats {
    /// The peer (0 until its `Hello` arrives: a WebRTC-only peer with no
    /// link never gets one).
    pub peer: NetId,
    /// Its Socket.IO id.
    pub sid: String,
    /// Its name.
    pub name: String,
    /// Current route.
    pub route: Option<Route>,
    /// Local candidate type of the selected pair, when on WebRTC.
    pub candidate: Option<CandidateKind>,
    /// Latest round-trip time, milliseconds.
    pub rtt_ms: Option<f64>,
    /// Bytes sent to it (game messages, any route).
    pub bytes_out: u64,
    /// Bytes received from it.
    pub bytes_in: u64,
    /// Messages sent to it.
    pub msgs_out: u64,
    /// Messages received from it.
    pub msgs_in: u64,
    /// States received.
    pub states_in: u64,
    /// Reliable events delivered.
    pub events_in: u64,
    /// Share of its states lost (gaps in sequence numbers), 0–1.
    pub state_loss: f64,
    /// Messages dropped as invalid (size, version, decode, range).
    pub dropped_invalid: u64,
    /// Messages dropped by the per-sender rate limit.
    pub dropped_rate: u64,
    /// Messages addressed to another player (`to` is not us), dropped. On a
    /// core-only server everything is broadcast, so this counts only what
    /// came directly or through an addressed relay.
    pub dropped_forged: u64,
    /// Messages that came through the server relay.
    pub relayed_in: u64,
    /// Seconds from our joining the room (or its joining) to its `Hello`.
    pub joined_after: Option<f64>,
    /// Seconds from its discovery to the WebRTC channels opening.
    pub p2p_open_after: Option<f64>,
    /// The candidate pair of the current (or last) WebRTC link.
    pub pair: Option<super::route::CandidatePair>,
    /// Why the last WebRTC attempt failed (`timed out`, `ICE failed`, `no
    /// candidates from the peer`, `TURN refused`, ... with the candidates seen).
    pub p2p_failure: Option<String>,
    /// Current state send rate to it (the automatic choice within the
    /// setting's cap, after congestion back-off), Hz.
    pub send_rate_hz: f64,
    /// What set that rate: `good`, `loss burst`, `queueing`, `bandwidth` or
    /// `congestion` (see [`crate::sync::rate`]).
    pub send_rate_reason: String,
    /// States sent to it.
    pub states_out: u64,
    /// Our upstream to it over the last 2 s, kbit/s: game messages plus an
    /// estimate of the headers ([`crate::sync::rate::WIRE_OVERHEAD`] bytes
    /// per message).
    pub upstream_kbps: Option<f64>,
}
