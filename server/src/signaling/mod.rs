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

use std::any::Any;
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::Serialize;
use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{SocketRef, State, TryData};
use socketioxide::socket::Sid;

use crate::cluster::Health;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::policy::JoinPolicy;
use crate::protocol::{UserLeft, events};
use crate::rooms::Left;
use crate::store::RoomStore;
use conn::{Conn, ConnRef};
pub(crate) use guard::{Checked, read_event};

/// State shared by every connection of one server (one node).
pub(crate) struct App {
    pub(crate) config: Config,
    pub(crate) metrics: Arc<Metrics>,
    /// The built-in STUN server's ports (main first); empty when it is off.
    stun_ports: Vec<u16>,
    /// The rooms: in memory, or shared by every node in Redis.
    store: Arc<dyn RoomStore>,
    /// The room of each member connected to this node (the store's answer
    /// for them, kept here: no store round trip to address a local socket,
    /// and what a node writes back when Redis lost its state).
    local: Mutex<HashMap<Sid, String>>,
    /// Whether Redis answers (`None`: no Redis, always healthy).
    pub(crate) health: Option<Arc<Health>>,
    joins: Mutex<JoinPolicy<Sid>>,
    /// Sockets gone while the store was unreachable: their leave is tried
    /// again by [`App::retry_leaves`].
    orphans: Mutex<Vec<Sid>>,
    /// Sockets of other nodes this node relays to, as the adapter described
    /// them (a `RemoteSocket` of the server's adapter type, which names the
    /// node), with when they were last used.
    remote: Mutex<HashMap<Sid, Found>>,
}

/// A socket of another node as the adapter described it, and when it was last used.
type Found = (Arc<dyn Any + Send + Sync>, Instant);

/// How long a found socket of another node is kept after its last use. A
/// socket id never moves between nodes (a reconnection is a new id), so a
/// socket in use is never looked up again: letting every entry lapse at a
/// fixed age made all of a room's senders ask the adapter at once
/// (`fetch_sockets` waits for every node's answer), a latency spike every
/// 10 s under load.
const REMOTE_TTL: Duration = Duration::from_secs(10);

impl App {
    pub(crate) fn new(
        config: Config,
        metrics: Arc<Metrics>,
        stun_ports: Vec<u16>,
        store: Arc<dyn RoomStore>,
        health: Option<Arc<Health>>,
    ) -> Self {
        Self {
            joins: Mutex::new(JoinPolicy::new(&config)),
            config,
            metrics,
            stun_ports,
            store,
            local: Mutex::new(HashMap::new()),
            health,
            orphans: Mutex::new(Vec::new()),
            remote: Mutex::new(HashMap::new()),
        }
    }

    fn joins(&self) -> MutexGuard<'_, JoinPolicy<Sid>> {
        // A panic while holding the lock cannot leave the policy half-updated
        // in a way that matters more than losing the server: keep serving.
        self.joins.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn local(&self) -> MutexGuard<'_, HashMap<Sid, String>> {
        self.local.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The room of `user` if they are connected to this node.
    fn local_room(&self, user: Sid) -> Option<String> {
        self.local().get(&user).cloned()
    }

    /// This node's members and their rooms.
    pub(crate) fn members(&self) -> Vec<(Sid, String)> {
        self.local().iter().map(|(s, r)| (*s, r.clone())).collect()
    }

    fn remote(&self) -> MutexGuard<'_, HashMap<Sid, Found>> {
        self.remote.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The socket `user` of another node as found, if used within
    /// [`REMOTE_TTL`]; this use counts.
    fn remote_socket<T: Any + Send + Sync>(&self, user: Sid) -> Option<Arc<T>> {
        let mut remote = self.remote();
        let (socket, used) = remote.get_mut(&user)?;
        if used.elapsed() >= REMOTE_TTL {
            return None;
        }
        *used = Instant::now();
        socket.clone().downcast::<T>().ok()
    }

    /// Keeps the socket `user` of another node, as found.
    fn keep_remote_socket<T: Any + Send + Sync>(&self, user: Sid, socket: Arc<T>) {
        let mut remote = self.remote();
        remote.retain(|_, (_, at)| at.elapsed() < REMOTE_TTL);
        remote.insert(user, (socket, Instant::now()));
    }

    /// Forgets the socket `user` of another node (an emit to it failed).
    fn forget_remote_socket(&self, user: Sid) {
        self.remote().remove(&user);
    }

