//! Launches the real `arena` binary in a real window under Xvfb (Mesa's
//! software GL) with `--screenshot`, and checks the PNG shows what a player
//! must see: not a blank frame, the arena floor and walls, and the players in
//! their colours.
//!
//! Needs `xvfb-run` (installed by `scripts/test.sh`). Window tests share one
//! lock: parallel `xvfb-run -a` calls can race for the same display number.
//! Every run gets its own settings file (`ARENA_CONFIG`), hosts on
//! `127.0.0.1:0` and binds WebRTC to loopback: no fixed port, no traffic
//! off the machine.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use arena::net::EmbeddedServer;
use macroquad::color::{Color, WHITE};
use macroquad::math::Rect;
use macroquad::texture::Image;

static XVFB: Mutex<()> = Mutex::new(());

fn tmp(name: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(name)
}

/// `arena play ARGS` under Xvfb, with a private settings file and loopback networking.
fn arena_play(name: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new("timeout");
    cmd.args(["120", "xvfb-run", "-a", "-s", "-screen 0 1280x720x24"])
        .arg(env!("CARGO_BIN_EXE_arena"))
        .arg("play")
        .args(args)
        .args(["--mute", "--seed", "7", "--host-addr", "127.0.0.1:0", "--bind", "127.0.0.1"])
        .env("ARENA_CONFIG", tmp(&format!("{name}-settings.toml")))
        .env("RUST_LOG", "warn")
        // Its own process group, so `stop` reaches Xvfb and the game too.
        .process_group(0);
    cmd
}

/// Stops a game started with [`arena_play`] (timeout, xvfb-run, Xvfb, arena).
fn stop(mut child: Child) {
    let _ = Command::new("kill")
        .args(["-TERM", "--", &format!("-{}", child.id())])
        .status();
    let _ = child.wait();
}

/// What a run with `--screenshot` left: the frame, stdout and stderr.
struct Shot {
    img: Image,
    stdout: String,
    stderr: String,
}

/// Runs `arena play ARGS --screenshot PATH --exit-after SECS` under Xvfb,
/// with `--msaa` left to its default unless in ARGS and the anti-aliasing
/// choice logged (`src/ui/msaa.rs`).
fn shot(name: &str, args: &[&str], secs: f32) -> Shot {
    let _guard = XVFB.lock().unwrap_or_else(|e| e.into_inner());
    let path = tmp(&format!("{name}.png"));
    let _ = std::fs::remove_file(&path);
    let out = arena_play(name, args)
        .arg("--screenshot")
        .arg(&path)
        .args(["--exit-after", &secs.to_string()])
        .env_remove("ARENA_MSAA")
        .env("RUST_LOG", "warn,arena::ui::msaa=info")
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
    let img = Image::from_file_with_format(&bytes, None).expect("screenshot is not a PNG");
    Shot {
        img,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: stderr.into_owned(),
    }
}

/// Runs `arena play ARGS --screenshot PATH --exit-after SECS` under Xvfb;
/// returns the decoded PNG and what the game printed on stdout.
fn screenshot_with_stdout(name: &str, args: &[&str], secs: f32) -> (Image, String) {
    let s = shot(name, args, secs);
    (s.img, s.stdout)
}

fn screenshot(name: &str, args: &[&str], secs: f32) -> Image {
    screenshot_with_stdout(name, args, secs).0
}

/// Pixels of `rect` that differ from the window background.
fn not_background(img: &Image, rect: Rect) -> usize {
    let bg = rgb(arena::ui::theme::BACKGROUND);
    let mut n = 0;
    for y in rect.y as u32..(rect.y + rect.h) as u32 {
        for x in rect.x as u32..(rect.x + rect.w) as u32 {
            let p = img.get_pixel(x, y);
            let q = rgb(p);
            if (0..3).any(|i| (i32::from(q[i]) - i32::from(bg[i])).abs() > 10) {
                n += 1;
            }
        }
    }
    n
}

