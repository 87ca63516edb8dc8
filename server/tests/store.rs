//! The room store's contract, run against both stores: the in-memory one
//! (the pure registry) and Redis (a real `redis-server`, one per test). The
//! Redis-only part: two nodes racing for the last seats, a dead node's
//! members reaped once, membership written back after Redis lost it, and
//! clear errors (never a hang) while Redis is down.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/redis.rs"]
mod redis_server;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arena_server::rooms::{RoomError, RoomLimits};
use arena_server::store::redis::{NODE_TTL, RedisStore};
use arena_server::store::{MemoryStore, RoomStore, StoreError};
use redis_server::Redis;
use socketioxide::socket::Sid;

fn limits(capacity: usize, max_rooms: usize) -> RoomLimits {
    RoomLimits {
        capacity,
        empty_grace: Duration::from_millis(300),
        max_rooms,
    }
}

fn dir(test: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("store")
        .join(test)
}

async fn node(redis: &Redis, name: &str, limits: RoomLimits) -> RedisStore {
    let client = arena_server::store::redis::client(&redis.url()).unwrap();
    RedisStore::connect(&client, name.into(), limits)
        .await
        .unwrap()
}

/// Both stores with these limits (memory first); the Redis server must
/// outlive them.
async fn stores(test: &str, l: RoomLimits) -> (Vec<Arc<dyn RoomStore>>, Redis) {
    let redis = Redis::start(&dir(test));
    let r = node(&redis, "n1", l).await;
    (vec![Arc::new(MemoryStore::new(l)), Arc::new(r)], redis)
}

fn now() -> Instant {
    Instant::now()
}

#[tokio::test]
async fn joins_report_users_and_whom_to_notify_in_both_stores() {
    let (stores, _redis) = stores("joins", limits(8, 10)).await;
    for s in stores {
        let (a, b, c) = (Sid::new(), Sid::new(), Sid::new());
        s.create("A", now()).await.unwrap();
        s.create("B", now()).await.unwrap();
        let j = s.join("A", a, false, now()).await.unwrap();
        assert_eq!((j.users, j.notify, j.left), (vec![a], vec![], None));
        let j = s.join("A", b, false, now()).await.unwrap();
        assert_eq!((j.users, j.notify), (vec![a, b], vec![a]));
        // Joining the room one is in again changes nothing and tells nobody.
        let j = s.join("A", b, false, now()).await.unwrap();
        assert_eq!((j.users, j.notify), (vec![a, b], vec![]));
        assert_eq!(s.room_of(b).await.unwrap().as_deref(), Some("A"));
        assert_eq!(s.members("A").await.unwrap(), vec![a, b]);
        // Moving rooms reports the room left and whom to tell there.
        s.join("B", c, false, now()).await.unwrap();
        let j = s.join("B", b, false, now()).await.unwrap();
        assert_eq!(j.notify, vec![c]);
        let left = j.left.unwrap();
        assert_eq!((left.room.as_str(), left.notify), ("A", vec![a]));
        let left = s.leave(a, now()).await.unwrap().unwrap();
        assert_eq!((left.room.as_str(), left.notify), ("A", vec![]));
        assert_eq!(s.leave(a, now()).await.unwrap(), None);
        assert_eq!(s.room_of(a).await.unwrap(), None);
    }
}

#[tokio::test]
async fn codes_are_unique_unknown_rooms_not_found_and_the_room_limit_holds() {
    let (stores, _redis) = stores("codes", limits(8, 2)).await;
    for s in stores {
        let u = Sid::new();
        let e = s.join("X", u, false, now()).await.unwrap_err();
        assert_eq!(e, StoreError::Room(RoomError::NotFound));
        s.create("A", now()).await.unwrap();
        let e = s.create("A", now()).await.unwrap_err();
        assert_eq!(e, StoreError::Room(RoomError::Exists));
        s.create("B", now()).await.unwrap();
        let e = s.create("C", now()).await.unwrap_err();
        assert_eq!(e, StoreError::Room(RoomError::TooManyRooms));
        let e = s.join("C", u, true, now()).await.unwrap_err();
        assert_eq!(e, StoreError::Room(RoomError::TooManyRooms));
        // join with create (core-only, rejoin) makes a room on demand.
        let j = s.join("A", u, true, now()).await.unwrap();
        assert_eq!(j.users, vec![u]);
    }
}

