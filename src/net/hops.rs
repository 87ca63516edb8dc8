//! Where a round trip goes: the instants at which each ping and pong passes
//! the hops of the native shell, recorded only when asked for
//! ([`super::NetConfig::record_hops`], `arena bot --hops`;
//! `benches/net_link.rs` prints the breakdown). Off, nothing is recorded
//! and each message costs the shell one `Option` check.
//!
//! The points one message passes, in order ([`Point`]):
//!
//! ```text
//! out: fed ─▶ handed ─▶ task ─▶ wire out       in: wire in ─▶ read ─▶ driver
//! ```
//!
//! `fed`: the driver fed the core the input whose handling produced it (a
//! ping: the timer; a pong: the ping, so the ping's `driver`); `handed`: the
//! driver put it on the connection's queue; `task`: the connection's task
//! took it off and called the data channel's `send`; `wire out`: webrtc
//! hands the UDP datagram to our socket (just before `sendmsg`); `wire in`:
//! a datagram came out of our socket (after `recvmmsg`);
//! `read`: the channel's reader task got the message; `driver`: the driver
//! fed it to the core (a pong's round trip ends there, as the core measures
//! it). The UDP instants come from the connection's socket, which the
//! connection's runtime wraps while recording ([`HopSocket`]): the first
//! datagram sent after the task's `send`, the last one received before the
//! reader got the message. With pings at 20 Hz nothing else is usually on
//! the wire within those microseconds; a state or keepalive in between shifts
//! that one sample.
//!
//! Each process sees its own hops on its own clock, and reports them per
//! ping nonce ([`HopReport`]); the bench joins a pinger's report with its
//! peer's by nonce. Messages are recognised by decoding their bytes (only
//! pings and pongs are kept): this module must not reach into the core.

use std::collections::HashMap;
use std::io::{self, IoSliceMut};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use webrtc::runtime::{AsyncUdpSocket, RecvMeta, Transmit};

use crate::proto::{self, Bounds, Message};

/// Records kept at most (20 Hz of pings each way for half an hour).
const MAX_RECORDS: usize = 150_000;

/// Which message: a ping or a pong, and its nonce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    Ping(u32),
    Pong(u32),
}

impl Key {
    /// The key of a ping or pong; `None` for every other message.
    fn of(bytes: &[u8]) -> Option<Key> {
        // Pings and pongs carry no position: any bounds decode them.
        let bounds = Bounds::new(glam::Vec2::ZERO, glam::Vec2::ZERO);
        match proto::decode(bytes, &bounds).ok()? {
            Message::Ping { nonce, .. } => Some(Key::Ping(nonce)),
            Message::Pong { nonce, .. } => Some(Key::Pong(nonce)),
            _ => None,
        }
    }
}

/// A point of the shell a message passes (see the module documentation).
#[derive(Debug, Clone, Copy)]
pub(super) enum Point {
    /// The input that produced it was fed to the core.
    Fed,
    /// The driver put it on the connection's queue.
    Handed,
    /// The connection's task took it and called `send`.
    Task,
    /// Its datagram is handed to our socket.
    WireOut,
    /// Its datagram came out of our socket.
    WireIn,
    /// The channel's reader got it.
    Read,
    /// The driver fed it to the core.
    Driver,
}

const POINTS: usize = 7;

type Instants = [Option<Instant>; POINTS];

/// The recorder of one net thread. Shared by the driver and every
/// connection.
#[derive(Debug, Default)]
pub struct Hops {
    records: Mutex<HashMap<Key, Instants>>,
}

impl Hops {
    /// An empty recorder.
    pub fn new() -> Hops {
        Hops::default()
    }

    /// Notes that `bytes` passed `point` at `at`, if it is a ping or pong;
    /// returns its key.
    fn stamp(&self, bytes: &[u8], point: Point, at: Instant) -> Option<Key> {
        let key = Key::of(bytes)?;
        self.stamp_key(key, point, at);
        Some(key)
    }

