//! Game wire messages: the compact, versioned binary form of everything peers
//! say to each other over the data channels (or base64-wrapped through the
//! signaling server's relay), and its validating decoder.
//!
//! Owns [`Message`] and its parts, the quantization of positions, velocities,
//! angles and timestamps, and the rules a received message must pass before
//! the game sees it. It is pure: no I/O, no clock reads, no tokio, WebRTC or
//! macroquad; time only ever appears as values inside messages. It must not
//! know about channels, sockets, peers or game rules beyond the range checks
//! documented here (`docs/PROTOCOL.md` section 4 is the contract).
//!
//! # Wire format
//!
//! Every message is one [`VERSION`] byte followed by a [postcard] body: a
//! private "wire" enum mirroring [`Message`], whose variant index is a varint
//! (one byte). Integers are postcard varints (zigzag for signed) unless marked
//! *fixed* (little-endian, fixed width: used where values are uniformly spread,
//! so a varint would be longer on average). Floats are quantized as below,
//! except the ping/pong clocks, which travel as exact `f64`.
//!
//! | value | wire form | decoded error bound |
//! |---|---|---|
//! | position axis | `u32` varint, `round((x + 64) * 8)`, clamped to `[0, 2²¹)` so at most 3 bytes (2 bytes for `x < 1984`) | ≤ [`POS_STEP`]` / 2` = 1/16 unit per axis |
//! | velocity axis | `i32` varint, `round(v * 8)`, after clamping the speed to [`MAX_SPEED`] (2 bytes each) | ≤ 1/16 unit/s per axis |
//! | aim | *fixed* `u16` turns, `round(aim / 2π · 65536) mod 65536` | ≤ [`AIM_STEP`]` / 2` ≈ 4.8e-5 rad (shortest arc); decoded in `[-π, π)` |
//! | `sent_at` | *fixed* `u32` milliseconds, clamped to `[0, 2³²)` ms (49.7 days) | ≤ 0.5 ms |
//! | `PlayerState::seq` | *fixed* `u16` | exact |
//! | `alive` + `kills` | one `u32` varint, `kills << 1 \| alive` | exact |
//! | [`NetId`] | *fixed* `u64` (ids are random) | exact |
//! | ping/pong clocks | `f64` (8 bytes) | exact |
//! | names, chat | postcard string (varint length + UTF-8) | exact |
//!
//! The position offset of 64 units equals [`BOUNDS_MARGIN`], so an arena
//! starting at `(0, 0)` (as every [`crate::sim::Map`] does) is fully
//! representable, margin included, up to 262 079 units wide. The encoder
//! clamps positions into `[-64, 262079.875]`: a position further below 0 is
//! sent as -64, at the edge of such an arena's margin.
//!
//! A [`Message::State`] encodes in **at most [`STATE_MAX_BYTES`] = 24 bytes**
//! whenever both position axes are below 1984 units (the built-in 1600 × 1000
//! arena and its margin), `kills < 8192` and `deaths < 16384`; typically 22
//! bytes (`kills < 64`, `deaths < 128`). Its absolute worst case, for any input,
//! is 28 bytes. Both bounds are asserted by tests.
//!
//! # Encoding
//!
//! [`encode`] never fails and never panics. It clamps and quantizes as above,
//! maps non-finite numbers to in-range values (NaN position axis, aim, or
//! `sent_at` → 0; non-finite velocity → zero; negative or NaN ping clocks → 0,
//! +∞ → `f64::MAX`), and truncates names to [`MAX_NAME_CHARS`] characters and
//! chat to [`MAX_CHAT_CHARS`] characters / [`MAX_CHAT_BYTES`] bytes, so every
//! encoded message fits in [`MAX_MESSAGE_BYTES`]. It does not strip control
//! characters or fill in empty names: receivers reject those. Should postcard
//! ever fail, the output is the lone version byte, which receivers reject.
//!
//! # Decoding
//!
//! [`decode`] returns an error, never panics, whatever the bytes. It rejects:
//! an empty input ([`DecodeError::Empty`]); more than [`MAX_MESSAGE_BYTES`]
//! ([`DecodeError::TooLong`]); a first byte other than [`VERSION`]
//! ([`DecodeError::Version`]); a body postcard cannot read — unknown variant,
//! truncated, invalid UTF-8 ([`DecodeError::Malformed`]); bytes left over
//! ([`DecodeError::TrailingBytes`]); and, as [`DecodeError::OutOfRange`] naming
//! the field: positions outside the [`Bounds`] plus [`BOUNDS_MARGIN`], speeds
//! above [`MAX_SPEED`] (plus the quantization slack), kill counts above
//! `u16::MAX`, ping/pong clocks that are negative or not finite, names that are
//! empty or blank, longer than [`MAX_NAME_CHARS`] or contain control characters,
//! chat longer than [`MAX_CHAT_CHARS`] / [`MAX_CHAT_BYTES`] or containing any
//! control character, a `Hit` whose retired damage byte is 0, an event of the
//! retired kind 3 (see below), and `Event` sequence number 0 (they start at 1,
//! so 0 would already count as acknowledged).
//!
//! # Retired fields
//!
//! Two parts of version 1 are no longer used; their bytes stay on the wire so
//! every other message keeps its encoding. Event kind 3 (was `Respawn {pos}`:
//! the `spawn` counter of [`Message::State`] carries respawns) is never sent
//! and rejected on receipt; it keeps `Chat` at kind 4. `Hit`'s second field
//! (was the damage taken: the victim's `State` carries its hit points) is sent
//! as [`HIT_DAMAGE_BYTE`]; receivers reject 0 and otherwise ignore it.
//!
//! [postcard]: https://docs.rs/postcard

