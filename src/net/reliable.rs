//! Reliable game events: exactly once, in order, per pair of players, across
//! route changes (direct ↔ TURN ↔ relay) and reconnections.
//!
//! This is a pure state machine (time is an argument, no I/O): the net thread
//! feeds it what arrives and sends what it returns. It owns sequence numbers,
//! the unacknowledged queue with its resend timer, the receive window that
//! drops duplicates and re-orders (the server relay may reorder), and the
//! resume handshake. It must not know about routes or sockets.
//!
//! # The protocol
//!
//! One stream per ordered pair of players (sender → receiver), numbered
//! from one. The receiver's state carries a random `session` nonce, created
//! once when it first hears of that sender and kept while it remembers the
//! sender (also across the sender's reconnection with a new socket id).
//!
//! - Whenever the receiver learns that a link to the sender (re)opened (the
//!   sender's `Hello`), it sends `Resume { session, next }`: "I expect `next`".
//! - The sender sends nothing sequenced before its first `Resume`. On a
//!   `Resume` with the session it already knows, it forgets what is below
//!   `next` and resends the rest. On a new session (the receiver forgot it, or
//!   it is the first contact) it renumbers its unacknowledged events from
//!   `next`, so nothing is lost and nothing is skipped.
//! - `Ack { session, upto }` is cumulative; acks of another session are stale
//!   and ignored (a renumbering may have happened since).
//! - The receiver delivers in order, holds early arrivals (bounded), and drops
//!   anything below `next` as a duplicate.
//!
//! Sequence numbers are `u32` and do not wrap in practice (at 100 events per
//! second, 497 days).

use std::collections::{BTreeMap, VecDeque};

/// Most early (out-of-order) events held per sender; beyond that they are
/// dropped and come back through the sender's resend.
pub const MAX_EARLY: usize = 1024;

/// Most unacknowledged events kept per receiver; beyond that the oldest are
/// dropped and counted (a peer that never acks must not grow memory forever).
pub const MAX_UNACKED: usize = 4096;

/// A sequenced event to put on the wire.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing<E> {
    /// Sequence number in the stream.
    pub seq: u32,
    /// The event.
    pub event: E,
}

#[derive(Debug, Clone)]
struct Pending<E> {
    seq: u32,
    event: E,
    last_sent: f64,
}

/// Sending half of one stream (this player → one receiver).
#[derive(Debug, Clone)]
pub struct ReliableSender<E> {
    next_seq: u32,
    unacked: VecDeque<Pending<E>>,
    /// The receiver's session, once a `Resume` arrived in this link session.
    session: Option<u32>,
    /// Whether the current link session has been resumed (sending allowed).
    resumed: bool,
    overflowed: u64,
}

impl<E: Clone> Default for ReliableSender<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E: Clone> ReliableSender<E> {
    /// A stream that has sent nothing yet.
    pub fn new() -> Self {
        Self {
            next_seq: 1,
            unacked: VecDeque::new(),
            session: None,
            resumed: false,
            overflowed: 0,
        }
    }

    /// Queues a new event. Returns it to send now, unless the stream waits
    /// for a `Resume` (it is then sent on the resume).
    pub fn push(&mut self, event: E, now: f64) -> Option<Outgoing<E>> {
        let seq = self.next_seq;
        self.next_seq += 1;
        if self.unacked.len() >= MAX_UNACKED {
            self.unacked.pop_front();
            self.overflowed += 1;
        }
        self.unacked.push_back(Pending {
            seq,
            event: event.clone(),
            last_sent: now,
        });
        self.resumed.then_some(Outgoing { seq, event })
    }

    /// The link to the receiver was replaced (a new socket id for the same
    /// player): hold sequenced sends until the receiver's next `Resume`.
    pub fn pause(&mut self) {
        self.resumed = false;
    }

    /// Whether sequenced sends flow (a `Resume` arrived since the last pause).
    pub fn is_resumed(&self) -> bool {
        self.resumed
    }

    /// The receiver expects `next` in its `session`. Returns every
    /// unacknowledged event to send again, in order.
    pub fn resume(&mut self, session: u32, next: u32, now: f64) -> Vec<Outgoing<E>> {
        if self.session == Some(session) {
            self.forget_below(next);
        } else {
            // A receiver that does not know our numbering: renumber from `next`.
            self.session = Some(session);
            let mut seq = next;
            for p in &mut self.unacked {
                p.seq = seq;
                seq += 1;
            }
            self.next_seq = seq;
        }
        self.resumed = true;
        self.resend_all(now)
    }

    /// A cumulative acknowledgement.
    pub fn ack(&mut self, session: u32, upto: u32) {
        if self.session == Some(session) {
            self.forget_below(upto.saturating_add(1));
        }
    }

