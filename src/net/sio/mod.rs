//! A pure engine.io v4 / Socket.IO v5 client over WebSocket frames, for the
//! browser shell (no Rust Socket.IO crate runs in a browser tab without
//! wasm-bindgen; the page only hands us a raw WebSocket).
//!
//! It owns the wire formats and the client's side of both protocols:
//! [`engineio`] (the packets of one WebSocket message, the open handshake),
//! [`socketio`] (packets, namespaces, ack ids, binary attachments and their
//! placeholders) and [`Client`], a state machine that turns received frames
//! and the time into frames to send and [`Event`]s: it connects the
//! namespace (with optional `auth`), answers the server's pings, numbers and
//! times out acks, and notices a server gone silent (`pingInterval +
//! pingTimeout`).
//!
//! It must not do I/O, read a clock or depend on anything but `std` and
//! `serde_json`: the shell opens the WebSocket ([`websocket_url`]), feeds
//! [`Client::handle_frame`] and [`Client::handle_timeout`] with `now` (a
//! [`Duration`](std::time::Duration) since any origin it likes: a browser
//! tab cannot make an `Instant`), writes the [`Output::Send`] frames, closes
//! on [`Output::Close`], and reconnects (with a new `Client`) as it sees
//! fit. Game rules and the signaling events' meanings (`docs/PROTOCOL.md`)
//! belong to the caller; this module carries any event. Malformed or
//! oversized input of any kind is a [`DecodeError`], never a panic.
//!
//! ```text
//!  WebSocket ──Frame──▶ Client::handle_frame(frame, now) ──▶ poll_output():
//!  (shell)   ◀──Send─── Client::emit / emit_with_ack         Send(frame) | Close
//!                       Client::handle_timeout(now)          | Event(Connected,
//!                                                              Message, Ack, Disconnected)
//! ```

mod client;
pub mod engineio;
pub mod socketio;
#[cfg(test)]
mod tests;

use std::fmt;

pub use client::{
    AckError, AckId, Client, ClientConfig, ClientError, DisconnectReason, Event, Output, Payload,
};

/// One WebSocket message, as the shell received it or must send it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A text message (every engine.io packet but binary data).
    Text(String),
    /// A binary message: one engine.io binary message (raw bytes, no prefix
    /// over WebSocket), for Socket.IO a binary attachment.
    Binary(Vec<u8>),
}

impl Frame {
    /// The message's size in bytes.
    pub fn len(&self) -> usize {
        match self {
            Frame::Text(t) => t.len(),
            Frame::Binary(b) => b.len(),
        }
    }

    /// Whether the message is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Why a received frame was refused. The frame is dropped; the connection
/// stays up (the caller may count these, or close).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The frame (or a packet's attachments together) exceeds the limit.
    TooLarge {
        /// Its size in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// An empty text frame: no packet type.
    Empty,
    /// The first character is not a packet type of this protocol.
    PacketType(char),
    /// The engine.io open packet is not the documented JSON.
    Handshake(String),
    /// A Socket.IO packet header (attachment count, namespace, ack id) is malformed.
    Header(&'static str),
    /// The payload is not JSON.
    Json(String),
    /// The payload is JSON but not the shape its packet type needs.
    Payload(&'static str),
    /// Binary attachments that do not add up: an unexpected binary frame, a
    /// text frame while attachments were awaited, too many, or a
    /// placeholder that names none of them.
    Attachments(&'static str),
    /// A valid packet that has no place in the connection's current state
    /// (a second open, an event before the namespace is connected).
    Unexpected(&'static str),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::TooLarge { len, max } => {
                write!(f, "frame of {len} bytes exceeds the {max}-byte limit")
            }
            DecodeError::Empty => f.write_str("empty frame"),
            DecodeError::PacketType(c) => write!(f, "unknown packet type {c:?}"),
            DecodeError::Handshake(e) => write!(f, "bad engine.io handshake: {e}"),
            DecodeError::Header(e) => write!(f, "bad Socket.IO header: {e}"),
            DecodeError::Json(e) => write!(f, "payload is not JSON: {e}"),
            DecodeError::Payload(e) => write!(f, "bad payload: {e}"),
            DecodeError::Attachments(e) => write!(f, "bad binary attachments: {e}"),
            DecodeError::Unexpected(e) => write!(f, "unexpected packet: {e}"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Where Socket.IO answers for the server at `url`. Our servers answer on
/// `/socket.io/`, so a URL with a path (a reverse proxy that mounts the game
/// under `/arena/`) means `/arena/socket.io/`; rust_socketio would take the
/// path as the Engine.IO endpoint itself and adds `/socket.io/` only to a
/// bare host. A URL already ending in `socket.io`, or with a query, is kept.
pub fn socketio_url(url: &str) -> String {
    let url = url.trim();
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    if path.contains(['?', '#']) {
        return url.to_owned();
    }
    let path = path.trim_end_matches('/');
    if path.is_empty() {
        format!("{scheme}://{authority}/socket.io/")
    } else if path == "socket.io" || path.ends_with("/socket.io") {
        format!("{scheme}://{authority}/{path}/")
    } else {
        format!("{scheme}://{authority}/{path}/socket.io/")
    }
}

/// The WebSocket URL to open for the server at `url` (`http://`, `https://`,
/// `ws://` or `wss://`, as the player typed it): [`socketio_url`]'s endpoint
/// with the `ws`/`wss` scheme and the engine.io query (`EIO=4`,
/// `transport=websocket`: straight to WebSocket, no polling first).
pub fn websocket_url(url: &str) -> String {
    let endpoint = socketio_url(url);
    let endpoint = endpoint.split('#').next().unwrap_or_default();
    let (scheme, rest) = endpoint.split_once("://").unwrap_or(("http", endpoint));
    let scheme = match scheme.to_ascii_lowercase().as_str() {
        "https" | "wss" => "wss",
        _ => "ws",
    };
    let (base, query) = rest.split_once('?').unwrap_or((rest, ""));
    let mut params: Vec<&str> = query
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with("EIO=") && !p.starts_with("transport="))
        .collect();
    params.extend(["EIO=4", "transport=websocket"]);
    format!("{scheme}://{base}?{}", params.join("&"))
}
