//! The Socket.IO signaling client (rust_socketio, async).
//!
//! It owns the connection to the server: connecting (and rust_socketio's
//! reconnection with backoff), the request/ack events (`hello`,
//! `create_room`, `join_room`, `leave_room`), and one ordered outbox for
//! fire-and-forget emits (`signal`, `relay`, `broadcast`) so the net driver
//! never waits on the socket. Every server event is parsed into a typed
//! [`Inbound`] and sent to the driver's channel; malformed ones are reported
//! as [`Inbound::Malformed`] and never panic. It keeps no room or peer state:
//! the driver does.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use arena_server::protocol::{
    BroadcastRequest, CreateRoomAck, HelloAck, JoinRoomAck, RelayRequest, SignalRequest, events,
};
use futures_util::FutureExt;
use rust_socketio::asynchronous::{Client, ClientBuilder, ReconnectSettings};
use rust_socketio::{Event, Payload, TransportType};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

use super::wire::{self, parse_reply};

/// How long a request event waits for its ack.
pub const ACK_TIMEOUT: Duration = Duration::from_secs(5);

/// Most fire-and-forget emits queued before new ones are dropped (and counted).
const OUTBOX_CAP: usize = 4096;

pub use super::core::{RequestError, ServerEvent as Inbound};
/// Where Socket.IO answers for a server URL (one rule for both shells).
pub use super::sio::socketio_url;

enum Emit {
    Signal(SignalRequest),
    Relay(RelayRequest),
    Broadcast(BroadcastRequest),
}

/// A connected signaling client. Cheap to clone.
#[derive(Clone)]
pub struct Signaling {
    client: Client,
    outbox: mpsc::Sender<Emit>,
    queued: Arc<AtomicUsize>,
}

impl Signaling {
    /// Connects to `url` and waits for the namespace ack. Events go to `tx`.
    /// rust_socketio reconnects by itself after a loss (backoff 250 ms–5 s);
    /// each reconnection is reported as [`Inbound::Connected`] again.
    pub async fn connect(
        url: &str,
        tx: mpsc::UnboundedSender<Inbound>,
        timeout: Duration,
    ) -> Result<Signaling, String> {
        let (ready_tx, ready_rx) = oneshot::channel::<()>();
        let ready_tx = std::sync::Mutex::new(Some(ready_tx));
        let on_connect = {
            let tx = tx.clone();
            move |_p: Payload, _c: Client| {
                if let Some(r) = ready_tx.lock().ok().and_then(|mut g| g.take()) {
                    let _ = r.send(());
                }
                let _ = tx.send(Inbound::Connected);
                async {}.boxed()
            }
        };
        let on_close = {
            let tx = tx.clone();
            move |p: Payload, _c: Client| {
                let _ = tx.send(Inbound::Disconnected(describe(&p)));
                async {}.boxed()
            }
        };
        let on_error = {
            let tx = tx.clone();
            move |p: Payload, _c: Client| {
                let _ = tx.send(Inbound::Disconnected(describe(&p)));
                async {}.boxed()
            }
        };
        // rust_socketio reports no event when the transport drops: it goes
        // straight to reconnecting. Its reconnect hook (called before every
        // attempt) is how we learn the connection was lost.
        let on_reconnect = {
            let tx = tx.clone();
            move || {
                let _ = tx.send(Inbound::Disconnected("connection lost".into()));
                async { ReconnectSettings::new() }.boxed()
            }
        };
        let on_any = move |ev: Event, p: Payload, _c: Client| {
            if let Event::Custom(name) = ev {
                let _ = tx.send(parse_event(&name, p));
            }
            async {}.boxed()
        };
        // WebSocket only: no polling handshake first (one round trip less to
        // connect), and every request of a session is one connection, so a
        // load balancer in front of several nodes needs no sticky sessions.
        let connect = ClientBuilder::new(socketio_url(url))
            .transport_type(TransportType::Websocket)
            .reconnect(true)
            .reconnect_on_disconnect(true)
            .reconnect_delay(250, 5000)
            .max_reconnect_attempts(u8::MAX)
            .on(Event::Connect, on_connect)
            .on(Event::Close, on_close)
            .on(Event::Error, on_error)
            .on_any(on_any)
            .on_reconnect(on_reconnect)
            .connect();
        let client = match tokio::time::timeout(timeout, connect).await {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => return Err(connect_error(&e)),
            Err(_) => return Err(format!("no answer within {} s", timeout.as_secs())),
        };
        // connect() returns before the namespace ack: wait for Event::Connect.
        if tokio::time::timeout(timeout, ready_rx).await.is_err() {
            let _ = client.disconnect().await;
            return Err("the server did not accept the Socket.IO connection".into());
        }
        let (outbox, rx) = mpsc::channel(OUTBOX_CAP);
        let queued = Arc::new(AtomicUsize::new(0));
        tokio::spawn(run_outbox(client.clone(), rx, queued.clone()));
        Ok(Signaling {
            client,
            outbox,
            queued,
        })
    }

