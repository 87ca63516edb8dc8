//! Tests of the wire format: round trips of every variant within the
//! documented quantization error, every rejection reason, angle and sequence
//! wrap, encoder clamping, the state size bound, and property tests that the
//! decoder never panics and that round trips hold for arbitrary inputs.
//!
//! Owns test helpers only; must not be compiled into the game.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::f32::consts::{PI, TAU};

use proptest::prelude::*;

use super::*;

/// The built-in arena.
fn arena() -> Bounds {
    Bounds::new(Vec2::ZERO, Vec2::new(1600.0, 1000.0))
}

/// Bounds covering every position the wire can carry.
fn everywhere() -> Bounds {
    Bounds::new(Vec2::splat(-1.0e6), Vec2::splat(1.0e6))
}

fn state() -> PlayerState {
    PlayerState {
        seq: 4242,
        sent_at: 1234.5678,
        pos: Vec2::new(812.3, 433.9),
        vel: Vec2::new(-212.1, 150.05),
        aim: 1.2345,
        hp: 80,
        alive: true,
        spawn: 3,
        kills: 7,
        deaths: 2,
    }
}

fn round_trip(msg: &Message) -> Message {
    decode(&encode(msg), &arena()).unwrap()
}

/// Encode a private wire value directly, bypassing the encoder's clamping.
fn raw(wire: &Wire<'_>) -> Vec<u8> {
    postcard::to_extend(wire, vec![VERSION]).unwrap()
}

fn raw_state() -> WireState {
    WireState {
        seq: 1,
        sent_ms: 1000,
        pos: WirePos::quantize(Vec2::new(100.0, 100.0)),
        vel: WireVel { x: 0, y: 0 },
        aim: 0,
        hp: 100,
        spawn: 0,
        kills_alive: 1,
        deaths: 0,
    }
}

fn rejected(bytes: &[u8]) -> DecodeError {
    decode(bytes, &arena()).expect_err("should be rejected")
}

/// Shortest angular distance, radians.
fn arc(a: f32, b: f32) -> f32 {
    let d = (a - b).rem_euclid(TAU);
    d.min(TAU - d)
}

/// Position/velocity error bound per axis: half a step plus f32 rounding.
const AXIS_ERR: f32 = POS_STEP / 2.0 + 1e-3;
/// Aim error bound: half a step plus f32 rounding.
const AIM_ERR: f32 = AIM_STEP / 2.0 + 1e-5;
/// `sent_at` error bound: half a millisecond plus f64 rounding.
const TIME_ERR: f64 = 0.0005 + 1e-9;

fn assert_state_close(sent: &PlayerState, got: &PlayerState) {
    assert_eq!(got.seq, sent.seq);
    assert!(
        (got.sent_at - sent.sent_at).abs() <= TIME_ERR,
        "{sent:?} {got:?}"
    );
    assert!(
        (got.pos - sent.pos).abs().max_element() <= AXIS_ERR,
        "{sent:?} {got:?}"
    );
    assert!(
        (got.vel - sent.vel).abs().max_element() <= AXIS_ERR,
        "{sent:?} {got:?}"
    );
    assert!(arc(got.aim, sent.aim) <= AIM_ERR, "{sent:?} {got:?}");
    assert!(
        (-PI..PI).contains(&got.aim),
        "aim {} not in [-pi, pi)",
        got.aim
    );
    assert_eq!(
        (got.hp, got.alive, got.spawn, got.kills, got.deaths),
        (sent.hp, sent.alive, sent.spawn, sent.kills, sent.deaths)
    );
}

// --- round trips -----------------------------------------------------------

#[test]
fn state_round_trips_within_quantization_error() {
    let s = state();
    let Message::State(got) = round_trip(&Message::State(s)) else {
        panic!("not a state");
    };
    assert_state_close(&s, &got);
    let dead = PlayerState {
        alive: false,
        hp: 0,
        kills: u16::MAX,
        deaths: u16::MAX,
        ..s
    };
    let Message::State(got) = round_trip(&Message::State(dead)) else {
        panic!("not a state");
    };
    assert_state_close(&dead, &got);
}

