//! The guard every client → server event passes before its handler acts, and
//! the one way a handler answers.
//!
//! [`Incoming`] is the extractor each handler takes: the socket, the server
//! state, the connection and the raw argument. [`Incoming::admit`] applies
//! the same three checks in the same order to every event — size, then the
//! event's rate class, then decoding (the event's [`Request`] says how; the
//! order itself is the pure, unit-tested [`check`]) — and refuses the event
//! when one fails. What passes is a typed request and a [`Cx`], whose
//! [`Cx::refuse`] and [`Cx::answer`] decide where the answer goes (the ack,
//! else `arena_error`). Handlers must not measure, rate-limit or decode on
//! their own.

use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, Extension, SocketRef, State, TryData};
use socketioxide::handler::{FromMessageParts, Value as RawValue};
use socketioxide::socket::Socket;

use super::rooms::LeaveRoom;
use super::{App, ConnRef};
use crate::limits::Class;
use crate::policy::Refusal;
use crate::protocol::{
    ArenaError, BroadcastRequest, CreateRoom, ErrorAck, ErrorCode, Hello, JoinRoom, RelayRequest,
    SignalRequest, events,
};

/// What the guard must know of one client → server event.
pub(super) trait Request: Sized {
    /// The event name (refusals and logs).
    const EVENT: &'static str;
    /// The rate-limit bucket the event draws from.
    const CLASS: Class;
    /// `false` for an event whose argument is neither measured nor read.
    const HAS_ARGUMENT: bool = true;
    /// Reads the argument; `Err` is the message of a `bad_request`.
    fn read(arg: Value) -> Result<Self, String>;
}

/// Reads a required argument.
pub(super) fn required<T: DeserializeOwned>(arg: Value) -> Result<T, String> {
    serde_json::from_value(arg).map_err(|e| format!("malformed payload: {e}"))
}

/// Reads an argument that may be missing (then it is `{}`).
pub(super) fn or_default<T: DeserializeOwned + Default>(arg: Value) -> Result<T, String> {
    if arg.is_null() {
        Ok(T::default())
    } else {
        required(arg)
    }
}

/// One event as it arrived, not yet checked.
pub(super) struct Incoming<A: Adapter> {
    s: SocketRef<A>,
    app: Arc<App>,
    conn: ConnRef,
    /// Size of the raw packet (JSON and binary attachments).
    len: usize,
    /// The client asked for an ack.
    pub has_ack: bool,
    /// The argument, or why it is not JSON.
    arg: Result<Value, String>,
}

/// The handler was registered on a socket without the connection state that
/// `on_connect_mw` inserts (a wiring bug: the handler is not called).
#[derive(Debug, thiserror::Error)]
#[error("socket has no server state or connection state")]
pub(super) struct Unwired;

impl<A: Adapter> FromMessageParts<A> for Incoming<A> {
    type Error = Unwired;
    fn from_message_parts(
        s: &Arc<Socket<A>>,
        v: &mut RawValue,
        ack_id: &Option<i64>,
    ) -> Result<Self, Unwired> {
        let bins = match v {
            RawValue::Str(_, Some(b)) => b.iter().map(|b| b.len()).sum(),
            _ => 0,
        };
        let len = v.len() + bins;
        let State(app) =
            State::<Arc<App>>::from_message_parts(s, v, ack_id).map_err(|_| Unwired)?;
        let Extension(conn) =
            Extension::<ConnRef>::from_message_parts(s, v, ack_id).map_err(|_| Unwired)?;
        let Ok(sock) = SocketRef::from_message_parts(s, v, ack_id);
        let Ok(TryData(arg)) = TryData::<Value>::from_message_parts(s, v, ack_id);
        Ok(Self {
            s: sock,
            app,
            conn,
            len,
            has_ack: ack_id.is_some(),
            arg: arg.map_err(|e| format!("payload is not JSON: {e}")),
        })
    }
}

impl<A: Adapter> Incoming<A> {
    /// Whether this server is core-only (no acks, no extensions).
    pub(super) fn core_only(&self) -> bool {
        self.app.config.core_only
    }

    /// The guard for the event `R` (see [`check`]). A refusal goes to `ack`
    /// when given, else to `arena_error`; then `None`.
    pub(super) fn admit<R: Request>(self, ack: Option<AckSender<A>>) -> Option<(R, Cx<A>)> {
        let Incoming {
            s,
            app,
            conn,
            len,
            arg,
            ..
        } = self;
        let max = app.config.max_event_bytes;
        let checked = check::<R>(len, max, arg, |class| conn.limits.check(class));
        let cx = Cx {
            s,
            app,
            conn,
            len,
            event: R::EVENT,
            ack,
        };
        match checked {
            Ok(req) => Some((req, cx)),
            Err(Stop::Refuse(r)) => {
                cx.refuse(r);
                None
            }
            Err(Stop::Flood(class)) => {
                cx.refuse_flood(class);
                None
            }
        }
    }
}

