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
}

/// Runs the signaling server in the foreground until SIGINT or SIGTERM.
///
/// Prints `listening on HOST:PORT` (the real port when `addr` asks for port 0)
/// on stdout once it accepts connections.
pub fn serve_blocking(addr: SocketAddr, config: arena_server::Config) -> Result<(), NetError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(NetError::Runtime)?;
    runtime.block_on(async move {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| NetError::Bind { addr, source })?;
        let local = listener.local_addr().map_err(NetError::Serve)?;
        println!("listening on {local}");
        arena_server::run(listener, config, arena_server::shutdown_signal())
            .await
            .map_err(NetError::Serve)
    })
}

/// A signaling server running on its own thread in this process (LAN play,
/// the one-command demo, tests). Stops when dropped.
pub struct EmbeddedServer {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl EmbeddedServer {
    /// Binds `addr` (port 0 picks a free port) and serves in the background.
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
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("arena-server-main".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let listener = match TcpListener::from_std(std_listener) {
                        Ok(l) => l,
                        Err(e) => return tracing::error!("embedded server: {e}"),
                    };
                    let shutdown = async {
                        let _ = stopped.await;
                    };
                    if let Err(e) = arena_server::run(listener, config, shutdown).await {
                        tracing::error!("embedded server stopped: {e}");
                    }
                });
            })
            .map_err(NetError::Runtime)?;
        Ok(EmbeddedServer {
            addr: local,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
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