#[test]
fn exact_variants_round_trip_exactly() {
    let msgs = [
        Message::Hello {
            id: 0xDEAD_BEEF_0123_4567,
            name: "Zoë 🚀 the Great".into(),
            color: 5,
        },
        Message::Ack {
            to: 7,
            session: 1,
            upto: 0,
        },
        Message::Ack {
            to: u64::MAX,
            session: u32::MAX,
            upto: u32::MAX,
        },
        Message::Resume {
            to: 3,
            session: 9,
            next: 1,
        },
        Message::Bye,
        Message::Ping {
            nonce: u32::MAX,
            t: 12.345_678_901,
        },
        Message::Pong {
            nonce: 7,
            t_ping: 0.0,
            t_remote: 99_999.000_001,
        },
    ];
    for msg in msgs {
        assert_eq!(round_trip(&msg), msg);
    }
}

#[test]
fn every_event_round_trips() {
    let events = [
        GameEvent::Hit { victim: u64::MAX },
        GameEvent::Killed { victim: 1, by: 2 },
        GameEvent::Chat("gg, well played — ünïcödé ok".into()),
        GameEvent::Chat(String::new()),
    ];
    for (i, event) in events.into_iter().enumerate() {
        let msg = Message::Event {
            to: 42,
            seq: i as u32 + 1,
            event,
        };
        assert_eq!(round_trip(&msg), msg);
    }

    let fire = Message::Event {
        to: 42,
        seq: u32::MAX,
        event: GameEvent::Fire {
            pos: Vec2::new(1599.97, 0.01),
            aim: -2.5,
        },
    };
    let Message::Event {
        to: 42,
        seq: u32::MAX,
        event: GameEvent::Fire { pos, aim },
    } = round_trip(&fire)
    else {
        panic!("not a fire event");
    };
    assert!((pos - Vec2::new(1599.97, 0.01)).abs().max_element() <= AXIS_ERR);
    assert!(arc(aim, -2.5) <= AIM_ERR);
}

/// The retired parts of version 1 (event kind 3, `Hit`'s damage byte) keep
/// every other encoding as it was: byte for byte, `Hit` is still kind 1 with
/// its damage byte, `Chat` still kind 4; a kind-3 event (as old senders
/// wrote `Respawn {pos}`) is rejected, and any non-zero damage is accepted.
#[test]
fn retired_event_parts_keep_the_encoding() {
    let event = |seq: u8, event: GameEvent| {
        encode(&Message::Event {
            to: 42,
            seq: u32::from(seq),
            event,
        })
    };
    // VERSION, Wire::Event (2), `to` fixed u64, `seq` varint, then the event.
    let head = |seq: u8| [vec![VERSION, 2, 42, 0, 0, 0, 0, 0, 0, 0], vec![seq]].concat();
    let hit = [head(5), vec![1, 9, 0, 0, 0, 0, 0, 0, 0, HIT_DAMAGE_BYTE]].concat();
    assert_eq!(event(5, GameEvent::Hit { victim: 9 }), hit);
    let chat = [head(6), vec![4, 2, b'h', b'i']].concat();
    assert_eq!(event(6, GameEvent::Chat("hi".into())), chat);

    let old_hit = [head(5), vec![1, 9, 0, 0, 0, 0, 0, 0, 0, 20]].concat();
    assert_eq!(
        decode(&old_hit, &arena()),
        Ok(Message::Event {
            to: 42,
            seq: 5,
            event: GameEvent::Hit { victim: 9 }
        })
    );
    // Respawn at (80, 920): kind 3, then the position's two varints.
    let respawn = [head(7), vec![3, 0x80, 0x09, 0xC0, 0x3D]].concat();
    assert_eq!(out_of_range(&respawn), "event");
}

#[test]
fn aim_wraps_into_minus_pi_to_pi() {
    let aim_of = |aim: f32| {
        let Message::State(s) = round_trip(&Message::State(PlayerState { aim, ..state() })) else {
            panic!("not a state");
        };
        s.aim
    };
    let wrapped = 3.2 - TAU; // ≈ -3.0832
    assert!((aim_of(3.2) - wrapped).abs() <= AIM_ERR, "{}", aim_of(3.2));
    assert!((aim_of(PI) + PI).abs() <= AIM_ERR);
    assert!((aim_of(-PI) + PI).abs() <= AIM_ERR);
    assert!((aim_of(7.0 * TAU + 1.0) - 1.0).abs() <= 1e-3);
    assert!(arc(aim_of(-100.0), -100.0) <= 1e-3);
    assert!(aim_of(-1e-7).abs() <= AIM_ERR);
    for q in [0u16, 1, 32767, 32768, 65535] {
        assert!((-PI..PI).contains(&dequantize_aim(q)), "{q}");
    }
    assert_eq!(dequantize_aim(32768), -PI);
}

