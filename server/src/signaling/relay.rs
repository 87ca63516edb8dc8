//! `signal`, `relay` and `broadcast`: forwarding within a room.
//!
//! Owns the payload checks of forwarded messages (a `signal` is an offer,
//! answer or candidate; game `data` is padded base64) and the traffic
//! counters. A sender may address members of its own room (and a `signal`,
//! itself): a socket on this node is checked against this node's members,
//! one on another node against the store, and is then addressed through the
//! Socket.IO room that holds it only while it is in the sender's room
//! ([`super::rooms::member_of`]). It never looks inside game data.

use std::str::FromStr;

use base64::Engine;
use serde::de::DeserializeOwned;
use serde_json::Value;
use socketioxide::adapter::Adapter;
use socketioxide::socket::Sid;

use super::App;
use super::guard::{Cx, Incoming, Request, required};
use super::rooms::{member_of, room_of};
use crate::limits::Class;
use crate::metrics::Traffic;
use crate::policy::Refusal;
use crate::protocol::{
    BroadcastForward, BroadcastRequest, ErrorCode, RelayForward, RelayRequest, Signal,
    SignalForward, SignalRequest, events,
};

impl Request for SignalRequest {
    const EVENT: &'static str = events::SIGNAL;
    const CLASS: Class = Class::Signal;
    fn read(arg: Value) -> Result<Self, String> {
        let req: Self = required(arg)?;
        match serde_json::from_value::<Signal>(req.signal.clone()) {
            Ok(_) => Ok(req),
            Err(e) => Err(format!("signal is not an offer, answer or candidate: {e}")),
        }
    }
}

impl Request for RelayRequest {
    const EVENT: &'static str = events::RELAY;
    const CLASS: Class = Class::Relay;
    fn read(arg: Value) -> Result<Self, String> {
        with_game_data(arg, |r: &Self| &r.data)
    }
}

impl Request for BroadcastRequest {
    const EVENT: &'static str = events::BROADCAST;
    const CLASS: Class = Class::Relay;
    fn read(arg: Value) -> Result<Self, String> {
        with_game_data(arg, |r: &Self| &r.data)
    }
}

/// Reads a request that carries game data: one message as standard padded base64.
fn with_game_data<T: DeserializeOwned>(arg: Value, data: fn(&T) -> &str) -> Result<T, String> {
    let req: T = required(arg)?;
    match base64::engine::general_purpose::STANDARD.decode(data(&req)) {
        Ok(_) => Ok(req),
        Err(_) => Err("data is not standard padded base64".into()),
    }
}

/// Where a `signal` or `relay` from `from` to `target` goes, if the sender
/// may address it: the target and the room they share.
async fn resolve_target(
    app: &App,
    from: Sid,
    target: &str,
    to_self: bool,
) -> Result<(Sid, String), Refusal> {
    let sid = Sid::from_str(target)
        .map_err(|_| Refusal::new(ErrorCode::BadRequest, "targetId is not a socket id"))?;
    let not_in_room = || Refusal::new(ErrorCode::NotFound, "target is not in your room");
    let room = app.local_room(from).ok_or_else(not_in_room)?;
    if sid == from {
        return if to_self {
            Ok((sid, room))
        } else {
            Err(not_in_room())
        };
    }
    let theirs = match app.local_room(sid) {
        Some(r) => Some(r),
        None => app.store.room_of(sid).await.map_err(|e| {
            tracing::debug!("target not resolved: {e}");
            Refusal::unavailable()
        })?,
    };
    if theirs.as_deref() != Some(room.as_str()) {
        return Err(not_in_room());
    }
    Ok((sid, room))
}

/// Sends `fwd` (a `signal` or `relay`) to `target` in the sender's room and
/// counts its `bytes`. A signal may target its sender (clients of core-only
/// servers send themselves a probe to learn their id), a relay may not.
async fn forward<A: Adapter, T: serde::Serialize>(
    cx: Cx<A>,
    kind: Traffic,
    target: &str,
    fwd: &T,
    bytes: usize,
) {
    let (event, to_self) = match kind {
        Traffic::Signal => (events::SIGNAL, true),
        Traffic::Relay => (events::RELAY, false),
        Traffic::Broadcast => (events::BROADCAST, false),
    };
    let (to, room) = match resolve_target(&cx.app, cx.s.id, target, to_self).await {
        Ok(t) => t,
        Err(r) => return cx.refuse(r),
    };
    let local = if to == cx.s.id {
        Some(cx.s.clone())
    } else {
        cx.s.broadcast().get_socket(to)
    };
    let delivered = match local {
        Some(t) => t.emit(event, fwd).is_ok(),
        None => match cx.s.to(member_of(to, &room)).emit(event, fwd).await {
            Ok(()) => true,
            Err(e) => {
                tracing::debug!(to = %to, event, "forward failed: {e}");
                false
            }
        },
    };
    cx.app
        .metrics
        .forwarded(kind, bytes, usize::from(delivered));
}

pub(super) async fn on_signal<A: Adapter>(ev: Incoming<A>) {
    let Some((req, cx)) = ev.admit::<SignalRequest>(None) else {
        return;
    };
    let fwd = SignalForward {
        user_id: cx.s.id.to_string(),
        signal: req.signal,
    };
    let bytes = cx.len;
    forward(cx, Traffic::Signal, &req.target_id, &fwd, bytes).await;
}

pub(super) async fn on_relay<A: Adapter>(ev: Incoming<A>) {
    let Some((req, cx)) = ev.admit::<RelayRequest>(None) else {
        return;
    };
    let bytes = req.data.len();
    let fwd = RelayForward {
        user_id: cx.s.id.to_string(),
        data: req.data,
    };
    forward(cx, Traffic::Relay, &req.target_id, &fwd, bytes).await;
}

pub(super) async fn on_broadcast<A: Adapter>(ev: Incoming<A>) {
    let Some((req, cx)) = ev.admit::<BroadcastRequest>(None) else {
        return;
    };
    let Some(room) = cx.app.local_room(cx.s.id) else {
        return cx.refuse(Refusal::new(ErrorCode::NotFound, "join a room first"));
    };
    let others = match cx.app.store.members(&room).await {
        Ok(m) => m.len().saturating_sub(1),
        Err(_) => 0,
    };
    let bytes = req.data.len();
    let fwd = BroadcastForward {
        user_id: cx.s.id.to_string(),
        data: req.data,
    };
    if let Err(e) = cx.s.to(room_of(&room)).emit(events::BROADCAST, &fwd).await {
        tracing::debug!(sid = %cx.s.id, "broadcast partly failed: {e}");
    }
    cx.app.metrics.forwarded(Traffic::Broadcast, bytes, others);
}
