//! End-to-end tests of the net thread: the real signaling server (port 0),
//! real `arena bot` processes with real WebRTC on loopback, real coturn for
//! TURN. Nothing is mocked and nothing waits by sleeping: each step waits for
//! the line a bot prints when the event happens (with a timeout), and the
//! final checks read the bots' JSON reports.
//!
//! Needs coturn's `turnserver` for the TURN test (installed by
//! `scripts/test.sh`). Every socket is on 127.0.0.1.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/coturn.rs"]
mod coturn;
mod support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use arena::net::EmbeddedServer;
use coturn::Coturn;
use serde_json::Value;
use support::Bot;

const WAIT: Duration = Duration::from_secs(30);

fn tmp(name: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("net")
        .join(name)
}

fn server(config: arena_server::Config) -> EmbeddedServer {
    EmbeddedServer::start("127.0.0.1:0".parse().unwrap(), config).expect("start the server")
}

/// Starts `arena bot` on loopback, in `test`'s folder.
fn spawn_bot(test: &str, name: &str, url: &str, args: &[&str]) -> Bot {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_arena"));
    cmd.arg("bot")
        .args([
            "--server",
            url,
            "--name",
            name,
            "--bind",
            "127.0.0.1",
            "--seed",
            "7",
        ])
        .args(args);
    Bot::start(cmd, name, &tmp(test))
}

/// The report's entry for the peer named `name`.
fn peer<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["peers"]
        .as_object()
        .unwrap()
        .values()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no peer {name} in {report:#}"))
}

/// The report's one peer (rooms of two).
fn only_peer(report: &Value) -> Value {
    let peers = report["peers"].as_object().unwrap();
    assert_eq!(peers.len(), 1, "{report:#}");
    peers.values().next().cloned().unwrap()
}

fn peer_names(report: &Value) -> Vec<String> {
    let mut v: Vec<String> = report["peers"]
        .as_object()
        .unwrap()
        .values()
        .map(|p| p["name"].as_str().unwrap().to_owned())
        .collect();
    v.sort();
    v
}

/// Starts `n` bots in one room (the first creates it); returns them.
fn room(test: &str, url: &str, n: usize, args: &[&str], duration: f64) -> Vec<Bot> {
    let d = duration.to_string();
    let mut first = spawn_bot(
        test,
        "b0",
        url,
        &[&["--create", "--duration", &d], args].concat(),
    );
    let code = first.code();
    let mut bots = vec![first];
    for i in 1..n {
        let d = (duration - 0.3 * i as f64).to_string();
        let name = format!("b{i}");
        bots.push(spawn_bot(
            test,
            &name,
            url,
            &[&["--room", &code, "--duration", &d], args].concat(),
        ));
    }
    bots
}

#[test]
fn three_bots_hybrid_every_link_direct_states_both_ways() {
    let srv = server(arena_server::Config::default());
    let bots = room("three", &srv.url(), 3, &[], 6.0);
    let reports: Vec<Value> = bots.into_iter().map(Bot::finish).collect();
    for (i, r) in reports.iter().enumerate() {
        assert_eq!(peer_names(r).len(), 2, "{r:#}");
        for p in r["peers"].as_object().unwrap().values() {
            assert_eq!(p["route"], "direct", "b{i}: {p:#}");
            assert_eq!(p["candidate"], "host", "b{i}: {p:#}");
            assert!(p["states_in"].as_u64().unwrap() > 40, "b{i}: {p:#}");
            assert_eq!(p["net"]["dropped_invalid"], 0);
        }
    }
}

#[test]
fn eight_bots_open_all_28_links() {
    let srv = server(arena_server::Config::default());
    let bots = room("eight", &srv.url(), 8, &[], 9.0);
    let reports: Vec<Value> = bots.into_iter().map(Bot::finish).collect();
    let mut links = 0;
    let mut ready = Vec::new();
    for r in &reports {
        assert_eq!(peer_names(r).len(), 7, "{r:#}");
        for p in r["peers"].as_object().unwrap().values() {
            assert_eq!(p["route"], "direct", "{p:#}");
            links += 1;
        }
        ready.push(r["mesh_ready_after_s"].as_f64().unwrap_or(f64::NAN));
    }
    assert_eq!(links / 2, 28);
    eprintln!("8-bot mesh ready after (s, per bot from its join): {ready:?}");
}

