//! `https://` server URLs through a real TLS-terminating reverse proxy: the
//! NAT lab's signaling server behind Debian's nginx running
//! `server/deploy/nginx.conf` (its listen address, certificate paths and
//! upstream substituted), with a throwaway CA and a certificate for the
//! server's IP address made by the `openssl` CLI at test time.
//!
//! Two bots behind cone NATs, trusting the CA through `SSL_CERT_FILE`, play
//! a room: one at `https://198.18.0.2`, the other at
//! `https://198.18.0.2/arena/` (the deploy file's sub-path recipe). With no
//! STUN, their link relays through the server, so the game's states and
//! reliable events themselves cross the proxy. nginx's access log must show
//! both WebSocket upgrades (101): the polling and WebSocket transports both
//! trusted the CA. A bot that does not trust it must exit quickly with a
//! plain "certificate is not trusted" error.
//!
//! Needs root, the NAT lab's tools, `nginx` and `openssl`; skips loudly
//! without them, and fails under `CI=true`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod lab;
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use lab::{Ice, Lab, Nat, SERVER_IP, SIGNAL_PORT};
use serde_json::Value;

/// Seconds each bot plays once in the room.
const PLAY: f64 = 9.0;
/// Reliable events each bot sends.
const EVENTS: u32 = 200;
/// The bots' P2P timeout (Hybrid falls back to the relay after it).
const P2P_TIMEOUT: f64 = 5.0;

/// Replaces the one occurrence of `from` in `text` (fails if there is not
/// exactly one: the deploy file changed and the test must follow).
fn replace_once(text: &str, from: &str, to: &str) -> String {
    assert_eq!(
        text.matches(from).count(),
        1,
        "server/deploy/nginx.conf: expected {from:?} once"
    );
    text.replacen(from, to, 1)
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA (`ca.pem`) and a certificate it signed for the server's IP address
/// (`server.pem`, `server.key`), in `dir`.
fn make_certificates(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];
    openssl(
        dir,
        &[
            &["req", "-x509", "-nodes", "-days", "2"][..],
            &ec,
            &["-keyout", "ca.key", "-out", "ca.pem"],
            &["-subj", "/CN=Arena NAT lab CA"],
            &["-addext", "basicConstraints=critical,CA:TRUE"],
            &["-addext", "keyUsage=critical,keyCertSign,cRLSign"],
        ]
        .concat(),
    );
    openssl(
        dir,
        &[
            &["req", "-nodes"][..],
            &ec,
            &["-keyout", "server.key", "-out", "server.csr"],
            &["-subj", &format!("/CN={SERVER_IP}")],
        ]
        .concat(),
    );
    std::fs::write(
        dir.join("server.ext"),
        format!(
            "subjectAltName = IP:{SERVER_IP}\n\
             basicConstraints = CA:FALSE\n\
             keyUsage = digitalSignature\n\
             extendedKeyUsage = serverAuth\n"
        ),
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "server.ext",
            "-out",
            "server.pem",
        ],
    );
}