    /// `hello`: `Ok(None)` when the server does not answer within `wait`
    /// (a core-only server).
    pub async fn hello(&self, name: &str, wait: Duration) -> Result<Option<HelloAck>, String> {
        match self.request(events::HELLO, wire::hello(name), wait).await {
            Ok(v) => serde_json::from_value(v)
                .map(Some)
                .map_err(|e| e.to_string()),
            Err(RequestError::Timeout) => Ok(None),
            Err(e) => Err(e.to_string()),
        }
    }

    /// `create_room`: the new room's code.
    pub async fn create_room(&self, token: Option<String>) -> Result<String, RequestError> {
        let req = wire::create_room(token);
        let v = self.request(events::CREATE_ROOM, req, ACK_TIMEOUT).await?;
        parse_reply::<CreateRoomAck>(v).map(|a| a.room_id)
    }

    /// `join_room` with an ack (extension servers).
    pub async fn join_room(&self, code: &str, rejoin: bool) -> Result<JoinRoomAck, RequestError> {
        let req = wire::join_room(code, rejoin);
        let v = self.request(events::JOIN_ROOM, req, ACK_TIMEOUT).await?;
        parse_reply(v)
    }

    /// `join_room` without an ack (core servers answer with `room_users` only).
    pub async fn join_room_core(&self, code: &str) -> Result<(), RequestError> {
        self.client
            .emit(events::JOIN_ROOM, wire::join_room(code, false))
            .await
            .map_err(|e| RequestError::Send(e.to_string()))
    }

    /// `leave_room` with its ack, waiting for it at most `wait` (core
    /// servers ignore the event and never answer). The server handles each
    /// event in a task of its own, so a `join_room` sent before the ack can
    /// be handled first and then undone by the leave: the next join waits
    /// for this.
    pub async fn leave_room(&self, wait: Duration) {
        if let Err(e) = self.request(events::LEAVE_ROOM, json!({}), wait).await {
            tracing::debug!("leave_room not acknowledged: {e}");
        }
    }

    /// Queues a `signal` to `to`. Returns `false` if the outbox is full.
    pub fn signal(&self, to: &str, signal: Value) -> bool {
        self.push(Emit::Signal(wire::signal(to, signal)))
    }

    /// Queues a `relay` of one game message to `to`.
    pub fn relay(&self, to: &str, bytes: &[u8]) -> bool {
        self.push(Emit::Relay(wire::relay(to, bytes)))
    }

    /// Queues a `broadcast` of one game message to the whole room.
    pub fn broadcast(&self, bytes: &[u8]) -> bool {
        self.push(Emit::Broadcast(wire::broadcast(bytes)))
    }