#[test]
fn signaling_only_relays_everything() {
    let srv = server(arena_server::Config::default());
    let bots = room("signaling", &srv.url(), 3, &["--mode", "signaling"], 4.0);
    for r in bots.into_iter().map(Bot::finish) {
        for p in r["peers"].as_object().unwrap().values() {
            assert_eq!(p["route"], "relay", "{p:#}");
            assert_eq!(
                p["routes"],
                serde_json::json!(["relay"]),
                "never tried WebRTC: {p:#}"
            );
            assert!(p["states_in"].as_u64().unwrap() > 30, "{p:#}");
        }
    }
}

#[test]
fn webrtc_only_connects_directly() {
    let srv = server(arena_server::Config::default());
    let bots = room("webrtc", &srv.url(), 2, &["--mode", "webrtc"], 4.0);
    for r in bots.into_iter().map(Bot::finish) {
        let p = only_peer(&r);
        assert_eq!(p["route"], "direct", "{p:#}");
        assert!(
            !p["routes"]
                .as_array()
                .unwrap()
                .contains(&Value::from("relay")),
            "{p:#}"
        );
        assert!(p["states_in"].as_u64().unwrap() > 30, "{p:#}");
    }
}

/// A live switch to signaling-only moves both ends of the link from direct to
/// relay without leaving the room, and 200 reliable events sent across the
/// switch arrive exactly once, in order.
#[test]
fn live_mode_switch_moves_routes_and_loses_no_event() {
    let srv = server(arena_server::Config::default());
    let url = srv.url();
    let mut a = spawn_bot("switch", "a", &url, &["--create", "--duration", "9"]);
    let code = a.code();
    let mut b = spawn_bot(
        "switch",
        "b",
        &url,
        &[
            "--room",
            &code,
            "--duration",
            "8",
            "--events",
            "200",
            "--switch-mode",
            "2.5:signaling",
        ],
    );
    a.wait_for("ROUTE", WAIT); // connecting
    a.wait_for("ROUTE", WAIT); // direct
    b.wait_for("MODE signaling", WAIT);
    let ra = a.finish();
    let rb = b.finish();
    let b_at_a = peer(&ra, "b");
    let routes = b_at_a["routes"].as_array().unwrap();
    assert!(routes.contains(&Value::from("direct")), "{b_at_a:#}");
    assert_eq!(b_at_a["route"], "relay", "{b_at_a:#}");
    // Still in the room after the switch: states kept coming until b's end.
    let relay_at = b_at_a["relay_after_s"].as_f64().unwrap();
    assert!(
        (2.4..4.0).contains(&relay_at),
        "relay at {relay_at} s: {b_at_a:#}"
    );
    assert!(b_at_a["states_in"].as_u64().unwrap() > 130, "{b_at_a:#}");
    assert_eq!(peer(&rb, "a")["route"], "relay");
    assert_eq!(rb["events_sent"], 200);
    assert_eq!(b_at_a["series_in"], 200, "{b_at_a:#}");
    assert_eq!(b_at_a["series_in_order"], true, "{b_at_a:#}");
}