/// Why the guard stopped an event.
#[derive(Debug, PartialEq)]
pub(super) enum Stop {
    /// Too large or not the documented shape: `bad_request`.
    Refuse(Refusal),
    /// Over the rate of its class: `rate_limited`.
    Flood(Class),
}

/// The guard's checks, in order, without a socket: an argument larger than
/// `max` bytes is refused before it costs a token; then `take` spends one
/// token of the event's rate class; then the argument is read. An event
/// without argument is neither measured nor read.
pub(super) fn check<R: Request>(
    len: usize,
    max: usize,
    arg: Result<Value, String>,
    take: impl FnOnce(Class) -> bool,
) -> Result<R, Stop> {
    if R::HAS_ARGUMENT && len > max {
        return Err(Stop::Refuse(Refusal::new(
            ErrorCode::BadRequest,
            "payload too large",
        )));
    }
    if !take(R::CLASS) {
        return Err(Stop::Flood(R::CLASS));
    }
    let arg = if R::HAS_ARGUMENT {
        arg
    } else {
        Ok(Value::Null)
    };
    arg.and_then(R::read)
        .map_err(|m| Stop::Refuse(Refusal::new(ErrorCode::BadRequest, m)))
}

/// A client → server event as [`check`] reads it for its handler, for the
/// fuzz target `server_event` (`crate::fuzzing`), which has no socket.
#[derive(Debug)]
pub(crate) enum Checked {
    /// `hello`.
    Hello(Hello),
    /// `create_room`.
    CreateRoom(CreateRoom),
    /// `join_room` (with or without `rejoin`).
    JoinRoom(JoinRoom),
    /// `leave_room` (its argument is not read).
    LeaveRoom,
    /// `signal`.
    Signal(SignalRequest),
    /// `relay`.
    Relay(RelayRequest),
    /// `broadcast`.
    Broadcast(BroadcastRequest),
}

/// Runs [`check`] for the event named `event` (one of [`events`]' client →
/// server names; `None` for any other) with a rate bucket that always has a
/// token: what the handler of a `len`-byte event whose argument is `arg`
/// would receive, or the message of its `bad_request`.
pub(crate) fn read_event(
    event: &str,
    len: usize,
    max: usize,
    arg: Result<Value, String>,
) -> Option<Result<Checked, String>> {
    fn run<R: Request>(
        len: usize,
        max: usize,
        arg: Result<Value, String>,
        typed: fn(R) -> Checked,
    ) -> Result<Checked, String> {
        match check::<R>(len, max, arg, |_| true) {
            Ok(r) => Ok(typed(r)),
            Err(Stop::Refuse(r)) => Err(r.message),
            Err(Stop::Flood(class)) => Err(format!("rate limited: {class:?}")),
        }
    }
    Some(match event {
        events::HELLO => run(len, max, arg, Checked::Hello),
        events::CREATE_ROOM => run(len, max, arg, Checked::CreateRoom),
        events::JOIN_ROOM => run(len, max, arg, Checked::JoinRoom),
        events::LEAVE_ROOM => run(len, max, arg, |LeaveRoom| Checked::LeaveRoom),
        events::SIGNAL => run(len, max, arg, Checked::Signal),
        events::RELAY => run(len, max, arg, Checked::Relay),
        events::BROADCAST => run(len, max, arg, Checked::Broadcast),
        _ => return None,
    })
}

/// An event the guard let through: what its handler acts on and answers with.
pub(super) struct Cx<A: Adapter> {
    /// The sender.
    pub s: SocketRef<A>,
    /// The server.
    pub app: Arc<App>,
    /// The sender's connection state.
    pub conn: ConnRef,
    /// Size of the raw packet.
    pub len: usize,
    event: &'static str,
    ack: Option<AckSender<A>>,
}

impl<A: Adapter> Cx<A> {
    /// Refuses the event: counted, then sent in the ack if there is one, else
    /// as `arena_error`.
    pub(super) fn refuse(self, r: Refusal) {
        let Refusal { code, message } = r;
        self.count(code);
        tracing::debug!(sid = %self.s.id, event = self.event, %code, %message, "refused");
        let sent = match self.ack {
            Some(ack) => ack.send(&ErrorAck {
                error: code,
                message,
            }),
            None => self.s.emit(
                events::ARENA_ERROR,
                &ArenaError {
                    error: code,
                    message,
                    event: self.event.to_owned(),
                },
            ),
        };
        if let Err(e) = sent {
            tracing::debug!(sid = %self.s.id, "could not send refusal: {e}");
        }
    }

