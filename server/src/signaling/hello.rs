//! `hello`: what this server is and supports (extension, docs/PROTOCOL.md §2).
//!
//! Owns the feature list and the hello ack; it changes no state.

use serde_json::Value;
use socketioxide::adapter::Adapter;
use socketioxide::extract::AckSender;

use super::guard::{Incoming, Request, or_default};
use crate::limits::Class;
use crate::protocol::{Hello, HelloAck, PROTOCOL_VERSION, SERVER_NAME, events};

impl Request for Hello {
    const EVENT: &'static str = events::HELLO;
    const CLASS: Class = Class::Join;
    fn read(arg: Value) -> Result<Self, String> {
        or_default(arg)
    }
}

/// Features every full server has; `turn`, `create_token` and `stun` are
/// added when configured.
const FEATURES: [&str; 8] = [
    "create_room",
    "codes",
    "relay",
    "leave_room",
    "ice_servers",
    "arena_error",
    "rejoin",
    "self_id",
];

pub(super) async fn on_hello<A: Adapter>(ev: Incoming<A>, ack: AckSender<A>) {
    let Some((hello, cx)) = ev.admit::<Hello>(Some(ack)) else {
        return;
    };
    tracing::debug!(sid = %cx.s.id, v = ?hello.v, name = ?hello.name, "hello");
    let config = &cx.app.config;
    let mut features: Vec<String> = FEATURES.into_iter().map(String::from).collect();
    if config.turn_secret.is_some() && !config.turn_urls.is_empty() {
        features.push("turn".into());
    }
    if config.create_token.is_some() {
        features.push("create_token".into());
    }
    if !cx.app.stun_ports.is_empty() {
        features.push("stun".into());
    }
    // What `arena doctor` tests before joining; TURN credentials only to
    // whoever may create rooms anyway (they get them on join).
    let may_create = config.create_token.is_none() || cx.conn.token_ok;
    let ice_servers = may_create.then(|| cx.conn.ice_servers(&cx.s, &cx.app));
    let reply = HelloAck {
        server: SERVER_NAME.into(),
        version: format!(
            "{} (protocol {PROTOCOL_VERSION})",
            env!("CARGO_PKG_VERSION")
        ),
        features,
        id: Some(cx.s.id.to_string()),
        ice_servers,
        stun_ports: cx.app.stun_ports.clone(),
    };
    cx.answer(&reply);
}
