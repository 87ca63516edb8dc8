//! `signal`, `relay` and `broadcast`: forwarding within a room.
//!
//! Owns the payload checks of forwarded messages (a `signal` is an offer,
//! answer or candidate; game `data` is padded base64) and the traffic
//! counters. A sender may address members of its own room (and a `signal`,
//! itself): a socket on this node is checked against this node's members and
//! emitted to directly; one on another node is checked against the store and
//! emitted to through the adapter, addressed to its node alone. It never
//! looks inside game data.

use std::str::FromStr;

use base64::Engine;
use serde::de::DeserializeOwned;
use serde_json::Value;
use socketioxide::adapter::Adapter;
use socketioxide::socket::{RemoteSocket, Sid};

use super::App;
use super::guard::{Cx, Incoming, Request, required};
use super::rooms::room_of;
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

/// Where a `signal` or `relay` goes.
enum Target {
    /// A socket on this node (or the sender itself): emitted to directly.
    Here(Sid),
    /// A member of the sender's room connected to another node.
    Elsewhere(Sid),
}

/// Where a `signal` or `relay` from `from` to `target` goes, if the sender
/// may address it (both in one room; itself only when `to_self`).
async fn resolve_target(
    app: &App,
    from: Sid,
    target: &str,
    to_self: bool,
) -> Result<Target, Refusal> {
    let sid = Sid::from_str(target)
        .map_err(|_| Refusal::new(ErrorCode::BadRequest, "targetId is not a socket id"))?;
    let not_in_room = || Refusal::new(ErrorCode::NotFound, "target is not in your room");
    // This node's members: one lock, no allocation when the target is here.
    let room = {
        let local = app.local();
        let Some(room) = local.get(&from) else {
            return Err(not_in_room());
        };
        if sid == from {
            return if to_self {
                Ok(Target::Here(sid))
            } else {
                Err(not_in_room())
            };
        }
        match local.get(&sid) {
            Some(theirs) if theirs == room => return Ok(Target::Here(sid)),
            Some(_) => return Err(not_in_room()),
            None => room.clone(),
        }
    };
    let theirs = app.store.room_of(sid).await.map_err(|e| {
        tracing::debug!("target not resolved: {e}");
        Refusal::unavailable()
    })?;
    if theirs.as_deref() != Some(room.as_str()) {
        return Err(not_in_room());
    }
    Ok(Target::Elsewhere(sid))
}

/// Emits to `to`, a socket on another node, through the adapter. The first
/// time, the adapter is asked where `to` is (`fetch_sockets`); the answer
/// names its node, so this and the next emits are published to that node
/// alone instead of every node (`App::remote_socket`).
async fn emit_remote<A: Adapter, T: serde::Serialize>(
    cx: &Cx<A>,
    to: Sid,
    event: &'static str,
    fwd: &T,
) -> bool {
    let socket = match cx.app.remote_socket::<RemoteSocket<A>>(to) {
        Some(s) => s,
        None => match cx.s.within(to.to_string()).fetch_sockets().await {
            Ok(mut found) if !found.is_empty() => {
                let s = std::sync::Arc::new(found.swap_remove(0));
                cx.app.keep_remote_socket(to, s.clone());
                s
            }
            Ok(_) => return false,
            Err(e) => {
                tracing::debug!(to = %to, "cannot find the socket: {e}");
                return false;
            }
        },
    };
    match socket.emit(event, fwd).await {
        Ok(()) => true,
        Err(e) => {
            cx.app.forget_remote_socket(to);
            tracing::debug!(to = %to, event, "forward failed: {e}");
            false
        }
    }
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
    let target = match resolve_target(&cx.app, cx.s.id, target, to_self).await {
        Ok(t) => t,
        Err(r) => return cx.refuse(r),
    };
    let delivered = match target {
        Target::Here(to) if to == cx.s.id => cx.s.emit(event, fwd).is_ok(),
        Target::Here(to) => {
            cx.s.broadcast()
                .get_socket(to)
                .is_some_and(|t| t.emit(event, fwd).is_ok())
        }
        Target::Elsewhere(to) => emit_remote(&cx, to, event, fwd).await,
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