#[tokio::test]
async fn capacity_refuses_the_next_joiner_and_a_failed_join_keeps_the_old_room() {
    let (stores, _redis) = stores("capacity", limits(3, 10)).await;
    for s in stores {
        s.create("A", now()).await.unwrap();
        s.create("B", now()).await.unwrap();
        let users: Vec<Sid> = (0..3).map(|_| Sid::new()).collect();
        for u in &users {
            s.join("A", *u, false, now()).await.unwrap();
        }
        let late = Sid::new();
        s.join("B", late, false, now()).await.unwrap();
        let e = s.join("A", late, false, now()).await.unwrap_err();
        assert_eq!(e, StoreError::Room(RoomError::Full));
        assert_eq!(s.room_of(late).await.unwrap().as_deref(), Some("B"));
        s.leave(users[1], now()).await.unwrap();
        let j = s.join("A", late, false, now()).await.unwrap();
        assert_eq!(j.users, vec![users[0], users[2], late]);
    }
}

#[tokio::test]
async fn empty_rooms_expire_after_the_grace_period_and_occupied_ones_never() {
    let (stores, _redis) = stores("expiry", limits(8, 10)).await;
    for s in stores {
        let u = Sid::new();
        let created = Instant::now();
        s.create("E", now()).await.unwrap();
        s.create("O", now()).await.unwrap();
        s.join("O", u, false, now()).await.unwrap();
        // Poll until the empty room is gone; it must not go before its grace.
        let deadline = created + Duration::from_secs(5);
        loop {
            let swept = s.sweep(now()).await.unwrap();
            if swept.expired > 0 {
                assert!(created.elapsed() >= Duration::from_millis(300));
                assert_eq!(swept.rooms, 1);
                break;
            }
            assert!(Instant::now() < deadline, "the empty room never expired");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let e = s.join("E", Sid::new(), false, now()).await.unwrap_err();
        assert_eq!(e, StoreError::Room(RoomError::NotFound));
        assert_eq!(s.members("O").await.unwrap(), vec![u]);
    }
}

/// Two nodes admit 20 players to one room of 8 at the same moment: exactly
/// 8 get in, whichever node they came through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_racing_for_seats_never_seat_a_ninth() {
    let redis = Redis::start(&dir("race"));
    let l = limits(8, 10);
    let a = Arc::new(node(&redis, "a", l).await);
    let b = Arc::new(node(&redis, "b", l).await);
    for round in 0..5 {
        let room = format!("R{round}");
        a.create(&room, now()).await.unwrap();
        let joins = (0..20).map(|i| {
            let store = if i % 2 == 0 { a.clone() } else { b.clone() };
            let room = room.clone();
            tokio::spawn(async move { store.join(&room, Sid::new(), false, now()).await })
        });
        let results = futures_util::future::join_all(joins).await;
        let ok = results.iter().filter(|r| matches!(r, Ok(Ok(_)))).count();
        let full = results
            .iter()
            .filter(|r| matches!(r, Ok(Err(StoreError::Room(RoomError::Full)))))
            .count();
        assert_eq!((ok, full), (8, 12), "round {round}");
        assert_eq!(a.members(&room).await.unwrap().len(), 8);
    }
}