#![warn(missing_docs)]

use std::borrow::Cow;
use std::f64::consts::TAU;

use glam::Vec2;
use serde::{Deserialize, Serialize};

use crate::sync::Snapshot;

/// Protocol version: the first byte of every message.
pub const VERSION: u8 = 1;
/// Longest accepted message, version byte included; longer input is rejected
/// with [`DecodeError::TooLong`].
pub const MAX_MESSAGE_BYTES: usize = 512;
/// Longest accepted player name, in characters (Unicode scalar values).
pub const MAX_NAME_CHARS: usize = 16;
/// Longest accepted chat line, in characters (Unicode scalar values).
pub const MAX_CHAT_CHARS: usize = 200;
/// Longest accepted chat line in UTF-8 bytes (200 four-byte characters would
/// not fit in [`MAX_MESSAGE_BYTES`]); the encoder truncates to it.
pub const MAX_CHAT_BYTES: usize = 480;
/// Fastest accepted velocity, world units per second: over three times the
/// default `sim::Rules::max_speed` (300), leaving room for tuned rules. The
/// encoder clamps the speed to it; the decoder rejects anything faster (beyond
/// the quantization slack).
pub const MAX_SPEED: f32 = 1000.0;
/// How far outside the arena rectangle a position may be and still be "in
/// range" (world units). See [`Bounds::contains`].
pub const BOUNDS_MARGIN: f32 = 64.0;
/// Quantization step of positions and velocities (world units, units/s).
pub const POS_STEP: f32 = 1.0 / POS_SCALE as f32;
/// Quantization step of angles, radians (one 65536th of a turn).
pub const AIM_STEP: f32 = (TAU / AIM_TURN) as f32;
/// Size bound of an encoded [`Message::State`] in the built-in arena; see the
/// module documentation for the exact conditions.
pub const STATE_MAX_BYTES: usize = 24;
/// The value sent in `Hit`'s retired damage byte (see "Retired fields" above):
/// any value but 0, which receivers reject.
pub const HIT_DAMAGE_BYTE: u8 = 1;

/// Position and velocity fixed-point scale: 1/8 unit.
const POS_SCALE: f64 = 8.0;
/// Offset added to a position axis before quantizing, so the margin below an
/// arena starting at 0 stays non-negative.
const POS_OFFSET: f64 = BOUNDS_MARGIN as f64;
/// Largest quantized position axis: keeps the varint at 3 bytes.
const POS_Q_MAX: u32 = (1 << 21) - 1;
/// Quantized angle units per turn.
const AIM_TURN: f64 = 65536.0;
/// Largest `sent_at` in milliseconds.
const MS_MAX: f64 = u32::MAX as f64;

