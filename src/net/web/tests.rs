//! The browser shell against a scripted page and server: what it asks the
//! page, and what the game hears, for connect, hello, rooms, peers,
//! reconnection and shutdown. The real page and browsers are tested in
//! tests/web.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use glam::Vec2;
use serde_json::{Value, json};

use super::*;
use crate::proto::Bounds;

/// What the shell asked of the page, in order.
#[derive(Debug, Clone, PartialEq)]
enum Call {
    WsOpen(String),
    WsSend(String),
    WsClose,
    PcOpen(u32, bool, Value),
    PcSignal(u32, Value),
    PcSend(u32, Vec<u8>),
    PcClose(u32),
}

#[derive(Default)]
struct Fake {
    calls: Vec<Call>,
    reports: std::collections::VecDeque<Vec<u8>>,
}

impl Page for Fake {
    fn ws_open(&mut self, url: &str) {
        self.calls.push(Call::WsOpen(url.to_owned()));
    }
    fn ws_send(&mut self, frame: &sio::Frame) {
        if let sio::Frame::Text(t) = frame {
            self.calls.push(Call::WsSend(t.clone()));
        }
    }
    fn ws_close(&mut self) {
        self.calls.push(Call::WsClose);
    }
    fn pc_open(&mut self, generation: u32, offerer: bool, config: &str) {
        let config = serde_json::from_str(config).unwrap();
        self.calls.push(Call::PcOpen(generation, offerer, config));
    }
    fn pc_signal(&mut self, generation: u32, signal: &str) {
        let signal = serde_json::from_str(signal).unwrap();
        self.calls.push(Call::PcSignal(generation, signal));
    }
    fn pc_send(&mut self, generation: u32, _channel: super::super::core::Channel, bytes: &[u8]) {
        self.calls.push(Call::PcSend(generation, bytes.to_vec()));
    }
    fn pc_close(&mut self, generation: u32) {
        self.calls.push(Call::PcClose(generation));
    }
    fn pc_queued(&self, _generation: u32) -> usize {
        0
    }
    fn ws_queued(&self) -> usize {
        0
    }
    fn poll(&mut self) -> Option<Vec<u8>> {
        self.reports.pop_front()
    }
}

struct T {
    net: WebNet<Fake>,
    t0: Instant,
    now: Instant,
}

const OPEN: &str =
    r#"0{"sid":"e1","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#;

impl T {
    fn new() -> T {
        let t0 = Instant::now();
        let bounds = Bounds::new(Vec2::ZERO, Vec2::new(1600.0, 1000.0));
        let mut cfg = NetConfig::new("http://game.example:3536", "Ann", bounds);
        cfg.epoch = t0;
        cfg.seed = 7;
        T {
            net: WebNet::new(cfg, 0x55, Fake::default(), t0),
            t0,
            now: t0,
        }
    }

    fn at(&mut self, secs: f64) {
        self.now = self.t0 + Duration::from_secs_f64(secs);
    }

    fn page(&mut self, ev: PageEvent) {
        self.net.handle(ev, self.now);
    }

    fn server(&mut self, text: &str) {
        self.page(PageEvent::WsMessage(sio::Frame::Text(text.to_owned())));
    }

    fn tick(&mut self) {
        self.net.pump(self.now);
    }

    /// The page queues raw reports; the next pump takes them.
    fn report(&mut self, bytes: &[u8]) {
        self.net.page.reports.push_back(bytes.to_vec());
    }

    fn cmd(&mut self, c: NetCommand) {
        self.net.send(c, self.now);
    }

    fn calls(&mut self) -> Vec<Call> {
        std::mem::take(&mut self.net.page.calls)
    }

    /// The events the shell emitted on the WebSocket: (ack id, name, arg).
    fn emits(&mut self) -> Vec<(Option<u64>, String, Value)> {
        self.calls()
            .into_iter()
            .filter_map(|c| match c {
                Call::WsSend(t) => {
                    let rest = t.strip_prefix("42")?;
                    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                    let v: Value = serde_json::from_str(&rest[digits.len()..]).unwrap();
                    Some((digits.parse().ok(), v[0].as_str()?.to_owned(), v[1].clone()))
                }
                _ => None,
            })
            .collect()
    }

