//! Test harness: the real server on 127.0.0.1:0 and real rust_socketio clients.
//!
//! Every received event is forwarded into an mpsc channel; tests wait for the
//! event they expect with a timeout (never a sleep) and keep the others.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

pub mod raw;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;

use arena_server::Config;
use futures_util::FutureExt;
use rust_socketio::asynchronous::{Client, ClientBuilder};
use rust_socketio::{Event, Payload};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};

/// How long any expected event may take.
pub const WAIT: Duration = Duration::from_secs(5);

/// A running server.
pub struct Server {
    pub url: String,
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    handle: tokio::task::JoinHandle<std::io::Result<()>>,
}

pub async fn start(config: Config) -> Server {
    start_with_stun(config, false).await
}

/// The server, with its built-in STUN server on two free UDP ports when `stun`.
pub async fn start_with_stun(config: Config, stun: bool) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stun = if stun {
        arena_server::stun::bind(addr.ip(), 0).await.unwrap()
    } else {
        Vec::new()
    };
    let listeners = arena_server::Listeners {
        http: listener,
        stun,
    };
    let (tx, rx) = oneshot::channel::<()>();
    let handle = tokio::spawn(arena_server::serve(listeners, config, async move {
        let _ = rx.await;
    }));
    Server {
        url: format!("http://{addr}"),
        addr,
        stop: Some(tx),
        handle,
    }
}

impl Server {
    /// Signals shutdown and waits for `run` to return.
    pub async fn stop(mut self) -> std::io::Result<()> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        tokio::time::timeout(WAIT, &mut self.handle)
            .await
            .expect("server did not stop")
            .unwrap()
    }

    /// GET `path`: the status code and the body.
    pub async fn get_status(&self, path: &str) -> (u16, String) {
        let (status, out) = http_get(self.addr, path, &[]).await;
        let body = out.split_once("\r\n\r\n").map(|(_, b)| b.to_owned());
        (status, body.unwrap_or_default())
    }

    /// GET `path`, returns the body (the status must be 200).
    pub async fn get(&self, path: &str) -> String {
        let (status, body) = self.get_status(path).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }
}

/// The value of `name` (with its labels) in a `/metrics` text.
pub fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
}

/// An HTTP/1.1 GET of `path` from the server at `addr` with extra `headers`:
/// the status code (0 if none could be read) and the whole answer, headers
/// included.
pub async fn http_get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let extra: String = headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    let req = format!("GET {path} HTTP/1.1\r\nHost: test\r\n{extra}Connection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    tokio::time::timeout(WAIT, s.read_to_string(&mut out))
        .await
        .unwrap()
        .unwrap();
    let status = out
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, out)
}

/// One connected Socket.IO client.
pub struct Peer {
    pub client: Client,
    rx: mpsc::UnboundedReceiver<(String, Value)>,
    pending: VecDeque<(String, Value)>,
    /// Socket id, learnt from the first `room_users`.
    pub id: String,
}

fn first(p: Payload) -> Value {
    match p {
        Payload::Text(mut v) if !v.is_empty() => v.swap_remove(0),
        Payload::Text(_) => Value::Null,
        other => panic!("unexpected payload {other:?}"),
    }
}

/// Ack payloads arrive as the whole argument array: take its first element.
fn ack_first(p: Payload) -> Value {
    match first(p) {
        Value::Array(mut a) if !a.is_empty() => a.swap_remove(0),
        other => other,
    }
}

pub async fn connect(url: &str) -> Peer {
    connect_with(url, None).await
}

pub async fn connect_with(url: &str, auth: Option<Value>) -> Peer {
    let (tx, rx) = mpsc::unbounded_channel();
    let (ctx, mut crx) = mpsc::unbounded_channel::<()>();
    let mut b = ClientBuilder::new(url).reconnect(false);
    if let Some(a) = auth {
        b = b.auth(a);
    }
    let b = b
        .on_any(move |ev: Event, p: Payload, _c: Client| {
            let name = match ev {
                Event::Custom(s) => s,
                other => format!("{other:?}"),
            };
            let _ = tx.send((name, first(p)));
            async {}.boxed()
        })
        .on(Event::Connect, move |_p: Payload, _c: Client| {
            let _ = ctx.send(());
            async {}.boxed()
        });
    let client = b.connect().await.expect("connect");
    // rust_socketio's connect() returns before the namespace ack, so an emit
    // right after it can be lost (docs/DEPENDENCIES.md): wait for the ack.
    tokio::time::timeout(WAIT, crx.recv())
        .await
        .expect("no namespace ack");
    Peer {
        client,
        rx,
        pending: VecDeque::new(),
        id: String::new(),
    }
}

