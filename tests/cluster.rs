//! The signaling tier as several nodes sharing one Redis, with real players:
//! `arena server --redis` processes (so a node can be killed with SIGKILL),
//! a real `redis-server`, HAProxy balancing across the nodes, and real
//! `arena bot` processes with real WebRTC on loopback. Nothing waits by
//! sleeping: each step waits for the line a bot prints, and the checks read
//! the bots' reports.
//!
//! Needs redis-server and haproxy (installed by `scripts/test.sh`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../server/tests/common/redis.rs"]
mod redis_server;
mod support;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use redis_server::Redis;
use serde_json::Value;
use support::{Bot, WAIT};

fn tmp(test: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("cluster")
        .join(test)
}

/// One `arena server --redis` process on a free loopback port.
struct Node {
    child: Option<Child>,
    url: String,
}

impl Node {
    fn start(redis: &Redis, dir: &Path, name: &str) -> Node {
        std::fs::create_dir_all(dir).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_arena"))
            .args(["server", "--host", "127.0.0.1", "--port", "0"])
            .args(["--stun-port", "0", "--redis", &redis.url()])
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(dir.join(format!("{name}.log"))).unwrap())
            .spawn()
            .expect("run arena server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("{name}: {line:?}"))
            .split(' ')
            .next()
            .unwrap()
            .to_owned();
        Node {
            child: Some(child),
            url: format!("http://{addr}"),
        }
    }

    fn port(&self) -> u16 {
        self.url.rsplit(':').next().unwrap().parse().unwrap()
    }

    /// SIGKILL: the node says goodbye to nobody.
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// HAProxy in front of the nodes, with the deploy kit's own configuration
/// (server/deploy/haproxy.cfg): round robin, health checks on /healthz, the
/// next node when one refuses. Here the second node is a backup, so the test
/// knows whom the first node holds.
struct Balancer {
    child: Child,
    url: String,
}

impl Balancer {
    fn start(dir: &Path, main: &Node, backup: &Node) -> Balancer {
        std::fs::create_dir_all(dir).unwrap();
        let kit = concat!(env!("CARGO_MANIFEST_DIR"), "/server/deploy/haproxy.cfg");
        let text = std::fs::read_to_string(kit).unwrap();
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .unwrap()
                .port();
            let mut conf = text.clone();
            for (from, to) in [
                // The test machine's open-files limit may be low.
                ("maxconn 20000", "maxconn 1000".to_owned()),
                ("bind :3536", format!("bind 127.0.0.1:{port}")),
                (
                    "127.0.0.1:3537 check",
                    format!("127.0.0.1:{} check", main.port()),
                ),
                (
                    "127.0.0.1:3538 check",
                    format!("127.0.0.1:{} backup check", backup.port()),
                ),
            ] {
                assert!(conf.contains(from), "{kit} no longer has {from:?}");
                conf = conf.replace(from, &to);
            }
            let path = dir.join("haproxy.cfg");
            std::fs::write(&path, conf).unwrap();
            let mut child = Command::new("haproxy")
                .arg("-db")
                .arg("-f")
                .arg(&path)
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(dir.join("haproxy.log")).unwrap())
                .spawn()
                .expect("run haproxy (scripts/test.sh installs it)");
            // Bound once it accepts a connection.
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Balancer {
                        child,
                        url: format!("http://127.0.0.1:{port}"),
                    };
                }
                if let Some(status) = child.try_wait().unwrap() {
                    let log = std::fs::read_to_string(dir.join("haproxy.log")).unwrap();
                    if log.contains("cannot bind") || log.contains("Address already in use") {
                        break;
                    }
                    panic!("haproxy exited ({status}):\n{log}");
                }
                assert!(Instant::now() < deadline, "haproxy did not bind {port}");
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        panic!("haproxy found no free port in 5 tries");
    }
}

