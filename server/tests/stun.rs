//! The built-in STUN server on loopback: real UDP, the real server (with its
//! Socket.IO side), and the webrtc-rs STUN codec on the client side.
//!
//! "No answer" is proven without sleeping: datagrams from one socket are
//! handled in order, so when the answer to a valid request sent *after* the
//! bad ones is the first datagram back, none of the bad ones was answered.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;

use arena_server::Config;
use common::{WAIT, connect, start_with_stun};
use rtc_stun::fingerprint::FINGERPRINT;
use rtc_stun::message::{BINDING_REQUEST, BINDING_SUCCESS, Getter, Message, Setter, TransactionId};
use rtc_stun::xoraddr::XorMappedAddress;
use serde_json::{Value, json};
use tokio::net::UdpSocket;

fn binding(id: u8) -> Vec<u8> {
    let mut m = Message::new();
    let s: [Box<dyn Setter>; 3] = [
        Box::new(BINDING_REQUEST),
        Box::new(TransactionId([id; 12])),
        Box::new(FINGERPRINT),
    ];
    m.build(&s).unwrap();
    m.raw
}

/// The next datagram on `sock`: its transaction id and mapped address.
async fn next_answer(sock: &UdpSocket) -> (u8, SocketAddr) {
    let mut buf = [0u8; 1500];
    let n = tokio::time::timeout(WAIT, sock.recv(&mut buf))
        .await
        .expect("no STUN answer")
        .unwrap();
    let mut m = Message::new();
    m.raw = buf[..n].to_vec();
    m.decode().unwrap();
    assert_eq!(m.typ, BINDING_SUCCESS);
    FINGERPRINT.check(&m).unwrap();
    let mut x = XorMappedAddress::default();
    x.get_from(&m).unwrap();
    (m.transaction_id.0[0], SocketAddr::new(x.ip, x.port))
}

/// `arena_stun_datagrams_total{result="RESULT"}` in a `/metrics` text.
fn stun_count(metrics: &str, result: &str) -> u64 {
    let key = format!("arena_stun_datagrams_total{{result=\"{result}\"}} ");
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(&key))
        .unwrap()
        .parse()
        .unwrap()
}

