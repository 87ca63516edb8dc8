//! Several nodes as one server: real nodes (on 127.0.0.1:0) sharing a real
//! `redis-server`, driven by real Socket.IO clients connected to different
//! nodes. Every event must reach a member on another node exactly once; the
//! capacity holds when nodes admit at once; a node that loses Redis says so
//! and refuses new rooms, and recovers by itself.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[path = "common/redis.rs"]
mod redis_server;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use arena_server::Config;
use common::{Server, connect, create_room, data, start};
use redis_server::Redis;
use serde_json::json;

fn dir(test: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("cluster")
        .join(test)
}

fn node_config(redis: &Redis) -> Config {
    Config {
        redis_url: Some(redis.url()),
        ..Config::default()
    }
}

async fn nodes(redis: &Redis, n: usize) -> Vec<Server> {
    let mut v = Vec::new();
    for _ in 0..n {
        v.push(start(node_config(redis)).await);
    }
    v
}

/// The whole room life with its three members on three nodes: every event
/// reaches the member it is for, once (each check is the receiver's very
/// next event).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_reach_members_on_other_nodes_exactly_once() {
    let redis = Redis::start(&dir("events"));
    let n = nodes(&redis, 3).await;
    let mut a = connect(&n[0].url).await;
    let mut b = connect(&n[1].url).await;
    let mut c = connect(&n[2].url).await;
    let code = create_room(&a).await;
    a.join(&code).await;
    let ack = b.join(&code).await;
    assert_eq!(ack["users"], json!([a.id, b.id]));
    assert_eq!(
        a.next_any().await,
        ("user_joined".into(), json!({"userId": b.id}))
    );
    c.join(&code).await;
    for p in [&mut a, &mut b] {
        assert_eq!(
            p.next_any().await,
            ("user_joined".into(), json!({"userId": c.id}))
        );
    }

    let offer = json!({"type": "offer", "sdp": "v=0\r\n"});
    b.emit("signal", json!({"targetId": a.id, "signal": offer}))
        .await;
    assert_eq!(
        a.next_any().await,
        ("signal".into(), json!({"userId": b.id, "signal": offer}))
    );
    a.emit("relay", json!({"targetId": c.id, "data": data(1)}))
        .await;
    assert_eq!(
        c.next_any().await,
        ("relay".into(), json!({"userId": a.id, "data": data(1)}))
    );
    c.emit("broadcast", json!({"data": data(2)})).await;
    for p in [&mut a, &mut b] {
        assert_eq!(
            p.next_any().await,
            ("broadcast".into(), json!({"userId": c.id, "data": data(2)}))
        );
    }

    // A socket of another node that is not in the room cannot be addressed.
    let mut stranger = connect(&n[1].url).await;
    let other = create_room(&stranger).await;
    stranger.join(&other).await;
    a.emit("relay", json!({"targetId": stranger.id, "data": data(3)}))
        .await;
    assert_eq!(a.next_error().await, ("not_found".into(), "relay".into()));
    stranger
        .emit("signal", json!({"targetId": a.id, "signal": offer}))
        .await;
    assert_eq!(
        stranger.next_error().await,
        ("not_found".into(), "signal".into())
    );

    // Leaving and disconnecting: user_left once, on every node.
    assert_eq!(b.ack("leave_room", json!({})).await, json!({"left": true}));
    for p in [&mut a, &mut c] {
        assert_eq!(
            p.next_any().await,
            ("user_left".into(), json!({"userId": b.id}))
        );
    }
    let cid = c.id.clone();
    c.disconnect().await;
    assert_eq!(
        a.next_any().await,
        ("user_left".into(), json!({"userId": cid}))
    );
    // Nothing else is on its way: a relay round trip comes next.
    b.join(&code).await;
    assert_eq!(
        a.next_any().await,
        ("user_joined".into(), json!({"userId": b.id}))
    );
    b.emit("relay", json!({"targetId": a.id, "data": data(4)}))
        .await;
    assert_eq!(
        a.next_any().await,
        ("relay".into(), json!({"userId": b.id, "data": data(4)}))
    );
    for s in n {
        s.stop().await.unwrap();
    }
}

/// 16 players on two nodes ask for the same room of 8 at once: 8 get in,
/// 8 are told `full`, and the members see exactly the 7 others join.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_admitting_at_once_never_seat_a_ninth_player() {
    let redis = Redis::start(&dir("race"));
    let n = nodes(&redis, 2).await;
    let host = connect(&n[0].url).await;
    let code = create_room(&host).await;
    let mut players = Vec::new();
    for i in 0..16 {
        players.push(connect(&n[i % 2].url).await);
    }
    let asks = players
        .iter()
        .map(|p| p.ack_later("join_room", json!({ "roomId": code })));
    let asks = futures_util::future::join_all(asks).await;
    let mut answers = Vec::new();
    for rx in asks {
        answers.push(
            tokio::time::timeout(common::WAIT, rx)
                .await
                .unwrap()
                .unwrap(),
        );
    }
    let seated = answers.iter().filter(|a| a.get("users").is_some()).count();
    let full = answers.iter().filter(|a| a["error"] == "full").count();
    assert_eq!((seated, full), (8, 8), "{answers:#?}");
    let last = answers
        .iter()
        .filter_map(|a| a["users"].as_array())
        .map(Vec::len)
        .max();
    assert_eq!(last, Some(8));
    for s in n {
        s.stop().await.unwrap();
    }
}

/// Redis goes away: the node says so on /healthz (503) and /metrics, refuses
/// new rooms with `unavailable`, keeps relaying between its own members, and
/// is healthy again by itself once Redis is back, with the room whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_loses_redis_says_so_and_recovers_by_itself() {
    let mut redis = Redis::start(&dir("down"));
    let n = nodes(&redis, 1).await;
    let node = &n[0];
    let mut a = connect(&node.url).await;
    let mut b = connect(&node.url).await;
    let code = create_room(&a).await;
    a.join(&code).await;
    b.join(&code).await;
    a.next("user_joined").await;
    assert_eq!(node.get_status("/healthz").await, (200, "ok".into()));

    redis.kill();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, body) = node.get_status("/healthz").await;
        if status == 503 {
            assert_eq!(body, "redis unavailable");
            break;
        }
        assert!(Instant::now() < deadline, "still healthy without Redis");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(node.get("/metrics").await.contains("arena_redis_up 0\n"));
    let ack = a.ack("create_room", json!({})).await;
    assert_eq!(ack["error"], "unavailable", "{ack}");
    assert!(ack["message"].as_str().unwrap().contains("retry"), "{ack}");
    // Members of this node still reach each other.
    a.emit("relay", json!({"targetId": b.id, "data": data(1)}))
        .await;
    assert_eq!(
        b.next("relay").await,
        json!({"userId": a.id, "data": data(1)})
    );

    redis.restart();
    let deadline = Instant::now() + Duration::from_secs(10);
    while node.get_status("/healthz").await.0 != 200 {
        assert!(Instant::now() < deadline, "never recovered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(node.get("/metrics").await.contains("arena_redis_up 1\n"));
    // The members were written back: a newcomer joins them.
    let deadline = Instant::now() + Duration::from_secs(10);
    let c = connect(&node.url).await;
    let ack = loop {
        let ack = c.ack("join_room", json!({ "roomId": code })).await;
        if ack.get("users").is_some() {
            break ack;
        }
        assert!(Instant::now() < deadline, "room never came back: {ack}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(ack["users"].as_array().unwrap().len(), 3, "{ack}");
    assert!(create_room(&c).await.len() == 8);
    for s in n {
        s.stop().await.unwrap();
    }
}
