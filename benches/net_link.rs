//! Network bench (a bench binary, not a test): real `arena bot` processes
//! (release build), the real signaling server and, when installed, coturn —
//! all on loopback.
//!
//! 1. One pair of bots per route — `direct` (hybrid), `turn` (relay-only
//!    through coturn) and `relay` (signaling-only) — running side by side for
//!    `--secs` (default 300): state-channel RTT p50/p99 from pings asked at
//!    20 Hz (the core sends them on its 20 ms tick: one every 60 ms), and
//!    the largest gap between consecutive states sent at 20 Hz.
//!    Beside them, the baseline: bare webrtc 0.21 ping-pong between two peer
//!    connections in this process ([`bare`]), at the bots' 20 Hz for the
//!    same time and then 2,000 back to back.
//!    Each bot's CPU over 10 s from the 5th second (`/proc/PID/stat`; its
//!    `arena-net…` threads in brackets), and that of a bot alone in a room
//!    (no peer: the net thread idle).
//!    `--hops`: the direct pair records where each round trip goes
//!    (`arena bot --hops`, `arena::net::hops`) and the breakdown is printed.
//!    `--only ROUTE`: that route's pair alone. `--bare-sweep`: only the bare
//!    baseline, at several rates (how idle time before a ping costs).
//! 2. `--trials` (default 10) rooms of 8 bots: time until all 28 links are
//!    open, as seen by the last joiner (the full mesh), and by every bot.
//!
//! ```text
//! cargo bench -p arena --bench net_link                  # 5 minutes + mesh trials
//! cargo bench -p arena --bench net_link -- --secs 30 --trials 3
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/args.rs"]
mod args;

#[path = "net_link/bare.rs"]
mod bare;
#[path = "../tests/support/coturn.rs"]
mod coturn;

use args::{arg, flag};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use arena::net::EmbeddedServer;
use coturn::Coturn;
use serde_json::Value;

fn text_arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    let i = args.iter().position(|a| a == name)?;
    args.get(i + 1).cloned()
}

/// User + system CPU time so far, seconds, of a process and of its net
/// threads (those named `arena-net…`: the runtime's and its helpers').
fn cpu_secs(pid: u32) -> Option<(f64, f64)> {
    let process = stat_secs(&format!("/proc/{pid}/stat"))?;
    let mut net = 0.0;
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))
        .ok()?
        .flatten()
    {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.starts_with("arena-net") {
            net += stat_secs(&task.path().join("stat").to_string_lossy()).unwrap_or(0.0);
        }
    }
    Some((process, net))
}

/// utime + stime of a `stat` file, seconds.
fn stat_secs(path: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(path).ok()?;
    // Fields after the command name (which may hold spaces): state is the
    // 3rd field, utime the 14th, stime the 15th.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / clock_ticks())
}

fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// CPU use of each process over `window` starting after `after`, percent
/// of one core, with that of its net threads in brackets; measured on a
/// thread of its own.
fn cpu_use(
    pids: Vec<u32>,
    after: std::time::Duration,
    window: std::time::Duration,
) -> std::thread::JoinHandle<Vec<String>> {
    std::thread::spawn(move || {
        std::thread::sleep(after);
        let start: Vec<_> = pids.iter().map(|&p| cpu_secs(p)).collect();
        std::thread::sleep(window);
        let end: Vec<_> = pids.iter().map(|&p| cpu_secs(p)).collect();
        let pct = |s: f64, e: f64| (e - s) / window.as_secs_f64() * 100.0;
        start
            .iter()
            .zip(&end)
            .map(|(s, e)| match (s, e) {
                (Some(s), Some(e)) => format!("{:.1} ({:.1})", pct(s.0, e.0), pct(s.1, e.1)),
                _ => "-".to_owned(),
            })
            .collect()
    })
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
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * q).round() as usize]
}

