//! Signaling abuse against the real server: silent clients, oversize frames,
//! floods, room-code guessing behind a proxy, foreign origins. Clients are
//! raw engine.io websockets (`common::raw`) so they can misbehave.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::field_reassign_with_default
)]

mod common;

use std::time::{Duration, Instant};

use arena_server::Config;
use common::raw::{self, Raw};
use common::{WAIT, metric, start};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

/// A relay of `n` (40 base64 characters, like the game's messages).
fn relay_to(target: &str, n: u64) -> Value {
    use base64::Engine;
    let mut payload = [0u8; 30];
    payload[..8].copy_from_slice(&n.to_le_bytes());
    let data = base64::engine::general_purpose::STANDARD.encode(payload);
    json!({"targetId": target, "data": data})
}

/// The value of the metric line `name` (with its labels) in `/metrics`.
/// A client that stops answering engine.io pings is dropped once the ping
/// timeout runs out, the others get `user_left`, and its seat is free.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_client_is_dropped_and_its_seat_freed_within_ping_interval_plus_timeout() {
    let mut config = Config::default();
    // Short enough for a test, long enough that a loaded CI machine
    // (parallel test binaries on 2 cores) does not miss a pong.
    config.ping_interval = Duration::from_millis(1000);
    config.ping_timeout = Duration::from_millis(500);
    config.rooms.capacity = 3;
    let limit = config.ping_interval + config.ping_timeout;
    let srv = start(config).await;
    // A and R are rust_socketio clients: they answer pings on their own.
    let mut a = common::connect(&srv.url).await;
    let code = common::create_room(&a).await;
    a.join(&code).await;
    let mut r = common::connect(&srv.url).await;
    r.join(&code).await;
    a.next("user_joined").await;
    // C is connected before S joins: the room must still be full when C
    // asks (S answers pings only while it reads, and a connection can take
    // longer than the ping timeout on a loaded machine).
    let c = common::connect(&srv.url).await;
    let mut s = raw::connect(srv.addr).await;
    assert_eq!(s.join(&code).await["users"].as_array().unwrap().len(), 3);
    // From now on S is silent: it reads nothing and answers no ping.
    s.pong = false;
    let silent_since = Instant::now();
    let ack = c.ack("join_room", json!({ "roomId": code })).await;
    assert_eq!(ack["error"], "full", "{ack}");

    let left = loop {
        let v = a.next("user_left").await;
        if v["userId"] == s.sid.as_str() {
            break v;
        }
    };
    let took = silent_since.elapsed();
    assert_eq!(left["userId"], s.sid.as_str());
    assert!(
        took <= limit + Duration::from_millis(500),
        "dropped after {took:?}, limit {limit:?}"
    );
    // The seat is free; A and R, who answered their pings, are still in the room.
    let mut c = c;
    let ack = c.join(&code).await;
    assert_eq!(ack["users"], json!([a.id, r.id, c.id]), "{ack}");
    assert!(
        s.closed().await,
        "the silent client's connection stays open"
    );
    srv.stop().await.unwrap();
}

/// Sends the oversize event `big` and expects its refusal.
async fn refuse(a: &mut Raw, big: &str) {
    a.send(big).await;
    let e = a.next("arena_error").await;
    assert_eq!(e["error"], "bad_request", "{e}");
    assert_eq!(e["event"], "relay", "{e}");
    assert_eq!(e["message"], "payload too large");
}

