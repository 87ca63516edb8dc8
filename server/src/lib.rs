//! `arena-server`: the signaling and relay server of P2P Arena.
//!
//! It introduces peers (rooms and the `signal` relay of WebRTC offers, answers
//! and candidates), relays game traffic for pairs of players that cannot reach
//! each other directly, and hands out short-lived TURN credentials. The wire
//! contract is `PROTOCOL.md`; the message types live once, in [`protocol`].
//!
//! The entry point is [`run`]: it takes an already bound listener, a validated
//! [`Config`] and a shutdown future, so the `arena-server` binary, `arena
//! server` and the game's embedded host all start it the same way, and tests
//! bind `127.0.0.1:0` and read the port back.
//!
//! Module map: [`protocol`] (wire types, room codes), [`rooms`] (pure room
//! registry), [`store`] (where the rooms live: in memory, or in Redis for
//! many nodes), [`cluster`] (the Socket.IO adapter over Redis and a node's
//! heartbeat), `policy` (pure join and creation rules: room ids, refusals,
//! failed-join budgets), [`limits`] (rate limits), [`turn`] (ICE servers and
//! TURN credentials), [`metrics`] (counters and `/metrics`), [`web`] (the
//! browser build at `/play`), [`config`] (flags and validation); the
//! Socket.IO handlers live in the private `signaling`
//! folder, one small file per concern, and stay thin.
//!
//! Everything but [`protocol`] is behind the default feature `server`: the
//! game's browser build (wasm32) depends on this crate without it, for the
//! wire types alone, as none of the server's dependencies build there.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "server")]
pub mod cluster;
#[cfg(feature = "server")]
pub mod config;
#[cfg(feature = "server")]
#[doc(hidden)]
pub mod fuzzing;
#[cfg(feature = "server")]
pub mod limits;
#[cfg(feature = "server")]
pub mod metrics;
#[cfg(feature = "server")]
mod policy;
pub mod protocol;
#[cfg(feature = "server")]
pub mod rooms;
#[cfg(feature = "server")]
mod signaling;
#[cfg(feature = "server")]
pub mod store;
#[cfg(feature = "server")]
pub mod stun;
#[cfg(feature = "server")]
pub mod turn;
#[cfg(feature = "server")]
pub mod web;

#[cfg(feature = "server")]
pub use config::{Config, ConfigError, ServerArgs};

#[cfg(feature = "server")]
use std::future::Future;
#[cfg(feature = "server")]
use std::net::SocketAddr;
#[cfg(feature = "server")]
use std::sync::Arc;
#[cfg(feature = "server")]
use std::time::{Duration, Instant};

#[cfg(feature = "server")]
use axum::Router;
#[cfg(feature = "server")]
use axum::http::{HeaderValue, StatusCode, header};
#[cfg(feature = "server")]
use axum::routing::get;
#[cfg(feature = "server")]
use axum::serve::ListenerExt;
#[cfg(feature = "server")]
use socketioxide::adapter::Adapter;
#[cfg(feature = "server")]
use socketioxide::handler::ConnectHandler;
#[cfg(feature = "server")]
use socketioxide::{SocketIo, layer::SocketIoLayer};
#[cfg(feature = "server")]
use socketioxide_redis::{CustomRedisAdapter, RedisAdapterConfig, RedisAdapterCtr};
#[cfg(feature = "server")]
use tokio::net::{TcpListener, UdpSocket};
#[cfg(feature = "server")]
use tower_http::cors::{AllowOrigin, Any, CorsLayer};

#[cfg(feature = "server")]
use crate::cluster::{Health, ManagedDriver};
#[cfg(feature = "server")]
use crate::metrics::Metrics;
#[cfg(feature = "server")]
use crate::signaling::App;
#[cfg(feature = "server")]
use crate::store::MemoryStore;
#[cfg(feature = "server")]
use crate::store::redis::RedisStore;

/// Hard cap on one incoming websocket message or polling request (bytes);
/// above it the transport is closed. Events above [`Config::max_event_bytes`]
/// but below this get a `bad_request` and the connection stays.
#[cfg(feature = "server")]
const TRANSPORT_MAX_BYTES: usize = 1 << 20;

/// The sockets one server serves on: HTTP (Socket.IO, `/metrics`) and the
/// built-in STUN server's UDP sockets (none: STUN off).
#[cfg(feature = "server")]
pub struct Listeners {
    /// Socket.IO and HTTP.
    pub http: TcpListener,
    /// STUN: the main port first, then the alternate (see [`stun::bind`]).
    pub stun: Vec<UdpSocket>,
}

