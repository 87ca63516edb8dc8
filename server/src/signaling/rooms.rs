//! `create_room`, `join_room`, `leave_room` and disconnect: room membership.
//!
//! Applies what [`crate::policy`] decides (is the join tried, on which room,
//! what a refusal says) and what [`crate::rooms`] answers (whom to notify),
//! and mirrors membership into the Socket.IO rooms used by `broadcast`. It
//! holds no rule of its own.

use std::sync::Arc;
use std::time::Instant;

use rand::TryRngCore;
use serde_json::Value;
use socketioxide::extract::{AckSender, SocketRef, State};
use socketioxide::socket::{DisconnectReason, Sid};

use super::guard::{Cx, Incoming, Request, or_default, required};
use super::{App, send_to};
use crate::limits::Class;
use crate::policy::{CREATE_ATTEMPTS, Refusal, may_create};
use crate::protocol::{
    CreateRoom, CreateRoomAck, ErrorCode, JoinRoom, JoinRoomAck, LeaveRoomAck, RoomCode, RoomUsers,
    UserJoined, UserLeft, events,
};
use crate::rooms::{Joined, Left, RoomError};

impl Request for CreateRoom {
    const EVENT: &'static str = events::CREATE_ROOM;
    const CLASS: Class = Class::Join;
    fn read(arg: Value) -> Result<Self, String> {
        or_default(arg)
    }
}

impl Request for JoinRoom {
    const EVENT: &'static str = events::JOIN_ROOM;
    const CLASS: Class = Class::Join;
    fn read(arg: Value) -> Result<Self, String> {
        required(arg)
    }
}

/// `leave_room` takes no argument (`{}` by the protocol, not read).
pub(super) struct LeaveRoom;

impl Request for LeaveRoom {
    const EVENT: &'static str = events::LEAVE_ROOM;
    const CLASS: Class = Class::Join;
    const HAS_ARGUMENT: bool = false;
    fn read(_: Value) -> Result<Self, String> {
        Ok(Self)
    }
}

pub(super) async fn on_create_room(ev: Incoming, ack: AckSender) {
    let Some((req, cx)) = ev.admit::<CreateRoom>(Some(ack)) else {
        return;
    };
    let want = cx.app.config.create_token.as_deref();
    if let Err(r) = may_create(want, cx.conn.token_ok, req.token.as_deref()) {
        return cx.refuse(r);
    }
    let now = Instant::now();
    for _ in 0..CREATE_ATTEMPTS {
        let bits = match rand::rngs::OsRng.try_next_u64() {
            Ok(b) => b,
            Err(e) => {
                tracing::error!("OS random generator failed: {e}");
                let m = "could not draw a room code, try again";
                return cx.refuse(Refusal::new(ErrorCode::RateLimited, m));
            }
        };
        let code = RoomCode::from_bits(bits);
        let (res, count) = {
            let mut rooms = cx.app.rooms();
            let res = rooms.create(code.as_str(), now);
            (res, rooms.room_count())
        };
        match res {
            Ok(()) => {
                cx.app.metrics.room_created();
                cx.app.metrics.set_rooms(count);
                tracing::info!(sid = %cx.s.id, room = %code, "room created");
                let room_id = code.to_string();
                return cx.answer(&CreateRoomAck { room_id });
            }
            Err(RoomError::Exists) => continue,
            Err(_) => break,
        }
    }
    cx.refuse(Refusal::too_many_rooms());
}

pub(super) async fn on_join_room(ev: Incoming, ack: AckSender) {
    // Core-only servers never ack; full servers answer in the ack when asked, else `arena_error`.
    let ack = (ev.has_ack && !ev.core_only()).then_some(ack);
    let Some((req, cx)) = ev.admit::<JoinRoom>(ack) else {
        return;
    };
    let (who, ip, now) = (cx.s.id, cx.conn.ip, Instant::now());
    let plan = cx.app.joins().plan(who, ip, &req, now);
    let plan = match plan {
        Ok(p) => p,
        Err(r) => return cx.refuse(r),
    };
    let joined = {
        let mut rooms = cx.app.rooms();
        let joined = if plan.create {
            rooms.join_or_create(&plan.room, who, now)
        } else {
            rooms.join(&plan.room, who, now)
        };
        if let Ok(j) = &joined {
            mirror_join(&cx.s, &plan.room, j);
        }
        cx.app.metrics.set_rooms(rooms.room_count());
        joined
    };
    match joined {
        Ok(j) => deliver_join(cx, &plan.room, j),
        Err(e) => {
            let r = cx.app.joins().refused(who, ip, e, now);
            cx.refuse(r);
        }
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

fn deliver_join(cx: Cx, room: &str, joined: Joined<Sid>) {
    let s = &cx.s;
    cx.app.metrics.join_ok();
    if let Some(left) = &joined.left {
        notify_left(s, left);
    }
    if !s.connected() {
        // Disconnected while joining: on_disconnect may have run before the join landed.
        leave(s, &cx.app);
        return;
    }
    tracing::info!(sid = %s.id, room = %room, users = joined.users.len(), "joined");
    let users: Vec<String> = joined.users.iter().map(ToString::to_string).collect();
    let list = RoomUsers {
        users: users.clone(),
    };
    if let Err(e) = s.emit(events::ROOM_USERS, &list) {
        tracing::debug!(sid = %s.id, "room_users not sent: {e}");
    }
    let msg = UserJoined {
        user_id: s.id.to_string(),
    };
    for &m in &joined.notify {
        send_to(s, m, events::USER_JOINED, &msg);
    }
    let ice_servers = cx.conn.ice_servers(s, &cx.app);
    cx.answer(&JoinRoomAck { users, ice_servers });
}

pub(super) async fn on_leave_room(ev: Incoming, ack: AckSender) {
    let Some((LeaveRoom, cx)) = ev.admit::<LeaveRoom>(Some(ack)) else {
        return;
    };
    let left = leave(&cx.s, &cx.app);
    if let Some(room) = &left {
        tracing::info!(sid = %cx.s.id, room = %room, "left");
    }
    cx.answer(&LeaveRoomAck {
        left: left.is_some(),
    });
}

pub(super) async fn on_disconnect(
    s: SocketRef,
    State(app): State<Arc<App>>,
    reason: DisconnectReason,
) {
    let left = leave(&s, &app);
    app.joins().forget(s.id);
    let count = app.rooms().room_count();
    app.metrics.set_rooms(count);
    app.metrics.disconnected();
    tracing::debug!(sid = %s.id, ?reason, "disconnected");
    if let Some(room) = left {
        tracing::info!(sid = %s.id, room = %room, "left (disconnect)");
    }
}

/// Takes the socket out of its room (the registry and its Socket.IO room) and
/// tells the others; the room it left, if any.
fn leave(s: &SocketRef, app: &App) -> Option<String> {
    let left = {
        let mut rooms = app.rooms();
        let left = rooms.leave(s.id, Instant::now());
        if let Some(l) = &left {
            s.leave(l.room.clone());
        }
        left
    }?;
    notify_left(s, &left);
    Some(left.room)
}

fn notify_left(s: &SocketRef, left: &Left<Sid>) {
    let msg = UserLeft {
        user_id: s.id.to_string(),
    };
    for &m in &left.notify {
        send_to(s, m, events::USER_LEFT, &msg);
    }
}