/// Pixels of `rect` close to colour `c` (per channel within `tol`).
fn near_in(img: &Image, rect: Rect, c: Color, tol: i32) -> usize {
    let want = rgb(c);
    let mut n = 0;
    for y in rect.y as u32..(rect.y + rect.h) as u32 {
        for x in rect.x as u32..(rect.x + rect.w) as u32 {
            let q = rgb(img.get_pixel(x, y));
            if (0..3).all(|i| (i32::from(q[i]) - i32::from(want[i])).abs() <= tol) {
                n += 1;
            }
        }
    }
    n
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

/// Pixels of a player body in colour `c`: within `tol` of `c` or of one of
/// its hit-flash tints (`c` mixed toward white, up to 85 %, arena.rs), so a
/// player hit at the moment of the screenshot still counts.
fn count_player(img: &Image, c: Color, tol: i32) -> usize {
    let tints: Vec<[u8; 3]> = (0..=17)
        .map(|k| rgb(arena::ui::theme::mix(c, WHITE, k as f32 * 0.05)))
        .collect();
    img.get_image_data()
        .iter()
        .filter(|p| {
            tints
                .iter()
                .any(|t| (0..3).all(|i| (i32::from(p[i]) - i32::from(t[i])).abs() <= tol))
        })
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
    assert_practice_frame(&img);
}

/// A practice match with 3 bots: floor, walls, the four players, the HUD bar.
fn assert_practice_frame(img: &Image) {
    assert_eq!((img.width, img.height), (1280, 720));
    let total = img.get_image_data().len();
    assert!(distinct_colours(img) > 30, "the frame looks blank");
    // The floor covers a good part of the window, walls are drawn on it.
    let floor = count_near(img, arena::ui::theme::FLOOR, 6);
    assert!(
        floor > total / 5,
        "arena floor missing: {floor} of {total} pixels"
    );
    let walls = count_near(img, arena::ui::theme::WALL, 6);
    assert!(walls > total / 200, "walls missing: {walls} pixels");
    // Four players (local + 3 bots) in their distinct colours: blue, red, green, yellow.
    for id in 0..4u8 {
        let c = arena::ui::theme::player_color(id);
        let n = count_near(img, c, 12);
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
    // Practice, opponents, Create room, Join room, Settings, Quit: each drawn.
    for (i, r) in arena::ui::menu::button_rects(1280.0, 720.0)
        .iter()
        .enumerate()
    {
        let area = (r.w * r.h) as usize;
        let face = near_in(&img, *r, arena::ui::theme::BUTTON, 6)
            + near_in(&img, *r, arena::ui::theme::BUTTON_HOT, 6);
        assert!(
            face > area / 2,
            "menu button {i} not drawn at {r:?}: {face} of {area}"
        );
    }
}

#[test]
fn settings_screen_draws_its_rows_and_buttons() {
    let img = screenshot("settings", &["--settings"], 2.0);
    assert!(distinct_colours(&img) > 20, "the frame looks blank");
    let l = arena::ui::settings::layout(1280.0, 720.0);
    let title = count_accent(&img, l.title);
    assert!(
        title > 100,
        "title not drawn: {title} accent pixels in {:?}",
        l.title
    );
    for (what, r) in [
        ("first row", l.rows[0]),
        ("Save", l.save),
        ("Cancel", l.cancel),
    ] {
        let n = not_background(&img, r);
        let area = (r.w * r.h) as usize;
        assert!(
            n > area / 3,
            "{what} not drawn at {r:?}: {n} of {area} pixels"
        );
    }
}

fn count_accent(img: &Image, r: Rect) -> usize {
    near_in(img, r, arena::ui::theme::ACCENT, 20)
}

fn local_server() -> EmbeddedServer {
    EmbeddedServer::start(
        "127.0.0.1:0".parse().unwrap(),
        arena_server::Config::default(),
    )
    .expect("server starts")
}

#[test]
fn joining_an_unknown_room_explains_the_error_with_a_retry() {
    let server = local_server();
    let url = server.url();
    let img = screenshot(
        "join-error",
        &["--room", "zzzz-zzzz", "--server", &url],
        5.0,
    );
    let l = arena::ui::join::layout(1280.0, 720.0);
    // The error box: its red edge and its text.
    let edge = Rect::new(l.error.x, l.error.y, 5.0, l.error.h);
    let red = near_in(&img, edge, arena::ui::theme::HEALTH_LOW, 12);
    assert!(
        red > (5.0 * l.error.h * 0.8) as usize,
        "no error box at {:?}: {red}",
        l.error
    );
    assert!(not_background(&img, l.error) > 2_000, "error text missing");
    // The code field still holds the code; Retry and Back are drawn.
    for (what, r) in [("code", l.code), ("Retry", l.join), ("Back", l.back)] {
        let n = not_background(&img, r);
        assert!(
            n > (r.w * r.h / 3.0) as usize,
            "{what} not drawn at {r:?}: {n}"
        );
    }
}

/// A reddish-green "direct" badge: the route colour dominates the cell.
fn green_badge(img: &Image, r: Rect) -> usize {
    let mut n = 0;
    for y in r.y as u32..(r.y + r.h) as u32 {
        for x in r.x as u32..(r.x + r.w) as u32 {
            let p = img.get_pixel(x, y);
            if p.g > 0.55 && p.g > p.r + 0.2 && p.g > p.b + 0.2 {
                n += 1;
            }
        }
    }
    n
}

#[test]
fn created_room_with_three_bots_shows_four_players_with_route_badges() {
    let (img, stdout) = screenshot_with_stdout("room-bots", &["--create", "--bots", "3"], 8.0);
    assert_room_with_three_bots(&img, &stdout);
}

/// A created room that three bots joined: four players, three direct badges.
fn assert_room_with_three_bots(img: &Image, stdout: &str) {
    assert!(stdout.contains("ROOM "), "no room code printed:\n{stdout}");
    assert_eq!(stdout.matches("JOINED ").count(), 3, "{stdout}");
    // Four players in their colours: the player blue, bots red, yellow, green
    // (a bot just hit is drawn in a lighter tint of its colour).
    for id in 0..4u8 {
        let c = arena::ui::theme::player_color(id);
        let n = count_player(img, c, 12);
        assert!(n > 100, "player {id} ({c:?}) not visible: {n} pixels");
    }
    // The player panel: a row per player, a green "direct" badge for each bot.
    for i in 1..4 {
        let cell = arena::ui::online_screen::badge_cell(i);
        let n = green_badge(img, cell);
        let area = (cell.w * cell.h) as usize;
        assert!(
            n > area / 3,
            "row {i}: no direct badge at {cell:?} ({n} of {area})"
        );
    }
}

/// The log line that says which GL renderer the game found and what
/// anti-aliasing it chose (`src/ui/msaa.rs`), and the renderer's name.
fn gl_choice(stderr: &str) -> (String, String) {
    let line = stderr
        .lines()
        .find(|l| l.contains("GL renderer \""))
        .unwrap_or_else(|| panic!("the GL renderer was not logged:\n{stderr}"))
        .to_owned();
    let renderer = line
        .split_once("GL renderer \"")
        .and_then(|(_, rest)| rest.split_once('"'))
        .map(|(r, _)| r.to_owned())
        .unwrap_or_default();
    (line, renderer)
}

/// Under Xvfb the renderer is Mesa's software rasteriser: read through the
/// patched miniquad (`GL_RENDERER`), it turns anti-aliasing off by default;
/// `--msaa 4` still wins, and the match drawn through the multisampled
/// render target looks like the plain one (the right way up, HUD included).
#[test]
fn software_gl_is_detected_msaa_is_off_by_default_and_a_setting_wins() {
    let auto = shot("msaa-auto", &["--practice", "--bots", "3"], 3.0);
    let (line, renderer) = gl_choice(&auto.stderr);
    assert!(
        arena::ui::msaa::is_software(&renderer),
        "Xvfb should give Mesa's software renderer: {line}"
    );
    assert!(line.contains("MSAA off (auto"), "{line}");
    assert_practice_frame(&auto.img);

    let set = shot("msaa-4", &["--practice", "--bots", "3", "--msaa", "4"], 3.0);
    let (line, _) = gl_choice(&set.stderr);
    assert!(line.contains("4x MSAA (as set"), "{line}");
    assert_practice_frame(&set.img);
}

/// The net graph is rendered into its own texture at the start of a frame;
/// with MSAA on, the frame around it goes back to the multisampled scene.
#[test]
fn created_room_with_net_graph_is_drawn_through_msaa() {
    let s = shot(
        "room-graph-msaa",
        &[
            "--create",
            "--bots",
            "3",
            "--net-graph",
            "true",
            "--msaa",
            "4",
        ],
        8.0,
    );
    assert!(gl_choice(&s.stderr).0.contains("4x MSAA"), "{}", s.stderr);
    assert_room_with_three_bots(&s.img, &s.stdout);
    // The net graph's title, in the accent colour, at the top left of its
    // panel (bottom right of a 1280x720 window: `online_screen/graph.rs`).
    let title = Rect::new(848.0, 262.0, 200.0, 30.0);
    let n = count_accent(&s.img, title);
    assert!(n > 50, "net graph title not drawn at {title:?}: {n} pixels");
}

/// Lines a child prints on stdout, as they come.
fn lines(child: &mut Child) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    let out = child.stdout.take().expect("piped stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Waits for a line starting with `prefix`; returns the rest.
fn wait_for(rx: &mpsc::Receiver<String>, prefix: &str, deadline: Instant) -> String {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                if let Some(rest) = line.strip_prefix(prefix) {
                    return rest.to_owned();
                }
            }
            Err(_) => panic!("no {prefix:?} line in time"),
        }
    }
}

