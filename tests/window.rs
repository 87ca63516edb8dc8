//! Launches the real `arena` binary in a real window under Xvfb (Mesa's
//! software GL) with `--screenshot`, and checks the PNG shows what a player
//! must see: not a blank frame, the arena floor and walls, and the players in
//! their colours.
//!
//! Needs `xvfb-run` (installed by `scripts/test.sh`). Window tests share one
//! lock: parallel `xvfb-run -a` calls can race for the same display number.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use macroquad::color::Color;
use macroquad::texture::Image;

static XVFB: Mutex<()> = Mutex::new(());

/// Runs `arena play ARGS --screenshot PATH --exit-after SECS` under Xvfb and decodes the PNG.
fn screenshot(name: &str, args: &[&str], secs: f32) -> Image {
    let _guard = XVFB.lock().unwrap_or_else(|e| e.into_inner());
    let path: PathBuf = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}.png"));
    let _ = std::fs::remove_file(&path);
    let out = Command::new("timeout")
        .args(["120", "xvfb-run", "-a", "-s", "-screen 0 1280x720x24"])
        .arg(env!("CARGO_BIN_EXE_arena"))
        .arg("play")
        .args(args)
        .args(["--mute", "--seed", "7", "--screenshot"])
        .arg(&path)
        .args(["--exit-after", &secs.to_string()])
        .env("RUST_LOG", "warn")
        .output()
        .expect("xvfb-run not found: run scripts/test.sh, which installs it");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "arena exited with {}\nstderr:\n{stderr}",
        out.status
    );
    assert!(!stderr.contains("panicked"), "arena panicked:\n{stderr}");
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("no screenshot at {path:?}: {e}"));
    Image::from_file_with_format(&bytes, None).expect("screenshot is not a PNG")
}

fn rgb(c: Color) -> [u8; 3] {
    [
        (c.r * 255.0) as u8,
        (c.g * 255.0) as u8,
        (c.b * 255.0) as u8,
    ]
}

/// Pixels within `tol` (per channel) of `c`.
fn count_near(img: &Image, c: Color, tol: i32) -> usize {
    let want = rgb(c);
    img.get_image_data()
        .iter()
        .filter(|p| (0..3).all(|i| (i32::from(p[i]) - i32::from(want[i])).abs() <= tol))
        .count()
}

fn distinct_colours(img: &Image) -> usize {
    let mut seen: Vec<[u8; 3]> = img
        .get_image_data()
        .iter()
        .map(|p| [p[0] & 0xF0, p[1] & 0xF0, p[2] & 0xF0])
        .collect();
    seen.sort_unstable();
    seen.dedup();
    seen.len()
}

#[test]
fn practice_match_draws_arena_players_and_hud() {
    let img = screenshot("practice", &["--practice", "--bots", "3"], 3.0);
    assert_eq!((img.width, img.height), (1280, 720));
    let total = img.get_image_data().len();
    assert!(distinct_colours(&img) > 30, "the frame looks blank");
    // The floor covers a good part of the window, walls are drawn on it.
    let floor = count_near(&img, arena::ui::theme::FLOOR, 6);
    assert!(
        floor > total / 5,
        "arena floor missing: {floor} of {total} pixels"
    );
    let walls = count_near(&img, arena::ui::theme::WALL, 6);
    assert!(walls > total / 200, "walls missing: {walls} pixels");
    // Four players (local + 3 bots) in their distinct colours: blue, red, green, yellow.
    for id in 0..4u8 {
        let c = arena::ui::theme::player_color(id);
        let n = count_near(&img, c, 12);
        assert!(n > 100, "player {id} ({c:?}) not visible: {n} pixels");
    }
    // The HUD bar across the top is the panel colour, not the floor.
    let top_left = img.get_pixel(640, 2);
    assert!(
        top_left.r < 0.2 && top_left.g < 0.2,
        "HUD bar missing: {top_left:?}"
    );
}

#[test]
fn main_menu_draws_title_and_buttons() {
    let img = screenshot("menu", &[], 2.0);
    assert_eq!((img.width, img.height), (1280, 720));
    assert!(distinct_colours(&img) > 20, "the frame looks blank");
    // The title is drawn in the accent colour in the upper part of the window.
    let accent = arena::ui::theme::ACCENT;
    let title_px = (0..300u32)
        .flat_map(|y| (320..960u32).map(move |x| (x, y)))
        .filter(|&(x, y)| {
            let p = img.get_pixel(x, y);
            (p.r - accent.r).abs() < 0.05
                && (p.g - accent.g).abs() < 0.05
                && (p.b - accent.b).abs() < 0.05
        })
        .count();
    assert!(title_px > 500, "title not drawn: {title_px} accent pixels");
    // The focused "Practice" button has its accent outline around the centre column.
    let button = count_near(&img, arena::ui::theme::BUTTON_HOT, 4);
    assert!(button > 5_000, "buttons not drawn: {button} pixels");
}
