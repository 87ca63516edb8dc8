//! `arena doctor`: what this player's network allows, in plain words, before
//! they join a room.
//!
//! Four checks against one signaling server:
//! 1. the server answers (`hello`: version, features, round trip);
//! 2. STUN: our public address, and the NAT's mapping behaviour from one
//!    UDP socket probing two or more STUN destinations (the server's built-in
//!    STUN ports, its STUN URLs, its TURN servers): the same public address
//!    and port towards all of them is endpoint-independent mapping (RFC 4787,
//!    tested as RFC 5780 section 4.3 does, on one IP), a different one per
//!    destination is endpoint-dependent ("symmetric");
//! 3. TURN: an allocation with the credentials the server hands out, and a
//!    round trip through it ([`super::turn_probe`]), for every UDP TURN URL,
//!    and for every `?transport=tcp` one over TCP (reported, but not counted
//!    in the verdict: the game's WebRTC stack uses TURN over UDP only);
//! 4. UDP blocked: no STUN answer at all while the server answers over TCP.
//!
//! The probes are I/O (this module owns one UDP socket and one signaling
//! connection per run); the verdict is the pure [`judge`], unit-tested. The
//! same [`run`] serves the command line (`arena doctor`, [`run_blocking`])
//! and the settings screen ([`spawn`], on a thread of its own so the window
//! never waits).

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use arena_server::protocol::IceServer;
use rtc::stun::fingerprint::FINGERPRINT;
use rtc::stun::message::{
    BINDING_REQUEST, BINDING_SUCCESS, Getter, Message, Setter, TransactionId,
};
use rtc::stun::xoraddr::XorMappedAddress;
use serde::Serialize;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use super::signaling::Signaling;
use super::turn_probe::{self, TurnProbeError, TurnTransport};

/// How long `hello` may take before the server counts as core-only (as in
/// the game, PROTOCOL.md section 2).
const HELLO_WAIT: Duration = Duration::from_secs(2);

/// How long each probe may take.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// Connecting to the signaling server and its `hello`.
    pub server: Duration,
    /// All STUN probes together (retransmitted meanwhile), and each TURN check.
    pub udp: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            server: Duration::from_secs(5),
            udp: Duration::from_secs(2),
        }
    }
}

/// How the player can play, from best to worst; [`Verdict::exit_code`] is
/// `arena doctor`'s exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Direct (peer-to-peer) connections should work with everyone.
    Direct,
    /// Some players only through TURN (working) or the server relay.
    NeedsTurn,
    /// Only through the server relay (UDP blocked, or nothing works).
    RelayOnly,
    /// The signaling server cannot be reached: no online play.
    Unreachable,
}

impl Verdict {
    /// The conclusion in one sentence, for the top of the report.
    pub fn headline(self) -> &'static str {
        match self {
            Verdict::Direct => "You can play directly with everyone.",
            Verdict::NeedsTurn => {
                "You can play; with some players only through TURN or the server relay."
            }
            Verdict::RelayOnly => "You can play, through the server relay (slower than direct).",
            Verdict::Unreachable => "You cannot play online with this server: it does not answer.",
        }
    }

    /// 0: direct with everyone; 1: only through TURN or the relay; 2: the
    /// server is unreachable.
    pub fn exit_code(self) -> i32 {
        match self {
            Verdict::Direct => 0,
            Verdict::NeedsTurn | Verdict::RelayOnly => 1,
            Verdict::Unreachable => 2,
        }
    }
}

/// The NAT's mapping behaviour, as far as the probes could tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mapping {
    /// Our public address is our own: no NAT.
    NoNat,
    /// One public address and port for every destination (cone NATs).
    EndpointIndependent,
    /// Another public port (or address) per destination (symmetric NATs).
    EndpointDependent,
    /// Only one destination answered: cannot compare.
    Unknown,
    /// No STUN answer at all.
    NoAnswer,
}

/// How sure a verdict line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Works.
    Ok,
    /// Works with a limitation.
    Warn,
    /// Does not work.
    Fail,
    /// For information.
    Info,
}

/// One verdict line for a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Line {
    /// How good the news is.
    pub level: Level,
    /// The sentence.
    pub text: String,
}

/// Check 1: the signaling server.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ServerCheck {
    /// It answered `hello`.
    pub ok: bool,
    /// Its version string.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Its features.
    pub features: Vec<String>,
    /// Round trip of `hello`, ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rtt_ms: Option<f64>,
    /// Why not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One STUN destination and what it answered.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StunProbe {
    /// Where the request went (`stun:` URL or built-in port).
    pub server: String,
    /// Its address.
    pub addr: SocketAddr,
    /// Our address as it saw it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mapped: Option<SocketAddr>,
    /// Round trip, ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rtt_ms: Option<f64>,
}

