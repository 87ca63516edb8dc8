//! The boundary between the browser shell and the page's JS plugin
//! (`web/net.js`): what the shell asks of the page ([`Page`]) and what the
//! page reports ([`PageEvent`]), with the byte format the plugin writes
//! events in (no wasm-bindgen: only numbers and wasm memory cross).
//!
//! An event is `kind: u8`, `generation: u32` (little-endian; 0 for the
//! WebSocket), then its payload:
//!
//! | kind | event | payload |
//! |---:|---|---|
//! | 1 | WebSocket open | — |
//! | 2 | WebSocket text message | UTF-8 |
//! | 3 | WebSocket binary message | bytes |
//! | 4 | WebSocket closed or failed | why, UTF-8 |
//! | 5 | local description or candidate | PROTOCOL.md's signal JSON: `{"type", "sdp"}`, or `{"candidate": RTCIceCandidateInit}` (its `candidate` empty at the end) |
//! | 6 | both channels open | JSON `{"local", "localAddr", "remote", "remoteAddr"}` of the selected pair (`host`, `srflx`, `prflx`, `relay`) |
//! | 7 | data-channel message | bytes |
//! | 8 | peer connection failed or closed | why, UTF-8 |

use serde::Deserialize;

use crate::net::core::Channel;
use crate::net::route::{CandidateKind, CandidatePair};
use crate::net::sio::Frame;

/// What the shell asks the page to do. Every call returns at once; what
/// follows comes back as [`PageEvent`]s. A call about a connection the page
/// no longer has is ignored.
pub trait Page {
    /// Opens the WebSocket to `url` (one at a time: an open one is closed first).
    fn ws_open(&mut self, url: &str);
    /// Sends a message on the WebSocket.
    fn ws_send(&mut self, frame: &Frame);
    /// Closes the WebSocket.
    fn ws_close(&mut self);
    /// Creates peer connection `generation` with `config` (an
    /// `RTCConfiguration` as JSON); the offerer creates the `state` and
    /// `events` channels (docs/PROTOCOL.md, section 3) and sends the offer.
    fn pc_open(&mut self, generation: u32, offerer: bool, config: &str);
    /// Applies a remote description or candidate (browser JSON).
    fn pc_signal(&mut self, generation: u32, signal: &str);
    /// Writes one message on a channel of a connection.
    fn pc_send(&mut self, generation: u32, channel: Channel, bytes: &[u8]);
    /// Closes a connection.
    fn pc_close(&mut self, generation: u32);
    /// Messages waiting to leave on a connection (congestion).
    fn pc_queued(&self, generation: u32) -> usize;
    /// Messages waiting to leave on the WebSocket.
    fn ws_queued(&self) -> usize;
    /// The oldest report not yet taken, in the byte format above.
    fn poll(&mut self) -> Option<Vec<u8>>;
}

/// What the page reports.
#[derive(Debug, Clone, PartialEq)]
pub enum PageEvent {
    /// The WebSocket opened.
    WsOpen,
    /// A WebSocket message.
    WsMessage(Frame),
    /// The WebSocket closed or could not open.
    WsClosed(String),
    /// A peer connection reported.
    Peer {
        /// Which one.
        generation: u32,
        /// What.
        report: PeerReport,
    },
}

/// What a peer connection reports.
#[derive(Debug, Clone, PartialEq)]
pub enum PeerReport {
    /// A local description or candidate to signal (browser JSON text).
    Signal(String),
    /// Both channels are open over this pair.
    Open(CandidatePair),
    /// A message on either channel.
    Message(Vec<u8>),
    /// Failed or closed, and why.
    Failed(String),
}

/// Why an event from the page could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PageError {
    /// Fewer than the 5 header bytes.
    #[error("event of {0} bytes is shorter than its header")]
    Short(usize),
    /// An unknown kind byte.
    #[error("unknown event kind {0}")]
    Kind(u8),
    /// Text that is not UTF-8.
    #[error("event kind {0} carries text that is not UTF-8")]
    Text(u8),
    /// An open report whose pair is not the documented JSON.
    #[error("open report: {0}")]
    Pair(String),
}

/// The selected candidate pair as the plugin reports it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Pair {
    local: String,
    #[serde(default)]
    local_addr: String,
    remote: String,
    #[serde(default)]
    remote_addr: String,
}

fn kind(name: &str) -> Result<CandidateKind, PageError> {
    match name {
        "host" => Ok(CandidateKind::Host),
        "srflx" => Ok(CandidateKind::Srflx),
        "prflx" => Ok(CandidateKind::Prflx),
        "relay" => Ok(CandidateKind::Relay),
        other => Err(PageError::Pair(format!("unknown candidate type {other:?}"))),
    }
}

