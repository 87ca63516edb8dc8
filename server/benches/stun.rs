//! Bench of the built-in STUN server: answers per second on one core, and
//! the memory its per-source rate limiter takes under a many-source flood.
//!
//! 1. `answer()` alone (decode, checks, encode): answers per second of pure
//!    codec work.
//! 2. The real serve loop ([`arena_server::stun::serve`]) on a
//!    current-thread runtime (one core), over loopback UDP, driven by a
//!    client thread keeping `WINDOW` requests in flight; the rate limit is
//!    raised out of the way (one source here), so this is the server's
//!    capacity, syscalls included. The client shares the machine's cores.
//! 3. RSS of this process before and after the limiter has seen 65,536
//!    distinct sources (its cap): the most memory a flood can make it hold.
//!
//! Run: `cargo bench -p arena-server --bench stun` (`STUN_SECS` to change
//! the 3 s of part 2).
#![allow(clippy::expect_used)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arena_server::metrics::{Metrics, StunResult};
use arena_server::stun::{SourceLimiter, answer};
use rtc_stun::fingerprint::FINGERPRINT;
use rtc_stun::message::{BINDING_REQUEST, Message, Setter, TransactionId};

const WINDOW: usize = 64;

fn request(id: u32) -> Vec<u8> {
    let mut t = [0u8; 12];
    t[..4].copy_from_slice(&id.to_be_bytes());
    let mut m = Message::new();
    let s: [Box<dyn Setter>; 3] = [
        Box::new(BINDING_REQUEST),
        Box::new(TransactionId(t)),
        Box::new(FINGERPRINT),
    ];
    m.build(&s).expect("request");
    m.raw
}

fn rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    let secs: f64 = std::env::var("STUN_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0);

    // 1. The codec alone.
    let req = request(1);
    let from: SocketAddr = "203.0.113.9:40000".parse().expect("addr");
    let n = 500_000u32;
    let t = Instant::now();
    let mut bytes = 0usize;
    for _ in 0..n {
        bytes += answer(&req, from).map(|r| r.len()).unwrap_or(0);
    }
    let dt = t.elapsed().as_secs_f64();
    println!(
        "answer() alone: {:.0} answers/s ({:.0} ns each; {} B request -> {} B answer)",
        f64::from(n) / dt,
        dt * 1e9 / f64::from(n),
        req.len(),
        bytes / n as usize
    );

    // 2. The serve loop on one core, over loopback.
    let server = UdpSocket::bind("127.0.0.1:0").expect("bind");
    server.set_nonblocking(true).expect("nonblocking");
    let addr = server.local_addr().expect("addr");
    let metrics = Arc::new(Metrics::default());
    let limiter = Arc::new(SourceLimiter::new(u32::MAX / 2, u32::MAX / 2));
    {
        let metrics = metrics.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let s = tokio::net::UdpSocket::from_std(server).expect("tokio socket");
                arena_server::stun::serve(s, limiter, metrics).await;
            });
        });
    }
    let client = UdpSocket::bind("127.0.0.1:0").expect("client");
    client
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let reqs: Vec<Vec<u8>> = (0..WINDOW as u32).map(request).collect();
    for r in &reqs {
        client.send_to(r, addr).expect("send");
    }
    let mut buf = [0u8; 1500];
    let mut answered = 0u64;
    let mut lost = 0u64;
    let start = Instant::now();
    let mut i = 0usize;
    while start.elapsed().as_secs_f64() < secs {
        match client.recv(&mut buf) {
            Ok(_) => answered += 1,
            Err(_) => lost += 1,
        }
        // Keep the window full: one new request per answer (or loss).
        client.send_to(&reqs[i % WINDOW], addr).expect("send");
        i += 1;
    }
    let dt = start.elapsed().as_secs_f64();
    println!(
        "serve loop, one core, loopback, {WINDOW} in flight: {:.0} answers/s ({} answered in {dt:.1} s; {} timeouts; server counted {})",
        answered as f64 / dt,
        answered,
        lost,
        metrics.stun_count(StunResult::Answered)
    );

    // 3. The limiter's memory at its cap of sources.
    let before = rss_kb();
    let l = SourceLimiter::default();
    for k in 0..65_536u32 {
        let ip = Ipv4Addr::from(0x0A00_0000 | k);
        let _ = l.allow(IpAddr::V4(ip));
    }
    let after = rss_kb();
    println!(
        "limiter with 65,536 sources: +{} KiB RSS ({:.0} B per source)",
        after.saturating_sub(before),
        (after.saturating_sub(before) * 1024) as f64 / 65_536.0
    );
}
