//! Which path game traffic to one peer takes, and when to (re)try a direct
//! WebRTC link.
//!
//! A pure state machine per peer (time is an argument, in seconds): the net
//! thread reports what its peer connection did (attempt started, opened with a
//! candidate type, failed) and asks [`Link::poll`] what to do next and
//! [`Link::route`] where traffic goes. It owns the network modes, the P2P
//! timeout and the retry backoff; it must not touch sockets or peer
//! connections.
//!
//! | mode | link open | connecting | failed / timed out |
//! |---|---|---|---|
//! | Hybrid | `direct` / `turn` | `connecting` (traffic already goes through the relay) | `relay`, P2P retried with backoff in the background |
//! | WebRTC only | `direct` / `turn` | `connecting` (nothing is sent) | `unreachable`, P2P retried with backoff in the background |
//! | Signaling only | — (no P2P attempt; an open link is closed) | — | `relay` |

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The network mode chosen in the settings (switchable live).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NetMode {
    /// WebRTC data channels, falling back per peer to the server relay.
    #[default]
    Hybrid,
    /// WebRTC data channels only; a peer that cannot be reached is unreachable.
    #[serde(rename = "webrtc")]
    WebRtcOnly,
    /// Everything through the Socket.IO server ("fallback" mode).
    #[serde(rename = "signaling")]
    SignalingOnly,
}

impl NetMode {
    /// Every mode, in menu order.
    pub const ALL: [NetMode; 3] = [NetMode::Hybrid, NetMode::WebRtcOnly, NetMode::SignalingOnly];

    /// The spelling used by the CLI and the settings file.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hybrid => "hybrid",
            Self::WebRtcOnly => "webrtc",
            Self::SignalingOnly => "signaling",
        }
    }

    /// Whether this mode makes WebRTC attempts at all.
    pub fn uses_p2p(self) -> bool {
        self != Self::SignalingOnly
    }
}

impl fmt::Display for NetMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for NetMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "hybrid" => Ok(Self::Hybrid),
            "webrtc" | "webrtc-only" | "webrtc_only" => Ok(Self::WebRtcOnly),
            "signaling" | "signaling-only" | "fallback" => Ok(Self::SignalingOnly),
            other => Err(format!(
                "unknown network mode {other:?} (hybrid, webrtc or signaling)"
            )),
        }
    }
}

/// Type of the local ICE candidate of the selected pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CandidateKind {
    /// A local interface address.
    Host,
    /// Server-reflexive: the address a STUN server saw (through NAT).
    Srflx,
    /// Peer-reflexive: learnt from a connectivity check.
    Prflx,
    /// Relayed by a TURN server.
    Relay,
}

impl CandidateKind {
    /// The name used in SDP and reports (`host`, `srflx`, `prflx`, `relay`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Host => "host",
            Self::Srflx => "srflx",
            Self::Prflx => "prflx",
            Self::Relay => "relay",
        }
    }
}

/// The candidate pair a WebRTC link was opened on (from the selected pair).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CandidatePair {
    /// Our candidate's type.
    pub local: CandidateKind,
    /// Our candidate's address (`ip:port`).
    pub local_addr: String,
    /// The peer's candidate's type, as we know it.
    pub remote: CandidateKind,
    /// The peer's candidate's address (`ip:port`).
    pub remote_addr: String,
    /// Whether a TURN server relays the pair (see [`CandidatePair::new`]).
    pub turn: bool,
}

impl CandidatePair {
    /// A pair, judged `turn` when either end is a TURN relay address: a
    /// `relay` candidate on either side, or a peer-reflexive peer address on
    /// the IP of one of our own relay candidates (`relay_ips`: the TURN
    /// server's relay address, which a check can make us learn as
    /// peer-reflexive before the peer's relay candidate is signaled) that is
    /// not our own IP.
    pub fn new(
        local: (CandidateKind, String),
        remote: (CandidateKind, String),
        relay_ips: &[std::net::IpAddr],
    ) -> CandidatePair {
        let ip_of = |a: &str| a.parse::<std::net::SocketAddr>().ok().map(|a| a.ip());
        let (local_ip, remote_ip) = (ip_of(&local.1), ip_of(&remote.1));
        // Only a peer-reflexive address can be a relay met in a check; one on
        // our own IP is this machine (loopback tests, where the TURN server's
        // relay IP is every candidate's IP).
        let learnt_relay = remote.0 == CandidateKind::Prflx
            && remote_ip.is_some_and(|ip| relay_ips.contains(&ip))
            && remote_ip != local_ip;
        let turn =
            local.0 == CandidateKind::Relay || remote.0 == CandidateKind::Relay || learnt_relay;
        CandidatePair {
            local: local.0,
            local_addr: local.1,
            remote: remote.0,
            remote_addr: remote.1,
            turn,
        }
    }