#[test]
fn sequence_numbers_wrap_and_survive() {
    for seq in [0u16, 1, 255, 256, 32767, 32768, u16::MAX] {
        let Message::State(s) = round_trip(&Message::State(PlayerState { seq, ..state() })) else {
            panic!("not a state");
        };
        assert_eq!(s.seq, seq);
    }
    assert_eq!(
        round_trip(&Message::State(PlayerState {
            seq: u16::MAX.wrapping_add(1),
            ..state()
        })),
        round_trip(&Message::State(PlayerState { seq: 0, ..state() }))
    );
    for spawn in [0u8, 255] {
        let Message::State(s) = round_trip(&Message::State(PlayerState { spawn, ..state() }))
        else {
            panic!("not a state");
        };
        assert_eq!(s.spawn, spawn);
    }
}

// --- encoder clamping -----------------------------------------------------------

#[test]
fn encoder_clamps_what_it_cannot_carry() {
    let wild = PlayerState {
        sent_at: f64::NAN,
        pos: Vec2::new(f32::NAN, 500.0),
        vel: Vec2::new(5000.0, 5000.0),
        aim: f32::INFINITY,
        ..state()
    };
    let Message::State(s) = round_trip(&Message::State(wild)) else {
        panic!("not a state");
    };
    assert_eq!(s.sent_at, 0.0);
    assert_eq!(s.pos, Vec2::new(0.0, 500.0));
    assert!((s.vel.length() - MAX_SPEED).abs() <= POS_STEP);
    assert!((s.vel.x - s.vel.y).abs() <= POS_STEP);
    assert_eq!(s.aim, 0.0);

    let below = PlayerState {
        pos: Vec2::new(-100.0, 5.0),
        ..state()
    };
    let Message::State(s) = round_trip(&Message::State(below)) else {
        panic!("not a state");
    };
    assert_eq!(s.pos, Vec2::new(-BOUNDS_MARGIN, 5.0));

    let nan_vel = PlayerState {
        vel: Vec2::new(f32::NAN, 1.0),
        sent_at: -5.0,
        ..state()
    };
    let Message::State(s) = round_trip(&Message::State(nan_vel)) else {
        panic!("not a state");
    };
    assert_eq!((s.vel, s.sent_at), (Vec2::ZERO, 0.0));

    let far_future = PlayerState {
        sent_at: 1e12,
        ..state()
    };
    let Message::State(s) = round_trip(&Message::State(far_future)) else {
        panic!("not a state");
    };
    assert_eq!(s.sent_at, f64::from(u32::MAX) / 1000.0);

    let ping = Message::Ping {
        nonce: 1,
        t: f64::NEG_INFINITY,
    };
    assert_eq!(round_trip(&ping), Message::Ping { nonce: 1, t: 0.0 });
    let pong = Message::Pong {
        nonce: 1,
        t_ping: f64::NAN,
        t_remote: f64::INFINITY,
    };
    assert_eq!(
        round_trip(&pong),
        Message::Pong {
            nonce: 1,
            t_ping: 0.0,
            t_remote: f64::MAX,
        }
    );
}

#[test]
fn encoder_truncates_text() {
    let hello = Message::Hello {
        id: 1,
        name: "abcdefghijklmnopqrstuvwxyz".into(),
        color: 0,
    };
    let Message::Hello { name, .. } = round_trip(&hello) else {
        panic!("not a hello");
    };
    assert_eq!(name, "abcdefghijklmnop");

    let chat = |text: String| {
        let msg = Message::Event {
            to: 42,
            seq: u32::MAX,
            event: GameEvent::Chat(text),
        };
        let bytes = encode(&msg);
        assert!(bytes.len() <= MAX_MESSAGE_BYTES, "{}", bytes.len());
        let Message::Event {
            event: GameEvent::Chat(text),
            ..
        } = decode(&bytes, &arena()).unwrap()
        else {
            panic!("not a chat");
        };
        text
    };
    assert_eq!(chat("x".repeat(300)), "x".repeat(MAX_CHAT_CHARS));
    // 4-byte characters: the byte limit bites first, on a char boundary.
    assert_eq!(chat("🚀".repeat(200)), "🚀".repeat(MAX_CHAT_BYTES / 4));
    assert_eq!(chat("é🚀".repeat(100)).len(), MAX_CHAT_BYTES);
}