fn stun_ports(hello: &Value) -> Vec<u16> {
    hello["stunPorts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_u64().unwrap() as u16)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binding_requests_are_answered_on_both_ports_and_urls_name_the_host() {
    let srv = start_with_stun(Config::default(), true).await;
    let a = connect(&srv.url).await;
    let hello = a.ack("hello", json!({"v": 1})).await;
    let ports = stun_ports(&hello);
    assert_eq!(ports.len(), 2, "{hello}");
    assert!(
        hello["features"]
            .as_array()
            .unwrap()
            .contains(&json!("stun"))
    );
    // The URL handed out names the host the client connected to.
    let want = format!("stun:127.0.0.1:{}", ports[0]);
    assert_eq!(hello["iceServers"][0]["urls"], json!([want]), "{hello}");
    let room = a.ack("create_room", json!({})).await["roomId"].clone();
    let join = a.ack("join_room", json!({ "roomId": room })).await;
    assert_eq!(join["iceServers"][0]["urls"], json!([want]), "{join}");

    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let me = sock.local_addr().unwrap();
    for (i, port) in ports.iter().enumerate() {
        sock.send_to(&binding(i as u8 + 1), ("127.0.0.1", *port))
            .await
            .unwrap();
        assert_eq!(next_answer(&sock).await, (i as u8 + 1, me));
    }
    let metrics = srv.get("/metrics").await;
    assert!(
        metrics.contains("arena_stun_datagrams_total{result=\"answered\"} 2\n"),
        "{metrics}"
    );
    a.disconnect().await;
    srv.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_datagrams_get_no_answer_and_the_server_carries_on() {
    use rand::{Rng, SeedableRng};
    let srv = start_with_stun(Config::default(), true).await;
    let a = connect(&srv.url).await;
    let port = stun_ports(&a.ack("hello", json!({})).await)[0];
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let to = ("127.0.0.1", port);

    let good = binding(9);
    let mut bad: Vec<Vec<u8>> = Vec::new();
    bad.push(good[..12].to_vec()); // truncated header
    bad.push(good[..good.len() - 4].to_vec()); // truncated fingerprint
    let mut cookie = good.clone();
    cookie[5] ^= 0xff; // wrong magic cookie
    bad.push(cookie);
    let mut huge = good.clone();
    huge.resize(4000, 0); // oversized
    bad.push(huge);
    let mut response = good.clone();
    response[1] = 0x01; // a Binding success, not a request
    bad.push(response);
    let mut rng = rand::rngs::StdRng::seed_from_u64(12);
    for _ in 0..40 {
        // Fuzzed bytes: a valid request with bytes of its header or
        // fingerprint replaced, and plain noise.
        let mut f = good.clone();
        let i = rng.random_range(0..f.len());
        f[i] = f[i].wrapping_add(rng.random_range(1..=255));
        bad.push(f);
        bad.push(
            (0..rng.random_range(1..200))
                .map(|_| rng.random())
                .collect(),
        );
    }
    // Fuzzing may hit a byte that still leaves a valid Binding request (a
    // transaction id byte): those are answered, and counted here.
    let answerable = bad
        .iter()
        .filter(|b| arena_server::stun::answer(b, "127.0.0.1:1".parse().unwrap()).is_ok())
        .count();
    assert!(answerable < 40, "{answerable} fuzzed datagrams still valid");
    let bad: Vec<Vec<u8>> = bad
        .into_iter()
        .filter(|b| arena_server::stun::answer(b, "127.0.0.1:1".parse().unwrap()).is_err())
        .collect();
    for b in &bad {
        sock.send_to(b, to).await.unwrap();
    }
    sock.send_to(&good, to).await.unwrap();
    let (id, _) = next_answer(&sock).await;
    assert_eq!(id, 9, "a malformed datagram was answered");

    // The signaling side did not notice.
    let room = a.ack("create_room", json!({})).await;
    assert!(room["roomId"].is_string(), "{room}");
    let metrics = srv.get("/metrics").await;
    let count = |r: &str| stun_count(&metrics, r);
    assert_eq!(count("answered"), 1);
    assert_eq!(
        count("malformed") + count("not_binding") + count("oversized"),
        bad.len() as u64
    );
    assert_eq!(count("oversized"), 1);
    a.disconnect().await;
    srv.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_source_cannot_make_it_a_reflector() {
    let srv = start_with_stun(Config::default(), true).await;
    let a = connect(&srv.url).await;
    let port = stun_ports(&a.ack("hello", json!({})).await)[0];
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let started = tokio::time::Instant::now();
    // 400 requests in batches of 50, each batch sent once the server has
    // counted the previous one (a burst of 400 at once could overflow the
    // socket's receive buffer on a busy machine: loss, not rate limiting).
    let (batch, batches) = (50u32, 8u32);
    let mut counted = (0, 0);
    for b in 0..batches {
        for i in 0..batch {
            sock.send_to(&binding((b * batch + i) as u8), ("127.0.0.1", port))
                .await
                .unwrap();
        }
        let want = (b + 1) * batch;
        let deadline = tokio::time::Instant::now() + WAIT;
        counted = loop {
            let m = srv.get("/metrics").await;
            let c = (
                stun_count(&m, "answered") as u32,
                stun_count(&m, "rate_limited") as u32,
            );
            if c.0 + c.1 >= want || tokio::time::Instant::now() > deadline {
                break c;
            }
            tokio::task::yield_now().await;
        };
        assert_eq!(counted.0 + counted.1, want, "datagrams lost");
    }
    let (answered, limited) = counted;
    let secs = started.elapsed().as_secs_f64();
    // The burst, plus what refilled meanwhile; never more.
    let most = arena_server::stun::PER_SOURCE_BURST as f64
        + arena_server::stun::PER_SOURCE as f64 * secs
        + 1.0;
    assert!(
        answered >= arena_server::stun::PER_SOURCE_BURST && f64::from(answered) <= most,
        "answered {answered} of 400 in {secs:.2} s (at most {most:.0})"
    );
    assert!(limited > 0);
    a.disconnect().await;
    srv.stop().await.unwrap();
}
