//! One WebRTC peer connection (webrtc 0.21) to one remote player, with the
//! two data channels of PROTOCOL.md: `state` (unordered, no retransmits) and
//! `events` (ordered, reliable).
//!
//! Each connection runs in its own task, which owns the `PeerConnection` and
//! its channels: it applies remote descriptions and candidates (buffering
//! candidates until the remote description is set), turns local candidates
//! and descriptions into the browser's JSON shapes, writes outgoing messages,
//! and reports through a callback: local signals to forward, "open" with the
//! selected candidate type, every received message, and failure. The shell
//! ([`super::driver`]) only sends it commands; a connection never touches
//! routing or game state.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;
use std::time::Instant;

use arena_server::protocol::{IceCandidate, SdpType, Signal};
use bytes::BytesMut;
use rtc::ice::mdns::MulticastDnsMode;
use serde_json::Value;
use tokio::sync::mpsc;
use webrtc::data_channel::{DataChannel, DataChannelEvent, RTCDataChannelInit};
use webrtc::peer_connection::{
    PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCConfigurationBuilder,
    RTCIceCandidateInit, RTCIceCandidateType, RTCIceServer, RTCIceTransportPolicy,
    RTCPeerConnectionIceEvent, RTCPeerConnectionState, RTCSessionDescription, SettingEngineBuilder,
};
use webrtc::runtime::{
    AsyncInterval, AsyncTcpListener, AsyncTcpStream, AsyncUdpSocket, JoinHandle, Runtime,
    TokioRuntime,
};

pub use super::core::{Channel, PeerEvent as PcEvent, PeerSetup as PcSetup};
use super::hops::{ConnHops, Hops};
use super::route::{CandidateKind, CandidatePair};

/// Label of the unreliable channel.
pub const STATE_LABEL: &str = "state";
/// Label of the reliable channel.
pub const EVENTS_LABEL: &str = "events";

/// Outgoing messages queued per connection before new ones are dropped.
const OUT_CAP: usize = 1024;
/// ICE connectivity-check interval: 20 ms instead of the default 200 ms
/// (links open in ~0.5 s instead of ~1 s on a LAN; see docs/DEPENDENCIES.md,
/// "ICE timing").
const ICE_CHECK_INTERVAL: Duration = Duration::from_millis(20);
/// Connectivity checks per candidate pair before it fails (1 s at 20 ms).
const ICE_CHECKS_PER_PAIR: u16 = 50;
/// ICE keepalive (liveness of an idle pair).
const ICE_KEEPALIVE: Duration = Duration::from_millis(500);
/// A connection whose ICE is disconnected this long counts as failed.
const ICE_DISCONNECTED: Duration = Duration::from_secs(3);
/// ...and failed after this long.
const ICE_FAILED: Duration = Duration::from_secs(5);

/// Longest sleep of a connection's driver while it is connecting.
const CONNECTING_SLEEP_CAP: Duration = Duration::from_millis(2);

enum Cmd {
    Remote(Value),
    Close,
}

/// The shell's handle on one connection. Cheap to clone.
#[derive(Clone)]
pub struct PeerConn {
    cmd: mpsc::UnboundedSender<Cmd>,
    out: mpsc::Sender<(Channel, Vec<u8>)>,
    queued: Arc<AtomicUsize>,
}

impl PeerConn {
    /// Starts a connection task; it reports through `report` (which says
    /// `false` once nobody listens any more) and, when given a recorder,
    /// notes the hops of pings and pongs ([`super::hops`]).
    pub fn spawn(setup: PcSetup, report: Report, hops: Option<Arc<Hops>>) -> PeerConn {
        let (cmd, cmd_rx) = mpsc::unbounded_channel();
        let (out, out_rx) = mpsc::channel(OUT_CAP);
        let queued = Arc::new(AtomicUsize::new(0));
        let conn = PeerConn {
            cmd,
            out,
            queued: queued.clone(),
        };
        let hops = hops.map(ConnHops::new);
        tokio::spawn(async move {
            let why = run(setup, cmd_rx, out_rx, queued, &report, hops).await;
            report(PcEvent::Failed(why));
        });
        conn
    }