// --- rejections -------------------------------------------------------------------

#[test]
fn rejects_framing_errors() {
    let good = encode(&Message::State(state()));

    let e = rejected(&[]);
    assert_eq!((e.clone(), e.reason()), (DecodeError::Empty, "empty"));

    let long = vec![VERSION; MAX_MESSAGE_BYTES + 1];
    let e = rejected(&long);
    assert_eq!(
        (e.clone(), e.reason()),
        (DecodeError::TooLong(513), "too_long")
    );

    let mut wrong = good.clone();
    wrong[0] = 2;
    let e = rejected(&wrong);
    assert_eq!(
        (e.clone(), e.reason()),
        (DecodeError::Version(2), "version")
    );

    let mut trailing = good.clone();
    trailing.push(0);
    let e = rejected(&trailing);
    assert_eq!(
        (e.clone(), e.reason()),
        (DecodeError::TrailingBytes, "trailing")
    );

    for bad in [
        vec![VERSION],                                        // no body
        vec![VERSION, 0xFF],                                  // unknown variant
        good[..good.len() - 1].to_vec(),                      // truncated
        vec![VERSION, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xFF, 0], // Hello, name not UTF-8
    ] {
        let e = rejected(&bad);
        assert!(matches!(e, DecodeError::Malformed(_)), "{bad:?}: {e:?}");
        assert_eq!(e.reason(), "malformed");
    }
}

fn out_of_range(bytes: &[u8]) -> &'static str {
    match rejected(bytes) {
        DecodeError::OutOfRange(field) => field,
        e => panic!("expected OutOfRange, got {e:?}"),
    }
}

#[test]
fn rejects_positions_out_of_bounds() {
    let at = |pos| encode(&Message::State(PlayerState { pos, ..state() }));
    // The margin is inclusive...
    assert!(decode(&at(Vec2::new(-64.0, 1064.0)), &arena()).is_ok());
    assert!(decode(&at(Vec2::new(1664.0, 0.0)), &arena()).is_ok());
    // ...and ends there.
    assert_eq!(out_of_range(&at(Vec2::new(1664.25, 0.0))), "pos");
    assert_eq!(out_of_range(&at(Vec2::new(10.0, 1064.25))), "pos");
    assert_eq!(out_of_range(&at(Vec2::new(5000.0, 10.0))), "pos");
    let small = Bounds::new(Vec2::new(100.0, 100.0), Vec2::new(200.0, 200.0));
    assert!(decode(&at(Vec2::new(10.0, 10.0)), &small).is_err());
    assert!(decode(&at(Vec2::new(36.0, 264.0)), &small).is_ok());

    for event in [
        GameEvent::Fire {
            pos: Vec2::new(1700.0, 5.0),
            aim: 0.0,
        },
        GameEvent::Fire {
            pos: Vec2::new(5.0, 2000.0),
            aim: 0.0,
        },
    ] {
        assert_eq!(
            out_of_range(&encode(&Message::Event {
                to: 42,
                seq: 1,
                event
            })),
            "pos"
        );
    }
}

#[test]
fn bounds_contains_and_normalises() {
    let b = Bounds::new(Vec2::new(1600.0, 1000.0), Vec2::ZERO);
    assert_eq!(b, arena());
    assert!(b.contains(Vec2::new(-BOUNDS_MARGIN, 1000.0 + BOUNDS_MARGIN)));
    assert!(!b.contains(Vec2::new(-BOUNDS_MARGIN - 0.01, 0.0)));
    assert!(!b.contains(Vec2::new(f32::NAN, 0.0)));
    assert!(!b.contains(Vec2::new(0.0, f32::INFINITY)));
}