#[test]
fn two_game_processes_play_together_by_code() {
    let _guard = XVFB.lock().unwrap_or_else(|e| e.into_inner());
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut host = arena_play(
        "two-host",
        &["--create", "--name", "Alice", "--exit-after", "30"],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::null())
    .spawn()
    .expect("xvfb-run");
    let host_lines = lines(&mut host);
    let code = wait_for(&host_lines, "ROOM ", deadline);
    let url = wait_for(&host_lines, "SERVER ", deadline);
    // The host's Xvfb is up: a second `xvfb-run -a` picks another display.
    // The guest quits after 12 s (a clean quit: it leaves the room).
    let mut guest = arena_play(
        "two-guest",
        &[
            "--room",
            &code,
            "--server",
            &url,
            "--name",
            "Bob",
            "--exit-after",
            "12",
        ],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::null())
    .spawn()
    .expect("xvfb-run");
    let guest_lines = lines(&mut guest);
    assert_eq!(wait_for(&guest_lines, "ROOM ", deadline), code);
    assert_eq!(wait_for(&host_lines, "JOINED ", deadline), "Bob");
    assert_eq!(wait_for(&guest_lines, "JOINED ", deadline), "Alice");
    let route = wait_for(&host_lines, "ROUTE Bob direct", deadline);
    assert!(route.is_empty(), "{route}");
    // The guest quits: the host sees it leave.
    assert_eq!(wait_for(&host_lines, "LEFT ", deadline), "Bob");
    let status = guest.wait().expect("guest exits");
    assert!(status.success(), "guest exited with {status}");
    stop(host);
}