/// `server/deploy/nginx.conf` for the lab: listening on the server's address
/// (IPv4 only: the lab has no IPv6), the lab's certificate, the lab server
/// as upstream, and a second location that serves the game under `/arena/`
/// as the file's comment describes.
fn lab_site(certs: &Path) -> String {
    let deploy = Path::new(env!("CARGO_MANIFEST_DIR")).join("server/deploy/nginx.conf");
    let text = std::fs::read_to_string(&deploy).expect("server/deploy/nginx.conf");
    let text = replace_once(
        &text,
        "    listen 443 ssl;\n",
        &format!("    listen {SERVER_IP}:443 ssl;\n"),
    );
    let text = replace_once(&text, "    listen [::]:443 ssl;\n", "");
    let text = replace_once(
        &text,
        "/etc/letsencrypt/live/arena.example.org/fullchain.pem",
        &certs.join("server.pem").display().to_string(),
    );
    let text = replace_once(
        &text,
        "/etc/letsencrypt/live/arena.example.org/privkey.pem",
        &certs.join("server.key").display().to_string(),
    );
    let text = replace_once(
        &text,
        "proxy_pass http://127.0.0.1:3536;",
        &format!("proxy_pass http://{SERVER_IP}:{SIGNAL_PORT};"),
    );
    // The sub-path recipe: the same location as `/arena/`, prefix stripped.
    let start = text.find("    location / {\n").expect("location /");
    let len = text[start..].find("\n    }\n").expect("end of location /") + "\n    }\n".len();
    let root = &text[start..start + len];
    let sub = replace_once(root, "location / {", "location /arena/ {");
    let sub = replace_once(
        &sub,
        &format!("proxy_pass http://{SERVER_IP}:{SIGNAL_PORT};"),
        &format!("proxy_pass http://{SERVER_IP}:{SIGNAL_PORT}/;"),
    );
    format!("{}{sub}\n{}", &text[..start], &text[start..])
}

/// The report's entry for player `name`.
fn peer<'a>(report: &'a Value, name: &str) -> &'a Value {
    let peers = report["peers"].as_object().unwrap();
    peers
        .values()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no peer {name} in {report:#}"))
}

/// What `tests/netlab.rs` checks of a relayed link (cone ↔ cone with no
/// STUN, Hybrid): relay within the P2P timeout with the reason, states and
/// every reliable event, once and in order.
fn check_relayed(report: &Value, me: usize, other: usize) {
    assert!(
        report["errors"].as_array().unwrap().is_empty(),
        "p{me}: {report:#}"
    );
    let p = peer(report, &format!("p{other}"));
    let ctx = format!("p{me} -> p{other}: {p:#}");
    assert_eq!(p["route"], "relay", "{ctx}");
    let since = p["joined_after_s"].as_f64().unwrap_or(0.0);
    let after = p["relay_after_s"].as_f64().expect("relay_after_s") - since;
    assert!(after <= P2P_TIMEOUT + 1.0, "relay after {after} s: {ctx}");
    assert!(p["p2p_failure"].is_string(), "no reason: {ctx}");
    assert!(p["states_in"].as_u64().unwrap() > 50, "states: {ctx}");
    assert_eq!(p["series_in"], EVENTS, "events: {ctx}");
    assert_eq!(p["series_in_order"], true, "events in order: {ctx}");
}

/// Processes whose parent is `pid`.
fn children_of(pid: u32) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        // pid (comm) state ppid ...
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if ppid == Some(pid) {
            found.push(child);
        }
    }
    found
}