/// A player's stable identity on the network (random, chosen by the client;
/// survives reconnects; not the socket id).
pub type NetId = u64;

/// One game message between two peers.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// Events channel / relay: who the sender is. Sent whenever a route to a
    /// peer opens.
    Hello {
        /// The sender's network identity.
        id: NetId,
        /// Display name: 1..=[`MAX_NAME_CHARS`] characters, not blank, no
        /// control characters.
        name: String,
        /// Colour choice (a palette index; any value).
        color: u8,
    },
    /// State channel: the sender's own avatar.
    State(PlayerState),
    /// Events channel: a reliable game event with its sequence number in
    /// the sender → `to` stream (starts at 1; see `net::reliable`).
    Event {
        /// The receiver this stream is for (others ignore it: a relay may
        /// broadcast).
        to: NetId,
        /// Sequence number in the stream, from 1.
        seq: u32,
        /// The event.
        event: GameEvent,
    },
    /// Cumulative acknowledgement: every `Event` with `seq <= upto` has been
    /// received.
    Ack {
        /// The sender of the acknowledged stream.
        to: NetId,
        /// The acknowledging receiver's session nonce.
        session: u32,
        /// Highest sequence number received without a gap.
        upto: u32,
    },
    /// "I expect `next` from you": sent by a receiver whenever a link to the
    /// sender (re)opens, so the sender resends (or renumbers) what is missing.
    Resume {
        /// The sender of the stream.
        to: NetId,
        /// The receiver's session nonce (new when it forgot the sender).
        session: u32,
        /// Next sequence number expected.
        next: u32,
    },
    /// Liveness + RTT + clock offset. `t` is the sender's clock in seconds.
    Ping {
        /// Matches the answer to the question.
        nonce: u32,
        /// Sender's clock, seconds (finite, `>= 0`).
        t: f64,
    },
    /// Answer to `Ping`: echoes `nonce` and `t_ping`, adds the answerer's
    /// clock `t_remote`.
    Pong {
        /// The ping's nonce.
        nonce: u32,
        /// The ping's `t`, echoed exactly.
        t_ping: f64,
        /// The answerer's clock when answering, seconds (finite, `>= 0`).
        t_remote: f64,
    },
    /// The sender is leaving the room (sent on every route before closing,
    /// so peers know at once, even through a core-only server).
    Bye,
}

impl Message {
    /// Whether the message needs the reliable path (events channel with
    /// sequence numbers and acks, or relay): `Hello`, `Event`, `Ack` and `Resume`.
    /// `State`, `Ping` and `Pong` are fire-and-forget.
    pub fn is_reliable(&self) -> bool {
        match self {
            Message::Hello { .. }
            | Message::Event { .. }
            | Message::Ack { .. }
            | Message::Resume { .. }
            | Message::Bye => true,
            Message::State(_) | Message::Ping { .. } | Message::Pong { .. } => false,
        }
    }
}

/// The sender's own avatar, as sent on the state channel.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlayerState {
    /// Sequence number; wraps at `u16::MAX`.
    pub seq: u16,
    /// Sender's clock, seconds (`>= 0`, finite; millisecond resolution on the
    /// wire).
    pub sent_at: f64,
    /// Position, world units.
    pub pos: Vec2,
    /// Velocity, world units per second (at most [`MAX_SPEED`]).
    pub vel: Vec2,
    /// Aim, radians: any value on input, decoded in `[-π, π)`.
    pub aim: f32,
    /// Hit points.
    pub hp: u8,
    /// Whether the avatar is alive.
    pub alive: bool,
    /// Respawn counter (wraps); a change means a teleport.
    pub spawn: u8,
    /// Kills this match.
    pub kills: u16,
    /// Deaths this match.
    pub deaths: u16,
}

impl PlayerState {
    /// The sync layer's view of this state (velocity always included).
    pub fn to_snapshot(&self) -> Snapshot {
        Snapshot {
            seq: self.seq,
            sent_at: self.sent_at,
            pos: self.pos,
            vel: Some(self.vel),
            aim: self.aim,
            spawn: self.spawn,
        }
    }
}