    /// A remote offer, answer or candidate (browser JSON).
    pub fn remote(&self, signal: Value) {
        let _ = self.cmd.send(Cmd::Remote(signal));
    }

    /// Queues a message; `false` if the queue is full (dropped).
    pub fn send(&self, channel: Channel, bytes: Vec<u8>) -> bool {
        let ok = self.out.try_send((channel, bytes)).is_ok();
        if ok {
            self.queued.fetch_add(1, Ordering::Relaxed);
        }
        ok
    }

    /// Messages waiting to be written (a congestion signal).
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }

    /// Closes the connection.
    pub fn close(&self) {
        let _ = self.cmd.send(Cmd::Close);
    }
}

/// Where a connection's reports go: returns `false` when nobody listens.
pub type Report = Arc<dyn Fn(PcEvent) -> bool + Send + Sync>;

/// What the connection's callbacks tell its task (never slow work inside a
/// callback: it runs on the connection's driver).
enum Local {
    Candidate(RTCIceCandidateInit),
    State(RTCPeerConnectionState),
    Channel(Arc<dyn DataChannel>),
    Open(Channel),
    Closed,
}

struct Handler {
    tx: mpsc::UnboundedSender<Local>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_candidate(&self, ev: RTCPeerConnectionIceEvent) {
        if let Ok(init) = ev.candidate.to_json() {
            let _ = self.tx.send(Local::Candidate(init));
        }
    }

    async fn on_connection_state_change(&self, s: RTCPeerConnectionState) {
        let _ = self.tx.send(Local::State(s));
    }

    async fn on_data_channel(&self, dc: Arc<dyn DataChannel>) {
        let _ = self.tx.send(Local::Channel(dc));
    }
}

async fn run(
    setup: PcSetup,
    mut cmd: mpsc::UnboundedReceiver<Cmd>,
    mut out: mpsc::Receiver<(Channel, Vec<u8>)>,
    queued: Arc<AtomicUsize>,
    report: &Report,
    hops: Option<Arc<ConnHops>>,
) -> String {
    let (local_tx, mut local) = mpsc::unbounded_channel();
    let cap = Arc::new(AtomicU64::new(CONNECTING_SLEEP_CAP.as_micros() as u64));
    let runtime = Arc::new(CappedRuntime {
        cap: cap.clone(),
        hops: hops.clone(),
    });
    let pc = match build(&setup, local_tx.clone(), runtime).await {
        Ok(pc) => pc,
        Err(e) => return e,
    };
    let mut seen = Seen::new(&setup);
    let io = Io {
        local_tx,
        local: &mut local,
        cmd: &mut cmd,
        out: &mut out,
        queued: &queued,
        report,
        hops: hops.as_ref(),
    };
    let result = drive(&setup, &*pc, &cap, io, &mut seen).await;
    let _ = pc.close().await;
    seen.explain(&result.err().unwrap_or_else(|| "closed".into()))
}

/// What a connection saw of candidates: for the selected pair's TURN
/// judgement and for saying why an attempt failed.
#[derive(Debug, Default)]
struct Seen {
    /// Our candidates by type: host, srflx, prflx, relay.
    local: [u32; 4],
    /// Candidates the peer signaled.
    remote: u32,
    /// Addresses of our own relay candidates (the TURN server's relay IPs).
    relay_ips: Vec<IpAddr>,
    /// Whether a TURN URL this stack can use (UDP) was configured.
    turn_configured: bool,
    /// Whether a TCP or TLS TURN URL was configured (webrtc 0.21 skips them).
    turn_tcp_only: bool,
}