impl PageEvent {
    /// Reads one event in the plugin's byte format (see the module doc).
    pub fn decode(b: &[u8]) -> Result<PageEvent, PageError> {
        let (&k, rest) = b.split_first().ok_or(PageError::Short(0))?;
        let Some((generation, payload)) = rest.split_first_chunk::<4>() else {
            return Err(PageError::Short(b.len()));
        };
        let generation = u32::from_le_bytes(*generation);
        let text = || {
            std::str::from_utf8(payload)
                .map(str::to_owned)
                .map_err(|_| PageError::Text(k))
        };
        let peer = |report| PageEvent::Peer { generation, report };
        Ok(match k {
            1 => PageEvent::WsOpen,
            2 => PageEvent::WsMessage(Frame::Text(text()?)),
            3 => PageEvent::WsMessage(Frame::Binary(payload.to_vec())),
            4 => PageEvent::WsClosed(text()?),
            5 => peer(PeerReport::Signal(text()?)),
            6 => {
                let p: Pair =
                    serde_json::from_slice(payload).map_err(|e| PageError::Pair(e.to_string()))?;
                let pair = CandidatePair::new(
                    (kind(&p.local)?, p.local_addr),
                    (kind(&p.remote)?, p.remote_addr),
                    &[],
                );
                peer(PeerReport::Open(pair))
            }
            7 => peer(PeerReport::Message(payload.to_vec())),
            8 => peer(PeerReport::Failed(text()?)),
            other => return Err(PageError::Kind(other)),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn ev(kind: u8, generation: u32, payload: &[u8]) -> Vec<u8> {
        let mut b = vec![kind];
        b.extend(generation.to_le_bytes());
        b.extend(payload);
        b
    }

    #[test]
    fn every_kind_decodes() {
        assert_eq!(PageEvent::decode(&ev(1, 0, b"")), Ok(PageEvent::WsOpen));
        assert_eq!(
            PageEvent::decode(&ev(2, 0, b"40")),
            Ok(PageEvent::WsMessage(Frame::Text("40".into())))
        );
        assert_eq!(
            PageEvent::decode(&ev(3, 0, &[1, 2])),
            Ok(PageEvent::WsMessage(Frame::Binary(vec![1, 2])))
        );
        assert_eq!(
            PageEvent::decode(&ev(4, 0, b"gone")),
            Ok(PageEvent::WsClosed("gone".into()))
        );
        assert_eq!(
            PageEvent::decode(&ev(5, 7, b"{}")),
            Ok(PageEvent::Peer {
                generation: 7,
                report: PeerReport::Signal("{}".into())
            })
        );
        let open = br#"{"local":"relay","localAddr":"1.2.3.4:5","remote":"host","remoteAddr":"x.local:9"}"#;
        let Ok(PageEvent::Peer {
            generation: 300,
            report: PeerReport::Open(pair),
        }) = PageEvent::decode(&ev(6, 300, open))
        else {
            panic!("not an open report");
        };
        assert!(pair.turn);
        assert_eq!(pair.remote, CandidateKind::Host);
        assert_eq!(
            PageEvent::decode(&ev(7, 1, &[9; 3])),
            Ok(PageEvent::Peer {
                generation: 1,
                report: PeerReport::Message(vec![9; 3])
            })
        );
        assert_eq!(
            PageEvent::decode(&ev(8, 1, b"ICE failed")),
            Ok(PageEvent::Peer {
                generation: 1,
                report: PeerReport::Failed("ICE failed".into())
            })
        );
    }

    #[test]
    fn bad_events_are_errors_not_panics() {
        assert_eq!(PageEvent::decode(&[]), Err(PageError::Short(0)));
        assert_eq!(PageEvent::decode(&[2, 0, 0]), Err(PageError::Short(3)));
        assert_eq!(PageEvent::decode(&ev(9, 0, b"")), Err(PageError::Kind(9)));
        assert_eq!(
            PageEvent::decode(&ev(2, 0, &[0xff])),
            Err(PageError::Text(2))
        );
        assert!(matches!(
            PageEvent::decode(&ev(6, 1, b"{\"local\":\"moon\",\"remote\":\"host\"}")),
            Err(PageError::Pair(_))
        ));
        assert!(matches!(
            PageEvent::decode(&ev(6, 1, b"nope")),
            Err(PageError::Pair(_))
        ));
    }
}
