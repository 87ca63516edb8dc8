//! Unit tests of the codec and the client: every packet kind both ways,
//! malformed and oversized input, the client's states and timers in
//! simulated time, and property tests (round trips, arbitrary input).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use proptest::prelude::*;
use serde_json::{Value, json};

use super::engineio::{self, Handshake};
use super::socketio::{self, Decoder, MAX_ATTACHMENTS, Packet, PacketKind};
use super::*;

fn text(s: &str) -> Frame {
    Frame::Text(s.to_owned())
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

fn handshake() -> Handshake {
    Handshake {
        sid: "eio-sid".into(),
        upgrades: vec![],
        ping_interval: Duration::from_millis(25_000),
        ping_timeout: Duration::from_millis(20_000),
        max_payload: 1_000_000,
    }
}

fn open_frame(h: &Handshake) -> Frame {
    engineio::Packet::Open(h.clone()).encode()
}

fn drain(c: &mut Client) -> Vec<Output> {
    std::iter::from_fn(|| c.poll_output()).collect()
}

fn sent(s: &str) -> Output {
    Output::Send(text(s))
}

fn ev(e: Event) -> Output {
    Output::Event(e)
}

/// A client connected to `/` as socket `S` at t = 0.
fn connected() -> Client {
    let mut c = Client::new(ClientConfig::default(), Duration::ZERO).unwrap();
    c.handle_frame(open_frame(&handshake()), Duration::ZERO)
        .unwrap();
    c.handle_frame(text(r#"40{"sid":"S"}"#), Duration::ZERO)
        .unwrap();
    drain(&mut c);
    c
}

fn eio(s: &str) -> Result<engineio::Packet, DecodeError> {
    engineio::Packet::decode(text(s), 1 << 20)
}

// ---- engine.io ----

#[test]
fn engineio_every_packet_type_decodes() {
    let open = eio(
        r#"0{"sid":"abc","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1048576}"#,
    )
    .unwrap();
    assert_eq!(
        open,
        engineio::Packet::Open(Handshake {
            sid: "abc".into(),
            upgrades: vec![],
            ping_interval: secs(25.0),
            ping_timeout: secs(20.0),
            max_payload: 1_048_576,
        })
    );
    assert_eq!(eio("1"), Ok(engineio::Packet::Close));
    assert_eq!(eio("2"), Ok(engineio::Packet::Ping(String::new())));
    assert_eq!(eio("2probe"), Ok(engineio::Packet::Ping("probe".into())));
    assert_eq!(eio("3"), Ok(engineio::Packet::Pong(String::new())));
    assert_eq!(eio("3probe"), Ok(engineio::Packet::Pong("probe".into())));
    assert_eq!(
        eio(r#"42["x"]"#),
        Ok(engineio::Packet::Message(r#"2["x"]"#.into()))
    );
    assert_eq!(eio("4"), Ok(engineio::Packet::Message(String::new())));
    assert_eq!(eio("5"), Ok(engineio::Packet::Upgrade));
    assert_eq!(eio("6"), Ok(engineio::Packet::Noop));
    assert_eq!(
        engineio::Packet::decode(Frame::Binary(vec![0, 0x1e, 255]), 16),
        Ok(engineio::Packet::Binary(vec![0, 0x1e, 255]))
    );
}

#[test]
fn engineio_handshake_defaults_and_refusals() {
    let h = Handshake::parse(r#"{"sid":"a","pingInterval":1,"pingTimeout":2}"#).unwrap();
    assert_eq!(h.max_payload, engineio::DEFAULT_MAX_PAYLOAD);
    assert!(h.upgrades.is_empty());
    let h = Handshake::parse(
        r#"{"sid":"a","upgrades":["websocket"],"pingInterval":1,"pingTimeout":2,"x":3}"#,
    )
    .unwrap();
    assert_eq!(h.upgrades, ["websocket"]);
    for bad in [
        "",
        "nope",
        "[]",
        r#"{"pingInterval":1,"pingTimeout":2}"#,
        r#"{"sid":"","pingInterval":1,"pingTimeout":2}"#,
        r#"{"sid":7,"pingInterval":1,"pingTimeout":2}"#,
        r#"{"sid":"a","pingTimeout":2}"#,
        r#"{"sid":"a","pingInterval":-1,"pingTimeout":2}"#,
        r#"{"sid":"a","pingInterval":1.5,"pingTimeout":2}"#,
        r#"{"sid":"a","pingInterval":"1","pingTimeout":2}"#,
        r#"{"sid":"a","pingInterval":1,"pingTimeout":2,"maxPayload":"big"}"#,
        r#"{"sid":"a","pingInterval":1,"pingTimeout":2,"upgrades":"websocket"}"#,
        r#"{"sid":"a","pingInterval":1,"pingTimeout":2,"upgrades":[1]}"#,
    ] {
        assert!(
            matches!(Handshake::parse(bad), Err(DecodeError::Handshake(_))),
            "{bad}"
        );
        assert!(eio(&format!("0{bad}")).is_err(), "{bad}");
    }
    // Huge but valid numbers do not overflow anything.
    let h = Handshake::parse(&format!(
        r#"{{"sid":"a","pingInterval":{m},"pingTimeout":{m},"maxPayload":{m}}}"#,
        m = u64::MAX
    ))
    .unwrap();
    assert_eq!(Handshake::parse(&h.to_json()), Ok(h));
}

#[test]
fn engineio_malformed_frames_are_errors() {
    assert_eq!(eio(""), Err(DecodeError::Empty));
    assert_eq!(eio("7"), Err(DecodeError::PacketType('7')));
    assert_eq!(eio("x42"), Err(DecodeError::PacketType('x')));
    assert_eq!(eio("é"), Err(DecodeError::PacketType('é')));
    for with_data in ["1x", "5x", "6 "] {
        assert!(matches!(eio(with_data), Err(DecodeError::Payload(_))));
    }
    assert_eq!(
        engineio::Packet::decode(text("4abcdef"), 4),
        Err(DecodeError::TooLarge { len: 7, max: 4 })
    );
    assert_eq!(
        engineio::Packet::decode(Frame::Binary(vec![0; 5]), 4),
        Err(DecodeError::TooLarge { len: 5, max: 4 })
    );
}

#[test]
fn engineio_packets_encode_as_documented() {
    assert_eq!(engineio::Packet::Close.encode(), text("1"));
    assert_eq!(engineio::Packet::Ping(String::new()).encode(), text("2"));
    assert_eq!(
        engineio::Packet::Pong("probe".into()).encode(),
        text("3probe")
    );
    assert_eq!(
        engineio::Packet::Message("2[]".into()).encode(),
        text("42[]")
    );
    assert_eq!(engineio::Packet::Upgrade.encode(), text("5"));
    assert_eq!(engineio::Packet::Noop.encode(), text("6"));
    assert_eq!(
        engineio::Packet::Binary(vec![1]).encode(),
        Frame::Binary(vec![1])
    );
}

// ---- Socket.IO ----

fn sio(s: &str) -> Result<(Packet, usize), DecodeError> {
    Packet::parse(s)
}

#[test]
fn socketio_every_packet_kind_parses() {
    let p = |kind, nsp: &str, id, data| (Packet::new(kind, nsp, id, data), 0);
    assert_eq!(sio("0"), Ok(p(PacketKind::Connect, "/", None, None)));
    assert_eq!(
        sio(r#"0{"token":"t"}"#),
        Ok(p(
            PacketKind::Connect,
            "/",
            None,
            Some(json!({"token": "t"}))
        ))
    );
    assert_eq!(
        sio(r#"0/admin,{"sid":"x"}"#),
        Ok(p(
            PacketKind::Connect,
            "/admin",
            None,
            Some(json!({"sid": "x"}))
        ))
    );
    assert_eq!(sio("1"), Ok(p(PacketKind::Disconnect, "/", None, None)));
    assert_eq!(
        sio("1/admin,"),
        Ok(p(PacketKind::Disconnect, "/admin", None, None))
    );
    // A namespace may end the packet without its comma (socketioxide reads it so).
    assert_eq!(
        sio("1/admin"),
        Ok(p(PacketKind::Disconnect, "/admin", None, None))
    );
    assert_eq!(
        sio(r#"2["signal",{"targetId":"b"}]"#),
        Ok(p(
            PacketKind::Event,
            "/",
            None,
            Some(json!(["signal", {"targetId": "b"}]))
        ))
    );
    assert_eq!(
        sio(r#"2/chat,12["hello"]"#),
        Ok(p(
            PacketKind::Event,
            "/chat",
            Some(12),
            Some(json!(["hello"]))
        ))
    );
    assert_eq!(
        sio(r#"30[{"roomId":"ABCDEFGH"}]"#),
        Ok(p(
            PacketKind::Ack,
            "/",
            Some(0),
            Some(json!([{"roomId": "ABCDEFGH"}]))
        ))
    );
    assert_eq!(
        sio("3/chat,7[]"),
        Ok(p(PacketKind::Ack, "/chat", Some(7), Some(json!([]))))
    );
    assert_eq!(
        sio(r#"4{"message":"Not authorized","data":{"x":1}}"#),
        Ok(p(
            PacketKind::ConnectError,
            "/",
            None,
            Some(json!({"message": "Not authorized", "data": {"x": 1}}))
        ))
    );
    assert_eq!(
        sio(r#"4"Invalid namespace""#),
        Ok(p(
            PacketKind::ConnectError,
            "/",
            None,
            Some(json!("Invalid namespace"))
        ))
    );
    let (b, n) =
        sio(r#"52-["file",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#).unwrap();
    assert_eq!((b.kind, n, b.id), (PacketKind::BinaryEvent, 2, None));
    assert_eq!(b.event_name(), Some("file"));
    let (b, n) = sio(r#"61-/chat,4[{"_placeholder":true,"num":0}]"#).unwrap();
    assert_eq!(
        (b.kind, n, b.nsp.as_str(), b.id),
        (PacketKind::BinaryAck, 1, "/chat", Some(4))
    );
}

#[test]
fn socketio_malformed_packets_are_errors() {
    let deep = format!(r#"2["x",{}1{}]"#, "[".repeat(10_000), "]".repeat(10_000));
    type Expect = fn(&DecodeError) -> bool;
    let cases: &[(&str, Expect)] = &[
        ("", |e| *e == DecodeError::Empty),
        ("7[]", |e| matches!(e, DecodeError::PacketType('7'))),
        ("é", |e| matches!(e, DecodeError::PacketType('é'))),
        ("2", |e| matches!(e, DecodeError::Payload(_))),
        ("2{}", |e| matches!(e, DecodeError::Payload(_))),
        ("2[]", |e| matches!(e, DecodeError::Payload(_))),
        ("2[1]", |e| matches!(e, DecodeError::Payload(_))),
        ("2[null]", |e| matches!(e, DecodeError::Payload(_))),
        ("2\"x\"", |e| matches!(e, DecodeError::Payload(_))),
        ("2[\"x\"", |e| matches!(e, DecodeError::Json(_))),
        ("2[\"x\"]]", |e| matches!(e, DecodeError::Json(_))),
        ("2/chat", |e| matches!(e, DecodeError::Payload(_))),
        ("2/é,[\"é\"", |e| matches!(e, DecodeError::Json(_))),
        ("21é", |e| matches!(e, DecodeError::Json(_))),
        ("3[]", |e| matches!(e, DecodeError::Header(_))),
        ("31", |e| matches!(e, DecodeError::Payload(_))),
        ("31{}", |e| matches!(e, DecodeError::Payload(_))),
        ("399999999999999999999999[]", |e| {
            matches!(e, DecodeError::Header(_))
        }),
        ("0[1]", |e| matches!(e, DecodeError::Payload(_))),
        ("0\"x\"", |e| matches!(e, DecodeError::Payload(_))),
        ("01{}", |e| matches!(e, DecodeError::Header(_))),
        ("1{}", |e| matches!(e, DecodeError::Payload(_))),
        ("11", |e| matches!(e, DecodeError::Header(_))),
        ("4", |e| matches!(e, DecodeError::Payload(_))),
        ("4[]", |e| matches!(e, DecodeError::Payload(_))),
        ("41\"x\"", |e| matches!(e, DecodeError::Header(_))),
        ("5[\"x\"]", |e| matches!(e, DecodeError::Header(_))),
        ("5-[\"x\"]", |e| matches!(e, DecodeError::Header(_))),
        ("51[\"x\"]", |e| matches!(e, DecodeError::Header(_))),
        ("5x-[\"x\"]", |e| matches!(e, DecodeError::Header(_))),
        ("599999999999999999999999-[\"x\"]", |e| {
            matches!(e, DecodeError::Attachments(_))
        }),
        ("565-[\"x\"]", |e| matches!(e, DecodeError::Attachments(_))),
        ("61-[]", |e| matches!(e, DecodeError::Header(_))),
        ("8", |e| matches!(e, DecodeError::PacketType('8'))),
        (&deep, |e| matches!(e, DecodeError::Json(_))),
    ];
    for (input, ok) in cases {
        match sio(input) {
            Err(e) if ok(&e) => {}
            other => panic!("{input:.40}: {other:?}"),
        }
    }
}

#[test]
fn socketio_packets_encode_as_documented() {
    let one = |p: Packet| match p.frames().as_slice() {
        [Frame::Text(t)] => t.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(one(Packet::connect("/", None)), "40");
    assert_eq!(
        one(Packet::connect("/", Some(json!({"token": "t"})))),
        r#"40{"token":"t"}"#
    );
    assert_eq!(one(Packet::connect("/admin", None)), "40/admin,");
    assert_eq!(one(Packet::disconnect("/")), "41");
    assert_eq!(
        one(Packet::event("/", "hello", vec![json!({"v": 1})], Some(0))),
        r#"420["hello",{"v":1}]"#
    );
    assert_eq!(
        one(Packet::event("/chat", "x", vec![], None)),
        r#"42/chat,["x"]"#
    );
    assert_eq!(one(Packet::ack("/", 9, vec![json!(true)])), "439[true]");
    let mut bin = Packet::new(
        PacketKind::BinaryEvent,
        "/",
        Some(3),
        Some(json!(["file", socketio::placeholder_value(0)])),
    );
    bin.attachments = vec![vec![0x1e, 0]];
    assert_eq!(
        bin.frames(),
        vec![
            text(r#"451-3["file",{"_placeholder":true,"num":0}]"#),
            Frame::Binary(vec![0x1e, 0])
        ]
    );
}

#[test]
fn decoder_reassembles_attachments_and_checks_them() {
    let mut d = Decoder::new(100);
    let head = r#"52-["file",{"_placeholder":true,"num":1},{"a":{"_placeholder":true,"num":0}}]"#;
    assert_eq!(d.text(head), Ok(None));
    assert!(d.is_waiting());
    assert_eq!(d.binary(vec![1, 2]), Ok(None));
    let p = d.binary(vec![3]).unwrap().unwrap();
    assert_eq!(p.attachments, vec![vec![1, 2], vec![3]]);
    assert!(!d.is_waiting());

    // No packet waiting.
    assert!(matches!(
        d.binary(vec![1]),
        Err(DecodeError::Attachments(_))
    ));
    // Text while attachments are awaited: both are dropped, the decoder recovers.
    assert_eq!(
        d.text(r#"51-["f",{"_placeholder":true,"num":0}]"#),
        Ok(None)
    );
    assert!(matches!(
        d.text(r#"2["x"]"#),
        Err(DecodeError::Attachments(_))
    ));
    assert!(d.text(r#"2["x"]"#).unwrap().is_some());
    // A placeholder naming no attachment.
    for bad in [
        r#"51-["f",{"_placeholder":true,"num":1}]"#,
        r#"51-["f",{"_placeholder":true,"num":-1}]"#,
        r#"51-["f",{"_placeholder":true,"num":"0"}]"#,
        r#"51-["f",{"_placeholder":true}]"#,
    ] {
        assert_eq!(d.text(bad), Ok(None));
        assert!(
            matches!(d.binary(vec![0]), Err(DecodeError::Attachments(_))),
            "{bad}"
        );
    }
    assert!(matches!(
        d.text(r#"50-["f",{"_placeholder":true,"num":0}]"#),
        Err(DecodeError::Attachments(_))
    ));
    // Only binary packets have placeholders: elsewhere it is plain data.
    assert!(
        d.text(r#"2["f",{"_placeholder":true,"num":5}]"#)
            .unwrap()
            .is_some()
    );
    // Attachments over the byte limit, together.
    assert_eq!(d.text(r#"52-["f"]"#), Ok(None));
    assert_eq!(d.binary(vec![0; 60]), Ok(None));
    assert_eq!(
        d.binary(vec![0; 41]),
        Err(DecodeError::TooLarge { len: 101, max: 100 })
    );
    assert!(!d.is_waiting());
    // The most attachments allowed.
    let head = format!("5{MAX_ATTACHMENTS}-[\"f\"]");
    assert_eq!(d.text(&head), Ok(None));
    for _ in 1..MAX_ATTACHMENTS {
        assert_eq!(d.binary(vec![]), Ok(None));
    }
    assert_eq!(
        d.binary(vec![]).unwrap().unwrap().attachments.len(),
        MAX_ATTACHMENTS
    );
}

#[test]
fn urls_for_the_websocket() {
    for (given, ws) in [
        (
            "http://127.0.0.1:3536",
            "ws://127.0.0.1:3536/socket.io/?EIO=4&transport=websocket",
        ),
        (
            "https://arena.example.org/arena/",
            "wss://arena.example.org/arena/socket.io/?EIO=4&transport=websocket",
        ),
        (
            "wss://h/socket.io",
            "wss://h/socket.io/?EIO=4&transport=websocket",
        ),
        (
            "HTTPS://h/socket.io/?EIO=3&x=1#frag",
            "wss://h/socket.io/?x=1&EIO=4&transport=websocket",
        ),
    ] {
        assert_eq!(websocket_url(given), ws, "{given}");
    }
}

// ---- the client ----

#[test]
fn client_connects_emits_and_gets_acks() {
    let mut c = Client::new(ClientConfig::default(), Duration::ZERO).unwrap();
    assert!(drain(&mut c).is_empty());
    assert_eq!(c.emit("x", vec![]), Err(ClientError::NotConnected));
    c.handle_frame(open_frame(&handshake()), secs(0.1)).unwrap();
    assert_eq!(drain(&mut c), [sent("40")]);
    assert_eq!(c.handshake().map(|h| h.sid.as_str()), Some("eio-sid"));
    assert!(!c.is_connected());
    assert_eq!(
        c.emit_with_ack("hello", vec![], secs(0.1)),
        Err(ClientError::NotConnected)
    );
    c.handle_frame(text(r#"40{"sid":"S1"}"#), secs(0.2))
        .unwrap();
    assert_eq!(drain(&mut c), [ev(Event::Connected { sid: "S1".into() })]);
    assert_eq!(c.sid(), Some("S1"));

    let id = c
        .emit_with_ack("hello", vec![json!({"v": 1, "name": "web"})], secs(0.3))
        .unwrap();
    let next = c
        .emit_with_ack("create_room", vec![json!({})], secs(0.3))
        .unwrap();
    c.emit("signal", vec![json!({"targetId": "b", "signal": {}})])
        .unwrap();
    assert_eq!((id, next), (0, 1));
    assert_eq!(
        drain(&mut c),
        [
            sent(r#"420["hello",{"name":"web","v":1}]"#),
            sent(r#"421["create_room",{}]"#),
            sent(r#"42["signal",{"signal":{},"targetId":"b"}]"#),
        ]
    );
    assert_eq!(c.pending_acks(), 2);
    // Acks may come in any order.
    c.handle_frame(text(r#"431[{"roomId":"ABCDEFGH"}]"#), secs(0.4))
        .unwrap();
    c.handle_frame(text(r#"430[{"id":"S1"}]"#), secs(0.4))
        .unwrap();
    let ack = |id, arg| {
        ev(Event::Ack {
            id,
            result: Ok(Payload {
                args: vec![arg],
                attachments: vec![],
            }),
        })
    };
    assert_eq!(
        drain(&mut c),
        [
            ack(1, json!({"roomId": "ABCDEFGH"})),
            ack(0, json!({"id": "S1"}))
        ]
    );
    // A second ack with the same id is nobody's: dropped.
    c.handle_frame(text(r#"430[{}]"#), secs(0.5)).unwrap();
    assert!(drain(&mut c).is_empty());

    // Server events, with and without an ack wanted.
    c.handle_frame(text(r#"42["room_users",{"users":["S1"]}]"#), secs(0.5))
        .unwrap();
    c.handle_frame(text(r#"425["question",1,"two"]"#), secs(0.5))
        .unwrap();
    assert_eq!(
        drain(&mut c),
        [
            ev(Event::Message {
                name: "room_users".into(),
                payload: Payload {
                    args: vec![json!({"users": ["S1"]})],
                    attachments: vec![],
                },
                ack: None,
            }),
            ev(Event::Message {
                name: "question".into(),
                payload: Payload {
                    args: vec![json!(1), json!("two")],
                    attachments: vec![],
                },
                ack: Some(5),
            }),
        ]
    );
    c.ack(5, vec![json!("answer")]).unwrap();
    assert_eq!(drain(&mut c), [sent(r#"435["answer"]"#)]);
}

#[test]
fn client_sends_auth_and_uses_its_namespace() {
    let cfg = ClientConfig {
        namespace: "/admin".into(),
        auth: Some(json!({"token": "t"})),
        ..ClientConfig::default()
    };
    let mut c = Client::new(cfg, Duration::ZERO).unwrap();
    c.handle_frame(open_frame(&handshake()), Duration::ZERO)
        .unwrap();
    assert_eq!(drain(&mut c), [sent(r#"40/admin,{"token":"t"}"#)]);
    // The default namespace's packets are not ours.
    c.handle_frame(text(r#"40{"sid":"other"}"#), Duration::ZERO)
        .unwrap();
    assert!(drain(&mut c).is_empty());
    c.handle_frame(text(r#"40/admin,{"sid":"A"}"#), Duration::ZERO)
        .unwrap();
    assert_eq!(drain(&mut c), [ev(Event::Connected { sid: "A".into() })]);
    c.handle_frame(text(r#"42["x"]"#), Duration::ZERO).unwrap();
    assert!(drain(&mut c).is_empty());
    c.emit("x", vec![json!(1)]).unwrap();
    c.disconnect();
    assert_eq!(
        drain(&mut c),
        [
            sent(r#"42/admin,["x",1]"#),
            sent("41/admin,"),
            sent("1"),
            Output::Close,
            ev(Event::Disconnected {
                reason: DisconnectReason::ClientDisconnect
            }),
        ]
    );
    assert!(c.is_closed());
    assert_eq!(c.poll_timeout(), None);
}

#[test]
fn client_refuses_bad_config_and_bad_emits() {
    for nsp in ["", "admin", "/a,b"] {
        let cfg = ClientConfig {
            namespace: nsp.into(),
            ..ClientConfig::default()
        };
        assert!(matches!(
            Client::new(cfg, Duration::ZERO),
            Err(ClientError::BadNamespace(_))
        ));
    }
    let cfg = ClientConfig {
        auth: Some(json!("token")),
        ..ClientConfig::default()
    };
    assert_eq!(
        Client::new(cfg, Duration::ZERO).err(),
        Some(ClientError::BadAuth)
    );

    let mut c = connected();
    for name in ["connect", "disconnect", "connect_error"] {
        assert_eq!(
            c.emit(name, vec![]),
            Err(ClientError::ReservedEvent(name.into()))
        );
    }
    // Larger than the server's maxPayload: refused, nothing sent.
    let mut small = Client::new(ClientConfig::default(), Duration::ZERO).unwrap();
    let h = Handshake {
        max_payload: 20,
        ..handshake()
    };
    small.handle_frame(open_frame(&h), Duration::ZERO).unwrap();
    small
        .handle_frame(text(r#"40{"sid":"S"}"#), Duration::ZERO)
        .unwrap();
    drain(&mut small);
    assert_eq!(
        small.emit_with_ack("x", vec![json!("0123456789")], Duration::ZERO),
        Err(ClientError::TooLarge { len: 21, max: 20 })
    );
    assert_eq!(small.pending_acks(), 0);
    small.emit("x", vec![json!("0123456")]).unwrap();
    assert_eq!(drain(&mut small), [sent(r#"42["x","0123456"]"#)]);
}

#[test]
fn client_answers_pings_and_notices_a_silent_server() {
    let mut c = connected();
    // Silent from t = 0: due at pingInterval + pingTimeout = 45 s.
    assert_eq!(c.poll_timeout(), Some(secs(45.0)));
    c.handle_frame(text("2"), secs(25.0)).unwrap();
    c.handle_frame(text("2probe"), secs(25.0)).unwrap();
    assert_eq!(drain(&mut c), [sent("3"), sent("3probe")]);
    assert_eq!(c.poll_timeout(), Some(secs(70.0)));
    let id = c.emit_with_ack("hello", vec![], secs(66.0)).unwrap();
    drain(&mut c);
    assert_eq!(c.poll_timeout(), Some(secs(70.0)));
    c.handle_timeout(secs(69.9));
    assert!(drain(&mut c).is_empty());
    c.handle_timeout(secs(70.0));
    assert_eq!(
        drain(&mut c),
        [
            Output::Close,
            ev(Event::Ack {
                id,
                result: Err(AckError::Disconnected)
            }),
            ev(Event::Disconnected {
                reason: DisconnectReason::PingTimeout
            }),
        ]
    );
    // Frames and timeouts after the end change nothing.
    c.handle_frame(text("2"), secs(71.0)).unwrap();
    c.handle_timeout(secs(200.0));
    assert!(drain(&mut c).is_empty());
    assert_eq!(c.emit("x", vec![]), Err(ClientError::NotConnected));
}

#[test]
fn pings_answered_by_the_page_still_keep_the_session_alive() {
    let cfg = ClientConfig {
        answer_pings: false,
        ..ClientConfig::default()
    };
    let mut c = Client::new(cfg, Duration::ZERO).unwrap();
    c.handle_frame(open_frame(&handshake()), Duration::ZERO)
        .unwrap();
    c.handle_frame(text(r#"40{"sid":"S"}"#), Duration::ZERO)
        .unwrap();
    drain(&mut c);
    // The plugin answered this ping on the WebSocket: no second pong, and
    // the server counts as heard.
    c.handle_frame(text("2"), secs(25.0)).unwrap();
    assert!(drain(&mut c).is_empty());
    assert_eq!(c.poll_timeout(), Some(secs(70.0)));
    c.handle_timeout(secs(69.0));
    assert!(c.is_connected());
}

#[test]
fn client_times_out_acks() {
    let mut c = connected();
    let a = c.emit_with_ack("hello", vec![], secs(1.0)).unwrap();
    let b = c.emit_with_ack("join_room", vec![], secs(2.0)).unwrap();
    drain(&mut c);
    assert_eq!(c.poll_timeout(), Some(secs(6.0)));
    c.handle_timeout(secs(5.9));
    assert!(drain(&mut c).is_empty());
    c.handle_timeout(secs(6.0));
    assert_eq!(
        drain(&mut c),
        [ev(Event::Ack {
            id: a,
            result: Err(AckError::Timeout)
        })]
    );
    // The late ack is dropped; the other still counts.
    c.handle_frame(text("430[1]"), secs(6.5)).unwrap();
    assert!(drain(&mut c).is_empty());
    assert_eq!(c.poll_timeout(), Some(secs(7.0)));
    c.handle_frame(text("431[2]"), secs(6.5)).unwrap();
    assert!(matches!(
        drain(&mut c).as_slice(),
        [Output::Event(Event::Ack { id, result: Ok(_) })] if *id == b
    ));
    assert_eq!(c.poll_timeout(), Some(secs(51.5)));
}

#[test]
fn client_connect_timeouts() {
    // No open packet at all.
    let mut c = Client::new(ClientConfig::default(), secs(1.0)).unwrap();
    assert_eq!(c.poll_timeout(), Some(secs(11.0)));
    c.handle_timeout(secs(11.0));
    assert_eq!(
        drain(&mut c),
        [
            Output::Close,
            ev(Event::Disconnected {
                reason: DisconnectReason::ConnectTimeout
            })
        ]
    );
    // Open, but the namespace never answers: engine.io's close goes first.
    let mut c = Client::new(ClientConfig::default(), Duration::ZERO).unwrap();
    c.handle_frame(open_frame(&handshake()), Duration::ZERO)
        .unwrap();
    c.handle_frame(text("2"), secs(9.0)).unwrap();
    drain(&mut c);
    c.handle_timeout(secs(10.0));
    assert_eq!(
        drain(&mut c),
        [
            sent("1"),
            Output::Close,
            ev(Event::Disconnected {
                reason: DisconnectReason::ConnectTimeout
            })
        ]
    );
}

#[test]
fn client_ends_on_every_kind_of_close() {
    let end = |c: &mut Client| match drain(c).last() {
        Some(Output::Event(Event::Disconnected { reason })) => reason.clone(),
        other => panic!("{other:?}"),
    };
    let mut c = connected();
    c.handle_frame(text("1"), secs(1.0)).unwrap();
    assert_eq!(end(&mut c), DisconnectReason::ServerClose);

    let mut c = connected();
    c.handle_frame(text("41"), secs(1.0)).unwrap();
    assert_eq!(
        drain(&mut c),
        [
            sent("1"),
            Output::Close,
            ev(Event::Disconnected {
                reason: DisconnectReason::ServerDisconnect
            })
        ]
    );

    let mut c = Client::new(ClientConfig::default(), Duration::ZERO).unwrap();
    c.handle_frame(open_frame(&handshake()), Duration::ZERO)
        .unwrap();
    c.handle_frame(
        text(r#"44{"message":"Not authorized","data":{"code":1}}"#),
        Duration::ZERO,
    )
    .unwrap();
    assert_eq!(
        end(&mut c),
        DisconnectReason::Refused {
            message: "Not authorized".into(),
            data: Some(json!({"code": 1}))
        }
    );

    let mut c = Client::new(ClientConfig::default(), Duration::ZERO).unwrap();
    c.handle_frame(open_frame(&handshake()), Duration::ZERO)
        .unwrap();
    c.handle_frame(text(r#"44"Invalid namespace""#), Duration::ZERO)
        .unwrap();
    assert!(matches!(
        end(&mut c),
        DisconnectReason::Refused { message, data: None } if message == "Invalid namespace"
    ));

    let mut c = connected();
    let id = c.emit_with_ack("x", vec![], Duration::ZERO).unwrap();
    drain(&mut c);
    c.transport_closed("reset by peer");
    assert_eq!(
        drain(&mut c),
        [
            ev(Event::Ack {
                id,
                result: Err(AckError::Disconnected)
            }),
            ev(Event::Disconnected {
                reason: DisconnectReason::Transport("reset by peer".into())
            })
        ]
    );
    c.transport_closed("again");
    c.disconnect();
    assert!(drain(&mut c).is_empty());
}

#[test]
fn client_refuses_packets_out_of_place() {
    let mut c = Client::new(ClientConfig::default(), Duration::ZERO).unwrap();
    for early in ["2", r#"42["x"]"#, "1", r#"40{"sid":"S"}"#] {
        assert!(matches!(
            c.handle_frame(text(early), Duration::ZERO),
            Err(DecodeError::Unexpected(_))
        ));
    }
    assert!(matches!(
        c.handle_frame(Frame::Binary(vec![1]), Duration::ZERO),
        Err(DecodeError::Unexpected(_))
    ));
    c.handle_frame(open_frame(&handshake()), Duration::ZERO)
        .unwrap();
    drain(&mut c);
    assert!(matches!(
        c.handle_frame(open_frame(&handshake()), Duration::ZERO),
        Err(DecodeError::Unexpected(_))
    ));
    assert!(matches!(
        c.handle_frame(text(r#"42["x"]"#), Duration::ZERO),
        Err(DecodeError::Unexpected(_))
    ));
    assert!(matches!(
        c.handle_frame(text("40{}"), Duration::ZERO),
        Err(DecodeError::Payload(_))
    ));
    assert!(matches!(
        c.handle_frame(text(r#"40{"sid":""}"#), Duration::ZERO),
        Err(DecodeError::Payload(_))
    ));
    c.handle_frame(text(r#"40{"sid":"S"}"#), Duration::ZERO)
        .unwrap();
    assert!(matches!(
        c.handle_frame(text(r#"40{"sid":"T"}"#), Duration::ZERO),
        Err(DecodeError::Unexpected(_))
    ));
    // Every malformed frame is an error, and the session goes on.
    let huge = format!("42[\"x\",\"{}\"]", "a".repeat(1 << 20));
    for bad in ["", "9", "4", "4x", "42", "42{", "43[]", &huge] {
        assert!(
            c.handle_frame(text(bad), Duration::ZERO).is_err(),
            "{bad:.20}"
        );
    }
    assert!(
        c.handle_frame(Frame::Binary(vec![]), Duration::ZERO)
            .is_err()
    );
    assert_eq!(drain(&mut c), [ev(Event::Connected { sid: "S".into() })]);
    assert_eq!(c.sid(), Some("S"));
    // Pongs, upgrades and noops need nothing.
    for quiet in ["3", "5", "6"] {
        c.handle_frame(text(quiet), Duration::ZERO).unwrap();
    }
    assert!(drain(&mut c).is_empty());
}

#[test]
fn client_takes_binary_events_and_acks() {
    let mut c = connected();
    c.handle_frame(
        text(r#"451-["file",{"name":"a","bytes":{"_placeholder":true,"num":0}}]"#),
        Duration::ZERO,
    )
    .unwrap();
    assert!(drain(&mut c).is_empty());
    c.handle_frame(Frame::Binary(vec![0x1e, 0, 9]), Duration::ZERO)
        .unwrap();
    let out = drain(&mut c);
    let [Output::Event(Event::Message { name, payload, ack })] = out.as_slice() else {
        panic!("{out:?}");
    };
    assert_eq!((name.as_str(), *ack), ("file", None));
    let arg = payload.first().unwrap();
    assert_eq!(payload.attachment(&arg["bytes"]), Some(&[0x1e, 0, 9][..]));
    assert_eq!(payload.attachment(&arg["name"]), None);

    let id = c.emit_with_ack("get", vec![], Duration::ZERO).unwrap();
    drain(&mut c);
    c.handle_frame(
        text(&format!(r#"461-{id}[{{"_placeholder":true,"num":0}}]"#)),
        Duration::ZERO,
    )
    .unwrap();
    c.handle_frame(Frame::Binary(vec![7]), Duration::ZERO)
        .unwrap();
    assert_eq!(
        drain(&mut c),
        [ev(Event::Ack {
            id,
            result: Ok(Payload {
                args: vec![socketio::placeholder_value(0)],
                attachments: vec![vec![7]],
            })
        })]
    );
}

// ---- properties ----

/// JSON that survives a text round trip exactly (no floats: serde_json's
/// default float parsing may change the last bit).
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map(".{0,8}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn object() -> impl Strategy<Value = Value> {
    proptest::collection::btree_map(".{0,8}", json_value(), 0..4)
        .prop_map(|m| Value::Object(m.into_iter().collect()))
}

fn nsp() -> impl Strategy<Value = String> {
    prop_oneof![Just("/".to_owned()), "/[a-zé0-9_/-]{0,10}"]
}

/// Any valid Socket.IO packet, attachments and placeholders included.
fn packet() -> impl Strategy<Value = Packet> {
    let args = || proptest::collection::vec(json_value(), 0..4);
    let name = ".{0,10}";
    prop_oneof![
        (nsp(), proptest::option::of(object())).prop_map(|(n, d)| Packet::new(
            PacketKind::Connect,
            &n,
            None,
            d
        )),
        nsp().prop_map(|n| Packet::disconnect(&n)),
        (nsp(), name, args(), proptest::option::of(any::<u64>()))
            .prop_map(|(n, name, a, id)| Packet::event(&n, &name, a, id)),
        (nsp(), any::<u64>(), args()).prop_map(|(n, id, a)| Packet::ack(&n, id, a)),
        (nsp(), prop_oneof![object(), ".*".prop_map(Value::String)])
            .prop_map(|(n, d)| Packet::new(PacketKind::ConnectError, &n, None, Some(d))),
        (
            nsp(),
            any::<bool>(),
            name,
            args(),
            any::<u64>(),
            proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..20), 1..4),
        )
            .prop_map(|(n, is_event, name, mut a, id, att)| {
                a.extend((0..att.len()).map(socketio::placeholder_value));
                let mut p = if is_event {
                    Packet::event(&n, &name, a, Some(id).filter(|i| i % 2 == 0))
                } else {
                    Packet::ack(&n, id, a)
                };
                p.kind = if is_event {
                    PacketKind::BinaryEvent
                } else {
                    PacketKind::BinaryAck
                };
                p.attachments = att;
                p
            }),
    ]
}

fn eio_packet() -> impl Strategy<Value = engineio::Packet> {
    prop_oneof![
        (".{1,20}", any::<u32>(), any::<u32>(), any::<u64>()).prop_map(|(sid, i, t, m)| {
            engineio::Packet::Open(Handshake {
                sid,
                upgrades: vec!["websocket".into()],
                ping_interval: Duration::from_millis(i.into()),
                ping_timeout: Duration::from_millis(t.into()),
                max_payload: m,
            })
        }),
        Just(engineio::Packet::Close),
        ".*".prop_map(engineio::Packet::Ping),
        ".*".prop_map(engineio::Packet::Pong),
        ".*".prop_map(engineio::Packet::Message),
        proptest::collection::vec(any::<u8>(), 0..64).prop_map(engineio::Packet::Binary),
        Just(engineio::Packet::Upgrade),
        Just(engineio::Packet::Noop),
    ]
}

/// Frames a server could send, right or wrong: protocol-shaped text most of the time.
fn frame() -> impl Strategy<Value = Frame> {
    prop_oneof![
        4 => "[0-6]{1,2}[0-9/,a-z-]{0,6}(\\[|\\{|\")?[\"a-z0-9_:,{}\\[\\]-]{0,30}"
            .prop_map(Frame::Text),
        1 => ".{0,40}".prop_map(Frame::Text),
        1 => packet().prop_map(|p| {
            p.frames().into_iter().next().unwrap_or(Frame::Text(String::new()))
        }),
        1 => proptest::collection::vec(any::<u8>(), 0..16).prop_map(Frame::Binary),
    ]
}

proptest! {
    #[test]
    fn engineio_packets_round_trip(p in eio_packet()) {
        let back = engineio::Packet::decode(p.encode(), usize::MAX);
        prop_assert_eq!(back, Ok(p));
    }

    #[test]
    fn socketio_packets_round_trip(p in packet()) {
        let mut d = Decoder::new(usize::MAX);
        let mut got = None;
        for f in p.encode() {
            let r = match f {
                engineio::Packet::Message(t) => d.text(&t),
                engineio::Packet::Binary(b) => d.binary(b),
                other => panic!("{other:?}"),
            };
            prop_assert!(got.is_none());
            got = r.map_err(|e| TestCaseError::fail(format!("{e}")))?;
        }
        prop_assert_eq!(got, Some(p));
    }

    #[test]
    fn any_text_decodes_or_errs(s in ".{0,64}") {
        let _ = Packet::parse(&s);
        let _ = engineio::Packet::decode(Frame::Text(s), 64 * 4);
    }

    #[test]
    fn any_frames_never_break_the_client(
        frames in proptest::collection::vec((frame(), 0u64..20_000), 0..40),
        open_first in any::<bool>(),
    ) {
        let mut c = Client::new(ClientConfig::default(), Duration::ZERO).unwrap();
        let mut now = Duration::ZERO;
        if open_first {
            c.handle_frame(open_frame(&handshake()), now).unwrap();
            c.handle_frame(text(r#"40{"sid":"S"}"#), now).unwrap();
        }
        let mut ended = 0;
        for (f, step) in frames {
            now += Duration::from_millis(step);
            let _ = c.handle_frame(f, now);
            if c.is_connected() {
                let _ = c.emit_with_ack("x", vec![], now);
            }
            c.handle_timeout(now);
            while let Some(o) = c.poll_output() {
                if matches!(o, Output::Event(Event::Disconnected { .. })) {
                    ended += 1;
                }
            }
            prop_assert_eq!(c.is_closed(), ended == 1);
            prop_assert!(ended <= 1);
            prop_assert!(c.poll_timeout().is_none_or(|t| t > now) || c.is_closed());
        }
        if c.is_closed() {
            prop_assert_eq!(c.pending_acks(), 0);
            prop_assert_eq!(c.poll_timeout(), None);
        }
    }
}
