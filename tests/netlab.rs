//! The NAT matrix: players on different networks, behind the NAT routers of
//! `tests/lab`, with the real signaling server, real coturn and real `arena
//! bot` processes. Each cell asserts, from both bots' reports, the route and
//! the candidate pair, the time until the link opened, and that states and
//! numbered reliable events flowed exactly once, in order.
//!
//! Needs root; skips loudly without it, and fails under `CI=true`.
//! `ARENA_LAB_TABLE=path` appends one line per cell (route, pair, time to
//! open, RTT) for BENCHMARKS.md.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod lab;

use std::io::Write;
use std::time::Instant;

use lab::{Host, Ice, Lab, Nat};
use serde_json::Value;

/// Seconds each bot plays once in the room.
const PLAY: f64 = 9.0;
/// Reliable events each bot sends (40 per second).
const EVENTS: u32 = 200;
/// The bots' P2P timeout (Hybrid falls back to the relay after it).
const P2P_TIMEOUT: f64 = 5.0;

/// Where a player is.
#[derive(Debug, Clone, Copy)]
enum At {
    /// On the internet with a public address.
    Public,
    /// Alone in a home behind this NAT.
    Home(Nat),
    /// In the previous player's home (same NAT).
    SameHome,
}

/// What a link must end on.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    /// WebRTC, host candidates at both ends.
    DirectHost,
    /// WebRTC, through NAT: a server- or peer-reflexive candidate at one end at least.
    DirectReflexive,
    /// WebRTC, either kind of direct pair.
    Direct,
    /// WebRTC through the TURN server.
    Turn,
    /// The signaling server's relay, within the P2P timeout.
    Relay,
    /// Nothing (WebRTC-only mode with no path), with a reason.
    Unreachable,
}

/// Places the players; returns their hosts.
fn place(lab: &mut Lab, players: &[At]) -> Vec<Host> {
    let mut hosts = Vec::new();
    let mut last_home = None;
    for at in players {
        let host = match *at {
            At::Public => lab.public_host(),
            At::Home(nat) => {
                let mut home = lab.home(nat);
                let h = lab.host(&mut home);
                last_home = Some(home);
                h
            }
            At::SameHome => {
                let home = last_home.as_mut().expect("SameHome follows a Home");
                lab.host(home)
            }
        };
        hosts.push(host);
    }
    hosts
}

/// Runs one bot per player in one room (the first creates it) with `args`;
/// returns the reports in order.
fn play(lab: &mut Lab, url: &str, hosts: &[Host], args: &[&str], events: u32) -> Vec<Value> {
    let d = PLAY.to_string();
    let ev = events.to_string();
    let timeout = P2P_TIMEOUT.to_string();
    let others = (hosts.len() - 1).to_string();
    let common = [
        &[
            "--events",
            &ev,
            "--events-after-peers",
            &others,
            "--p2p-timeout",
            &timeout,
        ][..],
        args,
    ]
    .concat();
    let mut first = lab.bot(
        &hosts[0],
        "p0",
        url,
        &[&["--create", "--duration", &d][..], &common].concat(),
    );
    let code = first.code();
    let mut bots = vec![first];
    for (i, host) in hosts.iter().enumerate().skip(1) {
        // Later bots join later: all stop at about the same time.
        let d = (PLAY - 0.2 * i as f64).to_string();
        let name = format!("p{i}");
        bots.push(lab.bot(
            host,
            &name,
            url,
            &[&["--room", &code, "--duration", &d][..], &common].concat(),
        ));
    }
    bots.into_iter().map(|b| b.finish()).collect()
}

/// The report's entry for player `name`; in a room of two, the one entry
/// (a WebRTC-only peer with no link never says its name).
fn peer<'a>(report: &'a Value, name: &str) -> &'a Value {
    let peers = report["peers"].as_object().unwrap();
    peers
        .values()
        .find(|p| p["name"] == name)
        .or_else(|| (peers.len() == 1).then(|| peers.values().next()).flatten())
        .unwrap_or_else(|| panic!("no peer {name} in {report:#}"))
}