/// Events above `--max-event-bytes` are refused one by one (`bad_request`),
/// the connection and the room stay; frames above the 1 MiB transport cap
/// close that connection only. Neither grows the server's memory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversize_frames_are_refused_and_do_not_grow_memory() {
    let srv = raw::spawn_binary(&[]).await;
    let mut a = raw::connect(srv.addr).await;
    let code = a.create_room().await;
    a.join(&code).await;
    let mut b = raw::connect(srv.addr).await;
    b.join(&code).await;
    a.next("user_joined").await;

    // 20,000 characters of valid base64: above the 16 KiB event limit.
    let big = format!(
        "42{}",
        json!(["relay", {"targetId": b.sid, "data": "A".repeat(20_000)}])
    );
    for _ in 0..100 {
        refuse(&mut a, &big).await; // warm-up: buffers and allocator arenas
    }
    let rss0 = raw::rss_kb(srv.pid);
    for _ in 0..1000 {
        refuse(&mut a, &big).await;
    }
    let rss1 = raw::rss_kb(srv.pid);
    eprintln!("1,000 events of 20 KB: server RSS {rss0} KB -> {rss1} KB");
    assert!(rss1 < rss0 + 2048, "RSS {rss0} KB -> {rss1} KB");
    // Still connected, still in the room.
    a.emit("relay", &relay_to(&b.sid, 7)).await;
    assert_eq!(b.next("relay").await["userId"], a.sid.as_str());

    // A frame above the transport cap: that connection is closed, nothing else.
    let huge = Message::text("A".repeat((1 << 20) + 1));
    let mut c = raw::connect(srv.addr).await;
    c.join(&code).await;
    a.next("user_joined").await;
    let _ = c.ws.send(huge.clone()).await; // may fail: the server hangs up mid-frame
    assert!(
        c.closed().await,
        "an oversize frame left the connection open"
    );
    assert_eq!(a.next("user_left").await["userId"], c.sid.as_str());
    let addr = srv.addr;
    let oversize_on_fresh_connection = |n: usize| {
        let huge = huge.clone();
        async move {
            for _ in 0..n {
                let mut c = raw::connect(addr).await;
                let _ = c.ws.send(huge.clone()).await;
                assert!(c.closed().await);
            }
        }
    };
    oversize_on_fresh_connection(100).await;
    let rss2 = raw::rss_kb(srv.pid);
    oversize_on_fresh_connection(1000).await;
    let rss3 = raw::rss_kb(srv.pid);
    eprintln!("1,000 frames of 1 MiB + 1: server RSS {rss2} KB -> {rss3} KB");
    assert!(rss3 < rss2 + 2048, "RSS {rss2} KB -> {rss3} KB");
    // A and B never noticed.
    b.emit("relay", &relay_to(&a.sid, 8)).await;
    assert_eq!(a.next("relay").await["userId"], b.sid.as_str());
}