    fn events(&mut self) -> Vec<NetEvent> {
        std::iter::from_fn(|| self.net.next_event()).collect()
    }

    /// Connected and greeted as `S1` by an arena-server.
    fn connected() -> T {
        let mut t = T::new();
        t.tick();
        assert_eq!(
            t.calls(),
            [Call::WsOpen(
                "ws://game.example:3536/socket.io/?EIO=4&transport=websocket".into()
            )]
        );
        t.page(PageEvent::WsOpen);
        t.server(OPEN);
        assert_eq!(t.calls(), [Call::WsSend("40".into())]);
        t.server(r#"40{"sid":"S1"}"#);
        let hello = t.emits();
        assert_eq!(hello.len(), 1);
        let (id, name, arg) = &hello[0];
        assert_eq!(
            (name.as_str(), arg),
            ("hello", &json!({"v": 1, "name": "Ann"}))
        );
        let ack = json!([{"server": "arena-server", "version": "0.1.0",
            "features": ["create_room", "relay", "leave_room", "ice_servers"], "id": "S1",
            "iceServers": []}]);
        t.server(&format!("43{}{ack}", id.unwrap()));
        assert!(
            t.events()
                .iter()
                .any(|e| matches!(e, NetEvent::Connected { core_only: false })),
        );
        t
    }
}

#[test]
fn connects_greets_and_creates_then_joins_a_room() {
    let mut t = T::connected();
    t.cmd(NetCommand::CreateRoom);
    let e = t.emits();
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0].1, "create_room");
    t.server(&format!(
        r#"43{}[{{"roomId":"ABCDEFGH"}}]"#,
        e[0].0.unwrap()
    ));
    let e = t.emits();
    assert_eq!(e[0].1, "join_room");
    assert_eq!(e[0].2, json!({"roomId": "ABCDEFGH"}));
    t.server(&format!(
        r#"43{}[{{"users":["S1"],"iceServers":[{{"urls":["stun:game.example:3478"]}}]}}]"#,
        e[0].0.unwrap()
    ));
    assert!(
        t.events().iter().any(
            |e| matches!(e, NetEvent::RoomJoined { code, created: true } if code == "ABCDEFGH")
        )
    );
}

#[test]
fn a_refused_join_is_the_servers_reason() {
    let mut t = T::connected();
    t.cmd(NetCommand::JoinRoom("ZZZZZZZZ".into()));
    let e = t.emits();
    t.server(&format!(
        r#"43{}[{{"error":"not_found","message":"no such room"}}]"#,
        e[0].0.unwrap()
    ));
    assert!(t.events().iter().any(|e| matches!(
        e,
        NetEvent::RoomFailed {
            kind: crate::net::RoomErrorKind::NotFound,
            ..
        }
    )));
}

