//! The built-in STUN server: answers Binding requests (RFC 8489, compatible
//! with RFC 5389 clients) on UDP, so one `arena-server` deploy tells players
//! their public address and most pairs can connect directly with nothing else.
//!
//! Owns the UDP side of the server. [`answer`] is pure (a datagram and its
//! source in, the response bytes or the reason to drop out), decoded and
//! encoded with webrtc-rs's `rtc-stun` codec; [`SourceLimiter`] caps answers
//! per source IP; [`serve`] is the thin loop around one socket. It knows
//! nothing about rooms or Socket.IO.
//!
//! It must never be usable as a reflector (a spoofed source turning our
//! answers on a victim): at most one answer per request, no answer to anything
//! but a well-formed Binding request, answers only XOR-MAPPED-ADDRESS and
//! FINGERPRINT long (40 bytes over IPv4, 52 over IPv6: never more than 32
//! bytes above the smallest request, 20 bytes), and a per-source-IP rate limit.
//! Everything dropped is counted in `/metrics`.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use rtc_stun::fingerprint::FINGERPRINT;
use rtc_stun::message::{
    BINDING_REQUEST, BINDING_SUCCESS, MAGIC_COOKIE, MESSAGE_HEADER_SIZE, Message, Setter,
};
use rtc_stun::xoraddr::XorMappedAddress;
use tokio::net::UdpSocket;

use crate::metrics::{Metrics, StunResult};

/// Largest request answered (bytes). A Binding request needs 20 bytes, 28
/// with FINGERPRINT; browsers and webrtc-rs send under 100. The minimum
/// IPv4 reassembly size (RFC 791) leaves room for anything legitimate.
pub const MAX_REQUEST: usize = 576;

/// Answers per second per source IP (sustained), and the burst. Players
/// behind one NAT share its address, and every player gathers a server-
/// reflexive candidate for each other player: a room of 8 behind one router
/// (a LAN party, a campus) sends 56 requests at once, retransmissions aside.
/// An answer is at most 2× its request, so even the full rate towards a
/// spoofed victim is 4 kB/s: no use as a reflector.
pub const PER_SOURCE: u32 = 100;
/// Burst of [`PER_SOURCE`]: three rooms of 8 behind one address at once.
pub const PER_SOURCE_BURST: u32 = 200;
/// Source addresses remembered by the limiter before the idle ones are
/// forgotten (bounds its memory under a spoofed-source flood).
const MAX_SOURCES: usize = 65_536;

/// Why a datagram gets no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dropped {
    /// Larger than [`MAX_REQUEST`].
    Oversized,
    /// Not a STUN message: short, wrong magic cookie or first bits, lengths
    /// that do not add up, bad attributes or a wrong FINGERPRINT.
    Malformed,
    /// A well-formed STUN message that is not a Binding request
    /// (responses, indications, TURN methods).
    NotBinding,
    /// The source sent more than its share.
    RateLimited,
}

/// The answer to `datagram` received from `from`: a Binding success response
/// carrying `from` as XOR-MAPPED-ADDRESS, or why there is none.
pub fn answer(datagram: &[u8], from: SocketAddr) -> Result<Vec<u8>, Dropped> {
    if datagram.len() > MAX_REQUEST {
        return Err(Dropped::Oversized);
    }
    // The header checks the codec leaves to the caller (RFC 8489 section 6):
    // the first two bits are zero, the length covers the rest of the datagram
    // exactly and is a multiple of 4, the magic cookie is there.
    if datagram.len() < MESSAGE_HEADER_SIZE
        || datagram[0] & 0xC0 != 0
        || usize::from(u16::from_be_bytes([datagram[2], datagram[3]])) + MESSAGE_HEADER_SIZE
            != datagram.len()
        || datagram.len() % 4 != 0
        || u32::from_be_bytes([datagram[4], datagram[5], datagram[6], datagram[7]]) != MAGIC_COOKIE
    {
        return Err(Dropped::Malformed);
    }
    let mut req = Message::new();
    req.raw = datagram.to_vec();
    req.decode().map_err(|_| Dropped::Malformed)?;
    if req.typ != BINDING_REQUEST {
        return Err(Dropped::NotBinding);
    }
    if req.contains(rtc_stun::attributes::ATTR_FINGERPRINT) && FINGERPRINT.check(&req).is_err() {
        return Err(Dropped::Malformed);
    }
    let mut res = Message::new();
    let mapped = XorMappedAddress {
        ip: from.ip(),
        port: from.port(),
    };
    let setters: [Box<dyn Setter>; 4] = [
        Box::new(BINDING_SUCCESS),
        Box::new(req.transaction_id),
        Box::new(mapped),
        Box::new(FINGERPRINT),
    ];
    res.build(&setters).map_err(|_| Dropped::Malformed)?;
    Ok(res.raw)
}

