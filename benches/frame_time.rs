//! Frame time of the real game under Xvfb with 8 players and the net graph
//! on. The game (`arena play --create --net-graph true`) hosts its room on a
//! signaling server in this process; 7 `arena bot` processes join it over
//! real WebRTC on loopback. The bots run under `SCHED_IDLE` (`chrt --idle
//! 0`: only on CPU time the game leaves): they stand for players on other
//! machines, and on a 2-core box they would otherwise take the cores the
//! game draws with (Mesa's software rasterizer uses both). Every frame's duration
//! is logged with `--frame-times`; the first seconds (start-up, links
//! opening) are left out.
//!
//! Run: `cargo bench -p arena --bench frame_time` (needs xvfb-run, installed
//! by scripts/test.sh). Prints p50/p95/p99/max in milliseconds for the
//! default settings (no `--msaa`: anti-aliasing chosen for the renderer,
//! none under Xvfb's software GL), anti-aliasing off (`--msaa 1`) and 4×
//! MSAA (`--msaa 4`), and the GL renderer the game found and what it chose;
//! the target is p99 < 16.7 ms (60 FPS). Figures go to BENCHMARKS.md.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use arena::net::EmbeddedServer;

/// Seconds of play measured, after the warm-up.
const MEASURED: f64 = 30.0;
/// Seconds left out at the start.
const WARMUP: f64 = 8.0;
/// Bots joining the game's room.
const BOTS: usize = 7;

fn percentile(sorted: &[f32], q: f64) -> f32 {
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i]
}

fn bot(url: &str, code: &str, i: usize) -> Child {
    Command::new("chrt")
        .args(["--idle", "0"])
        .arg(env!("CARGO_BIN_EXE_arena"))
        .args([
            "bot",
            "--server",
            url,
            "--room",
            code,
            "--bind",
            "127.0.0.1",
        ])
        .args(["--name", &format!("Bot {i}"), "--seed", &i.to_string()])
        .args(["--duration", &(WARMUP + MEASURED + 10.0).to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("arena bot")
}

/// Measures the game with `--msaa N`, or with its default when `None`.
fn measure(msaa: Option<u8>, server: &EmbeddedServer) {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let label = msaa.map_or("default".to_owned(), |n| format!("msaa{n}"));
    let log = dir.join(format!("frame-times-{label}.txt"));
    let _ = std::fs::remove_file(&log);
    let stderr_path = dir.join(format!("frame-times-{label}.stderr"));
    let stderr = std::fs::File::create(&stderr_path).expect("stderr file");
    let msaa_args = msaa.map(|n| vec!["--msaa".to_owned(), n.to_string()]);
    let mut game = Command::new("xvfb-run")
        .args(["-a", "-s", "-screen 0 1280x720x24"])
        .arg(env!("CARGO_BIN_EXE_arena"))
        .args(["play", "--create", "--net-graph", "true", "--mute"])
        .args([
            "--server",
            &server.url(),
            "--bind",
            "127.0.0.1",
            "--seed",
            "7",
        ])
        .args(msaa_args.unwrap_or_default())
        .arg("--frame-times")
        .arg(&log)
        .args(["--exit-after", &(WARMUP + MEASURED).to_string()])
        .env("ARENA_CONFIG", dir.join("frame-time-settings.toml"))
        .env_remove("ARENA_MSAA")
        // The renderer found and the anti-aliasing chosen (src/ui/msaa.rs).
        .env("RUST_LOG", "warn,arena::ui::msaa=info")
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("xvfb-run not found: run scripts/test.sh, which installs it");
    let mut lines = BufReader::new(game.stdout.take().expect("stdout")).lines();
    let code = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| l.strip_prefix("ROOM ").map(str::to_owned))
        .expect("the game printed its room");
    let mut bots: Vec<Child> = (1..=BOTS).map(|i| bot(&server.url(), &code, i)).collect();
    let joined = lines
        .map_while(Result::ok)
        .filter(|l| l.starts_with("JOINED "))
        .count();
    assert!(game.wait().expect("game").success());
    for b in &mut bots {
        let _ = b.kill();
        let _ = b.wait();
    }
    let gl = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    let gl = gl
        .lines()
        .find_map(|l| l.split_once("GL renderer ").map(|(_, r)| r.to_owned()))
        .unwrap_or_else(|| "(not logged)".to_owned());
    let text = std::fs::read_to_string(&log).expect("frame-time log");
    let all: Vec<(f32, f32)> = text
        .lines()
        .filter_map(|l| {
            let (a, b) = l.split_once(' ')?;
            Some((a.parse().ok()?, b.parse().ok()?))
        })
        .collect();
    let mut t = 0.0f64;
    let kept: Vec<(f32, f32)> = all
        .iter()
        .filter(|(period, _)| {
            t += f64::from(*period) / 1000.0;
            t > WARMUP
        })
        .copied()
        .collect();
    assert!(kept.len() > 100, "too few frames: {}", kept.len());
    let mut periods: Vec<f32> = kept.iter().map(|k| k.0).collect();
    let mut work: Vec<f32> = kept.iter().map(|k| k.1).collect();
    periods.sort_by(f32::total_cmp);
    work.sort_by(f32::total_cmp);
    println!("frame_time/8_players_net_graph/{label}: GL renderer {gl}");
    println!(
        "frame_time/8_players_net_graph/{label}: players {} frames {} ({:.0} FPS) p50 {:.2} ms p95 {:.2} ms p99 {:.2} ms max {:.2} ms (target p99 < 16.7 ms); game code p50 {:.2} ms p99 {:.2} ms",
        joined + 1,
        periods.len(),
        periods.len() as f64 / MEASURED,
        percentile(&periods, 0.50),
        percentile(&periods, 0.95),
        percentile(&periods, 0.99),
        periods[periods.len() - 1],
        percentile(&work, 0.50),
        percentile(&work, 0.99),
    );
}

fn main() {
    let server = EmbeddedServer::start(
        "127.0.0.1:0".parse().expect("address"),
        arena_server::Config::default(),
    )
    .expect("server");
    for msaa in [None, Some(1), Some(4)] {
        measure(msaa, &server);
    }
}
