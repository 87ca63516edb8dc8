//! Is this TURN server usable? An end-to-end check of one TURN server over
//! UDP (or TCP), for `arena doctor`, operators (`arena turn-probe`) and the
//! NAT lab.
//!
//! The TURN protocol is the sans-IO client of webrtc-rs (`rtc::turn::client`);
//! this module is only its I/O shell: one tokio UDP socket or TCP stream, the
//! client's timers, and a deadline on every wait (nothing here can hang or
//! panic). It
//! owns no state beyond one call: each check allocates, does its one thing and
//! releases the allocation (a Refresh with lifetime 0), best effort. A 437
//! (Allocation Mismatch: the server already holds an allocation on this
//! 5-tuple, e.g. one a NAT mapping reused) is tried again from a fresh
//! socket, as RFC 8656 §7.3 advises (CI saw one behind the NAT lab's cone).
//!
//! - [`relay_check`] over UDP ([`allocate_round_trip`]): allocate a UDP
//!   relay, permit our own mapped (server-reflexive) address, send one
//!   datagram from the same socket to the relayed address and wait for it to
//!   come back through the relay. That proves the credentials, the relay port
//!   range (firewall included) and the server's idea of its public address.
//! - [`relay_check`] over TCP: the same over a TCP connection to the server
//!   (RFC 5766 section 11.5 framing, kept by RFC 8656, split by the pure
//!   `next_frame`): a UDP relay allocated over TCP, our mapped IP permitted,
//!   and one datagram sent from a fresh UDP socket to the relayed address,
//!   expected back as a Data indication on the TCP connection. Where UDP is
//!   blocked the allocation alone counts ([`TurnProbe::relayed_round_trip`]
//!   is then false). The game's WebRTC stack cannot use TURN over TCP;
//!   browsers can.
//! - [`permission`]: allocate, then ask for a permission to one peer. A
//!   hardened server refuses private, loopback and link-local peers with 403.
//!
//! The client learns the realm and nonce from the server's first 401 (its
//! `ClientConfig::realm` is overwritten by the 401's REALM), so no realm is
//! configured here. It does not report the XOR-MAPPED-ADDRESS of the Allocate
//! response nor the ERROR-CODE of refusals as data, so this shell reads both
//! from the responses before handing them to the client. Over TCP the client
//! only makes and reads messages (`TransportProtocol::TCP` in its config
//! turns off its retransmissions; it still asks for a UDP relay): the
//! framing on the stream is this shell's.
//!
//! It must not touch the game, the net thread or WebRTC.

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use rtc::sansio::Protocol;
use rtc::shared::{TransportContext, TransportMessage, TransportProtocol};
use rtc::stun::error_code::ErrorCodeAttribute;
use rtc::stun::message::{
    CLASS_ERROR_RESPONSE, CLASS_SUCCESS_RESPONSE, Getter, METHOD_ALLOCATE, METHOD_REFRESH, Message,
    TransactionId, is_stun_message,
};
use rtc::stun::xoraddr::XorMappedAddress;
use rtc::turn::client::{Client, ClientConfig, Event};
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

/// What a successful relay round trip found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TurnProbe {
    /// The relayed address the server allocated (what peers send to).
    pub relayed: SocketAddr,
    /// Our address as the server sees it (server-reflexive), from the
    /// Allocate response.
    pub mapped: SocketAddr,
    /// From sending a datagram to the relayed address until it came back
    /// through the relay; when it did not come back
    /// (`relayed_round_trip` false), the Allocate request's round trip.
    pub rtt: Duration,
    /// A datagram went around the relay and came back. Always true over
    /// UDP; false over TCP when only the allocation worked (UDP blocked on
    /// this side, say).
    pub relayed_round_trip: bool,
}

/// How the client reaches the TURN server (the relay is UDP either way).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TurnTransport {
    /// UDP: what the game's WebRTC stack uses.
    Udp,
    /// TCP (RFC 5766 section 11.5 framing): browsers can use it, the game's
    /// WebRTC stack cannot.
    Tcp,
}

/// Why a TURN check failed, in words a player or an operator understands.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TurnProbeError {
    /// Nothing (or not the awaited answer) came back within the timeout.
    #[error(
        "no answer from the TURN server in time: check its address and port, \
         that it is running, and that UDP to it and to its relay ports (TCP to it, \
         for a TCP URL) is not blocked"
    )]
    Unreachable,
    /// The server refused the username and password (401 after the
    /// authenticated retry).
    #[error(
        "the TURN server refused the username and password (wrong or expired \
         credentials, or the game server and TURN server do not share the same secret)"
    )]
    Unauthorized,
    /// Any other error response, e.g. 403 Forbidden for a denied peer.
    #[error("the TURN server refused the request: {code} {reason}")]
    Refused {
        /// The STUN error code (403, 437, 486, ...).
        code: u16,
        /// The server's reason phrase.
        reason: String,
    },
    /// The local socket failed.
    #[error("network error on this machine: {0}")]
    Io(String),
    /// The server answered something the check did not expect.
    #[error("unexpected answer from the TURN server: {0}")]
    Protocol(String),
}

impl TurnProbeError {
    /// A short machine-readable name: `unreachable`, `unauthorized`,
    /// `refused`, `io` or `protocol`.
    pub fn kind(&self) -> &'static str {
        match self {
            TurnProbeError::Unreachable => "unreachable",
            TurnProbeError::Unauthorized => "unauthorized",
            TurnProbeError::Refused { .. } => "refused",
            TurnProbeError::Io(_) => "io",
            TurnProbeError::Protocol(_) => "protocol",
        }
    }

    /// The STUN error code the server answered with, if it answered one.
    pub fn code(&self) -> Option<u16> {
        match self {
            TurnProbeError::Unauthorized => Some(401),
            TurnProbeError::Refused { code, .. } => Some(*code),
            _ => None,
        }
    }
}