impl Drop for Balancer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn_bot(test: &str, name: &str, url: &str, args: &[&str]) -> Bot {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_arena"));
    cmd.arg("bot")
        .args(["--server", url, "--name", name, "--bind", "127.0.0.1"])
        .args(["--seed", "7"])
        .args(args);
    Bot::start(cmd, name, &tmp(test))
}

fn peers(report: &Value) -> Vec<&Value> {
    report["peers"].as_object().unwrap().values().collect()
}

fn peer<'a>(report: &'a Value, name: &str) -> &'a Value {
    peers(report)
        .into_iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no peer {name} in {report:#}"))
}

/// A Redis and `n` nodes on it for `test`, and the nodes' URLs.
fn cluster(test: &str, n: usize) -> (Redis, Vec<Node>, Vec<String>) {
    let dir = tmp(test);
    let redis = Redis::start(&dir.join("redis"));
    let nodes: Vec<Node> = (0..n)
        .map(|i| Node::start(&redis, &dir, &format!("node{i}")))
        .collect();
    let urls = nodes.iter().map(|n| n.url.clone()).collect();
    (redis, nodes, urls)
}

/// `n` bots in one room, bot `i` connected to `urls[i % urls.len()]`; the
/// first creates the room.
fn room(test: &str, urls: &[String], n: usize, args: &[&str], duration: f64) -> Vec<Bot> {
    let d = duration.to_string();
    let mut first = spawn_bot(
        test,
        "b0",
        &urls[0],
        &[&["--create", "--duration", &d], args].concat(),
    );
    let code = first.code();
    let mut bots = vec![first];
    for i in 1..n {
        let d = (duration - 0.3 * i as f64).to_string();
        bots.push(spawn_bot(
            test,
            &format!("b{i}"),
            &urls[i % urls.len()],
            &[&["--room", &code, "--duration", &d], args].concat(),
        ));
    }
    bots
}

/// Six players spread over three nodes: one room, every one of the 15
/// links direct, and each player's reliable events reach every other once,
/// in order.
#[test]
fn players_on_three_nodes_form_one_room_and_a_full_mesh() {
    let (_redis, _nodes, urls) = cluster("mesh", 3);
    let args = ["--events", "50", "--events-after-peers", "5"];
    let bots = room("mesh", &urls, 6, &args, 9.0);
    let mut links = 0;
    for r in bots.into_iter().map(Bot::finish) {
        assert_eq!(peers(&r).len(), 5, "{r:#}");
        for p in peers(&r) {
            assert_eq!(p["route"], "direct", "{p:#}");
            assert_eq!(p["series_in"], 50, "{p:#}");
            assert_eq!(p["series_in_order"], true, "{p:#}");
            links += 1;
        }
    }
    assert_eq!(links / 2, 15);
}

/// Signaling-only players on three nodes: every state and event crosses
/// nodes through the server's relay, exactly once, in order.
#[test]
fn signaling_only_players_on_three_nodes_relay_across_nodes() {
    let (_redis, _nodes, urls) = cluster("relay", 3);
    let args = [
        "--mode",
        "signaling",
        "--events",
        "100",
        "--events-after-peers",
        "2",
    ];
    let bots = room("relay", &urls, 3, &args, 6.0);
    for r in bots.into_iter().map(Bot::finish) {
        assert_eq!(peers(&r).len(), 2, "{r:#}");
        for p in peers(&r) {
            assert_eq!(p["routes"], serde_json::json!(["relay"]), "{p:#}");
            assert!(p["states_in"].as_u64().unwrap() > 50, "{p:#}");
            assert_eq!(p["series_in"], 100, "{p:#}");
            assert_eq!(p["series_in_order"], true, "{p:#}");
        }
    }
}