    fn stamp_key(&self, key: Key, point: Point, at: Instant) {
        let Ok(mut records) = self.records.lock() else {
            return;
        };
        if records.len() >= MAX_RECORDS && !records.contains_key(&key) {
            return;
        }
        records.entry(key).or_default()[point as usize] = Some(at);
    }

    /// The driver fed `bytes` (a message from a peer) to the core at `at`.
    pub(super) fn fed_in(&self, bytes: &[u8], at: Instant) {
        self.stamp(bytes, Point::Driver, at);
    }

    /// The driver hands `bytes` to a connection now; the input that
    /// produced it was fed at `fed`.
    pub(super) fn handed(&self, bytes: &[u8], fed: Instant) {
        if let Some(key) = self.stamp(bytes, Point::Handed, Instant::now()) {
            self.stamp_key(key, Point::Fed, fed);
        }
    }

    /// Per-hop times so far, in microseconds.
    pub fn report(&self) -> HopReport {
        let Ok(records) = self.records.lock() else {
            return HopReport::default();
        };
        let mut report = HopReport::default();
        let us = |a: Option<Instant>, b: Option<Instant>| -> Option<f64> {
            let (a, b) = (a?, b?);
            Some(b.checked_duration_since(a)?.as_secs_f64() * 1e6)
        };
        let at = |r: &Instants, p: Point| r[p as usize];
        for (key, r) in records.iter() {
            let Key::Ping(nonce) = *key else { continue };
            let pong = records.get(&Key::Pong(nonce));
            if at(r, Point::Fed).is_some() {
                // Our ping (we fed the timer that made it).
                let Some(p) = pong else { continue };
                let (Some(core), Some(queue), Some(send), Some(read), Some(deliver), Some(rtt)) = (
                    us(at(r, Point::Fed), at(r, Point::Handed)),
                    us(at(r, Point::Handed), at(r, Point::Task)),
                    us(at(r, Point::Task), at(r, Point::WireOut)),
                    us(at(p, Point::WireIn), at(p, Point::Read)),
                    us(at(p, Point::Read), at(p, Point::Driver)),
                    us(at(r, Point::Fed), at(p, Point::Driver)),
                ) else {
                    continue;
                };
                report.pings.push(PingHops {
                    nonce,
                    core_us: core,
                    queue_us: queue,
                    send_us: send,
                    read_us: read,
                    deliver_us: deliver,
                    rtt_us: rtt,
                });
            } else if let Some(p) = pong {
                // A peer's ping, and our pong to it.
                let (Some(read), Some(deliver), Some(core), Some(queue), Some(send), Some(turn)) = (
                    us(at(r, Point::WireIn), at(r, Point::Read)),
                    us(at(r, Point::Read), at(r, Point::Driver)),
                    us(at(p, Point::Fed), at(p, Point::Handed)),
                    us(at(p, Point::Handed), at(p, Point::Task)),
                    us(at(p, Point::Task), at(p, Point::WireOut)),
                    us(at(r, Point::WireIn), at(p, Point::WireOut)),
                ) else {
                    continue;
                };
                report.answers.push(AnswerHops {
                    nonce,
                    read_us: read,
                    deliver_us: deliver,
                    core_us: core,
                    queue_us: queue,
                    send_us: send,
                    turnaround_us: turn,
                });
            }
        }
        report.pings.sort_by_key(|p| p.nonce);
        report.answers.sort_by_key(|a| a.nonce);
        report
    }
}

/// Where the time of round trips went, as one process saw it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct HopReport {
    /// Our pings whose pong came back.
    pub pings: Vec<PingHops>,
    /// Peers' pings we answered.
    pub answers: Vec<AnswerHops>,
}

