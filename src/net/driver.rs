//! The native shell around [`NetCore`]: one task that feeds it everything
//! that happens (commands from the game, server events, answers to requests,
//! peer-connection reports, its timer) and carries out what it asks, with
//! tokio, rust_socketio ([`Signaling`]) and webrtc ([`PeerConn`]).
//!
//! No rule lives here: which route, when to offer, what to resend, when a
//! peer is gone are all [`NetCore`]'s. Nothing here blocks: requests with
//! acks run in spawned tasks that post their answer back as an input; emits
//! go through the signaling outbox; data-channel writes through each peer
//! connection's writer.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;
use tokio::sync::mpsc;

use super::api::{NetCommand, NetConfig, NetEvent};
use super::core::{BYE_LINGER, Backlog, HELLO_WAIT, Input, JoinRequest, NetCore, Output};
use super::hops::Hops;
use super::peer::{PcEvent, PeerConn};
use super::signaling::Signaling;
use crate::proto::NetId;

/// Connect attempt timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long `disconnect` may take at shutdown.
const DISCONNECT_WAIT: Duration = Duration::from_millis(500);
/// How long a join waits for the ack of the `leave_room` before it (a core
/// server never answers one).
const LEAVE_WAIT: Duration = Duration::from_secs(1);

/// What the shell's tasks post back to it.
pub(super) enum Internal {
    /// An input for the core.
    Core(Input),
    /// A connection attempt succeeded: this is the client.
    Connected(Signaling),
}

pub(super) struct Driver {
    core: NetCore,
    out: Sender<NetEvent>,
    tx: mpsc::UnboundedSender<Internal>,
    server_url: String,
    sig: Option<Signaling>,
    /// Open peer connections, by generation.
    conns: HashMap<u64, PeerConn>,
    /// The last `leave_room` under way: the next join waits for it (see
    /// [`Signaling::leave_room`]).
    leaving: Option<tokio::task::JoinHandle<()>>,
    /// The hop recorder, when recording ([`super::hops`]).
    hops: Option<Arc<Hops>>,
    /// When the input being handled was fed to the core.
    fed_at: Instant,
}

impl Driver {
    pub(super) fn new(
        cfg: NetConfig,
        me: NetId,
        out: Sender<NetEvent>,
        tx: mpsc::UnboundedSender<Internal>,
        hops: Option<Arc<Hops>>,
    ) -> Driver {
        Driver {
            server_url: cfg.server_url.clone(),
            core: NetCore::new(cfg, me),
            out,
            tx,
            sig: None,
            conns: HashMap::new(),
            leaving: None,
            hops,
            fed_at: Instant::now(),
        }
    }

    /// Runs until [`NetCommand::Shutdown`] or until the game drops its ends:
    /// takes the game's `commands` and what its own tasks post to `rx`.
    pub(super) async fn run(
        mut self,
        mut commands: mpsc::UnboundedReceiver<NetCommand>,
        mut rx: mpsc::UnboundedReceiver<Internal>,
    ) {
        self.feed(Input::Timeout);
        while !self.core.is_closed() {
            let deadline = tokio::time::Instant::from_std(self.core.poll_timeout());
            let input = tokio::select! {
                // The game dropped its handle: shut down.
                c = commands.recv() => Input::Command(c.unwrap_or(NetCommand::Shutdown)),
                msg = rx.recv() => match msg {
                    Some(Internal::Core(input)) => input,
                    Some(Internal::Connected(sig)) => {
                        self.sig = Some(sig);
                        Input::Connected(Ok(()))
                    }
                    None => Input::Command(NetCommand::Shutdown),
                },
                _ = tokio::time::sleep_until(deadline) => Input::Timeout,
            };
            if let Input::Command(NetCommand::SendState { .. }) = input {
                self.feed(Input::Backlog(self.backlog()));
            }
            self.feed(input);
        }
        // Let the byes and leave_room go out, and the lingering closes run.
        tokio::time::sleep(BYE_LINGER + Duration::from_millis(50)).await;
        if let Some(sig) = self.sig.take() {
            let _ = tokio::time::timeout(DISCONNECT_WAIT, sig.disconnect()).await;
        }
    }

    fn backlog(&self) -> Backlog {
        Backlog {
            relay: self.sig.as_ref().map_or(0, Signaling::queued),
            peers: self.conns.iter().map(|(&g, pc)| (g, pc.queued())).collect(),
        }
    }

