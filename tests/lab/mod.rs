//! The NAT lab: an "internet" and home networks behind NAT routers, made of
//! Linux network namespaces on this machine, with the real `arena server`,
//! real coturn and real `arena bot` processes inside them.
//!
//! ```text
//!                 internet: bridge br0 in namespace <id>i, 198.18.0.0/15
//!   ┌──────────────┬───────────────┬──────────────────┬──────────────────┐
//!  srv 198.18.0.2  public host     router 198.18.1.n   router ...
//!  arena server    198.18.2.k      (NAT kind)          │
//!  coturn :3478                    lan 10.n.0.1/24     │
//!                                  │                    │
//!                                  home host 10.n.0.2   ...
//! ```
//!
//! Every address lives inside namespaces the lab creates; nothing routes
//! out of the machine and nothing is added to the machine's own namespace
//! (veth ends are created directly inside their namespaces). Names carry a
//! per-run id (`al<pid><n>`), and `Drop` kills every process and deletes
//! every namespace, on success, failure and panic; the iptables rules live
//! in the namespaces and go with them. A run killed with SIGKILL leaves its
//! namespaces behind: the next lab deletes those of dead processes.
//!
//! Routers model home routers (see [`Nat`]); each one drops unsolicited
//! inbound packets to itself (`INPUT -i wan --ctstate NEW -j DROP`), as real
//! ones do. Without that rule, the other player's first hole-punching packet
//! is accepted by the router and leaves a conntrack entry that clashes with
//! the mapping the player's own packet needs; Linux then picks another source
//! port and a MASQUERADE "cone" behaves symmetric.
//!
//! Needs root (namespaces, iptables), `ip` (iproute2), `iptables`,
//! `conntrack` and coturn's `turnserver`; `scripts/test.sh` installs them.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::support::Bot;

/// The server namespace's address on the internet segment.
pub const SERVER_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
/// The internet's backbone: the bridge's own address, a default gateway
/// that forwards nothing.
pub const BACKBONE: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
/// coturn's port (inside the server namespace: no clash with the host).
pub const TURN_PORT: u16 = 3478;
/// The signaling server's port (inside the server namespace).
pub const SIGNAL_PORT: u16 = 3536;
/// The built-in STUN server's port when coturn holds 3478 (as in
/// `server/deploy/compose.yaml`).
pub const BUILTIN_STUN_BESIDE_COTURN: u16 = 3479;
/// TURN REST secret shared by the server and coturn.
const SECRET: &str = "lab-secret";
#[allow(unused_imports)]
pub use super::support::WAIT;

/// How a home router translates addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nat {
    /// 1:1 NAT (NETMAP both ways): the host's ports appear unchanged on the
    /// router's public address, and anything may reach them
    /// (endpoint-independent mapping and filtering).
    OneToOne,
    /// Port-restricted cone: `MASQUERADE` (Linux keeps the source port when
    /// it can: endpoint-independent mapping; replies only from where the
    /// host sent to).
    Cone,
    /// Symmetric: `MASQUERADE --random-fully`, a new public port per
    /// destination.
    Symmetric,
    /// Cone, and every UDP packet dropped (only TCP gets through).
    UdpBlocked,
}

/// What the server namespace offers players.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ice {
    /// No STUN or TURN (`arena server --stun-port 0`).
    Nothing,
    /// arena-server's built-in STUN server alone (its default, port 3478);
    /// no coturn.
    Stun,
    /// coturn for STUN and TURN on 3478 (UDP and TCP URLs, credentials from
    /// the server), and the built-in STUN server beside it on 3479.
    StunTurn,
}

/// A machine of the lab: a namespace and its address.
#[derive(Debug, Clone)]
pub struct Host {
    /// Its namespace.
    pub ns: String,
    /// Its own address (private for home hosts).
    pub ip: Ipv4Addr,
}

