//! Integration tests: the real server on port 0 driven by real Socket.IO
//! clients (rust_socketio), one test per event and error path of PROTOCOL.md.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::field_reassign_with_default
)]

mod common;

use arena_server::Config;
use arena_server::config::Rate;
use common::{WAIT, connect, connect_with, create_room, data, metric, start};
use rust_socketio::Payload;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hello_reports_server_and_features() {
    let srv = start(Config::default()).await;
    let a = connect(&srv.url).await;
    let ack = a.ack("hello", json!({"v": 1, "name": "ann"})).await;
    assert_eq!(ack["server"], "arena-server");
    assert!(ack["version"].as_str().is_some());
    let features: Vec<&str> = ack["features"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for f in [
        "create_room",
        "relay",
        "leave_room",
        "ice_servers",
        "rejoin",
        "self_id",
    ] {
        assert!(features.contains(&f), "{features:?}");
    }
    // A hello without arguments is answered too.
    assert_eq!(a.ack("hello", Value::Null).await["server"], "arena-server");
    a.disconnect().await;
    srv.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_join_signal_relay_broadcast_leave() {
    let srv = start(Config::default()).await;
    let mut a = connect(&srv.url).await;
    let mut b = connect(&srv.url).await;
    let mut c = connect(&srv.url).await;
    let code = create_room(&a).await;
    assert_eq!(code.len(), 8);
    assert!(arena_server::protocol::normalize_code(&code).is_ok());

    let ack = a.join(&code).await;
    assert_eq!(ack["users"], json!([a.id]));
    assert!(ack["iceServers"].is_array());
    // Codes are normalised: lower case, grouped with a dash, spaces.
    let typed = format!(" {}-{} ", code[..4].to_lowercase(), &code[4..]);
    let ack = b.join(&typed).await;
    assert_eq!(ack["users"], json!([a.id, b.id]));
    assert_eq!(a.next("user_joined").await, json!({"userId": b.id}));
    c.join(&code).await;
    assert_eq!(a.next("user_joined").await, json!({"userId": c.id}));
    assert_eq!(b.next("user_joined").await, json!({"userId": c.id}));

    // signal: targeted, browser-shaped, forwarded unchanged.
    let offer = json!({"type": "offer", "sdp": "v=0\r\n"});
    b.emit("signal", json!({"targetId": a.id, "signal": offer}))
        .await;
    assert_eq!(
        a.next("signal").await,
        json!({"userId": b.id, "signal": offer})
    );
    let cand = json!({"candidate": {"candidate": "candidate:1 1 udp 1 127.0.0.1 9 typ host", "sdpMid": "0", "sdpMLineIndex": 0}});
    a.emit("signal", json!({"targetId": b.id, "signal": cand}))
        .await;
    assert_eq!(
        b.next("signal").await,
        json!({"userId": a.id, "signal": cand})
    );

    // relay: to one target only. C must not get it: C's next event is the marker.
    a.emit("relay", json!({"targetId": b.id, "data": data(1)}))
        .await;
    assert_eq!(
        b.next("relay").await,
        json!({"userId": a.id, "data": data(1)})
    );
    b.emit("relay", json!({"targetId": c.id, "data": data(2)}))
        .await;
    assert_eq!(
        c.next_any().await,
        ("relay".to_owned(), json!({"userId": b.id, "data": data(2)}))
    );

    // broadcast: everyone in the room but the sender.
    a.emit("broadcast", json!({"data": data(3)})).await;
    assert_eq!(
        b.next("broadcast").await,
        json!({"userId": a.id, "data": data(3)})
    );
    assert_eq!(
        c.next("broadcast").await,
        json!({"userId": a.id, "data": data(3)})
    );
    b.emit("relay", json!({"targetId": a.id, "data": data(4)}))
        .await;
    assert_eq!(
        a.next_any().await.0,
        "relay",
        "the sender must not get its own broadcast"
    );

    // leave_room: the others get user_left, the leaver is out of the room.
    assert_eq!(b.ack("leave_room", json!({})).await, json!({"left": true}));
    assert_eq!(a.next("user_left").await, json!({"userId": b.id}));
    assert_eq!(c.next("user_left").await, json!({"userId": b.id}));
    assert_eq!(b.ack("leave_room", json!({})).await, json!({"left": false}));
    b.emit("relay", json!({"targetId": a.id, "data": data(5)}))
        .await;
    assert_eq!(
        b.next_error().await,
        ("not_found".to_owned(), "relay".to_owned())
    );

    for p in [a, b, c] {
        p.disconnect().await;
    }
    srv.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn core_join_without_ack_gets_room_users() {
    let srv = start(Config::default()).await;
    let a = connect(&srv.url).await;
    let mut b = connect(&srv.url).await;
    let code = create_room(&a).await;
    b.emit("join_room", json!({"roomId": code})).await;
    let ru = b.next("room_users").await;
    assert_eq!(ru["users"].as_array().unwrap().len(), 1);
    // Without an ack, a failed join is reported as arena_error.
    b.emit("join_room", json!({"roomId": "ZZZZZZZZ"})).await;
    assert_eq!(
        b.next_error().await,
        ("not_found".to_owned(), "join_room".to_owned())
    );
    b.emit("join_room", json!({"roomId": "nope"})).await;
    assert_eq!(
        b.next_error().await,
        ("bad_code".to_owned(), "join_room".to_owned())
    );
    srv.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_errors_answer_in_the_ack() {
    let srv = start(Config::default()).await;
    let a = connect(&srv.url).await;
    let ack = a.ack("join_room", json!({"roomId": "ABCD-EFGH"})).await;
    assert_eq!(ack["error"], "not_found");
    assert!(ack["message"].as_str().is_some());
    for bad in ["ABC", "ABCDEFGI", "ABCDEFGHJK", ""] {
        assert_eq!(
            a.ack("join_room", json!({"roomId": bad})).await["error"],
            "bad_code",
            "{bad}"
        );
    }
    assert_eq!(
        a.ack("join_room", json!({"room": "ABCDEFGH"})).await["error"],
        "bad_request"
    );
    assert_eq!(
        a.ack("join_room", json!({"roomId": 12})).await["error"],
        "bad_request"
    );
    srv.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hello_tells_the_caller_its_own_socket_id() {
    let srv = start(Config::default()).await;
    let mut a = connect(&srv.url).await;
    let hello = a.ack("hello", json!({"v": 1})).await;
    let code = create_room(&a).await;
    a.join(&code).await;
    assert_eq!(hello["id"], json!(a.id), "hello id is the id others see");
    srv.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejoin_recreates_a_room_the_server_forgot() {
    let srv = start(Config::default()).await;
    let mut a = connect(&srv.url).await;
    // A well-formed code unknown to this server (say, it restarted).
    let plain = a.ack("join_room", json!({"roomId": "ABCD-EFGH"})).await;
    assert_eq!(plain["error"], "not_found");
    let ack = a
        .ack("join_room", json!({"roomId": "abcd efgh", "rejoin": true}))
        .await;
    assert_eq!(ack["users"].as_array().map(Vec::len), Some(1), "{ack}");
    // Others join it with the ordinary join.
    let mut b = connect(&srv.url).await;
    let ack = b.join("ABCDEFGH").await;
    assert_eq!(ack["users"].as_array().map(Vec::len), Some(2), "{ack}");
    assert_eq!(a.next("user_joined").await, json!({"userId": b.id}));
    // A malformed code is still refused.
    let bad = a
        .ack("join_room", json!({"roomId": "ABC", "rejoin": true}))
        .await;
    assert_eq!(bad["error"], "bad_code");
    srv.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ninth_joiner_is_refused() {
    let srv = start(Config::default()).await;
    let mut peers = Vec::new();
    for _ in 0..9 {
        peers.push(connect(&srv.url).await);
    }
    let code = create_room(&peers[0]).await;
    for p in peers.iter_mut().take(8) {
        p.join(&code).await;
    }
    let ack = peers[8].ack("join_room", json!({"roomId": code})).await;
    assert_eq!(ack["error"], "full");
    // The refused client is in no room: its broadcast is refused.
    peers[8].emit("broadcast", json!({"data": data(0)})).await;
    assert_eq!(peers[8].next_error().await.0, "not_found");
    let metrics = srv.get("/metrics").await;
    assert!(
        metrics.contains("arena_joins_total{result=\"full\"} 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("arena_joins_total{result=\"ok\"} 8\n"),
        "{metrics}"
    );
    srv.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnect_produces_user_left() {
    let srv = start(Config::default()).await;
    let mut a = connect(&srv.url).await;
    let mut b = connect(&srv.url).await;
    let code = create_room(&a).await;
    a.join(&code).await;
    b.join(&code).await;
    a.next("user_joined").await;
    let b_id = b.id.clone();
    b.disconnect().await;
    assert_eq!(a.next("user_left").await, json!({"userId": b_id}));
    srv.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_rooms_do_not_see_each_other() {
    let srv = start(Config::default()).await;
    let (mut a1, mut a2, mut b1, mut b2) = (
        connect(&srv.url).await,
        connect(&srv.url).await,
        connect(&srv.url).await,
        connect(&srv.url).await,
    );
    let ra = create_room(&a1).await;
    let rb = create_room(&b1).await;
    assert_ne!(ra, rb);
    a1.join(&ra).await;
    a2.join(&ra).await;
    b1.join(&rb).await;
    b2.join(&rb).await;
    a1.next("user_joined").await;
    b1.next("user_joined").await;

    // Cross-room signal and relay are refused to the sender.
    a1.emit(
        "signal",
        json!({"targetId": b1.id, "signal": {"type": "offer", "sdp": "x"}}),
    )
    .await;
    assert_eq!(
        a1.next_error().await,
        ("not_found".to_owned(), "signal".to_owned())
    );
    a1.emit("relay", json!({"targetId": b1.id, "data": data(7)}))
        .await;
    assert_eq!(
        a1.next_error().await,
        ("not_found".to_owned(), "relay".to_owned())
    );
    // A broadcast in room A reaches A2 ...
    a1.emit("broadcast", json!({"data": data(8)})).await;
    assert_eq!(a2.next("broadcast").await["data"], data(8));
    // ... and nothing of the above reached room B: B1's next event is B2's marker.
    b2.emit("relay", json!({"targetId": b1.id, "data": data(9)}))
        .await;
    assert_eq!(
        b1.next_any().await,
        (
            "relay".to_owned(),
            json!({"userId": b2.id, "data": data(9)})
        )
    );
    b1.emit("broadcast", json!({"data": data(10)})).await;
    assert_eq!(
        b2.next_any().await,
        (
            "broadcast".to_owned(),
            json!({"userId": b1.id, "data": data(10)})
        )
    );
    srv.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_is_rate_limited_and_others_are_unaffected() {
    let mut config = Config::default();
    config.limits.relay = Rate {
        per_second: 5,
        burst: 10,
    };
    let srv = start(config).await;
    let (mut a, mut b, mut c, mut d) = (
        connect(&srv.url).await,
        connect(&srv.url).await,
        connect(&srv.url).await,
        connect(&srv.url).await,
    );
    let code = create_room(&a).await;
    for p in [&mut a, &mut b, &mut c, &mut d] {
        p.join(&code).await;
    }
    for i in 0..60 {
        a.emit("relay", json!({"targetId": b.id, "data": data(i)}))
            .await;
    }
    assert_eq!(
        a.next_error().await,
        ("rate_limited".to_owned(), "relay".to_owned())
    );
    // Every one of A's relays is handled (relayed or refused) before C's
    // marker below: each relay is its own handler task, so the refusal of
    // the 11th may reach A while the 10th is still on its way to B.
    let deadline = std::time::Instant::now() + WAIT;
    let relayed = loop {
        let m = srv.get("/metrics").await;
        let relayed = metric(&m, "arena_relayed_messages_total{event=\"relay\"}");
        let refused = metric(&m, "arena_rejections_total{reason=\"rate_limited\"}");
        if relayed + refused >= 60 {
            break metric(&m, "arena_relayed_deliveries_total{event=\"relay\"}");
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{relayed} + {refused} handled"
        );
    };
    // Another client's relay goes through.
    c.emit("relay", json!({"targetId": d.id, "data": data(1000)}))
        .await;
    assert_eq!(d.next("relay").await["data"], data(1000));
    // B got some of A's relays, not all: count until C's marker arrives.
    c.emit("relay", json!({"targetId": b.id, "data": data(2000)}))
        .await;
    let mut from_a = 0;
    loop {
        let (ev, v) = b.next_any().await;
        if ev == "relay" && v["userId"] == c.id.as_str() {
            break;
        }
        if ev == "relay" {
            from_a += 1;
        }
    }
    assert_eq!(from_a, relayed);
    assert!((10..60).contains(&from_a), "{from_a} relays went through");
    // A is still connected and still in its room.
    assert_eq!(
        a.ack("hello", json!({"v": 1})).await["server"],
        "arena-server"
    );
    a.emit(
        "signal",
        json!({"targetId": b.id, "signal": {"type": "offer", "sdp": "x"}}),
    )
    .await;
    assert_eq!(b.next("signal").await["userId"], a.id.as_str());
    let metrics = srv.get("/metrics").await;
    assert!(
        !metrics.contains("arena_rejections_total{reason=\"rate_limited\"} 0\n"),
        "{metrics}"
    );
    srv.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn turn_credentials_verify_with_the_hmac_scheme() {
    use base64::Engine;
    use hmac::{Hmac, Mac};
    let mut config = Config::default();
    config.stun_urls = vec!["stun:stun.example.test:3478".into()];
    config.turn_urls = vec!["turn:turn.example.test:3478?transport=udp".into()];
    config.turn_secret = Some("top-secret-value".into());
    config.turn_ttl = std::time::Duration::from_secs(600);
    let srv = start(config).await;
    let mut a = connect(&srv.url).await;
    let code = create_room(&a).await;
    let ack = a.join(&code).await;
    assert!(!ack.to_string().contains("top-secret-value"));
    let ice = ack["iceServers"].as_array().unwrap();
    assert_eq!(ice[0], json!({"urls": ["stun:stun.example.test:3478"]}));
    let turn = &ice[1];
    assert_eq!(
        turn["urls"],
        json!(["turn:turn.example.test:3478?transport=udp"])
    );
    let username = turn["username"].as_str().unwrap();
    let (expiry, id) = username.split_once(':').unwrap();
    assert_eq!(id, a.id);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let expiry: u64 = expiry.parse().unwrap();
    assert!(
        (now + 590..=now + 610).contains(&expiry),
        "{expiry} vs {now}"
    );
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(b"top-secret-value").unwrap();
    mac.update(username.as_bytes());
    let want = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    assert_eq!(turn["credential"], want.as_str());
    let hello = a.ack("hello", json!({"v": 1})).await;
    assert!(
        hello["features"]
            .as_array()
            .unwrap()
            .contains(&json!("turn"))
    );
    srv.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn room_creation_can_require_a_token() {
    let mut config = Config::default();
    config.create_token = Some("let-me-in".into());
    let srv = start(config).await;
    let a = connect(&srv.url).await;
    let ack = a.ack("create_room", json!({})).await;
    assert_eq!(ack["error"], "unauthorized");
    assert_eq!(
        a.ack("create_room", json!({"token": "wrong"})).await["error"],
        "unauthorized"
    );
    assert!(a.ack("create_room", json!({"token": "let-me-in"})).await["roomId"].is_string());
    let b = connect_with(&srv.url, Some(json!({"token": "let-me-in"}))).await;
    let code = create_room(&b).await;
    // Joining needs no token.
    let mut c = connect(&srv.url).await;
    c.join(&code).await;
    srv.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_joins_are_throttled() {
    let mut config = Config::default();
    config.limits.failed_joins_per_minute = 3;
    let srv = start(config).await;
    let a = connect(&srv.url).await;
    let code = create_room(&a).await;
    let guesser = connect(&srv.url).await;
    for guess in ["00000000", "00000001", "bad"] {
        let err = guesser.ack("join_room", json!({"roomId": guess})).await["error"].clone();
        assert!(err == "not_found" || err == "bad_code", "{err}");
    }
    // Budget spent: even the right code is refused now.
    let ack = guesser.ack("join_room", json!({"roomId": code})).await;
    assert_eq!(ack["error"], "rate_limited", "{ack}");
    // Other connections are not affected by this one's budget (per-IP budget is larger).
    let mut other = connect(&srv.url).await;
    other.join(&code).await;
    srv.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_payloads_are_refused_and_the_room_survives() {
    let mut config = Config::default();
    config.max_event_bytes = 2048;
    let srv = start(config).await;
    let (mut a, mut b) = (connect(&srv.url).await, connect(&srv.url).await);
    let code = create_room(&a).await;
    a.join(&code).await;
    b.join(&code).await;
    a.next("user_joined").await;
    let bad: Vec<(&str, Payload)> = vec![
        ("relay", json!({"targetId": 5, "data": data(1)}).into()),
        ("relay", json!({"data": data(1)}).into()),
        (
            "relay",
            json!({"targetId": b.id, "data": "not base64!"}).into(),
        ),
        (
            "relay",
            json!({"targetId": b.id, "data": "A".repeat(4000)}).into(),
        ),
        ("relay", json!("just a string").into()),
        ("relay", Payload::Binary(vec![1u8, 2, 3].into())),
        ("broadcast", json!({"data": [1, 2, 3]}).into()),
        ("broadcast", json!(null).into()),
        ("signal", json!({"targetId": b.id}).into()),
        (
            "signal",
            json!({"targetId": b.id, "signal": {"type": "bogus"}}).into(),
        ),
        (
            "signal",
            json!({"targetId": "not-a-sid", "signal": {"type": "offer", "sdp": ""}}).into(),
        ),
        ("join_room", json!([1, 2]).into()),
    ];
    let n = bad.len();
    for (ev, payload) in bad {
        a.emit_payload(ev, payload).await;
        let (err, event) = a.next_error().await;
        assert_eq!((err.as_str(), event.as_str()), ("bad_request", ev), "{ev}");
    }
    let ack = a.ack("create_room", json!("x")).await;
    assert_eq!(ack["error"], "bad_request");
    // Still connected, still in the room, B saw none of it.
    a.emit("relay", json!({"targetId": b.id, "data": data(42)}))
        .await;
    assert_eq!(
        b.next_any().await,
        (
            "relay".to_owned(),
            json!({"userId": a.id, "data": data(42)})
        )
    );
    let metrics = srv.get("/metrics").await;
    assert!(
        metrics.contains(&format!(
            "arena_rejections_total{{reason=\"bad_request\"}} {}\n",
            n + 1
        )),
        "{metrics}"
    );
    srv.stop().await.unwrap();
}

/// As with socket.io's `io.to(id)`, a signal may target its sender: clients
/// of core-only servers use it to learn their own id. A relay may not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signal_to_oneself_comes_back_a_relay_does_not() {
    let srv = start(Config::default()).await;
    let mut a = connect(&srv.url).await;
    let code = create_room(&a).await;
    a.join(&code).await;
    let probe = json!({"candidate": {"candidate": "", "sdpMid": "0", "usernameFragment": "p"}});
    a.emit("signal", json!({"targetId": a.id, "signal": probe}))
        .await;
    assert_eq!(
        a.next("signal").await,
        json!({"userId": a.id, "signal": probe})
    );
    a.emit("relay", json!({"targetId": a.id, "data": data(1)}))
        .await;
    assert_eq!(a.next_error().await.0, "not_found");
    srv.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_and_metrics() {
    let srv = start(Config::default()).await;
    assert_eq!(srv.get("/healthz").await, "ok");
    let (mut a, mut b) = (connect(&srv.url).await, connect(&srv.url).await);
    let code = create_room(&a).await;
    a.join(&code).await;
    b.join(&code).await;
    a.emit("relay", json!({"targetId": b.id, "data": "AAAA"}))
        .await;
    b.next("relay").await;
    let m = srv.get("/metrics").await;
    for line in [
        "arena_connections 2\n",
        "arena_rooms 1\n",
        "arena_rooms_created_total 1\n",
        "arena_joins_total{result=\"ok\"} 2\n",
        "arena_relayed_messages_total{event=\"relay\"} 1\n",
        "arena_relayed_bytes_total{event=\"relay\"} 4\n",
        "arena_rejections_total{reason=\"full\"} 0\n",
    ] {
        assert!(m.contains(line), "missing {line:?} in\n{m}");
    }
    srv.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn core_only_mode_serves_just_the_six_core_events() {
    let config = Config {
        core_only: true,
        ..Config::default()
    };
    let srv = start(config).await;
    let (mut a, mut b) = (connect(&srv.url).await, connect(&srv.url).await);
    let mut hello = a.ack_later("hello", json!({"v": 1})).await;
    let mut create = a.ack_later("create_room", json!({})).await;
    // Any non-empty room id, no ack needed.
    a.emit("join_room", json!({"roomId": "my room"})).await;
    let ru = a.next("room_users").await;
    a.id = ru["users"][0].as_str().unwrap().to_owned();
    b.emit("join_room", json!({"roomId": "my room"})).await;
    let ru = b.next("room_users").await;
    b.id = ru["users"][1].as_str().unwrap().to_owned();
    assert_eq!(a.next("user_joined").await, json!({"userId": b.id}));
    b.emit(
        "signal",
        json!({"targetId": a.id, "signal": {"type": "offer", "sdp": "x"}}),
    )
    .await;
    assert_eq!(a.next("signal").await["userId"], b.id.as_str());
    // relay is an extension: not served. The broadcast marker arrives first.
    b.emit("relay", json!({"targetId": a.id, "data": data(1)}))
        .await;
    b.emit("broadcast", json!({"data": data(2)})).await;
    assert_eq!(
        a.next_any().await,
        (
            "broadcast".to_owned(),
            json!({"userId": b.id, "data": data(2)})
        )
    );
    assert!(
        hello.try_recv().is_err(),
        "hello must not be answered in core-only mode"
    );
    assert!(
        create.try_recv().is_err(),
        "create_room must not be answered in core-only mode"
    );
    let b_id = b.id.clone();
    b.disconnect().await;
    assert_eq!(a.next("user_left").await["userId"], b_id.as_str());
    srv.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_disconnects_clients_and_returns() {
    let srv = start(Config::default()).await;
    let mut a = connect(&srv.url).await;
    let code = create_room(&a).await;
    a.join(&code).await;
    tokio::time::timeout(WAIT, srv.stop())
        .await
        .expect("run did not return")
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_joins_are_throttled_per_ip_across_connections() {
    let mut config = Config::default();
    config.limits.failed_joins_per_minute = 100;
    config.limits.failed_joins_per_hour_per_ip = 2;
    let srv = start(config).await;
    let a = connect(&srv.url).await;
    let code = create_room(&a).await;
    let g1 = connect(&srv.url).await;
    for guess in ["00000000", "00000001"] {
        assert_eq!(
            g1.ack("join_room", json!({"roomId": guess})).await["error"],
            "not_found"
        );
    }
    // A fresh connection from the same address inherits the spent budget.
    let g2 = connect(&srv.url).await;
    assert_eq!(
        g2.ack("join_room", json!({"roomId": code})).await["error"],
        "rate_limited"
    );
    srv.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_allows_only_configured_origins() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let config = Config {
        cors_origins: vec!["https://good.example".into()],
        ..Config::default()
    };
    let srv = start(config).await;
    let head = |origin: &'static str| {
        let addr = srv.addr;
        async move {
            let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
            let req = format!(
                "GET /healthz HTTP/1.1\r\nHost: t\r\nOrigin: {origin}\r\nConnection: close\r\n\r\n"
            );
            s.write_all(req.as_bytes()).await.unwrap();
            let mut out = String::new();
            s.read_to_string(&mut out).await.unwrap();
            out.to_ascii_lowercase()
        }
    };
    assert!(
        head("https://good.example")
            .await
            .contains("access-control-allow-origin: https://good.example")
    );
    assert!(
        !head("https://evil.example")
            .await
            .contains("access-control-allow-origin")
    );
    srv.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_rooms_expire_after_the_grace_period() {
    // A zero grace period makes expiry observable without waiting: a room
    // nobody is in is gone at once.
    let mut config = Config::default();
    config.rooms.empty_grace = std::time::Duration::ZERO;
    let srv = start(config).await;
    let a = connect(&srv.url).await;
    let code = create_room(&a).await;
    assert_eq!(
        a.ack("join_room", json!({"roomId": code})).await["error"],
        "not_found"
    );
    srv.stop().await.unwrap();

    // With the default grace period the room survives being left empty.
    let srv = start(Config::default()).await;
    let mut a = connect(&srv.url).await;
    let code = create_room(&a).await;
    a.join(&code).await;
    assert_eq!(a.ack("leave_room", json!({})).await, json!({"left": true}));
    assert!(
        a.ack("join_room", json!({"roomId": code}))
            .await
            .get("error")
            .is_none()
    );
    srv.stop().await.unwrap();
}
