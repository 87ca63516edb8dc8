//! Socket.IO event handlers: the thin shell between the wire and the pure
//! modules.
//!
//! Owns the per-server state ([`App`]), the wiring of the handlers and the
//! delivery of what [`crate::rooms`] and [`crate::policy`] decide. It must not
//! hold room or join rules of its own, and must never panic or disconnect on a
//! bad message: every refusal is an ack [`ErrorAck`](crate::protocol::ErrorAck)
//! or an `arena_error` event, counted in [`Metrics`].
//!
//! One file per concern, each handler a few lines: [`conn`] (connection setup
//! and its state), [`guard`] (size, rate class and decoding of every event,
//! and the answer), [`hello`], [`rooms`] (`create_room`, `join_room`,
//! `leave_room`, disconnect), [`relay`] (`signal`, `relay`, `broadcast`).

mod conn;
mod guard;
mod hello;
mod relay;
mod rooms;

use std::convert::Infallible;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use serde::Serialize;
use socketioxide::extract::{SocketRef, State, TryData};
use socketioxide::socket::Sid;

use crate::config::Config;
use crate::metrics::Metrics;
use crate::policy::JoinPolicy;
use crate::protocol::events;
use crate::rooms::RoomRegistry;
use conn::{Conn, ConnRef};

/// State shared by every connection of one server.
pub(crate) struct App {
    pub(crate) config: Config,
    pub(crate) metrics: Arc<Metrics>,
    /// The built-in STUN server's ports (main first); empty when it is off.
    stun_ports: Vec<u16>,
    rooms: Mutex<RoomRegistry<Sid>>,
    joins: Mutex<JoinPolicy<Sid>>,
}

impl App {
    pub(crate) fn new(config: Config, metrics: Arc<Metrics>, stun_ports: Vec<u16>) -> Self {
        Self {
            rooms: Mutex::new(RoomRegistry::new(config.rooms)),
            joins: Mutex::new(JoinPolicy::new(&config)),
            config,
            metrics,
            stun_ports,
        }
    }

    fn rooms(&self) -> MutexGuard<'_, RoomRegistry<Sid>> {
        // A panic while holding the lock cannot leave the registry half-updated
        // in a way that matters more than losing the server: keep serving.
        self.rooms.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn joins(&self) -> MutexGuard<'_, JoinPolicy<Sid>> {
        self.joins.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Periodic housekeeping: expires empty rooms and forgets refilled
    /// failed-join budgets.
    pub(crate) fn sweep(&self, now: Instant) {
        let (expired, count) = {
            let mut rooms = self.rooms();
            let expired = rooms.expire(now);
            (expired, rooms.room_count())
        };
        if !expired.is_empty() {
            tracing::debug!(n = expired.len(), "empty rooms expired");
            self.metrics.rooms_expired(expired.len());
        }
        self.metrics.set_rooms(count);
        self.joins().sweep(now);
    }
}

/// Connect middleware: sets up the connection and registers its handlers.
///
/// It runs before the namespace ack, so every handler is in place before the
/// client's first event: handlers registered in the connect handler itself
/// race with events the client sends as soon as it is connected (see
/// docs/DEPENDENCIES.md, socketioxide).
pub(crate) async fn on_connect_mw(
    s: SocketRef,
    State(app): State<Arc<App>>,
    TryData(auth): TryData<serde_json::Value>,
) -> Result<(), Infallible> {
    s.extensions
        .insert::<ConnRef>(Arc::new(Conn::new(&s, &app, auth.ok().as_ref())));
    s.on(events::JOIN_ROOM, rooms::on_join_room);
    s.on(events::SIGNAL, relay::on_signal);
    s.on(events::BROADCAST, relay::on_broadcast);
    if !app.config.core_only {
        s.on(events::HELLO, hello::on_hello);
        s.on(events::CREATE_ROOM, rooms::on_create_room);
        s.on(events::LEAVE_ROOM, rooms::on_leave_room);
        s.on(events::RELAY, relay::on_relay);
    }
    s.on_disconnect(rooms::on_disconnect);
    app.metrics.connected();
    tracing::debug!(sid = %s.id, "connected");
    Ok(())
}

/// The connect handler proper (everything happens in the middleware).
pub(crate) async fn on_connect(_s: SocketRef) {}

/// Emits `event` to socket `to` (the sender itself included); whether it was sent.
fn send_to<T: Serialize + ?Sized>(s: &SocketRef, to: Sid, event: &'static str, data: &T) -> bool {
    let target = if to == s.id {
        Some(s.clone())
    } else {
        s.broadcast().get_socket(to)
    };
    match target {
        Some(t) => match t.emit(event, data) {
            Ok(()) => true,
            Err(e) => {
                tracing::debug!(to = %to, event, "emit failed: {e}");
                false
            }
        },
        None => false,
    }
}
