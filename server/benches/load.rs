//! Load bench of arena-server: many clients in rooms of 8 relaying game data
//! at 20 Hz, plus the memory cost of idle connections.
//!
//! It starts the real `arena-server` binary as a child process on port 0
//! (reading `listening on HOST:PORT` from its stdout) so the server's RSS is
//! measured alone, from `/proc/<pid>/status`. The clients are a minimal
//! hand-written engine.io v4 / Socket.IO v5 websocket client over
//! tokio-tungstenite: on a 2-core machine the load generator shares the CPU
//! with the server, and a client that parses only what it needs leaves the
//! server as much of it as possible (the integration tests cover rust_socketio).
//!
//! Each payload is 30 bytes (40 base64 characters) carrying the send time, so
//! latency is end to end: client → server → client, in one process clock.
//!
//! With `--nodes N` (N > 1) it starts a real `redis-server` (on a free port,
//! no persistence) and N server processes sharing it (`--redis`); client `i`
//! connects to node `i % N`, so every room spreads over the nodes, and each
//! latency is counted as cross-node or same-node from the sender's index
//! carried in the payload. CPU is then the sum of the nodes, Redis apart.
//! Each node is then pinned to a core of its own (see [`placement`]).
//!
//! With `--flood N` one more client, in a room of its own with one silent
//! partner, sends N relays per second to it during the second half of the
//! measurement window (the server throttles it to its relay bucket); the
//! other rooms' latencies are reported for the quiet first half and the
//! flooded second half apart.
//!
//! Run: `cargo bench -p arena-server --bench load -- [--clients N] [--idle M]
//! [--secs S] [--rate HZ] [--room K] [--mode relay|broadcast] [--nodes N]
//! [--flood N]` (env: `LOAD_CLIENTS`, `LOAD_IDLE`, `LOAD_SECS`, `LOAD_RATE`,
//! `LOAD_ROOM`, `LOAD_MODE`, `LOAD_NODES`, `LOAD_FLOOD`).

#[path = "../tests/common/redis.rs"]
mod redis_server;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use base64::Engine;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

#[derive(Debug, Clone)]
struct Opts {
    clients: usize,
    idle: usize,
    secs: u64,
    rate: f64,
    room: usize,
    broadcast: bool,
    nodes: usize,
    /// Relays per second of the flooding client (0: none).
    flood: u64,
}

impl Opts {
    fn parse() -> Result<Self> {
        let env = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.to_owned());
        let mut o = Opts {
            clients: env("LOAD_CLIENTS", "1000").parse()?,
            idle: env("LOAD_IDLE", "1000").parse()?,
            secs: env("LOAD_SECS", "10").parse()?,
            rate: env("LOAD_RATE", "20").parse()?,
            room: env("LOAD_ROOM", "8").parse()?,
            broadcast: env("LOAD_MODE", "relay") == "broadcast",
            nodes: env("LOAD_NODES", "1").parse()?,
            flood: env("LOAD_FLOOD", "0").parse()?,
        };
        let args: Vec<String> = std::env::args().skip(1).collect();
        let mut i = 0;
        while i < args.len() {
            let val = args.get(i + 1).cloned().unwrap_or_default();
            match args[i].as_str() {
                "--clients" => o.clients = val.parse()?,
                "--idle" => o.idle = val.parse()?,
                "--secs" => o.secs = val.parse()?,
                "--rate" => o.rate = val.parse()?,
                "--room" => o.room = val.parse()?,
                "--mode" => o.broadcast = val == "broadcast",
                "--nodes" => o.nodes = val.parse()?,
                "--flood" => o.flood = val.parse()?,
                _ => {
                    i += 1; // `--bench` and friends from cargo
                    continue;
                }
            }
            i += 2;
        }
        ensure!(
            o.room >= 2 && o.clients >= o.room && o.rate > 0.0 && o.nodes >= 1,
            "bad options {o:?}"
        );
        Ok(o)
    }
}

fn main() -> Result<()> {
    let opts = Opts::parse()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(bench(opts))
}

/// The server child process; killed on drop.
struct Server {
    child: tokio::process::Child,
    addr: SocketAddr,
    pid: u32,
}