impl Seen {
    fn new(setup: &PcSetup) -> Seen {
        let turn_urls: Vec<&String> = setup
            .ice_servers
            .iter()
            .flat_map(|s| &s.urls)
            .filter(|u| u.starts_with("turn:") || u.starts_with("turns:"))
            .collect();
        let udp = |u: &&String| u.starts_with("turn:") && !u.contains("transport=tcp");
        Seen {
            turn_configured: turn_urls.iter().any(udp),
            turn_tcp_only: !turn_urls.is_empty() && !turn_urls.iter().any(udp),
            ..Seen::default()
        }
    }

    /// Notes one of our candidates (`candidate:… <ip> <port> typ <type> …`).
    fn local_candidate(&mut self, candidate: &str) {
        let fields: Vec<&str> = candidate.split_whitespace().collect();
        let typ = fields
            .iter()
            .position(|f| *f == "typ")
            .and_then(|i| fields.get(i + 1));
        let slot = match typ.copied() {
            Some("host") => 0,
            Some("srflx") => 1,
            Some("prflx") => 2,
            Some("relay") => 3,
            _ => return,
        };
        self.local[slot] += 1;
        if slot == 3 {
            if let Some(ip) = fields.get(4).and_then(|a| a.parse().ok()) {
                self.relay_ips.push(ip);
            }
        }
    }

    /// Why the attempt ended, with the kind first: `what` is the immediate
    /// cause (`ICE failed`, `closed`, ...).
    fn explain(&self, what: &str) -> String {
        let [host, srflx, prflx, relay] = self.local;
        let counts = format!(
            "ours: host {host}, srflx {srflx}, prflx {prflx}, relay {relay}; theirs: {}",
            self.remote
        );
        if what == "closed" {
            return format!("closed ({counts})");
        }
        let kind = if self.remote == 0 {
            "no candidates from the peer".to_owned()
        } else if host + srflx + relay == 0 {
            "no local candidates".to_owned()
        } else if self.turn_configured && relay == 0 {
            "TURN refused or unreachable: no relay candidate".to_owned()
        } else if self.turn_tcp_only {
            "TURN over TCP/TLS only, which webrtc 0.21 cannot use".to_owned()
        } else {
            String::new()
        };
        if kind.is_empty() {
            format!("{what} ({counts})")
        } else {
            format!("{kind}; {what} ({counts})")
        }
    }
}

async fn build(
    setup: &PcSetup,
    tx: mpsc::UnboundedSender<Local>,
    runtime: Arc<dyn Runtime>,
) -> Result<Arc<dyn PeerConnection>, String> {
    let ice_servers = setup
        .ice_servers
        .iter()
        .map(|s| RTCIceServer {
            urls: s.urls.clone(),
            username: s.username.clone().unwrap_or_default(),
            credential: s.credential.clone().unwrap_or_default(),
        })
        .collect();
    let mut config = RTCConfigurationBuilder::new().with_ice_servers(ice_servers);
    if setup.relay_only {
        config = config.with_ice_transport_policy(RTCIceTransportPolicy::Relay);
    }
    let mut settings = SettingEngineBuilder::new()
        .with_ice_connection_attempts(Some(ICE_CHECK_INTERVAL), Some(ICE_CHECKS_PER_PAIR))
        .with_ice_timeouts(Some(ICE_DISCONNECTED), Some(ICE_FAILED), Some(ICE_KEEPALIVE))
        // No mDNS: it binds port 5353 per connection and wakes every
        // connection on each multicast packet of the LAN. Our peers send IP
        // candidates; browsers on the same LAN still reach us through srflx.
        .with_multicast_dns_mode(MulticastDnsMode::Disabled)
        // A peer-reflexive pair is usually a host pair whose candidate has
        // not been signaled yet (checks overtake trickled candidates, often
        // when TURN gathering is also under way): accepting it at once
        // instead of after the default 1 s took the 8-peer mesh from ~1 s to
        // tens of ms (benches/net_link.rs).
        .with_prflx_acceptance_min_wait(Some(Duration::ZERO))
        // Server-reflexive pairs otherwise wait 500 ms before they may be
        // chosen (to let host pairs win on a LAN; host pairs that work
        // succeed first anyway). It was most of a cone ↔ cone link's time to
        // open in the NAT lab, and with the server's built-in STUN on the
        // same machine (loopback, LAN) srflx candidates equal host ones and
        // the 8-peer mesh took ~580 ms instead of ~70.
        .with_srflx_acceptance_min_wait(Some(Duration::ZERO));
    if setup.relay_only {
        // Relay pairs otherwise wait 2 s before they may be chosen.
        settings = settings.with_relay_acceptance_min_wait(Some(Duration::ZERO));
    }
    let settings = settings.build();
    let pc = PeerConnectionBuilder::new()
        .with_configuration(config.build())
        .with_setting_engine(settings)
        .with_runtime(runtime)
        .with_handler(Arc::new(Handler { tx }))
        .with_udp_addrs(vec![format!("{}:0", setup.bind_ip)])
        .build()
        .await
        .map_err(|e| format!("cannot create a peer connection: {e}"))?;
    Ok(Arc::new(pc))
}