    /// Emits waiting in the outbox (a congestion signal for the relay route).
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }

    /// Closes the connection (no reconnection follows).
    pub async fn disconnect(&self) {
        let _ = self.client.disconnect().await;
    }

    fn push(&self, e: Emit) -> bool {
        if self.outbox.try_send(e).is_ok() {
            self.queued.fetch_add(1, Ordering::Relaxed);
            true
        } else {
            false
        }
    }

    /// Emits `event` with an ack and waits for it (at most `wait`).
    async fn request(
        &self,
        event: &str,
        data: Value,
        wait: Duration,
    ) -> Result<Value, RequestError> {
        let (tx, rx) = oneshot::channel::<Payload>();
        let tx = std::sync::Mutex::new(Some(tx));
        let callback = move |p: Payload, _c: Client| {
            if let Some(tx) = tx.lock().ok().and_then(|mut g| g.take()) {
                let _ = tx.send(p);
            }
            async {}.boxed()
        };
        self.client
            .emit_with_ack(event, data, wait, callback)
            .await
            .map_err(|e| RequestError::Send(e.to_string()))?;
        match tokio::time::timeout(wait, rx).await {
            Ok(Ok(p)) => Ok(ack_value(p)),
            _ => Err(RequestError::Timeout),
        }
    }
}

/// Why connecting failed, for the player. rust_socketio's own text is just
/// "EngineIO Error", and reqwest's stops at "error sending request": the
/// cause is at the end of the error's source chain. A certificate OpenSSL
/// (or the platform) refused is said as such, with its reason.
fn connect_error(e: &(dyn std::error::Error + 'static)) -> String {
    let mut chain = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        chain.push(s.to_string());
        source = s.source();
    }
    describe_failure(&chain)
}

/// [`connect_error`]'s wording, from the messages of the error's source
/// chain, outermost first.
fn describe_failure(chain: &[String]) -> String {
    let innermost = chain.last().map_or("", String::as_str);
    let lower = chain.join(": ").to_ascii_lowercase();
    // OpenSSL through native-tls: "...:certificate verify failed:...
    // (unable to get local issuer certificate)", the reason in parentheses
    // on native-tls's message only (OpenSSL's own, the innermost, has none);
    // the platform verifiers (macOS, Windows) say "certificate" and "trust".
    let refused = lower.contains("certificate verify failed")
        || (lower.contains("certificate") && lower.contains("trust"));
    if refused {
        let reason = chain
            .iter()
            .rev()
            .filter(|m| m.contains("certificate verify failed") && m.ends_with(')'))
            .find_map(|m| m.rfind(" (").map(|i| &m[i + 2..m.len() - 1]))
            .unwrap_or(innermost);
        let r = reason.to_ascii_lowercase();
        let hint = if r.contains("issuer") || r.contains("self-signed") || r.contains("self signed")
        {
            " (a server with a private certificate authority needs that CA installed on this \
             machine, or SSL_CERT_FILE pointing at it)"
        } else if r.contains("mismatch") {
            " (it was issued for another name: use that name in the server URL)"
        } else {
            ""
        };
        return format!("the server's TLS certificate is not trusted: {reason}{hint}");
    }
    if lower.contains("ssl routines") || lower.contains("tls error") {
        return format!("the TLS handshake with the server failed: {innermost}");
    }
    innermost.to_owned()
}

async fn run_outbox(client: Client, mut rx: mpsc::Receiver<Emit>, queued: Arc<AtomicUsize>) {
    while let Some(e) = rx.recv().await {
        let r = match &e {
            Emit::Signal(m) => emit(&client, events::SIGNAL, m).await,
            Emit::Relay(m) => emit(&client, events::RELAY, m).await,
            Emit::Broadcast(m) => emit(&client, events::BROADCAST, m).await,
        };
        queued.fetch_sub(1, Ordering::Relaxed);
        if let Err(err) = r {
            tracing::debug!("emit failed: {err}");
        }
    }
}

async fn emit<T: Serialize>(client: &Client, event: &str, msg: &T) -> Result<(), String> {
    let v = serde_json::to_value(msg).map_err(|e| e.to_string())?;
    client.emit(event, v).await.map_err(|e| e.to_string())
}

/// An ack carries the ack arguments; take the first.
fn ack_value(p: Payload) -> Value {
    match first(p) {
        Value::Array(mut a) if !a.is_empty() => a.swap_remove(0),
        other => other,
    }
}

fn first(p: Payload) -> Value {
    match p {
        Payload::Text(mut v) if !v.is_empty() => v.swap_remove(0),
        #[allow(deprecated)]
        Payload::String(s) => serde_json::from_str(&s).unwrap_or(Value::String(s)),
        _ => Value::Null,
    }
}