/// One client sends 10,000 relays in one second: it is throttled to its
/// bucket (burst + rate x time), told so a few times per second, every drop
/// is counted, and another room's traffic flows throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_ten_thousand_relays_a_second_is_throttled_and_others_flow() {
    const FLOOD: u64 = 10_000;
    const TICKS: u64 = 100; // one batch every 10 ms
    let config = Config::default();
    let relay = config.limits.relay;
    let srv = start(config).await;
    let mut f = raw::connect(srv.addr).await;
    let mut b = raw::connect(srv.addr).await;
    let code = f.create_room().await;
    f.join(&code).await;
    b.join(&code).await;
    let (mut c, mut d) = (raw::connect(srv.addr).await, raw::connect(srv.addr).await);
    let quiet = c.create_room().await;
    c.join(&quiet).await;
    d.join(&quiet).await;
    let d_sid = d.sid.clone();

    // D measures C's relays (C sends one per tick, with its send time).
    let epoch = Instant::now();
    let d_task = tokio::spawn(async move {
        let mut lat = Vec::new();
        while lat.len() < TICKS as usize {
            let v = d.next("relay").await;
            use base64::Engine;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(v["data"].as_str().unwrap())
                .unwrap();
            let sent = u64::from_le_bytes(bytes[..8].try_into().unwrap());
            lat.push(epoch.elapsed() - Duration::from_micros(sent));
        }
        lat
    });
    let b_sid = b.sid.clone();
    let mut b_task = tokio::spawn(async move {
        let mut n = 0u64;
        // Counts F's relays until the test stops it.
        while let Some(m) = b.recv().await {
            if m.starts_with("42[\"relay\"") {
                n += 1;
            }
            if m.starts_with("42[\"broadcast\"") {
                break; // the end marker
            }
        }
        (n, b)
    });
    let (mut ftx, mut frx) = f.ws.split();
    let notices = tokio::spawn(async move {
        let mut n = 0u64;
        while let Some(Ok(m)) = frx.next().await {
            if let Message::Text(t) = m
                && t.contains("\"rate_limited\"")
            {
                n += 1;
            }
        }
        n
    });
    let frame = Message::text(format!("42{}", json!(["relay", relay_to(&b_sid, 1)])));
    let started = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    for _ in 0..TICKS {
        tick.tick().await;
        for _ in 0..FLOOD / TICKS {
            ftx.feed(frame.clone()).await.unwrap();
        }
        ftx.flush().await.unwrap();
        let now = u64::try_from(epoch.elapsed().as_micros()).unwrap();
        c.emit("relay", &relay_to(&d_sid, now)).await;
    }
    // Every flood message has been handled once it is counted: relayed or rejected.
    let deadline = Instant::now() + WAIT;
    let (relayed, rejected) = loop {
        let m = srv.get("/metrics").await;
        let relayed = metric(&m, "arena_relayed_messages_total{event=\"relay\"}");
        let rejected = metric(&m, "arena_rejections_total{reason=\"rate_limited\"}");
        if relayed + rejected >= FLOOD + TICKS {
            break (relayed - TICKS, rejected);
        }
        assert!(Instant::now() < deadline, "{relayed} + {rejected} handled");
    };
    let took = started.elapsed().as_secs_f64();
    let bound = f64::from(relay.burst) + f64::from(relay.per_second) * took;
    eprintln!(
        "flood of {FLOOD} in {took:.2} s: {relayed} relayed (bound {bound:.0}), {rejected} rate_limited"
    );
    assert_eq!(relayed + rejected, FLOOD);
    assert!(relayed >= u64::from(relay.burst), "{relayed}");
    assert!(relayed as f64 <= bound + 1.0, "{relayed} > {bound}");

    // B got exactly the relayed ones (F's broadcast marks the end).
    ftx.send(Message::text(format!(
        "42{}",
        json!(["broadcast", {"data": "AAAA"}])
    )))
    .await
    .unwrap();
    // The marker itself may be throttled: F's bucket refills at 250/s, so retry.
    let mut marker = tokio::time::interval(Duration::from_millis(20));
    let (got, _b) = loop {
        tokio::select! {
            r = &mut b_task => break r.unwrap(),
            _ = marker.tick() => {
                ftx.send(Message::text(format!("42{}", json!(["broadcast", {"data": "AAAA"}]))))
                    .await
                    .unwrap();
            }
        }
    };
    // A relay to a socket whose outgoing queue is full (socketioxide's 128
    // packets, when B's writer falls behind a burst on a loaded machine) is
    // dropped: counted as relayed, not as delivered. B got every delivery.
    let m = srv.get("/metrics").await;
    let delivered = metric(&m, "arena_relayed_deliveries_total{event=\"relay\"}") - TICKS;
    eprintln!("B received {got} of {relayed} relayed ({delivered} delivered)");
    assert_eq!(got, delivered);
    assert!(delivered <= relayed, "{delivered} > {relayed}");
    assert!(delivered >= 128, "B's queue alone holds 128: {delivered}");

    // Notices: a few a second (burst 3, then 2/s), not one per drop.
    ftx.close().await.unwrap();
    let n = tokio::time::timeout(WAIT, notices).await.unwrap().unwrap();
    let most = 3.0 + 2.0 * (started.elapsed().as_secs_f64() + 1.0);
    assert!(n >= 1 && (n as f64) <= most, "{n} rate_limited notices");

    // The quiet room's relays all arrived, without the flood's delay.
    let mut lat = tokio::time::timeout(WAIT, d_task).await.unwrap().unwrap();
    lat.sort_unstable();
    let p99 = lat[lat.len() * 99 / 100 - 1];
    eprintln!(
        "quiet room during the flood: p50 {:?}, p99 {:?}",
        lat[lat.len() / 2],
        p99
    );
    assert!(p99 < Duration::from_millis(500), "p99 {p99:?}");
    srv.stop().await.unwrap();
}

