//! The `arena-server` binary: honours `PORT`, prints `listening on HOST:PORT`
//! with the real port, serves `/healthz`, and exits cleanly on SIGTERM.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_prints_its_port_and_stops_on_sigterm() {
    stops_on("-TERM").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_stops_on_sigint() {
    stops_on("-INT").await;
}

async fn stops_on(signal: &str) {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_arena-server"))
        .args(["--host", "127.0.0.1"])
        .env("PORT", "0")
        // No fixed ports on the test machine: STUN off (tests/stun.rs covers it).
        .env("ARENA_STUN_PORT", "0")
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
        .await
        .expect("no output")
        .unwrap()
        .expect("exited early");
    let addr: std::net::SocketAddr = line
        .strip_prefix("listening on ")
        .and_then(|rest| rest.split_whitespace().next())
        .expect(&line)
        .parse()
        .unwrap();
    assert_ne!(addr.port(), 0);

    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut body = String::new();
    s.read_to_string(&mut body).await.unwrap();
    assert!(
        body.starts_with("HTTP/1.1 200") && body.ends_with("ok"),
        "{body}"
    );

    let pid = child.id().unwrap().to_string();
    let killed = tokio::process::Command::new("kill")
        .args([signal, &pid])
        .status()
        .await
        .unwrap();
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("no exit after the signal")
        .unwrap();
    assert!(status.success(), "{status}");
}