/// Checks the link from `report` (player `me`) to player `other`.
fn check_link(
    cell: &str,
    report: &Value,
    me: usize,
    (other, other_ip): (usize, &str),
    expect: Expect,
    events: u32,
) -> String {
    let p = peer(report, &format!("p{other}"));
    let ctx = || format!("{cell}: p{me} -> p{other}: {p:#}");
    let route = p["route"].as_str().unwrap_or("none");
    let pair = &p["pair"];
    let (local, remote) = (
        pair["local"].as_str().unwrap_or("-"),
        pair["remote"].as_str().unwrap_or("-"),
    );
    match expect {
        Expect::DirectHost => {
            // Their host address, signaled (host) or met first in a check (prflx).
            assert_eq!(route, "direct", "{}", ctx());
            assert_eq!(local, "host", "{}", ctx());
            let addr = pair["remote_addr"].as_str().unwrap_or_default();
            assert!(addr.starts_with(&format!("{other_ip}:")), "{}", ctx());
        }
        Expect::DirectReflexive => {
            assert_eq!(route, "direct", "{}", ctx());
            let reflexive = |t: &str| t == "srflx" || t == "prflx";
            assert!(reflexive(local) || reflexive(remote), "{}", ctx());
        }
        Expect::Direct => assert_eq!(route, "direct", "{}", ctx()),
        Expect::Turn => {
            assert_eq!(route, "turn", "{}", ctx());
            assert_eq!(pair["turn"], true, "{}", ctx());
            assert_eq!(p["candidate"], "relay", "{}", ctx());
        }
        Expect::Relay => {
            assert_eq!(route, "relay", "{}", ctx());
            let after = p["relay_after_s"].as_f64().expect("relay_after_s");
            assert!(
                after <= P2P_TIMEOUT + 1.0,
                "relay after {after} s: {}",
                ctx()
            );
            assert!(p["p2p_failure"].is_string(), "no reason: {}", ctx());
        }
        Expect::Unreachable => {
            assert_eq!(route, "unreachable", "{}", ctx());
            assert!(p["p2p_failure"].is_string(), "no reason: {}", ctx());
        }
    }
    let p2p = matches!(
        expect,
        Expect::DirectHost | Expect::DirectReflexive | Expect::Direct | Expect::Turn
    );
    if p2p {
        assert!(p["p2p_after_s"].as_f64().is_some(), "{}", ctx());
        assert_eq!(
            p["routes"].as_array().unwrap().len(),
            2,
            "one attempt: {}",
            ctx()
        );
    }
    if expect != Expect::Unreachable {
        assert!(p["states_in"].as_u64().unwrap() > 100, "states: {}", ctx());
        assert_eq!(p["series_in"], events, "events: {}", ctx());
        assert_eq!(p["series_in_order"], true, "events in order: {}", ctx());
    }
    let f = |k: &str| p[k].as_f64().map_or("-".into(), |v| format!("{v:.2}"));
    format!(
        "| {cell} | p{me}→p{other} | {route} | {local} → {remote} | {} | {} | {} |",
        f("p2p_after_s"),
        f("rtt_p50_ms"),
        f("rtt_p99_ms")
    )
}

/// A cell: players placed as `players`, ICE servers `ice`, bots with `args`;
/// `expect(i, j)` says how the link from player i to player j must end.
fn cell(
    name: &str,
    ice: Ice,
    players: &[At],
    args: &[&str],
    expect: impl Fn(usize, usize) -> Expect,
) {
    cell_with(name, ice, players, args, EVENTS, expect);
}

/// [`cell`] with `events` reliable events per bot.
fn cell_with(
    name: &str,
    ice: Ice,
    players: &[At],
    args: &[&str],
    events: u32,
    expect: impl Fn(usize, usize) -> Expect,
) {
    let Some(mut lab) = lab::lab(name) else {
        return;
    };
    let started = Instant::now();
    let url = lab.servers(ice);
    let hosts = place(&mut lab, players);
    let reports = play(&mut lab, &url, &hosts, args, events);
    let mut lines = Vec::new();
    for (i, report) in reports.iter().enumerate() {
        assert!(
            report["errors"].as_array().unwrap().is_empty(),
            "{name}: p{i}: {report:#}"
        );
        for j in (0..players.len()).filter(|j| *j != i) {
            let other = (j, hosts[j].ip.to_string());
            lines.push(check_link(
                name,
                report,
                i,
                (other.0, &other.1),
                expect(i, j),
                events,
            ));
        }
    }
    eprintln!(
        "{name}: {:.1} s\n{}",
        started.elapsed().as_secs_f64(),
        lines.join("\n")
    );
    if let Ok(path) = std::env::var("ARENA_LAB_TABLE") {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        for l in &lines {
            writeln!(f, "{l}").unwrap();
        }
    }
    drop(lab);
}

