//! `create_room`, `join_room`, `leave_room` and disconnect: room membership.
//!
//! Applies what [`crate::policy`] decides (is the join tried, on which room,
//! what a refusal says) and what the room store answers (whom to notify),
//! and mirrors membership into this node's view (its members, and the
//! Socket.IO room of each game room: [`room_of`]). It holds no rule of its
//! own.

use std::sync::Arc;
use std::time::Instant;

use rand::TryRngCore;
use serde_json::Value;
use socketioxide::adapter::Adapter;
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
use crate::store::StoreError;

/// The Socket.IO room of game room `room`: every member, on every node
/// (`broadcast`).
pub(super) fn room_of(room: &str) -> String {
    format!("room:{room}")
}

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

pub(super) async fn on_create_room<A: Adapter>(ev: Incoming<A>, ack: AckSender<A>) {
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
        match cx.app.store.create(code.as_str(), now).await {
            Ok(()) => {
                cx.app.metrics.room_created();
                cx.app.count_rooms().await;
                tracing::info!(sid = %cx.s.id, room = %code, "room created");
                let room_id = code.to_string();
                return cx.answer(&CreateRoomAck { room_id });
            }
            Err(StoreError::Room(RoomError::Exists)) => continue,
            Err(StoreError::Unavailable(e)) => {
                tracing::warn!("room not created: {e}");
                return cx.refuse(Refusal::unavailable());
            }
            Err(StoreError::Room(_)) => break,
        }
    }
    cx.refuse(Refusal::too_many_rooms());
}

pub(super) async fn on_join_room<A: Adapter>(ev: Incoming<A>, ack: AckSender<A>) {
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
    // One room change of this socket at a time, so the store and this
    // node's Socket.IO rooms cannot disagree.
    let turn = cx.conn.room_changes.clone();
    let _turn = turn.lock().await;
    let joined = cx.app.store.join(&plan.room, who, plan.create, now).await;
    match joined {
        Ok(j) => {
            mirror_join(&cx.s, &cx.app, &plan.room, &j);
            cx.app.count_rooms().await;
            deliver_join(cx, &plan.room, j).await;
        }
        Err(e) => {
            let r = match e {
                StoreError::Room(e) => cx.app.joins().refused(who, ip, e, now),
                StoreError::Unavailable(e) => {
                    tracing::warn!(sid = %who, "join not served: {e}");
                    Refusal::unavailable()
                }
            };
            cx.refuse(r);
        }
    }
}

/// Mirrors a store change into this node's view: the socket's Socket.IO
/// room (`broadcast` fan-out) and its entry among the node's members (whom a
/// `signal` or `relay` may address).
fn mirror_join<A: Adapter>(s: &SocketRef<A>, app: &App, room: &str, joined: &Joined<Sid>) {
    if let Some(left) = &joined.left {
        s.leave(room_of(&left.room));
    }
    s.join(room_of(room));
    app.local().insert(s.id, room.to_owned());
}

async fn deliver_join<A: Adapter>(cx: Cx<A>, room: &str, joined: Joined<Sid>) {
    let s = &cx.s;
    cx.app.metrics.join_ok();
    if let Some(left) = &joined.left {
        notify_left(s, s.id, left).await;
    }
    if cx.conn.gone() {
        // Disconnected while joining: on_disconnect may have run before the
        // join landed. (Not `!s.connected()`: that is also false for a first
        // event that overtook socketioxide's marking of the socket as
        // connected; the join was then undone and never answered.)
        leave(s, &cx.app).await;
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
        send_to(s, m, events::USER_JOINED, &msg).await;
    }
    let ice_servers = cx.conn.ice_servers(s, &cx.app);
    cx.answer(&JoinRoomAck { users, ice_servers });
}

pub(super) async fn on_leave_room<A: Adapter>(ev: Incoming<A>, ack: AckSender<A>) {
    let Some((LeaveRoom, cx)) = ev.admit::<LeaveRoom>(Some(ack)) else {
        return;
    };
    let turn = cx.conn.room_changes.clone();
    let _turn = turn.lock().await;
    let left = leave(&cx.s, &cx.app).await;
    if let Some(room) = &left {
        tracing::info!(sid = %cx.s.id, room = %room, "left");
    }
    cx.answer(&LeaveRoomAck {
        left: left.is_some(),
    });
}

pub(super) async fn on_disconnect<A: Adapter>(
    s: SocketRef<A>,
    State(app): State<Arc<App>>,
    reason: DisconnectReason,
) {
    let conn = s.extensions.get::<super::ConnRef>();
    if let Some(c) = &conn {
        c.set_gone();
    }
    let turn = conn.map(|c| c.room_changes.clone());
    let _turn = match &turn {
        Some(t) => Some(t.lock().await),
        None => None,
    };
    let left = leave(&s, &app).await;
    app.joins().forget(s.id);
    app.count_rooms().await;
    app.metrics.disconnected();
    tracing::debug!(sid = %s.id, ?reason, "disconnected");
    if let Some(room) = left {
        tracing::info!(sid = %s.id, room = %room, "left (disconnect)");
    }
}

/// Takes the socket out of its room (the store, and this node's view) and
/// tells the others; the room it left, if any. If the store cannot be
/// reached the leave is kept and tried again by the sweeper
/// ([`App::sweep`]), so no seat stays taken by a socket that is gone.
async fn leave<A: Adapter>(s: &SocketRef<A>, app: &App) -> Option<String> {
    let mine = app.local().remove(&s.id);
    if let Some(room) = &mine {
        s.leave(room_of(room));
    }
    match app.store.leave(s.id, Instant::now()).await {
        Ok(Some(left)) => {
            notify_left(s, s.id, &left).await;
            Some(left.room)
        }
        Ok(None) => None,
        Err(e) => {
            tracing::warn!(sid = %s.id, "leave kept for later: {e}");
            app.leave_later(s.id);
            mine
        }
    }
}

/// Sends `user_left` for `user` to the members `left` names.
pub(super) async fn notify_left<A: Adapter>(s: &SocketRef<A>, user: Sid, left: &Left<Sid>) {
    let msg = UserLeft {
        user_id: user.to_string(),
    };
    for &m in &left.notify {
        send_to(s, m, events::USER_LEFT, &msg).await;
    }
}