#[cfg(feature = "server")]
impl Listeners {
    /// Binds what `args` asks for: the HTTP port, and the STUN ports unless
    /// `--stun-port 0`. The error names the address that could not be bound.
    pub async fn bind(args: &ServerArgs) -> std::io::Result<Self> {
        let addr = args.listen_addr();
        let http = TcpListener::bind(addr)
            .await
            .map_err(|e| std::io::Error::new(e.kind(), format!("cannot bind {addr}: {e}")))?;
        let stun = match args.stun_addr() {
            Some(a) => stun::bind(a.ip(), a.port()).await.map_err(|e| {
                std::io::Error::new(
                    e.kind(),
                    format!("cannot bind the STUN port {a} ({e}); --stun-port 0 turns STUN off"),
                )
            })?,
            None => Vec::new(),
        };
        Ok(Self { http, stun })
    }

    /// The line the binaries print once bound: `listening on HOST:PORT`,
    /// and the STUN ports when STUN is on.
    pub fn describe(&self) -> String {
        let mut line = match self.http.local_addr() {
            Ok(a) => format!("listening on {a}"),
            Err(_) => "listening".into(),
        };
        let ports: Vec<String> = self
            .stun
            .iter()
            .filter_map(|s| s.local_addr().ok())
            .map(|a| a.port().to_string())
            .collect();
        if !ports.is_empty() {
            line += &format!(" (STUN on UDP {})", ports.join(", "));
        }
        line
    }
}

/// Serves the signaling server on `listener` (no built-in STUN) until
/// `shutdown` completes; see [`serve`].
#[cfg(feature = "server")]
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listeners = Listeners {
        http: listener,
        stun: Vec::new(),
    };
    serve(listeners, config, shutdown).await
}

/// Serves the signaling server and the built-in STUN server on `listeners`
/// until `shutdown` completes.
///
/// With [`Config::redis_url`] this is one node of a multi-node server: rooms
/// live in Redis and events reach sockets on every node (see [`cluster`]); it
/// fails at once if Redis cannot be reached at start. On shutdown every
/// Socket.IO client is disconnected, then the HTTP server drains. Returns
/// once every connection has been closed.
#[cfg(feature = "server")]
pub async fn serve(
    listeners: Listeners,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    tracing::info!(?config, "starting");
    web::log_root(config.web_root.as_deref());
    let metrics = Arc::new(Metrics::default());
    let stun_ports: Vec<u16> = listeners
        .stun
        .iter()
        .filter_map(|s| s.local_addr().ok())
        .map(|a| a.port())
        .collect();
    let Some(url) = config.redis_url.clone() else {
        let store = Arc::new(MemoryStore::new(config.rooms));
        let app = Arc::new(App::new(config, metrics, stun_ports, store, None));
        let (layer, io) = socket_io(app.clone()).build_layer();
        io.ns("/", signaling::on_connect.with(signaling::on_connect_mw));
        return serve_with(listeners, app, layer, io, shutdown).await;
    };
    let unreachable = |e: String| std::io::Error::new(std::io::ErrorKind::ConnectionRefused, e);
    let client = store::redis::client(&url).map_err(unreachable)?;
    let node = format!("{:016x}", rand::random::<u64>());
    let store = Arc::new(
        RedisStore::connect(&client, node.clone(), config.rooms)
            .await
            .map_err(unreachable)?,
    );
    let driver = ManagedDriver::connect(&client).await.map_err(unreachable)?;
    let adapter = RedisAdapterCtr::new_with_driver(
        driver.clone(),
        RedisAdapterConfig::new().with_prefix("arena-sio"),
    );
    let health = Arc::new(Health::default());
    let app = Arc::new(App::new(
        config,
        metrics.clone(),
        stun_ports,
        store.clone(),
        Some(health.clone()),
    ));
    let (layer, io) = socket_io(app.clone())
        .with_adapter::<CustomRedisAdapter<_, ManagedDriver>>(adapter)
        .build_layer();
    io.ns("/", signaling::on_connect.with(signaling::on_connect_mw))
        .await
        .map_err(|e| unreachable(format!("cannot set up the Redis adapter: {e}")))?;
    tracing::info!(node = %node, "node of a multi-node server (rooms in Redis)");
    let members = {
        let app = app.clone();
        move || app.members()
    };
    let beat = tokio::spawn(cluster::run(
        io.clone(),
        driver,
        store,
        health,
        metrics,
        members,
    ));
    let served = serve_with(listeners, app, layer, io, shutdown).await;
    beat.abort();
    served
}

/// The Socket.IO layer's settings, whatever the adapter.
#[cfg(feature = "server")]
fn socket_io(app: Arc<App>) -> socketioxide::SocketIoBuilder {
    let (interval, timeout) = (app.config.ping_interval, app.config.ping_timeout);
    SocketIo::builder()
        .with_state(app)
        .ping_interval(interval)
        .ping_timeout(timeout)
        .max_payload(TRANSPORT_MAX_BYTES as u64)
        .ws_max_message_size(TRANSPORT_MAX_BYTES)
        .ws_max_frame_size(TRANSPORT_MAX_BYTES)
}

