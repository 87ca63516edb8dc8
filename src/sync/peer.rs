//! One remote player's synchronisation state: [`PeerSync`].
//!
//! Owns the glue between the buffer, the clock-offset estimate, the delay
//! controller and the correction of visible errors, plus the per-peer
//! statistics the HUD and the bot report. It decides the render point, detects
//! sender-clock jumps (resetting to the new timeline rather than freezing),
//! and smooths the switch from dead reckoning back to real data. It must not
//! read clocks, touch the network or know the wire format.

use glam::Vec2;

use super::buffer::{Inserted, SnapshotBuffer};
use super::clock::ClockOffset;
use super::delay::{DelayController, DelayMode};
use super::{Sample, SampleMode, Snapshot};

/// Tuning of a [`PeerSync`]. Times in seconds, distances in world units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SyncConfig {
    /// Adaptive or fixed playout delay.
    pub delay: DelayMode,
    /// Maximum playback-speed change used to move the delay (0.05 = ±5 %).
    pub slew: f64,
    /// Arrivals measured for the delay statistics.
    pub window: usize,
    /// Longest dead reckoning past the newest snapshot before holding.
    pub max_extrapolation: f64,
    /// Time over which a visible correction fades out completely.
    pub correction_time: f64,
    /// A correction larger than this is a teleport: snap instead of smoothing.
    pub snap_distance: f32,
    /// Snapshots kept per player.
    pub capacity: usize,
    /// Expected send interval, used before anything is measured.
    pub nominal_interval: f64,
    /// A snapshot whose arrival lag differs from the usual by more than this
    /// means the sender's clock jumped: the buffer restarts on the new timeline.
    pub jump_threshold: f64,
}

impl Default for SyncConfig {
    fn default() -> Self {
        Self {
            delay: DelayMode::default(),
            slew: 0.05,
            window: 100,
            max_extrapolation: 0.25,
            correction_time: 0.1,
            snap_distance: 200.0,
            capacity: 64,
            nominal_interval: 0.05,
            jump_threshold: 1.0,
        }
    }
}

/// Per-peer figures for the HUD's net graph and the bot's report.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SyncStats {
    /// Snapshots accepted into the buffer.
    pub received: u64,
    /// Duplicates dropped.
    pub duplicates: u64,
    /// Snapshots dropped because the render point had passed them.
    pub late: u64,
    /// Snapshots rejected as malformed (non-finite values).
    pub invalid: u64,
    /// Timeline resets after a sender-clock jump.
    pub resets: u64,
    /// Frames sampled with data available.
    pub frames: u64,
    /// Frames drawn between two snapshots.
    pub interpolated: u64,
    /// Frames drawn by dead reckoning.
    pub extrapolated: u64,
    /// Frames frozen because the stream ran dry (extrapolation bound reached).
    pub held: u64,
    /// Frames drawn at the first state while the render point had not reached
    /// it yet: the start of the stream (and the restart after a clock jump),
    /// not a stall. Counted in `frames`, not in `held`.
    pub waiting: u64,
    /// Snapshots buffered ahead of the render point at the last sample.
    pub buffer_depth: usize,
    /// Buffering delay now: beyond the mean one-way transit, seconds.
    pub delay: Option<f64>,
    /// Mean buffering delay over all sampled frames, seconds.
    pub mean_delay: Option<f64>,
    /// Buffering delay the controller is heading for, seconds.
    pub target_delay: Option<f64>,
    /// Mean one-way transit estimate (needs a clock-offset estimate), seconds.
    pub transit: Option<f64>,
    /// Round-trip time of the best ping/pong exchange, seconds.
    pub rtt: Option<f64>,
    /// Estimated `local − remote` clock offset, seconds.
    pub clock_offset: Option<f64>,
    /// Remote-view age: how old the drawn picture is, `now −` the sender's
    /// time of the state drawn (on our clock, through the clock-offset
    /// estimate): transit plus buffering. Mean over the sampled frames
    /// that had an estimate, seconds.
    pub mean_age: Option<f64>,
    /// 95th percentile of the remote-view age, seconds (1 ms resolution).
    pub p95_age: Option<f64>,
}

impl SyncStats {
    /// Fraction (0..=1) of sampled frames drawn by dead reckoning.
    pub fn extrapolated_ratio(&self) -> f64 {
        ratio(self.extrapolated, self.frames)
    }

    /// Fraction (0..=1) of sampled frames frozen.
    pub fn held_ratio(&self) -> f64 {
        ratio(self.held, self.frames)
    }
}