    /// A `rate_limited` refusal for a flood of `class`: without an ack it is
    /// sent a few times per second at most (and counted every time).
    fn refuse_flood(self, class: Class) {
        let message = match class {
            Class::Signal => "too many signal messages",
            Class::Relay => "too many relayed messages",
            Class::Join => "too many room operations",
        };
        if self.ack.is_some() || self.conn.limits.may_notify() {
            self.refuse(Refusal::new(ErrorCode::RateLimited, message));
        } else {
            self.count(ErrorCode::RateLimited);
        }
    }

    /// Counts a refusal; a refused `join_room` is also a failed join.
    fn count(&self, code: ErrorCode) {
        if self.event == events::JOIN_ROOM {
            self.app.metrics.join_failed(code);
        }
        self.app.metrics.rejected(code);
    }

    /// Sends `reply` in the ack, if the event has one.
    pub(super) fn answer<T: Serialize + ?Sized>(self, reply: &T) {
        if let Some(ack) = self.ack {
            if let Err(e) = ack.send(reply) {
                tracing::debug!(sid = %self.s.id, event = self.event, "ack not sent: {e}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use serde_json::json;

    use super::*;

    const MAX: usize = 100;

    /// Runs the guard with a rate bucket that has a token (`true`) or not.
    fn run<R: Request>(len: usize, arg: Value, token: bool) -> Result<R, Stop> {
        check::<R>(len, MAX, Ok(arg), |_| token)
    }

    fn bad_request(r: Result<impl std::fmt::Debug, Stop>) -> String {
        match r.unwrap_err() {
            Stop::Refuse(Refusal { code, message }) => {
                assert_eq!(code, ErrorCode::BadRequest);
                message
            }
            other => panic!("expected bad_request, got {other:?}"),
        }
    }

    #[test]
    fn oversized_is_refused_before_it_costs_a_token() {
        let r = check::<JoinRoom>(MAX + 1, MAX, Ok(json!({})), |_| panic!("token taken"));
        assert_eq!(bad_request(r), "payload too large");
        let ok = run::<JoinRoom>(MAX, json!({"roomId": "ABCDEFGH"}), true).unwrap();
        assert_eq!(ok.room_id, "ABCDEFGH");
    }

    #[test]
    fn each_event_draws_from_its_own_class() {
        let mut asked = Vec::new();
        let r = check::<SignalRequest>(1, MAX, Ok(json!({})), |c| {
            asked.push(c);
            false
        });
        assert_eq!(r.unwrap_err(), Stop::Flood(Class::Signal));
        let _ = check::<RelayRequest>(1, MAX, Ok(json!({})), |c| {
            asked.push(c);
            false
        });
        let _ = check::<Hello>(1, MAX, Ok(json!({})), |c| {
            asked.push(c);
            false
        });
        assert_eq!(asked, [Class::Signal, Class::Relay, Class::Join]);
    }

    #[test]
    fn a_missing_argument_is_empty_only_where_the_protocol_allows_it() {
        assert_eq!(
            run::<Hello>(1, Value::Null, true).unwrap(),
            Hello::default()
        );
        let c: CreateRoom = run(1, Value::Null, true).unwrap();
        assert_eq!(c.token, None);
        let m = bad_request(run::<JoinRoom>(1, Value::Null, true));
        assert!(m.starts_with("malformed payload: "), "{m}");
        let not_json = check::<Hello>(1, MAX, Err("payload is not JSON: x".into()), |_| true);
        assert_eq!(bad_request(not_json), "payload is not JSON: x");
    }

    #[test]
    fn forwarded_payloads_are_checked_before_the_handler() {
        let bad_signal = json!({"targetId": "x", "signal": {"type": "nonsense"}});
        let m = bad_request(run::<SignalRequest>(1, bad_signal, true));
        assert!(
            m.starts_with("signal is not an offer, answer or candidate"),
            "{m}"
        );
        let bad_data = json!({"targetId": "x", "data": "not base64!"});
        let m = bad_request(run::<RelayRequest>(1, bad_data, true));
        assert_eq!(m, "data is not standard padded base64");
        let ok = run::<RelayRequest>(1, json!({"targetId": "x", "data": "AAE="}), true);
        assert_eq!(ok.unwrap().data, "AAE=");
    }

    #[test]
    fn leave_room_is_neither_measured_nor_read() {
        let r = check::<LeaveRoom>(MAX * 10, MAX, Err("payload is not JSON".into()), |_| true);
        assert!(r.is_ok());
        let r = check::<LeaveRoom>(1, MAX, Ok(Value::Null), |_| false);
        assert!(matches!(r, Err(Stop::Flood(Class::Join))));
    }
}