/// A node is killed (SIGKILL) mid-game behind the load balancer. Its
/// players reconnect through the balancer to the live node within 5 s, as the
/// same players; the direct links never stop carrying states; a player that
/// died with the node is reported left to the others within 10 s (the live
/// node reaps the dead one's members); and a newcomer joins the room.
#[test]
fn a_killed_node_s_players_move_to_a_live_node_and_the_game_goes_on() {
    let dir = tmp("failover");
    let redis = Redis::start(&dir.join("redis"));
    let mut n0 = Node::start(&redis, &dir, "node0");
    let n1 = Node::start(&redis, &dir, "node1");
    // node1 is the balancer's backup here, so the test knows who is on node0.
    let lb = Balancer::start(&dir, &n0, &n1);
    let test = "failover";
    let events = ["--events", "200", "--events-after-peers", "3"];
    let mut a = spawn_bot(
        test,
        "a",
        &lb.url,
        &[&["--create", "--duration", "16"], &events[..]].concat(),
    );
    let code = a.code();
    let join = |name: &str, url: &str, d: &str| {
        spawn_bot(
            test,
            name,
            url,
            &[&["--room", &code, "--duration", d], &events[..]].concat(),
        )
    };
    let mut b = join("b", &lb.url, "30");
    let mut c = join("c", &n1.url, "15.5");
    let mut d = join("d", &n1.url, "15");
    for bot in [&mut a, &mut b, &mut c, &mut d] {
        all_direct(bot, 3);
    }
    let b_id = id_of(&a, "b");
    // b dies with node0; a, also on node0, lives on.
    let killed_at = Instant::now();
    n0.kill();
    b.kill();
    let (at, _) = a.wait_for("RECONNECTED", WAIT);
    let back = at.duration_since(killed_at);
    eprintln!("a back on the live node {back:?} after the kill");
    assert!(back <= Duration::from_secs(5), "a back after {back:?}");
    for bot in [&mut a, &mut c, &mut d] {
        let (at, line) = bot.wait_for("LEFT", Duration::from_secs(15));
        let after = at.duration_since(killed_at);
        eprintln!("{}: {line} {after:?} after the kill", bot.name);
        assert!(line.contains(&b_id), "{}: {line}", bot.name);
        assert!(
            after <= Duration::from_secs(10),
            "{}: {line} after {after:?}",
            bot.name
        );
    }
    // The live node took node0's members (a's old socket and b) out of the room.
    let deadline = Instant::now() + Duration::from_secs(10);
    while reaped(&n1) < 2 {
        assert!(Instant::now() < deadline, "node0's members never reaped");
        std::thread::sleep(Duration::from_millis(100));
    }
    // The room goes on: a newcomer through the balancer meets a, c and d.
    let quiet_until = Instant::now();
    let mut e = join("e", &lb.url, "3");
    for _ in 0..3 {
        e.wait_for("JOINED", WAIT);
    }
    let re = e.finish();
    let mut names: Vec<&str> = peers(&re)
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["a", "c", "d"]);
    // Nobody but b left meanwhile: a, back under a new socket, is the same
    // player to c and d (its old socket's user_left changes nothing).
    let mut reports = Vec::new();
    for bot in [a, c, d] {
        let name = bot.name.clone();
        let (r, lines) = bot.finish_with_lines();
        let left: Vec<&String> = lines
            .iter()
            .filter(|(at, l)| l.starts_with("LEFT ") && *at < quiet_until)
            .map(|(_, l)| l)
            .collect();
        assert_eq!(left.len(), 1, "{name}: {left:?}");
        assert!(left[0].contains(&b_id), "{name}: {left:?}");
        reports.push((name, r));
    }
    for (name, r) in &reports {
        for (other, _) in reports.iter().filter(|(o, _)| o != name) {
            let p = peer(r, other);
            let gap = p["max_state_gap_ms"].as_f64().unwrap();
            assert!(
                gap < 1000.0,
                "{name} ← {other}: states stopped for {gap} ms"
            );
            assert_eq!(p["route"], "direct", "{name} ← {other}: {p:#}");
            assert_eq!(
                p["routes"],
                serde_json::json!(["connecting", "direct"]),
                "{name} ← {other}: {p:#}"
            );
            assert_eq!(p["series_in"], 200, "{name} ← {other}: {p:#}");
            assert_eq!(p["series_in_order"], true, "{name} ← {other}: {p:#}");
        }
    }
}