fn ratio(n: u64, d: u64) -> f64 {
    if d == 0 { 0.0 } else { n as f64 / d as f64 }
}

#[derive(Debug, Clone, Copy)]
struct Shown {
    now: f64,
    pos: Vec2,
    raw_vel: Vec2,
    mode: SampleMode,
    spawn: u8,
}

/// A visible error being smoothed away: `from` at local time `start`,
/// fading to zero along `1 − smoothstep` over the correction time (gentle at
/// both ends, at most 1.5× the average rate in between).
#[derive(Debug, Clone, Copy)]
struct Correction {
    from: Vec2,
    start: f64,
}

impl Correction {
    const NONE: Self = Self {
        from: Vec2::ZERO,
        start: 0.0,
    };

    fn at(&self, now: f64, duration: f64) -> Vec2 {
        let u = ((now - self.start) / duration.max(1e-3)).clamp(0.0, 1.0) as f32;
        self.from * (1.0 - u * u * (3.0 - 2.0 * u))
    }
}

/// The distribution of remote-view ages: 1 ms bins up to [`AgeMeter::BINS`]
/// ms (older ones in the last bin), their sum and count.
#[derive(Debug, Clone, Default)]
struct AgeMeter {
    bins: Vec<u32>,
    sum: f64,
    count: u64,
}

impl AgeMeter {
    const BINS: usize = 1000;

    fn record(&mut self, age: f64) {
        if self.bins.is_empty() {
            self.bins = vec![0; Self::BINS];
        }
        let age = age.max(0.0);
        let bin = ((age * 1000.0) as usize).min(Self::BINS - 1);
        self.bins[bin] += 1;
        self.sum += age;
        self.count += 1;
    }

    fn mean(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum / self.count as f64)
    }

    /// The `q` quantile, as the upper edge of its bin.
    fn quantile(&self, q: f64) -> Option<f64> {
        let rank = (q * self.count as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, &n) in self.bins.iter().enumerate() {
            seen += u64::from(n);
            if seen >= rank {
                return Some((i + 1) as f64 / 1000.0);
            }
        }
        None
    }
}

/// Synchronisation of one remote player: push snapshots as they arrive, sample
/// once per frame. All times are `f64` seconds; `now` is local.
#[derive(Debug, Clone)]
pub struct PeerSync {
    config: SyncConfig,
    buffer: SnapshotBuffer,
    clock: ClockOffset,
    delay: DelayController,
    correction: Correction,
    shown: Option<Shown>,
    last_render: Option<f64>,
    delay_sum: f64,
    ages: AgeMeter,
    stats: SyncStats,
}

impl PeerSync {
    /// A fresh peer with `config`.
    pub fn new(config: SyncConfig) -> Self {
        Self {
            config,
            buffer: SnapshotBuffer::new(config.capacity),
            clock: ClockOffset::default(),
            delay: DelayController::new(config.delay, config.slew, config.window),
            correction: Correction::NONE,
            shown: None,
            last_render: None,
            delay_sum: 0.0,
            ages: AgeMeter::default(),
            stats: SyncStats::default(),
        }
    }

    /// Switches between adaptive and fixed delay (settings); applied smoothly.
    pub fn set_delay_mode(&mut self, mode: DelayMode) {
        self.config.delay = mode;
        self.delay.set_mode(mode);
    }

    /// Feeds a ping/pong exchange with this peer (see [`ClockOffset::on_pong`]).
    pub fn on_pong(&mut self, t_send_local: f64, t_remote: f64, t_recv_local: f64) {
        self.clock.on_pong(t_send_local, t_remote, t_recv_local);
    }

    /// Maps a sender timestamp to local time with the clock-offset estimate
    /// (e.g. to place a remote event); `None` before the first pong.
    pub fn to_local(&self, sender_time: f64) -> Option<f64> {
        self.clock.to_local(sender_time)
    }

    /// A snapshot arrived at local time `now`.
    pub fn push(&mut self, snap: Snapshot, now: f64) {
        if !(snap.sent_at.is_finite() && snap.pos.is_finite() && snap.aim.is_finite())
            || snap.vel.is_some_and(|v| !v.is_finite())
            || !now.is_finite()
        {
            self.stats.invalid += 1;
            return;
        }
        let lag = now - snap.sent_at;
        if self.is_clock_jump(&snap, lag) {
            self.buffer.clear();
            self.delay.rebase(lag, self.config.nominal_interval);
            self.clock.reset();
            self.last_render = None;
            self.stats.resets += 1;
        }
        match self.buffer.insert(snap, now, self.last_render) {
            Inserted::Stored { prev_sent } => {
                self.delay.on_arrival(
                    lag,
                    prev_sent.map(|p| now - p),
                    self.config.nominal_interval,
                );
                self.stats.received += 1;
            }
            Inserted::Duplicate => self.stats.duplicates += 1,
            Inserted::Late => self.stats.late += 1,
        }
    }