/// Waits (at most 10 s) until nginx's access log has a line with every
/// one of `parts`; returns the log.
fn access_log_with(path: &PathBuf, wanted: &[&[&str]]) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let has = |parts: &[&str]| text.lines().any(|l| parts.iter().all(|p| l.contains(p)));
        if wanted.iter().all(|parts| has(parts)) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "nginx's access log has no line with each of {wanted:?}:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn https_through_nginx_plays_and_an_untrusted_certificate_fails_clearly() {
    let Some(mut lab) = Lab::with_tools("tls-nginx", &["nginx", "openssl"]) else {
        return;
    };
    let started = Instant::now();
    lab.servers(Ice::Nothing);
    let certs = lab.dir.join("certs");
    make_certificates(&certs);
    let site = lab.dir.join("arena-site.conf");
    std::fs::write(&site, lab_site(&certs)).unwrap();
    let master = lab.nginx(&site);
    let workers = children_of(master);
    assert!(!workers.is_empty(), "no nginx worker under {master}");
    eprintln!(
        "tls-nginx: nginx up after {:.2} s",
        started.elapsed().as_secs_f64()
    );

    let url = format!("https://{SERVER_IP}");
    let sub_url = format!("https://{SERVER_IP}/arena/");
    let mut homes = [
        lab.home(Nat::Cone),
        lab.home(Nat::Cone),
        lab.home(Nat::Cone),
    ];
    let hosts: Vec<_> = homes.iter_mut().map(|h| lab.host(h)).collect();

    // Not trusting the lab's CA: a clear error, and the bot exits.
    let t = Instant::now();
    let (status, text) = lab.bot_until_exit(
        &hosts[2],
        "untrusted",
        &["--server", &url, "--create", "--duration", "5"],
        &["SSL_CERT_FILE", "SSL_CERT_DIR"],
        lab::WAIT,
    );
    let status = status.unwrap_or_else(|| panic!("the untrusted bot hung:\n{text}"));
    assert!(!status.success(), "the untrusted bot succeeded:\n{text}");
    assert!(
        text.contains(
            "the server's TLS certificate is not trusted: unable to get local issuer certificate"
        ),
        "{text}"
    );
    assert!(!text.contains("panicked"), "{text}");
    let error = text
        .lines()
        .find(|l| l.contains("not trusted"))
        .unwrap_or_default();
    eprintln!(
        "tls-nginx: untrusted bot exited ({status}) after {:.2} s:\n  {error}",
        t.elapsed().as_secs_f64()
    );

    // Trusting it through SSL_CERT_FILE: a room, relayed through the proxy.
    let ca = certs.join("ca.pem").display().to_string();
    let trust: &[(&str, &str)] = &[("SSL_CERT_FILE", &ca)];
    let (ev, timeout, d0) = (
        EVENTS.to_string(),
        P2P_TIMEOUT.to_string(),
        PLAY.to_string(),
    );
    let common = ["--events", &ev, "--p2p-timeout", &timeout];
    let t = Instant::now();
    let mut first = lab.bot_with_env(
        &hosts[0],
        "p0",
        &url,
        &[&["--create", "--duration", &d0][..], &common].concat(),
        (trust, &["SSL_CERT_DIR"]),
    );
    let code = first.code();
    let d1 = (PLAY - 0.2).to_string();
    let second = lab.bot_with_env(
        &hosts[1],
        "p1",
        &sub_url,
        &[&["--room", &code, "--duration", &d1][..], &common].concat(),
        (trust, &["SSL_CERT_DIR"]),
    );
    let reports = [first.finish(), second.finish()];
    check_relayed(&reports[0], 0, 1);
    check_relayed(&reports[1], 1, 0);
    for (i, r) in reports.iter().enumerate() {
        let p = peer(r, &format!("p{}", 1 - i));
        eprintln!(
            "tls-nginx: p{i}: route {}, relay after {:.2} s, {} states, {} events in order, RTT p50 {} ms",
            p["route"],
            p["relay_after_s"].as_f64().unwrap_or(-1.0)
                - p["joined_after_s"].as_f64().unwrap_or(0.0),
            p["states_in"],
            p["series_in"],
            p["rtt_p50_ms"]
        );
    }
    eprintln!(
        "tls-nginx: room played in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    // Both players' Socket.IO went over WebSocket (101) through nginx, at
    // the root and under /arena/, with the CA trusted through SSL_CERT_FILE;
    // the client never long-polls (one connection per session).
    let log = access_log_with(
        &lab.dir.join("nginx/access.log"),
        &[
            &["GET /socket.io/?EIO=4", "transport=websocket", "\" 101 "],
            &[
                "GET /arena/socket.io/?EIO=4",
                "transport=websocket",
                "\" 101 ",
            ],
        ],
    );
    assert!(!log.contains("transport=polling"), "{log}");
    eprintln!(
        "tls-nginx: {} requests through nginx; total {:.1} s",
        log.lines().count(),
        started.elapsed().as_secs_f64()
    );

    // Stopped as an operator would, nginx reaps its workers: none is left,
    // not even as a zombie.
    lab.stop_nginx(master);
    drop(lab);
    for pid in std::iter::once(master).chain(workers) {
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "nginx process {pid} outlived the lab"
        );
    }
}