/// Check 2: STUN.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StunCheck {
    /// Our socket's own address (the interface towards the server).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub local: Option<SocketAddr>,
    /// Every destination probed.
    pub probes: Vec<StunProbe>,
    /// Our public address (the first answer).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public: Option<SocketAddr>,
    /// What the answers say about the NAT.
    pub mapping: Mapping,
}

/// Check 3: one TURN server.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TurnCheck {
    /// The URL as the server handed it out.
    pub url: String,
    /// How the client reaches the server: `udp` or `tcp` (`turns:` URLs:
    /// `tcp`). Only `udp` counts in the verdict.
    pub transport: String,
    /// Whether the allocation and the round trip worked (`None`: not
    /// tested). Over TCP the allocation alone is enough (see `error`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ok: Option<bool>,
    /// The relayed address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relayed: Option<SocketAddr>,
    /// Round trip through the relay, ms; over TCP when no datagram came back
    /// through the relay (UDP blocked), the Allocate round trip (`error`
    /// says so).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rtt_ms: Option<f64>,
    /// Why not (or why not tested); for TCP, a note that the game cannot use
    /// it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl TurnCheck {
    /// A TURN server the game's WebRTC can use (over UDP) works.
    fn works_for_the_game(&self) -> bool {
        self.transport == "udp" && self.ok == Some(true)
    }
}

/// Everything `arena doctor` found; `--json` prints it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The server URL tested.
    pub server_url: String,
    /// Check 1.
    pub server: ServerCheck,
    /// Check 2 (absent when the server is unreachable).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stun: Option<StunCheck>,
    /// Check 3.
    pub turn: Vec<TurnCheck>,
    /// Check 4.
    pub udp_blocked: bool,
    /// The conclusion.
    pub verdict: Verdict,
    /// `arena doctor`'s exit status.
    pub exit_code: i32,
    /// The verdict lines, for a person.
    pub lines: Vec<Line>,
    /// How long the whole run took, ms.
    pub elapsed_ms: f64,
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 10_000.0).round() / 10.0
}

/// Runs every check against `server_url` (`http://` or `https://`).
pub async fn run(server_url: &str, t: Timeouts) -> Report {
    let started = Instant::now();
    let (server, hello) = check_server(server_url, t.server).await;
    if !server.ok {
        return Report::new(server_url, server, None, Vec::new(), started);
    }
    let host = url_host(server_url);
    // A core-only server (no `hello`) offers neither STUN nor TURN here.
    let ice = hello
        .as_ref()
        .and_then(|h| h.ice_servers.clone())
        .unwrap_or_default();
    let stun_ports = hello.map(|h| h.stun_ports).unwrap_or_default();
    let (stun, turn) = tokio::join!(
        check_stun(host.as_deref(), &stun_ports, &ice, t.udp),
        check_turn(&ice, t.udp),
    );
    Report::new(server_url, server, Some(stun), turn, started)
}

impl Report {
    /// The report of these checks: verdict, sentences and exit status from
    /// [`judge`], run time since `started`.
    fn new(
        server_url: &str,
        server: ServerCheck,
        stun: Option<StunCheck>,
        turn: Vec<TurnCheck>,
        started: Instant,
    ) -> Report {
        let (verdict, lines) = judge(server_url, &server, stun.as_ref(), &turn);
        // TURN over TCP says nothing about UDP: only a UDP allocation does.
        let udp_blocked = stun
            .as_ref()
            .is_some_and(|s| s.mapping == Mapping::NoAnswer && !s.probes.is_empty())
            && !turn.iter().any(TurnCheck::works_for_the_game);
        Report {
            server_url: server_url.to_owned(),
            server,
            stun,
            turn,
            udp_blocked,
            verdict,
            exit_code: verdict.exit_code(),
            lines,
            elapsed_ms: ms(started.elapsed()),
        }
    }
}

/// [`run`] on a runtime of its own (the command line).
pub fn run_blocking(server_url: &str, t: Timeouts) -> std::io::Result<Report> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    Ok(rt.block_on(run(server_url, t)))
}