/// A client whose every WebRTC attempt fails falls back to the relay within
/// the 5 s timeout, and its 200 reliable events arrive exactly once, in order.
#[test]
fn blocked_p2p_falls_back_to_relay_within_5_s() {
    let srv = server(arena_server::Config::default());
    let url = srv.url();
    let mut a = spawn_bot("blocked", "a", &url, &["--create", "--duration", "10"]);
    let code = a.code();
    let b = spawn_bot(
        "blocked",
        "b",
        &url,
        &[
            "--room",
            &code,
            "--duration",
            "9",
            "--block-p2p",
            "--events",
            "200",
        ],
    );
    let ra = a.finish();
    let rb = b.finish();
    for (r, other) in [(&ra, "b"), (&rb, "a")] {
        let p = peer(r, other);
        assert_eq!(p["route"], "relay", "{p:#}");
        let after = p["relay_after_s"].as_f64().unwrap();
        assert!(after <= 5.5, "relay only after {after} s: {p:#}");
    }
    let b_at_a = peer(&ra, "b");
    assert_eq!(b_at_a["series_in"], 200, "{b_at_a:#}");
    assert_eq!(b_at_a["series_in_order"], true, "{b_at_a:#}");
    assert!(b_at_a["states_in"].as_u64().unwrap() > 100, "{b_at_a:#}");
}

#[test]
fn a_killed_bot_is_reported_left_within_5_s() {
    let srv = server(arena_server::Config::default());
    let url = srv.url();
    let mut bots = room("killed", &url, 3, &[], 12.0);
    for b in &mut bots[..2] {
        for _ in 0..2 {
            b.wait_for("JOINED", WAIT);
        }
    }
    bots[2].wait_for("ROUTE", WAIT);
    let killed_at = Instant::now();
    bots[2].kill();
    for b in &mut bots[..2] {
        let (at, line) = b.wait_for("LEFT", Duration::from_secs(10));
        let after = at.duration_since(killed_at);
        assert!(after <= Duration::from_secs(5), "{line} after {after:?}");
        eprintln!("{}: {line} {after:?} after the kill", b.name);
    }
}

/// The server dies mid-game: direct links keep carrying states; a server
/// coming back on the same address gets the clients back into the room,
/// where a new player can join them.
#[test]
fn server_restart_keeps_direct_links_and_the_room_comes_back() {
    let first = server(arena_server::Config::default());
    let addr: SocketAddr = first.addr();
    let url = first.url();
    let mut a = spawn_bot("restart", "a", &url, &["--create", "--duration", "14"]);
    let code = a.code();
    let mut b = spawn_bot("restart", "b", &url, &["--room", &code, "--duration", "13"]);
    a.wait_for("ROUTE", WAIT);
    let (_, line) = a.wait_for("ROUTE", WAIT);
    assert!(line.contains("direct"), "{line}");
    drop(first);
    a.wait_for("DISCONNECTED", WAIT);
    b.wait_for("DISCONNECTED", WAIT);
    let down_at = Instant::now();
    // Down for a while (the bots keep playing over the direct link), then back.
    let lines_while_down = a.lines.recv_timeout(Duration::from_secs(2));
    assert!(lines_while_down.is_err() || !lines_while_down.unwrap().1.starts_with("LEFT"));
    let second = EmbeddedServer::start(addr, arena_server::Config::default()).expect("rebind");
    a.wait_for("RECONNECTED", WAIT);
    b.wait_for("RECONNECTED", WAIT);
    eprintln!("server down for {:?}", down_at.elapsed());
    let mut c = spawn_bot(
        "restart",
        "c",
        &second.url(),
        &["--room", &code, "--duration", "3"],
    );
    c.wait_for("JOINED", WAIT);
    c.wait_for("JOINED", WAIT);
    // a and b saw c join, and never lost each other on the way.
    a.wait_for("JOINED", WAIT);
    b.wait_for("JOINED", WAIT);
    for bot in [&a, &b] {
        assert!(
            !bot.seen.iter().any(|(_, l)| l.starts_with("LEFT")),
            "{}: {:?}",
            bot.name,
            bot.seen
        );
    }
    let rc = c.finish();
    let ra = a.finish();
    b.finish();
    assert_eq!(peer_names(&rc), ["a", "b"]);
    let gap = peer(&ra, "b")["max_state_gap_ms"].as_f64().unwrap();
    assert!(
        gap < 1000.0,
        "states stopped for {gap} ms while the server was down"
    );
    assert_eq!(peer(&ra, "c")["route"], "direct");
}

