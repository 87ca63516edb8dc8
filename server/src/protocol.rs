//! Signaling message types of `PROTOCOL.md`, shared by the server and the game.
//!
//! This module owns the exact JSON shapes of every Socket.IO event (core and
//! extensions), the event names, the error codes and the room-code format
//! ([`RoomCode`], [`normalize_code`]). It is pure data: no sockets, no clock,
//! no server state; the game imports these types for its signaling client, so
//! a change here is a change of the wire contract.
//!
//! Field names are camelCase on the wire (`roomId`, `userId`, `targetId`,
//! `iceServers`, `sdpMid`, `sdpMLineIndex`). Game data (`data`) is always one
//! encoded game message as a base64 string (RFC 4648 standard alphabet,
//! padded), never a binary attachment.
//!
//! # Errors that are not acks: `arena_error`
//!
//! Events with an ack (`hello`, `create_room`, `join_room`, `leave_room`)
//! answer failures in the ack as [`ErrorAck`] `{"error": ERR, "message": ...}`.
//! Every other failure — a `rate_limited` burst of `signal`/`relay`/`broadcast`,
//! a `bad_request` payload, a `join_room` sent without an ack that failed — is
//! reported with the server → client event `arena_error` carrying
//! [`ArenaError`] `{"error": ERR, "message": ..., "event": "<failed event>"}`.
//! The name is not `error` because some Socket.IO clients reserve it. A failed
//! message never disconnects the client and never changes its room.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Socket.IO event names used on the wire.
pub mod events {
    /// client → server `{"v": 1, "name": NAME}` with ack [`super::HelloAck`] (extension).
    pub const HELLO: &str = "hello";
    /// client → server `{}` or `{"token": T}` with ack [`super::CreateRoomAck`] (extension).
    pub const CREATE_ROOM: &str = "create_room";
    /// client → server [`super::JoinRoom`]; ack [`super::JoinRoomAck`] when asked (core + extension).
    pub const JOIN_ROOM: &str = "join_room";
    /// client → server `{}`, optional ack [`super::LeaveRoomAck`] (extension).
    pub const LEAVE_ROOM: &str = "leave_room";
    /// server → joiner [`super::RoomUsers`] (core).
    pub const ROOM_USERS: &str = "room_users";
    /// server → others in the room [`super::UserJoined`] (core).
    pub const USER_JOINED: &str = "user_joined";
    /// server → others in the room [`super::UserLeft`] (core).
    pub const USER_LEFT: &str = "user_left";
    /// both directions: [`super::SignalRequest`] in, [`super::SignalForward`] out (core).
    pub const SIGNAL: &str = "signal";
    /// both directions: [`super::BroadcastRequest`] in, [`super::BroadcastForward`] out (core).
    pub const BROADCAST: &str = "broadcast";
    /// both directions: [`super::RelayRequest`] in, [`super::RelayForward`] out (extension).
    pub const RELAY: &str = "relay";
    /// server → client [`super::ArenaError`]: a failure that has no ack to answer in (extension).
    pub const ARENA_ERROR: &str = "arena_error";
}

/// Name the server reports in [`HelloAck::server`].
pub const SERVER_NAME: &str = "arena-server";

/// Version of the extension protocol spoken by this server (`hello`'s `v`).
pub const PROTOCOL_VERSION: u32 = 1;

/// Error codes of PROTOCOL.md section 2 (`ERR`), snake_case on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The room code is well formed but no such room exists (or it expired).
    NotFound,
    /// The room already holds its capacity of players.
    Full,
    /// The room code is not 8 Crockford base32 characters.
    BadCode,
    /// Too many messages of one class in a short time, or too many failed joins.
    RateLimited,
    /// Room creation needs a token and none (or a wrong one) was given.
    Unauthorized,
    /// The payload is not the documented JSON shape, or is too large.
    BadRequest,
    /// The server cannot serve rooms now (a multi-node server lost its
    /// Redis); retry in a few seconds, possibly on another node.
    Unavailable,
}

