//! Network bench (a bench binary, not a test): real `arena bot` processes
//! (release build), the real signaling server and, when installed, coturn —
//! all on loopback.
//!
//! 1. One pair of bots per route — `direct` (hybrid), `turn` (relay-only
//!    through coturn) and `relay` (signaling-only) — running side by side for
//!    `--secs` (default 300): state-channel RTT p50/p99 from 20 Hz pings, and
//!    the largest gap between consecutive states sent at 20 Hz.
//! 2. `--trials` (default 10) rooms of 8 bots: time until all 28 links are
//!    open, as seen by the last joiner (the full mesh), and by every bot.
//!
//! ```text
//! cargo bench -p arena --bench net_link                  # 5 minutes + mesh trials
//! cargo bench -p arena --bench net_link -- --secs 30 --trials 3
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/support/coturn.rs"]
mod coturn;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use arena::net::EmbeddedServer;
use coturn::Coturn;
use serde_json::Value;

fn arg(name: &str, default: f64) -> f64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("arena-net-bench-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn bot(url: &str, name: &str, args: &[&str]) -> (Child, PathBuf) {
    let report = dir().join(format!("{name}.json"));
    let child = Command::new(env!("CARGO_BIN_EXE_arena"))
        .arg("bot")
        .args(["--server", url, "--name", name, "--bind", "127.0.0.1"])
        .arg("--report")
        .arg(&report)
        .args(args)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("arena binary");
    (child, report)
}

/// Waits for `ROOM <code>` on the creator's stdout.
fn room_code(child: &mut Child) -> String {
    use std::io::BufRead;
    let out = child.stdout.take().unwrap();
    let mut lines = std::io::BufReader::new(out).lines();
    let code = loop {
        let line = lines.next().expect("bot ended before its room").unwrap();
        if let Some(c) = line.strip_prefix("ROOM ") {
            break c.to_owned();
        }
    };
    // Keep draining so the bot never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines.by_ref() {});
    code
}

fn finish(mut child: Child, report: &PathBuf) -> Value {
    if let Some(out) = child.stdout.take() {
        std::thread::spawn(move || std::io::copy(&mut { out }, &mut std::io::sink()));
    }
    let status = child.wait().unwrap();
    assert!(status.success(), "bot failed: {status}");
    serde_json::from_str(&std::fs::read_to_string(report).unwrap()).unwrap()
}

fn the_peer(report: &Value) -> Value {
    report["peers"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .cloned()
        .unwrap_or(Value::Null)
}

fn percentile(v: &mut [f64], q: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * q).round() as usize]
}

fn main() {
    // `cargo bench` passes `--bench`; accept and ignore it.
    let secs = arg("--secs", 300.0);
    let trials = arg("--trials", 10.0) as usize;
    let secret = "bench-secret";
    let turn = Coturn::start(secret, &dir().join("coturn"))
        .map_err(|e| eprintln!("no coturn ({e}): skipping the turn route"))
        .ok();
    let mut config = arena_server::Config::default();
    if let Some(t) = &turn {
        config.turn_urls = vec![t.url()];
        config.turn_secret = Some(secret.into());
    }
    let server = EmbeddedServer::start("127.0.0.1:0".parse().unwrap(), config).unwrap();
    let url = server.url();

    println!("# net_link bench: {secs} s per route (side by side), {trials} mesh trials of 8");
    let d = secs.to_string();
    let mut routes = vec![
        ("direct", vec!["--mode", "hybrid"]),
        ("relay", vec!["--mode", "signaling"]),
    ];
    if turn.is_some() {
        routes.push(("turn", vec!["--mode", "webrtc", "--relay-only"]));
    }
    let mut pairs = Vec::new();
    for (route, extra) in &routes {
        let common = [&["--ping-hz", "20", "--send-rate", "20"], extra.as_slice()].concat();
        let (mut a, ra) = bot(
            &url,
            &format!("{route}-a"),
            &[&["--create", "--duration", &d], common.as_slice()].concat(),
        );
        let code = room_code(&mut a);
        let (b, rb) = bot(
            &url,
            &format!("{route}-b"),
            &[&["--room", &code, "--duration", &d], common.as_slice()].concat(),
        );
        pairs.push((*route, a, ra, b, rb));
    }
    println!();
    println!(
        "| route | seen as | RTT p50 ms | RTT p99 ms | states received | largest state gap ms | state loss |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|");
    for (route, a, ra, b, rb) in pairs {
        let (ra, rb) = (finish(a, &ra), finish(b, &rb));
        for r in [&ra, &rb] {
            let p = the_peer(r);
            println!(
                "| {route} | {} {} | {:.3} | {:.3} | {} | {:.1} | {:.4} |",
                p["route"].as_str().unwrap_or("?"),
                p["candidate"].as_str().unwrap_or("-"),
                p["rtt_p50_ms"].as_f64().unwrap_or(f64::NAN),
                p["rtt_p99_ms"].as_f64().unwrap_or(f64::NAN),
                p["states_in"],
                p["max_state_gap_ms"].as_f64().unwrap_or(f64::NAN),
                p["net"]["state_loss"].as_f64().unwrap_or(f64::NAN),
            );
        }
    }

    // Mesh setup, against a server that hands out no TURN server (as on a
    // LAN) and against the one with coturn (ICE then also gathers relay
    // candidates through it).
    let plain = EmbeddedServer::start(
        "127.0.0.1:0".parse().unwrap(),
        arena_server::Config::default(),
    )
    .unwrap();
    println!();
    println!("| 8-peer mesh setup | server hands out TURN | samples | p50 ms | p95 ms | max ms |");
    println!("|---|---|---:|---:|---:|---:|");
    mesh(&plain.url(), trials, "no");
    if turn.is_some() {
        mesh(&url, trials, "yes (coturn)");
    }
}

fn mesh(url: &str, trials: usize, turn: &str) {
    let mut last_joiner = Vec::new();
    let mut every_bot = Vec::new();
    for t in 0..trials {
        let (mut first, r0) = bot(url, &format!("mesh{t}-0"), &["--create", "--duration", "5"]);
        let code = room_code(&mut first);
        let mut bots = vec![(first, r0)];
        for i in 1..8 {
            let dur = (5.0 - 0.25 * i as f64).to_string();
            bots.push(bot(
                url,
                &format!("mesh{t}-{i}"),
                &["--room", &code, "--duration", &dur],
            ));
        }
        let reports: Vec<Value> = bots.into_iter().map(|(c, r)| finish(c, &r)).collect();
        for (i, r) in reports.iter().enumerate() {
            let links = r["peers"].as_object().unwrap().len();
            let ready = r["mesh_ready_after_s"].as_f64();
            match (links, ready) {
                (7, Some(s)) => {
                    every_bot.push(s * 1000.0);
                    if i == 7 {
                        last_joiner.push(s * 1000.0);
                    }
                }
                _ => eprintln!("trial {t} bot {i}: {links} peers, mesh ready {ready:?}"),
            }
        }
    }
    for (what, v) in [
        (
            "last joiner: its 7 links open (full mesh)",
            &mut last_joiner,
        ),
        ("every bot: its 7 links open", &mut every_bot),
    ] {
        if v.is_empty() {
            println!("| {what} | {turn} | 0 | - | - | - |");
            continue;
        }
        let max = v.iter().copied().fold(f64::MIN, f64::max);
        println!(
            "| {what} | {turn} | {} | {:.0} | {:.0} | {:.0} |",
            v.len(),
            percentile(v, 0.5),
            percentile(v, 0.95),
            max
        );
    }
}