/// One of our pings, microseconds per hop on our side.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PingHops {
    /// The ping's nonce (the peer's [`AnswerHops`] for it has the same).
    pub nonce: u32,
    /// Timer fed to the core → ping handed to the connection's queue.
    pub core_us: f64,
    /// Queue → the connection's task calls `send`.
    pub queue_us: f64,
    /// `send` → the datagram is handed to our socket (webrtc: SCTP, DTLS).
    pub send_us: f64,
    /// The pong's datagram arrives → the reader task has the pong (webrtc).
    pub read_us: f64,
    /// Reader → the driver feeds the pong to the core.
    pub deliver_us: f64,
    /// The round trip, as the core measures it (timer fed → pong fed).
    pub rtt_us: f64,
}

/// A peer's ping we answered, microseconds per hop on our side.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AnswerHops {
    /// The ping's nonce.
    pub nonce: u32,
    /// The ping's datagram arrives → the reader task has it (webrtc).
    pub read_us: f64,
    /// Reader → the driver feeds it to the core.
    pub deliver_us: f64,
    /// Fed → the pong handed to the connection's queue.
    pub core_us: f64,
    /// Queue → the connection's task calls `send`.
    pub queue_us: f64,
    /// `send` → the pong's datagram is handed to our socket.
    pub send_us: f64,
    /// The ping's datagram in → the pong's datagram out.
    pub turnaround_us: f64,
}

/// One connection's view of the recorder: what its task sends and its
/// readers read, and the instants its socket sees.
#[derive(Debug)]
pub(super) struct ConnHops {
    hops: Arc<Hops>,
    /// The message whose datagram is the next one out.
    armed: Mutex<Option<Key>>,
    /// When the last datagram arrived.
    last_in: Mutex<Option<Instant>>,
}

impl ConnHops {
    pub(super) fn new(hops: Arc<Hops>) -> Arc<ConnHops> {
        Arc::new(ConnHops {
            hops,
            armed: Mutex::new(None),
            last_in: Mutex::new(None),
        })
    }

    /// The connection's task is about to `send` these bytes.
    pub(super) fn sending(&self, bytes: &[u8]) {
        if let Some(key) = self.hops.stamp(bytes, Point::Task, Instant::now()) {
            if let Ok(mut armed) = self.armed.lock() {
                *armed = Some(key);
            }
        }
    }

    /// A reader task got these bytes.
    pub(super) fn read(&self, bytes: &[u8]) {
        let now = Instant::now();
        if let Some(key) = self.hops.stamp(bytes, Point::Read, now) {
            let wire = self.last_in.lock().ok().and_then(|t| *t);
            if let Some(t) = wire {
                self.hops.stamp_key(key, Point::WireIn, t);
            }
        }
    }

    /// A datagram was handed to the socket at `at`.
    fn sent(&self, at: Instant) {
        if let Some(key) = self.armed.lock().ok().and_then(|mut a| a.take()) {
            self.hops.stamp_key(key, Point::WireOut, at);
        }
    }

    /// A datagram arrived on the socket.
    fn received(&self) {
        if let Ok(mut t) = self.last_in.lock() {
            *t = Some(Instant::now());
        }
    }

    /// `socket`, noting here when datagrams leave and arrive.
    pub(super) fn wrap(
        self: &Arc<Self>,
        socket: Arc<dyn AsyncUdpSocket>,
    ) -> Arc<dyn AsyncUdpSocket> {
        Arc::new(HopSocket {
            inner: socket,
            conn: self.clone(),
        })
    }
}

/// A connection's UDP socket that tells its [`ConnHops`] when datagrams
/// leave and arrive.
#[derive(Debug)]
struct HopSocket {
    inner: Arc<dyn AsyncUdpSocket>,
    conn: Arc<ConnHops>,
}

impl AsyncUdpSocket for HopSocket {
    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    fn poll_send(&self, cx: &mut Context<'_>, transmit: &Transmit<'_>) -> Poll<io::Result<usize>> {
        // Taken before the system call: on loopback `sendmsg` itself
        // delivers the datagram and wakes the receiver, which belongs to
        // the wire.
        let at = Instant::now();
        let r = self.inner.poll_send(cx, transmit);
        if let Poll::Ready(Ok(_)) = r {
            self.conn.sent(at);
        }
        r
    }

