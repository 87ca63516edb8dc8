//! The network side of the game: everything that owns a socket or a tokio
//! runtime lives here and nowhere else. It must not touch macroquad or the
//! game rules.
//!
//! [`NetHandle::spawn`] starts the net thread: a std thread running a
//! current-thread tokio runtime, on which every task of the net side takes
//! its turn. Every decision is made by [`core::NetCore`], a state machine with
//! no I/O and no clock; the native shell ([`driver`]) feeds it what happens
//! and carries out what it asks with the signaling client ([`signaling`],
//! rust_socketio) and one WebRTC peer connection per remote player ([`peer`],
//! webrtc 0.21). The game talks to the thread only through two channels:
//! [`NetCommand`] in (tokio's unbounded channel, straight into the driver's
//! inbox: its send never blocks and needs no runtime), [`NetEvent`] out
//! (crossbeam, drained with `try_iter()`); it never blocks on either.
//!
//! The core's rules build on smaller pure state machines, unit-tested
//! without sockets: [`route`] (modes, P2P timeout and retry, which route),
//! [`reliable`] (exactly-once in-order events across route changes and
//! reconnections) and [`conditioner`] (artificial latency, jitter, loss).
//! [`sio`] is a pure engine.io / Socket.IO client codec and state machine
//! for shells that have only a raw WebSocket (the browser's).
//! [`host`] runs the signaling server in this process (`arena server`, and
//! the embedded server).
//!
//! ```text
//!  game ──NetCommand──▶ driver ──Input──▶ NetCore
//!       ◀──NetEvent───  (shell) ◀─Output──  (pure)
//!                          │
//!                          ├──▶ signaling (hello, rooms, signal, relay)
//!                          └──▶ peer connections (state + events channels)
//! ```

mod api;
pub mod conditioner;
pub mod core;
#[cfg(not(target_arch = "wasm32"))]
pub mod doctor;
#[cfg(not(target_arch = "wasm32"))]
mod driver;
#[cfg(not(target_arch = "wasm32"))]
pub mod hops;
#[cfg(not(target_arch = "wasm32"))]
mod host;
#[cfg(not(target_arch = "wasm32"))]
mod peer;
pub mod reliable;
pub mod route;
#[cfg(not(target_arch = "wasm32"))]
pub mod signaling;
pub mod sio;
#[cfg(not(target_arch = "wasm32"))]
pub mod turn_probe;
mod usage;
pub mod web;
pub mod wire;

#[cfg(not(target_arch = "wasm32"))]
use std::sync::Arc;
#[cfg(not(target_arch = "wasm32"))]
use std::thread::JoinHandle;
#[cfg(not(target_arch = "wasm32"))]
use std::time::Duration;

#[cfg(not(target_arch = "wasm32"))]
use crossbeam_channel::Receiver;
#[cfg(not(target_arch = "wasm32"))]
use tokio::sync::mpsc;

pub use api::{
    LeaveReason, LinkConditions, NetCommand, NetConfig, NetEvent, PeerStats, RoomErrorKind,
};
#[cfg(not(target_arch = "wasm32"))]
pub use host::{EmbeddedServer, NetError, lan_address, serve_blocking};
pub use route::{CandidateKind, CandidatePair, NetMode, Route, RoutePolicy};
pub use usage::Usage;
#[cfg(target_arch = "wasm32")]
pub use web::{NetError, NetHandle};

#[cfg(not(target_arch = "wasm32"))]
use driver::Driver;

/// The game's handle on the net thread (desktop only: the browser's shell
/// drives [`core::NetCore`] from the frame loop instead).
///
/// Dropping it shuts the thread down (leaving the room) and waits briefly.
#[cfg(not(target_arch = "wasm32"))]
pub struct NetHandle {
    id: crate::proto::NetId,
    /// The driver's command inbox. tokio's unbounded sender never blocks
    /// and needs no runtime, so the game sends into it directly: no thread
    /// in between to wake (see [`NetHandle::spawn`]).
    commands: mpsc::UnboundedSender<NetCommand>,
    events: Receiver<NetEvent>,
    thread: Option<JoinHandle<()>>,
    /// The net thread's runtime, for its task count ([`NetHandle::usage`]).
    runtime: tokio::runtime::Handle,
    /// The hop recorder, when [`NetConfig::record_hops`].
    hops: Option<Arc<hops::Hops>>,
}