    fn is_clock_jump(&self, snap: &Snapshot, lag: f64) -> bool {
        let Some(newest) = self.buffer.newest() else {
            return false;
        };
        if self.buffer.contradicts_sequence(snap) {
            return true;
        }
        let Some(mean) = self.delay.mean_lag() else {
            return false;
        };
        // Earlier than any network can deliver: the sender's clock leapt ahead.
        let ahead = lag < mean - self.config.jump_threshold;
        // Far later than usual yet newer: the sender's clock fell behind.
        let behind = lag > mean + self.config.jump_threshold
            && super::wrap::seq_newer(snap.seq, newest.snap.seq);
        ahead || behind
    }

    /// What to draw at local time `now` (call once per frame, `now`
    /// non-decreasing); `None` until the first snapshot.
    pub fn sample(&mut self, now: f64) -> Option<Sample> {
        let d = self.delay.advance(now)?;
        let mut render = now - d;
        if let Some(last) = self.last_render {
            render = render.max(last);
        }
        self.buffer.prune(render);
        let raw = self.buffer.sample(render, self.config.max_extrapolation)?;
        let waiting = self
            .buffer
            .entries()
            .first()
            .is_some_and(|e| render < e.snap.sent_at);
        self.last_render = Some(render);

        if let Some(prev) = self.shown {
            let dt = (now - prev.now).max(0.0);
            if raw.spawn != prev.spawn {
                // Teleport (respawn): snap.
                self.correction = Correction::NONE;
            } else if prev.mode != SampleMode::Interpolated && raw.mode != SampleMode::Held {
                // Data came back (or a newer basis for dead reckoning): the
                // gap between the natural continuation of what was shown and
                // the new estimate becomes an error that decays over
                // `correction_time` instead of a snap.
                self.correction = Correction {
                    from: prev.pos + prev.raw_vel * dt as f32 - raw.pos,
                    start: now,
                };
            }
            if self.correction.from.length() > self.config.snap_distance {
                self.correction = Correction::NONE;
            }
        }
        let error = self.correction.at(now, self.config.correction_time);
        let pos = raw.pos + error;
        self.shown = Some(Shown {
            now,
            pos,
            raw_vel: raw.vel,
            mode: raw.mode,
            spawn: raw.spawn,
        });

        let buffering = self.delay.buffering().unwrap_or(0.0);
        self.stats.frames += 1;
        match raw.mode {
            SampleMode::Interpolated => self.stats.interpolated += 1,
            SampleMode::Extrapolated => self.stats.extrapolated += 1,
            SampleMode::Held if waiting => self.stats.waiting += 1,
            SampleMode::Held => self.stats.held += 1,
        }
        self.delay_sum += buffering;
        if let Some(shown_at) = self.clock.to_local(render) {
            self.ages.record(now - shown_at);
        }
        self.stats.buffer_depth = self.buffer.depth_after(render);
        Some(Sample {
            pos,
            vel: raw.vel,
            aim: raw.aim,
            mode: raw.mode,
            spawn: raw.spawn,
            render_time: render,
            delay: buffering,
        })
    }

    /// Current statistics.
    pub fn stats(&self) -> SyncStats {
        let mut s = self.stats;
        s.delay = self.delay.buffering();
        s.mean_delay = (s.frames > 0).then(|| self.delay_sum / s.frames as f64);
        let mean_lag = self.delay.mean_lag();
        s.target_delay = self.delay.target().zip(mean_lag).map(|(t, m)| t - m);
        let est = self.clock.estimate();
        s.rtt = est.map(|e| e.rtt);
        s.clock_offset = est.map(|e| e.offset);
        s.transit = mean_lag.zip(est).map(|(m, e)| m - e.offset);
        s.mean_age = self.ages.mean();
        s.p95_age = self.ages.quantile(0.95);
        s
    }

    /// Snapshots currently buffered.
    pub fn buffer_len(&self) -> usize {
        self.buffer.len()
    }
}