    /// Unacknowledged events last sent `rto` seconds ago or more (to send
    /// again now; their timers restart). Empty while waiting for a `Resume`.
    pub fn due(&mut self, now: f64, rto: f64) -> Vec<Outgoing<E>> {
        if !self.resumed {
            return Vec::new();
        }
        self.unacked
            .iter_mut()
            .filter(|p| now - p.last_sent >= rto)
            .map(|p| {
                p.last_sent = now;
                Outgoing {
                    seq: p.seq,
                    event: p.event.clone(),
                }
            })
            .collect()
    }

    /// Every unacknowledged event, to send again at once (after a route
    /// change). Empty while waiting for a `Resume`.
    pub fn resend_all(&mut self, now: f64) -> Vec<Outgoing<E>> {
        self.due(now, f64::NEG_INFINITY)
    }

    /// Events sent or queued and not yet acknowledged.
    pub fn unacked_len(&self) -> usize {
        self.unacked.len()
    }

    /// Events dropped because [`MAX_UNACKED`] was reached.
    pub fn overflowed(&self) -> u64 {
        self.overflowed
    }

    fn forget_below(&mut self, next: u32) {
        while self.unacked.front().is_some_and(|p| p.seq < next) {
            self.unacked.pop_front();
        }
    }
}

/// Receiving half of one stream (one sender → this player).
#[derive(Debug, Clone)]
pub struct ReliableReceiver<E> {
    session: u32,
    next: u32,
    early: BTreeMap<u32, E>,
    duplicates: u64,
}

/// What one received event produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Received<E> {
    /// Events now deliverable, in order (empty for a duplicate or an early arrival).
    pub deliver: Vec<E>,
    /// The cumulative ack to send back (`Ack { session, upto }`).
    pub ack_upto: u32,
}

impl<E> ReliableReceiver<E> {
    /// A stream from a sender heard of for the first time; `session` is a
    /// random nonce (the caller draws it, this module has no randomness).
    pub fn new(session: u32) -> Self {
        Self {
            session,
            next: 1,
            early: BTreeMap::new(),
            duplicates: 0,
        }
    }

    /// This receiver's session nonce.
    pub fn session(&self) -> u32 {
        self.session
    }

    /// The next sequence number expected (`Resume { next }`).
    pub fn next_expected(&self) -> u32 {
        self.next
    }

    /// Duplicates dropped so far.
    pub fn duplicates(&self) -> u64 {
        self.duplicates
    }

