//! Server counters and their Prometheus text exposition (`/metrics`).
//!
//! Owns plain atomics that handlers bump and the renderer reads; it knows no
//! sockets and no rooms (the room gauge is set by whoever changes rooms).
//! Hand-written exposition format 0.0.4: no metrics crate needed.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};

use crate::protocol::ErrorCode;

/// Kinds of forwarded traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Traffic {
    /// `signal` (WebRTC signaling).
    Signal = 0,
    /// `relay` (game data to one peer).
    Relay = 1,
    /// `broadcast` (game data to the room).
    Broadcast = 2,
}

const TRAFFIC: [&str; 3] = ["signal", "relay", "broadcast"];

/// What the built-in STUN server did with a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StunResult {
    /// A Binding request, answered.
    Answered = 0,
    /// Not STUN, or broken STUN.
    Malformed = 1,
    /// STUN, but not a Binding request.
    NotBinding = 2,
    /// Too large to be a Binding request.
    Oversized = 3,
    /// Over its source's rate limit.
    RateLimited = 4,
}

const STUN_RESULTS: [&str; 5] = [
    "answered",
    "malformed",
    "not_binding",
    "oversized",
    "rate_limited",
];

impl From<crate::stun::Dropped> for StunResult {
    fn from(d: crate::stun::Dropped) -> Self {
        use crate::stun::Dropped;
        match d {
            Dropped::Oversized => Self::Oversized,
            Dropped::Malformed => Self::Malformed,
            Dropped::NotBinding => Self::NotBinding,
            Dropped::RateLimited => Self::RateLimited,
        }
    }
}

/// All counters of one server.
#[derive(Debug, Default)]
pub struct Metrics {
    connections: AtomicI64,
    connections_total: AtomicU64,
    rooms: AtomicI64,
    rooms_created: AtomicU64,
    rooms_expired: AtomicU64,
    joins_ok: AtomicU64,
    joins_failed: [AtomicU64; ErrorCode::ALL.len()],
    messages: [AtomicU64; 3],
    bytes: [AtomicU64; 3],
    deliveries: [AtomicU64; 3],
    rejections: [AtomicU64; ErrorCode::ALL.len()],
    stun: [AtomicU64; 5],
    /// 0: no Redis (gauge not shown); 1: Redis answers; 2: it does not.
    redis: AtomicI64,
    members_reaped: AtomicU64,
}

fn idx(code: ErrorCode) -> usize {
    ErrorCode::ALL.iter().position(|c| *c == code).unwrap_or(0)
}

impl Metrics {
    /// A connection opened.
    pub fn connected(&self) {
        self.connections.fetch_add(1, Relaxed);
        self.connections_total.fetch_add(1, Relaxed);
    }
    /// A connection closed.
    pub fn disconnected(&self) {
        self.connections.fetch_sub(1, Relaxed);
    }
    /// Current number of connections.
    pub fn connections(&self) -> i64 {
        self.connections.load(Relaxed)
    }
    /// Sets the room gauge.
    pub fn set_rooms(&self, n: usize) {
        self.rooms
            .store(i64::try_from(n).unwrap_or(i64::MAX), Relaxed);
    }
    /// A room was created.
    pub fn room_created(&self) {
        self.rooms_created.fetch_add(1, Relaxed);
    }
    /// `n` empty rooms expired.
    pub fn rooms_expired(&self, n: usize) {
        self.rooms_expired.fetch_add(n as u64, Relaxed);
    }
    /// Whether this node reaches Redis (multi-node servers only: the
    /// `arena_redis_up` gauge appears once this is called).
    pub fn set_redis_up(&self, up: bool) {
        self.redis.store(if up { 1 } else { 2 }, Relaxed);
    }
    /// `n` members of a dead node were taken out of their rooms by this node.
    pub fn members_reaped(&self, n: usize) {
        self.members_reaped.fetch_add(n as u64, Relaxed);
    }
    /// A join succeeded.
    pub fn join_ok(&self) {
        self.joins_ok.fetch_add(1, Relaxed);
    }
    /// A join failed with `code`.
    pub fn join_failed(&self, code: ErrorCode) {
        self.joins_failed[idx(code)].fetch_add(1, Relaxed);
    }
    /// A message of `kind` carrying `bytes` was accepted and forwarded to `deliveries` sockets.
    pub fn forwarded(&self, kind: Traffic, bytes: usize, deliveries: usize) {
        let i = kind as usize;
        self.messages[i].fetch_add(1, Relaxed);
        self.bytes[i].fetch_add(bytes as u64, Relaxed);
        self.deliveries[i].fetch_add(deliveries as u64, Relaxed);
    }
    /// A message was refused with `code` (any event).
    pub fn rejected(&self, code: ErrorCode) {
        self.rejections[idx(code)].fetch_add(1, Relaxed);
    }

