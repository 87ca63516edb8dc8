//! The pure Socket.IO client (`arena::net::sio`) against the real
//! arena-server on port 0, over a real WebSocket (blocking tungstenite, in
//! the role of the browser shell's raw WebSocket), doing what a browser
//! peer does: handshake, `hello`, create or join a room with its ack, and
//! signal and relay to a native peer (the game's rust_socketio client,
//! `arena::net::signaling::Signaling`) in the same room. The server pings
//! every 100 ms here, so the test also proves the codec's pongs keep the
//! session alive. Nothing waits by sleeping: every step waits for its
//! event with a deadline.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::VecDeque;
use std::io::ErrorKind;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use arena::net::EmbeddedServer;
use arena::net::signaling::{Inbound, Signaling};
use arena::net::sio::{
    Client, ClientConfig, DisconnectReason, Event, Frame, Output, websocket_url,
};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

const WAIT: Duration = Duration::from_secs(10);

fn server(config: arena_server::Config) -> EmbeddedServer {
    let config = arena_server::Config {
        ping_interval: Duration::from_millis(100),
        ping_timeout: Duration::from_millis(2000),
        ..config
    };
    EmbeddedServer::start("127.0.0.1:0".parse().unwrap(), config).expect("start the server")
}

/// A browser peer: the codec driven over a blocking WebSocket.
struct Browser {
    ws: WebSocket<MaybeTlsStream<TcpStream>>,
    client: Client,
    origin: Instant,
    events: VecDeque<Event>,
    /// Engine.io pongs the client sent (each answers a server ping).
    pongs: usize,
    closed: bool,
}

impl Browser {
    fn connect(url: &str, config: ClientConfig) -> Browser {
        Browser::connect_from(url, config, None)
    }

    /// Connects as a page from `origin` would (its `Origin` header).
    fn connect_from(url: &str, config: ClientConfig, origin: Option<&str>) -> Browser {
        use tungstenite::client::IntoClientRequest;
        let mut request = websocket_url(url).into_client_request().unwrap();
        if let Some(o) = origin {
            request.headers_mut().insert("origin", o.parse().unwrap());
        }
        let (ws, _) = tungstenite::connect(request).expect("websocket handshake");
        if let MaybeTlsStream::Plain(tcp) = ws.get_ref() {
            // Reads return at least this often, to run the client's timers.
            tcp.set_read_timeout(Some(Duration::from_millis(20)))
                .unwrap();
        }
        let origin = Instant::now();
        let client = Client::new(config, Duration::ZERO).unwrap();
        let mut b = Browser {
            ws,
            client,
            origin,
            events: VecDeque::new(),
            pongs: 0,
            closed: false,
        };
        match b.wait(|e| matches!(e, Event::Connected { .. })) {
            Event::Connected { sid } => assert_eq!(b.client.sid(), Some(sid.as_str())),
            other => panic!("{other:?}"),
        }
        b
    }

    fn now(&self) -> Duration {
        self.origin.elapsed()
    }

    /// Carries out what the client asked.
    fn flush(&mut self) {
        while let Some(o) = self.client.poll_output() {
            match o {
                Output::Send(Frame::Text(t)) => {
                    if t == "3" {
                        self.pongs += 1;
                    }
                    self.ws.send(Message::text(t)).unwrap();
                }
                Output::Send(Frame::Binary(b)) => self.ws.send(Message::binary(b)).unwrap(),
                Output::Close => {
                    let _ = self.ws.close(None);
                    let _ = self.ws.flush();
                }
                Output::Event(e) => self.events.push_back(e),
            }
        }
    }

    /// Reads one message (or times out after 20 ms) and runs the timers.
    fn pump(&mut self) {
        self.flush();
        if self.closed {
            return;
        }
        let now = self.now();
        match self.ws.read() {
            Ok(Message::Text(t)) => {
                let r = self
                    .client
                    .handle_frame(Frame::Text(t.as_str().to_owned()), now);
                r.unwrap_or_else(|e| panic!("the server sent a frame we refuse: {e}: {t}"));
            }
            Ok(Message::Binary(b)) => {
                self.client
                    .handle_frame(Frame::Binary(b.to_vec()), now)
                    .unwrap();
            }
            Ok(_) => {}
            Err(tungstenite::Error::Io(e))
                if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => {
                self.closed = true;
                self.client.transport_closed(&e.to_string());
            }
        }
        if self.client.poll_timeout().is_some_and(|t| t <= self.now()) {
            let now = self.now();
            self.client.handle_timeout(now);
        }
        self.flush();
    }

