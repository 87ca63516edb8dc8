//! Socket.IO v5 packets: the text inside an engine.io message, and the binary
//! attachments that follow a binary packet.
//!
//! A packet is written `<type>[<attachments>-][<namespace>,][<ack id>][<JSON>]`:
//! the type digit (`0` CONNECT, `1` DISCONNECT, `2` EVENT, `3` ACK, `4`
//! CONNECT_ERROR, `5` BINARY_EVENT, `6` BINARY_ACK), for the binary kinds the
//! number of attachments and a dash, the namespace when it is not `/`, the
//! ack id, then the JSON payload. Each attachment arrives afterwards as its
//! own binary engine.io message, and the payload names it with a placeholder
//! `{"_placeholder": true, "num": N}`. Owns the format and the reassembly of
//! attachments ([`Decoder`]); it does not know what any event means.

use serde_json::Value;

use super::{DecodeError, Frame, engineio};

/// Most attachments one packet may announce (the game sends none: its data
/// travels as base64 strings, `docs/PROTOCOL.md`).
pub const MAX_ATTACHMENTS: usize = 64;

/// The kind of a Socket.IO packet (its type digit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketKind {
    /// `0`: client → server asks to join a namespace (optional `auth`
    /// object); server → client accepts with `{"sid": ...}`.
    Connect,
    /// `1`: leaves (either side) the namespace.
    Disconnect,
    /// `2`: an event `["name", args...]`, with an ack id when an answer is wanted.
    Event,
    /// `3`: the answer `[args...]` to the event with the same ack id.
    Ack,
    /// `4`: server → client refuses the namespace: `{"message": ..., "data"?: ...}`.
    ConnectError,
    /// `5`: an event whose arguments hold binary attachments.
    BinaryEvent,
    /// `6`: an ack whose arguments hold binary attachments.
    BinaryAck,
}

impl PacketKind {
    /// Every kind, in type-digit order.
    pub const ALL: [PacketKind; 7] = [
        PacketKind::Connect,
        PacketKind::Disconnect,
        PacketKind::Event,
        PacketKind::Ack,
        PacketKind::ConnectError,
        PacketKind::BinaryEvent,
        PacketKind::BinaryAck,
    ];

    /// The type digit.
    pub fn digit(self) -> char {
        match self {
            PacketKind::Connect => '0',
            PacketKind::Disconnect => '1',
            PacketKind::Event => '2',
            PacketKind::Ack => '3',
            PacketKind::ConnectError => '4',
            PacketKind::BinaryEvent => '5',
            PacketKind::BinaryAck => '6',
        }
    }

    fn from_byte(b: u8) -> Option<PacketKind> {
        PacketKind::ALL
            .into_iter()
            .find(|k| k.digit() as u32 == u32::from(b))
    }

    /// Whether attachments follow packets of this kind.
    pub fn is_binary(self) -> bool {
        matches!(self, PacketKind::BinaryEvent | PacketKind::BinaryAck)
    }
}

/// One Socket.IO packet, with its attachments once they have all arrived.
#[derive(Debug, Clone, PartialEq)]
pub struct Packet {
    /// What it is.
    pub kind: PacketKind,
    /// Its namespace: `/` or a name starting with `/` (without `,`).
    pub nsp: String,
    /// The ack id (events that want an answer, and acks).
    pub id: Option<u64>,
    /// The JSON payload, placeholders included.
    pub data: Option<Value>,
    /// The binary attachments, in placeholder order (binary kinds only).
    pub attachments: Vec<Vec<u8>>,
}

impl Packet {
    /// CONNECT to `nsp` with an optional `auth` object.
    pub fn connect(nsp: &str, auth: Option<Value>) -> Packet {
        Packet::new(PacketKind::Connect, nsp, None, auth)
    }

    /// DISCONNECT from `nsp`.
    pub fn disconnect(nsp: &str) -> Packet {
        Packet::new(PacketKind::Disconnect, nsp, None, None)
    }

    /// EVENT `name` with `args`, asking for an ack when `id` is given.
    pub fn event(nsp: &str, name: &str, args: Vec<Value>, id: Option<u64>) -> Packet {
        let mut data = Vec::with_capacity(args.len() + 1);
        data.push(Value::String(name.to_owned()));
        data.extend(args);
        Packet::new(PacketKind::Event, nsp, id, Some(Value::Array(data)))
    }

    /// ACK `id` with `args`.
    pub fn ack(nsp: &str, id: u64, args: Vec<Value>) -> Packet {
        Packet::new(PacketKind::Ack, nsp, Some(id), Some(Value::Array(args)))
    }