#[test]
fn works_against_a_core_only_server() {
    let config = arena_server::Config {
        core_only: true,
        ..Default::default()
    };
    let srv = server(config);
    let bots = room("core", &srv.url(), 3, &[], 6.0);
    for r in bots.into_iter().map(Bot::finish) {
        assert_eq!(peer_names(&r).len(), 2, "{r:#}");
        for p in r["peers"].as_object().unwrap().values() {
            assert_eq!(p["route"], "direct", "{p:#}");
            assert!(p["states_in"].as_u64().unwrap() > 40, "{p:#}");
        }
    }
    // Signaling-only over a core server: the relay is `broadcast`.
    let srv = server(arena_server::Config {
        core_only: true,
        ..Default::default()
    });
    let bots = room(
        "core-relay",
        &srv.url(),
        2,
        &["--mode", "signaling", "--events", "50"],
        4.0,
    );
    let reports: Vec<Value> = bots.into_iter().map(Bot::finish).collect();
    let p = peer(&reports[1], "b0");
    assert_eq!(p["route"], "relay");
    assert!(p["states_in"].as_u64().unwrap() > 30, "{p:#}");
    let p = peer(&reports[0], "b1");
    assert_eq!(p["series_in"], 50, "{p:#}");
    assert_eq!(p["series_in_order"], true);
}

/// Relay-only bots get route `turn` through coturn, with credentials the
/// server issued (the secret never leaves the server).
#[test]
fn relay_only_bots_go_through_coturn_with_server_issued_credentials() {
    let secret = "arena-test-secret";
    let turn = Coturn::start(secret, &tmp("coturn")).expect("coturn (scripts/test.sh installs it)");
    let config = arena_server::Config {
        turn_urls: vec![turn.url()],
        turn_secret: Some(secret.into()),
        ..Default::default()
    };
    let srv = server(config);
    let bots = room(
        "turn",
        &srv.url(),
        2,
        &["--relay-only", "--mode", "webrtc"],
        8.0,
    );
    for r in bots.into_iter().map(Bot::finish) {
        let p = only_peer(&r);
        assert_eq!(p["route"], "turn", "{p:#}");
        assert_eq!(p["candidate"], "relay", "{p:#}");
        assert!(p["states_in"].as_u64().unwrap() > 40, "{p:#}");
        eprintln!(
            "turn rtt p50 {} ms p99 {} ms",
            p["rtt_p50_ms"], p["rtt_p99_ms"]
        );
    }
}

/// The embedded server (Create room) runs the built-in STUN server too, and
/// `arena doctor` against it (on loopback: no NAT) says so: both STUN ports
/// answer with this machine's own address, the verdict is direct, exit 0.
#[test]
fn the_embedded_server_answers_stun_and_the_doctor_says_direct() {
    let srv = server(arena_server::Config::default());
    assert_eq!(srv.stun_ports().len(), 2, "{:?}", srv.stun_ports());
    let out = Command::new(env!("CARGO_BIN_EXE_arena"))
        .args(["doctor", "--server", &srv.url(), "--json"])
        .output()
        .expect("run arena doctor");
    let text = String::from_utf8_lossy(&out.stdout);
    let r: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}:\n{text}"));
    assert_eq!(out.status.code(), Some(0), "{r:#}");
    assert_eq!(r["verdict"], "direct", "{r:#}");
    assert_eq!(r["stun"]["mapping"], "no_nat", "{r:#}");
    let probes = r["stun"]["probes"].as_array().unwrap();
    let ports: Vec<u16> = probes
        .iter()
        .map(|p| {
            let addr: SocketAddr = p["addr"].as_str().unwrap().parse().unwrap();
            assert!(
                p["mapped"].as_str().unwrap().starts_with("127.0.0.1:"),
                "{p}"
            );
            addr.port()
        })
        .collect();
    assert_eq!(ports, srv.stun_ports(), "{r:#}");

    // A core-only server is reachable but offers no STUN or TURN: exit 1.
    let core = server(arena_server::Config {
        core_only: true,
        ..arena_server::Config::default()
    });
    let out = Command::new(env!("CARGO_BIN_EXE_arena"))
        .args(["doctor", "--server", &core.url(), "--json"])
        .output()
        .expect("run arena doctor");
    let r: Value = serde_json::from_slice(&out.stdout).expect("a JSON report");
    assert_eq!(out.status.code(), Some(1), "{r:#}");
    assert_eq!(r["verdict"], "relay_only", "{r:#}");
    assert!(r["lines"].to_string().contains("core-only"), "{r:#}");

    // With no server to test (the settings host games here), it says what
    // to do and exits 2 without trying anything.
    let out = Command::new(env!("CARGO_BIN_EXE_arena"))
        .arg("doctor")
        .env("ARENA_CONFIG", tmp("doctor-no-server.toml"))
        .env_remove("ARENA_SERVER")
        .output()
        .expect("run arena doctor");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--server"), "{err}");
}