/// Allocates a UDP relay on `server`, reached over `transport`, and sends
/// one datagram around it (see the module docs): over UDP from the same
/// socket, over TCP from a fresh UDP socket. Releases the allocation before
/// returning. Over TCP, if the datagram does not come back (UDP blocked),
/// the allocation alone is a success: [`TurnProbe::relayed_round_trip`] is
/// false and `rtt` is the Allocate round trip. Every wait is bounded by
/// `timeout` (the release gets at most one more second); a refused or
/// unanswered TCP connection is [`TurnProbeError::Unreachable`].
pub async fn relay_check(
    transport: TurnTransport,
    server: SocketAddr,
    username: &str,
    password: &str,
    timeout: Duration,
) -> Result<TurnProbe, TurnProbeError> {
    let deadline = Instant::now() + timeout;
    let mut attempt = 0;
    loop {
        let mut s = Session::open(transport, server, username, password, deadline).await?;
        let result = s.round_trip(deadline).await;
        s.release(deadline).await;
        attempt += 1;
        if !try_another_address(&result, attempt) {
            return result;
        }
    }
}

/// Attempts at most, each from a fresh local address, when the server
/// answers 437 (see [`try_another_address`]).
const MISMATCH_ATTEMPTS: u32 = 3;

/// Whether to try again from a fresh socket after `attempt` attempts that
/// ended in `result`: a 437 (Allocation Mismatch) means the server already
/// holds an allocation on this 5-tuple (RFC 8656 §7.3: e.g. a NAT gave us
/// the public port of an allocation not yet expired), and the RFC's remedy
/// is another client transport address.
fn try_another_address<T>(result: &Result<T, TurnProbeError>, attempt: u32) -> bool {
    matches!(result, Err(TurnProbeError::Refused { code: 437, .. })) && attempt < MISMATCH_ATTEMPTS
}

/// [`relay_check`] over UDP, the transport the game uses.
pub async fn allocate_round_trip(
    server: SocketAddr,
    username: &str,
    password: &str,
    timeout: Duration,
) -> Result<TurnProbe, TurnProbeError> {
    relay_check(TurnTransport::Udp, server, username, password, timeout).await
}

/// Allocates a UDP relay on `server`, then asks for a permission to `peer`:
/// `Ok` when granted, [`TurnProbeError::Refused`] (403 on a hardened server)
/// when refused. Releases the allocation before returning; every wait is
/// bounded by `timeout`.
pub async fn permission(
    server: SocketAddr,
    username: &str,
    password: &str,
    peer: SocketAddr,
    timeout: Duration,
) -> Result<(), TurnProbeError> {
    let deadline = Instant::now() + timeout;
    let mut attempt = 0;
    loop {
        let mut s = Session::open(TurnTransport::Udp, server, username, password, deadline).await?;
        let result = match s.allocate(deadline).await {
            Ok(relayed) => s.permit(relayed, peer, deadline).await,
            Err(e) => Err(e),
        };
        s.release(deadline).await;
        attempt += 1;
        if !try_another_address(&result, attempt) {
            return result;
        }
    }
}

/// One line of `arena turn-probe`'s output: a check and its result, as one
/// JSON object (`Display` writes it; fields in this order, absent ones left
/// out): `{"check":"relay","ok":true,"relayed":..,"mapped":..,"rtt_ms":..}`,
/// `{"check":"peer","peer":..,"ok":false,"kind":"refused","code":403,"error":..}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckReport {
    /// `relay` or `peer`.
    pub check: &'static str,
    /// The peer of a permission check.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer: Option<String>,
    /// Whether the check passed.
    pub ok: bool,
    /// The relayed address (relay check passed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relayed: Option<String>,
    /// Our mapped address (relay check passed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mapped: Option<String>,
    /// The relay round trip in milliseconds (relay check passed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rtt_ms: Option<f64>,
    /// [`TurnProbeError::kind`] of a failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<&'static str>,
    /// The server's error code, when it answered one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<u16>,
    /// What went wrong, in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl CheckReport {
    fn new(check: &'static str, peer: Option<SocketAddr>, error: Option<&TurnProbeError>) -> Self {
        CheckReport {
            check,
            peer: peer.map(|p| p.to_string()),
            ok: error.is_none(),
            relayed: None,
            mapped: None,
            rtt_ms: None,
            kind: error.map(TurnProbeError::kind),
            code: error.and_then(TurnProbeError::code),
            error: error.map(ToString::to_string),
        }
    }
}

impl std::fmt::Display for CheckReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let line = serde_json::to_string(self).map_err(|_| std::fmt::Error)?;
        f.write_str(&line)
    }
}

/// The report of a relay check ([`allocate_round_trip`]).
pub fn relay_report(result: &Result<TurnProbe, TurnProbeError>) -> CheckReport {
    match result {
        Ok(p) => CheckReport {
            relayed: Some(p.relayed.to_string()),
            mapped: Some(p.mapped.to_string()),
            rtt_ms: Some(p.rtt.as_secs_f64() * 1000.0),
            ..CheckReport::new("relay", None, None)
        },
        Err(e) => CheckReport::new("relay", None, Some(e)),
    }
}

/// The report of a permission check ([`permission`]) for `peer`.
pub fn peer_report(peer: SocketAddr, result: &Result<(), TurnProbeError>) -> CheckReport {
    CheckReport::new("peer", Some(peer), result.as_ref().err())
}

/// The ERROR-CODE attribute of an error response (RFC 8489 section 14.8).
#[derive(Debug, Clone, PartialEq, Eq)]
struct ErrorCode {
    /// 401, 403, 437, 486, ...
    code: u16,
    /// The server's reason phrase.
    reason: String,
}

