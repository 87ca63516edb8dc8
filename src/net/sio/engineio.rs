//! engine.io v4 packets over WebSocket: one packet per WebSocket message.
//!
//! A text message is a packet type digit followed by its data (`0{...}`
//! open, `1` close, `2` ping, `3` pong, `4...` message, `5` upgrade, `6`
//! noop); a binary message is a message packet whose data is the raw bytes
//! (engine.io v4 writes no type byte on WebSocket; the `b` + base64 form is
//! for HTTP long-polling, which this client never uses). Owns only the
//! framing and the open handshake; it keeps no state.

use std::time::Duration;

use serde_json::{Map, Value, json};

use super::{DecodeError, Frame};

/// The engine.io protocol version this module speaks (`EIO=4` in the URL).
pub const PROTOCOL: u8 = 4;

/// The `maxPayload` assumed when an open packet has none (engine.io's default).
pub const DEFAULT_MAX_PAYLOAD: u64 = 1_000_000;

/// The open packet's JSON: the server's session and heartbeat settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handshake {
    /// The engine.io session id (not the Socket.IO socket id others see).
    pub sid: String,
    /// Transports the session could be upgraded to (empty on WebSocket).
    pub upgrades: Vec<String>,
    /// How often the server pings.
    pub ping_interval: Duration,
    /// How long the server waits for our pong (and we for its next ping
    /// after `ping_interval`) before the connection counts as dead.
    pub ping_timeout: Duration,
    /// The largest message the server accepts, in bytes.
    pub max_payload: u64,
}

impl Handshake {
    /// Parses the open packet's JSON. `sid`, `pingInterval` and
    /// `pingTimeout` (milliseconds) are required; `upgrades` defaults to
    /// none and `maxPayload` to [`DEFAULT_MAX_PAYLOAD`].
    pub fn parse(json: &str) -> Result<Handshake, DecodeError> {
        let bad = |m: &str| DecodeError::Handshake(m.to_owned());
        let v: Value =
            serde_json::from_str(json).map_err(|e| DecodeError::Handshake(e.to_string()))?;
        let o = v.as_object().ok_or_else(|| bad("not an object"))?;
        let sid = match o.get("sid") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            _ => return Err(bad("no sid")),
        };
        let upgrades = match o.get("upgrades") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => a
                .iter()
                .map(|u| u.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| bad("upgrades are not strings"))?,
            Some(_) => return Err(bad("upgrades is not an array")),
        };
        let millis = |key: &str| {
            o.get(key)
                .and_then(Value::as_u64)
                .map(Duration::from_millis)
                .ok_or_else(|| DecodeError::Handshake(format!("no {key} in milliseconds")))
        };
        let max_payload = match o.get("maxPayload") {
            None | Some(Value::Null) => DEFAULT_MAX_PAYLOAD,
            Some(v) => v.as_u64().ok_or_else(|| bad("maxPayload is not a size"))?,
        };
        Ok(Handshake {
            sid,
            upgrades,
            ping_interval: millis("pingInterval")?,
            ping_timeout: millis("pingTimeout")?,
            max_payload,
        })
    }

    /// The JSON a server sends (for tests and fakes).
    pub fn to_json(&self) -> String {
        let millis = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        let mut o = Map::new();
        o.insert("sid".into(), json!(self.sid));
        o.insert("upgrades".into(), json!(self.upgrades));
        o.insert("pingInterval".into(), json!(millis(self.ping_interval)));
        o.insert("pingTimeout".into(), json!(millis(self.ping_timeout)));
        o.insert("maxPayload".into(), json!(self.max_payload));
        Value::Object(o).to_string()
    }
}

/// One engine.io packet: exactly one WebSocket message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    /// `0` + handshake JSON (server → client, first message).
    Open(Handshake),
    /// `1`: the session ends.
    Close,
    /// `2` + optional data (`probe` during a transport upgrade).
    Ping(String),
    /// `3` + the ping's data.
    Pong(String),
    /// `4` + text: one Socket.IO packet.
    Message(String),
    /// A binary WebSocket message: one Socket.IO binary attachment.
    Binary(Vec<u8>),
    /// `5`: completes a transport upgrade (polling → WebSocket).
    Upgrade,
    /// `6`: nothing (ends a pending poll during an upgrade).
    Noop,
}

impl Packet {
    /// Decodes one received WebSocket message no larger than `max` bytes.
    pub fn decode(frame: Frame, max: usize) -> Result<Packet, DecodeError> {
        if frame.len() > max {
            return Err(DecodeError::TooLarge {
                len: frame.len(),
                max,
            });
        }
        let text = match frame {
            Frame::Binary(b) => return Ok(Packet::Binary(b)),
            Frame::Text(t) => t,
        };
        let first = text.chars().next().ok_or(DecodeError::Empty)?;
        // The type is one ASCII digit, so the data starts at byte 1.
        let data = || text.get(1..).unwrap_or_default();
        let empty = |p: Packet| {
            if data().is_empty() {
                Ok(p)
            } else {
                Err(DecodeError::Payload("this packet type carries no data"))
            }
        };
        match first {
            '0' => Handshake::parse(data()).map(Packet::Open),
            '1' => empty(Packet::Close),
            '2' => Ok(Packet::Ping(data().to_owned())),
            '3' => Ok(Packet::Pong(data().to_owned())),
            '4' => Ok(Packet::Message(data().to_owned())),
            '5' => empty(Packet::Upgrade),
            '6' => empty(Packet::Noop),
            c => Err(DecodeError::PacketType(c)),
        }
    }

    /// The WebSocket message that carries this packet.
    pub fn encode(&self) -> Frame {
        Frame::Text(match self {
            Packet::Open(h) => format!("0{}", h.to_json()),
            Packet::Close => "1".to_owned(),
            Packet::Ping(d) => format!("2{d}"),
            Packet::Pong(d) => format!("3{d}"),
            Packet::Message(m) => format!("4{m}"),
            Packet::Binary(b) => return Frame::Binary(b.clone()),
            Packet::Upgrade => "5".to_owned(),
            Packet::Noop => "6".to_owned(),
        })
    }
}