/// A connection task's channels: to and from its callbacks and readers, the
/// driver's commands and messages, its reports.
struct Io<'a> {
    local_tx: mpsc::UnboundedSender<Local>,
    local: &'a mut mpsc::UnboundedReceiver<Local>,
    cmd: &'a mut mpsc::UnboundedReceiver<Cmd>,
    out: &'a mut mpsc::Receiver<(Channel, Vec<u8>)>,
    queued: &'a AtomicUsize,
    report: &'a Report,
    hops: Option<&'a Arc<ConnHops>>,
}

async fn drive(
    setup: &PcSetup,
    pc: &dyn PeerConnection,
    cap: &AtomicU64,
    io: Io<'_>,
    seen: &mut Seen,
) -> Result<(), String> {
    let Io {
        local_tx,
        local,
        cmd,
        out,
        queued,
        report,
        hops,
    } = io;
    let mut state_dc: Option<Arc<dyn DataChannel>> = None;
    let mut events_dc: Option<Arc<dyn DataChannel>> = None;
    let mut open = (false, false);
    let mut reported_open = None;
    let mut poke: Option<Poke> = None;
    let mut remote_set = false;
    let mut early: Vec<RTCIceCandidateInit> = Vec::new();

    if setup.offerer {
        let unreliable = RTCDataChannelInit {
            ordered: false,
            max_retransmits: Some(0),
            ..Default::default()
        };
        let s = pc
            .create_data_channel(STATE_LABEL, Some(unreliable))
            .await
            .map_err(|e| format!("create channel: {e}"))?;
        let e = pc
            .create_data_channel(EVENTS_LABEL, None)
            .await
            .map_err(|e| format!("create channel: {e}"))?;
        spawn_reader(s.clone(), Channel::State, local_tx.clone(), report, hops);
        spawn_reader(e.clone(), Channel::Events, local_tx.clone(), report, hops);
        state_dc = Some(s);
        events_dc = Some(e);
        let offer = pc
            .create_offer(None)
            .await
            .map_err(|e| format!("create offer: {e}"))?;
        pc.set_local_description(offer.clone())
            .await
            .map_err(|e| format!("set local offer: {e}"))?;
        report(PcEvent::LocalSignal(description_json(
            SdpType::Offer,
            offer.sdp,
        )));
    }

    loop {
        tokio::select! {
            // Outgoing messages first: a message queued before a Close (a
            // `Bye`) still goes out.
            biased;
            m = out.recv() => {
                let Some((ch, bytes)) = m else { return Ok(()) };
                queued.fetch_sub(1, Ordering::Relaxed);
                let dc = match ch {
                    Channel::State => &state_dc,
                    Channel::Events => &events_dc,
                };
                if let Some(dc) = dc {
                    if let Some(h) = hops {
                        h.sending(&bytes);
                    }
                    if let Err(e) = dc.send(BytesMut::from(&bytes[..])).await {
                        tracing::debug!(sid = %setup.sid, "data channel send failed: {e}");
                    }
                    if let Some(p) = &poke {
                        p.poke();
                    }
                }
            }
            c = cmd.recv() => match c {
                None | Some(Cmd::Close) => return Ok(()),
                Some(Cmd::Remote(v)) => {
                    let signal: Signal = serde_json::from_value(v).map_err(|e| format!("bad signal: {e}"))?;
                    match signal {
                        Signal::Description { kind, sdp } => {
                            let desc = match kind {
                                SdpType::Offer => RTCSessionDescription::offer(sdp),
                                SdpType::Answer => RTCSessionDescription::answer(sdp),
                            }
                            .map_err(|e| format!("bad description: {e}"))?;
                            pc.set_remote_description(desc).await.map_err(|e| format!("set remote: {e}"))?;
                            remote_set = true;
                            if kind == SdpType::Offer {
                                let answer = pc.create_answer(None).await.map_err(|e| format!("create answer: {e}"))?;
                                pc.set_local_description(answer.clone()).await.map_err(|e| format!("set local answer: {e}"))?;
                                report(PcEvent::LocalSignal(description_json(SdpType::Answer, answer.sdp)));
                            }
                            for c in early.drain(..) {
                                add_candidate(pc, c).await;
                            }
                        }
                        Signal::Candidate { candidate } => {
                            if setup.block_p2p || candidate.candidate.is_empty() {
                                continue;
                            }
                            seen.remote += 1;
                            let init = RTCIceCandidateInit {
                                candidate: candidate.candidate,
                                sdp_mid: candidate.sdp_mid,
                                sdp_mline_index: candidate.sdp_m_line_index,
                                username_fragment: candidate.username_fragment,
                                ..Default::default()
                            };
                            if remote_set {
                                add_candidate(pc, init).await;
                            } else if early.len() < 64 {
                                early.push(init);
                            }
                        }
                    }
                }
            },
            ev = local.recv() => match ev {
                None => return Err("connection task lost its events".into()),
                Some(Local::Candidate(init)) => {
                    seen.local_candidate(&init.candidate);
                    if !setup.block_p2p && !init.candidate.is_empty() {
                        report(PcEvent::LocalSignal(candidate_json(init)));
                    }
                }
                Some(Local::State(s)) => match s {
                    RTCPeerConnectionState::Failed => return Err("ICE failed".into()),
                    RTCPeerConnectionState::Closed => return Err("closed by the peer".into()),
                    _ => {}
                },
                Some(Local::Channel(dc)) => {
                    let label = dc.label().await.unwrap_or_default();
                    match label.as_str() {
                        STATE_LABEL => {
                            spawn_reader(dc.clone(), Channel::State, local_tx.clone(), report, hops);
                            state_dc = Some(dc);
                        }
                        EVENTS_LABEL => {
                            spawn_reader(dc.clone(), Channel::Events, local_tx.clone(), report, hops);
                            events_dc = Some(dc);
                        }
                        other => tracing::debug!(label = other, "ignoring unknown data channel"),
                    }
                }
                Some(Local::Open(ch)) => {
                    match ch {
                        Channel::State => open.0 = true,
                        Channel::Events => open.1 = true,
                    }
                    if open == (true, true) && reported_open.is_none() {
                        let unknown = || (CandidateKind::Host, String::new());
                        let (pair, relay_socket) = selected_pair(pc, &seen.relay_ips)
                            .await
                            .unwrap_or_else(|| (CandidatePair::new(unknown(), unknown(), &[]), None));
                        tracing::info!(sid = %setup.sid, ?pair, "selected candidate pair");
                        reported_open = Some(pair.kind());
                        // Open: back to the driver's own timers (no idle wake-ups).
                        cap.store(u64::MAX, Ordering::Relaxed);
                        poke = relay_socket.and_then(|t| Poke::new(setup.bind_ip, t));
                        report(PcEvent::Open(pair));
                    }
                }
                Some(Local::Closed) => return Err("data channel closed".into()),
            },
        }
    }
}