/// The error for a refused request: 401 is about credentials (the client
/// has already answered the first 401 challenge when this is seen), any
/// other code is a refusal. `code` is the ERROR-CODE read from the response;
/// without it, `message` (the client's error text, `"... (error 403:
/// Forbidden)"`) is parsed.
fn refusal(code: Option<ErrorCode>, message: &str) -> TurnProbeError {
    match code.or_else(|| parse_error_text(message)) {
        Some(ErrorCode { code: 401, .. }) => TurnProbeError::Unauthorized,
        Some(ErrorCode { code, reason }) => TurnProbeError::Refused { code, reason },
        None => TurnProbeError::Protocol(message.to_owned()),
    }
}

/// `"... (error 403: Forbidden)"` → 403, `"Forbidden"`.
fn parse_error_text(message: &str) -> Option<ErrorCode> {
    let start = message.rfind("(error ")? + "(error ".len();
    let rest = message[start..].strip_suffix(')')?;
    let (code, reason) = rest.split_once(':')?;
    Some(ErrorCode {
        code: code.trim().parse().ok()?,
        reason: reason.trim().to_owned(),
    })
}

/// How a wait for transaction `tid` (`None`: any transaction) ends when
/// `ev` is not its success: an error response is a [`refusal`] (with the
/// ERROR-CODE `errors` holds for it), a timeout
/// [`TurnProbeError::Unreachable`]; anything else does not end it.
fn failure(
    ev: Event,
    tid: Option<TransactionId>,
    errors: &mut HashMap<TransactionId, ErrorCode>,
) -> Option<TurnProbeError> {
    let ours = |t: &TransactionId| tid.is_none_or(|id| id == *t);
    match ev {
        Event::AllocateError(t, e)
        | Event::CreatePermissionError(t, e)
        | Event::BindingError(t, e)
            if ours(&t) =>
        {
            Some(refusal(errors.remove(&t), &e.to_string()))
        }
        Event::TransactionTimeout(t) if ours(&t) => Some(TurnProbeError::Unreachable),
        _ => None,
    }
}

/// The payload of round-trip datagram number `seq` of probe `nonce`.
fn payload(nonce: u64, seq: u32) -> Vec<u8> {
    let mut p = b"arena-turn-probe".to_vec();
    p.extend_from_slice(&nonce.to_be_bytes());
    p.extend_from_slice(&seq.to_be_bytes());
    p
}

/// Which datagram `data` is, if it is one of probe `nonce`'s.
fn payload_seq(nonce: u64, data: &[u8]) -> Option<u32> {
    let rest = data.strip_prefix(b"arena-turn-probe".as_slice())?;
    let (n, seq) = rest.split_at_checked(8)?;
    if n != nonce.to_be_bytes() {
        return None;
    }
    Some(u32::from_be_bytes(seq.try_into().ok()?))
}

/// Where the first message of a TURN-over-TCP byte stream ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Frame {
    /// The message's own length (a ChannelData message without its padding).
    message: usize,
    /// The bytes it takes in the stream (padding included).
    total: usize,
}

/// The byte stream is out of step: what starts there is neither a STUN
/// message nor ChannelData, and nothing says where the next message begins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the TCP stream from the TURN server is neither STUN nor ChannelData (byte {0:#04x})")]
struct FrameError(u8);

/// The STUN magic cookie (RFC 8489 section 5).
const MAGIC_COOKIE: [u8; 4] = [0x21, 0x12, 0xa4, 0x42];

/// The first message of `stream`, TURN over TCP (RFC 5766 section 11.5,
/// kept by RFC 8656): STUN messages (20-byte header, length from the
/// header) and ChannelData (4-byte header, padded to a multiple of 4) back
/// to back, told apart by their first two bits (00 STUN, 01 ChannelData).
/// `Ok(None)`: not all of it has arrived yet. Pure, and property-tested (any
/// bytes, any chunking).
fn next_frame(stream: &[u8]) -> Result<Option<Frame>, FrameError> {
    let Some(&first) = stream.first() else {
        return Ok(None);
    };
    let length = |at: usize| {
        stream
            .get(at..at + 2)
            .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
    };
    let frame = match first >> 6 {
        0b00 => {
            // As much of the magic cookie as has arrived must match.
            let cookie = stream.get(4..).unwrap_or_default();
            let n = cookie.len().min(MAGIC_COOKIE.len());
            if cookie.get(..n) != MAGIC_COOKIE.get(..n) {
                return Err(FrameError(first));
            }
            let Some(len) = length(2) else {
                return Ok(None);
            };
            // STUN lengths are multiples of 4 already: no padding.
            Frame {
                message: 20 + len,
                total: 20 + len,
            }
        }
        0b01 => {
            let Some(len) = length(2) else {
                return Ok(None);
            };
            Frame {
                message: 4 + len,
                total: (4 + len).next_multiple_of(4),
            }
        }
        _ => return Err(FrameError(first)),
    };
    Ok((stream.len() >= frame.total).then_some(frame))
}

/// The connection to the TURN server.
enum Link {
    /// TURN over UDP: one datagram, one message.
    Udp(UdpSocket),
    /// TURN over TCP: messages framed by [`next_frame`].
    Tcp {
        stream: TcpStream,
        server: SocketAddr,
        /// Bytes read and not handed on yet (the start of a message).
        inbox: BytesMut,
    },
}

impl Link {
    fn protocol(&self) -> TransportProtocol {
        match self {
            Link::Udp(_) => TransportProtocol::UDP,
            Link::Tcp { .. } => TransportProtocol::TCP,
        }
    }