#[test]
fn rejects_speeds_above_the_cap() {
    let with_vel = |x, y| {
        raw(&Wire::State(WireState {
            vel: WireVel { x, y },
            ..raw_state()
        }))
    };
    let cap = (MAX_SPEED * 8.0) as i32;
    assert!(decode(&with_vel(cap, 0), &arena()).is_ok());
    assert!(decode(&with_vel(0, -cap), &arena()).is_ok());
    assert_eq!(out_of_range(&with_vel(cap + 8, 0)), "vel");
    assert_eq!(out_of_range(&with_vel(cap, cap)), "vel");
    assert_eq!(out_of_range(&with_vel(i32::MIN, i32::MAX)), "vel");
    // The encoder's own output at the cap, on a diagonal, is accepted.
    let diag = Vec2::splat(1.0).normalize() * MAX_SPEED;
    assert!(
        decode(
            &encode(&Message::State(PlayerState {
                vel: diag,
                ..state()
            })),
            &arena()
        )
        .is_ok()
    );
}

#[test]
fn rejects_bad_clocks() {
    for t in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -0.001] {
        assert_eq!(out_of_range(&raw(&Wire::Ping { nonce: 1, t })), "t");
        let pong = |t_ping, t_remote| {
            raw(&Wire::Pong {
                nonce: 1,
                t_ping,
                t_remote,
            })
        };
        assert_eq!(out_of_range(&pong(t, 1.0)), "t_ping");
        assert_eq!(out_of_range(&pong(1.0, t)), "t_remote");
    }
    assert!(decode(&raw(&Wire::Ping { nonce: 1, t: -0.0 }), &arena()).is_ok());
}

#[test]
fn rejects_bad_names() {
    let hello = |name: &str| {
        raw(&Wire::Hello {
            id: 1,
            name: Cow::Borrowed(name),
            color: 0,
        })
    };
    assert!(decode(&hello("x"), &arena()).is_ok());
    assert!(decode(&hello(&"é".repeat(MAX_NAME_CHARS)), &arena()).is_ok());
    for bad in [
        "",
        "   ",
        "a\u{0}b",
        "tab\there",
        "new\nline",
        "del\u{7f}",
        "c1\u{85}",
    ] {
        assert_eq!(out_of_range(&hello(bad)), "name", "{bad:?}");
    }
    assert_eq!(
        out_of_range(&hello(&"a".repeat(MAX_NAME_CHARS + 1))),
        "name"
    );
}

#[test]
fn rejects_bad_chat() {
    let chat = |text: &str| {
        raw(&Wire::Event {
            to: 42,
            seq: 1,
            event: WireEvent::Chat(Cow::Borrowed(text)),
        })
    };
    assert!(decode(&chat(&"a".repeat(MAX_CHAT_CHARS)), &arena()).is_ok());
    assert_eq!(out_of_range(&chat(&"a".repeat(MAX_CHAT_CHARS + 1))), "chat");
    assert_eq!(
        out_of_range(&chat(&"é".repeat(MAX_CHAT_BYTES / 2 - 10))),
        "chat"
    ); // 230 chars
    assert_eq!(out_of_range(&chat(&"🚀".repeat(121))), "chat"); // 484 bytes
    for bad in ["line\nbreak", "bell\u{7}", "\r", "esc\u{1b}[31m"] {
        assert_eq!(out_of_range(&chat(bad)), "chat", "{bad:?}");
    }
}

#[test]
fn rejects_other_out_of_range_fields() {
    let hit = |damage| {
        raw(&Wire::Event {
            to: 42,
            seq: 1,
            event: WireEvent::Hit { victim: 3, damage },
        })
    };
    assert_eq!(out_of_range(&hit(0)), "damage");
    assert!(decode(&hit(1), &arena()).is_ok());

    let seq0 = encode(&Message::Event {
        to: 42,
        seq: 0,
        event: GameEvent::Killed { victim: 1, by: 2 },
    });
    assert_eq!(out_of_range(&seq0), "seq");

    let kills = raw(&Wire::State(WireState {
        kills_alive: (u32::from(u16::MAX) + 1) << 1,
        ..raw_state()
    }));
    assert_eq!(out_of_range(&kills), "kills");

    let e = DecodeError::OutOfRange("pos");
    assert_eq!(e.reason(), "out_of_range");
    assert_eq!(e.to_string(), "field `pos` out of range");
}