impl ErrorCode {
    /// The wire spelling (`"not_found"`, ...), also used as a metrics label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotFound => "not_found",
            Self::Full => "full",
            Self::BadCode => "bad_code",
            Self::RateLimited => "rate_limited",
            Self::Unauthorized => "unauthorized",
            Self::BadRequest => "bad_request",
            Self::Unavailable => "unavailable",
        }
    }

    /// Every code, in a fixed order (for metrics).
    pub const ALL: [ErrorCode; 7] = [
        Self::NotFound,
        Self::Full,
        Self::BadCode,
        Self::RateLimited,
        Self::Unauthorized,
        Self::BadRequest,
        Self::Unavailable,
    ];
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Ack payload of a failed `hello`, `create_room`, `join_room` or `leave_room`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorAck {
    /// What went wrong.
    pub error: ErrorCode,
    /// Human-readable explanation.
    pub message: String,
}

/// Payload of the server → client `arena_error` event: a failure that has no
/// ack to answer in (see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArenaError {
    /// What went wrong.
    pub error: ErrorCode,
    /// Human-readable explanation.
    pub message: String,
    /// The client event that failed (`"relay"`, `"signal"`, `"join_room"`, ...).
    pub event: String,
}

/// `hello` request: `{"v": 1, "name": NAME}`. Both fields are optional on input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Hello {
    /// Extension protocol version the client speaks.
    #[serde(default)]
    pub v: Option<u32>,
    /// Display name of the player (informational, logged only).
    #[serde(default)]
    pub name: Option<String>,
}

/// `hello` ack: `{"server": "arena-server", "version": "...", "features": [...]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HelloAck {
    /// Always [`SERVER_NAME`].
    pub server: String,
    /// The server's crate version.
    pub version: String,
    /// Supported extensions, e.g. `create_room`, `relay`, `leave_room`, `ice_servers`, `turn`.
    pub features: Vec<String>,
    /// The caller's own socket id (the id others see in `room_users`,
    /// `user_joined` and as `userId`): Socket.IO clients do not all expose it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The ICE servers a join would hand out (TURN with fresh credentials),
    /// for connection tests before joining; absent when creating rooms needs
    /// a token this connection did not give.
    #[serde(
        rename = "iceServers",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub ice_servers: Option<Vec<IceServer>>,
    /// UDP ports of the server's built-in STUN server on the host the client
    /// connected to: the one in `iceServers` first, then an alternate that
    /// answers the same (to compare NAT mappings). Empty: no built-in STUN.
    #[serde(rename = "stunPorts", default, skip_serializing_if = "Vec::is_empty")]
    pub stun_ports: Vec<u16>,
}

/// `create_room` request: `{}`, or `{"token": T}` when creation needs a token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct CreateRoom {
    /// Room-creation token (alternatively given in the connect `auth` as `{"token": T}`).
    #[serde(default)]
    pub token: Option<String>,
}

/// `create_room` ack on success: `{"roomId": CODE}` (8 Crockford characters, ungrouped).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateRoomAck {
    /// The new room's code.
    #[serde(rename = "roomId")]
    pub room_id: String,
}

/// `join_room` request: `{"roomId": CODE}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinRoom {
    /// Room code (any case, spaces and dashes ignored); in core-only mode any non-empty string.
    #[serde(rename = "roomId")]
    pub room_id: String,
    /// Re-entering a room one was in before the server restarted: a
    /// well-formed code of a room that does not exist (any more) is created
    /// instead of answering `not_found`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rejoin: bool,
}

/// `join_room` ack on success: `{"users": [...], "iceServers": [...]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinRoomAck {
    /// Everyone in the room, joiner included, in join order.
    pub users: Vec<String>,
    /// ICE servers to use, TURN entries with short-lived credentials.
    #[serde(rename = "iceServers")]
    pub ice_servers: Vec<IceServer>,
}

/// One RTCIceServer entry (`urls`, `username`, `credential`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IceServer {
    /// `stun:` / `turn:` / `turns:` URLs.
    pub urls: Vec<String>,
    /// TURN username (`expiry:id` in the TURN REST scheme); absent for STUN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// TURN credential (base64 HMAC-SHA1); absent for STUN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

/// `leave_room` ack: `{"left": true}` if the client was in a room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaveRoomAck {
    /// Whether the client was in a room and left it.
    pub left: bool,
}

/// `room_users` (server → joiner): `{"users": [ID, ...]}`, joiner included.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomUsers {
    /// Everyone in the room, in join order.
    pub users: Vec<String>,
}

/// `user_joined` (server → others in the room): `{"userId": ID}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserJoined {
    /// Socket id of the new member.
    #[serde(rename = "userId")]
    pub user_id: String,
}

/// `user_left` (server → others in the room): `{"userId": ID}`, on leave or disconnect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserLeft {
    /// Socket id of the member that left.
    #[serde(rename = "userId")]
    pub user_id: String,
}