    /// Sends one message. Over UDP a lost datagram is what retransmissions
    /// are for (and a socket that cannot send at all ends in a timeout);
    /// over TCP a failed write ends the check.
    async fn send(
        &mut self,
        message: &[u8],
        to: SocketAddr,
        deadline: Instant,
    ) -> Result<(), TurnProbeError> {
        match self {
            Link::Udp(socket) => {
                if let Err(e) = socket.send_to(message, to).await {
                    tracing::debug!("turn probe: send to {to}: {e}");
                }
                Ok(())
            }
            Link::Tcp { stream, .. } => {
                // ChannelData is padded to 4 bytes on a stream (rtc-turn's
                // encoder already pads; this keeps the stream in step if
                // it ever does not).
                let mut framed = message.to_vec();
                if message.first().is_some_and(|b| b >> 6 == 0b01) {
                    framed.resize(message.len().next_multiple_of(4), 0);
                }
                let until = tokio::time::Instant::from_std(deadline);
                match tokio::time::timeout_at(until, stream.write_all(&framed)).await {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(e)) => Err(tcp_error(e)),
                    Err(_) => Err(TurnProbeError::Unreachable),
                }
            }
        }
    }

    /// The next message from the server and who sent it; `None` when the
    /// UDP socket reported an ICMP error instead (keep waiting: the
    /// deadline decides). Cancel-safe: a `select!` branch.
    async fn recv(
        &mut self,
        buf: &mut [u8],
    ) -> Result<Option<(BytesMut, SocketAddr)>, TurnProbeError> {
        match self {
            Link::Udp(socket) => match socket.recv_from(buf).await {
                Ok((n, from)) => Ok(Some((
                    BytesMut::from(buf.get(..n).unwrap_or_default()),
                    from,
                ))),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::ConnectionReset
                    ) =>
                {
                    Ok(None)
                }
                Err(e) => Err(TurnProbeError::Io(e.to_string())),
            },
            Link::Tcp {
                stream,
                server,
                inbox,
            } => loop {
                // A whole message may be waiting already; otherwise read
                // more (`read_buf` is cancel-safe, and the inbox only grows
                // once it has returned).
                match next_frame(inbox) {
                    Ok(Some(f)) => {
                        let mut message = inbox.split_to(f.total);
                        message.truncate(f.message);
                        return Ok(Some((message, *server)));
                    }
                    Ok(None) => {}
                    Err(e) => return Err(TurnProbeError::Protocol(e.to_string())),
                }
                inbox.reserve(4096);
                match stream.read_buf(inbox).await {
                    Ok(0) => {
                        return Err(TurnProbeError::Protocol(
                            "the TURN server closed the TCP connection".into(),
                        ));
                    }
                    Ok(_) => {}
                    Err(e) => return Err(tcp_error(e)),
                }
            },
        }
    }
}

/// A failed read or write on the TCP connection: the server (or something
/// between) closed it, or this machine's network failed.
fn tcp_error(e: std::io::Error) -> TurnProbeError {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::UnexpectedEof => {
            TurnProbeError::Protocol(format!("the TURN server closed the TCP connection ({e})"))
        }
        _ => TurnProbeError::Io(e.to_string()),
    }
}

/// One TURN client on one connection to the server.
struct Session {
    link: Link,
    local: SocketAddr,
    client: Client,
    /// ERROR-CODEs of error responses, by transaction.
    errors: HashMap<TransactionId, ErrorCode>,
    /// When each request was first sent, by transaction.
    sent: HashMap<TransactionId, Instant>,
    /// XOR-MAPPED-ADDRESS of the Allocate success response.
    mapped: Option<SocketAddr>,
    /// From sending the Allocate request that succeeded (the authenticated
    /// one) to its success response.
    allocate_rtt: Option<Duration>,
    /// A Refresh response came (the release was answered).
    refreshed: bool,
    relayed: Option<SocketAddr>,
    buf: Vec<u8>,
}

/// A fresh UDP socket of `to`'s address family.
async fn udp_socket_for(to: SocketAddr) -> Result<UdpSocket, TurnProbeError> {
    let any = if to.is_ipv4() {
        SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0))
    } else {
        SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0))
    };
    UdpSocket::bind(any)
        .await
        .map_err(|e| TurnProbeError::Io(e.to_string()))
}

impl Session {
    /// A client on a fresh UDP socket or TCP connection (connected by
    /// `deadline`) to `server`.
    async fn open(
        transport: TurnTransport,
        server: SocketAddr,
        username: &str,
        password: &str,
        deadline: Instant,
    ) -> Result<Session, TurnProbeError> {
        match transport {
            TurnTransport::Udp => Session::open_udp(server, username, password).await,
            TurnTransport::Tcp => Session::open_tcp(server, username, password, deadline).await,
        }
    }

    /// A client on a fresh UDP socket.
    async fn open_udp(
        server: SocketAddr,
        username: &str,
        password: &str,
    ) -> Result<Session, TurnProbeError> {
        let socket = udp_socket_for(server).await?;
        let io = |e: std::io::Error| TurnProbeError::Io(e.to_string());
        let local = socket.local_addr().map_err(io)?;
        Session::new(Link::Udp(socket), local, server, username, password)
    }

    /// A client on a fresh TCP connection (connected by `deadline`).
    async fn open_tcp(
        server: SocketAddr,
        username: &str,
        password: &str,
        deadline: Instant,
    ) -> Result<Session, TurnProbeError> {
        use std::io::ErrorKind as K;
        let until = tokio::time::Instant::from_std(deadline);
        let stream = match tokio::time::timeout_at(until, TcpStream::connect(server)).await {
            Ok(Ok(s)) => s,
            // Refused, or lost on the way: nobody answers at that address.
            Ok(Err(e))
                if matches!(
                    e.kind(),
                    K::ConnectionRefused
                        | K::ConnectionReset
                        | K::TimedOut
                        | K::HostUnreachable
                        | K::NetworkUnreachable
                ) =>
            {
                tracing::debug!("turn probe: TCP connect to {server}: {e}");
                return Err(TurnProbeError::Unreachable);
            }
            Ok(Err(e)) => return Err(TurnProbeError::Io(e.to_string())),
            Err(_) => return Err(TurnProbeError::Unreachable),
        };
        // Small requests, each awaited: no Nagle delay.
        let _ = stream.set_nodelay(true);
        let local = stream
            .local_addr()
            .map_err(|e| TurnProbeError::Io(e.to_string()))?;
        let link = Link::Tcp {
            stream,
            server,
            inbox: BytesMut::with_capacity(4096),
        };
        Session::new(link, local, server, username, password)
    }