/// [`run`] on a thread of its own; the report arrives on the returned
/// channel (the settings screen polls it each frame).
pub fn spawn(server_url: String, t: Timeouts) -> crossbeam_channel::Receiver<Report> {
    let (tx, rx) = crossbeam_channel::bounded(1);
    let spawned = std::thread::Builder::new()
        .name("arena-doctor".into())
        .spawn(move || {
            let report = run_blocking(&server_url, t).unwrap_or_else(|e| Report {
                server_url: server_url.clone(),
                server: ServerCheck {
                    error: Some(e.to_string()),
                    ..ServerCheck::default()
                },
                stun: None,
                turn: Vec::new(),
                udp_blocked: false,
                verdict: Verdict::Unreachable,
                exit_code: 2,
                lines: vec![Line {
                    level: Level::Fail,
                    text: format!("Cannot start the network test: {e}"),
                }],
                elapsed_ms: 0.0,
            });
            let _ = tx.send(report);
        });
    if let Err(e) = spawned {
        tracing::warn!("cannot start the network test: {e}");
    }
    rx
}

async fn check_server(
    url: &str,
    wait: Duration,
) -> (ServerCheck, Option<arena_server::protocol::HelloAck>) {
    let (tx, _rx) = mpsc::unbounded_channel();
    let sig = match Signaling::connect(url, tx, wait).await {
        Ok(s) => s,
        Err(e) => {
            return (
                ServerCheck {
                    error: Some(e),
                    ..ServerCheck::default()
                },
                None,
            );
        }
    };
    // The first request may still travel over HTTP long-polling (before
    // the WebSocket upgrade): the round trip is the best of three.
    let mut rtt = Duration::MAX;
    let mut hello = Ok(None);
    for _ in 0..3 {
        let sent = Instant::now();
        // As the game does: no answer within 2 s means a core-only server.
        hello = sig.hello("doctor", wait.min(HELLO_WAIT)).await;
        rtt = rtt.min(sent.elapsed());
        if !matches!(hello, Ok(Some(_))) {
            break;
        }
    }
    sig.disconnect().await;
    match hello {
        Ok(Some(h)) => (
            ServerCheck {
                ok: true,
                version: Some(h.version.clone()),
                features: h.features.clone(),
                rtt_ms: Some(ms(rtt)),
                error: None,
            },
            Some(h),
        ),
        // Connected, but no `hello`: a core-only server (or another
        // Socket.IO server): reachable, and nothing more to learn from it.
        Ok(None) => (
            ServerCheck {
                ok: true,
                ..ServerCheck::default()
            },
            None,
        ),
        Err(e) => (
            ServerCheck {
                error: Some(e),
                ..ServerCheck::default()
            },
            None,
        ),
    }
}

/// The host of an `http(s)://host[:port][/path]` URL, brackets removed.
fn url_host(url: &str) -> Option<String> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit('@').next()?;
    let host = arena_server::turn::host_of(authority)?;
    Some(
        host.trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned(),
    )
}

/// Where a `stun:`/`turn:`/`turns:` URL points.
#[derive(Debug, Clone, PartialEq, Eq)]
struct IceUrl {
    /// Host name or IP (IPv6 without brackets).
    host: String,
    /// Port (default 3478, 5349 for `turns:`).
    port: u16,
    /// `transport=` in lower case (default `udp`, `tcp` for `turns:`).
    transport: String,
}

/// Host, port and transport of a `stun:`/`turn:`/`turns:` URL.
fn ice_url_parts(url: &str) -> Option<IceUrl> {
    let (scheme, rest) = url.split_once(':')?;
    let (hostport, query) = rest.split_once('?').unwrap_or((rest, ""));
    let transport = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("transport="))
        .unwrap_or(if scheme.eq_ignore_ascii_case("turns") {
            "tcp"
        } else {
            "udp"
        })
        .to_ascii_lowercase();
    let default_port = if scheme.eq_ignore_ascii_case("turns") {
        5349
    } else {
        3478
    };
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let (h, after) = v6.split_once(']')?;
        let port = after
            .strip_prefix(':')
            .map_or(Some(default_port), |p| p.parse().ok())?;
        (h.to_owned(), port)
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h.to_owned(), p.parse().ok()?),
            None => (hostport.to_owned(), default_port),
        }
    };
    (!host.is_empty()).then_some(IceUrl {
        host,
        port,
        transport,
    })
}

async fn resolve(host: &str, port: u16) -> Option<SocketAddr> {
    let found = tokio::time::timeout(
        Duration::from_secs(2),
        tokio::net::lookup_host((host, port)),
    )
    .await
    .ok()?
    .ok()?;
    // One IPv4 socket probes everything: IPv4 destinations only.
    found.into_iter().find(SocketAddr::is_ipv4)
}

fn binding_request() -> Option<(TransactionId, Vec<u8>)> {
    let mut m = Message::new();
    let id = TransactionId::new();
    let s: [Box<dyn Setter>; 3] = [
        Box::new(BINDING_REQUEST),
        Box::new(id),
        Box::new(FINGERPRINT),
    ];
    m.build(&s).ok()?;
    Some((id, m.raw))
}