/// One task reads each channel (the only way to receive on it), one
/// message per turn.
fn spawn_reader(
    dc: Arc<dyn DataChannel>,
    ch: Channel,
    local: mpsc::UnboundedSender<Local>,
    report: &Report,
    hops: Option<&Arc<ConnHops>>,
) {
    let report = report.clone();
    let hops = hops.cloned();
    tokio::spawn(async move {
        while let Some(ev) = dc.poll().await {
            match ev {
                DataChannelEvent::OnOpen => {
                    let _ = local.send(Local::Open(ch));
                }
                DataChannelEvent::OnMessage(m) => {
                    if let Some(h) = &hops {
                        h.read(&m.data);
                    }
                    if !report(PcEvent::Message(m.data.to_vec())) {
                        return;
                    }
                    // Take turns with the other channel's reader: all tasks
                    // share the net thread, and a reader that drained its
                    // whole backlog first would hand the core a flood from
                    // one channel before anything from the other (under a
                    // hostile flood, the per-sender budget would go to the
                    // `state` channel alone). The driver, woken by the
                    // report, runs before this task resumes.
                    tokio::task::yield_now().await;
                }
                DataChannelEvent::OnClose => break,
                _ => {}
            }
        }
        let _ = local.send(Local::Closed);
    });
}