/// The per-source-IP rate limit of [`serve`], shared by its sockets.
pub struct SourceLimiter {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
}

impl Default for SourceLimiter {
    fn default() -> Self {
        Self::new(PER_SOURCE, PER_SOURCE_BURST)
    }
}

impl SourceLimiter {
    /// `per_second` answers per source IP, `burst` at once.
    pub fn new(per_second: u32, burst: u32) -> Self {
        let per = NonZeroU32::new(per_second).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
        Self {
            limiter: RateLimiter::keyed(Quota::per_second(per).allow_burst(burst)),
        }
    }

    /// Takes one answer of `ip`'s budget; `false` when it is spent.
    pub fn allow(&self, ip: IpAddr) -> bool {
        if self.limiter.len() >= MAX_SOURCES {
            self.limiter.retain_recent();
            if self.limiter.len() >= MAX_SOURCES {
                // A flood from more sources than that (spoofed, surely):
                // fail closed until they go quiet, rather than grow.
                return false;
            }
        }
        self.limiter.check_key(&ip).is_ok()
    }

    /// Forgets sources whose budget is full again (call now and then).
    pub fn sweep(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }
}

/// Answers STUN Binding requests on `socket` until the task is dropped.
/// Never returns an error for a bad datagram; a failing socket is logged and
/// retried after a pause (the OS reports ICMP errors of earlier sends as
/// receive errors on some platforms).
pub async fn serve(socket: UdpSocket, limiter: Arc<SourceLimiter>, metrics: Arc<Metrics>) {
    let mut buf = vec![0u8; MAX_REQUEST + 1];
    loop {
        let (n, from) = match socket.recv_from(&mut buf).await {
            Ok(x) => x,
            Err(e) => {
                tracing::debug!("stun: receive failed: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        // A datagram longer than the buffer is truncated to it: still "oversized".
        let reply = answer(&buf[..n], from).and_then(|r| {
            if limiter.allow(from.ip()) {
                Ok(r)
            } else {
                Err(Dropped::RateLimited)
            }
        });
        match reply {
            Ok(r) => {
                metrics.stun(StunResult::Answered);
                if let Err(e) = socket.send_to(&r, from).await {
                    tracing::debug!(%from, "stun: send failed: {e}");
                }
            }
            Err(d) => metrics.stun(StunResult::from(d)),
        }
    }
}

/// Binds the built-in STUN server's sockets on `ip`: `port` and, when it is
/// free, `port + 1` (the second answers the same and lets a client compare
/// its mapping towards two destinations, RFC 5780's mapping test on one IP).
/// Port 0 binds two free ports.
pub async fn bind(ip: IpAddr, port: u16) -> std::io::Result<Vec<UdpSocket>> {
    let first = UdpSocket::bind(SocketAddr::new(ip, port)).await?;
    let alt_port = if port == 0 { 0 } else { port.wrapping_add(1) };
    let mut out = vec![first];
    if alt_port != 0 || port == 0 {
        match UdpSocket::bind(SocketAddr::new(ip, alt_port)).await {
            Ok(s) => out.push(s),
            Err(e) => tracing::warn!(
                "STUN: cannot bind the alternate port {alt_port} ({e}): the NAT mapping test of `arena doctor` needs another STUN server"
            ),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use rtc_stun::message::TransactionId;

    fn request(fingerprint: bool) -> Vec<u8> {
        let mut m = Message::new();
        let mut setters: Vec<Box<dyn Setter>> =
            vec![Box::new(BINDING_REQUEST), Box::new(TransactionId([7; 12]))];
        if fingerprint {
            setters.push(Box::new(FINGERPRINT));
        }
        m.build(&setters).unwrap();
        m.raw
    }

    fn mapped(res: &[u8]) -> SocketAddr {
        let mut m = Message::new();
        m.raw = res.to_vec();
        m.decode().unwrap();
        assert_eq!(m.typ, BINDING_SUCCESS);
        assert_eq!(m.transaction_id, TransactionId([7; 12]));
        FINGERPRINT.check(&m).unwrap();
        let mut x = XorMappedAddress::default();
        rtc_stun::message::Getter::get_from(&mut x, &m).unwrap();
        SocketAddr::new(x.ip, x.port)
    }

    #[test]
    fn binding_requests_get_their_source_back() {
        for from in ["203.0.113.7:40000", "[2001:db8::1]:3478"] {
            let from: SocketAddr = from.parse().unwrap();
            for fp in [false, true] {
                let req = request(fp);
                let res = answer(&req, from).unwrap();
                assert_eq!(mapped(&res), from);
                // Never more than the two attributes we add above the request.
                assert!(
                    res.len() <= req.len() + 32,
                    "{} vs {}",
                    res.len(),
                    req.len()
                );
            }
        }
    }

    #[test]
    fn anything_else_gets_no_answer() {
        let from: SocketAddr = "203.0.113.7:40000".parse().unwrap();
        let good = request(true);
        let mut cookie = good.clone();
        cookie[4] ^= 1;
        let mut top_bits = good.clone();
        top_bits[0] |= 0x80;
        let mut fp = good.clone();
        let last = fp.len() - 1;
        fp[last] ^= 1;
        let mut long_len = good.clone();
        long_len[3] += 4;
        let mut response = good.clone();
        response[0..2].copy_from_slice(&0x0101u16.to_be_bytes());
        let mut allocate = good.clone();
        allocate[0..2].copy_from_slice(&0x0003u16.to_be_bytes());
        let mut trailing = good.clone();
        trailing.extend([0; 4]);
        let mut attr_overrun = request(false);
        // One attribute header claiming 200 bytes of value that are not there.
        attr_overrun[3] = 8;
        attr_overrun.extend([0x80, 0x22, 0, 200, 1, 2, 3, 4]);
        for (bytes, want) in [
            (&good[..19], Dropped::Malformed),
            (&[][..], Dropped::Malformed),
            (&cookie[..], Dropped::Malformed),
            (&top_bits[..], Dropped::Malformed),
            (&fp[..], Dropped::Malformed),
            (&long_len[..], Dropped::Malformed),
            (&trailing[..], Dropped::Malformed),
            (&attr_overrun[..], Dropped::Malformed),
            (&response[..], Dropped::NotBinding),
            (&allocate[..], Dropped::NotBinding),
            (&vec![0u8; MAX_REQUEST + 1][..], Dropped::Oversized),
        ] {
            assert_eq!(answer(bytes, from), Err(want), "{bytes:?}");
        }
    }

    #[test]
    fn random_bytes_never_panic_and_rarely_pass() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        let from: SocketAddr = "198.51.100.1:1".parse().unwrap();
        let base = request(true);
        for _ in 0..20_000 {
            let mut b = base.clone();
            // Flip a few bytes, or cut, or extend: the codec must reject or
            // answer, never panic.
            match rng.random_range(0..3) {
                0 => {
                    for _ in 0..rng.random_range(1..4) {
                        let i = rng.random_range(0..b.len());
                        b[i] = rng.random();
                    }
                }
                1 => b.truncate(rng.random_range(0..b.len())),
                _ => b.extend((0..rng.random_range(1..64)).map(|_| rng.random::<u8>())),
            }
            if let Ok(res) = answer(&b, from) {
                assert!(res.len() <= b.len() + 32);
            }
        }
    }

    #[test]
    fn the_limiter_caps_one_source_not_the_others() {
        let l = SourceLimiter::new(1, 3);
        let a: IpAddr = "203.0.113.1".parse().unwrap();
        let b: IpAddr = "203.0.113.2".parse().unwrap();
        let granted = (0..10).filter(|_| l.allow(a)).count();
        assert_eq!(granted, 3);
        assert!(l.allow(b));
    }
}