#[test]
fn public_to_public_goes_direct_on_host_candidates() {
    cell(
        "public-public",
        Ice::Nothing,
        &[At::Public, At::Public],
        &[],
        |_, _| Expect::DirectHost,
    );
}

#[test]
fn same_nat_goes_direct_on_host_candidates() {
    let players = [At::Home(Nat::Cone), At::SameHome];
    cell("same-nat", Ice::Stun, &players, &[], |_, _| {
        Expect::DirectHost
    });
}

#[test]
fn one_to_one_nat_to_cone_goes_direct_with_stun() {
    let players = [At::Home(Nat::OneToOne), At::Home(Nat::Cone)];
    cell("1to1-cone", Ice::Stun, &players, &[], |_, _| {
        Expect::DirectReflexive
    });
}

#[test]
fn cone_to_cone_hole_punches_with_stun() {
    let players = [At::Home(Nat::Cone), At::Home(Nat::Cone)];
    cell("cone-cone", Ice::Stun, &players, &[], |_, _| {
        Expect::DirectReflexive
    });
}

#[test]
fn cone_to_symmetric_goes_through_turn() {
    let players = [At::Home(Nat::Cone), At::Home(Nat::Symmetric)];
    cell("cone-sym", Ice::StunTurn, &players, &[], |_, _| {
        Expect::Turn
    });
}

#[test]
fn symmetric_to_symmetric_goes_through_turn() {
    let players = [At::Home(Nat::Symmetric), At::Home(Nat::Symmetric)];
    cell("sym-sym", Ice::StunTurn, &players, &[], |_, _| Expect::Turn);
}

#[test]
fn cone_to_cone_without_stun_relays_in_hybrid() {
    let players = [At::Home(Nat::Cone), At::Home(Nat::Cone)];
    cell(
        "cone-cone-nothing-hybrid",
        Ice::Nothing,
        &players,
        &[],
        |_, _| Expect::Relay,
    );
}

#[test]
fn cone_to_cone_without_stun_is_unreachable_in_webrtc_only() {
    let players = [At::Home(Nat::Cone), At::Home(Nat::Cone)];
    let args = ["--mode", "webrtc"];
    cell(
        "cone-cone-nothing-webrtc",
        Ice::Nothing,
        &players,
        &args,
        |_, _| Expect::Unreachable,
    );
}

/// webrtc 0.21 skips `turn:…?transport=tcp` URLs, so a player whose network
/// drops UDP cannot use TURN over TCP: Hybrid relays through the server.
#[test]
fn udp_blocked_relays_through_the_server() {
    let players = [At::Home(Nat::UdpBlocked), At::Home(Nat::Cone)];
    cell("udp-blocked-cone", Ice::StunTurn, &players, &[], |_, _| {
        Expect::Relay
    });
}

#[test]
fn eight_players_each_link_on_its_route() {
    use Nat::*;
    let players = [
        At::Home(Cone),
        At::Home(Cone),
        At::Home(Cone),
        At::Home(Symmetric),
        At::Home(Symmetric),
        At::Home(Symmetric),
        At::Public,
        At::Home(UdpBlocked),
    ];
    let kind = |i: usize| match i {
        0..=2 => "cone",
        3..=5 => "sym",
        6 => "public",
        _ => "udp-blocked",
    };
    // The UDP-blocked player relays to 7 peers through the server, whose
    // per-connection relay budget (250 messages/s) its states alone nearly
    // fill (7 × 20/s): a short series, so its resends fit in the run.
    cell_with("eight", Ice::StunTurn, &players, &[], 40, |i, j| {
        match (kind(i), kind(j)) {
            ("udp-blocked", _) | (_, "udp-blocked") => Expect::Relay,
            ("sym", "sym") | ("sym", "cone") | ("cone", "sym") => Expect::Turn,
            _ => Expect::Direct,
        }
    });
}