/// A reliable game event, carried by [`Message::Event`].
#[derive(Debug, Clone, PartialEq)]
pub enum GameEvent {
    /// The sender fired a projectile.
    Fire {
        /// Muzzle position, world units.
        pos: Vec2,
        /// Direction, radians (decoded in `[-π, π)`).
        aim: f32,
    },
    /// The sender (the victim: victim authority) was hit. Its hit points
    /// travel in its [`Message::State`].
    Hit {
        /// Who was hit.
        victim: NetId,
    },
    /// `victim` was killed by `by`.
    Killed {
        /// Who died.
        victim: NetId,
        /// Who scored the kill.
        by: NetId,
    },
    /// A chat line: at most [`MAX_CHAT_CHARS`] characters, no control
    /// characters.
    Chat(String),
}

/// What "in range" means for positions: the arena rectangle, plus
/// [`BOUNDS_MARGIN`] on every side.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bounds {
    /// Lowest corner, world units.
    pub min: Vec2,
    /// Highest corner, world units.
    pub max: Vec2,
}

impl Bounds {
    /// The rectangle spanned by two corners (in either order), e.g.
    /// `Bounds::new(Vec2::ZERO, map.size)`.
    pub fn new(min: Vec2, max: Vec2) -> Bounds {
        Bounds {
            min: min.min(max),
            max: min.max(max),
        }
    }

    /// Whether `p` is finite and within the rectangle grown by
    /// [`BOUNDS_MARGIN`] (edges included).
    pub fn contains(&self, p: Vec2) -> bool {
        let m = Vec2::splat(BOUNDS_MARGIN);
        p.is_finite() && p.cmpge(self.min - m).all() && p.cmple(self.max + m).all()
    }
}

/// Why a received message was dropped.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecodeError {
    /// No bytes at all.
    #[error("empty message")]
    Empty,
    /// More than [`MAX_MESSAGE_BYTES`] bytes (the length is given).
    #[error("message of {0} bytes exceeds the limit of {MAX_MESSAGE_BYTES}")]
    TooLong(usize),
    /// The first byte is not [`VERSION`] (the byte found is given).
    #[error("unsupported protocol version {0} (expected {VERSION})")]
    Version(u8),
    /// postcard could not read the body (its message is given).
    #[error("malformed message: {0}")]
    Malformed(String),
    /// A field decoded but its value is not acceptable (the field is named).
    #[error("field `{0}` out of range")]
    OutOfRange(&'static str),
    /// Bytes left over after a complete message.
    #[error("trailing bytes after the message")]
    TrailingBytes,
}

impl DecodeError {
    /// A short, stable label for counters and logs: `"empty"`, `"too_long"`,
    /// `"version"`, `"malformed"`, `"out_of_range"` or `"trailing"`.
    pub fn reason(&self) -> &'static str {
        match self {
            DecodeError::Empty => "empty",
            DecodeError::TooLong(_) => "too_long",
            DecodeError::Version(_) => "version",
            DecodeError::Malformed(_) => "malformed",
            DecodeError::OutOfRange(_) => "out_of_range",
            DecodeError::TrailingBytes => "trailing",
        }
    }
}

/// Encode a message: [`VERSION`] then the compact body (see the module
/// documentation for clamping and truncation). Never fails.
pub fn encode(msg: &Message) -> Vec<u8> {
    let wire = Wire::from_message(msg);
    let mut out = Vec::with_capacity(32);
    out.push(VERSION);
    postcard::to_extend(&wire, out).unwrap_or_else(|_| vec![VERSION])
}

