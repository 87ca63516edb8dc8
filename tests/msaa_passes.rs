//! A frame drawn into a multisampled render target is resolved once per
//! flush, not once per draw call (patches/macroquad: `QuadGl::draw` keeps one
//! render pass open across consecutive draw calls into the same target).
//!
//! miniquad resolves a multisampled target (a blit of the whole target) each
//! time a pass into it ends, and macroquad 0.4.16 began and ended a pass
//! around every draw call: the game's frame, drawn into a 4x target on a GPU
//! (`src/ui/msaa.rs`), was resolved once per draw call. Here a window under
//! Xvfb draws the same 200 draw calls (alternating textures, so none are
//! merged) into a single-sampled and into a 4x target of the window's size,
//! frames alternating, and the 4x frame's median time must stay within a few
//! times the single-sampled one's. With the patch the 4x frame costs two
//! resolves more (one after the clear, one at the end): about 2x the
//! single-sampled frame under Mesa's llvmpipe (2.0x to 2.3x measured, the
//! machine loaded or not); without it, 200 more: 58x measured (3.0 s
//! against 51 ms). The test asks for under 5x.
//!
//! A test of its own (`harness = false`): it opens a macroquad window, which
//! wants the main thread, so the test runs itself again under `xvfb-run`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;
use std::time::Instant;

use macroquad::prelude::*;

/// Set in the process that opens the window.
const CHILD: &str = "ARENA_TEST_MSAA_PASSES_WINDOW";
/// Draw calls per frame.
const DRAW_CALLS: usize = 200;
/// Frames measured per target.
const FRAMES: usize = 15;
/// The most the 4x frame may cost, in single-sampled frames.
const MAX_RATIO: f64 = 5.0;
const NAME: &str = "msaa_target_is_resolved_once_per_flush_not_per_draw_call";

fn main() {
    if std::env::var_os(CHILD).is_some() {
        window();
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        println!("{NAME}: test");
        return;
    }
    if !selected(&args) {
        println!("running 0 tests ({NAME} filtered out)");
        return;
    }
    println!("running 1 test");
    let out = Command::new("timeout")
        .args(["120", "xvfb-run", "-a", "-s", "-screen 0 1280x720x24"])
        .arg(std::env::current_exe().expect("own path"))
        .env(CHILD, "1")
        .output()
        .expect("xvfb-run not found: run scripts/test.sh, which installs it");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the window exited with {}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    let medians: Vec<f64> = stdout
        .lines()
        .find_map(|l| l.strip_prefix("MEDIANS "))
        .unwrap_or_else(|| panic!("no MEDIANS line:\n{stdout}\n{stderr}"))
        .split(' ')
        .map(|v| v.parse().expect("a number"))
        .collect();
    let (single, msaa) = (medians[0], medians[1]);
    let ratio = msaa / single;
    println!(
        "test {NAME}: {DRAW_CALLS} draw calls, single-sampled target {single:.2} ms, \
         4x target {msaa:.2} ms a frame ({ratio:.1}x)"
    );
    assert!(
        ratio < MAX_RATIO,
        "a 4x target costs {ratio:.1}x a single-sampled one ({msaa:.2} vs {single:.2} ms \
         for {DRAW_CALLS} draw calls): resolved once per draw call?"
    );
    println!("test result: ok. 1 passed");
}

/// Whether libtest's arguments (`cargo test [FILTER] -- [ARGS]`) select
/// this test: name filters, `--skip`, `--exact`, `--ignored` (it is not).
fn selected(args: &[String]) -> bool {
    let exact = args.iter().any(|a| a == "--exact");
    let matches = |f: &str| if exact { NAME == f } else { NAME.contains(f) };
    let mut filters = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--ignored" => return false,
            "--skip" => {
                if it.next().is_some_and(|f| matches(f)) {
                    return false;
                }
            }
            // Options that take a value as the next argument.
            "--test-threads" | "--format" | "--color" | "--logfile" | "--shuffle-seed" | "-Z" => {
                it.next();
            }
            a if a.starts_with('-') => {}
            filter => filters.push(filter),
        }
    }
    filters.is_empty() || filters.iter().any(|f| matches(f))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// In the child, under Xvfb: draws the frames, prints `MEDIANS single msaa`
/// (ms) and exits.
fn window() -> ! {
    let conf = Conf {
        window_title: "msaa passes".to_owned(),
        window_width: 1280,
        window_height: 720,
        ..Default::default()
    };
    macroquad::Window::from_config(conf, async {
        let texture = Texture2D::from_rgba8(1, 1, &[255, 0, 0, 255]);
        let targets = [1, 4].map(|samples| {
            render_target_ex(
                1280,
                720,
                RenderTargetParams {
                    sample_count: samples,
                    depth: false,
                },
            )
        });
        let mut times: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
        // Two frames each to warm up, then FRAMES each, alternating.
        for frame in 0..2 * (FRAMES + 2) {
            let which = frame % 2;
            let start = Instant::now();
            let mut camera = Camera2D::from_display_rect(Rect::new(0.0, 0.0, 1280.0, 720.0));
            camera.render_target = Some(targets[which].clone());
            set_camera(&camera);
            clear_background(BLACK);
            for i in 0..DRAW_CALLS {
                let (x, y) = ((i % 40) as f32 * 32.0, (i / 40) as f32 * 32.0);
                // A texture switch ends macroquad's batch: one draw call each.
                if i % 2 == 0 {
                    draw_rectangle(x, y, 24.0, 24.0, WHITE);
                } else {
                    draw_texture_ex(
                        &texture,
                        x,
                        y,
                        WHITE,
                        DrawTextureParams {
                            dest_size: Some(vec2(24.0, 24.0)),
                            ..Default::default()
                        },
                    );
                }
            }
            set_default_camera();
            draw_texture_ex(
                &targets[which].texture,
                0.0,
                0.0,
                WHITE,
                DrawTextureParams {
                    dest_size: Some(vec2(1280.0, 720.0)),
                    ..Default::default()
                },
            );
            next_frame().await;
            if frame >= 4 {
                times[which].push(start.elapsed().as_secs_f64() * 1000.0);
            }
        }
        let [single, msaa] = times;
        println!("MEDIANS {} {}", median(single), median(msaa));
        std::process::exit(0)
    });
    std::process::exit(0)
}