    fn new(
        link: Link,
        local: SocketAddr,
        server: SocketAddr,
        username: &str,
        password: &str,
    ) -> Result<Session, TurnProbeError> {
        let provider = rtc::crypto::default_provider()
            .map_err(|e| TurnProbeError::Io(format!("no crypto provider: {e}")))?;
        let config = ClientConfig {
            stun_serv_addr: server.to_string(),
            turn_serv_addr: server.to_string(),
            local_addr: local,
            // Over TCP the client sends each request once and waits (no
            // retransmission); it still asks for a UDP relay.
            transport_protocol: link.protocol(),
            username: username.to_owned(),
            password: password.to_owned(),
            // Learned from the server's 401 (the client overwrites it).
            realm: String::new(),
            software: String::new(),
            rto_in_ms: 0,
            allocation_refresh_interval_cap: None,
        };
        let client = Client::new(config, Arc::clone(&provider))
            .map_err(|e| TurnProbeError::Protocol(e.to_string()))?;
        Ok(Session {
            link,
            local,
            client,
            errors: HashMap::new(),
            sent: HashMap::new(),
            mapped: None,
            allocate_rtt: None,
            refreshed: false,
            relayed: None,
            buf: vec![0; 2048],
        })
    }

    /// Allocates; the relayed address.
    async fn allocate(&mut self, deadline: Instant) -> Result<SocketAddr, TurnProbeError> {
        self.client
            .allocate(Instant::now())
            .map_err(|e| TurnProbeError::Protocol(e.to_string()))?;
        let relayed = self
            // The authenticated retry is a new transaction: any will do.
            .wait(deadline, |ev, errors| match ev {
                Event::AllocateResponse(_, relayed) => Some(Ok(relayed)),
                ev => failure(ev, None, errors).map(Err),
            })
            .await?;
        self.relayed = Some(relayed);
        Ok(relayed)
    }

    /// Asks for a permission to `peer` on allocation `relayed`.
    async fn permit(
        &mut self,
        relayed: SocketAddr,
        peer: SocketAddr,
        deadline: Instant,
    ) -> Result<(), TurnProbeError> {
        let tid = self
            .client
            .relay(relayed)
            .and_then(|mut r| r.create_permission(Instant::now(), peer))
            .map_err(|e| TurnProbeError::Protocol(e.to_string()))?
            .ok_or_else(|| TurnProbeError::Protocol("permission already requested".into()))?;
        self.wait(deadline, |ev, errors| match ev {
            Event::CreatePermissionResponse(t, _) if t == tid => Some(Ok(())),
            ev => failure(ev, Some(tid), errors).map(Err),
        })
        .await
    }

    /// Our mapped address: from the Allocate response, else from a Binding
    /// request on the same connection (the same 5-tuple, so the same
    /// mapping).
    async fn mapped(&mut self, deadline: Instant) -> Result<SocketAddr, TurnProbeError> {
        if let Some(m) = self.mapped {
            return Ok(m);
        }
        let tid = self
            .client
            .send_binding_request(Instant::now())
            .map_err(|e| TurnProbeError::Protocol(e.to_string()))?;
        self.wait(deadline, |ev, errors| match ev {
            Event::BindingResponse(t, addr) if t == tid => Some(Ok(addr)),
            ev => failure(ev, Some(tid), errors).map(Err),
        })
        .await
    }

    /// Allocates, permits our mapped address (a permission covers every
    /// port of an IP) and sends a datagram to the relayed address, which the
    /// server hands back to us as a Data indication. Over UDP it goes from
    /// the session's own socket: the server sees it come from `mapped`. Over
    /// TCP it goes from a fresh UDP socket: behind the same NAT it leaves from
    /// the same public IP, and comes back on the TCP connection. When it does
    /// not come back over TCP by `deadline` (UDP blocked here, or a NAT that
    /// uses another public IP for it), the allocation alone counts: `rtt` is
    /// the Allocate round trip and `relayed_round_trip` is false.
    async fn round_trip(&mut self, deadline: Instant) -> Result<TurnProbe, TurnProbeError> {
        let started = Instant::now();
        let relayed = self.allocate(deadline).await?;
        let allocated = self.allocate_rtt.unwrap_or_else(|| started.elapsed());
        let mapped = self.mapped(deadline).await?;
        self.permit(relayed, mapped, deadline).await?;
        let sender = match self.link {
            Link::Udp(_) => None,
            Link::Tcp { .. } => Some(udp_socket_for(relayed).await?),
        };
        let probe = |rtt, relayed_round_trip| TurnProbe {
            relayed,
            mapped,
            rtt,
            relayed_round_trip,
        };
        match self.echo(relayed, sender.as_ref(), deadline).await {
            Ok(rtt) => Ok(probe(rtt, true)),
            Err(TurnProbeError::Unreachable) if sender.is_some() => Ok(probe(allocated, false)),
            Err(e) => Err(e),
        }
    }