/// Guesses `n` unknown codes on `g`: each is `not_found`.
async fn guess(g: &mut Raw, n: usize) {
    for i in 0..n {
        let ack = g.join(&format!("0000000{i}")).await;
        assert_eq!(ack["error"], "not_found", "{ack}");
    }
}

/// Behind a trusted proxy (`--trust-proxy`) the per-IP failed-join budget
/// is kept per forwarded address: the last `X-Forwarded-For` entry, the one
/// the proxy added (what a client wrote before it is not believed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_trust_proxy_the_ip_budget_keys_on_the_forwarded_address() {
    let mut config = Config::default();
    config.limits.failed_joins_per_minute = 100;
    config.limits.failed_joins_per_hour_per_ip = 2;
    config.trust_proxy = true;
    let srv = start(config).await;
    let mut owner = raw::connect(srv.addr).await;
    let code = owner.create_room().await;
    let addr = srv.addr;
    let via = |xff: &'static str| async move {
        raw::try_connect(addr, &[("x-forwarded-for", xff)]).await
    };
    let mut g1 = via("198.51.100.1, 203.0.113.7").await.unwrap();
    guess(&mut g1, 2).await;
    // The same forwarded address on another connection, with another
    // client-written prefix: the budget is shared, even a right code waits.
    let mut g2 = via("198.51.100.99, 203.0.113.7").await.unwrap();
    assert_eq!(g2.join(&code).await["error"], "rate_limited");
    let mut g3 = via("203.0.113.7").await.unwrap();
    assert_eq!(g3.join(&code).await["error"], "rate_limited");
    // A proxy that appends a header line of its own (HAProxy's `option
    // forwardfor`) after the client's: the proxy's line counts.
    let lines = [
        ("x-forwarded-for", "203.0.113.9"),
        ("x-forwarded-for", "203.0.113.7"),
    ];
    let mut g3b = raw::try_connect(srv.addr, &lines).await.unwrap();
    assert_eq!(g3b.join(&code).await["error"], "rate_limited");
    // Another forwarded address has its own budget.
    let mut g4 = via("203.0.113.8").await.unwrap();
    assert!(g4.join(&code).await["users"].is_array());
    // So does the proxy's own address (no header).
    let mut g5 = raw::connect(srv.addr).await;
    assert!(g5.join(&code).await["users"].is_array());
    srv.stop().await.unwrap();
}

/// Without `--trust-proxy`, `X-Forwarded-For` is ignored: the budget is the
/// peer address's, whatever the header says.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_trust_proxy_x_forwarded_for_is_ignored() {
    let mut config = Config::default();
    config.limits.failed_joins_per_minute = 100;
    config.limits.failed_joins_per_hour_per_ip = 2;
    let srv = start(config).await;
    let mut owner = raw::connect(srv.addr).await;
    let code = owner.create_room().await;
    let mut g1 = raw::try_connect(srv.addr, &[("x-forwarded-for", "203.0.113.7")])
        .await
        .unwrap();
    guess(&mut g1, 2).await;
    let mut g2 = raw::try_connect(srv.addr, &[("x-forwarded-for", "203.0.113.8")])
        .await
        .unwrap();
    assert_eq!(g2.join(&code).await["error"], "rate_limited");
    let mut g3 = raw::connect(srv.addr).await;
    assert_eq!(g3.join(&code).await["error"], "rate_limited");
    srv.stop().await.unwrap();
}

