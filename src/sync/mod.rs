//! Snapshot synchronisation: what makes remote players move smoothly over a
//! real network.
//!
//! Owns, per remote player, the snapshot buffer keyed by the sender's
//! timestamp, the clock-offset estimate, the adaptive playout delay,
//! interpolation (cubic Hermite position, shortest-arc aim), bounded
//! extrapolation with smooth correction, per-peer statistics (remote-view age
//! included); plus the send throttle for the local player's state and the
//! choice of its rate per link ([`rate`]), and a deterministic link model (used
//! by the net thread's conditioner and by the quality harness of
//! `benches/sync_quality.rs`, which lives with the tests in
//! `tests/support/quality.rs`).
//!
//! It is pure: **time is an argument** everywhere, as `f64` seconds — local
//! times on the caller's monotonic clock (e.g. seconds since the game
//! started), sender times on the sender's clock as stamped in [`Snapshot`].
//! No clock reads, no I/O, no macroquad, no tokio, no randomness beyond the
//! seeded generator of [`link`]; the same inputs give the same outputs. It must
//! not know about the wire format (`proto`) or the net thread.
//!
//! # Use
//!
//! ```
//! use arena::sync::{PeerSync, SendThrottle, Snapshot, SyncConfig};
//! use glam::Vec2;
//!
//! // Receiving side: one PeerSync per remote player.
//! let mut peer = PeerSync::new(SyncConfig::default());
//! peer.on_pong(0.0, 1000.02, 0.04); // ping sent, remote stamp, pong received
//! peer.push(Snapshot { seq: 0, sent_at: 1000.0, pos: Vec2::ZERO,
//!                      vel: Some(Vec2::X), aim: 0.0, spawn: 0 }, 0.05);
//! if let Some(s) = peer.sample(0.1) { let _ = (s.pos, s.aim, s.mode); }
//! let _stats = peer.stats();
//!
//! // Sending side: one throttle per peer link.
//! let mut throttle = SendThrottle::default();
//! let _send = throttle.should_send(0.0, false, false);
//! ```

pub mod buffer;
pub mod clock;
pub mod delay;
pub mod interp;
pub mod link;
mod peer;
pub mod rate;
pub mod throttle;
pub mod wrap;

use glam::Vec2;

pub use clock::{ClockOffset, ClockSample};
pub use delay::DelayMode;
pub use link::{GilbertElliott, LinkModel, LinkParams};
pub use peer::{PeerSync, SyncConfig, SyncStats};
pub use rate::{AutoRate, RateReason, SendRate};
pub use throttle::SendThrottle;

/// One received state of a remote player (the sync-side view of the wire
/// message).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Snapshot {
    /// Sender's sequence number; wraps at `u16::MAX`.
    pub seq: u16,
    /// When the state was taken, sender's clock, seconds.
    pub sent_at: f64,
    /// Position, world units.
    pub pos: Vec2,
    /// Velocity, world units per second, if the sender included it
    /// (position is then interpolated linearly).
    pub vel: Option<Vec2>,
    /// Aim angle, radians (any value; wrapped on use).
    pub aim: f32,
    /// Respawn counter (wraps). A change between two snapshots flags a
    /// teleport: never interpolated or smoothed across. A counter rather than
    /// a one-shot flag, so losing the first post-respawn state loses nothing.
    pub spawn: u8,
}

/// How a [`Sample`] was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SampleMode {
    /// Between two received snapshots.
    Interpolated,
    /// Past the newest snapshot, by dead reckoning (bounded time).
    Extrapolated,
    /// Past the extrapolation bound (or before the first snapshot): frozen.
    Held,
}

/// What to draw for a remote player this frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Position, world units (correction offset included).
    pub pos: Vec2,
    /// Velocity, world units per second.
    pub vel: Vec2,
    /// Aim angle, radians in `[-π, π)`.
    pub aim: f32,
    /// Interpolated, extrapolated or held.
    pub mode: SampleMode,
    /// Respawn counter of the state shown.
    pub spawn: u8,
    /// The instant shown, on the sender's clock (seconds).
    pub render_time: f64,
    /// Buffering delay in force: how far behind the mean network transit the
    /// picture is drawn (seconds).
    pub delay: f64,
}

#[cfg(test)]
mod tests;
