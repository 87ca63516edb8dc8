//! The snapshot buffer of one remote player.
//!
//! Owns the received snapshots ordered by the sender's timestamp: insertion
//! tolerant of reordering, duplicates and late arrivals, pruning of what the
//! render point has passed, and the raw read at a render time (interpolate
//! between neighbours, extrapolate past the newest for a bounded time, then
//! hold). It must not decide the render time, smooth corrections or keep
//! statistics: that is [`super::PeerSync`]'s job.

use glam::Vec2;

use super::interp::{hermite, linear, slerp_angle};
use super::wrap::seq_diff;
use super::{SampleMode, Snapshot};

/// A snapshot and the local time it arrived.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Entry {
    /// The snapshot as received.
    pub snap: Snapshot,
    /// Local arrival time, seconds.
    pub arrival: f64,
}

/// What [`SnapshotBuffer::insert`] did with a snapshot.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Inserted {
    /// Stored. `prev_sent` is the sender time of the stored snapshot just
    /// before it (if any), used to measure how much delay would have been
    /// needed to interpolate up to it.
    Stored {
        /// Sender time of the preceding stored snapshot.
        prev_sent: Option<f64>,
    },
    /// Same sequence number and timestamp as a stored one: dropped.
    Duplicate,
    /// Older than what the render point has already passed: dropped.
    Late,
}

/// A raw read of the buffer at one render time (before smoothing).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RawSample {
    /// Position, world units.
    pub pos: Vec2,
    /// Velocity, world units per second.
    pub vel: Vec2,
    /// Aim angle, radians in `[-π, π)`.
    pub aim: f32,
    /// How it was obtained.
    pub mode: SampleMode,
    /// Respawn counter of the state shown.
    pub spawn: u8,
}

/// Snapshots of one remote player, ordered by sender time.
#[derive(Debug, Clone)]
pub struct SnapshotBuffer {
    entries: Vec<Entry>,
    capacity: usize,
}

