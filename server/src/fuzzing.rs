//! The bodies of the server's fuzz targets (`fuzz/`, see the README's
//! "Fuzzing" section), kept here so that `cargo test` (`tests/fuzz_corpus.rs`)
//! replays every case of the corpus through exactly the code libFuzzer ran.
//!
//! Each function takes arbitrary bytes, runs the server's real parsing path
//! on them and panics only when an invariant of that path is broken: a panic
//! here is a finding. Not part of the server's API (hence `doc(hidden)`); it
//! owns no state and does no I/O.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Instant;

use base64::Engine;
use serde_json::Value;

use crate::config::Config;
use crate::policy::JoinPolicy;
use crate::protocol::{CODE_LEN, Signal, events, normalize_code};
use crate::signaling::{Checked, read_event};
use crate::stun::{self, Dropped};

/// The client → server events, indexed by the first byte of a
/// [`server_event`] input (modulo their number).
pub const EVENTS: [&str; 7] = [
    events::HELLO,
    events::CREATE_ROOM,
    events::JOIN_ROOM,
    events::LEAVE_ROOM,
    events::SIGNAL,
    events::RELAY,
    events::BROADCAST,
];

/// One client → server event: the first byte picks the event of [`EVENTS`],
/// the rest is its argument as the client sent it (JSON text). It goes
/// through the guard every handler uses (size, then decoding and the
/// `signal` / game `data` checks), and a `join_room` that passes through the
/// join policy of a full and of a core-only server (room-code parsing).
pub fn server_event(data: &[u8]) {
    let Some((&pick, arg)) = data.split_first() else {
        return;
    };
    let event = EVENTS[usize::from(pick) % EVENTS.len()];
    let config = Config::default();
    let max = config.max_event_bytes;
    let json =
        serde_json::from_slice::<Value>(arg).map_err(|e| format!("payload is not JSON: {e}"));
    let Some(read) = read_event(event, arg.len(), max, json) else {
        panic!("{event} is not an event the guard knows");
    };
    let checked = match read {
        Ok(c) => c,
        Err(message) => {
            assert!(!message.is_empty(), "a refusal without a message");
            return;
        }
    };
    assert!(
        arg.len() <= max || matches!(checked, Checked::LeaveRoom),
        "{event}: {} bytes passed the {max}-byte limit",
        arg.len()
    );
    match checked {
        Checked::LeaveRoom => {}
        Checked::Hello(req) => round_trip(&req),
        Checked::CreateRoom(req) => round_trip(&req),
        Checked::JoinRoom(req) => {
            let now = Instant::now();
            let ip = Some(IpAddr::V4(Ipv4Addr::LOCALHOST));
            let mut full = JoinPolicy::<u8>::new(&config);
            if let Ok(plan) = full.plan(0, ip, &req, now) {
                assert_eq!(plan.create, req.rejoin);
                assert!(
                    normalize_code(&plan.room).is_ok_and(|c| c.as_str() == plan.room),
                    "a full server planned a join on {:?}",
                    plan.room
                );
            }
            let core = Config {
                core_only: true,
                ..Config::default()
            };
            let mut core = JoinPolicy::<u8>::new(&core);
            if let Ok(plan) = core.plan(0, ip, &req, now) {
                assert_eq!(plan.room, req.room_id);
                assert!(!plan.room.is_empty());
            }
        }
        Checked::Signal(req) => {
            let signal = serde_json::from_value::<Signal>(req.signal.clone());
            assert!(
                signal.is_ok(),
                "a signal that is not one passed: {signal:?}"
            );
        }
        Checked::Relay(req) => game_data(&req.data, max),
        Checked::Broadcast(req) => game_data(&req.data, max),
    }
}

/// An accepted request reads back the same from its own JSON.
fn round_trip<T>(req: &T)
where
    T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let back = serde_json::to_value(req).and_then(serde_json::from_value::<T>);
    assert!(back.is_ok_and(|b| &b == req), "{req:?} does not read back");
}

/// Accepted game data is standard padded base64 that fits the event.
fn game_data(data: &str, max: usize) {
    let bytes = base64::engine::general_purpose::STANDARD.decode(data);
    assert!(
        bytes.is_ok_and(|b| b.len() <= max),
        "game data {data:?} passed"
    );
}

/// Room-code parsing as a person types it (the `join_room` code, the join
/// screen, `--room`): any bytes taken as UTF-8 (lossily). An accepted code
/// is 8 Crockford characters, upper case, and parses back to itself, also
/// grouped and in lower case.
pub fn room_code(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let Ok(code) = normalize_code(&text) else {
        return;
    };
    let s = code.as_str();
    assert_eq!(s.len(), CODE_LEN, "{text:?} gave {s:?}");
    assert!(
        s.bytes()
            .all(|b| b.is_ascii_digit() || (b.is_ascii_uppercase() && !b"ILOU".contains(&b))),
        "{text:?} gave {s:?}"
    );
    assert_eq!(normalize_code(s), Ok(code));
    assert_eq!(normalize_code(&code.display_grouped()), Ok(code));
    assert_eq!(normalize_code(&s.to_lowercase()), Ok(code));
}

/// One UDP datagram to the built-in STUN server, from an IPv4 and an IPv6
/// source: the answer, if any, is a 40- or 52-byte Binding success response
/// (never more than 32 bytes above a 20-byte request: no amplification)
/// that the STUN codec reads back with the request's transaction id.
pub fn stun_datagram(data: &[u8]) {
    let sources = [
        SocketAddr::new(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7)), 40_000),
        SocketAddr::new(
            IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
            3478,
        ),
    ];
    for from in sources {
        match stun::answer(data, from) {
            Ok(reply) => {
                let want = if from.is_ipv4() { 40 } else { 52 };
                assert_eq!(reply.len(), want, "answer to {data:?}");
                assert!(data.len() >= 20 && data.len() <= stun::MAX_REQUEST);
                assert_eq!(&reply[8..20], &data[8..20], "transaction id changed");
                let mut back = rtc_stun::message::Message::new();
                back.raw = reply;
                assert!(back.decode().is_ok(), "our answer does not decode");
                assert_eq!(back.typ, rtc_stun::message::BINDING_SUCCESS);
            }
            Err(Dropped::Oversized) => assert!(data.len() > stun::MAX_REQUEST),
            Err(Dropped::RateLimited) => panic!("answer() does not rate-limit"),
            Err(Dropped::Malformed | Dropped::NotBinding) => {}
        }
    }
}