    /// Sends numbered datagrams to `relayed` — from `sender`, or from the
    /// session's own UDP socket — every 250 ms (UDP may lose them) until one
    /// comes back through the relay: the round trip of the copy that came
    /// back. [`TurnProbeError::Unreachable`] at `deadline`.
    async fn echo(
        &mut self,
        relayed: SocketAddr,
        sender: Option<&UdpSocket>,
        deadline: Instant,
    ) -> Result<Duration, TurnProbeError> {
        let nonce: u64 = rand::random();
        let mut sent: Vec<Instant> = Vec::new();
        loop {
            let seq = u32::try_from(sent.len()).unwrap_or(u32::MAX);
            let p = payload(nonce, seq);
            sent.push(Instant::now());
            match sender {
                Some(s) => {
                    if let Err(e) = s.send_to(&p, relayed).await {
                        tracing::debug!("turn probe: send to {relayed}: {e}");
                    }
                }
                None => self.link.send(&p, relayed, deadline).await?,
            }
            let next = (Instant::now() + Duration::from_millis(250)).min(deadline);
            let came = self
                .wait(next, |ev, _| match ev {
                    Event::DataIndicationOrChannelData(_, _, data) => {
                        payload_seq(nonce, &data).map(|seq| Ok((seq, Instant::now())))
                    }
                    _ => None,
                })
                .await;
            match came {
                Ok((seq, at)) => {
                    let at_send = usize::try_from(seq)
                        .ok()
                        .and_then(|i| sent.get(i))
                        .copied()
                        .unwrap_or(at);
                    return Ok(at.saturating_duration_since(at_send));
                }
                Err(TurnProbeError::Unreachable) if Instant::now() < deadline => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Releases the allocation (Refresh, lifetime 0) and waits for the
    /// answer until `deadline`, or at least a short grace period. Best
    /// effort: failures are ignored (the allocation expires by itself, and
    /// over TCP closing the connection deletes it too).
    async fn release(&mut self, deadline: Instant) {
        let Some(relayed) = self.relayed.take() else {
            return;
        };
        if self
            .client
            .relay(relayed)
            .and_then(|mut r| r.close(Instant::now()))
            .is_err()
        {
            return;
        }
        let grace = Instant::now() + Duration::from_millis(300);
        let until = deadline
            .max(grace)
            .min(Instant::now() + Duration::from_secs(1));
        self.refreshed = false;
        let _ = self
            .wait(until, |_, _| None::<Result<(), TurnProbeError>>)
            .await;
        let _ = self.client.close();
    }

    /// Notes when a request goes out, for [`Session::allocate_rtt`].
    fn note_sent(&mut self, data: &[u8]) {
        if is_stun_message(data)
            && let Some(id) = data.get(8..20).and_then(|b| b.try_into().ok())
        {
            self.sent
                .entry(TransactionId(id))
                .or_insert_with(Instant::now);
        }
    }

    /// Reads from a message what the client does not report, before it
    /// sees the message: error codes, our mapped address, the Allocate
    /// round trip, and whether a Refresh was answered.
    fn look(&mut self, data: &[u8]) {
        if !is_stun_message(data) {
            return;
        }
        let mut msg = Message::new();
        msg.raw = data.to_vec();
        if msg.decode().is_err() {
            return;
        }
        if msg.typ.class == CLASS_ERROR_RESPONSE {
            let mut code = ErrorCodeAttribute::default();
            if code.get_from(&msg).is_ok() {
                let reason = String::from_utf8_lossy(&code.reason).into_owned();
                let code = ErrorCode {
                    code: code.code.0,
                    reason,
                };
                self.errors.insert(msg.transaction_id, code);
            }
        }
        if msg.typ.method == METHOD_ALLOCATE && msg.typ.class == CLASS_SUCCESS_RESPONSE {
            let mut addr = XorMappedAddress::default();
            if addr.get_from(&msg).is_ok() {
                self.mapped = Some(SocketAddr::new(addr.ip, addr.port));
            }
            if let Some(at) = self.sent.get(&msg.transaction_id) {
                self.allocate_rtt = Some(at.elapsed());
            }
        }
        if msg.typ.method == METHOD_REFRESH
            && (msg.typ.class == CLASS_SUCCESS_RESPONSE || msg.typ.class == CLASS_ERROR_RESPONSE)
        {
            self.refreshed = true;
        }
    }

    /// Drives the client until `pick` accepts one of its events, or until
    /// `deadline` ([`TurnProbeError::Unreachable`]). During a release
    /// (`pick` never accepts) it returns as soon as the Refresh is answered.
    async fn wait<T>(
        &mut self,
        deadline: Instant,
        mut pick: impl FnMut(
            Event,
            &mut HashMap<TransactionId, ErrorCode>,
        ) -> Option<Result<T, TurnProbeError>>,
    ) -> Result<T, TurnProbeError> {
        loop {
            while let Some(t) = self.client.poll_write() {
                self.note_sent(&t.message);
                // Over TCP every message goes down the one connection,
                // whatever its peer address says.
                self.link
                    .send(&t.message, t.transport.peer_addr, deadline)
                    .await?;
            }
            while let Some(ev) = self.client.poll_event() {
                if let Some(done) = pick(ev, &mut self.errors) {
                    return done;
                }
            }
            if self.refreshed {
                return Err(TurnProbeError::Unreachable);
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(TurnProbeError::Unreachable);
            }
            let wake = self
                .client
                .poll_timeout()
                .map_or(deadline, |t| t.min(deadline));
            let protocol = self.link.protocol();
            tokio::select! {
                r = self.link.recv(&mut self.buf) => {
                    // `None`: an ICMP error on the UDP socket; keep waiting.
                    if let Some((message, from)) = r? {
                        self.look(&message);
                        let msg = TransportMessage {
                            now: Instant::now(),
                            transport: TransportContext {
                                local_addr: self.local,
                                peer_addr: from,
                                transport_protocol: protocol,
                                ecn: None,
                            },
                            message,
                        };
                        if let Err(e) = self.client.handle_read(msg) {
                            // A malformed or unexpected message: dropped.
                            tracing::debug!("turn probe: message from {from} dropped: {e}");
                        }
                    }
                }
                () = tokio::time::sleep_until(tokio::time::Instant::from_std(wake)) => {
                    if let Err(e) = self.client.handle_timeout(Instant::now()) {
                        tracing::debug!("turn probe: timer: {e}");
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn an_allocation_mismatch_is_tried_again_from_another_address_a_few_times() {
        let mismatch: Result<(), _> = Err(TurnProbeError::Refused {
            code: 437,
            reason: "Mismatched allocation: wrong transaction ID".into(),
        });
        assert!(try_another_address(&mismatch, 1));
        assert!(try_another_address(&mismatch, MISMATCH_ATTEMPTS - 1));
        assert!(!try_another_address(&mismatch, MISMATCH_ATTEMPTS));
        let forbidden: Result<(), _> = Err(TurnProbeError::Refused {
            code: 403,
            reason: "Forbidden IP".into(),
        });
        assert!(!try_another_address(&forbidden, 1));
        assert!(!try_another_address(&Ok::<(), TurnProbeError>(()), 1));
        assert!(!try_another_address::<()>(
            &Err(TurnProbeError::Unreachable),
            1
        ));
    }

    fn code(code: u16, reason: &str) -> ErrorCode {
        ErrorCode {
            code,
            reason: reason.into(),
        }
    }

    #[test]
    fn a_401_after_the_challenge_is_unauthorized() {
        assert_eq!(
            refusal(Some(code(401, "Unauthorized")), "whatever"),
            TurnProbeError::Unauthorized
        );
        // Without the peeked code, from the client's error text.
        assert_eq!(
            refusal(
                None,
                "Other(\"Allocate error response (error 401: Unauthorized)\")"
            ),
            TurnProbeError::Unauthorized
        );
    }

    #[test]
    fn other_codes_are_refusals_with_the_server_reason() {
        assert_eq!(
            refusal(Some(code(403, "Forbidden IP")), ""),
            TurnProbeError::Refused {
                code: 403,
                reason: "Forbidden IP".into()
            }
        );
        assert_eq!(
            refusal(
                None,
                "CreatePermission error response (error 403: Forbidden)"
            ),
            TurnProbeError::Refused {
                code: 403,
                reason: "Forbidden".into()
            }
        );
        // The peeked code wins over the text.
        assert_eq!(
            refusal(
                Some(code(486, "Allocation Quota Reached")),
                "(error 401: x)"
            ),
            TurnProbeError::Refused {
                code: 486,
                reason: "Allocation Quota Reached".into()
            }
        );
    }

    #[test]
    fn an_error_without_a_code_is_a_protocol_error() {
        assert_eq!(
            refusal(None, "attribute not found"),
            TurnProbeError::Protocol("attribute not found".into())
        );
        assert_eq!(parse_error_text("(error x: y)"), None);
        assert_eq!(parse_error_text("(error 403 Forbidden)"), None);
    }

    #[test]
    fn messages_say_what_to_do() {
        let s = TurnProbeError::Unreachable.to_string();
        assert!(s.contains("UDP"), "{s}");
        let s = TurnProbeError::Unauthorized.to_string();
        assert!(s.contains("username and password"), "{s}");
        let e = TurnProbeError::Refused {
            code: 403,
            reason: "Forbidden IP".into(),
        };
        assert_eq!(
            e.to_string(),
            "the TURN server refused the request: 403 Forbidden IP"
        );
        assert_eq!((e.kind(), e.code()), ("refused", Some(403)));
        assert_eq!(TurnProbeError::Unauthorized.code(), Some(401));
        assert_eq!(TurnProbeError::Unreachable.code(), None);
    }

    #[test]
    fn reports_are_one_json_object_per_check() {
        let ok = relay_report(&Ok(TurnProbe {
            relayed: "198.18.0.2:49152".parse().unwrap(),
            mapped: "198.18.1.1:40000".parse().unwrap(),
            rtt: Duration::from_micros(1500),
            relayed_round_trip: true,
        }));
        let line = ok.to_string();
        assert!(
            line.starts_with(r#"{"check":"relay","ok":true,"relayed":"198.18.0.2:49152","#),
            "{line}"
        );
        assert!(!line.contains('\n'));
        let ok: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(ok["mapped"], "198.18.1.1:40000");
        assert!((ok["rtt_ms"].as_f64().unwrap() - 1.5).abs() < 1e-9);
        assert!(ok.get("error").is_none());
        let bad = serde_json::to_value(relay_report(&Err(TurnProbeError::Unauthorized))).unwrap();
        assert_eq!(bad["ok"], false);
        assert_eq!(bad["kind"], "unauthorized");
        assert_eq!(bad["code"], 401);
        assert!(bad.get("relayed").is_none());
        let peer: SocketAddr = "127.0.0.1:9".parse().unwrap();
        let refused = peer_report(
            peer,
            &Err(TurnProbeError::Refused {
                code: 403,
                reason: "Forbidden IP".into(),
            }),
        )
        .to_string();
        assert!(
            refused.starts_with(r#"{"check":"peer","peer":"127.0.0.1:9","ok":false,"#),
            "{refused}"
        );
        let refused: serde_json::Value = serde_json::from_str(&refused).unwrap();
        assert_eq!(refused["code"], 403);
        assert!(refused["error"].as_str().unwrap().contains("403"));
        let granted = serde_json::to_value(peer_report(peer, &Ok(()))).unwrap();
        assert_eq!(granted["ok"], true);
        assert!(granted.get("error").is_none());
        let timeout =
            serde_json::to_value(peer_report(peer, &Err(TurnProbeError::Unreachable))).unwrap();
        assert!(timeout.get("code").is_none());
        assert_eq!(timeout["kind"], "unreachable");
    }

    #[test]
    fn round_trip_payloads_are_recognised_by_nonce_and_number() {
        let p = payload(7, 3);
        assert_eq!(payload_seq(7, &p), Some(3));
        assert_eq!(payload_seq(8, &p), None);
        assert_eq!(payload_seq(7, b"arena-turn-probe"), None);
        assert_eq!(payload_seq(7, b"hello"), None);
        assert_eq!(payload_seq(7, &p[..p.len() - 1]), None);
    }

    /// A STUN message of `body` bytes of attributes (a multiple of 4).
    fn stun(body: usize) -> Vec<u8> {
        let mut m = vec![0x01, 0x01];
        m.extend_from_slice(&u16::try_from(body).unwrap().to_be_bytes());
        m.extend_from_slice(&MAGIC_COOKIE);
        m.extend_from_slice(&[7; 12]);
        m.extend(std::iter::repeat_n(0xab, body));
        m
    }

    /// ChannelData on channel 0x4001 carrying `data`, padded on the wire.
    fn channel_data(data: &[u8]) -> Vec<u8> {
        let mut m = vec![0x40, 0x01];
        m.extend_from_slice(&u16::try_from(data.len()).unwrap().to_be_bytes());
        m.extend_from_slice(data);
        m.resize(m.len().next_multiple_of(4), 0);
        m
    }

    #[test]
    fn tcp_frames_are_stun_by_header_length_and_channel_data_padded() {
        let s = stun(8);
        assert_eq!(
            next_frame(&s),
            Ok(Some(Frame {
                message: 28,
                total: 28
            }))
        );
        // Not all there yet: wait for more, at every cut.
        for cut in 0..s.len() {
            assert_eq!(next_frame(&s[..cut]), Ok(None), "cut at {cut}");
        }
        // 5 bytes of data: a 9-byte message, 12 bytes on the wire.
        let c = channel_data(b"hello");
        assert_eq!(
            next_frame(&c),
            Ok(Some(Frame {
                message: 9,
                total: 12
            }))
        );
        assert_eq!(next_frame(&c[..9]), Ok(None), "the padding is awaited");
        // Back to back: the first one only.
        let both = [c.clone(), s.clone()].concat();
        assert_eq!(next_frame(&both).unwrap().unwrap().total, 12);
        assert_eq!(next_frame(&both[12..]).unwrap().unwrap().total, 28);
    }

    #[test]
    fn a_stream_out_of_step_is_an_error() {
        assert_eq!(next_frame(b"\x80abc"), Err(FrameError(0x80)));
        assert_eq!(next_frame(b"\xffabc"), Err(FrameError(0xff)));
        // Starts like STUN but has no magic cookie.
        let mut s = stun(0);
        s[5] = 0;
        assert_eq!(next_frame(&s), Err(FrameError(0x01)));
        assert_eq!(next_frame(&s[..6]), Err(FrameError(0x01)));
        assert_eq!(next_frame(&s[..4]), Ok(None));
    }

    proptest::proptest! {
        /// Any byte stream: no panic, and a frame never claims more bytes
        /// than there are, nor a message longer than its frame.
        #[test]
        fn framing_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            if let Ok(Some(f)) = next_frame(&bytes) {
                proptest::prop_assert!(f.message <= f.total && f.total <= bytes.len());
                proptest::prop_assert!(f.total >= 4);
            }
        }

        /// Messages written back to back, read back in any chunking, come
        /// out whole and in order.
        #[test]
        fn messages_split_anywhere_come_out_whole(
            sizes in proptest::collection::vec((proptest::bool::ANY, 0usize..40), 1..8),
            chunk in 1usize..50,
        ) {
            let messages: Vec<Vec<u8>> = sizes
                .iter()
                .map(|&(is_stun, n)| if is_stun { stun(n * 4) } else { channel_data(&vec![9; n]) })
                .collect();
            let wire = messages.concat();
            let mut inbox: Vec<u8> = Vec::new();
            let mut out: Vec<Vec<u8>> = Vec::new();
            for piece in wire.chunks(chunk) {
                inbox.extend_from_slice(piece);
                while let Some(f) = next_frame(&inbox).unwrap() {
                    out.push(inbox[..f.total].to_vec());
                    inbox.drain(..f.total);
                }
            }
            proptest::prop_assert!(inbox.is_empty());
            proptest::prop_assert_eq!(out, messages);
        }
    }

    #[tokio::test]
    async fn a_tcp_server_that_refuses_or_stays_silent_is_unreachable_in_time() {
        let check = |addr| {
            relay_check(
                TurnTransport::Tcp,
                addr,
                "u",
                "p",
                Duration::from_millis(400),
            )
        };
        // Nothing listens: refused at once.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = closed.local_addr().unwrap();
        drop(closed);
        let start = Instant::now();
        let r = check(addr).await;
        assert_eq!(r, Err(TurnProbeError::Unreachable));
        assert!(start.elapsed() < Duration::from_secs(2));
        // Accepts the connection and never answers: the deadline ends it
        // (not the client's 39.5 s reliable-transport timeout).
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = silent.local_addr().unwrap();
        let held = tokio::spawn(async move {
            let (conn, _) = silent.accept().await.unwrap();
            tokio::time::sleep(Duration::from_secs(5)).await;
            drop(conn);
        });
        let start = Instant::now();
        let r = check(addr).await;
        assert_eq!(r, Err(TurnProbeError::Unreachable));
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "{:?}",
            start.elapsed()
        );
        held.abort();
    }

    #[tokio::test]
    async fn a_tcp_server_that_hangs_up_or_talks_nonsense_is_a_protocol_error() {
        use tokio::io::AsyncWriteExt;
        for answer in [&b""[..], b"HTTP/1.1 400 Bad Request\r\n\r\n"] {
            let server = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = server.local_addr().unwrap();
            let answer = answer.to_vec();
            let task = tokio::spawn(async move {
                let (mut conn, _) = server.accept().await.unwrap();
                conn.write_all(&answer).await.unwrap();
                // Hang up (the nonsense case is caught before this).
            });
            let r = relay_check(TurnTransport::Tcp, addr, "u", "p", Duration::from_secs(2)).await;
            assert!(matches!(r, Err(TurnProbeError::Protocol(_))), "{r:?}");
            task.await.unwrap();
        }
    }

    #[tokio::test]
    async fn a_silent_server_is_unreachable_within_the_timeout() {
        // A bound UDP socket that never answers: the probe must give up on
        // time, not after the client's own retransmission schedule.
        let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = silent.local_addr().unwrap();
        let start = Instant::now();
        let r = allocate_round_trip(addr, "u", "p", Duration::from_millis(400)).await;
        assert_eq!(r, Err(TurnProbeError::Unreachable));
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "{:?}",
            start.elapsed()
        );
        let r = permission(
            addr,
            "u",
            "p",
            "127.0.0.1:9".parse().unwrap(),
            Duration::from_millis(200),
        )
        .await;
        assert_eq!(r, Err(TurnProbeError::Unreachable));
    }
}