/// A home network behind a router.
#[derive(Debug, Clone)]
pub struct Home {
    /// The router's namespace.
    pub router: String,
    /// The router's public address.
    pub wan: Ipv4Addr,
    /// The LAN's number (10.n.0.0/24).
    pub n: u8,
    /// Its kind.
    pub nat: Nat,
    hosts: u8,
}

static LABS: AtomicU32 = AtomicU32::new(0);
/// One lab at a time: cells measure timing (links open within the P2P
/// timeout), and two rooms of bots on 2 cores would measure each other.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// One lab; everything it made goes away on drop.
pub struct Lab {
    /// Prefix of every name it creates.
    pub id: String,
    /// Logs and reports.
    pub dir: PathBuf,
    inet: String,
    namespaces: Vec<String>,
    children: Vec<Child>,
    veths: u32,
    publics: u8,
    homes: u8,
    /// Held for the lab's life; released after `Drop` has cleaned up.
    _turn: MutexGuard<'static, ()>,
}

/// Appends `lines` to the file named by `ARENA_LAB_TABLE`, if set (the
/// lab tests' figures for BENCHMARKS.md).
pub fn append_table(lines: &[String]) {
    if let Ok(path) = std::env::var("ARENA_LAB_TABLE") {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .expect("ARENA_LAB_TABLE");
        for l in lines {
            std::io::Write::write_all(&mut f, format!("{l}\n").as_bytes())
                .expect("ARENA_LAB_TABLE");
        }
    }
}

/// Why the lab cannot run here.
pub fn unavailable() -> Option<String> {
    let uid = Command::new("id").arg("-u").output().ok()?;
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return Some("not root: network namespaces and iptables need root".into());
    }
    for tool in ["ip", "iptables", "conntrack", "turnserver"] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .is_ok_and(|o| o.status.success());
        if !found {
            return Some(format!("`{tool}` not found (scripts/test.sh installs it)"));
        }
    }
    None
}

/// Starts a lab for `test`, or says loudly why it cannot and returns `None`
/// — except under CI (`CI=true`), where a lab that cannot run fails the test.
pub fn lab(test: &str) -> Option<Lab> {
    if let Some(why) = unavailable() {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("the NAT lab cannot run ({why}), and CI=true: CI must run it");
        }
        eprintln!("\n*** SKIPPED {test}: the NAT lab cannot run here: {why} ***\n");
        return None;
    }
    Some(Lab::new(test))
}

