//! Hosting the signaling server in this process: `arena server` in the
//! foreground, and (for LAN play and the one-command demo) an embedded server
//! on a background runtime.

use std::net::SocketAddr;

use thiserror::Error;
use tokio::net::TcpListener;

/// Failures of the network layer that end the operation.
#[derive(Debug, Error)]
pub enum NetError {
    /// The tokio runtime could not be built.
    #[error("cannot start the network runtime: {0}")]
    Runtime(std::io::Error),
    /// The listening address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// The server stopped with an error.
    #[error("signaling server failed: {0}")]
    Serve(std::io::Error),
    /// The server's flags are invalid.
    #[error("invalid server configuration: {0}")]
    Config(String),
}

/// Runs the signaling server (and its built-in STUN server unless
/// `--stun-port 0`) in the foreground until SIGINT or SIGTERM.
///
/// Prints `listening on HOST:PORT (STUN on UDP ...)` (the real port when
/// `--port 0`) on stdout once it accepts connections.
pub fn serve_blocking(args: &arena_server::ServerArgs) -> Result<(), NetError> {
    let config = args
        .to_config()
        .map_err(|e| NetError::Config(e.to_string()))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(NetError::Runtime)?;
    runtime.block_on(async move {
        let listeners = arena_server::Listeners::bind(args)
            .await
            .map_err(|source| NetError::Bind {
                addr: args.listen_addr(),
                source,
            })?;
        println!("{}", listeners.describe());
        arena_server::serve(listeners, config, arena_server::shutdown_signal())
            .await
            .map_err(NetError::Serve)
    })
}

/// The embedded server's STUN sockets on `ip`: the standard port 3478 (and
/// 3479) when `http_port` is a fixed one and 3478 is free, else free ports
/// (tests bind port 0 everywhere; another game or coturn may hold 3478).
/// STUN is a convenience here: failing to bind it only logs.
fn embedded_stun(ip: std::net::IpAddr, http_port: u16) -> Vec<std::net::UdpSocket> {
    let bind = |port: u16| -> std::io::Result<Vec<std::net::UdpSocket>> {
        let first = std::net::UdpSocket::bind(SocketAddr::new(ip, port))?;
        let alt = if port == 0 { 0 } else { port + 1 };
        let mut out = vec![first];
        if let Ok(s) = std::net::UdpSocket::bind(SocketAddr::new(ip, alt)) {
            out.push(s);
        }
        for s in &out {
            s.set_nonblocking(true)?;
        }
        Ok(out)
    };
    let tried = if http_port == 0 {
        bind(0)
    } else {
        bind(EMBEDDED_STUN_PORT).or_else(|_| bind(0))
    };
    tried.unwrap_or_else(|e| {
        tracing::warn!("embedded server: no built-in STUN ({e})");
        Vec::new()
    })
}

/// The standard STUN port, which the embedded server's STUN tries first.
pub const EMBEDDED_STUN_PORT: u16 = 3478;

/// A signaling server running on its own thread in this process (LAN play,
/// the one-command demo, tests). Stops when dropped.
pub struct EmbeddedServer {
    addr: SocketAddr,
    stun_ports: Vec<u16>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl EmbeddedServer {
    /// Binds `addr` (port 0 picks a free port) and serves in the background,
    /// with the built-in STUN server (see `embedded_stun`).
    pub fn start(addr: SocketAddr, config: arena_server::Config) -> Result<Self, NetError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("arena-server")
            .enable_all()
            .build()
            .map_err(NetError::Runtime)?;
        let std_listener =
            std::net::TcpListener::bind(addr).map_err(|source| NetError::Bind { addr, source })?;
        std_listener
            .set_nonblocking(true)
            .map_err(NetError::Serve)?;
        let local = std_listener.local_addr().map_err(NetError::Serve)?;
        let std_stun = embedded_stun(local.ip(), addr.port());
        let stun_ports: Vec<u16> = std_stun
            .iter()
            .filter_map(|s| s.local_addr().ok())
            .map(|a| a.port())
            .collect();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("arena-server-main".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let listener = match TcpListener::from_std(std_listener) {
                        Ok(l) => l,
                        Err(e) => return tracing::error!("embedded server: {e}"),
                    };
                    let stun = std_stun
                        .into_iter()
                        .filter_map(|s| tokio::net::UdpSocket::from_std(s).ok())
                        .collect();
                    let listeners = arena_server::Listeners {
                        http: listener,
                        stun,
                    };
                    let shutdown = async {
                        let _ = stopped.await;
                    };
                    if let Err(e) = arena_server::serve(listeners, config, shutdown).await {
                        tracing::error!("embedded server stopped: {e}");
                    }
                });
            })
            .map_err(NetError::Runtime)?;
        Ok(EmbeddedServer {
            addr: local,
            stun_ports,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its built-in STUN server's UDP ports (main first); empty if STUN could not bind.
    pub fn stun_ports(&self) -> &[u16] {
        &self.stun_ports
    }

    /// `http://ADDR` for clients on this machine (`127.0.0.1` when bound to
    /// every interface).
    pub fn url(&self) -> String {
        let mut a = self.addr;
        if a.ip().is_unspecified() {
            a.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        format!("http://{a}")
    }
}

impl Drop for EmbeddedServer {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// This machine's address on its local network: the source address the OS
/// would pick to reach outside (a UDP `connect` sends nothing). `None` when
/// there is no such route; the embedded server's hint then names no address.
pub fn lan_address() -> Option<std::net::IpAddr> {
    let socket = std::net::UdpSocket::bind((std::net::Ipv4Addr::UNSPECIFIED, 0)).ok()?;
    // TEST-NET-1 (RFC 5737): never routed anywhere, only used to pick a source.
    socket
        .connect((std::net::Ipv4Addr::new(192, 0, 2, 1), 9))
        .ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_unspecified() && !ip.is_loopback()).then_some(ip)
}