impl SnapshotBuffer {
    /// An empty buffer holding at most `capacity` snapshots (at least 2).
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: Vec::with_capacity(capacity.max(2)),
            capacity: capacity.max(2),
        }
    }

    /// Number of stored snapshots.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// `true` when nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The stored snapshots, oldest first.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The newest stored snapshot by sender time.
    pub fn newest(&self) -> Option<&Entry> {
        self.entries.last()
    }

    /// Drops everything (timeline reset).
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// Snapshots strictly newer than sender time `t` (what is left to play).
    pub fn depth_after(&self, t: f64) -> usize {
        self.entries.len() - self.entries.partition_point(|e| e.snap.sent_at <= t)
    }

    /// Inserts a snapshot. `render_floor` is the sender time the render point
    /// has reached: a snapshot older than the newest one at or before it can
    /// no longer be shown and is dropped as late.
    pub fn insert(&mut self, snap: Snapshot, arrival: f64, render_floor: Option<f64>) -> Inserted {
        let t = snap.sent_at;
        if self
            .entries
            .iter()
            .any(|e| e.snap.seq == snap.seq && (e.snap.sent_at - t).abs() < 1e-9)
        {
            return Inserted::Duplicate;
        }
        if let Some(floor) = render_floor {
            let idx = self.entries.partition_point(|e| e.snap.sent_at <= floor);
            if idx > 0 && t <= self.entries[idx - 1].snap.sent_at {
                return Inserted::Late;
            }
        }
        let idx = self.entries.partition_point(|e| e.snap.sent_at <= t);
        let prev_sent = idx.checked_sub(1).map(|i| self.entries[i].snap.sent_at);
        self.entries.insert(idx, Entry { snap, arrival });
        if self.entries.len() > self.capacity {
            self.entries.remove(0);
        }
        Inserted::Stored { prev_sent }
    }

    /// Forgets snapshots the render point `t` has passed, keeping the last one
    /// at or before `t` (and its predecessor, for velocity estimates).
    pub fn prune(&mut self, t: f64) {
        let idx = self.entries.partition_point(|e| e.snap.sent_at <= t);
        let drop = idx.saturating_sub(2);
        if drop > 0 {
            self.entries.drain(..drop);
        }
    }

    /// `true` if `snap` claims to be newer than the newest stored snapshot by
    /// sequence number while its timestamp is older: the sender's clock went
    /// backwards.
    pub fn contradicts_sequence(&self, snap: &Snapshot) -> bool {
        let Some(newest) = self
            .entries
            .iter()
            .max_by(|a, b| seq_diff(a.snap.seq, b.snap.seq).cmp(&0))
        else {
            return false;
        };
        let ds = seq_diff(snap.seq, newest.snap.seq);
        ds > 0 && ds < 1000 && snap.sent_at < newest.snap.sent_at - 1e-3
    }

    /// Velocity of entry `i`: the sent one, else the slope from its
    /// predecessor of the same life, else zero.
    fn velocity(&self, i: usize) -> Vec2 {
        let e = &self.entries[i];
        if let Some(v) = e.snap.vel {
            return v;
        }
        if i > 0 {
            let p = &self.entries[i - 1];
            let dt = (e.snap.sent_at - p.snap.sent_at) as f32;
            if p.snap.spawn == e.snap.spawn && dt > 0.0 {
                return (e.snap.pos - p.snap.pos) / dt;
            }
        }
        Vec2::ZERO
    }

    /// Reads the buffer at sender time `t`. Between two snapshots: cubic
    /// Hermite with the sent velocities (linear if either lacks one), angle by
    /// shortest arc; across a respawn, the old life is held until the new one
    /// starts. Past the newest: dead reckoning for at most `max_extrapolation`
    /// seconds, then held. Before the oldest: the oldest, held.
    pub fn sample(&self, t: f64, max_extrapolation: f64) -> Option<RawSample> {
        let first = self.entries.first()?;
        let j = self.entries.partition_point(|e| e.snap.sent_at <= t);
        if j == 0 {
            return Some(RawSample {
                pos: first.snap.pos,
                vel: Vec2::ZERO,
                aim: first.snap.aim,
                mode: SampleMode::Held,
                spawn: first.snap.spawn,
            });
        }
        let a = &self.entries[j - 1].snap;
        if j == self.entries.len() {
            let vel = self.velocity(j - 1);
            let dt = t - a.sent_at;
            let (dt, mode, out_vel) = if dt <= max_extrapolation {
                (dt, SampleMode::Extrapolated, vel)
            } else {
                (max_extrapolation, SampleMode::Held, Vec2::ZERO)
            };
            return Some(RawSample {
                pos: a.pos + vel * dt as f32,
                vel: out_vel,
                aim: a.aim,
                mode,
                spawn: a.spawn,
            });
        }
        let b = &self.entries[j].snap;
        if a.spawn != b.spawn {
            return Some(RawSample {
                pos: a.pos,
                vel: Vec2::ZERO,
                aim: a.aim,
                mode: SampleMode::Interpolated,
                spawn: a.spawn,
            });
        }
        let span = (b.sent_at - a.sent_at) as f32;
        let u = ((t - a.sent_at) / (b.sent_at - a.sent_at)) as f32;
        let (pos, vel) = match (a.vel, b.vel) {
            (Some(va), Some(vb)) => hermite(a.pos, va, b.pos, vb, span, u),
            _ => linear(a.pos, b.pos, span, u),
        };
        Some(RawSample {
            pos,
            vel,
            aim: slerp_angle(a.aim, b.aim, u),
            mode: SampleMode::Interpolated,
            spawn: a.spawn,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn snap(seq: u16, t: f64, x: f32) -> Snapshot {
        Snapshot {
            seq,
            sent_at: t,
            pos: Vec2::new(x, 0.0),
            vel: Some(Vec2::new(100.0, 0.0)),
            aim: 0.0,
            spawn: 0,
        }
    }

    #[test]
    fn reorders_and_drops_duplicates() {
        let mut b = SnapshotBuffer::new(16);
        assert!(matches!(
            b.insert(snap(2, 0.10, 10.0), 1.0, None),
            Inserted::Stored { .. }
        ));
        assert!(matches!(
            b.insert(snap(1, 0.05, 5.0), 1.01, None),
            Inserted::Stored { .. }
        ));
        assert_eq!(
            b.insert(snap(2, 0.10, 10.0), 1.02, None),
            Inserted::Duplicate
        );
        let times: Vec<f64> = b.entries().iter().map(|e| e.snap.sent_at).collect();
        assert_eq!(times, vec![0.05, 0.10]);
        assert_eq!(
            b.insert(snap(0, 0.0, 0.0), 1.03, Some(0.07)),
            Inserted::Late
        );
    }

    #[test]
    fn seq_wrap_is_ordered_by_time() {
        let mut b = SnapshotBuffer::new(16);
        b.insert(snap(65535, 1.00, 0.0), 1.0, None);
        b.insert(snap(1, 1.10, 10.0), 1.1, None);
        b.insert(snap(0, 1.05, 5.0), 1.2, None);
        let seqs: Vec<u16> = b.entries().iter().map(|e| e.snap.seq).collect();
        assert_eq!(seqs, vec![65535, 0, 1]);
        // seq 2 with an older timestamp contradicts the sequence across the wrap.
        assert!(b.contradicts_sequence(&snap(2, 0.5, 0.0)));
        assert!(!b.contradicts_sequence(&snap(2, 1.15, 0.0)));
    }

    #[test]
    fn extrapolates_then_holds() {
        let mut b = SnapshotBuffer::new(16);
        b.insert(snap(0, 0.0, 0.0), 0.0, None);
        let s = b.sample(0.1, 0.25).unwrap();
        assert_eq!(s.mode, SampleMode::Extrapolated);
        assert!((s.pos.x - 10.0).abs() < 1e-4);
        let h = b.sample(1.0, 0.25).unwrap();
        assert_eq!(h.mode, SampleMode::Held);
        assert!((h.pos.x - 25.0).abs() < 1e-4);
    }

    #[test]
    fn prune_keeps_predecessor() {
        let mut b = SnapshotBuffer::new(16);
        for i in 0..10 {
            b.insert(snap(i, i as f64 * 0.05, i as f32), 0.0, None);
        }
        b.prune(0.26);
        assert_eq!(b.entries()[0].snap.seq, 4);
        assert_eq!(b.depth_after(0.26), 4);
    }
}