/// Where a node runs when several share this machine.
#[derive(Debug, Clone, Copy)]
struct Placement {
    /// The core it is pinned to (`taskset -c`).
    core: usize,
    /// Its tokio worker threads (`TOKIO_WORKER_THREADS`).
    workers: usize,
}

/// Nodes sharing the machine are placed as on machines of their own: node `i`
/// pinned to core `i % cores` with `cores / nodes` worker threads (at least
/// one). Unpinned, two 2-thread nodes, Redis and the generator on 2 cores
/// were moved between cores at random, and identical runs came out either
/// at ~10 ms or at ~50 ms of cross-node p99. One node keeps the whole machine.
fn placement(i: usize, nodes: usize) -> Option<Placement> {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    (nodes > 1).then(|| Placement {
        core: i % cores,
        workers: (cores / nodes).max(1),
    })
}

/// One server process; a node of a multi-node server when `redis` is given.
async fn spawn_server(redis: Option<&str>, place: Option<Placement>) -> Result<Server> {
    let exe = env!("CARGO_BIN_EXE_arena-server");
    let mut cmd = match place {
        Some(p) => {
            let mut c = tokio::process::Command::new("taskset");
            c.args(["-c", &p.core.to_string(), exe])
                .env("TOKIO_WORKER_THREADS", p.workers.to_string());
            c
        }
        None => tokio::process::Command::new(exe),
    };
    cmd.args([
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--max-rooms",
        "100000",
        "--stun-port",
        "0",
    ]);
    if let Some(url) = redis {
        cmd.args(["--redis", url]);
    }
    let mut child = cmd
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("cannot start arena-server")?;
    let pid = child.id().context("no pid")?;
    let stdout = child.stdout.take().context("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
        .await
        .context("server did not start")??
        .context("server exited")?;
    // The rest of its output (warnings) goes to our stderr, marked.
    tokio::spawn(async move {
        while let Ok(Some(l)) = lines.next_line().await {
            eprintln!("server {pid}: {l}");
        }
    });
    let addr: SocketAddr = line
        .strip_prefix("listening on ")
        .and_then(|rest| rest.split_whitespace().next())
        .context("unexpected first line")?
        .parse()
        .context("bad address")?;
    Ok(Server { child, addr, pid })
}

fn rss_kb(pid: u32) -> Result<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = s
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .context("no VmRSS")?;
    Ok(line
        .split_whitespace()
        .nth(1)
        .context("bad VmRSS")?
        .parse()?)
}

/// utime + stime of `pid` in clock ticks.
fn cpu_ticks(pid: u32) -> Result<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let after = s.rsplit_once(')').context("bad stat")?.1;
    let f: Vec<&str> = after.split_whitespace().collect();
    Ok(f.get(11).context("utime")?.parse::<u64>()? + f.get(12).context("stime")?.parse::<u64>()?)
}

async fn recv_text(ws: &mut Ws) -> Result<String> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => return Ok(t.to_string()),
            Some(Ok(Message::Close(_))) | None => bail!("connection closed"),
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(e.into()),
        }
    }
}

/// Engine.io open + Socket.IO namespace connect; returns the socket and its sid.
async fn connect(addr: SocketAddr) -> Result<(Ws, String)> {
    let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
    // tungstenite zeroes its whole read buffer before each read (128 KiB by
    // default): at 40,000 frames/s that was half the generator's CPU. The
    // server's own buffer is 4 KiB (engineioxide's default); so is ours.
    let config = WebSocketConfig::default().read_buffer_size(4096);
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(url, Some(config), true).await?;
    let open = recv_text(&mut ws).await?;
    ensure!(open.starts_with('0'), "expected engine.io open, got {open}");
    ws.send(Message::text("40")).await?;
    loop {
        let m = recv_text(&mut ws).await?;
        if let Some(rest) = m.strip_prefix("40") {
            let v: serde_json::Value = serde_json::from_str(rest)?;
            let sid = v["sid"].as_str().context("no sid")?.to_owned();
            return Ok((ws, sid));
        }
        if m == "2" {
            ws.send(Message::text("3")).await?;
        }
    }
}

/// Waits for a text message starting with `prefix`, answering pings.
async fn wait_for(ws: &mut Ws, prefix: &str) -> Result<String> {
    loop {
        let m = recv_text(ws).await?;
        if m.starts_with(prefix) {
            return Ok(m);
        }
        if m == "2" {
            ws.send(Message::text("3")).await?;
        }
    }
}