    /// Hands `input` to the core and carries out what it asks.
    fn feed(&mut self, input: Input) {
        if let Input::Peer {
            generation,
            event: PcEvent::Failed(_),
            ..
        } = &input
        {
            self.conns.remove(generation);
        }
        let now = Instant::now();
        self.fed_at = now;
        if let (
            Some(h),
            Input::Peer {
                event: PcEvent::Message(bytes),
                ..
            },
        ) = (&self.hops, &input)
        {
            h.fed_in(bytes, now);
        }
        let outputs: Vec<Output> = self.core.handle(input, now).collect();
        for o in outputs {
            self.carry_out(o);
        }
    }

    fn carry_out(&mut self, o: Output) {
        match o {
            Output::Event(ev) => {
                // The game may have gone away: nothing to do about it here.
                let _ = self.out.send(ev);
            }
            Output::Connect => self.connect(),
            Output::Hello { name } => {
                let Some(sig) = self.sig.clone() else { return };
                let tx = self.tx.clone();
                tokio::spawn(async move {
                    let r = sig.hello(&name, HELLO_WAIT).await;
                    let _ = tx.send(Internal::Core(Input::Hello(r)));
                });
            }
            Output::Join(request) => self.join(request),
            Output::LeaveRoom => {
                if let Some(sig) = self.sig.clone() {
                    let h = tokio::spawn(async move { sig.leave_room(LEAVE_WAIT).await });
                    self.leaving = Some(h);
                }
            }
            Output::Signal { to, signal } => {
                if let Some(sig) = &self.sig {
                    sig.signal(&to, signal);
                }
            }
            Output::Relay { to, bytes } => {
                if let Some(sig) = &self.sig {
                    sig.relay(&to, &bytes);
                }
            }
            Output::Broadcast { bytes } => {
                if let Some(sig) = &self.sig {
                    sig.broadcast(&bytes);
                }
            }
            Output::OpenPeer(setup) => {
                let (tx, sid, generation) = (self.tx.clone(), setup.sid.clone(), setup.generation);
                let report: super::peer::Report = Arc::new(move |event| {
                    let input = Input::Peer {
                        sid: sid.clone(),
                        generation,
                        event,
                    };
                    tx.send(Internal::Core(input)).is_ok()
                });
                let conn = PeerConn::spawn(setup, report, self.hops.clone());
                self.conns.insert(generation, conn);
            }
            Output::PeerSignal { generation, signal } => {
                if let Some(pc) = self.conns.get(&generation) {
                    pc.remote(signal);
                }
            }
            Output::PeerSend {
                generation,
                channel,
                bytes,
            } => {
                if let Some(pc) = self.conns.get(&generation) {
                    if let Some(h) = &self.hops {
                        h.handed(&bytes, self.fed_at);
                    }
                    pc.send(channel, bytes);
                }
            }
            Output::ClosePeer { generation, linger } => {
                let Some(pc) = self.conns.remove(&generation) else {
                    return;
                };
                if linger {
                    tokio::spawn(async move {
                        tokio::time::sleep(BYE_LINGER).await;
                        pc.close();
                    });
                } else {
                    pc.close();
                }
            }
        }
    }

    /// Connects in a task; on success the client's events follow as inputs.
    fn connect(&mut self) {
        let url = self.server_url.clone();
        let tx = self.tx.clone();
        tokio::spawn(async move {
            let (sig_tx, mut sig_rx) = mpsc::unbounded_channel();
            match Signaling::connect(&url, sig_tx, CONNECT_TIMEOUT).await {
                Ok(sig) => {
                    let _ = tx.send(Internal::Connected(sig));
                }
                Err(e) => {
                    let _ = tx.send(Internal::Core(Input::Connected(Err(e))));
                    return;
                }
            }
            while let Some(ev) = sig_rx.recv().await {
                if tx.send(Internal::Core(Input::Server(ev))).is_err() {
                    break;
                }
            }
        });
    }

    /// Creates and/or joins a room in a task that posts the answer.
    fn join(&mut self, request: JoinRequest) {
        let Some(sig) = self.sig.clone() else { return };
        let tx = self.tx.clone();
        let leaving = self.leaving.take();
        tokio::spawn(async move {
            if let Some(leave) = leaving {
                let _ = leave.await;
            }
            let mut request = request;
            if request.core_only {
                // Success shows as `room_users`; only a failed emit answers.
                if let Err(e) = sig.join_room_core(&request.code).await {
                    let _ = tx.send(Internal::Core(Input::Joined {
                        request,
                        result: Err(e),
                    }));
                }
                return;
            }
            let result = if request.created && request.code.is_empty() {
                match sig.create_room(request.token.clone()).await {
                    Ok(code) => {
                        request.code = code;
                        sig.join_room(&request.code, false).await
                    }
                    Err(e) => Err(e),
                }
            } else {
                sig.join_room(&request.code, request.rejoin).await
            };
            let _ = tx.send(Internal::Core(Input::Joined { request, result }));
        });
    }
}