#[cfg(feature = "server")]
async fn serve_with<A: Adapter>(
    listeners: Listeners,
    app: Arc<App>,
    layer: SocketIoLayer<A>,
    io: SocketIo<A>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let Listeners {
        http: listener,
        stun: stun_sockets,
    } = listeners;
    let metrics = app.metrics.clone();
    let limiter = Arc::new(stun::SourceLimiter::default());
    let mut stun_tasks: Vec<tokio::task::JoinHandle<()>> = stun_sockets
        .into_iter()
        .map(|s| tokio::spawn(stun::serve(s, limiter.clone(), metrics.clone())))
        .collect();
    let metrics_route = {
        let metrics = metrics.clone();
        move || {
            let body = metrics.render();
            async move { ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body) }
        }
    };
    let health_route = {
        let health = app.health.clone();
        move || {
            let up = health.as_ref().is_none_or(|h| h.redis_up());
            async move {
                if up {
                    (StatusCode::OK, "ok")
                } else {
                    (StatusCode::SERVICE_UNAVAILABLE, "redis unavailable")
                }
            }
        }
    };
    let config = app.config.clone();
    let router = Router::new()
        .route("/healthz", get(health_route))
        .route("/metrics", get(metrics_route))
        .merge(web::router(config.web_root.clone()))
        .layer(layer)
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(config.cors_origins.clone()),
            origin_guard,
        ))
        .layer(cors(&config.cors_origins));

    let sweeper = {
        let (app, io) = (app.clone(), io.clone());
        let every =
            (config.rooms.empty_grace / 2).clamp(Duration::from_millis(50), Duration::from_secs(5));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                app.sweep(Instant::now()).await;
                for (user, left) in app.retry_leaves().await {
                    signaling::tell_left(&io, user, &left).await;
                }
                limiter.sweep();
            }
        })
    };

    let io_for_shutdown = io.clone();
    let signal = async move {
        shutdown.await;
        tracing::info!("shutting down: disconnecting clients");
        io_for_shutdown.close().await;
    };
    // Small frames (signals, 40-byte game messages) must not wait for Nagle +
    // delayed ACK (~40 ms on Linux): disable Nagle on every accepted socket.
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!("cannot set TCP_NODELAY: {e}");
        }
    });
    let served = axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(signal)
    .await;
    sweeper.abort();
    for t in stun_tasks.drain(..) {
        t.abort();
    }
    tracing::info!("stopped");
    served
}

/// With an origin allowlist, a request that names another `Origin` is
/// refused with 403 before it reaches Socket.IO. CORS alone would not stop
/// it: browsers do not apply CORS to websockets, and a refused polling
/// request has already been served when the browser hides the answer.
/// Requests without `Origin` (native clients, curl) pass, and so do
/// same-origin ones (see [`same_origin`]): the browser build this server
/// serves at `/play`.
#[cfg(feature = "server")]
async fn origin_guard(
    axum::extract::State(allowed): axum::extract::State<Arc<Vec<String>>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    if let Some(origin) = req.headers().get(header::ORIGIN)
        && !allowed.is_empty()
        && !allowed.iter().any(|a| a.as_bytes() == origin.as_bytes())
        && !same_origin(origin, request_host(&req))
    {
        tracing::debug!(?origin, "origin refused");
        return (StatusCode::FORBIDDEN, "origin not allowed").into_response();
    }
    next.run(req).await
}

/// The host (and port) the request was sent to: `Host`, or the URI's
/// authority (HTTP/2).
#[cfg(feature = "server")]
fn request_host(req: &axum::extract::Request) -> Option<&str> {
    req.headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()))
}

/// Whether `origin` is `http://HOST` or `https://HOST` for the `host` the
/// request went to: a page this server served (behind a TLS proxy the page
/// is `https` and the proxy forwards the same `Host`). A page elsewhere
/// cannot choose its `Origin`, so this admits nobody an allowlist meant to
/// keep out; a page on a name that resolves to this server (DNS
/// rebinding) gets what any native client gets.
#[cfg(feature = "server")]
fn same_origin(origin: &HeaderValue, host: Option<&str>) -> bool {
    let (Ok(origin), Some(host)) = (origin.to_str(), host) else {
        return false;
    };
    let authority = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    authority.is_some_and(|a| !a.is_empty() && a.eq_ignore_ascii_case(host))
}

#[cfg(feature = "server")]
fn cors(origins: &[String]) -> CorsLayer {
    let base = CorsLayer::new().allow_methods(Any).allow_headers(Any);
    if origins.is_empty() {
        return base.allow_origin(Any);
    }
    let list: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    base.allow_origin(AllowOrigin::list(list))
}

/// Completes on SIGINT (Ctrl-C) or, on Unix, SIGTERM (what PaaS hosts and Docker send).
#[cfg(feature = "server")]
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!("cannot listen for Ctrl-C: {e}");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!("cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("signal received");
}