    /// Pumps until an event matches `want`; returns it (others stay queued).
    fn wait(&mut self, want: impl Fn(&Event) -> bool) -> Event {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(i) = self.events.iter().position(&want) {
                return self.events.remove(i).unwrap();
            }
            assert!(
                Instant::now() < deadline,
                "timeout; events: {:?}",
                self.events
            );
            self.pump();
        }
    }

    /// The next `name` event's first argument.
    fn next(&mut self, name: &str) -> Value {
        match self.wait(|e| matches!(e, Event::Message { name: n, .. } if n == name)) {
            Event::Message { payload, .. } => payload.first().cloned().unwrap_or(Value::Null),
            other => panic!("{other:?}"),
        }
    }

    /// Emits `name` with an ack and returns the ack's first argument.
    fn request(&mut self, name: &str, arg: Value) -> Value {
        let now = self.now();
        let id = self.client.emit_with_ack(name, vec![arg], now).unwrap();
        match self.wait(|e| matches!(e, Event::Ack { id: i, .. } if *i == id)) {
            Event::Ack {
                result: Ok(payload),
                ..
            } => payload.first().cloned().unwrap_or(Value::Null),
            other => panic!("{name}: {other:?}"),
        }
    }

    fn emit(&mut self, name: &str, arg: Value) {
        self.client.emit(name, vec![arg]).unwrap();
        self.flush();
    }
}

/// The game's native signaling client on its own runtime.
struct Native {
    rt: tokio::runtime::Runtime,
    sig: Signaling,
    rx: mpsc::UnboundedReceiver<Inbound>,
}

impl Native {
    fn connect(url: &str) -> Native {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let (tx, rx) = mpsc::unbounded_channel();
        let sig = rt.block_on(Signaling::connect(url, tx, WAIT)).unwrap();
        Native { rt, sig, rx }
    }

    /// Waits for the first inbound event `pick` accepts.
    fn wait<T>(&mut self, pick: impl Fn(Inbound) -> Option<T>) -> T {
        self.rt.block_on(async {
            tokio::time::timeout(WAIT, async {
                loop {
                    let e = self.rx.recv().await.expect("signaling channel closed");
                    if let Some(t) = pick(e) {
                        return t;
                    }
                }
            })
            .await
            .expect("timeout waiting for a native event")
        })
    }
}

#[test]
fn a_browser_peer_meets_a_native_peer_in_a_room() {
    let srv = server(arena_server::Config::default());
    let mut web = Browser::connect(&srv.url(), ClientConfig::default());
    let h = web.client.handshake().unwrap().clone();
    assert_eq!(h.ping_interval, Duration::from_millis(100));
    assert_eq!(h.ping_timeout, Duration::from_millis(2000));
    assert_eq!(h.max_payload, 1 << 20, "{h:?}");
    let web_id = web.client.sid().unwrap().to_owned();

    let hello = web.request("hello", json!({"v": 1, "name": "web"}));
    assert_eq!(hello["server"], "arena-server", "{hello}");
    assert_eq!(hello["id"], web_id.as_str(), "{hello}");
    assert!(
        hello["features"]
            .as_array()
            .unwrap()
            .contains(&json!("relay"))
    );

    let created = web.request("create_room", json!({}));
    let code = created["roomId"].as_str().expect("room code").to_owned();
    let joined = web.request("join_room", json!({"roomId": code}));
    assert_eq!(joined["users"], json!([web_id]), "{joined}");
    assert!(joined["iceServers"].is_array(), "{joined}");
    assert_eq!(web.next("room_users"), json!({"users": [web_id]}));

    // The native peer joins with its own client (rust_socketio).
    let mut native = Native::connect(&srv.url());
    let native_hello = native
        .rt
        .block_on(native.sig.hello("native", WAIT))
        .unwrap()
        .expect("hello answered");
    let native_id = native_hello.id.expect("own id");
    let ack = native
        .rt
        .block_on(native.sig.join_room(&code, false))
        .unwrap();
    assert_eq!(ack.users, [web_id.clone(), native_id.clone()]);
    assert_eq!(web.next("user_joined"), json!({"userId": native_id}));

    // Signals both ways (the joiner offers, the member answers).
    let offer = json!({"type": "offer", "sdp": "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n"});
    assert!(native.sig.signal(&web_id, offer.clone()));
    assert_eq!(
        web.next("signal"),
        json!({"userId": native_id, "signal": offer})
    );
    let answer = json!({"type": "answer", "sdp": "v=0\r\n"});
    web.emit("signal", json!({"targetId": native_id, "signal": answer}));
    let (from, got) = native.wait(|e| match e {
        Inbound::Signal { from, signal } => Some((from, signal)),
        _ => None,
    });
    assert_eq!((from.as_str(), got), (web_id.as_str(), answer));

    // Game bytes through the server's relay (base64, PROTOCOL.md), both ways.
    assert!(native.sig.relay(&web_id, &[1, 0x1e, 255]));
    assert_eq!(
        web.next("relay"),
        json!({"userId": native_id, "data": "AR7/"})
    );
    web.emit("relay", json!({"targetId": native_id, "data": "AQID"}));
    let (from, bytes) = native.wait(|e| match e {
        Inbound::Data { from, bytes } => Some((from, bytes)),
        _ => None,
    });
    assert_eq!((from.as_str(), bytes), (web_id.as_str(), vec![1, 2, 3]));

    // A refused event without an ack comes back as arena_error; we stay.
    web.emit("relay", json!({"targetId": native_id, "data": "%%%"}));
    let err = web.next("arena_error");
    assert_eq!(
        (&err["error"], &err["event"]),
        (&json!("bad_request"), &json!("relay"))
    );

    // The server pings every 100 ms: a few pongs later we are still there.
    let target = web.pongs + 5;
    let deadline = Instant::now() + WAIT;
    while web.pongs < target {
        assert!(Instant::now() < deadline, "only {} pongs", web.pongs);
        web.pump();
    }
    assert!(web.client.is_connected());
    assert_eq!(web.request("leave_room", json!({})), json!({"left": true}));
    let left = native.wait(|e| match e {
        Inbound::UserLeft(id) => Some(id),
        _ => None,
    });
    assert_eq!(left, web_id);

    web.client.disconnect();
    let e = web.wait(|e| matches!(e, Event::Disconnected { .. }));
    assert_eq!(
        e,
        Event::Disconnected {
            reason: DisconnectReason::ClientDisconnect
        }
    );
    native.rt.block_on(native.sig.disconnect());
}