fn mapped_of(datagram: &[u8]) -> Option<(TransactionId, SocketAddr)> {
    let mut m = Message::new();
    m.raw = datagram.to_vec();
    m.decode().ok()?;
    if m.typ != BINDING_SUCCESS {
        return None;
    }
    let mut x = XorMappedAddress::default();
    x.get_from(&m).ok()?;
    Some((m.transaction_id, SocketAddr::new(x.ip, x.port)))
}

async fn check_stun(
    host: Option<&str>,
    stun_ports: &[u16],
    ice: &[IceServer],
    wait: Duration,
) -> StunCheck {
    // Destinations: the built-in STUN ports on the server's host, then every
    // STUN and UDP TURN URL (TURN servers answer Binding requests too).
    // Each with its name in the report (`stun:` URL or built-in port).
    let mut named: Vec<(String, IceUrl)> = Vec::new();
    if let Some(h) = host {
        for p in stun_ports {
            let built_in = IceUrl {
                host: h.to_owned(),
                port: *p,
                transport: "udp".into(),
            };
            named.push((format!("built-in STUN, port {p}"), built_in));
        }
    }
    for url in ice.iter().flat_map(|s| s.urls.iter()) {
        if let Some(dest) = ice_url_parts(url)
            && dest.transport == "udp"
            && !url.to_ascii_lowercase().starts_with("turns:")
        {
            named.push((url.clone(), dest));
        }
    }
    let mut probes: Vec<StunProbe> = Vec::new();
    for (name, dest) in named {
        if let Some(addr) = resolve(&dest.host, dest.port).await
            && !probes.iter().any(|x| x.addr == addr)
        {
            probes.push(StunProbe {
                server: name,
                addr,
                mapped: None,
                rtt_ms: None,
            });
        }
    }
    let mut check = StunCheck {
        local: None,
        probes,
        public: None,
        mapping: Mapping::NoAnswer,
    };
    if check.probes.is_empty() {
        return check;
    }
    let Ok(sock) = UdpSocket::bind("0.0.0.0:0").await else {
        return check;
    };
    check.local = local_address(check.probes[0].addr)
        .await
        .zip(sock.local_addr().ok())
        .map(|(ip, a)| SocketAddr::new(ip, a.port()));
    let requests: Vec<(TransactionId, Vec<u8>)> = check
        .probes
        .iter()
        .filter_map(|_| binding_request())
        .collect();
    let start = Instant::now();
    let deadline = tokio::time::Instant::now() + wait;
    // Retransmit what is unanswered (RFC 8489's schedule, compressed to the
    // doctor's budget): at 0, 250, 750 and 1500 ms.
    let mut resend = [250u64, 500, 750].into_iter().map(Duration::from_millis);
    let mut next = tokio::time::Instant::now();
    let mut buf = [0u8; 1500];
    loop {
        if tokio::time::Instant::now() >= next {
            for (p, (_, raw)) in check.probes.iter().zip(&requests) {
                if p.mapped.is_none() {
                    let _ = sock.send_to(raw, p.addr).await;
                }
            }
            next = match resend.next() {
                Some(d) => next + d,
                None => deadline,
            };
        }
        if check.probes.iter().all(|p| p.mapped.is_some()) {
            break;
        }
        let until = next.min(deadline);
        match tokio::time::timeout_at(until, sock.recv_from(&mut buf)).await {
            Ok(Ok((n, _from))) => {
                if let Some((id, mapped)) = mapped_of(&buf[..n])
                    && let Some(i) = requests.iter().position(|(t, _)| *t == id)
                    && check.probes[i].mapped.is_none()
                {
                    check.probes[i].mapped = Some(mapped);
                    check.probes[i].rtt_ms = Some(ms(start.elapsed()));
                }
            }
            Ok(Err(_)) => {}
            Err(_) if tokio::time::Instant::now() >= deadline => break,
            Err(_) => {}
        }
    }
    let mapped: Vec<SocketAddr> = check.probes.iter().filter_map(|p| p.mapped).collect();
    check.public = mapped.first().copied();
    check.mapping = mapping(check.local, &mapped);
    check
}

/// The mapping behaviour from our own address and the mapped addresses
/// different destinations saw.
fn mapping(local: Option<SocketAddr>, mapped: &[SocketAddr]) -> Mapping {
    let Some(first) = mapped.first() else {
        return Mapping::NoAnswer;
    };
    if mapped.iter().any(|m| m != first) {
        return Mapping::EndpointDependent;
    }
    if local == Some(*first) {
        return Mapping::NoNat;
    }
    if mapped.len() < 2 {
        return Mapping::Unknown;
    }
    Mapping::EndpointIndependent
}