/// Decode and validate one received message against the arena `bounds`.
/// Never panics; see the module documentation for what is rejected.
pub fn decode(bytes: &[u8], bounds: &Bounds) -> Result<Message, DecodeError> {
    let (&version, body) = bytes.split_first().ok_or(DecodeError::Empty)?;
    if bytes.len() > MAX_MESSAGE_BYTES {
        return Err(DecodeError::TooLong(bytes.len()));
    }
    if version != VERSION {
        return Err(DecodeError::Version(version));
    }
    let (wire, rest) = postcard::take_from_bytes::<Wire<'_>>(body)
        .map_err(|e| DecodeError::Malformed(e.to_string()))?;
    if !rest.is_empty() {
        return Err(DecodeError::TrailingBytes);
    }
    wire.into_message(bounds)
}

// ---------------------------------------------------------------------------
// Wire form (private). Field order is the wire order: changing it, or the
// variant order, is a protocol change and needs a new VERSION.

#[derive(Serialize, Deserialize)]
enum Wire<'a> {
    Hello {
        #[serde(with = "postcard::fixint::le")]
        id: u64,
        name: Cow<'a, str>,
        color: u8,
    },
    State(WireState),
    Event {
        #[serde(with = "postcard::fixint::le")]
        to: u64,
        seq: u32,
        event: WireEvent<'a>,
    },
    Ack {
        #[serde(with = "postcard::fixint::le")]
        to: u64,
        #[serde(with = "postcard::fixint::le")]
        session: u32,
        upto: u32,
    },
    Ping {
        nonce: u32,
        t: f64,
    },
    Pong {
        nonce: u32,
        t_ping: f64,
        t_remote: f64,
    },
    Resume {
        #[serde(with = "postcard::fixint::le")]
        to: u64,
        #[serde(with = "postcard::fixint::le")]
        session: u32,
        next: u32,
    },
    Bye,
}

#[derive(Serialize, Deserialize)]
struct WireState {
    #[serde(with = "postcard::fixint::le")]
    seq: u16,
    #[serde(with = "postcard::fixint::le")]
    sent_ms: u32,
    pos: WirePos,
    vel: WireVel,
    #[serde(with = "postcard::fixint::le")]
    aim: u16,
    hp: u8,
    spawn: u8,
    /// `kills << 1 | alive`.
    kills_alive: u32,
    deaths: u16,
}

#[derive(Serialize, Deserialize)]
enum WireEvent<'a> {
    Fire {
        pos: WirePos,
        #[serde(with = "postcard::fixint::le")]
        aim: u16,
    },
    Hit {
        #[serde(with = "postcard::fixint::le")]
        victim: u64,
        /// Retired: [`HIT_DAMAGE_BYTE`] on send, not 0 on receipt.
        damage: u8,
    },
    Killed {
        #[serde(with = "postcard::fixint::le")]
        victim: u64,
        #[serde(with = "postcard::fixint::le")]
        by: u64,
    },
    /// Kind 3, retired (was `Respawn`): never sent, rejected on receipt.
    Retired3 {
        pos: WirePos,
    },
    Chat(Cow<'a, str>),
}

/// Position, `round((axis + 64) * 8)` per axis.
#[derive(Serialize, Deserialize)]
struct WirePos {
    x: u32,
    y: u32,
}

/// Velocity, `round(axis * 8)` per axis.
#[derive(Serialize, Deserialize)]
struct WireVel {
    x: i32,
    y: i32,
}

