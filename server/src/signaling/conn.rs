//! Connection setup: the state one Socket.IO connection keeps for its life.
//!
//! Owns what is learned once at connect — the rate limiters, the client's IP
//! (behind a trusted proxy, `X-Forwarded-For`), whether the connect `auth`
//! carried the room-creation token, the built-in STUN server's URL as this
//! client reaches it — and the `iceServers` handed to the client from it.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use socketioxide::adapter::Adapter;
use socketioxide::extract::SocketRef;

use super::App;
use crate::limits::ConnLimits;
use crate::policy::ct_eq;
use crate::protocol::IceServer;
use crate::turn;

/// Per-connection state, stored in the socket's extensions.
pub(super) struct Conn {
    pub(super) limits: ConnLimits,
    pub(super) ip: Option<IpAddr>,
    /// The connect `auth` carried the right room-creation token.
    pub(super) token_ok: bool,
    /// `stun:HOST:PORT` of the built-in STUN server as this client can reach
    /// it (the public host, else the host it connected to), if STUN is on.
    stun_url: Option<String>,
    /// Held while the socket joins or leaves a room (one change at a time).
    pub(super) room_changes: Arc<tokio::sync::Mutex<()>>,
    /// The disconnect handler has started: a join that lands now must be
    /// undone. (Not `SocketRef::connected()`: socketioxide 0.18 sends the
    /// namespace ack before it marks the socket connected, so a client's
    /// first event can run while `connected()` is still false.)
    gone: AtomicBool,
}

pub(super) type ConnRef = Arc<Conn>;

impl Conn {
    /// The state of the connection `s`, which connected with `auth`.
    pub(super) fn new<A: Adapter>(
        s: &SocketRef<A>,
        app: &App,
        auth: Option<&serde_json::Value>,
    ) -> Self {
        let token_ok = match (&app.config.create_token, auth) {
            (Some(want), Some(v)) => v
                .get("token")
                .and_then(|t| t.as_str())
                .is_some_and(|t| ct_eq(t, want)),
            _ => false,
        };
        Self {
            limits: ConnLimits::new(&app.config.limits),
            ip: client_ip(s, app.config.trust_proxy),
            token_ok,
            stun_url: stun_url(s, app),
            room_changes: Arc::default(),
            gone: AtomicBool::new(false),
        }
    }

    /// The socket disconnected (called first thing by the disconnect handler).
    pub(super) fn set_gone(&self) {
        self.gone.store(true, Ordering::SeqCst);
    }

    /// Whether the socket has disconnected.
    pub(super) fn gone(&self) -> bool {
        self.gone.load(Ordering::SeqCst)
    }

    /// The `iceServers` this client is given: the built-in STUN server first,
    /// then the configured STUN and TURN servers (TURN with fresh credentials).
    pub(super) fn ice_servers<A: Adapter>(&self, s: &SocketRef<A>, app: &App) -> Vec<IceServer> {
        let c = &app.config;
        let stun: Vec<String> = self
            .stun_url
            .iter()
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
}

fn stun_url<A: Adapter>(s: &SocketRef<A>, app: &App) -> Option<String> {
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

fn client_ip<A: Adapter>(s: &SocketRef<A>, trust_proxy: bool) -> Option<IpAddr> {
    let parts = s.req_parts();
    if trust_proxy {
        // Proxies that append (HAProxy's `option forwardfor`) may add a
        // header line of their own after the client's: the last line counts.
        let fwd = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .next_back()
            .and_then(|h| h.to_str().ok());
        // The last entry is the one the trusted proxy added; what comes
        // before it was written by the client and may be anything.
        if let Some(ip) = fwd
            .and_then(|h| h.rsplit(',').next())
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

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