async fn add_candidate(pc: &dyn PeerConnection, c: RTCIceCandidateInit) {
    if let Err(e) = pc.add_ice_candidate(c).await {
        tracing::debug!("remote candidate refused: {e}");
    }
}

/// The selected candidate pair (judged `turn` if either end is a TURN
/// relay address: see [`CandidatePair::new`]) and, when our end is a TURN
/// relay, the address of our own UDP socket (see [`Poke`]).
async fn selected_pair(
    pc: &dyn PeerConnection,
    relay_ips: &[IpAddr],
) -> Option<(CandidatePair, Option<SocketAddr>)> {
    let ice = pc.sctp().await?.transport().ice_transport();
    let pair = ice.get_selected_candidate_pair().await.ok()??;
    let (local, remote) = (pair.local(), pair.remote());
    let kind = |t: RTCIceCandidateType| match t {
        RTCIceCandidateType::Relay => CandidateKind::Relay,
        RTCIceCandidateType::Srflx => CandidateKind::Srflx,
        RTCIceCandidateType::Prflx => CandidateKind::Prflx,
        _ => CandidateKind::Host,
    };
    let addr = |a: &str, port: u16| match a.parse::<IpAddr>() {
        Ok(ip) => SocketAddr::new(ip, port).to_string(),
        Err(_) => format!("{a}:{port}"),
    };
    let pair = CandidatePair::new(
        (kind(local.typ), addr(&local.address, local.port)),
        (kind(remote.typ), addr(&remote.address, remote.port)),
        relay_ips,
    );
    let socket = (local.typ == RTCIceCandidateType::Relay)
        .then(|| {
            format!("{}:{}", local.related_address, local.related_port)
                .parse()
                .ok()
        })
        .flatten();
    Some((pair, socket))
}

/// Wakes a connection's driver after sends through TURN.
///
/// webrtc 0.21 flushes the TURN client's queue at the top of its driver loop,
/// before it collects newly sent packets, so a relayed message waits for the
/// driver's next wake-up (its 200 ms ICE tick when nothing else happens):
/// round trips come in 200 ms steps (docs/DEPENDENCIES.md, "TURN: relayed
/// packets wait for the driver"). A zero-length datagram to the connection's
/// own socket is discarded by the driver but runs its loop once more,
/// flushing the queue at once: p50 ≈ 2 ms instead of 201 ms in the
/// experiment behind this (relay-only through coturn on loopback).
struct Poke {
    socket: std::net::UdpSocket,
    target: SocketAddr,
}