impl Peer {
    pub async fn emit(&self, event: &str, data: Value) {
        self.client.emit(event, data).await.unwrap();
    }

    pub async fn emit_payload(&self, event: &str, data: Payload) {
        self.client.emit(event, data).await.unwrap();
    }

    /// Emits with an ack and returns the ack's first argument.
    pub async fn ack(&self, event: &str, data: Value) -> Value {
        let (tx, rx) = oneshot::channel();
        let tx = std::sync::Mutex::new(Some(tx));
        self.client
            .emit_with_ack(event, data, WAIT, move |p: Payload, _c: Client| {
                if let Some(tx) = tx.lock().unwrap().take() {
                    let _ = tx.send(ack_first(p));
                }
                async {}.boxed()
            })
            .await
            .unwrap();
        tokio::time::timeout(WAIT, rx)
            .await
            .expect("no ack")
            .unwrap()
    }

    /// Emits with an ack, returning a receiver for the ack (which may never come).
    pub async fn ack_later(&self, event: &str, data: Value) -> oneshot::Receiver<Value> {
        let (tx, rx) = oneshot::channel();
        let tx = std::sync::Mutex::new(Some(tx));
        self.client
            .emit_with_ack(event, data, WAIT, move |p: Payload, _c: Client| {
                if let Some(tx) = tx.lock().unwrap().take() {
                    let _ = tx.send(ack_first(p));
                }
                async {}.boxed()
            })
            .await
            .unwrap();
        rx
    }

    /// Waits for the next `event`, keeping other events for later.
    pub async fn next(&mut self, event: &str) -> Value {
        if let Some(i) = self.pending.iter().position(|(e, _)| e == event) {
            return self.pending.remove(i).unwrap().1;
        }
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some((e, v))) if e == event => return v,
                Ok(Some(other)) => self.pending.push_back(other),
                Ok(None) => panic!("client closed while waiting for {event}"),
                Err(_) => panic!("timeout waiting for {event}; got {:?}", self.pending),
            }
        }
    }

    /// The next event of any kind (oldest first).
    pub async fn next_any(&mut self) -> (String, Value) {
        if let Some(e) = self.pending.pop_front() {
            return e;
        }
        match tokio::time::timeout(WAIT, self.rx.recv()).await {
            Ok(Some(e)) => e,
            other => panic!("no event: {other:?}"),
        }
    }

    /// Waits for the next `arena_error` and returns (error, event).
    pub async fn next_error(&mut self) -> (String, String) {
        let v = self.next("arena_error").await;
        assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
        (
            v["error"].as_str().unwrap().to_owned(),
            v["event"].as_str().unwrap().to_owned(),
        )
    }

    /// Joins `code` with an ack; returns the ack. Learns the own id.
    pub async fn join(&mut self, code: &str) -> Value {
        let ack = self
            .ack("join_room", serde_json::json!({ "roomId": code }))
            .await;
        assert!(ack.get("error").is_none(), "join failed: {ack}");
        let ru = self.next("room_users").await;
        assert_eq!(ru["users"], ack["users"]);
        if self.id.is_empty() {
            self.id = ru["users"]
                .as_array()
                .unwrap()
                .last()
                .unwrap()
                .as_str()
                .unwrap()
                .to_owned();
        }
        ack
    }

    pub async fn disconnect(self) {
        self.client.disconnect().await.unwrap();
    }
}

/// Creates a room through `p` and returns its code.
pub async fn create_room(p: &Peer) -> String {
    let ack = p.ack("create_room", serde_json::json!({})).await;
    ack["roomId"]
        .as_str()
        .unwrap_or_else(|| panic!("create failed: {ack}"))
        .to_owned()
}

/// A base64 payload carrying `n`.
pub fn data(n: u32) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(n.to_le_bytes())
}