/// `signal` (client → server): `{"targetId": ID, "signal": SIGNAL}`.
///
/// The server forwards `signal` unchanged (as JSON) after checking it parses
/// as a [`Signal`], and only to a target in the sender's room.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignalRequest {
    /// Socket id of the recipient.
    #[serde(rename = "targetId")]
    pub target_id: String,
    /// The browser-shaped description or candidate.
    pub signal: serde_json::Value,
}

/// `signal` (server → target): `{"userId": FROM_ID, "signal": SIGNAL}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignalForward {
    /// Socket id of the sender.
    #[serde(rename = "userId")]
    pub user_id: String,
    /// The signal exactly as sent.
    pub signal: serde_json::Value,
}

/// `SIGNAL`: exactly the JSON a browser uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Signal {
    /// `{"type": "offer" | "answer", "sdp": "..."}` (RTCSessionDescriptionInit).
    Description {
        /// Offer or answer.
        #[serde(rename = "type")]
        kind: SdpType,
        /// The session description.
        sdp: String,
    },
    /// `{"candidate": {...}}` (RTCIceCandidateInit inside).
    Candidate {
        /// The candidate.
        candidate: IceCandidate,
    },
}

/// Kind of a session description.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SdpType {
    /// An SDP offer.
    Offer,
    /// An SDP answer.
    Answer,
}

/// RTCIceCandidateInit: `{"candidate": "...", "sdpMid": "0", "sdpMLineIndex": 0}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IceCandidate {
    /// The candidate line (empty for end-of-candidates).
    pub candidate: String,
    /// Media stream id.
    #[serde(rename = "sdpMid", default, skip_serializing_if = "Option::is_none")]
    pub sdp_mid: Option<String>,
    /// Media line index.
    #[serde(
        rename = "sdpMLineIndex",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub sdp_m_line_index: Option<u16>,
    /// ICE username fragment.
    #[serde(
        rename = "usernameFragment",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub username_fragment: Option<String>,
}

/// `broadcast` (client → server): `{"data": BYTES}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BroadcastRequest {
    /// One encoded game message, base64 (standard, padded).
    pub data: String,
}

/// `broadcast` (server → room except sender): `{"userId": ID, "data": BYTES}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BroadcastForward {
    /// Socket id of the sender.
    #[serde(rename = "userId")]
    pub user_id: String,
    /// The data exactly as sent.
    pub data: String,
}

/// `relay` (client → server): `{"targetId": ID, "data": BYTES}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelayRequest {
    /// Socket id of the recipient (must be in the sender's room).
    #[serde(rename = "targetId")]
    pub target_id: String,
    /// One encoded game message, base64 (standard, padded).
    pub data: String,
}

/// `relay` (server → target): `{"userId": ID, "data": BYTES}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelayForward {
    /// Socket id of the sender.
    #[serde(rename = "userId")]
    pub user_id: String,
    /// The data exactly as sent.
    pub data: String,
}

/// Crockford base32 alphabet (no I, L, O, U).
const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Number of characters of a room code.
pub const CODE_LEN: usize = 8;

/// A valid room code: 8 upper-case Crockford base32 characters (40 bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RoomCode([u8; CODE_LEN]);

/// Why a string is not a room code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    /// Not exactly 8 characters once spaces and dashes are removed.
    #[error("a room code has 8 characters, got {0}")]
    Length(usize),
    /// A character outside Crockford base32.
    #[error("{0:?} is not a room-code character (0-9, A-Z without I, L, O, U)")]
    Character(char),
}

impl RoomCode {
    /// The code of the low 40 bits of `bits` (callers pass OS-random bits).
    pub fn from_bits(bits: u64) -> Self {
        let mut out = [0u8; CODE_LEN];
        for (i, slot) in out.iter_mut().enumerate() {
            let shift = 5 * (CODE_LEN - 1 - i);
            // Masked to 5 bits, so always a valid index.
            *slot = CROCKFORD[((bits >> shift) & 0x1f) as usize];
        }
        Self(out)
    }

    /// The 8 characters, ungrouped (`ABCDEFGH`): the wire form.
    pub fn as_str(&self) -> &str {
        // Only ASCII from CROCKFORD is ever stored.
        std::str::from_utf8(&self.0).unwrap_or("")
    }

