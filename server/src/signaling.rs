//! Socket.IO event handlers: the thin shell between the wire and the pure
//! modules.
//!
//! Owns connection setup (registered in a connect middleware, see
//! NOTES-deps.md), payload decoding, the per-connection state and the delivery
//! of what [`crate::rooms`] says to deliver. It must not hold room logic of its
//! own, must never panic or disconnect on a bad message: every refusal is an
//! ack [`ErrorAck`] or an `arena_error` event, counted in [`Metrics`].

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use rand::TryRngCore;
use serde::Serialize;
use serde::de::DeserializeOwned;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, Extension, SocketRef, State, TryData};
use socketioxide::handler::{FromMessageParts, Value as RawValue};
use socketioxide::socket::{DisconnectReason, Sid, Socket};

use crate::config::Config;
use crate::limits::{Bucket, Class, ConnLimits};
use crate::metrics::{Metrics, Traffic};
use crate::protocol::{
    ArenaError, BroadcastForward, BroadcastRequest, CreateRoom, CreateRoomAck, ErrorAck, ErrorCode,
    Hello, HelloAck, JoinRoom, JoinRoomAck, LeaveRoomAck, PROTOCOL_VERSION, RelayForward,
    RelayRequest, RoomCode, RoomUsers, SERVER_NAME, Signal, SignalForward, SignalRequest,
    UserJoined, UserLeft, events, normalize_code,
};
use crate::rooms::{Joined, Left, RoomError, RoomRegistry};
use crate::turn;

/// Longest room id accepted in core-only mode.
const MAX_CORE_ROOM_ID: usize = 128;

/// State shared by every connection of one server.
pub(crate) struct App {
    pub(crate) config: Config,
    pub(crate) metrics: Arc<Metrics>,
    /// The built-in STUN server's ports (main first); empty when it is off.
    stun_ports: Vec<u16>,
    rooms: Mutex<RoomRegistry<Sid>>,
    failed_by_ip: Mutex<HashMap<IpAddr, Bucket>>,
}

impl App {
    pub(crate) fn new(config: Config, metrics: Arc<Metrics>, stun_ports: Vec<u16>) -> Self {
        let rooms = Mutex::new(RoomRegistry::new(config.rooms));
        Self {
            config,
            metrics,
            stun_ports,
            rooms,
            failed_by_ip: Mutex::new(HashMap::new()),
        }
    }

    fn rooms(&self) -> MutexGuard<'_, RoomRegistry<Sid>> {
        // A panic while holding the lock cannot leave the registry half-updated
        // in a way that matters more than losing the server: keep serving.
        self.rooms.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn failed_by_ip(&self) -> MutexGuard<'_, HashMap<IpAddr, Bucket>> {
        self.failed_by_ip.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Periodic housekeeping: expires empty rooms and forgets refilled IP buckets.
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
        self.failed_by_ip().retain(|_, b| !b.is_full(now));
    }
}

/// Per-connection state, stored in the socket's extensions.
struct Conn {
    limits: ConnLimits,
    failed_joins: Mutex<Bucket>,
    ip: Option<IpAddr>,
    /// The connect `auth` carried the right room-creation token.
    token_ok: bool,
    /// `stun:HOST:PORT` of the built-in STUN server as this client can reach
    /// it (the public host, else the host it connected to), if STUN is on.
    stun_url: Option<String>,
}

type ConnRef = Arc<Conn>;

/// Size of the raw packet and whether the client asked for an ack.
struct Packet {
    len: usize,
    has_ack: bool,
}

impl<A: Adapter> FromMessageParts<A> for Packet {
    type Error = Infallible;
    fn from_message_parts(
        _: &Arc<Socket<A>>,
        v: &mut RawValue,
        ack_id: &Option<i64>,
    ) -> Result<Self, Infallible> {
        let bins = match v {
            RawValue::Str(_, Some(b)) => b.iter().map(|b| b.len()).sum(),
            _ => 0,
        };
        Ok(Packet {
            len: v.len() + bins,
            has_ack: ack_id.is_some(),
        })
    }
}