impl<'a> Wire<'a> {
    fn from_message(msg: &'a Message) -> Wire<'a> {
        match msg {
            Message::Hello { id, name, color } => Wire::Hello {
                id: *id,
                name: Cow::Borrowed(truncate(name, MAX_NAME_CHARS, usize::MAX)),
                color: *color,
            },
            Message::State(s) => Wire::State(WireState {
                seq: s.seq,
                sent_ms: quantize_ms(s.sent_at),
                pos: WirePos::quantize(s.pos),
                vel: WireVel::quantize(s.vel),
                aim: quantize_aim(s.aim),
                hp: s.hp,
                spawn: s.spawn,
                kills_alive: (u32::from(s.kills) << 1) | u32::from(s.alive),
                deaths: s.deaths,
            }),
            Message::Event { to, seq, event } => Wire::Event {
                to: *to,
                seq: *seq,
                event: WireEvent::from_event(event),
            },
            Message::Ack { to, session, upto } => Wire::Ack {
                to: *to,
                session: *session,
                upto: *upto,
            },
            Message::Resume { to, session, next } => Wire::Resume {
                to: *to,
                session: *session,
                next: *next,
            },
            Message::Bye => Wire::Bye,
            Message::Ping { nonce, t } => Wire::Ping {
                nonce: *nonce,
                t: wire_time(*t),
            },
            Message::Pong {
                nonce,
                t_ping,
                t_remote,
            } => Wire::Pong {
                nonce: *nonce,
                t_ping: wire_time(*t_ping),
                t_remote: wire_time(*t_remote),
            },
        }
    }

    fn into_message(self, bounds: &Bounds) -> Result<Message, DecodeError> {
        Ok(match self {
            Wire::Hello { id, name, color } => {
                check_name(&name)?;
                Message::Hello {
                    id,
                    name: name.into_owned(),
                    color,
                }
            }
            Wire::State(s) => {
                let kills = u16::try_from(s.kills_alive >> 1)
                    .map_err(|_| DecodeError::OutOfRange("kills"))?;
                Message::State(PlayerState {
                    seq: s.seq,
                    sent_at: f64::from(s.sent_ms) / 1000.0,
                    pos: s.pos.decode(bounds)?,
                    vel: s.vel.decode()?,
                    aim: dequantize_aim(s.aim),
                    hp: s.hp,
                    alive: s.kills_alive & 1 == 1,
                    spawn: s.spawn,
                    kills,
                    deaths: s.deaths,
                })
            }
            Wire::Event { to, seq, event } => {
                if seq == 0 {
                    return Err(DecodeError::OutOfRange("seq"));
                }
                Message::Event {
                    to,
                    seq,
                    event: event.into_event(bounds)?,
                }
            }
            Wire::Ack { to, session, upto } => Message::Ack { to, session, upto },
            Wire::Resume { to, session, next } => {
                if next == 0 {
                    return Err(DecodeError::OutOfRange("next"));
                }
                Message::Resume { to, session, next }
            }
            Wire::Bye => Message::Bye,
            Wire::Ping { nonce, t } => Message::Ping {
                nonce,
                t: check_time(t, "t")?,
            },
            Wire::Pong {
                nonce,
                t_ping,
                t_remote,
            } => Message::Pong {
                nonce,
                t_ping: check_time(t_ping, "t_ping")?,
                t_remote: check_time(t_remote, "t_remote")?,
            },
        })
    }
}

impl<'a> WireEvent<'a> {
    fn from_event(event: &'a GameEvent) -> WireEvent<'a> {
        match event {
            GameEvent::Fire { pos, aim } => WireEvent::Fire {
                pos: WirePos::quantize(*pos),
                aim: quantize_aim(*aim),
            },
            GameEvent::Hit { victim } => WireEvent::Hit {
                victim: *victim,
                damage: HIT_DAMAGE_BYTE,
            },
            GameEvent::Killed { victim, by } => WireEvent::Killed {
                victim: *victim,
                by: *by,
            },
            GameEvent::Chat(text) => WireEvent::Chat(Cow::Borrowed(truncate(
                text,
                MAX_CHAT_CHARS,
                MAX_CHAT_BYTES,
            ))),
        }
    }

    fn into_event(self, bounds: &Bounds) -> Result<GameEvent, DecodeError> {
        Ok(match self {
            WireEvent::Fire { pos, aim } => GameEvent::Fire {
                pos: pos.decode(bounds)?,
                aim: dequantize_aim(aim),
            },
            WireEvent::Hit { victim, damage } => {
                if damage == 0 {
                    return Err(DecodeError::OutOfRange("damage"));
                }
                GameEvent::Hit { victim }
            }
            WireEvent::Killed { victim, by } => GameEvent::Killed { victim, by },
            WireEvent::Retired3 { .. } => return Err(DecodeError::OutOfRange("event")),
            WireEvent::Chat(text) => {
                let too_long = text.len() > MAX_CHAT_BYTES || text.chars().count() > MAX_CHAT_CHARS;
                if too_long || text.chars().any(char::is_control) {
                    return Err(DecodeError::OutOfRange("chat"));
                }
                GameEvent::Chat(text.into_owned())
            }
        })
    }
}

impl WirePos {
    fn quantize(p: Vec2) -> WirePos {
        WirePos {
            x: quantize_pos_axis(p.x),
            y: quantize_pos_axis(p.y),
        }
    }

