//! The signaling client's websocket has Nagle's algorithm off
//! (patches/rust_engineio: TCP_NODELAY on the websocket's TCP stream).
//!
//! With Nagle on, the second of two small frames sent back to back waits in
//! the sender's kernel until the first is acknowledged, and the receiver
//! delays that ACK (40 ms on Linux): a relayed game message sent right after
//! another arrived ~40 ms late. Here player A relays two messages back to
//! back to player B through the real server on loopback, twenty times (B
//! answers each pair, as players' traffic goes both ways), and
//! the median gap between their arrivals at B must be far below the 40 ms of
//! a delayed ACK (it is ~0.1 ms with the patch, ~40 ms without: the test
//! fails without the patch, and no scheduling hiccup makes a median of
//! twenty cross 20 ms).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use arena::net::EmbeddedServer;
use arena::net::signaling::{Inbound, Signaling};
use tokio::sync::mpsc;

const WAIT: Duration = Duration::from_secs(10);

async fn next_data(rx: &mut mpsc::UnboundedReceiver<Inbound>) -> (Vec<u8>, Instant) {
    loop {
        let ev = tokio::time::timeout(WAIT, rx.recv())
            .await
            .expect("no relayed message")
            .expect("channel closed");
        if let Inbound::Data { bytes, .. } = ev {
            return (bytes, Instant::now());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn back_to_back_relays_are_not_held_by_nagle() {
    let srv = EmbeddedServer::start(
        "127.0.0.1:0".parse().unwrap(),
        arena_server::Config::default(),
    )
    .expect("server");
    let url = srv.url();
    let (atx, mut arx) = mpsc::unbounded_channel();
    let (btx, mut brx) = mpsc::unbounded_channel();
    let a = Signaling::connect(&url, atx, WAIT)
        .await
        .expect("a connects");
    let b = Signaling::connect(&url, btx, WAIT)
        .await
        .expect("b connects");
    let a_id = a.hello("a", WAIT).await.unwrap().unwrap().id.unwrap();
    let b_id = b.hello("b", WAIT).await.unwrap().unwrap().id.unwrap();
    let code = a.create_room(None).await.expect("room");
    a.join_room(&code, false).await.expect("a joins");
    b.join_room(&code, false).await.expect("b joins");

    // Warm up (the first frames of a connection are ACKed at once).
    for i in 0..10u8 {
        assert!(a.relay(&b_id, &[i]));
        next_data(&mut brx).await;
        assert!(b.relay(&a_id, &[i]));
        next_data(&mut arx).await;
    }
    let mut gaps = Vec::new();
    for i in 0..20u8 {
        assert!(a.relay(&b_id, &[100, i]));
        assert!(a.relay(&b_id, &[200, i]));
        let (first, t1) = next_data(&mut brx).await;
        let (second, t2) = next_data(&mut brx).await;
        // rust_socketio may hand two events over in either order.
        let mut got = [first, second];
        got.sort();
        assert_eq!(got, [vec![100, i], vec![200, i]]);
        gaps.push(t2 - t1);
        // B answers, as players do: traffic both ways is what makes the
        // server's kernel delay its ACKs to A (interactive mode).
        assert!(b.relay(&a_id, &[i]));
        next_data(&mut arx).await;
    }
    gaps.sort();
    let median = gaps[gaps.len() / 2];
    assert!(
        median < Duration::from_millis(20),
        "the second message waited {median:?} (median of 20; all: {gaps:?}): Nagle's algorithm is on"
    );
    a.disconnect().await;
    b.disconnect().await;
}
