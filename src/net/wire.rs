//! The events of docs/PROTOCOL.md as JSON values, for both shells.
//!
//! The native shell's client (rust_socketio, [`super::signaling`]) and the
//! browser's ([`super::sio`]) each carry Socket.IO packets; what the packets
//! mean is decided once, here: a server event's name and first argument
//! become a [`ServerEvent`] (malformed ones a [`ServerEvent::Malformed`],
//! never a panic), an ack becomes the success shape or a
//! [`RequestError::Refused`], and each request is built as the value the
//! server reads. Pure: no I/O, std + serde_json + base64.

use arena_server::protocol::{
    ArenaError, BroadcastForward, BroadcastRequest, CreateRoom, ErrorAck, JoinRoom, RelayForward,
    RelayRequest, RoomUsers, SignalForward, SignalRequest, UserJoined, UserLeft, events,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::core::{RequestError, ServerEvent};

/// Parses one server → client event from its name and first argument.
pub fn parse_event(name: &str, v: Value) -> ServerEvent {
    let bad = |e: serde_json::Error| ServerEvent::Malformed(format!("{name}: {e}"));
    match name {
        events::ROOM_USERS => serde_json::from_value::<RoomUsers>(v)
            .map_or_else(bad, |m| ServerEvent::RoomUsers(m.users)),
        events::USER_JOINED => serde_json::from_value::<UserJoined>(v)
            .map_or_else(bad, |m| ServerEvent::UserJoined(m.user_id)),
        events::USER_LEFT => serde_json::from_value::<UserLeft>(v)
            .map_or_else(bad, |m| ServerEvent::UserLeft(m.user_id)),
        events::SIGNAL => {
            serde_json::from_value::<SignalForward>(v).map_or_else(bad, |m| ServerEvent::Signal {
                from: m.user_id,
                signal: m.signal,
            })
        }
        events::RELAY => serde_json::from_value::<RelayForward>(v)
            .map_or_else(bad, |m| data(name, m.user_id, &m.data)),
        events::BROADCAST => serde_json::from_value::<BroadcastForward>(v)
            .map_or_else(bad, |m| data(name, m.user_id, &m.data)),
        events::ARENA_ERROR => {
            serde_json::from_value::<ArenaError>(v).map_or_else(bad, ServerEvent::ServerError)
        }
        other => ServerEvent::Malformed(format!("unknown event {other:?}")),
    }
}

fn data(name: &str, from: String, b64: &str) -> ServerEvent {
    match B64.decode(b64) {
        Ok(bytes) => ServerEvent::Data { from, bytes },
        Err(e) => ServerEvent::Malformed(format!("{name}: data is not base64: {e}")),
    }
}

/// An ack that is either the success shape `T` or `{"error": ..., "message": ...}`.
pub fn parse_reply<T: DeserializeOwned>(v: Value) -> Result<T, RequestError> {
    if v.get("error").is_some() {
        return match serde_json::from_value::<ErrorAck>(v) {
            Ok(e) => Err(RequestError::Refused {
                code: e.error,
                message: e.message,
            }),
            Err(e) => Err(RequestError::BadReply(e.to_string())),
        };
    }
    serde_json::from_value(v).map_err(|e| RequestError::BadReply(e.to_string()))
}

/// `hello`'s argument (protocol version 1).
pub fn hello(name: &str) -> Value {
    json!({"v": 1, "name": name})
}

/// `create_room`'s argument.
pub fn create_room(token: Option<String>) -> Value {
    serde_json::to_value(CreateRoom { token }).unwrap_or(Value::Null)
}

/// `join_room`'s argument.
pub fn join_room(code: &str, rejoin: bool) -> Value {
    let req = JoinRoom {
        room_id: code.to_owned(),
        rejoin,
    };
    serde_json::to_value(req).unwrap_or(Value::Null)
}

/// `signal`'s request.
pub fn signal(to: &str, signal: Value) -> SignalRequest {
    SignalRequest {
        target_id: to.to_owned(),
        signal,
    }
}

/// `relay`'s request: one game message, as standard padded base64.
pub fn relay(to: &str, bytes: &[u8]) -> RelayRequest {
    RelayRequest {
        target_id: to.to_owned(),
        data: B64.encode(bytes),
    }
}

/// `broadcast`'s request.
pub fn broadcast(bytes: &[u8]) -> BroadcastRequest {
    BroadcastRequest {
        data: B64.encode(bytes),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use arena_server::protocol::{CreateRoomAck, ErrorCode};

    #[test]
    fn parses_every_server_event() {
        assert!(matches!(
            parse_event("room_users", json!({"users": ["a", "b"]})),
            ServerEvent::RoomUsers(u) if u == ["a", "b"]
        ));
        assert!(matches!(
            parse_event("user_joined", json!({"userId": "j"})),
            ServerEvent::UserJoined(u) if u == "j"
        ));
        assert!(matches!(
            parse_event("user_left", json!({"userId": "x"})),
            ServerEvent::UserLeft(u) if u == "x"
        ));
        assert!(matches!(
            parse_event("signal", json!({"userId": "s", "signal": {"type": "offer", "sdp": "v=0"}})),
            ServerEvent::Signal { from, .. } if from == "s"
        ));
        assert!(matches!(
            parse_event("relay", json!({"userId": "x", "data": "AQID"})),
            ServerEvent::Data { from, bytes } if from == "x" && bytes == [1, 2, 3]
        ));
        assert!(matches!(
            parse_event("broadcast", json!({"userId": "y", "data": ""})),
            ServerEvent::Data { bytes, .. } if bytes.is_empty()
        ));
        assert!(matches!(
            parse_event(
                "arena_error",
                json!({"event": "relay", "error": "rate_limited", "message": "slow down"})
            ),
            ServerEvent::ServerError(_)
        ));
    }

    #[test]
    fn malformed_events_are_reported_not_panics() {
        for (ev, v) in [
            ("room_users", json!({"users": "nope"})),
            ("user_joined", json!(12)),
            ("signal", json!({"signal": {}})),
            ("relay", json!({"userId": "x", "data": "%%%"})),
            ("broadcast", Value::Null),
            ("mystery", json!({})),
        ] {
            assert!(
                matches!(parse_event(ev, v), ServerEvent::Malformed(_)),
                "{ev}"
            );
        }
    }

    #[test]
    fn replies_parse_as_success_or_refusal() {
        let ok: Result<CreateRoomAck, _> = parse_reply(json!({"roomId": "ABCDEFGH"}));
        assert_eq!(ok.map(|a| a.room_id), Ok("ABCDEFGH".to_owned()));
        let refused: Result<CreateRoomAck, _> =
            parse_reply(json!({"error": "unauthorized", "message": "token"}));
        assert!(matches!(
            refused,
            Err(RequestError::Refused {
                code: ErrorCode::Unauthorized,
                ..
            })
        ));
        let odd: Result<CreateRoomAck, _> = parse_reply(json!({"error": 5}));
        assert!(matches!(odd, Err(RequestError::BadReply(_))));
    }

    #[test]
    fn requests_are_the_shapes_the_server_reads() {
        assert_eq!(hello("Ann"), json!({"v": 1, "name": "Ann"}));
        assert_eq!(
            join_room("ABCDEFGH", true),
            json!({"roomId": "ABCDEFGH", "rejoin": true})
        );
        let r = serde_json::to_value(relay("x", &[1, 2, 3])).unwrap();
        assert_eq!(r, json!({"targetId": "x", "data": "AQID"}));
        let b = serde_json::to_value(broadcast(&[])).unwrap();
        assert_eq!(b, json!({"data": ""}));
    }
}