    fn decode(&self, bounds: &Bounds) -> Result<Vec2, DecodeError> {
        let p = Vec2::new(dequantize_pos_axis(self.x), dequantize_pos_axis(self.y));
        if bounds.contains(p) {
            Ok(p)
        } else {
            Err(DecodeError::OutOfRange("pos"))
        }
    }
}

impl WireVel {
    fn quantize(v: Vec2) -> WireVel {
        let v = if v.is_finite() { v } else { Vec2::ZERO };
        let v = v.clamp_length_max(MAX_SPEED);
        // |axis| <= MAX_SPEED * 8 = 8000: the casts cannot saturate.
        WireVel {
            x: (f64::from(v.x) * POS_SCALE).round() as i32,
            y: (f64::from(v.y) * POS_SCALE).round() as i32,
        }
    }

    fn decode(&self) -> Result<Vec2, DecodeError> {
        let v = Vec2::new(
            (f64::from(self.x) / POS_SCALE) as f32,
            (f64::from(self.y) / POS_SCALE) as f32,
        );
        // Rounding each axis by up to half a step can lengthen a vector at the
        // cap by up to STEP/2 * sqrt(2) < STEP.
        if v.length() <= MAX_SPEED + POS_STEP {
            Ok(v)
        } else {
            Err(DecodeError::OutOfRange("vel"))
        }
    }
}

fn quantize_pos_axis(x: f32) -> u32 {
    let x = if x.is_nan() { 0.0 } else { f64::from(x) };
    ((x + POS_OFFSET) * POS_SCALE)
        .round()
        .clamp(0.0, f64::from(POS_Q_MAX)) as u32
}

fn dequantize_pos_axis(q: u32) -> f32 {
    (f64::from(q) / POS_SCALE - POS_OFFSET) as f32
}

/// Angle to turns in 1/65536, wrapped: any finite angle, NaN/∞ → 0.
fn quantize_aim(a: f32) -> u16 {
    if !a.is_finite() {
        return 0;
    }
    let turns = f64::from(a) / TAU;
    let frac = turns - turns.floor(); // [0, 1]; 1.0 possible by rounding
    ((frac * AIM_TURN).round() as u32 & 0xFFFF) as u16
}

/// Turns in 1/65536 to radians in `[-π, π)`.
fn dequantize_aim(q: u16) -> f32 {
    (f64::from(q as i16) * TAU / AIM_TURN) as f32
}

fn quantize_ms(t: f64) -> u32 {
    if t.is_nan() {
        return 0;
    }
    (t * 1000.0).round().clamp(0.0, MS_MAX) as u32
}

/// A ping/pong clock made acceptable to receivers.
fn wire_time(t: f64) -> f64 {
    if t.is_nan() {
        0.0
    } else {
        t.clamp(0.0, f64::MAX)
    }
}

fn check_time(t: f64, field: &'static str) -> Result<f64, DecodeError> {
    if t.is_finite() && t >= 0.0 {
        Ok(t)
    } else {
        Err(DecodeError::OutOfRange(field))
    }
}

fn check_name(name: &str) -> Result<(), DecodeError> {
    let bad = name.trim().is_empty()
        || name.chars().count() > MAX_NAME_CHARS
        || name.chars().any(char::is_control);
    if bad {
        Err(DecodeError::OutOfRange("name"))
    } else {
        Ok(())
    }
}

/// The longest prefix of `s` with at most `max_chars` characters and
/// `max_bytes` bytes (on a character boundary).
fn truncate(s: &str, max_chars: usize, max_bytes: usize) -> &str {
    let mut end = 0;
    for (i, (at, c)) in s.char_indices().enumerate() {
        let next = at + c.len_utf8();
        if i >= max_chars || next > max_bytes {
            break;
        }
        end = next;
    }
    s.get(..end).unwrap_or_default()
}

#[cfg(test)]
mod tests;
