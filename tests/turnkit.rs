//! The TURN kit against real coturn: `server/deploy/turnserver.conf`, exactly
//! as deployed, in the NAT lab's server namespace, checked with `arena
//! turn-probe` (the probe `arena doctor` uses) from a public host and from a
//! home behind a cone NAT, with credentials made the way arena-server makes
//! them.
//!
//! - the relay round trip works (allocate, permit our own mapped address,
//!   a datagram sent to the relayed address comes back through the relay),
//!   relayed on the configured port range;
//! - a permission to another public host is granted;
//! - permissions to loopback, private, link-local (cloud metadata),
//!   carrier-grade-NAT addresses are refused with 403;
//! - a wrong password and expired credentials are refused (401);
//! - coturn leaves port 3479 to arena-server's STUN server.
//!
//! Needs root; skips loudly without it, and fails under `CI=true`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod lab;
mod support;

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lab::{Host, Lab, Nat, SERVER_IP, TURN_PORT};
use serde_json::Value;

/// The TURN REST secret of this test (a deployment passes its own on the
/// command line).
const SECRET: &str = "turnkit-secret";

/// Peers a hardened TURN server must refuse (403).
const DENIED: [&str; 6] = [
    "127.0.0.1",
    "10.1.0.2",
    "169.254.169.254",
    "172.16.0.1",
    "192.168.1.1",
    "100.64.0.1",
];

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// `arena turn-probe` in `host`'s namespace; its JSON lines.
fn probe(lab: &mut Lab, host: &Host, user: &str, pass: &str, peers: &[String]) -> Vec<Value> {
    let server = format!("{SERVER_IP}:{TURN_PORT}");
    let mut cmd = vec![
        env!("CARGO_BIN_EXE_arena"),
        "turn-probe",
        "--server",
        &server,
        "--user",
        user,
        "--pass",
        pass,
        "--timeout",
        "5",
    ];
    for p in peers {
        cmd.extend(["--peer", p]);
    }
    // Each check is bounded by 5 s (+1 s to release).
    let within = Duration::from_secs(6 * (1 + peers.len() as u64) + 5);
    let (out, ok) = lab.run_in(host, &cmd, within);
    assert!(ok, "turn-probe failed; printed:\n{out}");
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
        .collect();
    assert_eq!(lines.len(), 1 + peers.len(), "{out}");
    lines
}

#[test]
fn hardened_coturn_relays_players_and_refuses_private_peers() {
    let Some(mut lab) = lab::lab("turnkit") else {
        return;
    };
    let conf = Path::new(env!("CARGO_MANIFEST_DIR")).join("server/deploy/turnserver.conf");
    let server = lab.coturn_from_config(&conf, SECRET);
    let public = lab.public_host();
    let other = lab.public_host();
    let mut home = lab.home(Nat::Cone);
    let behind = lab.host(&mut home);

    let mut peers = vec![format!("{}:9", other.ip)];
    peers.extend(DENIED.iter().map(|ip| format!("{ip}:9")));
    for (who, host, mapped_ip) in [("public", &public, public.ip), ("cone", &behind, home.wan)] {
        // What arena-server hands a player (1 h, its default TTL).
        let c = arena_server::turn::rest_credentials(SECRET, who, now_unix(), 3600);
        let lines = probe(&mut lab, host, &c.username, &c.credential, &peers);
        let relay = &lines[0];
        assert_eq!(relay["check"], "relay", "{who}: {relay}");
        assert_eq!(relay["ok"], true, "{who}: {relay}");
        let relayed: std::net::SocketAddr = relay["relayed"].as_str().unwrap().parse().unwrap();
        assert_eq!(relayed.ip(), SERVER_IP, "{who}: {relay}");
        assert!(
            (49152..=65535).contains(&relayed.port()),
            "{who}: relay port outside min-port..max-port: {relay}"
        );
        let mapped: std::net::SocketAddr = relay["mapped"].as_str().unwrap().parse().unwrap();
        assert_eq!(mapped.ip(), mapped_ip, "{who}: {relay}");
        let rtt = relay["rtt_ms"].as_f64().unwrap();
        assert!(rtt > 0.0 && rtt < 1000.0, "{who}: {relay}");
        eprintln!("{who}: relay round trip {rtt:.3} ms ({relay})");

        let granted = &lines[1];
        assert_eq!(granted["check"], "peer", "{who}: {granted}");
        assert_eq!(
            granted["ok"], true,
            "{who}: permission to a public host: {granted}"
        );
        eprintln!("{who}: {}", lines[2]);
        for (line, ip) in lines[2..].iter().zip(DENIED) {
            assert_eq!(line["peer"], format!("{ip}:9"), "{who}: {line}");
            assert_eq!(line["ok"], false, "{who}: {ip} must be refused: {line}");
            assert_eq!(line["code"], 403, "{who}: {ip}: {line}");
            assert!(line["error"].as_str().unwrap().contains("403"), "{line}");
        }
    }

    // Credentials that are not the secret's: refused after the challenge.
    let c = arena_server::turn::rest_credentials(SECRET, "wrong", now_unix(), 3600);
    let lines = probe(&mut lab, &public, &c.username, "not-the-password", &[]);
    assert_eq!(lines[0]["ok"], false, "{}", lines[0]);
    assert_eq!(lines[0]["kind"], "unauthorized", "{}", lines[0]);
    assert_eq!(lines[0]["code"], 401, "{}", lines[0]);
    // Right HMAC, but expired an hour ago: refused too.
    let c = arena_server::turn::rest_credentials(SECRET, "late", now_unix() - 7200, 3600);
    let lines = probe(&mut lab, &behind, &c.username, &c.credential, &[]);
    assert_eq!(lines[0]["kind"], "unauthorized", "{}", lines[0]);

    // Nothing of coturn's on 3479-3480 (arena-server's STUN server, when
    // they share a machine), nor a CLI on 5766.
    let (udp, _) = lab.run_in(&server, &["ss", "-Hlnu"], lab::WAIT);
    let (tcp, _) = lab.run_in(&server, &["ss", "-Hlnt"], lab::WAIT);
    for port in [":3479 ", ":3480 ", ":5766 "] {
        assert!(
            !udp.contains(port) && !tcp.contains(port),
            "coturn listens on {port}:\n{udp}{tcp}"
        );
    }
    assert!(udp.contains(&format!("{SERVER_IP}:{TURN_PORT} ")), "{udp}");
    assert!(tcp.contains(&format!("{SERVER_IP}:{TURN_PORT} ")), "{tcp}");
}