/// The local IP the OS would use towards `to` (no packet is sent).
async fn local_address(to: SocketAddr) -> Option<IpAddr> {
    let s = UdpSocket::bind("0.0.0.0:0").await.ok()?;
    s.connect(to).await.ok()?;
    s.local_addr().ok().map(|a| a.ip())
}

/// What a TURN-over-TCP check adds to its result: the game cannot use it.
const TCP_NOTE: &str =
    "the game's WebRTC stack (webrtc-rs 0.21) cannot use TURN over TCP; a browser could";

async fn check_turn(ice: &[IceServer], wait: Duration) -> Vec<TurnCheck> {
    let mut out = Vec::new();
    let mut tasks = Vec::new();
    for server in ice {
        let (Some(user), Some(pass)) = (&server.username, &server.credential) else {
            continue;
        };
        for url in &server.urls {
            let lower = url.to_ascii_lowercase();
            if !lower.starts_with("turn:") && !lower.starts_with("turns:") {
                continue;
            }
            let not_tested = |transport: &str, why: &str| TurnCheck {
                url: url.clone(),
                transport: transport.to_owned(),
                ok: None,
                relayed: None,
                rtt_ms: None,
                error: Some(format!("not tested: {why}")),
            };
            let Some(IceUrl {
                host: h,
                port: p,
                transport,
            }) = ice_url_parts(url)
            else {
                out.push(not_tested("udp", "cannot read this URL"));
                continue;
            };
            if lower.starts_with("turns:") {
                out.push(not_tested(
                    &transport,
                    "TURN over TLS; the game's WebRTC stack (webrtc-rs 0.21) uses TURN over UDP only",
                ));
                continue;
            }
            if transport != "udp" && transport != "tcp" {
                out.push(not_tested(
                    &transport,
                    "the game's WebRTC stack (webrtc-rs 0.21) uses TURN over UDP only",
                ));
                continue;
            }
            let (url, user, pass) = (url.clone(), user.clone(), pass.clone());
            tasks.push(tokio::spawn(async move {
                let Some(addr) = resolve(&h, p).await else {
                    return TurnCheck {
                        url,
                        transport,
                        ok: Some(false),
                        relayed: None,
                        rtt_ms: None,
                        error: Some(format!("cannot resolve {h}")),
                    };
                };
                let over = if transport == "tcp" {
                    TurnTransport::Tcp
                } else {
                    TurnTransport::Udp
                };
                let r = turn_probe::relay_check(over, addr, &user, &pass, wait).await;
                turn_check(url, transport, r)
            }));
        }
    }
    let mut tested = Vec::new();
    for t in tasks {
        if let Ok(c) = t.await {
            tested.push(c);
        }
    }
    tested.extend(out);
    tested
}

fn turn_check(
    url: String,
    transport: String,
    r: Result<turn_probe::TurnProbe, TurnProbeError>,
) -> TurnCheck {
    let tcp = transport == "tcp";
    match r {
        Ok(p) => TurnCheck {
            url,
            ok: Some(true),
            relayed: Some(p.relayed),
            rtt_ms: Some(ms(p.rtt)),
            error: match (tcp, p.relayed_round_trip) {
                (false, _) => None,
                (true, true) => Some(TCP_NOTE.to_owned()),
                (true, false) => Some(format!(
                    "allocated over TCP (Allocate round trip {:.1} ms), but the test datagram \
                     sent over UDP to the relay did not come back (UDP blocked here?); {TCP_NOTE}",
                    ms(p.rtt)
                )),
            },
            transport,
        },
        Err(e) => TurnCheck {
            url,
            transport,
            ok: Some(false),
            relayed: None,
            rtt_ms: None,
            error: Some(e.to_string()),
        },
    }
}