#[test]
fn a_hostile_peer_is_rate_limited_then_blocked_and_the_game_keeps_its_rate() {
    let srv = server(arena_server::Config::default());
    let url = srv.url();
    let mut b0 = spawn_bot("hostile", "b0", &url, &["--create", "--duration", "9"]);
    let code = b0.code();
    let mut b1 = spawn_bot(
        "hostile",
        "b1",
        &url,
        &["--room", &code, "--duration", "8.5"],
    );
    b0.wait_for("JOINED", WAIT);
    let h = spawn_bot(
        "hostile",
        "h",
        &url,
        &["--room", &code, "--duration", "6", "--hostile", "10000"],
    );
    // Two seconds of well-formed flood, then garbage: both block it.
    for b in [&mut b0, &mut b1] {
        let (_, line) = b.wait_for("LEFT", WAIT);
        assert!(line.ends_with("Blocked"), "{line}");
    }
    let _ = h.finish();
    for (who, r) in [("b0", b0.finish()), ("b1", b1.finish())] {
        let bad = peer(&r, "h");
        let net = &bad["net"];
        eprintln!(
            "{who}: hostile peer: rate-limited {}, invalid {}, forged {}, forged game events {}; \
             {:.1} ticks/s, longest tick gap {:.1} ms",
            net["dropped_rate"],
            net["dropped_invalid"],
            net["dropped_forged"],
            bad["forged_events"],
            r["ticks_per_s"].as_f64().unwrap(),
            r["max_tick_gap_ms"].as_f64().unwrap(),
        );
        assert_eq!(bad["blocked"], true, "{who}: {bad:#}");
        assert_eq!(bad["left"], "Blocked", "{who}: {bad:#}");
        assert!(
            net["dropped_rate"].as_u64().unwrap() > 5_000,
            "{who}: {net:#}"
        );
        let refused =
            net["dropped_invalid"].as_u64().unwrap() + net["dropped_forged"].as_u64().unwrap();
        assert!(refused >= arena::net::core::BLOCK_AFTER, "{who}: {net:#}");
        assert!(
            net["dropped_forged"].as_u64().unwrap() > 0,
            "{who}: {net:#}"
        );
        assert!(bad["forged_events"].as_u64().unwrap() > 0, "{who}: {bad:#}");
        // The game kept its 60 Hz, and the other player never stopped.
        assert!(r["ticks_per_s"].as_f64().unwrap() > 55.0, "{who}: {r:#}");
        assert!(
            r["max_tick_gap_ms"].as_f64().unwrap() < 250.0,
            "{who}: {r:#}"
        );
        let good = peer(&r, if who == "b0" { "b1" } else { "b0" });
        assert_eq!(good["route"], "direct", "{who}: {good:#}");
        assert!(
            good["max_state_gap_ms"].as_f64().unwrap() < 500.0,
            "{who}: {good:#}"
        );
    }
}