#[test]
fn two_browser_peers_and_the_connect_auth_token() {
    let srv = server(arena_server::Config {
        create_token: Some("s3cret".into()),
        ..arena_server::Config::default()
    });
    // The token in the CONNECT packet's auth allows create_room without one.
    let with_token = ClientConfig {
        auth: Some(json!({"token": "s3cret"})),
        ..ClientConfig::default()
    };
    let mut a = Browser::connect(&srv.url(), with_token);
    let code = a.request("create_room", json!({}))["roomId"]
        .as_str()
        .expect("created with the connect token")
        .to_owned();
    a.request("join_room", json!({"roomId": code}));

    let mut b = Browser::connect(&srv.url(), ClientConfig::default());
    let refused = b.request("create_room", json!({}));
    assert_eq!(refused["error"], "unauthorized", "{refused}");
    let (a_id, b_id) = (
        a.client.sid().unwrap().to_owned(),
        b.client.sid().unwrap().to_owned(),
    );
    let joined = b.request("join_room", json!({"roomId": code}));
    assert_eq!(joined["users"], json!([a_id, b_id]));
    assert_eq!(a.next("user_joined"), json!({"userId": b_id}));

    let candidate = json!({"candidate": {"candidate": "candidate:1 1 udp 1 127.0.0.1 9 typ host", "sdpMid": "0", "sdpMLineIndex": 0}});
    b.emit("signal", json!({"targetId": a_id, "signal": candidate}));
    assert_eq!(
        a.next("signal"),
        json!({"userId": b_id, "signal": candidate})
    );
    a.emit("broadcast", json!({"data": "BAU="}));
    assert_eq!(b.next("broadcast"), json!({"userId": a_id, "data": "BAU="}));

    // The server drops a socket on close: the other hears user_left.
    b.client.disconnect();
    b.wait(|e| matches!(e, Event::Disconnected { .. }));
    assert_eq!(a.next("user_left"), json!({"userId": b_id}));
}

/// A blocking HTTP/1.1 GET: the status and the whole answer.
fn http_get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, out)
}

/// The embedded server serves the browser build at `/play` like
/// arena-server, and the page's websocket (its `Origin` is the server's own)
/// gets in even with an allowlist of other origins: a browser peer that
/// came by link creates a room.
#[test]
fn the_embedded_server_serves_play_and_its_page_connects() {
    let dir = std::env::temp_dir().join(format!("arena-sio-play-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("index.html"),
        "<!doctype html><title>arena</title>",
    )
    .unwrap();
    std::fs::write(dir.join("arena.wasm"), "\0asm\u{1}\0\0\0").unwrap();
    let srv = server(arena_server::Config {
        cors_origins: vec!["https://elsewhere.example".into()],
        web_root: Some(dir.clone()),
        ..arena_server::Config::default()
    });
    let (status, page) = http_get(srv.addr(), "/play/");
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("<title>arena</title>"));
    let (status, wasm) = http_get(srv.addr(), "/play/arena.wasm");
    assert_eq!(status, 200);
    assert!(
        wasm.to_ascii_lowercase()
            .contains("content-type: application/wasm")
    );

    let own = format!("http://{}", srv.addr());
    let mut page = Browser::connect_from(&srv.url(), ClientConfig::default(), Some(&own));
    let created = page.request("create_room", json!({}));
    assert!(created["roomId"].is_string(), "{created}");
    page.client.disconnect();
    page.flush();
    let _ = std::fs::remove_dir_all(&dir);
}
