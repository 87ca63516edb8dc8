//! A raw engine.io v4 / Socket.IO v5 websocket client (tokio-tungstenite),
//! for what rust_socketio will not do: stay silent on pings, send frames of
//! any size, set handshake headers (`Origin`, `X-Forwarded-For`), flood.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::net::SocketAddr;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::WAIT;

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// One raw Socket.IO connection to the default namespace.
pub struct Raw {
    pub ws: Ws,
    /// The Socket.IO socket id (the `userId` others see).
    pub sid: String,
    /// Answer engine.io pings while reading (`false`: a silent client).
    pub pong: bool,
    next_ack: u64,
}

/// The websocket handshake request to `addr` with extra `headers` (a name
/// given twice is sent as two header lines).
pub fn request(
    addr: SocketAddr,
    headers: &[(&'static str, &str)],
) -> tokio_tungstenite::tungstenite::handshake::client::Request {
    let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
    let mut req = url.into_client_request().unwrap();
    for (k, v) in headers {
        req.headers_mut().append(*k, v.parse().unwrap());
    }
    req
}

/// Connects with extra handshake `headers`; `Err` is the handshake's error
/// (for example an HTTP 403).
pub async fn try_connect(
    addr: SocketAddr,
    headers: &[(&'static str, &str)],
) -> Result<Raw, tokio_tungstenite::tungstenite::Error> {
    let (ws, _) = tokio_tungstenite::connect_async(request(addr, headers)).await?;
    let mut raw = Raw {
        ws,
        sid: String::new(),
        pong: true,
        next_ack: 0,
    };
    let open = raw.recv().await.expect("no engine.io open");
    assert!(open.starts_with('0'), "expected engine.io open, got {open}");
    raw.send("40").await;
    let m = raw.wait_for("40").await.expect("no namespace connect");
    let v: Value = serde_json::from_str(&m[2..]).unwrap();
    raw.sid = v["sid"].as_str().unwrap().to_owned();
    Ok(raw)
}

pub async fn connect(addr: SocketAddr) -> Raw {
    try_connect(addr, &[]).await.unwrap()
}

impl Raw {
    pub async fn send(&mut self, text: &str) {
        self.ws.send(Message::text(text)).await.unwrap();
    }

    /// Emits `event` with `arg`, no ack.
    pub async fn emit(&mut self, event: &str, arg: &Value) {
        let text = format!("42{}", serde_json::json!([event, arg]));
        self.send(&text).await;
    }

    /// The next text message (answering pings when `pong`); `None` once the
    /// server closed the connection.
    pub async fn recv(&mut self) -> Option<String> {
        loop {
            match self.ws.next().await {
                Some(Ok(Message::Text(t))) => {
                    if t.as_str() == "2" && self.pong {
                        self.ws.send(Message::text("3")).await.ok()?;
                        continue;
                    }
                    return Some(t.to_string());
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return None,
                Some(Ok(_)) => continue,
            }
        }
    }

    /// Waits (at most [`WAIT`]) for a message starting with `prefix`; `None`
    /// if the connection closed first.
    pub async fn wait_for(&mut self, prefix: &str) -> Option<String> {
        let mut seen = Vec::new();
        let found = tokio::time::timeout(WAIT, async {
            loop {
                let m = self.recv().await?;
                if m.starts_with(prefix) {
                    return Some(m);
                }
                seen.push(m);
            }
        })
        .await;
        found.unwrap_or_else(|_| panic!("timeout waiting for {prefix}; got {seen:?}"))
    }

    /// The next event named `event`: its first argument.
    pub async fn next(&mut self, event: &str) -> Value {
        let m = self
            .wait_for(&format!("42[\"{event}\""))
            .await
            .unwrap_or_else(|| panic!("closed while waiting for {event}"));
        let v: Value = serde_json::from_str(&m[2..]).unwrap();
        v[1].clone()
    }

    /// Emits with an ack and returns the ack's first argument.
    pub async fn ack(&mut self, event: &str, arg: &Value) -> Value {
        let id = self.next_ack;
        self.next_ack += 1;
        let text = format!("42{id}{}", serde_json::json!([event, arg]));
        self.send(&text).await;
        let m = self
            .wait_for(&format!("43{id}["))
            .await
            .unwrap_or_else(|| panic!("closed while waiting for the {event} ack"));
        let v: Value = serde_json::from_str(&m[2 + id.to_string().len()..]).unwrap();
        v[0].clone()
    }

    pub async fn create_room(&mut self) -> String {
        let ack = self.ack("create_room", &serde_json::json!({})).await;
        ack["roomId"]
            .as_str()
            .unwrap_or_else(|| panic!("create failed: {ack}"))
            .to_owned()
    }

    /// Joins `code` with an ack; returns the ack.
    pub async fn join(&mut self, code: &str) -> Value {
        self.ack("join_room", &serde_json::json!({ "roomId": code }))
            .await
    }

    /// Whether the server has closed the connection: reads until it does (at most [`WAIT`]).
    pub async fn closed(&mut self) -> bool {
        tokio::time::timeout(WAIT, async { while self.recv().await.is_some() {} })
            .await
            .is_ok()
    }
}

/// The server binary as a child process on a free port (its RSS measurable
/// alone); killed on drop.
pub struct Child {
    pub child: tokio::process::Child,
    pub addr: SocketAddr,
    pub pid: u32,
}

pub async fn spawn_binary(args: &[&str]) -> Child {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_arena-server"))
        .args(["--host", "127.0.0.1", "--port", "0", "--stun-port", "0"])
        .args(args)
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let pid = child.id().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(std::time::Duration::from_secs(10), lines.next_line())
        .await
        .expect("no output")
        .unwrap()
        .expect("exited early");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let addr = line
        .strip_prefix("listening on ")
        .and_then(|rest| rest.split_whitespace().next())
        .expect(&line)
        .parse()
        .unwrap();
    Child { child, addr, pid }
}

/// Resident set size of `pid` in KB.
pub fn rss_kb(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap()
}