/// Waits until `bot` has a direct route to `n` peers.
fn all_direct(bot: &mut Bot, n: usize) {
    while bot
        .seen
        .iter()
        .filter(|(_, l)| l.starts_with("ROUTE ") && l.contains(" direct"))
        .count()
        < n
    {
        bot.wait_for("ROUTE ", WAIT);
    }
}

/// The id `bot` printed for its peer `name` (`JOINED <id> <name>`).
fn id_of(bot: &Bot, name: &str) -> String {
    id_in(&bot.seen, name).unwrap_or_else(|| panic!("{} never saw {name} join", bot.name))
}

/// The id printed in `lines` for the peer `name` (`JOINED <id> <name>`).
fn id_in(lines: &[(Instant, String)], name: &str) -> Option<String> {
    lines.iter().find_map(|(_, l)| {
        let rest = l.strip_prefix("JOINED ")?;
        let (id, n) = rest.split_once(' ')?;
        (n == name).then(|| id.to_owned())
    })
}

/// GET `path` of `node`: the whole response.
fn get(node: &Node, path: &str) -> String {
    use std::io::{Read, Write};
    let addr = node.url.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

/// Waits until `node`'s /healthz answers `status`.
fn wait_health(node: &Node, status: u16) {
    let want = format!("HTTP/1.1 {status} ");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !get(node, "/healthz").starts_with(&want) {
        assert!(
            Instant::now() < deadline,
            "{} never answered {status}",
            node.url
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `arena_members_reaped_total` of `node`.
fn reaped(node: &Node) -> u64 {
    get(node, "/metrics")
        .lines()
        .find_map(|l| l.strip_prefix("arena_members_reaped_total "))
        .map_or(0, |v| v.trim().parse().unwrap())
}

/// Redis is killed mid-game and comes back empty: the direct links carry
/// the game meanwhile, the nodes write the room back, and a new player joins
/// the players already there.
#[test]
fn a_redis_restart_mid_game_leaves_the_game_going() {
    let (mut redis, nodes, urls) = cluster("redis-restart", 2);
    let mut bots = room("redis-restart", &urls, 2, &[], 12.0);
    let code = bots[0]
        .seen
        .iter()
        .find_map(|(_, l)| l.strip_prefix("ROOM "))
        .unwrap()
        .to_owned();
    for b in &mut bots {
        all_direct(b, 1);
    }
    // Redis dies: every node notices (unhealthy), then it comes back empty
    // and every node has written its members back (healthy again).
    let down = Instant::now();
    redis.kill();
    for n in &nodes {
        wait_health(n, 503);
    }
    redis.restart();
    for n in &nodes {
        wait_health(n, 200);
    }
    eprintln!("Redis down for {:?}", down.elapsed());
    let mut c = spawn_bot(
        "redis-restart",
        "c",
        &urls[1],
        &["--room", &code, "--duration", "4"],
    );
    c.wait_for("JOINED", WAIT);
    c.wait_for("JOINED", WAIT);
    let rc = c.finish();
    assert_eq!(peers(&rc).len(), 2, "{rc:#}");
    for p in peers(&rc) {
        assert_eq!(p["route"], "direct", "{p:#}");
    }
    let c_done = Instant::now();
    let (ra, lines) = bots.remove(0).finish_with_lines();
    let c_id = id_in(&lines, "c").expect("b0 saw c join");
    // b0 saw nobody leave but c, at its end.
    for (at, l) in &lines {
        assert!(
            !l.starts_with("LEFT ") || *at >= c_done || l.contains(&c_id),
            "{l}"
        );
    }
    let b1 = peer(&ra, "b1");
    assert_eq!(
        b1["routes"],
        serde_json::json!(["connecting", "direct"]),
        "{b1:#}"
    );
    let gap = b1["max_state_gap_ms"].as_f64().unwrap();
    assert!(gap < 1000.0, "states stopped for {gap} ms");
}