impl Poke {
    fn new(bind: IpAddr, target: SocketAddr) -> Option<Poke> {
        let socket = std::net::UdpSocket::bind(SocketAddr::new(bind, 0)).ok()?;
        socket.set_nonblocking(true).ok()?;
        Some(Poke { socket, target })
    }

    fn poke(&self) {
        let _ = self.socket.send_to(&[], self.target);
    }
}

fn description_json(kind: SdpType, sdp: String) -> Value {
    serde_json::to_value(Signal::Description { kind, sdp }).unwrap_or(Value::Null)
}

fn candidate_json(init: RTCIceCandidateInit) -> Value {
    let candidate = IceCandidate {
        candidate: init.candidate,
        sdp_mid: init.sdp_mid,
        sdp_m_line_index: init.sdp_mline_index,
        username_fragment: init.username_fragment,
    };
    serde_json::to_value(Signal::Candidate { candidate }).unwrap_or(Value::Null)
}

/// webrtc's tokio runtime, except that while a connection is being set up its
/// driver never sleeps longer than a cap (2 ms).
///
/// The driver otherwise waits for its next timer (ICE ticks, DTLS and SCTP
/// retransmission timers) before it moves the handshake on: on loopback a
/// link took 600–800 ms to open with the plain runtime and 25–35 ms capped
/// (docs/DEPENDENCIES.md, "The driver sleeps until its next timer"). Once
/// the channels are open the cap is lifted (`u64::MAX` µs), so an idle
/// connection costs nothing.
#[derive(Debug)]
struct CappedRuntime {
    /// Current cap in microseconds.
    cap: Arc<AtomicU64>,
    /// When recording hops: the connection's recorder, told of every
    /// datagram its socket sends and receives.
    hops: Option<Arc<ConnHops>>,
}

impl Runtime for CappedRuntime {
    fn spawn(&self, f: Pin<Box<dyn Future<Output = ()> + Send>>) -> Box<dyn JoinHandle> {
        TokioRuntime.spawn(f)
    }

    fn spawn_reactor(
        &self,
        n: usize,
        f: Pin<Box<dyn Future<Output = ()> + Send>>,
    ) -> Box<dyn JoinHandle> {
        TokioRuntime.spawn_reactor(n, f)
    }

    fn wrap_udp_socket(&self, s: std::net::UdpSocket) -> std::io::Result<Arc<dyn AsyncUdpSocket>> {
        let socket = TokioRuntime.wrap_udp_socket(s)?;
        Ok(match &self.hops {
            Some(h) => h.wrap(socket),
            None => socket,
        })
    }

    fn wrap_tcp_listener(
        &self,
        l: std::net::TcpListener,
    ) -> std::io::Result<Arc<dyn AsyncTcpListener>> {
        TokioRuntime.wrap_tcp_listener(l)
    }

    fn connect_tcp<'a>(
        &'a self,
        a: SocketAddr,
    ) -> Pin<Box<dyn Future<Output = std::io::Result<Arc<dyn AsyncTcpStream>>> + Send + 'a>> {
        TokioRuntime.connect_tcp(a)
    }

    fn resolve_host<'a>(
        &'a self,
        h: &'a str,
    ) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<SocketAddr>>> + Send + 'a>> {
        TokioRuntime.resolve_host(h)
    }

    fn now(&self) -> Instant {
        TokioRuntime.now()
    }

    fn sleep(&self, d: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        let cap = Duration::from_micros(self.cap.load(Ordering::Relaxed));
        TokioRuntime.sleep(d.min(cap))
    }

    fn interval(&self, p: Duration) -> Box<dyn AsyncInterval> {
        TokioRuntime.interval(p)
    }

    fn block_on(&self, f: Pin<Box<dyn Future<Output = ()> + '_>>) {
        TokioRuntime.block_on(f)
    }

    fn yield_now(&self) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        TokioRuntime.yield_now()
    }

    fn name(&self) -> &'static str {
        "tokio-capped-while-connecting"
    }
}