/// A node whose heartbeat lapsed is named by the others' beats; its members
/// are taken out of their rooms once, by whichever node claims it first.
#[tokio::test]
async fn a_dead_nodes_members_are_reaped_once() {
    let redis = Redis::start(&dir("reap"));
    let l = limits(8, 10);
    let (dead, a, b) = (
        node(&redis, "dead", l).await,
        node(&redis, "a", l).await,
        node(&redis, "b", l).await,
    );
    dead.beat().await.unwrap();
    a.beat().await.unwrap();
    let (x, y, z) = (Sid::new(), Sid::new(), Sid::new());
    a.create("R", now()).await.unwrap();
    dead.join("R", x, false, now()).await.unwrap();
    a.join("R", y, false, now()).await.unwrap();
    dead.join("R", z, false, now()).await.unwrap();
    // Only `a` and `b` keep beating; `dead` stops. Within NODE_TTL + a beat it is named.
    let stopped = Instant::now();
    let found = loop {
        b.beat().await.unwrap();
        let beat = a.beat().await.unwrap();
        if beat.dead.contains(&"dead".to_owned()) {
            break stopped.elapsed();
        }
        assert!(
            stopped.elapsed() < NODE_TTL * 2,
            "the dead node was never named"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(found >= NODE_TTL - Duration::from_millis(300), "{found:?}");
    let reaped = a.reap("dead").await.unwrap();
    let mut users: Vec<Sid> = reaped.iter().map(|r| r.user).collect();
    users.sort();
    let mut want = vec![x, z];
    want.sort();
    assert_eq!(users, want);
    // Each leaving names whom to tell: whoever was still there.
    for r in &reaped {
        assert_eq!(r.left.room, "R");
        assert!(r.left.notify.contains(&y));
    }
    assert!(b.reap("dead").await.unwrap().is_empty(), "reaped twice");
    assert_eq!(a.members("R").await.unwrap(), vec![y]);
    assert!(!a.beat().await.unwrap().dead.contains(&"dead".to_owned()));
}

/// Redis restarts empty: the next beat says so, the node writes its members
/// back, and the room is whole again (a new player joins and sees them).
#[tokio::test]
async fn membership_is_written_back_after_redis_comes_back_empty() {
    let mut redis = Redis::start(&dir("restore"));
    let l = limits(8, 10);
    let a = node(&redis, "a", l).await;
    assert!(
        a.beat().await.unwrap().restore,
        "a new node is not in the live set"
    );
    assert!(!a.beat().await.unwrap().restore);
    let (x, y) = (Sid::new(), Sid::new());
    a.create("R", now()).await.unwrap();
    a.join("R", x, false, now()).await.unwrap();
    a.join("R", y, false, now()).await.unwrap();
    redis.restart();
    // Fails fast while the connection is re-made, then comes back by itself.
    let deadline = Instant::now() + Duration::from_secs(10);
    let beat = loop {
        let asked = Instant::now();
        match a.beat().await {
            Ok(b) => break b,
            Err(StoreError::Unavailable(_)) => {
                assert!(asked.elapsed() < Duration::from_secs(3), "a request hung");
            }
            Err(e) => panic!("{e}"),
        }
        assert!(Instant::now() < deadline, "never reconnected");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(beat.restore);
    assert_eq!(a.restore(&[(x, "R".into()), (y, "R".into())]).await, 0);
    let z = Sid::new();
    let j = a.join("R", z, false, now()).await.unwrap();
    assert_eq!(j.users, vec![x, y, z]);
}

/// While Redis is down every operation fails at once with `Unavailable`
/// (the handlers refuse with a clear error), and works again when it returns.
#[tokio::test]
async fn operations_fail_fast_while_redis_is_down_and_recover() {
    let mut redis = Redis::start(&dir("down"));
    let a = node(&redis, "a", limits(8, 10)).await;
    a.create("R", now()).await.unwrap();
    redis.kill();
    for _ in 0..3 {
        let asked = Instant::now();
        let e = a.create("S", now()).await.unwrap_err();
        assert!(matches!(e, StoreError::Unavailable(_)), "{e:?}");
        let e = a.join("R", Sid::new(), false, now()).await.unwrap_err();
        assert!(matches!(e, StoreError::Unavailable(_)), "{e:?}");
        assert!(
            asked.elapsed() < Duration::from_secs(3),
            "{:?}",
            asked.elapsed()
        );
    }
    redis.restart();
    let deadline = Instant::now() + Duration::from_secs(10);
    while a.create("S", now()).await.is_err() {
        assert!(Instant::now() < deadline, "never recovered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