fn run(args: &[&str]) -> Result<String, String> {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .map_err(|e| format!("{}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "`{}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn must(args: &[&str]) -> String {
    run(args).unwrap_or_else(|e| panic!("{e}"))
}

/// Runs a command inside namespace `ns`.
fn ns_run(ns: &str, args: &[&str]) -> Result<String, String> {
    let mut full = vec!["ip", "netns", "exec", ns];
    full.extend_from_slice(args);
    run(&full)
}

fn ns_must(ns: &str, args: &[&str]) -> String {
    ns_run(ns, args).unwrap_or_else(|e| panic!("{e}"))
}

/// The namespaces of labs whose process is gone (a run killed by SIGKILL).
fn remove_stale() {
    let Ok(list) = run(&["ip", "netns", "list"]) else {
        return;
    };
    for line in list.lines() {
        let name = line.split_whitespace().next().unwrap_or_default();
        let Some(rest) = name.strip_prefix("al") else {
            continue;
        };
        let pid: String = rest.chars().take_while(|c| *c != 'x').collect();
        let alive = Path::new(&format!("/proc/{pid}")).exists();
        if !pid.is_empty() && !alive {
            kill_all_in(name);
            let _ = run(&["ip", "netns", "del", name]);
        }
    }
}

fn kill_all_in(ns: &str) {
    if let Ok(pids) = run(&["ip", "netns", "pids", ns]) {
        for pid in pids.split_whitespace() {
            let _ = run(&["kill", "-9", pid]);
        }
    }
}

impl Lab {
    fn new(test: &str) -> Lab {
        // A lab whose test panicked has cleaned up already: its poison means nothing.
        let turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        remove_stale();
        let n = LABS.fetch_add(1, Ordering::Relaxed);
        let id = format!("al{}x{n}", std::process::id());
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join("netlab")
            .join(test);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("lab folder");
        let inet = format!("{id}i");
        let mut lab = Lab {
            id,
            dir,
            inet: inet.clone(),
            namespaces: Vec::new(),
            children: Vec::new(),
            veths: 0,
            publics: 0,
            homes: 0,
            _turn: turn,
        };
        lab.add_ns(&inet);
        must(&["ip", "-n", &inet, "link", "add", "br0", "type", "bridge"]);
        must(&[
            "ip",
            "-n",
            &inet,
            "addr",
            "add",
            &format!("{BACKBONE}/15"),
            "dev",
            "br0",
        ]);
        must(&["ip", "-n", &inet, "link", "set", "br0", "up"]);
        lab
    }

    fn add_ns(&mut self, name: &str) {
        must(&["ip", "netns", "add", name]);
        self.namespaces.push(name.to_owned());
        must(&["ip", "-n", name, "link", "set", "lo", "up"]);
    }

    /// Plugs namespace `ns` into the internet as interface `dev` with `ip`/15.
    fn plug(&mut self, ns: &str, dev: &str, ip: Ipv4Addr) {
        self.veths += 1;
        let port = format!("p{}", self.veths);
        must(&[
            "ip", "link", "add", dev, "netns", ns, "type", "veth", "peer", "name", &port, "netns",
            &self.inet,
        ]);
        must(&[
            "ip", "-n", &self.inet, "link", "set", &port, "master", "br0", "up",
        ]);
        must(&[
            "ip",
            "-n",
            ns,
            "addr",
            "add",
            &format!("{ip}/15"),
            "dev",
            dev,
        ]);
        must(&["ip", "-n", ns, "link", "set", dev, "up"]);
        // Everything else is "somewhere on the internet": the backbone
        // drops it silently (it does not forward), as the internet drops
        // packets to private addresses.
        let via = BACKBONE.to_string();
        must(&[
            "ip", "-n", ns, "route", "add", "default", "via", &via, "dev", dev,
        ]);
    }

    /// The server namespace: `arena server` (and coturn unless `ice` is
    /// `Nothing`). Returns the signaling URL.
    pub fn servers(&mut self, ice: Ice) -> String {
        let ns = format!("{}s", self.id);
        self.add_ns(&ns);
        self.plug(&ns, "eth0", SERVER_IP);
        let turn = format!(
            "turn:{SERVER_IP}:{TURN_PORT}?transport=udp,turn:{SERVER_IP}:{TURN_PORT}?transport=tcp"
        );
        if ice == Ice::StunTurn {
            self.coturn(&ns);
        }
        let mut args: Vec<String> = vec![
            "server".into(),
            "--host".into(),
            SERVER_IP.to_string(),
            "--port".into(),
            SIGNAL_PORT.to_string(),
        ];
        match ice {
            Ice::Nothing => args.extend(["--stun-port".into(), "0".into()]),
            Ice::Stun => {}
            Ice::StunTurn => args.extend([
                "--stun-port".into(),
                BUILTIN_STUN_BESIDE_COTURN.to_string(),
                "--turn".into(),
                turn,
                "--turn-secret".into(),
                SECRET.into(),
            ]),
        }
        let log = self.dir.join("server.log");
        let mut child = Command::new("ip")
            .args(["netns", "exec", &ns, env!("CARGO_BIN_EXE_arena")])
            .args(&args)
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).expect("server log"))
            .spawn()
            .expect("start arena server");
        let out = child.stdout.take().expect("server stdout");
        self.children.push(child);
        let mut first = String::new();
        let _ = BufReader::new(out).read_line(&mut first);
        assert!(
            first.starts_with("listening on"),
            "the server did not start: {first:?}\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        format!("http://{SERVER_IP}:{SIGNAL_PORT}")
    }

    /// coturn in `ns` with the deployment's hardened configuration
    /// (`server/deploy/turnserver.conf`), as [`Lab::coturn_from_config`] runs it.
    fn coturn(&mut self, ns: &str) {
        let conf = Path::new(env!("CARGO_MANIFEST_DIR")).join("server/deploy/turnserver.conf");
        self.start_coturn(ns, &conf, SECRET, "turnserver.log");
    }

    /// A host on the internet with a public address.
    pub fn public_host(&mut self) -> Host {
        self.publics += 1;
        let ns = format!("{}p{}", self.id, self.publics);
        self.add_ns(&ns);
        let ip = Ipv4Addr::new(198, 18, 2, self.publics);
        self.plug(&ns, "eth0", ip);
        Host { ns, ip }
    }

    /// A home network behind a router of kind `nat` (no host yet: see [`Lab::host`]).
    pub fn home(&mut self, nat: Nat) -> Home {
        self.homes += 1;
        let n = self.homes;
        let router = format!("{}r{n}", self.id);
        self.add_ns(&router);
        let wan = Ipv4Addr::new(198, 18, 1, n);
        self.plug(&router, "wan", wan);
        must(&["ip", "-n", &router, "link", "add", "lan", "type", "bridge"]);
        must(&[
            "ip",
            "-n",
            &router,
            "addr",
            "add",
            &format!("10.{n}.0.1/24"),
            "dev",
            "lan",
        ]);
        must(&["ip", "-n", &router, "link", "set", "lan", "up"]);
        ns_must(&router, &["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
        let ipt = |args: &[&str]| {
            let mut full = vec!["iptables", "-w"];
            full.extend_from_slice(args);
            ns_must(&router, &full);
        };
        let wan_s = wan.to_string();
        match nat {
            Nat::OneToOne => {
                let host = format!("10.{n}.0.2/32");
                let public = format!("{wan_s}/32");
                ipt(&[
                    "-t",
                    "nat",
                    "-A",
                    "PREROUTING",
                    "-i",
                    "wan",
                    "-d",
                    &public,
                    "-j",
                    "NETMAP",
                    "--to",
                    &host,
                ]);
                ipt(&[
                    "-t",
                    "nat",
                    "-A",
                    "POSTROUTING",
                    "-o",
                    "wan",
                    "-s",
                    &host,
                    "-j",
                    "NETMAP",
                    "--to",
                    &public,
                ]);
            }
            Nat::Cone | Nat::UdpBlocked => {
                ipt(&[
                    "-t",
                    "nat",
                    "-A",
                    "POSTROUTING",
                    "-o",
                    "wan",
                    "-j",
                    "MASQUERADE",
                ]);
            }
            Nat::Symmetric => {
                ipt(&[
                    "-t",
                    "nat",
                    "-A",
                    "POSTROUTING",
                    "-o",
                    "wan",
                    "-j",
                    "MASQUERADE",
                    "--random-fully",
                ]);
            }
        }
        if nat == Nat::UdpBlocked {
            ipt(&["-A", "FORWARD", "-p", "udp", "-j", "DROP"]);
        }
        // A home router answers nothing it did not ask for.
        ipt(&[
            "-A",
            "INPUT",
            "-i",
            "wan",
            "-m",
            "conntrack",
            "--ctstate",
            "NEW",
            "-j",
            "DROP",
        ]);
        Home {
            router,
            wan,
            n,
            nat,
            hosts: 0,
        }
    }

    /// A host inside `home` (10.n.0.2, .3, ...), its default route via the router.
    pub fn host(&mut self, home: &mut Home) -> Host {
        home.hosts += 1;
        let k = home.hosts;
        let ns = format!("{}h{}_{k}", self.id, home.n);
        self.add_ns(&ns);
        let ip = Ipv4Addr::new(10, home.n, 0, 1 + k);
        let port = format!("h{k}");
        must(&[
            "ip",
            "link",
            "add",
            "eth0",
            "netns",
            &ns,
            "type",
            "veth",
            "peer",
            "name",
            &port,
            "netns",
            &home.router,
        ]);
        must(&[
            "ip",
            "-n",
            &home.router,
            "link",
            "set",
            &port,
            "master",
            "lan",
            "up",
        ]);
        must(&[
            "ip",
            "-n",
            &ns,
            "addr",
            "add",
            &format!("{ip}/24"),
            "dev",
            "eth0",
        ]);
        must(&["ip", "-n", &ns, "link", "set", "eth0", "up"]);
        must(&[
            "ip",
            "-n",
            &ns,
            "route",
            "add",
            "default",
            "via",
            &format!("10.{}.0.1", home.n),
        ]);
        Host { ns, ip }
    }

    /// Forgets every NAT mapping of `home`'s router (as a router reboot or
    /// a mapping timeout would): the players' public ports change.
    pub fn flush_mappings(&self, home: &Home) {
        ns_must(&home.router, &["conntrack", "-F"]);
    }

    /// Takes `home`'s internet link down (`up = false`) or back up.
    pub fn set_link(&self, home: &Home, up: bool) {
        let state = if up { "up" } else { "down" };
        must(&["ip", "-n", &home.router, "link", "set", "wan", state]);
    }

    /// Starts `arena bot` in `host`'s namespace.
    pub fn bot(&mut self, host: &Host, name: &str, url: &str, args: &[&str]) -> Bot {
        self.bot_with_env(host, name, url, args, (&[], &[]))
    }

    /// `arena bot --name NAME --bind 0.0.0.0` in `host`'s namespace.
    fn bot_command(host: &Host, name: &str) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args([
            "netns",
            "exec",
            &host.ns,
            env!("CARGO_BIN_EXE_arena"),
            "bot",
        ])
        .args(["--name", name, "--bind", "0.0.0.0"]);
        cmd
    }

    /// Starts a plain command in `host`'s namespace (killed with the lab); its pid.
    pub fn spawn_in(&mut self, host: &Host, cmd: &[&str]) -> u32 {
        let child = Command::new("ip")
            .args(["netns", "exec", &host.ns])
            .args(cmd)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn in the lab");
        let pid = child.id();
        self.children.push(child);
        pid
    }

    /// The namespaces of lab `id` still there (for the teardown test).
    pub fn leftovers(id: &str) -> Vec<String> {
        run(&["ip", "netns", "list"])
            .unwrap_or_default()
            .lines()
            .filter(|l| l.starts_with(id))
            .map(str::to_owned)
            .collect()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        for ns in self.namespaces.iter().rev() {
            kill_all_in(ns);
            let _ = run(&["ip", "netns", "del", ns]);
        }
    }
}

// ---- HTTPS through a reverse proxy (tests/netlab_tls.rs) ---------------------

impl Lab {
    /// [`lab`], when the tools `tools` (beyond the lab's own) are installed
    /// too; with the same loud skip, and failure under `CI=true`.
    pub fn with_tools(test: &str, tools: &[&str]) -> Option<Lab> {
        let missing = tools.iter().find(|tool| {
            !Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .output()
                .is_ok_and(|o| o.status.success())
        });
        if let Some(tool) = missing {
            let why = format!("`{tool}` not found (scripts/test.sh installs it)");
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("{test} cannot run ({why}), and CI=true: CI must run it");
            }
            eprintln!("\n*** SKIPPED {test}: {why} ***\n");
            return None;
        }
        lab(test)
    }

    /// Starts nginx in the foreground in the server namespace (made by
    /// [`Lab::servers`]) with the server blocks of `site` inside its `http`
    /// block; its pid file, logs and temporary files go to the lab folder.
    /// Returns the master's pid once nginx has bound its sockets (its error
    /// log says the workers started, which comes after). The lab kills the
    /// master, and its workers with the namespace's other processes.
    pub fn nginx(&mut self, site: &Path) -> u32 {
        let dir = self.dir.join("nginx");
        std::fs::create_dir_all(dir.join("tmp")).expect("nginx folder");
        let d = dir.display();
        let log = dir.join("error.log");
        let conf = dir.join("nginx.conf");
        std::fs::write(
            &conf,
            format!(
                "# Made by tests/lab for one run.\n\
                 user root;\n\
                 worker_processes 1;\n\
                 pid {d}/nginx.pid;\n\
                 error_log {d}/error.log notice;\n\
                 events {{ worker_connections 256; }}\n\
                 http {{\n\
                 \x20   access_log {d}/access.log;\n\
                 \x20   client_body_temp_path {d}/tmp/body;\n\
                 \x20   proxy_temp_path {d}/tmp/proxy;\n\
                 \x20   fastcgi_temp_path {d}/tmp/fastcgi;\n\
                 \x20   uwsgi_temp_path {d}/tmp/uwsgi;\n\
                 \x20   scgi_temp_path {d}/tmp/scgi;\n\
                 \x20   include {};\n\
                 }}\n",
                site.display()
            ),
        )
        .expect("nginx.conf");
        let ns = format!("{}s", self.id);
        let mut child = Command::new("ip")
            .args(["netns", "exec", &ns, "nginx", "-g", "daemon off;"])
            .arg("-p")
            .arg(&dir)
            .arg("-e")
            .arg(&log)
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("stderr.log")).expect("nginx stderr"))
            .spawn()
            .expect("start nginx");
        let pid = child.id();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if text.contains("start worker process ") {
                self.children.push(child);
                return pid;
            }
            let exited = child.try_wait().ok().flatten();
            if exited.is_some() || text.contains("[emerg]") || Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "nginx did not start ({exited:?}):\n{text}\n{}",
                    std::fs::read_to_string(dir.join("stderr.log")).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Stops the nginx started by [`Lab::nginx`] (pid `master`) as an
    /// operator would (SIGTERM: the master stops and reaps its workers),
    /// within 10 s, or kills it.
    pub fn stop_nginx(&mut self, master: u32) {
        let Some(child) = self.children.iter_mut().find(|c| c.id() == master) else {
            return;
        };
        let _ = run(&["kill", "-TERM", &master.to_string()]);
        let deadline = Instant::now() + Duration::from_secs(10);
        while child.try_wait().ok().flatten().is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// [`Lab::bot`] with extra environment variables (`SSL_CERT_FILE`, say);
    /// the names in `remove` are taken out of its environment.
    pub fn bot_with_env(
        &mut self,
        host: &Host,
        name: &str,
        url: &str,
        args: &[&str],
        (set, remove): (&[(&str, &str)], &[&str]),
    ) -> Bot {
        let mut cmd = Self::bot_command(host, name);
        cmd.args(["--server", url, "--seed"])
            // A seed of its own per bot, as real players have.
            .arg(name.bytes().map(u64::from).sum::<u64>().to_string())
            .args(args)
            .envs(set.iter().copied());
        for var in remove {
            cmd.env_remove(var);
        }
        Bot::start(cmd, name, &self.dir)
    }

    /// Runs `arena bot` in `host`'s namespace until it exits, for at most
    /// `within` (then it is killed), with `remove` taken out of its
    /// environment: its exit status (`None`: still running at the deadline)
    /// and everything it printed, stdout then stderr.
    pub fn bot_until_exit(
        &mut self,
        host: &Host,
        name: &str,
        args: &[&str],
        remove: &[&str],
        within: Duration,
    ) -> (Option<std::process::ExitStatus>, String) {
        let out = self.dir.join(format!("{name}.out"));
        let err = self.dir.join(format!("{name}.log"));
        let mut cmd = Self::bot_command(host, name);
        cmd.args(args)
            .env("RUST_LOG", "info")
            .stdout(std::fs::File::create(&out).expect("bot stdout"))
            .stderr(std::fs::File::create(&err).expect("bot log"));
        for var in remove {
            cmd.env_remove(var);
        }
        let mut child = cmd.spawn().expect("run arena bot");
        let deadline = Instant::now() + within;
        let status = loop {
            if let Some(status) = child.try_wait().ok().flatten() {
                break Some(status);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let text = [out, err]
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n");
        (status, text)
    }
}

/// The TURN kit (`tests/turnkit.rs`): coturn as deployed, from its config file.
impl Lab {
    /// The server namespace (198.18.0.2) running coturn with exactly the
    /// config file `conf` (`-c`), plus only what a deployment adds on the
    /// command line: the listening, relay and external address, the TURN
    /// REST `secret`, and pid file and database in the lab folder. Returns
    /// the server's host once coturn's UDP listener is open; its log is
    /// `turnkit-coturn.log` in the lab folder. Instead of [`Lab::servers`]
    /// (same namespace and address), not with it.
    pub fn coturn_from_config(&mut self, conf: &Path, secret: &str) -> Host {
        let ns = format!("{}s", self.id);
        self.add_ns(&ns);
        self.plug(&ns, "eth0", SERVER_IP);
        self.start_coturn(&ns, conf, secret, "turnkit-coturn.log");
        Host { ns, ip: SERVER_IP }
    }

    /// Starts coturn in `ns` with `conf` plus what a deployment adds on the
    /// command line (addresses, secret, pid file and database in the lab
    /// folder); returns once its listeners are open. Its log is `log` in the
    /// lab folder.
    fn start_coturn(&mut self, ns: &str, conf: &Path, secret: &str, log: &str) {
        let log = self.dir.join(log);
        let out = std::fs::File::create(&log).expect("coturn log");
        let err = out.try_clone().expect("coturn log");
        let child = Command::new("ip")
            .args(["netns", "exec", ns, "turnserver", "-c"])
            .arg(conf)
            .arg(format!("--listening-ip={SERVER_IP}"))
            .arg(format!("--relay-ip={SERVER_IP}"))
            .arg(format!("--external-ip={SERVER_IP}"))
            .arg(format!("--static-auth-secret={secret}"))
            .arg(format!("--pidfile={}", self.dir.join("turn.pid").display()))
            .arg(format!("--db={}", self.dir.join("turn.db").display()))
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("start turnserver");
        self.children.push(child);
        // Ready when its listeners are open. Without -v (not a deployment
        // option) coturn does not log each listener; it logs the count of
        // its general servers right after they opened their listeners.
        let deadline = Instant::now() + Duration::from_secs(10);
        let want = "Total General servers:";
        loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if text.contains(want) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "coturn did not start with {}:\n{text}",
                conf.display()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Runs a command in `host`'s namespace to its end (bounded by
    /// `within`: killed after it); its stdout, and whether it exited 0.
    pub fn run_in(&mut self, host: &Host, cmd: &[&str], within: Duration) -> (String, bool) {
        let mut child = Command::new("ip")
            .args(["netns", "exec", &host.ns])
            .args(cmd)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("run in the lab");
        let mut out = child.stdout.take().expect("stdout");
        let reader = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = std::io::Read::read_to_string(&mut out, &mut text);
            text
        });
        let deadline = Instant::now() + within;
        let status = loop {
            if let Some(s) = child.try_wait().expect("wait") {
                break Some(s);
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let text = reader.join().unwrap_or_default();
        assert!(
            status.is_some(),
            "`{}` in {} still running after {within:?}; printed:\n{text}",
            cmd.join(" "),
            host.ns
        );
        (text, status.is_some_and(|s| s.success()))
    }
}