    /// A packet of any kind (no attachments).
    pub fn new(kind: PacketKind, nsp: &str, id: Option<u64>, data: Option<Value>) -> Packet {
        Packet {
            kind,
            nsp: nsp.to_owned(),
            id,
            data,
            attachments: Vec::new(),
        }
    }

    /// The packet as engine.io packets: its text, then one binary message
    /// per attachment (binary kinds; other kinds never carry any).
    pub fn encode(&self) -> Vec<engineio::Packet> {
        let mut text = String::new();
        text.push(self.kind.digit());
        if self.kind.is_binary() {
            text.push_str(&self.attachments.len().to_string());
            text.push('-');
        }
        if self.nsp != "/" && !self.nsp.is_empty() {
            text.push_str(&self.nsp);
            text.push(',');
        }
        if let Some(id) = self.id {
            text.push_str(&id.to_string());
        }
        if let Some(d) = &self.data {
            text.push_str(&d.to_string());
        }
        let mut out = vec![engineio::Packet::Message(text)];
        if self.kind.is_binary() {
            out.extend(
                self.attachments
                    .iter()
                    .cloned()
                    .map(engineio::Packet::Binary),
            );
        }
        out
    }

    /// The packet as WebSocket messages ([`Packet::encode`], framed).
    pub fn frames(&self) -> Vec<Frame> {
        self.encode().iter().map(engineio::Packet::encode).collect()
    }

    /// For an event: its name (the payload's first element).
    pub fn event_name(&self) -> Option<&str> {
        match (&self.kind, &self.data) {
            (PacketKind::Event | PacketKind::BinaryEvent, Some(Value::Array(a))) => {
                a.first().and_then(Value::as_str)
            }
            _ => None,
        }
    }

    /// Parses the text of one Socket.IO packet; returns it (attachments
    /// still empty) and how many attachments must follow.
    pub fn parse(text: &str) -> Result<(Packet, usize), DecodeError> {
        let bytes = text.as_bytes();
        let first = *bytes.first().ok_or(DecodeError::Empty)?;
        let kind = PacketKind::from_byte(first)
            .ok_or_else(|| DecodeError::PacketType(text.chars().next().unwrap_or('\0')))?;
        // Every separator is ASCII, so each index below is a char boundary.
        let mut i = 1;
        let attachments = if kind.is_binary() {
            let n = digits(bytes, i);
            if n == 0 || bytes.get(i + n) != Some(&b'-') {
                return Err(DecodeError::Header("no attachment count"));
            }
            let count: usize = text[i..i + n]
                .parse()
                .map_err(|_| DecodeError::Attachments("too many"))?;
            if count > MAX_ATTACHMENTS {
                return Err(DecodeError::Attachments("too many"));
            }
            i += n + 1;
            count
        } else {
            0
        };
        let nsp = if bytes.get(i) == Some(&b'/') {
            let end = bytes[i..]
                .iter()
                .position(|&b| b == b',')
                .map_or(bytes.len(), |p| i + p);
            let nsp = &text[i..end];
            i = (end + 1).min(bytes.len());
            nsp
        } else {
            "/"
        };
        let n = digits(bytes, i);
        let id = if n > 0 {
            let id = text[i..i + n]
                .parse::<u64>()
                .map_err(|_| DecodeError::Header("ack id out of range"))?;
            i += n;
            Some(id)
        } else {
            None
        };
        let rest = &text[i..];
        let data = if rest.is_empty() {
            None
        } else {
            Some(
                serde_json::from_str::<Value>(rest)
                    .map_err(|e| DecodeError::Json(e.to_string()))?,
            )
        };
        let packet = Packet::new(kind, nsp, id, data);
        packet.check_shape()?;
        Ok((packet, attachments))
    }

    /// Whether the payload and id fit the kind (what socket.io's own
    /// parser checks, plus: no ack id where none has a meaning).
    fn check_shape(&self) -> Result<(), DecodeError> {
        let no_id = |what| {
            if self.id.is_some() {
                Err(DecodeError::Header(what))
            } else {
                Ok(())
            }
        };
        match (self.kind, &self.data) {
            (PacketKind::Connect, None | Some(Value::Object(_))) => no_id("ack id on CONNECT"),
            (PacketKind::Connect, _) => Err(DecodeError::Payload("CONNECT data is not an object")),
            (PacketKind::Disconnect, None) => no_id("ack id on DISCONNECT"),
            (PacketKind::Disconnect, _) => Err(DecodeError::Payload("DISCONNECT with data")),
            (PacketKind::ConnectError, Some(Value::Object(_) | Value::String(_))) => {
                no_id("ack id on CONNECT_ERROR")
            }
            (PacketKind::ConnectError, _) => {
                Err(DecodeError::Payload("CONNECT_ERROR is not an object"))
            }
            (PacketKind::Event | PacketKind::BinaryEvent, Some(Value::Array(a))) => {
                match a.first() {
                    Some(Value::String(_)) => Ok(()),
                    _ => Err(DecodeError::Payload("event without a name")),
                }
            }
            (PacketKind::Event | PacketKind::BinaryEvent, _) => {
                Err(DecodeError::Payload("event is not an array"))
            }
            (PacketKind::Ack | PacketKind::BinaryAck, Some(Value::Array(_))) => match self.id {
                Some(_) => Ok(()),
                None => Err(DecodeError::Header("ack without an id")),
            },
            (PacketKind::Ack | PacketKind::BinaryAck, _) => {
                Err(DecodeError::Payload("ack is not an array"))
            }
        }
    }
}