/// The verdict and its lines, from the checks' results. Pure.
pub fn judge(
    url: &str,
    server: &ServerCheck,
    stun: Option<&StunCheck>,
    turn: &[TurnCheck],
) -> (Verdict, Vec<Line>) {
    let mut lines = Vec::new();
    let mut say = |level, text: String| lines.push(Line { level, text });
    if !server.ok {
        say(
            Level::Fail,
            format!(
                "Cannot reach the server at {url}: {}. Check the address, and that the server is running.",
                server.error.as_deref().unwrap_or("no answer")
            ),
        );
        return (Verdict::Unreachable, lines);
    }
    match &server.version {
        Some(v) => say(
            Level::Ok,
            format!(
                "The server answers: {v}, round trip {:.1} ms.",
                server.rtt_ms.unwrap_or(0.0)
            ),
        ),
        None => say(
            Level::Warn,
            "The server answers, but not `hello`: a core-only Socket.IO server (no room codes, STUN or TURN from it; the game generates codes and relays with broadcast).".into(),
        ),
    }
    // Only TURN over UDP helps this game (its WebRTC stack has no TCP).
    let turn_works = turn.iter().any(TurnCheck::works_for_the_game);
    // TURN lines come after the NAT's (the order a person reads the story in).
    let mut turn_lines = Vec::new();
    let mut say_turn = |level, text: String| turn_lines.push(Line { level, text });
    for t in turn {
        let tcp = t.transport == "tcp" && t.ok.is_some();
        match (t.ok, &t.relayed, &t.error) {
            (Some(true), Some(r), _) if tcp => say_turn(
                Level::Info,
                format!(
                    "TURN over TCP works ({}): relay {r} — browsers can use it; this game's WebRTC uses UDP only.",
                    t.url
                ),
            ),
            (Some(false), _, e) if tcp => say_turn(
                Level::Info,
                format!(
                    "TURN over TCP does not work ({}): {}. This game's WebRTC uses UDP only; browsers on networks that block UDP would use it.",
                    t.url,
                    e.as_deref().unwrap_or("no answer")
                ),
            ),
            (Some(true), Some(r), _) => say_turn(
                Level::Ok,
                format!(
                    "TURN works ({}): relay {r}, round trip {:.1} ms; players who cannot connect directly will meet there.",
                    t.url,
                    t.rtt_ms.unwrap_or(0.0)
                ),
            ),
            (Some(false), _, e) => say_turn(
                Level::Warn,
                format!(
                    "TURN does not work ({}): {}.",
                    t.url,
                    e.as_deref().unwrap_or("no answer")
                ),
            ),
            _ => say_turn(
                Level::Info,
                format!("{}: {}.", t.url, t.error.as_deref().unwrap_or("not tested")),
            ),
        }
    }
    let Some(stun) = stun else {
        lines.extend(turn_lines);
        return (Verdict::RelayOnly, lines);
    };
    if stun.probes.is_empty() {
        say(
            Level::Warn,
            "The server offers no STUN: you can play directly only with players on your own network; others through TURN or the server relay.".into(),
        );
        let v = if turn_works {
            Verdict::NeedsTurn
        } else {
            Verdict::RelayOnly
        };
        lines.extend(turn_lines);
        return (v, lines);
    }
    let public = stun.public.map(|p| p.to_string()).unwrap_or_default();
    let verdict = match stun.mapping {
        Mapping::NoAnswer => {
            say(
                Level::Fail,
                "Your network blocks UDP (STUN got no answer while the server answers over TCP): you will play through the server relay.".into(),
            );
            Verdict::RelayOnly
        }
        Mapping::NoNat => {
            let private = match stun.public.map(|p| p.ip()) {
                Some(IpAddr::V4(ip)) => ip.is_private() || ip.is_loopback() || ip.is_link_local(),
                Some(IpAddr::V6(ip)) => ip.is_loopback(),
                None => false,
            };
            let text = if private {
                format!(
                    "The server sees your own address {public} (no NAT between you, as on one network): direct connections should work."
                )
            } else {
                format!("Your address {public} is public (no NAT): direct connections should work.")
            };
            say(Level::Ok, text);
            Verdict::Direct
        }
        Mapping::EndpointIndependent => {
            say(
                Level::Ok,
                format!(
                    "Your public address is {public}, the same towards every server (your NAT keeps one public port per socket): direct connections should work."
                ),
            );
            Verdict::Direct
        }
        Mapping::Unknown => {
            say(
                Level::Ok,
                format!(
                    "Your public address is {public}: direct connections should work (only one STUN server answered, so your NAT type could not be tested)."
                ),
            );
            Verdict::Direct
        }
        Mapping::EndpointDependent => {
            let seen: Vec<String> = stun
                .probes
                .iter()
                .filter_map(|p| p.mapped)
                .map(|m| m.to_string())
                .collect();
            say(
                Level::Warn,
                format!(
                    "Your NAT gives you another public port for every server ({}: a \"symmetric\" NAT): you will need TURN for some players.",
                    seen.join(", ")
                ),
            );
            if !turn_works {
                say(
                    Level::Warn,
                    "No working TURN server: players behind NATs like yours will reach you through the server relay.".into(),
                );
            }
            Verdict::NeedsTurn
        }
    };
    lines.extend(turn_lines);
    (verdict, lines)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn a(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn mapping_from_answers() {
        let local = Some(a("10.1.0.2:5000"));
        assert_eq!(mapping(local, &[]), Mapping::NoAnswer);
        assert_eq!(
            mapping(Some(a("198.18.2.1:5000")), &[a("198.18.2.1:5000")]),
            Mapping::NoNat
        );
        assert_eq!(mapping(local, &[a("198.18.1.1:5000")]), Mapping::Unknown);
        assert_eq!(
            mapping(local, &[a("198.18.1.1:5000"), a("198.18.1.1:5000")]),
            Mapping::EndpointIndependent
        );
        assert_eq!(
            mapping(local, &[a("198.18.1.1:5000"), a("198.18.1.1:6001")]),
            Mapping::EndpointDependent
        );
    }

    #[test]
    fn urls_are_taken_apart() {
        assert_eq!(
            url_host("https://arena.example.org/x").as_deref(),
            Some("arena.example.org")
        );
        assert_eq!(
            url_host("http://198.18.0.2:3536").as_deref(),
            Some("198.18.0.2")
        );
        assert_eq!(url_host("http://[::1]:3536").as_deref(), Some("::1"));
        let parts = |host: &str, port, transport: &str| IceUrl {
            host: host.into(),
            port,
            transport: transport.into(),
        };
        assert_eq!(
            ice_url_parts("turn:198.18.0.2:3478?transport=tcp"),
            Some(parts("198.18.0.2", 3478, "tcp"))
        );
        assert_eq!(
            ice_url_parts("stun:stun.example.org"),
            Some(parts("stun.example.org", 3478, "udp"))
        );
        assert_eq!(
            ice_url_parts("turns:[2001:db8::1]"),
            Some(parts("2001:db8::1", 5349, "tcp"))
        );
        assert_eq!(ice_url_parts("stun:"), None);
    }

    fn stun(mapping: Mapping) -> StunCheck {
        StunCheck {
            local: None,
            probes: vec![StunProbe {
                server: "s".into(),
                addr: a("198.18.0.2:3478"),
                mapped: (mapping != Mapping::NoAnswer).then(|| a("198.18.1.1:4000")),
                rtt_ms: None,
            }],
            public: None,
            mapping,
        }
    }

    #[test]
    fn verdicts_and_exit_codes() {
        let up = ServerCheck {
            ok: true,
            ..ServerCheck::default()
        };
        let down = ServerCheck::default();
        let turn_ok = [TurnCheck {
            url: "turn:x".into(),
            transport: "udp".into(),
            ok: Some(true),
            relayed: Some(a("198.18.0.2:50000")),
            rtt_ms: Some(1.0),
            error: None,
        }];
        let j = |s: &ServerCheck, m: Option<Mapping>, t: &[TurnCheck]| {
            judge("http://x", s, m.map(stun).as_ref(), t).0
        };
        assert_eq!(j(&down, None, &[]), Verdict::Unreachable);
        assert_eq!(Verdict::Unreachable.exit_code(), 2);
        assert_eq!(j(&up, Some(Mapping::NoNat), &[]), Verdict::Direct);
        assert_eq!(
            j(&up, Some(Mapping::EndpointIndependent), &[]),
            Verdict::Direct
        );
        assert_eq!(Verdict::Direct.exit_code(), 0);
        assert_eq!(
            j(&up, Some(Mapping::EndpointDependent), &turn_ok),
            Verdict::NeedsTurn
        );
        assert_eq!(j(&up, Some(Mapping::NoAnswer), &[]), Verdict::RelayOnly);
        assert_eq!(Verdict::RelayOnly.exit_code(), 1);
        let (_, lines) = judge("http://x", &up, Some(&stun(Mapping::NoAnswer)), &[]);
        assert!(
            lines.iter().any(|l| l.text.contains("blocks UDP")),
            "{lines:?}"
        );
    }

    fn tcp_ok() -> TurnCheck {
        turn_check(
            "turn:198.18.0.2:3478?transport=tcp".into(),
            "tcp".into(),
            Ok(turn_probe::TurnProbe {
                relayed: a("198.18.0.2:50000"),
                mapped: a("198.18.1.1:40000"),
                rtt: Duration::from_micros(900),
                relayed_round_trip: false,
            }),
        )
    }

    #[test]
    fn turn_over_tcp_alone_does_not_make_turn_work_for_the_game() {
        let up = ServerCheck {
            ok: true,
            ..ServerCheck::default()
        };
        let tcp = [tcp_ok()];
        // Symmetric NAT, TCP-only TURN: still "no working TURN server".
        let (v, lines) = judge(
            "http://x",
            &up,
            Some(&stun(Mapping::EndpointDependent)),
            &tcp,
        );
        assert_eq!(v, Verdict::NeedsTurn);
        let text: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
        assert!(
            text.iter().any(|l| l.starts_with("No working TURN server")),
            "{text:?}"
        );
        let line = lines
            .iter()
            .find(|l| l.text.starts_with("TURN over TCP works"))
            .expect("a TCP line");
        assert_eq!(line.level, Level::Info);
        assert_eq!(
            line.text,
            "TURN over TCP works (turn:198.18.0.2:3478?transport=tcp): relay 198.18.0.2:50000 \
             — browsers can use it; this game's WebRTC uses UDP only."
        );
        assert!(
            !text.iter().any(|l| l.starts_with("TURN works")),
            "{text:?}"
        );
        // No STUN at all: TURN over UDP would be "needs TURN"; over TCP it is
        // the relay only.
        let no_stun = StunCheck {
            probes: Vec::new(),
            ..stun(Mapping::NoAnswer)
        };
        assert_eq!(
            judge("http://x", &up, Some(&no_stun), &tcp).0,
            Verdict::RelayOnly
        );
        let udp = TurnCheck {
            transport: "udp".into(),
            url: "turn:198.18.0.2:3478?transport=udp".into(),
            ..tcp_ok()
        };
        assert_eq!(
            judge("http://x", &up, Some(&no_stun), &[udp, tcp_ok()]).0,
            Verdict::NeedsTurn
        );
        // UDP blocked, TCP allocation works: relay only, and said so.
        let (v, lines) = judge("http://x", &up, Some(&stun(Mapping::NoAnswer)), &tcp);
        assert_eq!(v, Verdict::RelayOnly);
        assert!(
            lines.iter().any(|l| l.text.contains("blocks UDP")),
            "{lines:?}"
        );
        // A failed TCP check is information, not a warning about the game.
        let failed = turn_check(
            "turn:x?transport=tcp".into(),
            "tcp".into(),
            Err(TurnProbeError::Unauthorized),
        );
        let (_, lines) = judge(
            "http://x",
            &up,
            Some(&stun(Mapping::EndpointIndependent)),
            &[failed],
        );
        let last = lines.last().unwrap();
        assert_eq!(last.level, Level::Info);
        assert!(
            last.text.starts_with(
                "TURN over TCP does not work (turn:x?transport=tcp): the TURN server refused"
            ),
            "{last:?}"
        );
    }

    #[test]
    fn tcp_checks_carry_the_transport_and_a_note_in_json() {
        let c = serde_json::to_value(tcp_ok()).unwrap();
        assert_eq!(c["transport"], "tcp");
        assert_eq!(c["ok"], true);
        assert_eq!(c["relayed"], "198.18.0.2:50000");
        assert_eq!(c["rtt_ms"], 0.9);
        let note = c["error"].as_str().unwrap();
        assert!(note.contains("did not come back"), "{note}");
        assert!(note.contains("cannot use TURN over TCP"), "{note}");
        // With the datagram around the relay: the note alone.
        let round = turn_check(
            "turn:x?transport=tcp".into(),
            "tcp".into(),
            Ok(turn_probe::TurnProbe {
                relayed: a("198.18.0.2:50000"),
                mapped: a("198.18.1.1:40000"),
                rtt: Duration::from_millis(2),
                relayed_round_trip: true,
            }),
        );
        assert_eq!(round.error.as_deref(), Some(TCP_NOTE));
        // UDP: no note, as before.
        let udp = turn_check(
            "turn:x".into(),
            "udp".into(),
            Ok(turn_probe::TurnProbe {
                relayed: a("198.18.0.2:50000"),
                mapped: a("198.18.1.1:40000"),
                rtt: Duration::from_millis(2),
                relayed_round_trip: true,
            }),
        );
        let j = serde_json::to_value(&udp).unwrap();
        assert_eq!(j["transport"], "udp");
        assert!(j.get("error").is_none(), "{j}");
    }

    #[tokio::test]
    async fn turns_and_unreadable_urls_are_not_tested() {
        let ice = [IceServer {
            urls: vec![
                "turns:turn.example.org:5349?transport=tcp".into(),
                "turn:".into(),
                "stun:stun.example.org".into(),
            ],
            username: Some("u".into()),
            credential: Some("p".into()),
        }];
        let checks = check_turn(&ice, Duration::from_millis(100)).await;
        assert_eq!(checks.len(), 2, "{checks:?}");
        assert_eq!(checks[0].ok, None);
        assert_eq!(checks[0].transport, "tcp");
        assert!(
            checks[0].error.as_deref().unwrap().contains("TLS"),
            "{checks:?}"
        );
        assert_eq!(checks[1].ok, None);
    }
}
