//! Soak bench (a bench binary, not a test): 8 real `arena bot` processes in
//! one room on the real signaling server, every link impaired by the link
//! conditioner (50 ± 20 ms, 5 % loss on each bot's outgoing game traffic),
//! for `--secs` (default 1800: 30 minutes). Each bot sends a numbered series
//! of reliable events (40 per second) once the room is full.
//!
//! Checks, printed as a table and turned into the exit status: no bot
//! panics or fails; every reliable event arrives exactly once and in order
//! on every one of the 56 directed links; no gap longer than 1 s between
//! two states on any link; memory flat (RSS of each bot sampled every 10 s;
//! growth from the first minute to the end).
//!
//! ```text
//! cargo bench -p arena --bench soak                  # 30 minutes
//! cargo bench -p arena --bench soak -- --secs 120    # a short run
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/args.rs"]
mod args;

#[path = "../tests/support/mod.rs"]
mod support;

use args::arg;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use arena::net::EmbeddedServer;
use serde_json::Value;
use support::Bot;

fn rss_kb(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() {
    let secs = arg("--secs", 1800.0);
    let n = arg("--bots", 8.0) as usize;
    assert!(secs >= 40.0 && n >= 2, "--secs >= 40, --bots >= 2");
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("soak");
    let srv = EmbeddedServer::start(
        "127.0.0.1:0".parse().unwrap(),
        arena_server::Config::default(),
    )
    .expect("server");
    let url = srv.url();
    // The series runs while everyone is there (it starts once the room is
    // full, a few seconds in), with 25 s to spare for the last resends and
    // acknowledgements.
    let events = (40.0 * (secs - 30.0)) as u32;
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
            "--latency-ms",
            "50",
            "--jitter-ms",
            "20",
            "--loss",
            "0.05",
            "--events",
            &events.to_string(),
            "--events-after-peers",
            &(n - 1).to_string(),
        ]);
        c
    };
    let start = Instant::now();
    let mut first = common("s0");
    first.arg("--create");
    let mut bots = vec![Bot::start(first, "s0", &dir)];
    let code = bots[0].code();
    for i in 1..n {
        let name = format!("s{i}");
        let mut c = common(&name);
        c.args(["--room", &code]);
        bots.push(Bot::start(c, &name, &dir));
    }
    println!(
        "soak: {n} bots in room {code} for {secs} s, 50 ± 20 ms, 5 % loss, {events} events each"
    );

    // RSS every 10 s until the bots are done.
    let pids: Vec<u32> = bots.iter().map(|b| b.pid().unwrap()).collect();
    let mut samples: Vec<Vec<(f64, u64)>> = vec![Vec::new(); n];
    let end = start + Duration::from_secs_f64(secs);
    while Instant::now() < end {
        let t = start.elapsed().as_secs_f64();
        for (i, &pid) in pids.iter().enumerate() {
            if let Some(kb) = rss_kb(pid) {
                samples[i].push((t, kb));
            }
        }
        std::thread::sleep(Duration::from_secs(10).min(end - Instant::now()));
    }

    let mut ok = true;
    let mut worst_gap: f64 = 0.0;
    let (mut links, mut exact) = (0, 0);
    println!();
    println!(
        "| bot | panics | RSS at 1 min | RSS at end | growth | events in (all peers) | exactly once, in order | longest state gap |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (i, bot) in bots.into_iter().enumerate() {
        let log = bot.log();
        let panics = log.matches("panicked").count();
        let name = bot.name.clone();
        let report: Value = bot.finish();
        let after_warmup = samples[i]
            .iter()
            .find(|(t, _)| *t >= 60.0)
            .or(samples[i].first())
            .map_or(0, |s| s.1);
        let last = samples[i].last().map_or(0, |s| s.1);
        let growth = last as i64 - after_warmup as i64;
        let peers = report["peers"].as_object().unwrap();
        let mut events_in = 0;
        let mut all_exact = peers.len() == n - 1;
        let mut gap: f64 = 0.0;
        for p in peers.values() {
            links += 1;
            let series = p["series_in"].as_u64().unwrap_or(0);
            events_in += series;
            let this_exact = series == u64::from(events) && p["series_in_order"] == true;
            exact += usize::from(this_exact);
            all_exact &= this_exact;
            gap = gap.max(p["max_state_gap_ms"].as_f64().unwrap_or(f64::INFINITY));
        }
        worst_gap = worst_gap.max(gap);
        ok &= panics == 0 && all_exact && gap <= 1000.0;
        println!(
            "| {name} | {panics} | {:.1} MB | {:.1} MB | {:+.1} MB | {events_in} of {} | {} | {gap:.0} ms |",
            after_warmup as f64 / 1024.0,
            last as f64 / 1024.0,
            growth as f64 / 1024.0,
            u64::from(events) * (n as u64 - 1),
            if all_exact { "yes" } else { "NO" },
        );
    }
    println!();
    println!(
        "links exactly once, in order: {exact} of {links}; longest gap between states on any link: {worst_gap:.0} ms; wall {:.0} s",
        start.elapsed().as_secs_f64()
    );
    drop(srv);
    if !ok {
        eprintln!("soak FAILED (see the table)");
        std::process::exit(1);
    }
}