#[test]
fn losing_the_server_shows_the_reconnecting_banner_and_play_goes_on() {
    let _guard = XVFB.lock().unwrap_or_else(|e| e.into_inner());
    let deadline = Instant::now() + Duration::from_secs(60);
    let server = local_server();
    let url = server.url();
    let path = tmp("server-lost.png");
    let _ = std::fs::remove_file(&path);
    let mut game = arena_play(
        "server-lost",
        &["--create", "--bots", "1", "--server", &url],
    )
    .arg("--screenshot")
    .arg(&path)
    .args(["--exit-after", "9"])
    .stdout(Stdio::piped())
    .stderr(Stdio::null())
    .spawn()
    .expect("xvfb-run");
    let out = lines(&mut game);
    wait_for(&out, "ROUTE Bot Red direct", deadline);
    // The server goes away; the direct link between the game and its bot stays.
    drop(server);
    let status = game.wait().expect("game exits");
    assert!(status.success(), "game exited with {status}");
    let rest: Vec<String> = out.try_iter().collect();
    assert!(
        !rest.iter().any(|l| l.starts_with("LEFT ")),
        "the bot must stay in the match: {rest:?}"
    );
    let bytes = std::fs::read(&path).expect("screenshot");
    let img = Image::from_file_with_format(&bytes, None).expect("PNG");
    // The banner under the HUD bar: its red edges run across the window.
    let edge = Rect::new(0.0, 44.0, 1280.0, 2.0);
    let red = near_in(&img, edge, arena::ui::theme::HEALTH_LOW, 16);
    assert!(
        red > 1280,
        "no reconnecting banner: {red} red pixels in {edge:?}"
    );
}

#[test]
fn a_server_that_needs_a_token_is_explained_and_the_token_setting_opens_it() {
    let config = arena_server::Config {
        create_token: Some("let-me-in".into()),
        ..arena_server::Config::default()
    };
    let server = EmbeddedServer::start("127.0.0.1:0".parse().unwrap(), config).expect("server");
    let url = server.url();
    // Without the token: the failure panel, no room.
    let (img, stdout) =
        screenshot_with_stdout("token-refused", &["--create", "--server", &url], 4.0);
    assert!(!stdout.contains("ROOM "), "{stdout}");
    let (cx, cy) = (640.0, 360.0);
    let title = Rect::new(cx - 300.0, cy - 130.0, 600.0, 60.0);
    let red = near_in(&img, title, arena::ui::theme::HEALTH_LOW, 16);
    assert!(
        red > 200,
        "no 'Could not create a room' title: {red} red pixels"
    );
    // With it: a room.
    let (_, stdout) = screenshot_with_stdout(
        "token-accepted",
        &["--create", "--server", &url, "--create-token", "let-me-in"],
        4.0,
    );
    assert!(stdout.contains("ROOM "), "{stdout}");
}
