//! Send-rate bench (a bench binary, not a test): real `arena bot` processes
//! in one room on the real signaling server, once per send-rate setting
//! (`--send-rate 20`, `30`, `auto`) and link (loopback as it is; the link
//! conditioner at 50 ± 20 ms, 5 % loss on each bot's outgoing game traffic).
//! Per directed link, from the bots' reports: the states and messages sent
//! per second, the game bytes (payload) and our upstream to that peer over
//! the last 2 s (game messages + headers, as the net thread estimates it), the sync pipeline's buffering delay, the remote-view age
//! (mean and p95: now − the sender's time of the state drawn), and the
//! shares of frames extrapolated and held. A row gives the mean over the
//! links (the age p95 and upstream: the worst link too).
//!
//! ```text
//! cargo bench -p arena --bench send_rate                    # 8 bots, 60 s per run
//! cargo bench -p arena --bench send_rate -- --bots 4 --secs 30
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/args.rs"]
mod args;

#[path = "../tests/support/mod.rs"]
mod support;

use args::arg;
use std::path::PathBuf;
use std::process::Command;

use arena::net::EmbeddedServer;
use serde_json::Value;
use support::Bot;

/// The figures of one run, averaged over its links.
#[derive(Default)]
struct Row {
    links: usize,
    rate: f64,
    payload_kbps: f64,
    msgs: f64,
    kbps: f64,
    kbps_max: f64,
    delay: f64,
    age: f64,
    age_p95: f64,
    age_p95_max: f64,
    extrapolated: f64,
    held: f64,
    reasons: Vec<String>,
}

fn run(n: usize, secs: f64, rate: &str, impaired: bool, dir: &std::path::Path) -> Row {
    let srv = EmbeddedServer::start(
        "127.0.0.1:0".parse().unwrap(),
        arena_server::Config::default(),
    )
    .expect("server");
    let url = srv.url();
    let common = |name: &str| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_arena"));
        c.arg("bot").args([
            "--server",
            &url,
            "--name",
            name,
            "--bind",
            "127.0.0.1",
            "--duration",
            &secs.to_string(),
            "--send-rate",
            rate,
        ]);
        if impaired {
            c.args(["--latency-ms", "50", "--jitter-ms", "20", "--loss", "0.05"]);
        }
        c
    };
    let mut first = common("r0");
    first.arg("--create");
    let mut bots = vec![Bot::start(first, "r0", dir)];
    let code = bots[0].code();
    for i in 1..n {
        let name = format!("r{i}");
        let mut c = common(&name);
        c.args(["--room", &code]);
        bots.push(Bot::start(c, &name, dir));
    }
    let mut row = Row::default();
    for bot in bots {
        let report: Value = bot.finish();
        for p in report["peers"].as_object().unwrap().values() {
            let net = &p["net"];
            // A bot plays `secs` from its joining; states go to a peer from
            // its `Hello` on.
            let in_room = secs - p["joined_after_s"].as_f64().unwrap_or(0.0);
            let (Some(age), Some(age_p95), Some(delay)) = (
                p["sync_age_mean_ms"].as_f64(),
                p["sync_age_p95_ms"].as_f64(),
                p["sync_mean_delay_ms"].as_f64(),
            ) else {
                continue;
            };
            row.links += 1;
            let per_s = |key: &str| net[key].as_f64().unwrap_or(0.0) / in_room.max(1.0);
            row.rate += per_s("states_out");
            row.payload_kbps += per_s("bytes_out") * 8.0 / 1000.0;
            row.msgs += per_s("msgs_out");
            let kbps = net["upstream_kbps"].as_f64().unwrap_or(0.0);
            row.kbps += kbps;
            row.kbps_max = row.kbps_max.max(kbps);
            row.delay += delay;
            row.age += age;
            row.age_p95 += age_p95;
            row.age_p95_max = row.age_p95_max.max(age_p95);
            row.extrapolated += p["sync_extrapolated"].as_f64().unwrap_or(0.0) * 100.0;
            row.held += p["sync_held"].as_f64().unwrap_or(0.0) * 100.0;
            let reason = net["send_rate_reason"].as_str().unwrap_or("?").to_owned();
            if !row.reasons.contains(&reason) {
                row.reasons.push(reason);
            }
        }
    }
    let k = row.links.max(1) as f64;
    for v in [
        &mut row.rate,
        &mut row.payload_kbps,
        &mut row.msgs,
        &mut row.kbps,
        &mut row.delay,
        &mut row.age,
        &mut row.age_p95,
        &mut row.extrapolated,
        &mut row.held,
    ] {
        *v /= k;
    }
    drop(srv);
    row
}

fn main() {
    let secs = arg("--secs", 60.0);
    let n = arg("--bots", 8.0) as usize;
    assert!(secs >= 15.0 && n >= 2, "--secs >= 15, --bots >= 2");
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("send-rate");
    println!("send_rate: {n} bots, {secs} s per run");
    println!();
    println!(
        "| link | --send-rate | links | states/s | messages/s | payload kbit/s | upstream kbit/s (max) | buffer delay ms | age mean ms | age p95 ms (max) | extrapolated % | held % | rate set by (at the end) |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    for (impaired, link) in [(false, "loopback"), (true, "50 ± 20 ms, 5 % loss")] {
        for rate in ["20", "30", "auto"] {
            let r = run(n, secs, rate, impaired, &dir);
            println!(
                "| {link} | {rate} | {} | {:.1} | {:.1} | {:.1} | {:.1} ({:.1}) | {:.1} | {:.1} | {:.1} ({:.1}) | {:.2} | {:.2} | {} |",
                r.links,
                r.rate,
                r.msgs,
                r.payload_kbps,
                r.kbps,
                r.kbps_max,
                r.delay,
                r.age,
                r.age_p95,
                r.age_p95_max,
                r.extrapolated,
                r.held,
                r.reasons.join(", "),
            );
        }
    }
}