async fn create_room(ws: &mut Ws) -> Result<String> {
    ws.send(Message::text(r#"420["create_room",{}]"#)).await?;
    let m = wait_for(ws, "430").await?;
    let v: serde_json::Value = serde_json::from_str(&m[3..])?;
    Ok(v[0]["roomId"].as_str().context("no roomId")?.to_owned())
}

async fn join_room(ws: &mut Ws, code: &str) -> Result<()> {
    ws.send(Message::text(format!(
        r#"42["join_room",{{"roomId":"{code}"}}]"#
    )))
    .await?;
    wait_for(ws, r#"42["room_users""#).await?;
    Ok(())
}

/// `n` connections, the `i`th to `addrs[i % addrs.len()]`.
async fn connect_many(addrs: &[SocketAddr], n: usize) -> Result<Vec<(Ws, String)>> {
    let sem = Arc::new(Semaphore::new(64));
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let sem = sem.clone();
        let addr = addrs[i % addrs.len()];
        tasks.push(tokio::spawn(async move {
            let _permit = sem.acquire_owned().await?;
            connect(addr).await
        }));
    }
    let mut out = Vec::with_capacity(n);
    for t in tasks {
        out.push(t.await??);
    }
    Ok(out)
}

#[derive(Default)]
struct ClientReport {
    sent: u64,
    received: u64,
    /// Latencies of messages from a client on the same node.
    latencies_us: Vec<u32>,
    /// Latencies of messages from a client on another node.
    cross_us: Vec<u32>,
    /// Latencies of messages sent while the flood ran (`--flood`).
    flooded_us: Vec<u32>,
}

/// One relaying client: sends at `rate` until `stop`, records latencies of
/// messages sent in the measurement window [`from`, `stop`).
#[allow(clippy::too_many_arguments)]
async fn relay_client(
    mut ws: Ws,
    idx: usize,
    peers: Vec<String>,
    epoch: Instant,
    from: Instant,
    stop: Instant,
    rate: f64,
    broadcast: bool,
    nodes: usize,
    flood_from: Option<Instant>,
) -> Result<ClientReport> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let period = Duration::from_secs_f64(1.0 / rate);
    // Stagger the clients over one period so they do not all fire at once.
    let offset = period.mul_f64((idx % 97) as f64 / 97.0);
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + offset, period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut rep = ClientReport::default();
    let mut k = idx;
    // One timer for the end of the drain, not one per received message.
    let drained = tokio::time::sleep_until((stop + Duration::from_millis(500)).into());
    tokio::pin!(drained);
    let mut payload = [0u8; 30];
    payload[8..16].copy_from_slice(&(idx as u64).to_le_bytes());
    loop {
        tokio::select! {
            _ = tick.tick(), if Instant::now() < stop => {
                let ts = epoch.elapsed().as_nanos() as u64;
                payload[..8].copy_from_slice(&ts.to_le_bytes());
                let data = b64.encode(payload);
                let text = if broadcast {
                    format!(r#"42["broadcast",{{"data":"{data}"}}]"#)
                } else {
                    let target = &peers[k % peers.len()];
                    k += 1;
                    format!(r#"42["relay",{{"targetId":"{target}","data":"{data}"}}]"#)
                };
                ws.send(Message::text(text)).await?;
                rep.sent += 1;
            }
            () = &mut drained => break,
            m = ws.next() => {
                let m = match m {
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => return Err(e.into()),
                    None => bail!("client {idx}: server closed the connection"),
                };
                if m.as_str() == "2" {
                    ws.send(Message::text("3")).await?;
                    continue;
                }
                let Some(start) = m.find(r#""data":""#) else { continue };
                let rest = &m[start + 8..];
                let Some(end) = rest.find('"') else { continue };
                let Ok(bytes) = b64.decode(&rest[..end]) else { continue };
                if bytes.len() < 16 {
                    continue;
                }
                let mut ts = [0u8; 8];
                ts.copy_from_slice(&bytes[..8]);
                let sent_at = epoch + Duration::from_nanos(u64::from_le_bytes(ts));
                let mut from_idx = [0u8; 8];
                from_idx.copy_from_slice(&bytes[8..16]);
                let cross = u64::from_le_bytes(from_idx) as usize % nodes != idx % nodes;
                rep.received += 1;
                if sent_at >= from && sent_at < stop {
                    let us = u32::try_from(sent_at.elapsed().as_micros()).unwrap_or(u32::MAX);
                    if flood_from.is_some_and(|f| sent_at >= f) {
                        rep.flooded_us.push(us);
                    } else if cross {
                        rep.cross_us.push(us);
                    } else {
                        rep.latencies_us.push(us);
                    }
                }
            }
        }
    }
    let _ = ws.close(None).await;
    Ok(rep)
}

/// What the flooding client did.
#[derive(Default)]
struct FloodReport {
    sent: u64,
    /// `rate_limited` notices it got.
    notices: u64,
    /// Relays its partner got (the throttled rest).
    delivered: u64,
}

/// The flooder: from `from` until `stop`, `rate` relays per second (in
/// batches every 10 ms) to `partner`, which only counts what arrives.
async fn flood(
    flooder: Ws,
    partner: (Ws, String),
    rate: u64,
    from: Instant,
    stop: Instant,
) -> Result<FloodReport> {
    let (mut tx, mut rx) = flooder.split();
    let (mut pws, psid) = partner;
    let delivered = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let count = delivered.clone();
    let counter = tokio::spawn(async move {
        while let Some(Ok(m)) = pws.next().await {
            if let Message::Text(t) = m {
                if t.as_str() == "2" {
                    if pws.send(Message::text("3")).await.is_err() {
                        break;
                    }
                } else if t.starts_with(r#"42["relay""#) {
                    count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
        }
    });
    let notices = tokio::spawn(async move {
        let mut n = 0u64;
        while let Some(Ok(m)) = rx.next().await {
            if let Message::Text(t) = m
                && t.contains(r#""rate_limited""#)
            {
                n += 1;
            }
        }
        n
    });
    let data = base64::engine::general_purpose::STANDARD.encode([0u8; 30]);
    let frame = Message::text(format!(
        r#"42["relay",{{"targetId":"{psid}","data":"{data}"}}]"#
    ));
    let batch = (rate / 100).max(1);
    let mut rep = FloodReport::default();
    tokio::time::sleep_until(from.into()).await;
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    while Instant::now() < stop {
        tick.tick().await;
        for _ in 0..batch {
            tx.feed(frame.clone()).await?;
        }
        tx.flush().await?;
        rep.sent += batch;
    }
    // Let the last notices and relays arrive, then hang up.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let _ = tx.close().await;
    rep.notices = notices.await?;
    counter.abort();
    rep.delivered = delivered.load(std::sync::atomic::Ordering::Relaxed);
    Ok(rep)
}

/// `a` and `b` merged and sorted.
fn merged(a: &[u32], b: &[u32]) -> Vec<u32> {
    let mut v: Vec<u32> = a.iter().chain(b).copied().collect();
    v.sort_unstable();
    v
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    f64::from(sorted[i.min(sorted.len() - 1)]) / 1000.0
}

async fn bench(opts: Opts) -> Result<()> {
    // Several nodes share one real redis-server; one node runs without it.
    let redis = if opts.nodes > 1 {
        let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("load-redis");
        Some(redis_server::Redis::start(&dir))
    } else {
        None
    };
    let url = redis.as_ref().map(redis_server::Redis::url);
    let mut servers = Vec::new();
    let mut placed = Vec::new();
    for i in 0..opts.nodes {
        let place = placement(i, opts.nodes);
        servers.push(spawn_server(url.as_deref(), place).await?);
        placed.extend(place);
    }
    let addrs: Vec<SocketAddr> = servers.iter().map(|s| s.addr).collect();
    let pids: Vec<u32> = servers.iter().map(|s| s.pid).collect();
    let redis_pid = redis.as_ref().map(redis_server::Redis::pid);
    println!(
        "arena-server pids {pids:?} on {addrs:?} placed {placed:?}; Redis pid {redis_pid:?}; options {opts:?}"
    );

    // Phase 1: idle connections (on the first node).
    let pid = pids[0];
    let rss0 = rss_kb(pid)?;
    let t = Instant::now();
    let idle = connect_many(&addrs[..1], opts.idle).await?;
    let connect_time = t.elapsed();
    tokio::time::sleep(Duration::from_millis(500)).await; // let allocations settle
    let rss1 = rss_kb(pid)?;
    let per_idle = (rss1.saturating_sub(rss0)) as f64 / opts.idle.max(1) as f64;
    println!(
        "idle: {} connections in {:.2} s; server RSS {rss0} KB -> {rss1} KB = {per_idle:.1} KB per idle connection",
        opts.idle,
        connect_time.as_secs_f64()
    );
    drop(idle);

    // Phase 2: relaying clients in rooms, spread over the nodes.
    let mut conns = connect_many(&addrs, opts.clients).await?;
    let mut rooms: Vec<Vec<usize>> = Vec::new();
    for start in (0..opts.clients).step_by(opts.room) {
        let end = (start + opts.room).min(opts.clients);
        if end - start < 2 {
            break;
        }
        let code = create_room(&mut conns[start].0).await?;
        let mut joins = Vec::new();
        for (i, (ws, _)) in conns[start..end].iter_mut().enumerate() {
            let code = &code;
            joins.push(async move {
                join_room(ws, code)
                    .await
                    .with_context(|| format!("join {i}"))
            });
        }
        for j in futures_util::future::join_all(joins).await {
            j?;
        }
        rooms.push((start..end).collect());
    }
    let mut room_of = vec![usize::MAX; opts.clients];
    for (r, members) in rooms.iter().enumerate() {
        for &m in members {
            room_of[m] = r;
        }
    }
    // The flooder and its partner, in a room of their own on the first node.
    let flood_pair = if opts.flood > 0 {
        let mut pair = connect_many(&addrs[..1], 2).await?;
        let code = create_room(&mut pair[0].0).await?;
        for (ws, _) in pair.iter_mut() {
            join_room(ws, &code).await?;
        }
        let partner = pair.pop().context("no partner")?;
        let flooder = pair.pop().context("no flooder")?;
        Some((flooder.0, partner))
    } else {
        None
    };
    let sids: Vec<String> = conns.iter().map(|(_, s)| s.clone()).collect();
    let epoch = Instant::now();
    let warmup = Duration::from_secs(2);
    let from = epoch + warmup;
    let stop = from + Duration::from_secs(opts.secs);
    let flood_from = flood_pair
        .is_some()
        .then(|| from + Duration::from_secs(opts.secs) / 2);
    let flood_task = match (flood_pair, flood_from) {
        (Some((f, p)), Some(at)) => Some(tokio::spawn(flood(f, p, opts.flood, at, stop))),
        _ => None,
    };
    let mut tasks = Vec::new();
    let mut active = 0usize;
    for (idx, (ws, sid)) in conns.into_iter().enumerate() {
        let Some(members) = rooms.get(room_of[idx]) else {
            continue;
        };
        let peers: Vec<String> = members
            .iter()
            .filter(|&&m| sids[m] != sid)
            .map(|&m| sids[m].clone())
            .collect();
        active += 1;
        tasks.push(tokio::spawn(relay_client(
            ws,
            idx,
            peers,
            epoch,
            from,
            stop,
            opts.rate,
            opts.broadcast,
            opts.nodes,
            flood_from,
        )));
    }
    let cpu_of =
        |pids: &[u32]| -> Result<u64> { pids.iter().map(|&p| cpu_ticks(p)).sum::<Result<u64>>() };
    let redis_pids: Vec<u32> = redis_pid.into_iter().collect();
    tokio::time::sleep_until(from.into()).await;
    let cpu0 = cpu_of(&pids)?;
    let redis0 = cpu_of(&redis_pids)?;
    let own0 = cpu_ticks(std::process::id())?;
    let wall0 = Instant::now();
    tokio::time::sleep_until(stop.into()).await;
    let cpu1 = cpu_of(&pids)?;
    let redis1 = cpu_of(&redis_pids)?;
    let own1 = cpu_ticks(std::process::id())?;
    let window = wall0.elapsed().as_secs_f64();
    let rss_load: u64 = pids.iter().map(|&p| rss_kb(p)).sum::<Result<u64>>()?;

    let (mut lat, mut cross, mut flooded) = (Vec::new(), Vec::new(), Vec::new());
    let (mut sent, mut received) = (0u64, 0u64);
    let mut failed = 0usize;
    for t in tasks {
        match t.await? {
            Ok(r) => {
                sent += r.sent;
                received += r.received;
                lat.extend(r.latencies_us);
                cross.extend(r.cross_us);
                flooded.extend(r.flooded_us);
            }
            Err(e) => {
                failed += 1;
                eprintln!("client failed: {e:#}");
            }
        }
    }
    let mut all: Vec<u32> = lat.iter().chain(&cross).chain(&flooded).copied().collect();
    all.sort_unstable();
    lat.sort_unstable();
    cross.sort_unstable();
    flooded.sort_unstable();
    let flood_rep = match flood_task {
        Some(t) => Some(t.await??),
        None => None,
    };
    let total_secs = (warmup + Duration::from_secs(opts.secs)).as_secs_f64();
    let ticks_per_sec = 100.0; // USER_HZ on Linux
    let pct = |a: u64, b: u64| (b - a) as f64 / ticks_per_sec / window * 100.0;
    let (cpu, redis_cpu, own_cpu) = (pct(cpu0, cpu1), pct(redis0, redis1), pct(own0, own1));
    let mode = if opts.broadcast {
        "broadcast (to the 7 others)"
    } else {
        "relay (to one peer)"
    };
    let split = |v: &[u32]| {
        format!(
            "{} samples: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            v.len(),
            percentile(v, 0.50),
            percentile(v, 0.99),
            percentile(v, 1.0)
        )
    };
    println!();
    println!("| metric | value |");
    println!("|---|---|");
    println!("| server nodes | {} |", opts.nodes);
    if let Some(p) = placed.first() {
        println!(
            "| node placement | one core each (node i on core i), {} worker thread(s) |",
            p.workers
        );
    }
    println!(
        "| relaying clients | {active} in {} rooms of {} ({failed} failed) |",
        rooms.len(),
        opts.room
    );
    println!("| mode, rate | {mode}, {} Hz per client |", opts.rate);
    println!("| payload | 30 bytes = 40 base64 chars |");
    println!("| messages sent / s | {:.0} |", sent as f64 / total_secs);
    println!(
        "| messages delivered / s | {:.0} |",
        received as f64 / total_secs
    );
    println!("| latency samples | {} |", all.len());
    println!("| latency p50 | {:.2} ms |", percentile(&all, 0.50));
    println!("| latency p90 | {:.2} ms |", percentile(&all, 0.90));
    println!("| latency p99 | {:.2} ms |", percentile(&all, 0.99));
    println!("| latency p99.9 | {:.2} ms |", percentile(&all, 0.999));
    println!("| latency max | {:.2} ms |", percentile(&all, 1.0));
    if opts.nodes > 1 {
        println!("| cross-node | {} |", split(&cross));
        println!("| same-node | {} |", split(&lat));
        println!("| Redis CPU during window | {redis_cpu:.0} % of one core |");
    }
    if let Some(f) = &flood_rep {
        let secs = opts.secs as f64 / 2.0;
        println!(
            "| flood | {} relays/s asked, {:.0}/s sent, {:.0}/s delivered, {} rate_limited notices |",
            opts.flood,
            f.sent as f64 / secs,
            f.delivered as f64 / secs,
            f.notices
        );
        println!("| others, quiet half | {} |", split(&merged(&lat, &cross)));
        println!("| others, flooded half | {} |", split(&flooded));
    }
    println!("| server CPU during window (all nodes) | {cpu:.0} % of one core |");
    println!("| load generator CPU (this process) | {own_cpu:.0} % of one core |");
    println!("| server RSS under load (all nodes) | {rss_load} KB |");
    println!("| idle connections | {} |", opts.idle);
    println!("| server RSS idle: before -> after | {rss0} KB -> {rss1} KB |");
    println!("| RSS per idle connection | {per_idle:.1} KB |");
    drop(servers);
    drop(redis);
    Ok(())
}

impl Drop for Server {
    fn drop(&mut self) {
        // Our own child, by handle.
        let _ = self.child.start_kill();
    }
}
