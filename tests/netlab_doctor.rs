//! `arena doctor` in the NAT lab: its verdict for players behind each kind of
//! router, against the real server (built-in STUN on 3479 and 3480) and real
//! coturn (STUN and TURN on 3478), and for a server that is not there.
//!
//! Needs root; skips loudly without it, and fails under `CI=true`.
//! `ARENA_LAB_TABLE=path` appends one line per run (verdict, time) for
//! BENCHMARKS.md.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod lab;
mod support;

use std::time::Duration;

use lab::{Host, Ice, Lab, Nat};
use serde_json::Value;

/// Runs `arena doctor --json` in `host`'s namespace; its report.
fn doctor(lab: &mut Lab, host: &Host, url: &str) -> Value {
    let (out, _) = lab.run_in(
        host,
        &[
            env!("CARGO_BIN_EXE_arena"),
            "doctor",
            "--server",
            url,
            "--json",
        ],
        Duration::from_secs(20),
    );
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("doctor printed no report ({e}):\n{out}"))
}

fn table(line: &str) {
    lab::append_table(&[line.to_owned()]);
}

/// The mapped addresses the two built-in STUN ports saw.
fn builtin_mapped(r: &Value) -> Vec<String> {
    r["stun"]["probes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["server"].as_str().unwrap().starts_with("built-in"))
        .map(|p| p["mapped"].as_str().unwrap_or("none").to_owned())
        .collect()
}

/// The TURN check over TCP (the lab hands out a `?transport=tcp` URL).
fn tcp_turn(r: &Value) -> &Value {
    r["turn"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["transport"] == "tcp")
        .unwrap_or_else(|| panic!("no TURN-over-TCP check: {r}"))
}

#[test]
fn verdicts_match_the_router_kind() {
    let Some(mut lab) = lab::lab("doctor") else {
        return;
    };
    let url = lab.servers(Ice::StunTurn);
    let public = lab.public_host();
    let mut homes = Vec::new();
    for nat in [Nat::Cone, Nat::Symmetric, Nat::UdpBlocked] {
        let mut home = lab.home(nat);
        let host = lab.host(&mut home);
        homes.push((nat, home, host));
    }

    let r = doctor(&mut lab, &public, &url);
    let show = r.to_string();
    assert_eq!(r["verdict"], "direct", "{show}");
    assert_eq!(r["exit_code"], 0, "{show}");
    assert_eq!(r["stun"]["mapping"], "no_nat", "{show}");
    assert_eq!(r["turn"][0]["ok"], true, "{show}");
    // TURN over TCP: allocated, and a datagram around the relay.
    let tcp = tcp_turn(&r);
    assert_eq!(tcp["ok"], true, "{show}");
    assert!(
        !tcp["error"].as_str().unwrap().contains("did not come back"),
        "{show}"
    );
    println!("public: TURN over TCP {tcp}");
    // Everything answers: the whole run is quick.
    assert!(r["elapsed_ms"].as_f64().unwrap() < 3000.0, "{show}");
    table(&format!(
        "| public | {} | {:.0} ms |",
        r["verdict"],
        r["elapsed_ms"].as_f64().unwrap()
    ));

    for (nat, home, host) in &homes {
        let r = doctor(&mut lab, host, &url);
        let show = r.to_string();
        let public_of = |m: &str| m.split(':').next().unwrap().to_owned();
        match nat {
            Nat::Cone => {
                assert_eq!(r["verdict"], "direct", "{show}");
                assert_eq!(r["exit_code"], 0, "{show}");
                assert_eq!(r["stun"]["mapping"], "endpoint_independent", "{show}");
                let m = builtin_mapped(&r);
                assert_eq!(m.len(), 2, "{show}");
                assert_eq!(m[0], m[1], "{show}");
                assert_eq!(public_of(&m[0]), home.wan.to_string(), "{show}");
                let tcp = tcp_turn(&r);
                assert_eq!(tcp["ok"], true, "{show}");
                assert!(
                    !tcp["error"].as_str().unwrap().contains("did not come back"),
                    "{show}"
                );
                println!("cone: TURN over TCP {tcp}");
                assert!(r["elapsed_ms"].as_f64().unwrap() < 3000.0, "{show}");
            }
            Nat::Symmetric => {
                assert_eq!(r["verdict"], "needs_turn", "{show}");
                assert_eq!(r["exit_code"], 1, "{show}");
                assert_eq!(r["stun"]["mapping"], "endpoint_dependent", "{show}");
                let m = builtin_mapped(&r);
                assert_ne!(m[0], m[1], "{show}");
                // TURN works from behind it: that is what it will use.
                assert_eq!(r["turn"][0]["ok"], true, "{show}");
                assert!(
                    r["lines"].to_string().contains("you will need TURN"),
                    "{show}"
                );
                assert!(r["elapsed_ms"].as_f64().unwrap() < 3000.0, "{show}");
            }
            Nat::UdpBlocked => {
                assert_eq!(r["verdict"], "relay_only", "{show}");
                assert_eq!(r["exit_code"], 1, "{show}");
                assert_eq!(r["udp_blocked"], true, "{show}");
                assert_eq!(r["stun"]["mapping"], "no_answer", "{show}");
                assert!(r["lines"].to_string().contains("blocks UDP"), "{show}");
                // TURN over TCP allocates even so (the datagram over UDP
                // cannot come back), and it does not change the verdict:
                // the game's WebRTC cannot use it.
                let tcp = tcp_turn(&r);
                assert_eq!(tcp["ok"], true, "{show}");
                assert!(
                    tcp["error"].as_str().unwrap().contains("did not come back"),
                    "{show}"
                );
                assert!(
                    r["lines"].to_string().contains("TURN over TCP works"),
                    "{show}"
                );
                println!("udp-blocked: TURN over TCP {tcp}");
            }
            _ => unreachable!(),
        }
        table(&format!(
            "| {nat:?} | {} | {:.0} ms |",
            r["verdict"],
            r["elapsed_ms"].as_f64().unwrap()
        ));
    }

    // A server that is not there (nothing listens on this port): exit 2,
    // quickly, with the address in the sentence.
    let wrong = url.replace(&lab::SIGNAL_PORT.to_string(), "3999");
    let r = doctor(&mut lab, &public, &wrong);
    let show = r.to_string();
    assert_eq!(r["verdict"], "unreachable", "{show}");
    assert_eq!(r["exit_code"], 2, "{show}");
    assert!(
        r["lines"][0]["text"].as_str().unwrap().contains(&wrong),
        "{show}"
    );

    // The human form: verdict lines and the exit status.
    let (text, ok) = lab.run_in(
        &homes[1].2,
        &[env!("CARGO_BIN_EXE_arena"), "doctor", "--server", &url],
        Duration::from_secs(20),
    );
    assert!(!ok, "a symmetric NAT must not exit 0:\n{text}");
    assert!(text.contains("symmetric"), "{text}");
}

/// The game's Settings → Test connection, behind a symmetric NAT: the window
/// (Xvfb, software GL) shows the verdict; the screenshot is kept in the lab
/// folder (README's picture comes from it).
#[test]
fn the_settings_screen_shows_the_verdict_behind_a_symmetric_nat() {
    use macroquad::prelude::Image;
    let Some(mut lab) = lab::lab("doctor-window") else {
        return;
    };
    let url = lab.servers(Ice::StunTurn);
    let mut home = lab.home(Nat::Symmetric);
    let host = lab.host(&mut home);
    let shot = lab.dir.join("test-connection.png");
    let settings = lab.dir.join("settings.toml");
    let (out, ok) = lab.run_in(
        &host,
        &[
            "env",
            &format!("ARENA_CONFIG={}", settings.display()),
            "RUST_LOG=warn",
            "xvfb-run",
            "-a",
            "-s",
            "-screen 0 1280x720x24",
            env!("CARGO_BIN_EXE_arena"),
            "play",
            "--test-connection",
            "--server",
            &url,
            "--mute",
            "--screenshot",
            &shot.display().to_string(),
            // The test takes well under a second here; the screenshot is
            // taken when the game exits.
            "--exit-after",
            "4",
        ],
        Duration::from_secs(60),
    );
    assert!(ok, "the game failed:\n{out}");
    let bytes = std::fs::read(&shot).expect("no screenshot");
    let img = Image::from_file_with_format(&bytes, None).expect("not a PNG");
    // The headline ("You can play; with some players only through TURN ...")
    // is drawn in the accent colour, and the ✔ of the server line in green,
    // inside the report panel.
    let w = usize::from(img.width);
    // Pixels near colour `c` in the rows `ys` of the screenshot.
    let near = |c: macroquad::prelude::Color, ys: std::ops::Range<usize>| {
        let want = [c.r, c.g, c.b].map(|v| (v * 255.0) as i32);
        img.get_image_data()
            .iter()
            .enumerate()
            .filter(|(i, p)| {
                ys.contains(&(i / w)) && (0..3).all(|k| (i32::from(p[k]) - want[k]).abs() <= 40)
            })
            .count()
    };
    // The headline band (layout: 1280x720, first line of the report panel).
    let accent = near(
        macroquad::prelude::Color::new(1.0, 0.74, 0.25, 1.0),
        160..200,
    );
    let green = near(
        macroquad::prelude::Color::new(0.30, 0.85, 0.45, 1.0),
        200..400,
    );
    assert!(
        accent > 1000 && green > 300,
        "accent {accent}, green {green}: {shot:?}"
    );
}