/// Connect middleware: runs before the namespace ack, so every handler is in
/// place before the client's first event.
pub(crate) async fn on_connect_mw(
    s: SocketRef,
    State(app): State<Arc<App>>,
    TryData(auth): TryData<serde_json::Value>,
) -> Result<(), Infallible> {
    let token_ok = match (&app.config.create_token, &auth) {
        (Some(want), Ok(v)) => v
            .get("token")
            .and_then(|t| t.as_str())
            .is_some_and(|t| ct_eq(t, want)),
        _ => false,
    };
    let now = Instant::now();
    let conn = Arc::new(Conn {
        limits: ConnLimits::new(&app.config.limits),
        failed_joins: Mutex::new(Bucket::per_minute(
            app.config.limits.failed_joins_per_minute,
            now,
        )),
        ip: client_ip(&s, app.config.trust_proxy),
        token_ok,
        stun_url: stun_url(&s, &app),
    });
    s.extensions.insert(conn);
    s.on(events::JOIN_ROOM, on_join_room);
    s.on(events::SIGNAL, on_signal);
    s.on(events::BROADCAST, on_broadcast);
    if !app.config.core_only {
        s.on(events::HELLO, on_hello);
        s.on(events::CREATE_ROOM, on_create_room);
        s.on(events::LEAVE_ROOM, on_leave_room);
        s.on(events::RELAY, on_relay);
    }
    s.on_disconnect(on_disconnect);
    app.metrics.connected();
    tracing::debug!(sid = %s.id, "connected");
    Ok(())
}

/// The connect handler proper (everything happens in the middleware).
pub(crate) async fn on_connect(_s: SocketRef) {}

