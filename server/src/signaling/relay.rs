//! `signal`, `relay` and `broadcast`: forwarding within a room.
//!
//! Owns the payload checks of forwarded messages (a `signal` is an offer,
//! answer or candidate; game `data` is padded base64) and the traffic
//! counters; whom a sender may address is the registry's rule
//! ([`crate::rooms::RoomRegistry::may_address`]). It never looks inside game
//! data.

use std::str::FromStr;

use base64::Engine;
use serde::de::DeserializeOwned;
use serde_json::Value;
use socketioxide::socket::Sid;

use super::guard::{Cx, Incoming, Request, required};
use super::{App, send_to};
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

/// The target of a `signal` or `relay`, if the sender may address it.
fn resolve_target(app: &App, from: Sid, target: &str, to_self: bool) -> Result<Sid, Refusal> {
    let sid = Sid::from_str(target)
        .map_err(|_| Refusal::new(ErrorCode::BadRequest, "targetId is not a socket id"))?;
    if !app.rooms().may_address(from, sid, to_self) {
        return Err(Refusal::new(
            ErrorCode::NotFound,
            "target is not in your room",
        ));
    }
    Ok(sid)
}

/// Sends `fwd` (a `signal` or `relay`) to `target` in the sender's room and
/// counts its `bytes`. A signal may target its sender (clients of core-only
/// servers send themselves a probe to learn their id), a relay may not.
fn forward<T: serde::Serialize>(cx: Cx, kind: Traffic, target: &str, fwd: &T, bytes: usize) {
    let (event, to_self) = match kind {
        Traffic::Signal => (events::SIGNAL, true),
        Traffic::Relay => (events::RELAY, false),
        Traffic::Broadcast => (events::BROADCAST, false),
    };
    let to = match resolve_target(&cx.app, cx.s.id, target, to_self) {
        Ok(t) => t,
        Err(r) => return cx.refuse(r),
    };
    let delivered = send_to(&cx.s, to, event, fwd);
    cx.app
        .metrics
        .forwarded(kind, bytes, usize::from(delivered));
}

pub(super) async fn on_signal(ev: Incoming) {
    let Some((req, cx)) = ev.admit::<SignalRequest>(None) else {
        return;
    };
    let fwd = SignalForward {
        user_id: cx.s.id.to_string(),
        signal: req.signal,
    };
    let bytes = cx.len;
    forward(cx, Traffic::Signal, &req.target_id, &fwd, bytes);
}

pub(super) async fn on_relay(ev: Incoming) {
    let Some((req, cx)) = ev.admit::<RelayRequest>(None) else {
        return;
    };
    let bytes = req.data.len();
    let fwd = RelayForward {
        user_id: cx.s.id.to_string(),
        data: req.data,
    };
    forward(cx, Traffic::Relay, &req.target_id, &fwd, bytes);
}

pub(super) async fn on_broadcast(ev: Incoming) {
    let Some((req, cx)) = ev.admit::<BroadcastRequest>(None) else {
        return;
    };
    let in_room = {
        let rooms = cx.app.rooms();
        rooms.room_of(cx.s.id).map(|room| {
            let others = rooms.members(room).map_or(0, |m| m.len().saturating_sub(1));
            (room.to_owned(), others)
        })
    };
    let Some((room, others)) = in_room else {
        return cx.refuse(Refusal::new(ErrorCode::NotFound, "join a room first"));
    };
    let bytes = req.data.len();
    let fwd = BroadcastForward {
        user_id: cx.s.id.to_string(),
        data: req.data,
    };
    if let Err(e) = cx.s.to(room).emit(events::BROADCAST, &fwd).await {
        tracing::debug!(sid = %cx.s.id, "broadcast partly failed: {e}");
    }
    cx.app.metrics.forwarded(Traffic::Broadcast, bytes, others);
}