    /// Sets the room gauge from the store (after a change of rooms).
    async fn count_rooms(&self) {
        if let Ok(n) = self.store.count().await {
            self.metrics.set_rooms(n);
        }
    }

    /// Keeps the leave of `user` (gone while the store was unreachable) to be
    /// tried again.
    fn leave_later(&self, user: Sid) {
        self.orphans
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(user);
    }

    /// Tries again the leaves kept by [`App::leave_later`]; what each one
    /// that went through means (whom to tell).
    pub(crate) async fn retry_leaves(&self) -> Vec<(Sid, Left<Sid>)> {
        let pending = std::mem::take(&mut *self.orphans.lock().unwrap_or_else(|e| e.into_inner()));
        let mut done = Vec::new();
        for user in pending {
            match self.store.leave(user, Instant::now()).await {
                Ok(Some(left)) => done.push((user, left)),
                Ok(None) => {}
                Err(_) => self.leave_later(user),
            }
        }
        done
    }

    /// Periodic housekeeping: expires empty rooms and forgets refilled
    /// failed-join budgets.
    pub(crate) async fn sweep(&self, now: Instant) {
        match self.store.sweep(now).await {
            Ok(swept) => {
                if swept.expired > 0 {
                    tracing::debug!(n = swept.expired, "empty rooms expired");
                    self.metrics.rooms_expired(swept.expired);
                }
                self.metrics.set_rooms(swept.rooms);
            }
            Err(e) => tracing::debug!("rooms not swept: {e}"),
        }
        self.joins().sweep(now);
    }
}

/// Connect middleware: sets up the connection and registers its handlers.
///
/// It runs before the namespace ack, so every handler is in place before the
/// client's first event: handlers registered in the connect handler itself
/// race with events the client sends as soon as it is connected (see
/// docs/DEPENDENCIES.md, socketioxide).
pub(crate) async fn on_connect_mw<A: Adapter>(
    s: SocketRef<A>,
    State(app): State<Arc<App>>,
    TryData(auth): TryData<serde_json::Value>,
) -> Result<(), Infallible> {
    s.extensions
        .insert::<ConnRef>(Arc::new(Conn::new(&s, &app, auth.ok().as_ref())));
    // Every socket is in a Socket.IO room named by its id, as in socket.io:
    // how an event reaches one socket on whichever node it is connected to.
    s.join(s.id.to_string());
    s.on(events::JOIN_ROOM, rooms::on_join_room::<A>);
    s.on(events::SIGNAL, relay::on_signal::<A>);
    s.on(events::BROADCAST, relay::on_broadcast::<A>);
    if !app.config.core_only {
        s.on(events::HELLO, hello::on_hello::<A>);
        s.on(events::CREATE_ROOM, rooms::on_create_room::<A>);
        s.on(events::LEAVE_ROOM, rooms::on_leave_room::<A>);
        s.on(events::RELAY, relay::on_relay::<A>);
    }
    s.on_disconnect(rooms::on_disconnect::<A>);
    app.metrics.connected();
    tracing::debug!(sid = %s.id, "connected");
    Ok(())
}

/// The connect handler proper (everything happens in the middleware).
pub(crate) async fn on_connect<A: Adapter>(_s: SocketRef<A>) {}

/// Sends `user_left` for `user` to the members `left` names, from no socket
/// (the sweeper, or a node reporting a dead node's members).
pub(crate) async fn tell_left<A: Adapter>(io: &SocketIo<A>, user: Sid, left: &Left<Sid>) {
    let msg = UserLeft {
        user_id: user.to_string(),
    };
    for to in &left.notify {
        if let Err(e) = io.to(to.to_string()).emit(events::USER_LEFT, &msg).await {
            tracing::debug!(to = %to, "user_left not sent: {e}");
        }
    }
}

/// Emits `event` to socket `to` (the sender itself included), on whichever
/// node it is connected to.
async fn send_to<A: Adapter, T: Serialize + ?Sized>(
    s: &SocketRef<A>,
    to: Sid,
    event: &'static str,
    data: &T,
) {
    let local = if to == s.id {
        Some(s.clone())
    } else {
        s.broadcast().get_socket(to)
    };
    let sent = match local {
        Some(t) => t.emit(event, data).map_err(|e| e.to_string()),
        None => s
            .to(to.to_string())
            .emit(event, data)
            .await
            .map_err(|e| e.to_string()),
    };
    if let Err(e) = sent {
        tracing::debug!(to = %to, event, "emit failed: {e}");
    }
}