    fn poll_recv(
        &self,
        cx: &mut Context<'_>,
        bufs: &mut [IoSliceMut<'_>],
        meta: &mut [RecvMeta],
    ) -> Poll<io::Result<usize>> {
        let r = self.inner.poll_recv(cx, bufs, meta);
        if let Poll::Ready(Ok(_)) = r {
            self.conn.received();
        }
        r
    }

    fn max_gso_segments(&self) -> usize {
        self.inner.max_gso_segments()
    }

    fn max_gro_segments(&self) -> usize {
        self.inner.max_gro_segments()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn ping(nonce: u32) -> Vec<u8> {
        proto::encode(&Message::Ping { nonce, t: 1.0 })
    }

    fn pong(nonce: u32) -> Vec<u8> {
        proto::encode(&Message::Pong {
            nonce,
            t_ping: 1.0,
            t_remote: 2.0,
        })
    }

    #[test]
    fn a_ping_and_its_pong_make_one_breakdown_on_each_side() {
        let t0 = Instant::now();
        let t = |us: u64| t0 + Duration::from_micros(us);
        // The pinger's side.
        let a = Hops::new();
        a.stamp_key(Key::Ping(7), Point::Fed, t(0));
        a.stamp(&ping(7), Point::Handed, t(5));
        a.stamp(&ping(7), Point::Task, t(15));
        a.stamp_key(Key::Ping(7), Point::WireOut, t(45));
        a.stamp_key(Key::Pong(7), Point::WireIn, t(200));
        a.stamp(&pong(7), Point::Read, t(230));
        a.stamp(&pong(7), Point::Driver, t(240));
        // A state is not recorded.
        let state = proto::encode(&Message::Bye);
        assert!(a.stamp(&state, Point::Task, t(1)).is_none());

        let r = a.report();
        assert!(r.answers.is_empty());
        let [p] = r.pings.as_slice() else {
            panic!("one ping: {r:?}")
        };
        assert_eq!(p.nonce, 7);
        let close = |x: f64, y: f64| (x - y).abs() < 0.01;
        assert!(close(p.core_us, 5.0) && close(p.queue_us, 10.0) && close(p.send_us, 30.0));
        assert!(close(p.read_us, 30.0) && close(p.deliver_us, 10.0) && close(p.rtt_us, 240.0));

        // The answerer's side.
        let b = Hops::new();
        b.stamp_key(Key::Ping(7), Point::WireIn, t(100));
        b.stamp(&ping(7), Point::Read, t(120));
        b.stamp(&ping(7), Point::Driver, t(130));
        b.stamp_key(Key::Pong(7), Point::Fed, t(130));
        b.stamp(&pong(7), Point::Handed, t(135));
        b.stamp(&pong(7), Point::Task, t(140));
        b.stamp_key(Key::Pong(7), Point::WireOut, t(160));
        let r = b.report();
        assert!(r.pings.is_empty());
        let [a] = r.answers.as_slice() else {
            panic!("one answer: {r:?}")
        };
        assert!(close(a.read_us, 20.0) && close(a.deliver_us, 10.0) && close(a.core_us, 5.0));
        assert!(close(a.queue_us, 5.0) && close(a.send_us, 20.0) && close(a.turnaround_us, 60.0));
    }

    #[test]
    fn the_socket_stamps_the_armed_message_once() {
        let hops = Arc::new(Hops::new());
        let conn = ConnHops::new(hops.clone());
        conn.sending(&ping(1));
        conn.sent(Instant::now());
        let first = hops
            .records
            .lock()
            .map(|r| r[&Key::Ping(1)][Point::WireOut as usize]);
        conn.sent(Instant::now());
        let again = hops
            .records
            .lock()
            .map(|r| r[&Key::Ping(1)][Point::WireOut as usize]);
        assert!(first.as_ref().is_ok_and(Option::is_some));
        assert_eq!(
            first.ok(),
            again.ok(),
            "a later datagram is not this message's"
        );
    }
}