/// The status line of an HTTP GET of `path` with `Origin: origin`, and
/// whether the answer carried `Access-Control-Allow-Origin`.
async fn get_with_origin(addr: std::net::SocketAddr, path: &str, origin: &str) -> (u16, bool) {
    let (status, out) = common::http_get(addr, path, &[("Origin", origin)]).await;
    let allow = out
        .to_ascii_lowercase()
        .contains("access-control-allow-origin");
    (status, allow)
}

/// With `--cors-origin`, a browser from another origin gets nothing: its
/// websocket handshake and its polling requests are refused with 403
/// (browsers apply no CORS to websockets). Clients that send no `Origin`
/// (the game, bots) connect as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_origins_are_refused_on_websocket_and_polling() {
    use tokio_tungstenite::tungstenite::Error;
    let config = Config {
        cors_origins: vec!["https://good.example".into()],
        ..Config::default()
    };
    let srv = start(config).await;
    match raw::try_connect(srv.addr, &[("origin", "https://evil.example")]).await {
        Err(Error::Http(r)) => assert_eq!(r.status(), 403),
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("a websocket from a foreign origin was accepted"),
    }
    let mut good = raw::try_connect(srv.addr, &[("origin", "https://good.example")])
        .await
        .unwrap();
    let code = good.create_room().await;
    assert!(good.join(&code).await["users"].is_array());
    let mut native = raw::connect(srv.addr).await;
    assert!(native.join(&code).await["users"].is_array());
    let polling = "/socket.io/?EIO=4&transport=polling";
    assert_eq!(
        get_with_origin(srv.addr, polling, "https://evil.example").await,
        (403, false)
    );
    assert_eq!(
        get_with_origin(srv.addr, polling, "https://good.example").await,
        (200, true)
    );
    assert_eq!(
        get_with_origin(srv.addr, "/healthz", "https://evil.example").await,
        (403, false)
    );
    srv.stop().await.unwrap();

    // Without an allowlist every origin is served (the default).
    let srv = start(Config::default()).await;
    let mut any = raw::try_connect(srv.addr, &[("origin", "https://evil.example")])
        .await
        .unwrap();
    assert!(any.create_room().await.len() == 8);
    assert_eq!(
        get_with_origin(srv.addr, polling, "https://evil.example").await,
        (200, true)
    );
    srv.stop().await.unwrap();
}

/// A `join_room` sent the moment the namespace ack arrives is answered and
/// seats the client. socketioxide 0.18 sends that ack before it marks the
/// socket connected, so such a first event can run while
/// `SocketRef::connected()` is still false; the join handler took that for
/// a disconnect, undid the join and never answered (seen with raw clients
/// on a loaded machine). 64 raw clients connect at once, as a browser's
/// socket.io-client does when it emits on `connect`, each with `join_room`
/// as its first event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_sent_the_moment_the_client_is_connected_is_answered() {
    let mut config = Config::default();
    config.rooms.capacity = 64;
    let srv = start(config).await;
    let host = common::connect(&srv.url).await;
    let code = common::create_room(&host).await;
    let mut tasks = Vec::new();
    for _ in 0..64 {
        let code = code.clone();
        let addr = srv.addr;
        tasks.push(tokio::spawn(async move {
            let mut c = raw::connect(addr).await;
            let ack = c.join(&code).await;
            assert!(ack["users"].is_array(), "{ack}");
            c
        }));
    }
    let mut clients = Vec::new();
    for t in tasks {
        clients.push(t.await.unwrap());
    }
    let late = common::connect(&srv.url).await;
    let ack = late.ack("join_room", json!({ "roomId": code })).await;
    assert_eq!(ack["error"], "full", "every seat is taken: {ack}");
    drop(clients);
    srv.stop().await.unwrap();
}