/// How many ASCII digits start at `bytes[i]`.
fn digits(bytes: &[u8], i: usize) -> usize {
    bytes
        .get(i..)
        .map_or(0, |b| b.iter().take_while(|c| c.is_ascii_digit()).count())
}

/// If `v` is an attachment placeholder `{"_placeholder": true, "num": N}`, its `N`.
pub fn placeholder(v: &Value) -> Option<u64> {
    let o = v.as_object()?;
    if o.get("_placeholder") != Some(&Value::Bool(true)) {
        return None;
    }
    o.get("num").and_then(Value::as_u64)
}

/// The placeholder JSON for attachment `num`.
pub fn placeholder_value(num: usize) -> Value {
    serde_json::json!({"_placeholder": true, "num": num})
}

/// Checks every placeholder in `v` names one of `count` attachments.
fn check_placeholders(v: &Value, count: usize) -> Result<(), DecodeError> {
    match v {
        Value::Object(o) if o.get("_placeholder") == Some(&Value::Bool(true)) => {
            match placeholder(v) {
                Some(n) if n < count as u64 => Ok(()),
                _ => Err(DecodeError::Attachments("placeholder names no attachment")),
            }
        }
        Value::Object(o) => o.values().try_for_each(|x| check_placeholders(x, count)),
        Value::Array(a) => a.iter().try_for_each(|x| check_placeholders(x, count)),
        _ => Ok(()),
    }
}

/// Turns received engine.io messages into whole Socket.IO packets, holding
/// a binary packet until its attachments have arrived.
#[derive(Debug)]
pub struct Decoder {
    /// A binary packet waiting for attachments, and how many in all.
    pending: Option<(Packet, usize)>,
    /// Most bytes of attachments one packet may carry.
    max_bytes: usize,
}

impl Decoder {
    /// A decoder whose packets carry at most `max_bytes` of attachments.
    pub fn new(max_bytes: usize) -> Decoder {
        Decoder {
            pending: None,
            max_bytes,
        }
    }

    /// Whether a binary packet is waiting for attachments.
    pub fn is_waiting(&self) -> bool {
        self.pending.is_some()
    }

    /// A received text message (an engine.io message packet's data).
    /// `Ok(None)`: a binary packet, now waiting for its attachments.
    pub fn text(&mut self, text: &str) -> Result<Option<Packet>, DecodeError> {
        if self.pending.take().is_some() {
            return Err(DecodeError::Attachments(
                "a text packet arrived while attachments were awaited",
            ));
        }
        let (packet, count) = Packet::parse(text)?;
        if count == 0 {
            return finish(packet);
        }
        self.pending = Some((packet, count));
        Ok(None)
    }

    /// A received binary message: the next attachment of the waiting packet.
    pub fn binary(&mut self, bytes: Vec<u8>) -> Result<Option<Packet>, DecodeError> {
        let Some((mut packet, count)) = self.pending.take() else {
            return Err(DecodeError::Attachments("binary message without a packet"));
        };
        let len = packet.attachments.iter().map(Vec::len).sum::<usize>() + bytes.len();
        if len > self.max_bytes {
            return Err(DecodeError::TooLarge {
                len,
                max: self.max_bytes,
            });
        }
        packet.attachments.push(bytes);
        if packet.attachments.len() < count {
            self.pending = Some((packet, count));
            return Ok(None);
        }
        finish(packet)
    }
}

/// A packet whose attachments are all there: the placeholders of a binary
/// packet must fit them (other packets' JSON is only data, whatever it holds).
fn finish(packet: Packet) -> Result<Option<Packet>, DecodeError> {
    if let (true, Some(d)) = (packet.kind.is_binary(), &packet.data) {
        check_placeholders(d, packet.attachments.len())?;
    }
    Ok(Some(packet))
}