#[test]
fn an_unanswered_hello_means_a_core_only_server() {
    let mut t = T::new();
    t.tick();
    t.page(PageEvent::WsOpen);
    t.server(OPEN);
    t.server(r#"40{"sid":"S1"}"#);
    t.calls();
    t.at(2.1);
    t.tick();
    assert!(
        t.events()
            .iter()
            .any(|e| matches!(e, NetEvent::Connected { core_only: true }))
    );
}

#[test]
fn an_unreachable_server_is_said_and_retried_by_the_core() {
    let mut t = T::new();
    t.tick();
    t.calls();
    t.page(PageEvent::WsClosed("connection refused".into()));
    assert!(t.calls().contains(&Call::WsClose));
    let ev = t.events();
    assert!(
        ev.iter()
            .any(|e| matches!(e, NetEvent::ServerUnreachable { message } if message.contains("connection refused"))),
        "{ev:?}"
    );
    // The core backs off, then asks for a new socket.
    for i in 1..=40 {
        t.at(f64::from(i) * 0.1);
        t.tick();
    }
    assert!(t.calls().iter().any(|c| matches!(c, Call::WsOpen(_))));
}

#[test]
fn a_lost_connection_reconnects_and_rejoins() {
    let mut t = T::connected();
    t.cmd(NetCommand::JoinRoom("ABCDEFGH".into()));
    let e = t.emits();
    t.server(&format!(
        r#"43{}[{{"users":["S1"],"iceServers":[{{"urls":["stun:game.example:3478"]}}]}}]"#,
        e[0].0.unwrap()
    ));
    t.events();
    t.at(1.0);
    t.page(PageEvent::WsClosed("network changed".into()));
    assert!(
        t.events()
            .iter()
            .any(|e| matches!(e, NetEvent::Disconnected { .. }))
    );
    t.calls();
    t.at(1.2);
    t.tick();
    assert!(t.calls().is_empty(), "not before the 250 ms backoff");
    t.at(1.3);
    t.tick();
    assert!(matches!(t.calls().as_slice(), [Call::WsOpen(_)]));
    t.page(PageEvent::WsOpen);
    t.server(OPEN);
    t.server(r#"40{"sid":"S2"}"#);
    // Back: the core greets again and rejoins its room.
    let mut names: Vec<String> = t.emits().into_iter().map(|e| e.1).collect();
    for _ in 0..10 {
        t.at(t.now.duration_since(t.t0).as_secs_f64() + 0.5);
        t.tick();
        names.extend(t.emits().into_iter().map(|e| e.1));
    }
    assert!(names.contains(&"hello".to_owned()), "{names:?}");
    assert!(names.contains(&"join_room".to_owned()), "{names:?}");
}

#[test]
fn a_peer_is_offered_through_the_page_and_its_signals_flow_both_ways() {
    let mut t = T::connected();
    t.cmd(NetCommand::JoinRoom("ABCDEFGH".into()));
    let e = t.emits();
    t.server(&format!(
        r#"43{}[{{"users":["S1"],"iceServers":[{{"urls":["stun:game.example:3478"]}}]}}]"#,
        e[0].0.unwrap()
    ));
    // S9 joins after us: it offers (the newcomer offers to those in the room).
    t.server(r#"42["user_joined",{"userId":"S9"}]"#);
    let offer = json!({"type": "offer", "sdp": "v=0\r\n"});
    t.server(&format!(
        r#"42["signal",{{"userId":"S9","signal":{offer}}}]"#
    ));
    let calls = t.calls();
    let Some(Call::PcOpen(g, offerer, config)) = calls
        .iter()
        .find(|c| matches!(c, Call::PcOpen(..)))
        .cloned()
    else {
        panic!("no connection opened: {calls:?}");
    };
    assert!(!offerer);
    assert_eq!(config["iceTransportPolicy"], "all");
    assert_eq!(config["iceServers"][0]["urls"][0], "stun:game.example:3478");
    assert!(calls.contains(&Call::PcSignal(g, offer)), "{calls:?}");
    // Our answer and candidates go to S9 as `signal`.
    let answer = json!({"type": "answer", "sdp": "v=0\r\n"});
    let cand = json!({"candidate": {"candidate": "candidate:1 1 udp 1 192.168.1.2 5000 typ host",
        "sdpMid": "0", "sdpMLineIndex": 0}});
    for local in [&answer, &cand] {
        t.page(PageEvent::Peer {
            generation: g,
            report: PeerReport::Signal(local.to_string()),
        });
    }
    let e = t.emits();
    let sent: Vec<&Value> = e
        .iter()
        .filter(|(_, n, a)| n == "signal" && a["targetId"] == "S9")
        .map(|(_, _, a)| &a["signal"])
        .collect();
    assert_eq!(sent, [&answer, &cand], "{e:?}");
    // S9's candidates reach the page.
    let theirs = json!({"candidate": {"candidate": "candidate:2 1 udp 1 192.168.1.3 6000 typ host",
        "sdpMid": "0", "sdpMLineIndex": 0}});
    t.server(&format!(
        r#"42["signal",{{"userId":"S9","signal":{theirs}}}]"#
    ));
    let calls = t.calls();
    assert!(calls.contains(&Call::PcSignal(g, theirs)), "{calls:?}");
    // Open: the core greets the peer on the new connection.
    let open = br#"{"local":"host","localAddr":"192.168.1.2:5000","remote":"host","remoteAddr":"192.168.1.3:6000"}"#;
    let mut report = vec![6];
    report.extend(g.to_le_bytes());
    report.extend(open);
    t.report(&report);
    t.tick();
    assert!(
        t.calls()
            .iter()
            .any(|c| matches!(c, Call::PcSend(x, _) if *x == g)),
        "no hello on the open connection"
    );
    // A failed connection is forgotten: later reports of it are ignored.
    t.page(PageEvent::Peer {
        generation: g,
        report: PeerReport::Failed("ICE failed".into()),
    });
    t.page(PageEvent::Peer {
        generation: g,
        report: PeerReport::Message(vec![1, 2, 3]),
    });
}

#[test]
fn unreadable_page_events_are_counted_and_dropped() {
    let mut t = T::connected();
    for r in [&[][..], &[42, 0, 0, 0, 0][..], &[5, 1, 0, 0, 0, b'x'][..]] {
        t.report(r);
    }
    t.tick();
    assert_eq!(t.net.bad_page_events(), 2);
}

#[test]
fn a_join_after_a_leave_waits_for_the_leave() {
    let mut t = T::connected();
    t.cmd(NetCommand::JoinRoom("ABCDEFGH".into()));
    let e = t.emits();
    t.server(&format!(
        r#"43{}[{{"users":["S1"],"iceServers":[{{"urls":["stun:game.example:3478"]}}]}}]"#,
        e[0].0.unwrap()
    ));
    t.cmd(NetCommand::LeaveRoom);
    t.cmd(NetCommand::JoinRoom("BBBBBBBB".into()));
    let e = t.emits();
    assert_eq!(
        e.iter().map(|e| e.1.as_str()).collect::<Vec<_>>(),
        ["leave_room"]
    );
    t.server(&format!(r#"43{}[{{"left":true}}]"#, e[0].0.unwrap()));
    let e = t.emits();
    assert_eq!(e[0].1, "join_room");
    assert_eq!(e[0].2["roomId"], "BBBBBBBB");
}

#[test]
fn pings_are_left_to_the_page_and_keep_the_session() {
    let mut t = T::connected();
    for s in 1..=6 {
        t.at(f64::from(s) * 20.0);
        t.server("2");
        t.tick();
    }
    assert!(!t.calls().contains(&Call::WsSend("3".into())));
    assert!(
        !t.events()
            .iter()
            .any(|e| matches!(e, NetEvent::Disconnected { .. }))
    );
}

#[test]
fn shutdown_closes_every_connection_and_the_socket() {
    let mut t = T::connected();
    t.cmd(NetCommand::Shutdown);
    t.at(0.3);
    t.tick();
    assert!(t.net.is_finished());
    let calls = t.calls();
    assert_eq!(calls.last(), Some(&Call::WsClose));
    assert!(calls.contains(&Call::WsSend("41".into())), "{calls:?}");
}

#[test]
fn the_handle_pumps_when_the_game_drains_and_says_goodbye_when_dropped() {
    use std::sync::Mutex;
    // The handle's clock is a plain fn: the test moves it by hand.
    static NOW: Mutex<Option<Instant>> = Mutex::new(None);
    fn clock() -> Instant {
        NOW.lock().unwrap().unwrap()
    }
    let t0 = Instant::now();
    *NOW.lock().unwrap() = Some(t0);
    let bounds = Bounds::new(Vec2::ZERO, Vec2::new(1600.0, 1000.0));
    let mut cfg = NetConfig::new("https://arena.example", "Bea", bounds);
    cfg.epoch = t0;
    let h = WebHandle::new(cfg, 0x77, Fake::default(), clock);
    assert_eq!(h.id(), 0x77);
    assert!(h.events().try_recv().is_err());
    {
        let net = h.net().borrow();
        assert_eq!(
            net.page().calls,
            [Call::WsOpen(
                "wss://arena.example/socket.io/?EIO=4&transport=websocket".into()
            )]
        );
    }
    // The page closed the socket: the next drain reports it to the game.
    let mut closed = vec![4, 0, 0, 0, 0];
    closed.extend(b"refused");
    h.net().borrow_mut().page.reports.push_back(closed);
    let ev: Vec<NetEvent> = h.events().try_iter().collect();
    assert!(
        ev.iter()
            .any(|e| matches!(e, NetEvent::ServerUnreachable { .. })),
        "{ev:?}"
    );
    drop(h);
}