    /// Takes one sequenced event.
    pub fn receive(&mut self, seq: u32, event: E) -> Received<E> {
        let mut deliver = Vec::new();
        if seq < self.next || self.early.contains_key(&seq) {
            self.duplicates += 1;
        } else if seq == self.next {
            deliver.push(event);
            self.next += 1;
            while let Some(e) = self.early.remove(&self.next) {
                deliver.push(e);
                self.next += 1;
            }
        } else if self.early.len() < MAX_EARLY {
            self.early.insert(seq, event);
        }
        Received {
            deliver,
            ack_upto: self.next - 1,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn seqs(v: &[Outgoing<u32>]) -> Vec<u32> {
        v.iter().map(|o| o.seq).collect()
    }

    /// Delivers `out` to `rx` and returns the delivered events and the last ack.
    fn deliver(rx: &mut ReliableReceiver<u32>, out: &[Outgoing<u32>]) -> (Vec<u32>, u32) {
        let mut got = Vec::new();
        let mut ack = 0;
        for o in out {
            let r = rx.receive(o.seq, o.event);
            got.extend(r.deliver);
            ack = r.ack_upto;
        }
        (got, ack)
    }

    /// A sender resumed (from 1) by a fresh receiver of session `session`,
    /// and what it sent for events `0..n` pushed at time 0.
    struct Stream {
        tx: ReliableSender<u32>,
        rx: ReliableReceiver<u32>,
        sent: Vec<Outgoing<u32>>,
    }

    fn stream(session: u32, n: u32) -> Stream {
        let mut tx = ReliableSender::new();
        let rx = ReliableReceiver::new(session);
        tx.resume(session, 1, 0.0);
        let sent = (0..n).filter_map(|i| tx.push(i, 0.0)).collect();
        Stream { tx, rx, sent }
    }

    #[test]
    fn nothing_is_sent_before_resume_then_everything_in_order() {
        let mut tx = ReliableSender::new();
        assert_eq!(tx.push(10, 0.0), None);
        assert_eq!(tx.push(11, 0.0), None);
        assert!(tx.due(5.0, 0.1).is_empty());
        let mut rx = ReliableReceiver::new(7);
        let out = tx.resume(rx.session(), rx.next_expected(), 1.0);
        assert_eq!(seqs(&out), [1, 2]);
        let (got, ack) = deliver(&mut rx, &out);
        assert_eq!((got, ack), (vec![10, 11], 2));
        tx.ack(7, ack);
        assert_eq!(tx.unacked_len(), 0);
        assert_eq!(tx.push(12, 1.0), Some(Outgoing { seq: 3, event: 12 }));
    }

    #[test]
    fn reordering_and_duplicates_deliver_exactly_once_in_order() {
        let mut rx = ReliableReceiver::new(1);
        let order = [3u32, 1, 1, 5, 2, 3, 4, 6, 2];
        let mut got = Vec::new();
        for s in order {
            got.extend(rx.receive(s, s * 100).deliver);
        }
        assert_eq!(got, [100, 200, 300, 400, 500, 600]);
        assert_eq!(rx.duplicates(), 3);
        assert_eq!(rx.next_expected(), 7);
    }

    #[test]
    fn resend_timer_and_acks() {
        let mut tx = ReliableSender::new();
        tx.resume(9, 1, 0.0);
        tx.push(1, 0.0);
        tx.push(2, 0.5);
        assert_eq!(seqs(&tx.due(0.9, 1.0)), Vec::<u32>::new());
        assert_eq!(seqs(&tx.due(1.0, 1.0)), [1]);
        assert_eq!(seqs(&tx.due(1.5, 1.0)), [2]);
        tx.ack(9, 1);
        assert_eq!(seqs(&tx.resend_all(1.6)), [2]);
        // A stale ack (another session) changes nothing.
        tx.ack(8, 2);
        assert_eq!(tx.unacked_len(), 1);
    }

    /// A route change loses the in-flight tail: resending it after the switch
    /// delivers each event once.
    #[test]
    fn route_switch_loses_nothing_and_duplicates_nothing() {
        let mut s = stream(3, 200);
        // The old route delivered 0..120 and 150..160, then went down.
        let mut got = deliver(&mut s.rx, &s.sent[..120]).0;
        got.extend(deliver(&mut s.rx, &s.sent[150..160]).0);
        // The new route: everything unacked again (acks up to 60 arrived).
        s.tx.ack(3, 60);
        let again = s.tx.resend_all(1.0);
        assert_eq!(again.len(), 140);
        got.extend(deliver(&mut s.rx, &again).0);
        assert_eq!(got, (0..200).collect::<Vec<_>>());
    }

    #[test]
    fn reconnect_with_a_receiver_that_remembers() {
        let mut s = stream(5, 10);
        // Delivered 0..7, acked only up to 3, then the sender reconnected.
        let mut got = deliver(&mut s.rx, &s.sent[..7]).0;
        s.tx.ack(5, 3);
        s.tx.pause();
        assert_eq!(s.tx.push(10, 1.0), None);
        let out = s.tx.resume(s.rx.session(), s.rx.next_expected(), 2.0);
        assert_eq!(seqs(&out), [8, 9, 10, 11]);
        got.extend(deliver(&mut s.rx, &out).0);
        assert_eq!(got, (0..=10).collect::<Vec<_>>());
    }

    #[test]
    fn reconnect_with_a_receiver_that_forgot_renumbers() {
        let mut tx = stream(5, 10).tx;
        tx.ack(5, 6);
        tx.pause();
        // A new receiver state (new session) expecting 1.
        let mut rx = ReliableReceiver::new(6);
        let out = tx.resume(6, 1, 1.0);
        assert_eq!(seqs(&out), [1, 2, 3, 4]);
        assert_eq!(deliver(&mut rx, &out).0, [6, 7, 8, 9]);
        assert_eq!(tx.push(10, 1.0).map(|o| o.seq), Some(5));
    }

    #[test]
    fn a_sender_that_forgot_fast_forwards() {
        let mut rx: ReliableReceiver<u32> = ReliableReceiver::new(4);
        for s in 1..=56 {
            rx.receive(s, s);
        }
        // The sender lost its state for us (same session id unknown): it renumbers from 57.
        let mut tx = ReliableSender::new();
        tx.push(1000, 0.0);
        let out = tx.resume(rx.session(), rx.next_expected(), 0.0);
        assert_eq!(seqs(&out), [57]);
        assert_eq!(rx.receive(57, 1000).deliver, [1000]);
    }

    #[test]
    fn a_stale_resume_of_the_same_session_never_rewinds() {
        let mut tx = stream(2, 5).tx;
        tx.ack(2, 3);
        // A late Resume{next: 2} (overtaken on the relay) resends 4, 5 unchanged.
        assert_eq!(seqs(&tx.resume(2, 2, 1.0)), [4, 5]);
        assert_eq!(tx.push(9, 1.0).map(|o| o.seq), Some(6));
    }

    #[test]
    fn unacked_queue_is_bounded() {
        let mut tx = ReliableSender::new();
        for i in 0..(MAX_UNACKED as u32 + 10) {
            tx.push(i, 0.0);
        }
        assert_eq!(tx.unacked_len(), MAX_UNACKED);
        assert_eq!(tx.overflowed(), 10);
    }
}