// --- misc API ------------------------------------------------------------------------

#[test]
fn reliability_and_snapshot() {
    let s = state();
    assert!(
        Message::Hello {
            id: 1,
            name: "a".into(),
            color: 0
        }
        .is_reliable()
    );
    assert!(
        Message::Event {
            to: 42,
            seq: 1,
            event: GameEvent::Chat("hi".into())
        }
        .is_reliable()
    );
    assert!(
        Message::Ack {
            to: 1,
            session: 1,
            upto: 1
        }
        .is_reliable()
    );
    assert!(!Message::State(s).is_reliable());
    assert!(!Message::Ping { nonce: 1, t: 0.0 }.is_reliable());
    assert!(
        !Message::Pong {
            nonce: 1,
            t_ping: 0.0,
            t_remote: 0.0
        }
        .is_reliable()
    );

    let snap = s.to_snapshot();
    assert_eq!(
        snap,
        Snapshot {
            seq: s.seq,
            sent_at: s.sent_at,
            pos: s.pos,
            vel: Some(s.vel),
            aim: s.aim,
            spawn: s.spawn,
        }
    );
}

// --- sizes ---------------------------------------------------------------------------------

#[test]
fn state_size_bounds() {
    // Typical: kills < 64, deaths < 128.
    assert_eq!(encode(&Message::State(state())).len(), 22);
    // Worst case in the built-in arena (and margin) with kills < 8192, deaths < 16384.
    let arena_worst = PlayerState {
        seq: u16::MAX,
        sent_at: 4_000_000.0,
        pos: Vec2::new(1664.0, 1064.0),
        vel: Vec2::new(-600.0, 700.0),
        aim: -0.0001,
        hp: 255,
        alive: true,
        spawn: 255,
        kills: 8191,
        deaths: 16383,
    };
    assert_eq!(encode(&Message::State(arena_worst)).len(), STATE_MAX_BYTES);
    // Absolute worst case, whatever the input.
    let worst = PlayerState {
        pos: Vec2::splat(f32::MAX),
        kills: u16::MAX,
        deaths: u16::MAX,
        ..arena_worst
    };
    assert_eq!(encode(&Message::State(worst)).len(), 28);
}

#[test]
fn other_sizes() {
    let sizes = [
        (
            Message::Ack {
                to: 1,
                session: 2,
                upto: 100,
            },
            15,
        ),
        (
            Message::Resume {
                to: 1,
                session: 2,
                next: 100,
            },
            15,
        ),
        (Message::Ping { nonce: 1, t: 1.0 }, 11),
        (
            Message::Pong {
                nonce: 1,
                t_ping: 1.0,
                t_remote: 2.0,
            },
            19,
        ),
        (
            Message::Hello {
                id: 1,
                name: "Ada".into(),
                color: 2,
            },
            15,
        ),
        (
            Message::Event {
                to: 42,
                seq: 5,
                event: GameEvent::Fire {
                    pos: Vec2::new(800.0, 500.0),
                    aim: 0.5,
                },
            },
            18,
        ),
        (
            Message::Event {
                to: 42,
                seq: 5,
                event: GameEvent::Hit { victim: 9 },
            },
            21,
        ),
        (
            Message::Event {
                to: 42,
                seq: 5,
                event: GameEvent::Killed { victim: 9, by: 8 },
            },
            28,
        ),
    ];
    for (msg, len) in sizes {
        assert_eq!(encode(&msg).len(), len, "{msg:?}");
    }
}

// --- properties ---------------------------------------------------------------------------

fn in_arena_state() -> impl Strategy<Value = PlayerState> {
    (
        (any::<u16>(), 0.0f64..4_000_000.0),
        (0.0f32..=1600.0, 0.0f32..=1000.0),
        (0.0f32..MAX_SPEED, -PI..PI),
        -100.0f32..100.0,
        (
            any::<u8>(),
            any::<bool>(),
            any::<u8>(),
            any::<u16>(),
            any::<u16>(),
        ),
    )
        .prop_map(
            |((seq, sent_at), (x, y), (speed, dir), aim, (hp, alive, spawn, kills, deaths))| {
                PlayerState {
                    seq,
                    sent_at,
                    pos: Vec2::new(x, y),
                    vel: Vec2::from_angle(dir) * speed,
                    aim,
                    hp,
                    alive,
                    spawn,
                    kills,
                    deaths,
                }
            },
        )
}