fn describe(p: &Payload) -> String {
    match p {
        Payload::Text(v) => v.iter().map(Value::to_string).collect::<Vec<_>>().join(" "),
        #[allow(deprecated)]
        Payload::String(s) => s.clone(),
        Payload::Binary(b) => format!("{} bytes", b.len()),
    }
}

/// Parses one server → client event ([`wire::parse_event`] on its first argument).
fn parse_event(name: &str, p: Payload) -> Inbound {
    wire::parse_event(name, first(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(v: Value) -> Payload {
        Payload::Text(vec![v])
    }

    #[test]
    fn parses_every_server_event() {
        assert!(matches!(
            parse_event("room_users", text(json!({"users": ["a", "b"]}))),
            Inbound::RoomUsers(u) if u == ["a", "b"]
        ));
        assert!(matches!(
            parse_event("user_left", text(json!({"userId": "x"}))),
            Inbound::UserLeft(u) if u == "x"
        ));
        assert!(matches!(
            parse_event("relay", text(json!({"userId": "x", "data": "AQID"}))),
            Inbound::Data { from, bytes } if from == "x" && bytes == [1, 2, 3]
        ));
        assert!(matches!(
            parse_event("broadcast", text(json!({"userId": "y", "data": ""}))),
            Inbound::Data { bytes, .. } if bytes.is_empty()
        ));
    }

    #[test]
    fn payloads_that_are_not_one_json_argument_are_malformed() {
        // What each event means is net::wire's (tested there); here, only
        // the step from rust_socketio's payload to its first argument.
        assert!(matches!(
            parse_event("user_left", Payload::Binary(vec![1].into())),
            Inbound::Malformed(_)
        ));
        assert!(matches!(
            parse_event("room_users", Payload::Text(vec![])),
            Inbound::Malformed(_)
        ));
    }

    #[test]
    fn urls_with_a_path_get_the_socketio_endpoint_under_it() {
        for (given, used) in [
            ("http://127.0.0.1:3536", "http://127.0.0.1:3536/socket.io/"),
            (
                "https://arena.example.org/",
                "https://arena.example.org/socket.io/",
            ),
            (
                "https://198.18.0.2:8443",
                "https://198.18.0.2:8443/socket.io/",
            ),
            (
                "https://example.org/arena",
                "https://example.org/arena/socket.io/",
            ),
            (
                "https://example.org/a/b/",
                "https://example.org/a/b/socket.io/",
            ),
            (
                "https://example.org/socket.io",
                "https://example.org/socket.io/",
            ),
            ("http://h/x/socket.io/", "http://h/x/socket.io/"),
            ("http://h/socket.io/?EIO=4", "http://h/socket.io/?EIO=4"),
        ] {
            assert_eq!(socketio_url(given), used, "{given}");
        }
    }

    #[test]
    fn certificate_failures_are_said_plainly() {
        // The chain reqwest gives for OpenSSL's refusal: native-tls's
        // message has the reason, OpenSSL's own (the innermost) does not.
        let openssl = "error:0A000086:SSL routines:tls_post_process_server_certificate:\
                       certificate verify failed:../ssl/statem/statem_clnt.c:1889:";
        let chain = [
            "EngineIO Error".to_owned(),
            "error sending request for url (https://198.18.0.2/socket.io/)".to_owned(),
            format!("{openssl} (unable to get local issuer certificate)"),
            openssl.to_owned(),
        ];
        let text = describe_failure(&chain);
        assert!(
            text.starts_with(
                "the server's TLS certificate is not trusted: unable to get local issuer certificate (a server"
            ),
            "{text}"
        );
        let mismatch = [format!("{openssl} (Hostname mismatch)"), openssl.to_owned()];
        assert!(describe_failure(&mismatch).contains("Hostname mismatch (it was issued for"));
        let other = "error:0A00010B:SSL routines:ssl3_get_record:wrong version number";
        assert_eq!(
            describe_failure(&[other.to_owned()]),
            format!("the TLS handshake with the server failed: {other}")
        );
        let refused = "Connection refused (os error 111)";
        assert_eq!(
            describe_failure(&["EngineIO Error".to_owned(), refused.to_owned()]),
            refused
        );
    }
}