    /// The built-in STUN server handled a datagram.
    pub fn stun(&self, result: StunResult) {
        self.stun[result as usize].fetch_add(1, Relaxed);
    }

    /// Datagrams the STUN server handled with `result`, so far.
    pub fn stun_count(&self, result: StunResult) -> u64 {
        self.stun[result as usize].load(Relaxed)
    }

    /// The Prometheus text exposition of every counter.
    pub fn render(&self) -> String {
        let mut o = String::with_capacity(2048);
        let load = |v: &AtomicU64| v.load(Relaxed).to_string();
        let single = [
            (
                "arena_connections",
                "gauge",
                "Open Socket.IO connections.",
                self.connections.load(Relaxed).to_string(),
            ),
            (
                "arena_rooms",
                "gauge",
                "Rooms, occupied or within their empty grace period.",
                self.rooms.load(Relaxed).to_string(),
            ),
            (
                "arena_connections_total",
                "counter",
                "Connections accepted.",
                load(&self.connections_total),
            ),
            (
                "arena_rooms_created_total",
                "counter",
                "Rooms created.",
                load(&self.rooms_created),
            ),
            (
                "arena_rooms_expired_total",
                "counter",
                "Empty rooms expired.",
                load(&self.rooms_expired),
            ),
        ];
        let redis = self.redis.load(Relaxed);
        let cluster = [
            (
                "arena_redis_up",
                "gauge",
                "Whether this node reaches Redis (multi-node servers).",
                i64::from(redis == 1).to_string(),
            ),
            (
                "arena_members_reaped_total",
                "counter",
                "Members of dead nodes this node took out of their rooms.",
                load(&self.members_reaped),
            ),
        ];
        let cluster = cluster.into_iter().filter(|_| redis != 0);
        for (name, kind, help, v) in single.into_iter().chain(cluster) {
            header(&mut o, name, kind, help);
            let _ = writeln!(o, "{name} {v}");
        }
        let codes = ErrorCode::ALL.map(ErrorCode::as_str);
        let joins = "arena_joins_total";
        header(&mut o, joins, "counter", "Room joins by result.");
        let _ = writeln!(o, "{joins}{{result=\"ok\"}} {}", load(&self.joins_ok));
        rows(&mut o, joins, "result", &codes, &self.joins_failed);
        let families: [Family<'_>; 5] = [
            (
                "arena_relayed_messages_total",
                "Messages accepted for forwarding, by event.",
                "event",
                &TRAFFIC,
                &self.messages,
            ),
            (
                "arena_relayed_bytes_total",
                "Payload bytes (base64 data or signal JSON) accepted, by event.",
                "event",
                &TRAFFIC,
                &self.bytes,
            ),
            (
                "arena_relayed_deliveries_total",
                "Messages delivered to recipients, by event.",
                "event",
                &TRAFFIC,
                &self.deliveries,
            ),
            (
                "arena_rejections_total",
                "Messages refused, by reason.",
                "reason",
                &codes,
                &self.rejections,
            ),
            (
                "arena_stun_datagrams_total",
                "Datagrams received by the built-in STUN server, by what was done with them.",
                "result",
                &STUN_RESULTS,
                &self.stun,
            ),
        ];
        for (name, help, label, keys, values) in families {
            header(&mut o, name, "counter", help);
            rows(&mut o, name, label, keys, values);
        }
        o
    }
}

/// A labelled counter family: name, help, label, label values, counters.
type Family<'a> = (&'a str, &'a str, &'a str, &'a [&'a str], &'a [AtomicU64]);

/// The `# HELP` and `# TYPE` lines of metric `name`.
fn header(o: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// One `name{label="key"} value` line per key.
fn rows(o: &mut String, name: &str, label: &str, keys: &[&str], values: &[AtomicU64]) {
    for (k, v) in keys.iter().zip(values) {
        let _ = writeln!(o, "{name}{{{label}=\"{k}\"}} {}", v.load(Relaxed));
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::default();
        m.connected();
        m.join_ok();
        m.join_failed(ErrorCode::Full);
        m.forwarded(Traffic::Relay, 40, 1);
        m.rejected(ErrorCode::RateLimited);
        m.stun(StunResult::Malformed);
        let t = m.render();
        assert!(t.contains("arena_stun_datagrams_total{result=\"malformed\"} 1\n"));
        assert!(t.contains("arena_connections 1\n"));
        assert!(t.contains("arena_joins_total{result=\"full\"} 1\n"));
        assert!(t.contains("arena_relayed_bytes_total{event=\"relay\"} 40\n"));
        assert!(t.contains("arena_rejections_total{reason=\"rate_limited\"} 1\n"));
    }
}
