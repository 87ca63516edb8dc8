//! The guard every client → server event passes before its handler acts, and
//! the one way a handler answers.
//!
//! [`Incoming`] is the extractor each handler takes: the socket, the server
//! state, the connection and the raw argument. [`Incoming::admit`] applies
//! the same three checks in the same order to every event — size, then the
//! event's rate class, then decoding (the event's [`Request`] says how) — and
//! refuses the event itself when one fails. What passes is a typed request and
//! a [`Cx`], whose [`Cx::refuse`] and [`Cx::answer`] decide where the answer
//! goes (the ack, else `arena_error`). Handlers must not measure, rate-limit or
//! decode on their own.

use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use socketioxide::adapter::LocalAdapter;
use socketioxide::extract::{AckSender, Extension, SocketRef, State, TryData};
use socketioxide::handler::{FromMessageParts, Value as RawValue};
use socketioxide::socket::Socket;

use super::{App, ConnRef};
use crate::limits::Class;
use crate::policy::Refusal;
use crate::protocol::{ArenaError, ErrorAck, ErrorCode, events};

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
pub(super) struct Incoming {
    s: SocketRef,
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

impl FromMessageParts<LocalAdapter> for Incoming {
    type Error = Unwired;
    fn from_message_parts(
        s: &Arc<Socket<LocalAdapter>>,
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

impl Incoming {
    /// Whether this server is core-only (no acks, no extensions).
    pub(super) fn core_only(&self) -> bool {
        self.app.config.core_only
    }

    /// The guard: size, rate class, then decoding, for the event `R`. A
    /// refusal goes to `ack` when given, else to `arena_error`; then `None`.
    pub(super) fn admit<R: Request>(self, ack: Option<AckSender>) -> Option<(R, Cx)> {
        let Incoming {
            s,
            app,
            conn,
            len,
            arg,
            ..
        } = self;
        let cx = Cx {
            s,
            app,
            conn,
            len,
            event: R::EVENT,
            ack,
        };
        if R::HAS_ARGUMENT && len > cx.app.config.max_event_bytes {
            cx.refuse(Refusal::new(ErrorCode::BadRequest, "payload too large"));
            return None;
        }
        if !cx.conn.limits.check(R::CLASS) {
            cx.refuse_flood(R::CLASS);
            return None;
        }
        let arg = if R::HAS_ARGUMENT {
            arg
        } else {
            Ok(Value::Null)
        };
        match arg.and_then(R::read) {
            Ok(req) => Some((req, cx)),
            Err(m) => {
                cx.refuse(Refusal::new(ErrorCode::BadRequest, m));
                None
            }
        }
    }
}

/// An event the guard let through: what its handler acts on and answers with.
pub(super) struct Cx {
    /// The sender.
    pub s: SocketRef,
    /// The server.
    pub app: Arc<App>,
    /// The sender's connection state.
    pub conn: ConnRef,
    /// Size of the raw packet.
    pub len: usize,
    event: &'static str,
    ack: Option<AckSender>,
}

impl Cx {
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