fn any_f32() -> impl Strategy<Value = f32> {
    prop_oneof![
        any::<f32>(),
        Just(f32::NAN),
        Just(f32::INFINITY),
        Just(f32::NEG_INFINITY),
        -3000.0f32..3000.0
    ]
}

proptest! {
    #[test]
    fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = decode(&bytes, &arena());
    }

    #[test]
    fn decode_never_panics_on_versioned_bodies(
        body in proptest::collection::vec(any::<u8>(), 0..600),
        tag in 0u8..8,
    ) {
        let mut bytes = vec![VERSION, tag];
        bytes.extend(body);
        let _ = decode(&bytes, &arena());
    }

    #[test]
    fn decode_never_panics_on_mutated_messages(
        s in in_arena_state(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = encode(&Message::State(s));
        for (at, v) in flips {
            let i = at.index(bytes.len());
            bytes[i] = v;
        }
        let _ = decode(&bytes, &arena());
        let len = cut.index(bytes.len() + 1);
        let _ = decode(&bytes[..len], &arena());
    }

    #[test]
    fn state_round_trip_stays_within_quantization_error(s in in_arena_state()) {
        let bytes = encode(&Message::State(s));
        prop_assert!(bytes.len() <= 28);
        if s.kills < 8192 && s.deaths < 16384 {
            prop_assert!(bytes.len() <= STATE_MAX_BYTES);
        }
        match decode(&bytes, &arena()) {
            Ok(Message::State(got)) => assert_state_close(&s, &got),
            other => prop_assert!(false, "{:?} -> {:?}", s, other),
        }
    }

    #[test]
    fn any_state_encodes_to_something_decodable(
        seq in any::<u16>(),
        sent_at in prop_oneof![any::<f64>(), Just(f64::NAN), Just(f64::INFINITY)],
        (x, y, vx, vy, aim) in (any_f32(), any_f32(), any_f32(), any_f32(), any_f32()),
        kills in any::<u16>(),
    ) {
        let s = PlayerState {
            seq,
            sent_at,
            pos: Vec2::new(x, y),
            vel: Vec2::new(vx, vy),
            aim,
            kills,
            ..state()
        };
        let bytes = encode(&Message::State(s));
        prop_assert!(bytes.len() <= 28);
        let decoded = decode(&bytes, &everywhere());
        prop_assert!(matches!(decoded, Ok(Message::State(_))), "{:?} -> {:?}", s, decoded);
    }

    #[test]
    fn text_round_trips_or_is_rejected(name in ".{0,40}", chat in ".{0,300}") {
        // Whatever the text, encoding never panics and decoding never panics;
        // text without control characters comes back as a truncated prefix.
        let hello = Message::Hello { id: 1, name: name.clone(), color: 0 };
        if let Ok(Message::Hello { name: got, .. }) = decode(&encode(&hello), &arena()) {
            prop_assert!(name.starts_with(&got));
            prop_assert!(got.chars().count() <= MAX_NAME_CHARS);
        } else {
            let truncated: String = name.chars().take(MAX_NAME_CHARS).collect();
            prop_assert!(truncated.trim().is_empty() || truncated.chars().any(char::is_control));
        }
        let msg = Message::Event { to: 42, seq: 1, event: GameEvent::Chat(chat.clone()) };
        let bytes = encode(&msg);
        prop_assert!(bytes.len() <= MAX_MESSAGE_BYTES);
        match decode(&bytes, &arena()) {
            Ok(Message::Event { event: GameEvent::Chat(got), .. }) => {
                prop_assert!(chat.starts_with(&got));
                prop_assert!(got.chars().count() <= MAX_CHAT_CHARS);
                prop_assert!(got.len() <= MAX_CHAT_BYTES);
            }
            other => {
                prop_assert!(chat.chars().any(char::is_control), "{:?} -> {:?}", chat, other);
            }
        }
    }
}