fn stun_url(s: &SocketRef, app: &App) -> Option<String> {
    let port = *app.stun_ports.first()?;
    let host = match &app.config.public_host {
        Some(h) => h.clone(),
        None => s
            .req_parts()
            .headers
            .get(axum::http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .and_then(turn::host_of)?,
    };
    Some(format!("stun:{host}:{port}"))
}

/// The `iceServers` this client is given: the built-in STUN server first,
/// then the configured STUN and TURN servers (TURN with fresh credentials).
fn ice_servers_for(
    s: &SocketRef,
    app: &App,
    conn: Option<&Conn>,
) -> Vec<crate::protocol::IceServer> {
    let c = &app.config;
    let stun: Vec<String> = conn
        .and_then(|c| c.stun_url.as_ref())
        .into_iter()
        .chain(c.stun_urls.iter())
        .cloned()
        .collect();
    turn::ice_servers(
        &stun,
        &c.turn_urls,
        c.turn_secret.as_deref(),
        &s.id.to_string(),
        now_unix(),
        c.turn_ttl.as_secs(),
    )
}

fn client_ip(s: &SocketRef, trust_proxy: bool) -> Option<IpAddr> {
    let parts = s.req_parts();
    if trust_proxy {
        let fwd = parts
            .headers
            .get("x-forwarded-for")
            .and_then(|h| h.to_str().ok());
        if let Some(ip) = fwd
            .and_then(|h| h.split(',').next())
            .and_then(|s| s.trim().parse().ok())
        {
            return Some(ip);
        }
    }
    parts
        .extensions
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
}

/// Constant-time string comparison for tokens.
fn ct_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Where a refusal goes: the ack if the client asked for one, else `arena_error`.
fn refuse(
    s: &SocketRef,
    app: &App,
    ack: Option<AckSender>,
    event: &str,
    error: ErrorCode,
    message: String,
) {
    app.metrics.rejected(error);
    tracing::debug!(sid = %s.id, event, %error, %message, "refused");
    let sent = match ack {
        Some(ack) => ack.send(&ErrorAck { error, message }),
        None => s.emit(
            events::ARENA_ERROR,
            &ArenaError {
                error,
                message,
                event: event.to_owned(),
            },
        ),
    };
    if let Err(e) = sent {
        tracing::debug!(sid = %s.id, "could not send refusal: {e}");
    }
}

/// A `rate_limited` refusal, sent a few times per second at most (still counted every time).
fn refuse_rate(
    s: &SocketRef,
    app: &App,
    conn: &Conn,
    ack: Option<AckSender>,
    event: &str,
    message: &str,
) {
    if ack.is_some() || conn.limits.may_notify() {
        refuse(
            s,
            app,
            ack,
            event,
            ErrorCode::RateLimited,
            message.to_owned(),
        );
    } else {
        app.metrics.rejected(ErrorCode::RateLimited);
    }
}

/// Decodes the event argument; `default_on_null` accepts a missing argument as `{}`.
fn decode<T: DeserializeOwned + Default>(
    v: Result<serde_json::Value, impl std::fmt::Display>,
    default_on_null: bool,
) -> Result<T, String> {
    match v {
        Ok(serde_json::Value::Null) if default_on_null => Ok(T::default()),
        Ok(v) => serde_json::from_value(v).map_err(|e| format!("malformed payload: {e}")),
        Err(e) => Err(format!("payload is not JSON: {e}")),
    }
}

fn decode_required<T: DeserializeOwned>(
    v: Result<serde_json::Value, impl std::fmt::Display>,
) -> Result<T, String> {
    match v {
        Ok(v) => serde_json::from_value(v).map_err(|e| format!("malformed payload: {e}")),
        Err(e) => Err(format!("payload is not JSON: {e}")),
    }
}

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

/// Mirrors a registry change into the socket's Socket.IO rooms (used for the
/// `broadcast` fan-out). Called while the registry lock is held, so concurrent
/// joins of one socket cannot leave the two views different.
fn mirror_join(s: &SocketRef, room: &str, joined: &Joined<Sid>) {
    if let Some(left) = &joined.left {
        s.leave(left.room.clone());
    }
    s.join(room.to_owned());
}

fn notify_left(s: &SocketRef, who: Sid, left: &Left<Sid>) {
    let msg = UserLeft {
        user_id: who.to_string(),
    };
    for &m in &left.notify {
        send_to(s, m, events::USER_LEFT, &msg);
    }
}

async fn on_hello(
    s: SocketRef,
    State(app): State<Arc<App>>,
    Extension(conn): Extension<ConnRef>,
    pkt: Packet,
    TryData(d): TryData<serde_json::Value>,
    ack: AckSender,
) {
    let ack = Some(ack);
    if pkt.len > app.config.max_event_bytes {
        return refuse(
            &s,
            &app,
            ack,
            events::HELLO,
            ErrorCode::BadRequest,
            "payload too large".into(),
        );
    }
    if !conn.limits.check(Class::Join) {
        return refuse_rate(
            &s,
            &app,
            &conn,
            ack,
            events::HELLO,
            "too many room operations",
        );
    }
    let hello: Hello = match decode(d, true) {
        Ok(h) => h,
        Err(m) => return refuse(&s, &app, ack, events::HELLO, ErrorCode::BadRequest, m),
    };
    tracing::debug!(sid = %s.id, v = ?hello.v, name = ?hello.name, "hello");
    let mut features: Vec<String> = [
        "create_room",
        "codes",
        "relay",
        "leave_room",
        "ice_servers",
        "arena_error",
        "rejoin",
        "self_id",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    if app.config.turn_secret.is_some() && !app.config.turn_urls.is_empty() {
        features.push("turn".into());
    }
    if app.config.create_token.is_some() {
        features.push("create_token".into());
    }
    if !app.stun_ports.is_empty() {
        features.push("stun".into());
    }
    // What `arena doctor` tests before joining; TURN credentials only to
    // whoever may create rooms anyway (they get them on join).
    let may_create = app.config.create_token.is_none() || conn.token_ok;
    let ice_servers = may_create.then(|| ice_servers_for(&s, &app, Some(&conn)));
    let reply = HelloAck {
        server: SERVER_NAME.into(),
        version: format!(
            "{} (protocol {PROTOCOL_VERSION})",
            env!("CARGO_PKG_VERSION")
        ),
        features,
        id: Some(s.id.to_string()),
        ice_servers,
        stun_ports: app.stun_ports.clone(),
    };
    if let Some(ack) = ack {
        let _ = ack.send(&reply);
    }
}

async fn on_create_room(
    s: SocketRef,
    State(app): State<Arc<App>>,
    Extension(conn): Extension<ConnRef>,
    pkt: Packet,
    TryData(d): TryData<serde_json::Value>,
    ack: AckSender,
) {
    let ev = events::CREATE_ROOM;
    let ack = Some(ack);
    if pkt.len > app.config.max_event_bytes {
        return refuse(
            &s,
            &app,
            ack,
            ev,
            ErrorCode::BadRequest,
            "payload too large".into(),
        );
    }
    if !conn.limits.check(Class::Join) {
        return refuse_rate(&s, &app, &conn, ack, ev, "too many room operations");
    }
    let req: CreateRoom = match decode(d, true) {
        Ok(r) => r,
        Err(m) => return refuse(&s, &app, ack, ev, ErrorCode::BadRequest, m),
    };
    if let Some(want) = &app.config.create_token {
        let ok = conn.token_ok || req.token.as_deref().is_some_and(|t| ct_eq(t, want));
        if !ok {
            return refuse(
                &s,
                &app,
                ack,
                ev,
                ErrorCode::Unauthorized,
                "creating a room needs a valid token".into(),
            );
        }
    }
    let now = Instant::now();
    for _ in 0..8 {
        let bits = match rand::rngs::OsRng.try_next_u64() {
            Ok(b) => b,
            Err(e) => {
                tracing::error!("OS random generator failed: {e}");
                return refuse(
                    &s,
                    &app,
                    ack,
                    ev,
                    ErrorCode::RateLimited,
                    "could not draw a room code, try again".into(),
                );
            }
        };
        let code = RoomCode::from_bits(bits);
        let (res, count) = {
            let mut rooms = app.rooms();
            let res = rooms.create(code.as_str(), now);
            (res, rooms.room_count())
        };
        match res {
            Ok(()) => {
                app.metrics.room_created();
                app.metrics.set_rooms(count);
                tracing::info!(sid = %s.id, room = %code, "room created");
                if let Some(ack) = ack {
                    let _ = ack.send(&CreateRoomAck {
                        room_id: code.to_string(),
                    });
                }
                return;
            }
            Err(RoomError::Exists) => continue,
            Err(_) => break,
        }
    }
    refuse(
        &s,
        &app,
        ack,
        ev,
        ErrorCode::RateLimited,
        "the server has too many rooms, try later".into(),
    );
}

/// Charges a failed join to the connection and its IP.
fn charge_failed_join(app: &App, conn: &Conn, now: Instant) {
    conn.failed_joins
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .charge(now);
    if let Some(ip) = conn.ip {
        let per_ip = app.config.limits.failed_joins_per_minute_per_ip;
        app.failed_by_ip()
            .entry(ip)
            .or_insert_with(|| Bucket::per_minute(per_ip, now))
            .charge(now);
    }
}

/// Whether joins are currently allowed after earlier failed ones; else seconds to wait.
fn failed_join_gate(app: &App, conn: &Conn, now: Instant) -> Result<(), u64> {
    let mut b = conn.failed_joins.lock().unwrap_or_else(|e| e.into_inner());
    if !b.allows(now) {
        return Err(b.retry_after(now).as_secs().max(1));
    }
    if let Some(ip) = conn.ip {
        if let Some(b) = app.failed_by_ip().get_mut(&ip) {
            if !b.allows(now) {
                return Err(b.retry_after(now).as_secs().max(1));
            }
        }
    }
    Ok(())
}

async fn on_join_room(
    s: SocketRef,
    State(app): State<Arc<App>>,
    Extension(conn): Extension<ConnRef>,
    pkt: Packet,
    TryData(d): TryData<serde_json::Value>,
    ack: AckSender,
) {
    let ev = events::JOIN_ROOM;
    // Core-only servers never ack; full servers answer in the ack when asked, else `arena_error`.
    let ack = (pkt.has_ack && !app.config.core_only).then_some(ack);
    let fail = |ack, code: ErrorCode, msg: String| {
        app.metrics.join_failed(code);
        refuse(&s, &app, ack, ev, code, msg);
    };
    if pkt.len > app.config.max_event_bytes {
        return fail(ack, ErrorCode::BadRequest, "payload too large".into());
    }
    if !conn.limits.check(Class::Join) {
        app.metrics.join_failed(ErrorCode::RateLimited);
        return refuse_rate(&s, &app, &conn, ack, ev, "too many room operations");
    }
    let req: JoinRoom = match decode_required(d) {
        Ok(r) => r,
        Err(m) => return fail(ack, ErrorCode::BadRequest, m),
    };
    let now = Instant::now();
    let result = if app.config.core_only {
        let id = req.room_id;
        if id.is_empty() || id.len() > MAX_CORE_ROOM_ID {
            return fail(
                ack,
                ErrorCode::BadRequest,
                format!("roomId must be 1 to {MAX_CORE_ROOM_ID} bytes"),
            );
        }
        let mut rooms = app.rooms();
        let r = rooms.join_or_create(&id, s.id, now).map(|j| (id, j));
        if let Ok((room, joined)) = &r {
            mirror_join(&s, room, joined);
        }
        app.metrics.set_rooms(rooms.room_count());
        r
    } else {
        if let Err(wait) = failed_join_gate(&app, &conn, now) {
            return fail(
                ack,
                ErrorCode::RateLimited,
                format!("too many failed joins, retry in {wait} s"),
            );
        }
        let code = match normalize_code(&req.room_id) {
            Ok(c) => c,
            Err(e) => {
                charge_failed_join(&app, &conn, now);
                return fail(ack, ErrorCode::BadCode, e.to_string());
            }
        };
        let id = code.to_string();
        let mut rooms = app.rooms();
        let r = if req.rejoin {
            rooms.join_or_create(&id, s.id, now)
        } else {
            rooms.join(&id, s.id, now)
        };
        let r = r.map(|j| (id, j));
        if let Ok((room, joined)) = &r {
            mirror_join(&s, room, joined);
        }
        app.metrics.set_rooms(rooms.room_count());
        r
    };
    let (room, joined) = match result {
        Ok(ok) => ok,
        Err(RoomError::NotFound) => {
            charge_failed_join(&app, &conn, now);
            return fail(
                ack,
                ErrorCode::NotFound,
                "no room with that code (it may have expired)".into(),
            );
        }
        Err(RoomError::Full) => {
            let cap = app.config.rooms.capacity;
            return fail(
                ack,
                ErrorCode::Full,
                format!("the room is full ({cap} players)"),
            );
        }
        Err(RoomError::Exists | RoomError::TooManyRooms) => {
            return fail(
                ack,
                ErrorCode::RateLimited,
                "the server has too many rooms, try later".into(),
            );
        }
    };
    deliver_join(&s, &app, ack, room, joined);
}

fn deliver_join(
    s: &SocketRef,
    app: &App,
    ack: Option<AckSender>,
    room: String,
    joined: Joined<Sid>,
) {
    app.metrics.join_ok();
    if let Some(left) = &joined.left {
        notify_left(s, s.id, left);
    }
    if !s.connected() {
        // Disconnected while joining: on_disconnect may have run before the join landed.
        let left = {
            let mut rooms = app.rooms();
            let left = rooms.leave(s.id, Instant::now());
            s.leave_all();
            left
        };
        if let Some(left) = left {
            notify_left(s, s.id, &left);
        }
        return;
    }
    tracing::info!(sid = %s.id, room = %room, users = joined.users.len(), "joined");
    let users: Vec<String> = joined.users.iter().map(ToString::to_string).collect();
    if let Err(e) = s.emit(
        events::ROOM_USERS,
        &RoomUsers {
            users: users.clone(),
        },
    ) {
        tracing::debug!(sid = %s.id, "room_users not sent: {e}");
    }
    let msg = UserJoined {
        user_id: s.id.to_string(),
    };
    for &m in &joined.notify {
        send_to(s, m, events::USER_JOINED, &msg);
    }
    if let Some(ack) = ack {
        let conn = s.extensions.get::<ConnRef>();
        let ice = ice_servers_for(s, app, conn.as_deref());
        let _ = ack.send(&JoinRoomAck {
            users,
            ice_servers: ice,
        });
    }
}

async fn on_leave_room(
    s: SocketRef,
    State(app): State<Arc<App>>,
    Extension(conn): Extension<ConnRef>,
    ack: AckSender,
) {
    if !conn.limits.check(Class::Join) {
        return refuse_rate(
            &s,
            &app,
            &conn,
            Some(ack),
            events::LEAVE_ROOM,
            "too many room operations",
        );
    }
    let left = {
        let mut rooms = app.rooms();
        let left = rooms.leave(s.id, Instant::now());
        if let Some(l) = &left {
            s.leave(l.room.clone());
        }
        left
    };
    if let Some(left) = &left {
        tracing::info!(sid = %s.id, room = %left.room, "left");
        notify_left(&s, s.id, left);
    }
    let _ = ack.send(&LeaveRoomAck {
        left: left.is_some(),
    });
}

/// Parses a target id and checks it shares the sender's room.
/// The target of a `signal` or `relay`, if it is in the sender's room.
/// `signal` may target the sender itself (as with socket.io's `io.to(id)`):
/// clients of core-only servers send themselves a probe to learn their id.
fn target_in_room(
    app: &App,
    from: Sid,
    target: &str,
    allow_self: bool,
) -> Result<Sid, (ErrorCode, String)> {
    let sid = Sid::from_str(target).map_err(|_| {
        (
            ErrorCode::BadRequest,
            "targetId is not a socket id".to_owned(),
        )
    })?;
    if sid == from && allow_self && app.rooms().room_of(from).is_some() {
        return Ok(sid);
    }
    if sid == from || !app.rooms().same_room(from, sid) {
        return Err((ErrorCode::NotFound, "target is not in your room".to_owned()));
    }
    Ok(sid)
}

fn valid_base64(data: &str) -> bool {
    base64::engine::general_purpose::STANDARD
        .decode(data)
        .is_ok()
}

async fn on_signal(
    s: SocketRef,
    State(app): State<Arc<App>>,
    Extension(conn): Extension<ConnRef>,
    pkt: Packet,
    TryData(d): TryData<serde_json::Value>,
) {
    let ev = events::SIGNAL;
    if pkt.len > app.config.max_event_bytes {
        return refuse(
            &s,
            &app,
            None,
            ev,
            ErrorCode::BadRequest,
            "payload too large".into(),
        );
    }
    if !conn.limits.check(Class::Signal) {
        return refuse_rate(&s, &app, &conn, None, ev, "too many signal messages");
    }
    let req: SignalRequest = match decode_required(d) {
        Ok(r) => r,
        Err(m) => return refuse(&s, &app, None, ev, ErrorCode::BadRequest, m),
    };
    if let Err(e) = serde_json::from_value::<Signal>(req.signal.clone()) {
        let m = format!("signal is not an offer, answer or candidate: {e}");
        return refuse(&s, &app, None, ev, ErrorCode::BadRequest, m);
    }
    let target = match target_in_room(&app, s.id, &req.target_id, true) {
        Ok(t) => t,
        Err((code, m)) => return refuse(&s, &app, None, ev, code, m),
    };
    let fwd = SignalForward {
        user_id: s.id.to_string(),
        signal: req.signal,
    };
    let delivered = send_to(&s, target, ev, &fwd);
    app.metrics
        .forwarded(Traffic::Signal, pkt.len, usize::from(delivered));
}

async fn on_relay(
    s: SocketRef,
    State(app): State<Arc<App>>,
    Extension(conn): Extension<ConnRef>,
    pkt: Packet,
    TryData(d): TryData<serde_json::Value>,
) {
    let ev = events::RELAY;
    if pkt.len > app.config.max_event_bytes {
        return refuse(
            &s,
            &app,
            None,
            ev,
            ErrorCode::BadRequest,
            "payload too large".into(),
        );
    }
    if !conn.limits.check(Class::Relay) {
        return refuse_rate(&s, &app, &conn, None, ev, "too many relayed messages");
    }
    let req: RelayRequest = match decode_required(d) {
        Ok(r) => r,
        Err(m) => return refuse(&s, &app, None, ev, ErrorCode::BadRequest, m),
    };
    if !valid_base64(&req.data) {
        return refuse(
            &s,
            &app,
            None,
            ev,
            ErrorCode::BadRequest,
            "data is not standard padded base64".into(),
        );
    }
    let target = match target_in_room(&app, s.id, &req.target_id, false) {
        Ok(t) => t,
        Err((code, m)) => return refuse(&s, &app, None, ev, code, m),
    };
    let bytes = req.data.len();
    let fwd = RelayForward {
        user_id: s.id.to_string(),
        data: req.data,
    };
    let delivered = send_to(&s, target, ev, &fwd);
    app.metrics
        .forwarded(Traffic::Relay, bytes, usize::from(delivered));
}

async fn on_broadcast(
    s: SocketRef,
    State(app): State<Arc<App>>,
    Extension(conn): Extension<ConnRef>,
    pkt: Packet,
    TryData(d): TryData<serde_json::Value>,
) {
    let ev = events::BROADCAST;
    if pkt.len > app.config.max_event_bytes {
        return refuse(
            &s,
            &app,
            None,
            ev,
            ErrorCode::BadRequest,
            "payload too large".into(),
        );
    }
    if !conn.limits.check(Class::Relay) {
        return refuse_rate(&s, &app, &conn, None, ev, "too many relayed messages");
    }
    let req: BroadcastRequest = match decode_required(d) {
        Ok(r) => r,
        Err(m) => return refuse(&s, &app, None, ev, ErrorCode::BadRequest, m),
    };
    if !valid_base64(&req.data) {
        return refuse(
            &s,
            &app,
            None,
            ev,
            ErrorCode::BadRequest,
            "data is not standard padded base64".into(),
        );
    }
    let (room, others) = {
        let rooms = app.rooms();
        let Some(room) = rooms.room_of(s.id) else {
            drop(rooms);
            return refuse(
                &s,
                &app,
                None,
                ev,
                ErrorCode::NotFound,
                "join a room first".into(),
            );
        };
        let others = rooms.members(room).map_or(0, |m| m.len().saturating_sub(1));
        (room.to_owned(), others)
    };
    let bytes = req.data.len();
    let fwd = BroadcastForward {
        user_id: s.id.to_string(),
        data: req.data,
    };
    if let Err(e) = s.to(room).emit(ev, &fwd).await {
        tracing::debug!(sid = %s.id, "broadcast partly failed: {e}");
    }
    app.metrics.forwarded(Traffic::Broadcast, bytes, others);
}

async fn on_disconnect(s: SocketRef, State(app): State<Arc<App>>, reason: DisconnectReason) {
    let (left, count) = {
        let mut rooms = app.rooms();
        let left = rooms.leave(s.id, Instant::now());
        (left, rooms.room_count())
    };
    app.metrics.set_rooms(count);
    app.metrics.disconnected();
    tracing::debug!(sid = %s.id, ?reason, "disconnected");
    if let Some(left) = left {
        tracing::info!(sid = %s.id, room = %left.room, "left (disconnect)");
        let msg = UserLeft {
            user_id: s.id.to_string(),
        };
        for &m in &left.notify {
            send_to(&s, m, events::USER_LEFT, &msg);
        }
    }
}