    /// The candidate type the route reports: `relay` when relayed by TURN,
    /// else our own candidate's type.
    pub fn kind(&self) -> CandidateKind {
        if self.turn {
            CandidateKind::Relay
        } else {
            self.local
        }
    }
}

/// Where game traffic to one peer goes right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Route {
    /// A WebRTC attempt is under way (Hybrid sends through the relay meanwhile).
    Connecting,
    /// WebRTC data channels over a host / server- or peer-reflexive pair.
    Direct,
    /// WebRTC data channels relayed by a TURN server.
    Turn,
    /// The Socket.IO server's relay.
    Relay,
    /// No path (WebRTC-only mode with a failed link).
    Unreachable,
}

impl Route {
    /// Lower-case name for the HUD and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Connecting => "connecting",
            Self::Direct => "direct",
            Self::Turn => "turn",
            Self::Relay => "relay",
            Self::Unreachable => "unreachable",
        }
    }

    /// Whether traffic goes over WebRTC data channels.
    pub fn is_p2p(self) -> bool {
        matches!(self, Self::Direct | Self::Turn)
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Timing of P2P attempts, seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RoutePolicy {
    /// A link not open this long after its attempt started has failed.
    pub p2p_timeout: f64,
    /// First retry delay after a failure; doubles per failure.
    pub retry_min: f64,
    /// Longest retry delay.
    pub retry_max: f64,
}

impl Default for RoutePolicy {
    fn default() -> Self {
        Self {
            p2p_timeout: 5.0,
            retry_min: 2.0,
            retry_max: 30.0,
        }
    }
}

/// What the net thread should do for one peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkAction {
    /// Nothing.
    Idle,
    /// Build a fresh peer connection and send an offer.
    Offer,
    /// Close the peer connection (timed out, or the mode forbids P2P).
    Close,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum P2p {
    /// No attempt (signaling-only mode, or not started yet).
    Off,
    /// An attempt started at `since` (ours or the peer's offer).
    Connecting { since: f64 },
    /// The data channels are open.
    Open(CandidateKind),
    /// The last attempt failed; the next one is due at `retry_at`.
    Down { retry_at: f64 },
}

/// Route state of one peer.
#[derive(Debug, Clone)]
pub struct Link {
    p2p: P2p,
    failures: u32,
}

impl Link {
    /// A peer we will offer to (we joined after it, or we reconnect).
    pub fn offering() -> Link {
        Link {
            p2p: P2p::Off,
            failures: 0,
        }
    }

    /// A peer that joined after us: it offers, we wait from `now`.
    pub fn awaiting_offer(now: f64) -> Link {
        Link {
            p2p: P2p::Connecting { since: now },
            failures: 0,
        }
    }

    /// Where traffic goes now.
    pub fn route(&self, mode: NetMode, now: f64, policy: &RoutePolicy) -> Route {
        let open = match self.p2p {
            P2p::Open(CandidateKind::Relay) => Some(Route::Turn),
            P2p::Open(_) => Some(Route::Direct),
            _ => None,
        };
        // Only the first attempt shows as connecting: a retry runs in the
        // background while traffic stays where it is (relay, or nowhere).
        let connecting = self.failures == 0
            && matches!(self.p2p, P2p::Connecting { since } if now - since < policy.p2p_timeout);
        match mode {
            NetMode::SignalingOnly => Route::Relay,
            NetMode::WebRtcOnly => open.unwrap_or(if connecting {
                Route::Connecting
            } else {
                Route::Unreachable
            }),
            NetMode::Hybrid => open.unwrap_or(if connecting {
                Route::Connecting
            } else {
                Route::Relay
            }),
        }
    }

    /// The selected candidate type while the link is open.
    pub fn candidate(&self) -> Option<CandidateKind> {
        match self.p2p {
            P2p::Open(kind) => Some(kind),
            _ => None,
        }
    }

    /// Failed attempts since the link was last open.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// Advances timers; says what to do. Call on every tick and after any report.
    pub fn poll(&mut self, mode: NetMode, now: f64, policy: &RoutePolicy) -> LinkAction {
        if !mode.uses_p2p() {
            let was = self.p2p;
            self.p2p = P2p::Off;
            self.failures = 0;
            return if matches!(was, P2p::Off) {
                LinkAction::Idle
            } else {
                LinkAction::Close
            };
        }
        match self.p2p {
            P2p::Off => {
                self.p2p = P2p::Connecting { since: now };
                LinkAction::Offer
            }
            P2p::Connecting { since } if now - since >= policy.p2p_timeout => {
                self.fail(now, policy);
                LinkAction::Close
            }
            P2p::Down { retry_at } if now >= retry_at => {
                self.p2p = P2p::Connecting { since: now };
                LinkAction::Offer
            }
            _ => LinkAction::Idle,
        }
    }

    /// The peer sent an offer: an attempt is under way from `now`.
    pub fn on_remote_offer(&mut self, now: f64) {
        self.p2p = P2p::Connecting { since: now };
    }

    /// The data channels opened over a pair whose local candidate is `kind`.
    pub fn on_open(&mut self, kind: CandidateKind) {
        self.p2p = P2p::Open(kind);
        self.failures = 0;
    }

    /// The peer connection failed or closed. Ignored when P2P is off.
    pub fn on_failed(&mut self, now: f64, policy: &RoutePolicy) {
        if !matches!(self.p2p, P2p::Off | P2p::Down { .. }) {
            self.fail(now, policy);
        }
    }

    fn fail(&mut self, now: f64, policy: &RoutePolicy) {
        let backoff = policy.retry_min * 2f64.powi(self.failures.min(16) as i32);
        self.failures += 1;
        self.p2p = P2p::Down {
            retry_at: now + backoff.min(policy.retry_max),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pair_is_turn_when_either_end_is_a_relay_address() {
        let relay_ip = [std::net::IpAddr::from([198, 18, 0, 2])];
        let host = |a: &str| (CandidateKind::Host, a.to_owned());
        let direct = CandidatePair::new(host("10.1.0.2:5000"), host("10.1.0.3:6000"), &relay_ip);
        assert!(!direct.turn);
        assert_eq!(direct.kind(), CandidateKind::Host);
        let ours = CandidatePair::new(
            (CandidateKind::Relay, "198.18.0.2:50000".into()),
            (CandidateKind::Srflx, "198.18.1.1:4000".into()),
            &[],
        );
        assert!(ours.turn);
        // The peer's relay address learnt from a check (peer-reflexive).
        let learnt = CandidatePair::new(
            host("10.1.0.2:5000"),
            (CandidateKind::Prflx, "198.18.0.2:51000".into()),
            &relay_ip,
        );
        assert!(learnt.turn);
        assert_eq!(learnt.kind(), CandidateKind::Relay);
        // On one machine (loopback tests) the TURN server's relay IP is every
        // candidate's IP: a signaled host candidate, or a peer-reflexive one
        // on our own IP, is this machine, not a relay.
        let here = [std::net::IpAddr::from([127, 0, 0, 1])];
        let lo = CandidatePair::new(host("127.0.0.1:5000"), host("127.0.0.1:6000"), &here);
        assert!(!lo.turn);
        let lo_prflx = CandidatePair::new(
            host("127.0.0.1:5000"),
            (CandidateKind::Prflx, "127.0.0.1:6000".into()),
            &here,
        );
        assert!(!lo_prflx.turn);
    }

    const P: RoutePolicy = RoutePolicy {
        p2p_timeout: 5.0,
        retry_min: 2.0,
        retry_max: 30.0,
    };

    #[test]
    fn hybrid_opens_direct_or_turn() {
        let mut l = Link::offering();
        assert_eq!(l.poll(NetMode::Hybrid, 0.0, &P), LinkAction::Offer);
        assert_eq!(l.route(NetMode::Hybrid, 1.0, &P), Route::Connecting);
        l.on_open(CandidateKind::Host);
        assert_eq!(l.route(NetMode::Hybrid, 1.0, &P), Route::Direct);
        let mut t = Link::offering();
        t.poll(NetMode::Hybrid, 0.0, &P);
        t.on_open(CandidateKind::Relay);
        assert_eq!(t.route(NetMode::Hybrid, 1.0, &P), Route::Turn);
        assert_eq!(l.poll(NetMode::Hybrid, 100.0, &P), LinkAction::Idle);
    }

    #[test]
    fn hybrid_falls_back_to_relay_at_the_timeout_and_retries_with_backoff() {
        let mut l = Link::offering();
        l.poll(NetMode::Hybrid, 0.0, &P);
        assert_eq!(l.poll(NetMode::Hybrid, 4.9, &P), LinkAction::Idle);
        assert_eq!(l.route(NetMode::Hybrid, 4.9, &P), Route::Connecting);
        // At the timeout the route is relay even before poll runs.
        assert_eq!(l.route(NetMode::Hybrid, 5.0, &P), Route::Relay);
        assert_eq!(l.poll(NetMode::Hybrid, 5.0, &P), LinkAction::Close);
        assert_eq!(l.poll(NetMode::Hybrid, 6.9, &P), LinkAction::Idle);
        assert_eq!(l.poll(NetMode::Hybrid, 7.0, &P), LinkAction::Offer);
        // A retry runs in the background: the route stays relay.
        assert_eq!(l.route(NetMode::Hybrid, 7.5, &P), Route::Relay);
        // Second failure: 4 s backoff, then 8, 16, capped at 30.
        l.on_failed(8.0, &P);
        assert_eq!(l.poll(NetMode::Hybrid, 11.9, &P), LinkAction::Idle);
        assert_eq!(l.poll(NetMode::Hybrid, 12.0, &P), LinkAction::Offer);
        let mut t = 12.0;
        for _ in 0..10 {
            l.on_failed(t, &P);
            t += 100.0;
            assert_eq!(l.poll(NetMode::Hybrid, t, &P), LinkAction::Offer);
        }
        l.on_failed(t, &P);
        assert_eq!(l.poll(NetMode::Hybrid, t + 29.9, &P), LinkAction::Idle);
        assert_eq!(l.poll(NetMode::Hybrid, t + 30.0, &P), LinkAction::Offer);
        // Opening resets the backoff.
        l.on_open(CandidateKind::Srflx);
        assert_eq!(l.failures(), 0);
        assert_eq!(l.route(NetMode::Hybrid, t + 30.0, &P), Route::Direct);
    }

    #[test]
    fn webrtc_only_never_relays() {
        let mut l = Link::awaiting_offer(0.0);
        assert_eq!(l.route(NetMode::WebRtcOnly, 1.0, &P), Route::Connecting);
        assert_eq!(l.poll(NetMode::WebRtcOnly, 5.0, &P), LinkAction::Close);
        assert_eq!(l.route(NetMode::WebRtcOnly, 5.0, &P), Route::Unreachable);
    }

    #[test]
    fn signaling_only_closes_p2p_and_relays_and_switching_back_offers() {
        let mut l = Link::offering();
        l.poll(NetMode::Hybrid, 0.0, &P);
        l.on_open(CandidateKind::Host);
        assert_eq!(l.poll(NetMode::SignalingOnly, 1.0, &P), LinkAction::Close);
        assert_eq!(l.route(NetMode::SignalingOnly, 1.0, &P), Route::Relay);
        assert_eq!(l.poll(NetMode::SignalingOnly, 2.0, &P), LinkAction::Idle);
        l.on_failed(2.0, &P); // the closed connection reports: ignored
        assert_eq!(l.poll(NetMode::Hybrid, 3.0, &P), LinkAction::Offer);
    }

    #[test]
    fn modes_parse_and_print() {
        for m in NetMode::ALL {
            assert_eq!(m.as_str().parse::<NetMode>(), Ok(m));
        }
        assert_eq!("Fallback".parse::<NetMode>(), Ok(NetMode::SignalingOnly));
        assert!("carrier pigeon".parse::<NetMode>().is_err());
    }
}