fn main() {
    // `cargo bench` passes `--bench`; accept and ignore it.
    let secs = arg("--secs", 300.0);
    let trials = arg("--trials", 10.0) as usize;
    if flag("--bare-sweep") {
        return bare_sweep(secs);
    }
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
    if let Some(only) = text_arg("--only") {
        routes.retain(|(r, _)| *r == only);
    }
    let hops = flag("--hops");
    // The bare baseline runs beside the pairs, under the same load.
    let baseline = std::thread::spawn(move || bare::ping_pong(20.0, secs, 0));
    // A bot alone in its room: the net thread with nothing to carry.
    let (mut lone, lone_report) = bot(&url, "idle", &["--create", "--duration", &d]);
    room_code(&mut lone);
    let mut pairs = Vec::new();
    for (route, extra) in &routes {
        let mut common = [&["--ping-hz", "20", "--send-rate", "20"], extra.as_slice()].concat();
        if hops && *route == "direct" {
            common.push("--hops");
        }
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
    let mut pids = vec![lone.id()];
    for (_, a, _, b, _) in &pairs {
        pids.extend([a.id(), b.id()]);
    }
    let window = std::time::Duration::from_secs_f64((secs - 6.0).clamp(1.0, 10.0));
    let cpu = cpu_use(pids, std::time::Duration::from_secs(5), window)
        .join()
        .expect("cpu sampler");
    println!();
    println!(
        "| route | seen as | RTT p50 ms | RTT p99 ms | states received | largest state gap ms | state loss | bot CPU % (net threads) |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|");
    let mut breakdowns = Vec::new();
    for (i, (route, a, ra, b, rb)) in pairs.into_iter().enumerate() {
        let (ra, rb) = (finish(a, &ra), finish(b, &rb));
        if route == "direct" && hops {
            breakdowns.push((ra.clone(), rb.clone()));
        }
        for (j, r) in [&ra, &rb].into_iter().enumerate() {
            let p = the_peer(r);
            println!(
                "| {route} | {} {} | {:.3} | {:.3} | {} | {:.1} | {:.4} | {} |",
                p["route"].as_str().unwrap_or("?"),
                p["candidate"].as_str().unwrap_or("-"),
                p["rtt_p50_ms"].as_f64().unwrap_or(f64::NAN),
                p["rtt_p99_ms"].as_f64().unwrap_or(f64::NAN),
                p["states_in"],
                p["max_state_gap_ms"].as_f64().unwrap_or(f64::NAN),
                p["net"]["state_loss"].as_f64().unwrap_or(f64::NAN),
                cpu[1 + 2 * i + j],
            );
        }
    }
    finish(lone, &lone_report);

    let mut paced = baseline.join().expect("bare baseline");
    let mut back_to_back = bare::ping_pong(0.0, 0.0, 2000);
    for (what, v) in [
        ("bare webrtc, 20 Hz", &mut paced),
        ("bare webrtc, back to back", &mut back_to_back),
    ] {
        println!(
            "| {what} | in-process host | {:.3} | {:.3} | - | - | - | - |",
            percentile(v, 0.5),
            percentile(v, 0.99)
        );
    }
    println!(
        "| (none: a bot alone in its room) | - | - | - | - | - | - | {} |",
        cpu[0]
    );
    for (a, b) in &breakdowns {
        hop_table(a, b);
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

/// The direct pair's round trips, hop by hop: each bot's pings joined with
/// the other's answers by nonce (`arena bot --hops`). Percentiles of each
/// hop over the joined samples, microseconds; `wire` is what remains of the
/// round trip: the two datagrams through the kernel on loopback (`sendmsg`
/// to `recvmmsg`), each with the wake-up of the receiving net thread.
fn hop_table(a: &Value, b: &Value) {
    let answers = |r: &Value| -> std::collections::HashMap<u64, Value> {
        r["hops"]["answers"]
            .as_array()
            .map(|v| {
                v.iter()
                    .map(|x| (x["nonce"].as_u64().unwrap_or(0), x.clone()))
                    .collect()
            })
            .unwrap_or_default()
    };
    let rows = [
        "pinger: timer fed to the core -> ping handed to the connection's queue",
        "pinger: queue -> connection task calls send",
        "pinger: send -> datagram to the socket (webrtc)",
        "wire: both datagrams, sendmsg -> recvmmsg incl. waking the receiver (the rest)",
        "answerer: datagram in -> reader task has the ping (webrtc)",
        "answerer: reader -> driver feeds the ping to the core",
        "answerer: core: ping fed -> pong handed to the queue",
        "answerer: queue -> connection task calls send",
        "answerer: send -> datagram to the socket (webrtc)",
        "pinger: datagram in -> reader task has the pong (webrtc)",
        "pinger: reader -> driver feeds the pong to the core",
        "round trip (as the core measures it)",
    ];
    let mut cols: Vec<Vec<f64>> = vec![Vec::new(); rows.len()];
    for (pinger, answerer) in [(a, b), (b, a)] {
        let theirs = answers(answerer);
        for p in pinger["hops"]["pings"].as_array().into_iter().flatten() {
            let Some(q) = p["nonce"].as_u64().and_then(|n| theirs.get(&n)) else {
                continue;
            };
            let f = |v: &Value, k: &str| v[k].as_f64().unwrap_or(f64::NAN);
            let ours = [f(p, "core_us"), f(p, "queue_us"), f(p, "send_us")];
            let back = [f(p, "read_us"), f(p, "deliver_us")];
            let turn = f(q, "turnaround_us");
            let rtt = f(p, "rtt_us");
            let wire = rtt - ours.iter().sum::<f64>() - turn - back.iter().sum::<f64>();
            let vals = [
                ours[0],
                ours[1],
                ours[2],
                wire,
                f(q, "read_us"),
                f(q, "deliver_us"),
                f(q, "core_us"),
                f(q, "queue_us"),
                f(q, "send_us"),
                back[0],
                back[1],
                rtt,
            ];
            for (c, v) in cols.iter_mut().zip(vals) {
                c.push(v);
            }
        }
    }
    println!();
    println!(
        "| direct pair, hop ({} round trips) | p50 us | p90 us | mean us |",
        cols[0].len()
    );
    println!("|---|---:|---:|---:|");
    for (row, c) in rows.iter().zip(cols.iter_mut()) {
        let mean = c.iter().sum::<f64>() / c.len().max(1) as f64;
        println!(
            "| {row} | {:.0} | {:.0} | {:.0} |",
            percentile(c, 0.5),
            percentile(c, 0.9),
            mean
        );
    }
}

/// `--bare-sweep`: bare webrtc ping-pong alone, `secs` at each of several
/// rates and 2,000 back to back: how the round trip depends on how long the
/// stack was idle before each ping.
fn bare_sweep(secs: f64) {
    println!("| bare webrtc, pings | samples | RTT p50 ms | RTT p99 ms |");
    println!("|---|---:|---:|---:|");
    for hz in [20.0, 100.0, 1000.0, 0.0] {
        let mut v = bare::ping_pong(hz, secs, 2000);
        let what = if hz > 0.0 {
            format!("{hz} Hz")
        } else {
            "back to back".to_owned()
        };
        println!(
            "| {what} | {} | {:.3} | {:.3} |",
            v.len(),
            percentile(&mut v, 0.5),
            percentile(&mut v, 0.99)
        );
    }
}