#[cfg(not(target_arch = "wasm32"))]
impl NetHandle {
    /// Starts the net thread; it connects to `config.server_url` at once and
    /// reports [`NetEvent::Connected`] or [`NetEvent::ServerUnreachable`].
    ///
    /// The thread runs a current-thread runtime: the driver, the signaling
    /// client, every peer connection's task, channel readers and webrtc's
    /// own connection drivers all take turns on this one thread. A message
    /// then passes from task to task without waking another thread, and a
    /// ping's round trip wakes each process once, when its datagram
    /// arrives (BENCHMARKS.md, "Where a round trip goes"). The work is
    /// small (a few percent of a core for a room of 8); only DNS lookups go
    /// to tokio's blocking threads.
    pub fn spawn(config: NetConfig) -> Result<NetHandle, NetError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .thread_name("arena-net-blocking")
            .enable_all()
            .build()
            .map_err(NetError::Runtime)?;
        // Our identity on the network: random, odd (never 0), kept for the thread's life.
        let id = rand::random::<u64>() | 1;
        let (cmd_tx, cmd_rx) = mpsc::unbounded_channel::<NetCommand>();
        let (ev_tx, ev_rx) = crossbeam_channel::unbounded::<NetEvent>();
        let handle = runtime.handle().clone();
        let hops = config.record_hops.then(|| Arc::new(hops::Hops::new()));
        let recorder = hops.clone();
        let thread = std::thread::Builder::new()
            .name("arena-net".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let (tx, rx) = mpsc::unbounded_channel();
                    Driver::new(config, id, ev_tx, tx, recorder)
                        .run(cmd_rx, rx)
                        .await;
                });
                runtime.shutdown_timeout(Duration::from_millis(500));
            })
            .map_err(NetError::Runtime)?;
        Ok(NetHandle {
            id,
            commands: cmd_tx,
            events: ev_rx,
            thread: Some(thread),
            runtime: handle,
            hops,
        })
    }

    /// Our stable network id (what peers see in `PeerJoined`).
    pub fn id(&self) -> crate::proto::NetId {
        self.id
    }

    /// Sends a command; never blocks. Ignored once the thread has ended.
    pub fn send(&self, command: NetCommand) {
        let _ = self.commands.send(command);
    }

    /// The event stream: drain it with `try_iter()` once per frame.
    pub fn events(&self) -> &Receiver<NetEvent> {
        &self.events
    }

    /// What this process holds now (memory, descriptors) and how many tasks
    /// are alive on the net thread's runtime: peer connections, their
    /// drivers and channel readers, requests in flight. For leak checks
    /// (`arena churn`, `arena bot --usage-every`).
    pub fn usage(&self) -> Usage {
        Usage::now(self.runtime.metrics().num_alive_tasks())
    }

    /// Where the round trips of pings went so far, per hop, when
    /// [`NetConfig::record_hops`] is on.
    pub fn hops(&self) -> Option<hops::HopReport> {
        self.hops.as_ref().map(|h| h.report())
    }

    /// Leaves the room, closes every connection and waits for the thread
    /// (at most about two seconds).
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        let _ = self.commands.send(NetCommand::Shutdown);
        if let Some(t) = self.thread.take() {
            let deadline = std::time::Instant::now() + Duration::from_secs(2);
            while !t.is_finished() && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            if t.is_finished() {
                let _ = t.join();
            }
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
impl Drop for NetHandle {
    fn drop(&mut self) {
        self.stop();
    }
}