    /// The display form for people: `ABCD-EFGH`.
    pub fn display_grouped(&self) -> String {
        let s = self.as_str();
        format!("{}-{}", &s[..4], &s[4..])
    }
}

impl fmt::Display for RoomCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RoomCode {
    type Err = CodeError;
    fn from_str(s: &str) -> Result<Self, CodeError> {
        normalize_code(s)
    }
}

/// Parses what a person typed: case-insensitive, spaces and dashes ignored.
///
/// Only the 32 Crockford characters are accepted (`I`, `L`, `O`, `U` are
/// rejected rather than guessed, so a code is either exact or refused).
pub fn normalize_code(input: &str) -> Result<RoomCode, CodeError> {
    let mut out = [0u8; CODE_LEN];
    let mut n = 0usize;
    for c in input.chars() {
        if c == '-' || c.is_whitespace() {
            continue;
        }
        let up = c.to_ascii_uppercase();
        if !up.is_ascii() || !CROCKFORD.contains(&(up as u8)) {
            return Err(CodeError::Character(c));
        }
        if n < CODE_LEN {
            out[n] = up as u8;
        }
        n += 1;
    }
    if n != CODE_LEN {
        return Err(CodeError::Length(n));
    }
    Ok(RoomCode(out))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn codes_normalise_case_spaces_and_dashes() {
        let c = normalize_code(" abcd-efgh ").unwrap();
        assert_eq!(c.as_str(), "ABCDEFGH");
        assert_eq!(c.display_grouped(), "ABCD-EFGH");
        assert_eq!(normalize_code("AB CD EF GH").unwrap(), c);
        assert_eq!(normalize_code("abc"), Err(CodeError::Length(3)));
        assert_eq!(normalize_code("ABCDEFGHJ"), Err(CodeError::Length(9)));
        assert_eq!(normalize_code("ABCDEFGI"), Err(CodeError::Character('I')));
        assert_eq!(normalize_code("ABCDEFGU"), Err(CodeError::Character('U')));
        assert!(normalize_code("ABCDEFGé").is_err());
        assert!(normalize_code("").is_err());
    }

    #[test]
    fn codes_from_bits_roundtrip_and_use_40_bits() {
        assert_eq!(RoomCode::from_bits(0).as_str(), "00000000");
        assert_eq!(RoomCode::from_bits((1 << 40) - 1).as_str(), "ZZZZZZZZ");
        assert_eq!(
            RoomCode::from_bits(u64::MAX),
            RoomCode::from_bits((1 << 40) - 1)
        );
        for bits in [1u64, 31, 32, 123_456_789, 0xAB_CDEF_0123] {
            let c = RoomCode::from_bits(bits);
            assert_eq!(normalize_code(&c.as_str().to_lowercase()).unwrap(), c);
        }
    }

    #[test]
    fn wire_shapes_are_camel_case() {
        let v = serde_json::to_value(JoinRoomAck {
            users: vec!["a".into()],
            ice_servers: vec![IceServer {
                urls: vec!["stun:x".into()],
                username: None,
                credential: None,
            }],
        })
        .unwrap();
        assert_eq!(
            v,
            json!({"users": ["a"], "iceServers": [{"urls": ["stun:x"]}]})
        );
        let v = serde_json::to_value(ArenaError {
            error: ErrorCode::RateLimited,
            message: "m".into(),
            event: "relay".into(),
        })
        .unwrap();
        assert_eq!(
            v,
            json!({"error": "rate_limited", "message": "m", "event": "relay"})
        );
        let r: RelayRequest =
            serde_json::from_value(json!({"targetId": "t", "data": "AA=="})).unwrap();
        assert_eq!(r.target_id, "t");
    }

    #[test]
    fn signals_parse_browser_json() {
        let s: Signal = serde_json::from_value(json!({"type": "offer", "sdp": "v=0"})).unwrap();
        assert!(matches!(
            s,
            Signal::Description {
                kind: SdpType::Offer,
                ..
            }
        ));
        let s: Signal = serde_json::from_value(
            json!({"candidate": {"candidate": "candidate:1 1 udp 1 1.2.3.4 5 typ host", "sdpMid": "0", "sdpMLineIndex": 0}}),
        )
        .unwrap();
        assert!(matches!(s, Signal::Candidate { .. }));
        assert!(serde_json::from_value::<Signal>(json!({"type": "bogus"})).is_err());
        assert!(serde_json::from_value::<Signal>(json!(42)).is_err());
    }
}
