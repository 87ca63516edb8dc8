//! The sync quality harness behind `benches/sync_quality.rs` (and its test,
//! `tests/sync_quality.rs`; both include this file with `#[path]`): ground-truth
//! trajectories sent through [`LinkModel`]s and drawn by a renderer, measured
//! against the truth frame by frame. Test code, not part of the library.
//!
//! Owns the synthetic trajectory generator, the two baseline renderers
//! ("snap to latest" and a fixed 100 ms linear buffer, Valve's default), the
//! per-frame measurement and the markdown table. Everything is seeded and
//! deterministic: the same seed gives the same table. It must not read clocks
//! or do I/O (the bench binary prints the table), and it uses the game's sync
//! code exactly as the game does ([`PeerSync`], [`SendThrottle`]).
//!
//! # What is measured
//!
//! Every renderer has a render point: the instant (sender clock) its picture
//! claims to show. [`PeerSync`] reports it; "snap to latest" shows the newest
//! state at `now − mean lag` (zero buffering); the fixed buffer draws at
//! `now − mean lag − 100 ms`. Per 60 Hz frame after a warm-up:
//! - **delay**: `now − render point − link mean latency`, i.e. the buffering
//!   added on top of the network's one-way latency (ground truth clocks);
//! - **error**: distance between the drawn position and the true position at
//!   the render point ("the truth at the same instant"); frames where the
//!   drawn and true lives differ (a respawn not yet received — the game learns
//!   those from the reliable `respawn` event) are left out;
//! - **error vs now**: distance to the truth at `now − latency`, what a perfect
//!   zero-buffer picture would show: the cost of buffering, for reference;
//! - **jump**: max over frames of `|Δdrawn − Δtruth|` between consecutive
//!   frames (frames across a respawn left out);
//! - the share of frames extrapolated and held.
// The bench and the test each use a part of it.
#![allow(dead_code)]

use arena::sim::rng::{GOLDEN_GAMMA, Rng};
use arena::sync::buffer::SnapshotBuffer;
use arena::sync::delay::percentile_sorted;
use arena::sync::wrap::{angle_diff, wrap_angle};
use arena::sync::{
    AutoRate, GilbertElliott, LinkModel, LinkParams, PeerSync, SampleMode, SendRate, SendThrottle,
    Snapshot, SyncConfig,
};
use glam::Vec2;

/// One true state of the sending player.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TruthState {
    /// Position, world units.
    pub pos: Vec2,
    /// Velocity, world units per second.
    pub vel: Vec2,
    /// Aim, radians in `[-π, π)`.
    pub aim: f32,
    /// Respawn counter.
    pub spawn: u8,
    /// A discrete change happens at this tick (death, respawn): the sender
    /// sends a state at once instead of waiting for its next slot.
    pub discrete: bool,
}

/// A ground-truth trajectory sampled at a fixed tick, starting at sender time 0.
#[derive(Debug, Clone, PartialEq)]
pub struct Trajectory {
    /// Tick length, seconds.
    pub dt: f64,
    /// State at tick `k` (sender time `k * dt`).
    pub states: Vec<TruthState>,
}

impl Trajectory {
    /// Duration covered, seconds.
    pub fn duration(&self) -> f64 {
        self.states.len().saturating_sub(1) as f64 * self.dt
    }

    /// True state at sender time `t`: linear between ticks, stepping (never
    /// blending) across a respawn; clamped to the ends.
    pub fn at(&self, t: f64) -> Option<TruthState> {
        let last = self.states.len().checked_sub(1)?;
        let x = (t / self.dt).clamp(0.0, last as f64);
        let k = (x.floor() as usize).min(last);
        let a = self.states[k];
        let Some(b) = self.states.get(k + 1) else {
            return Some(a);
        };
        if a.spawn != b.spawn {
            return Some(a);
        }
        let u = (x - k as f64) as f32;
        Some(TruthState {
            pos: a.pos.lerp(b.pos, u),
            vel: a.vel.lerp(b.vel, u),
            aim: wrap_angle(a.aim + angle_diff(a.aim, b.aim) * u),
            spawn: a.spawn,
            discrete: false,
        })
    }
}

/// A player-like synthetic trajectory at 60 Hz: bursts of acceleration
/// towards a new heading every 0.2–1.2 s (stops and sharp turns included),
/// wall stops in a 1600 × 900 arena, aim turning at up to 10 rad/s (crossing
/// ±π), and every 6–10 s a death (frozen on the spot for 0.5 s) followed by a
/// respawn teleport.
pub fn synthetic_trajectory(seed: u64, seconds: f64) -> Trajectory {
    const DT: f64 = 1.0 / 60.0;
    const MAX_SPEED: f32 = 250.0;
    const ACCEL: f32 = 2000.0;
    const TURN: f32 = 10.0;
    let size = Vec2::new(1600.0, 900.0);
    // Mixed with the golden gamma, as `LinkModel` mixes its seeds.
    let mut rng = Rng::new(seed ^ GOLDEN_GAMMA);
    let mut pos = Vec2::new(800.0, 450.0);
    let mut vel = Vec2::ZERO;
    let mut aim = 0.0f32;
    let mut spawn = 0u8;
    let mut want_vel = Vec2::ZERO;
    let mut want_aim = 0.0f32;
    let mut next_change = 0.0;
    let mut next_death = rng.range_f64(6.0, 10.0);
    let mut dead_until: Option<f64> = None;
    let n = (seconds / DT).ceil() as usize + 1;
    let mut states = Vec::with_capacity(n);
    for k in 0..n {
        let t = k as f64 * DT;
        let mut discrete = false;
        if t >= next_death && dead_until.is_none() {
            dead_until = Some(t + 0.5);
            vel = Vec2::ZERO;
            discrete = true;
        }
        let frozen = dead_until.is_some_and(|until| t < until);
        if dead_until.is_some() && !frozen {
            dead_until = None;
            next_death = t + rng.range_f64(6.0, 10.0);
            spawn = spawn.wrapping_add(1);
            pos = Vec2::new(
                rng.range_f64(100.0, 1500.0) as f32,
                rng.range_f64(100.0, 800.0) as f32,
            );
            discrete = true;
        }
        if !frozen {
            if t >= next_change {
                next_change = t + rng.range_f64(0.2, 1.2);
                want_vel = if rng.chance(0.2) {
                    Vec2::ZERO
                } else {
                    let a = rng.range_f64(-std::f64::consts::PI, std::f64::consts::PI) as f32;
                    Vec2::from_angle(a) * MAX_SPEED * rng.range_f64(0.5, 1.0) as f32
                };
                want_aim = rng.range_f64(-std::f64::consts::PI, std::f64::consts::PI) as f32;
            }
            let dv = want_vel - vel;
            let max_dv = ACCEL * DT as f32;
            vel += if dv.length() > max_dv {
                dv.normalize_or_zero() * max_dv
            } else {
                dv
            };
            pos += vel * DT as f32;
            for i in 0..2 {
                if pos[i] < 0.0 || pos[i] > size[i] {
                    pos[i] = pos[i].clamp(0.0, size[i]);
                    vel[i] = 0.0;
                    want_vel[i] = -want_vel[i];
                }
            }
            let da = angle_diff(aim, want_aim);
            aim = wrap_angle(aim + da.clamp(-TURN * DT as f32, TURN * DT as f32));
        }
        states.push(TruthState {
            pos,
            vel,
            aim,
            spawn,
            discrete,
        });
    }
    Trajectory { dt: DT, states }
}

/// A network condition of the bench.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// Row label.
    pub name: String,
    /// Both directions of the link.
    pub link: LinkParams,
    /// State send rate, Hz: fixed, or the cap of an automatic rate.
    pub send_rate: f64,
    /// The rate is chosen by [`AutoRate`] (as the game's `auto` setting, or
    /// capped at `send_rate`), which sees the peer's 60 Hz states through a
    /// link like this one.
    pub auto: bool,
}

/// The conditions of the issue: clean LAN, 50 ± 20 ms with 5 % loss, 150 ± 50
/// ms with 10 % burst loss; plus a reordering/duplicating link.
pub fn standard_conditions() -> Vec<Condition> {
    let lan = LinkParams::new(0.001, 0.0005);
    let mut wan = LinkParams::new(0.050, 0.020);
    wan.loss = 0.05;
    let mut bad = LinkParams::new(0.150, 0.050);
    bad.gilbert_elliott = Some(GilbertElliott::bursts(0.10, 2.5));
    let mut reo = LinkParams::new(0.080, 0.030);
    reo.loss = 0.02;
    reo.reorder = 0.05;
    reo.reorder_delay = 0.06;
    reo.duplicate = 0.02;
    vec![
        Condition {
            name: "LAN 1 ± 0.5 ms".into(),
            link: lan,
            send_rate: 20.0,
            auto: false,
        },
        Condition {
            name: "50 ± 20 ms, 5 % loss".into(),
            link: wan,
            send_rate: 20.0,
            auto: false,
        },
        Condition {
            name: "150 ± 50 ms, 10 % burst loss".into(),
            link: bad,
            send_rate: 20.0,
            auto: false,
        },
        Condition {
            name: "80 ± 30 ms, 2 % loss, 5 % reorder, 2 % dup".into(),
            link: reo,
            send_rate: 20.0,
            auto: false,
        },
    ]
}

/// Which renderer draws the remote player.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Strategy {
    /// This module's [`PeerSync`] with the given configuration.
    Ours(SyncConfig),
    /// Draw the newest snapshot as soon as it arrives.
    SnapToLatest,
    /// Linear interpolation at a fixed buffering delay (seconds), holding past
    /// the newest snapshot, without velocities (Valve's `cl_interp 0.1`).
    FixedLinear(f64),
}

impl Strategy {
    /// Short label for the table.
    pub fn label(&self) -> String {
        match self {
            Strategy::Ours(_) => "ours (adaptive, Hermite)".into(),
            Strategy::SnapToLatest => "snap to latest".into(),
            Strategy::FixedLinear(d) => format!("fixed {:.0} ms linear", d * 1000.0),
        }
    }
}

/// Figures of one (condition, renderer) pair. Times in milliseconds, distances
/// in world units, shares in percent.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Metrics {
    /// Frames measured.
    pub frames: usize,
    /// Mean buffering delay beyond the link's mean latency, ms.
    pub mean_delay_ms: f64,
    /// 95th percentile of that delay, ms.
    pub p95_delay_ms: f64,
    /// RMS position error against the truth at the render point.
    pub rms_error: f64,
    /// Max position error against the truth at the render point.
    pub max_error: f64,
    /// RMS position error against the truth at `now − latency`.
    pub rms_error_now: f64,
    /// Max over frames of `|Δdrawn − Δtruth|`.
    pub max_jump: f64,
    /// Frames drawn by dead reckoning, %.
    pub extrapolated_pct: f64,
    /// Frames frozen, %.
    pub held_pct: f64,
    /// Remote-view age, mean: `now −` the true time of the instant drawn
    /// (transit + buffering), ms.
    pub mean_age_ms: f64,
    /// Remote-view age, 95th percentile, ms.
    pub p95_age_ms: f64,
    /// States sent per second, mean.
    pub rate_hz: f64,
    /// Upstream of the states, kbit/s, headers included (22-byte states +
    /// the data channel's [`arena::sync::rate::WIRE_OVERHEAD`]).
    pub state_kbps: f64,
}

/// Sender-clock to local-clock offset used by the harness (local = sender +
/// this): deliberately large so a renderer that mixed the clocks would show.
pub const CLOCK_OFFSET: f64 = 1234.5678;
const WARMUP: f64 = 3.0;
const FRAME: f64 = 1.0 / 60.0;

enum Renderer {
    Ours(Box<PeerSync>),
    Snap(LagMean, Option<Snapshot>),
    Fixed(LagMean, SnapshotBuffer, f64),
}

struct Drawn {
    pos: Vec2,
    mode: SampleMode,
    spawn: u8,
    render_time: f64,
}

#[derive(Default)]
struct LagMean(std::collections::VecDeque<f64>);

impl LagMean {
    fn push(&mut self, lag: f64) {
        if self.0.len() == 100 {
            self.0.pop_front();
        }
        self.0.push_back(lag);
    }
    fn mean(&self) -> Option<f64> {
        (!self.0.is_empty()).then(|| self.0.iter().sum::<f64>() / self.0.len() as f64)
    }
}

impl Renderer {
    fn new(s: Strategy) -> Self {
        match s {
            Strategy::Ours(c) => Renderer::Ours(Box::new(PeerSync::new(c))),
            Strategy::SnapToLatest => Renderer::Snap(LagMean::default(), None),
            Strategy::FixedLinear(d) => {
                Renderer::Fixed(LagMean::default(), SnapshotBuffer::new(64), d)
            }
        }
    }

    fn push(&mut self, snap: Snapshot, now: f64) {
        match self {
            Renderer::Ours(p) => p.push(snap, now),
            Renderer::Snap(lag, latest) => {
                lag.push(now - snap.sent_at);
                if latest.is_none_or(|l| snap.sent_at > l.sent_at) {
                    *latest = Some(snap);
                }
            }
            Renderer::Fixed(lag, buf, _) => {
                lag.push(now - snap.sent_at);
                buf.insert(Snapshot { vel: None, ..snap }, now, None);
            }
        }
    }

    fn pong(&mut self, t0: f64, tr: f64, t1: f64) {
        if let Renderer::Ours(p) = self {
            p.on_pong(t0, tr, t1);
        }
    }

    fn sample(&mut self, now: f64) -> Option<Drawn> {
        match self {
            Renderer::Ours(p) => p.sample(now).map(|s| Drawn {
                pos: s.pos,
                mode: s.mode,
                spawn: s.spawn,
                render_time: s.render_time,
            }),
            Renderer::Snap(lag, latest) => {
                let l = (*latest)?;
                Some(Drawn {
                    pos: l.pos,
                    mode: SampleMode::Interpolated,
                    spawn: l.spawn,
                    render_time: now - lag.mean()?,
                })
            }
            Renderer::Fixed(lag, buf, d) => {
                let render_time = now - lag.mean()? - *d;
                buf.prune(render_time);
                let raw = buf.sample(render_time, 0.0)?;
                Some(Drawn {
                    pos: raw.pos,
                    mode: raw.mode,
                    spawn: raw.spawn,
                    render_time,
                })
            }
        }
    }
}

enum Event {
    State(Snapshot),
    /// A pong: the ping's send time (receiver clock) and the sender's clock
    /// when it answered.
    Pong {
        t_ping: f64,
        t_remote: f64,
    },
}

/// What one frame drew and what was true at its render point, each with its
/// life (respawn counter): a jump is measured only within one life.
#[derive(Clone, Copy)]
struct Frame {
    drawn: Vec2,
    drawn_spawn: u8,
    truth: Vec2,
    truth_spawn: u8,
}

/// Runs one renderer over `trajectories` (each a different remote player)
/// through `condition`, seeded, and aggregates the figures.
pub fn run(
    condition: &Condition,
    trajectories: &[Trajectory],
    strategy: Strategy,
    seed: u64,
) -> Metrics {
    let mut delays = Vec::new();
    let mut ages = Vec::new();
    let (mut sent, mut seconds) = (0usize, 0.0);
    let mut sq_err = 0.0;
    let mut sq_err_now = 0.0;
    let mut max_error: f64 = 0.0;
    let mut max_jump: f64 = 0.0;
    let (mut frames, mut extrapolated, mut held) = (0usize, 0usize, 0usize);
    let latency = condition.link.latency;

    for (i, traj) in trajectories.iter().enumerate() {
        let s = seed.wrapping_mul(0x100_0000_01B3).wrapping_add(i as u64);
        let mut state_link = LinkModel::new(condition.link, s ^ 0x51);
        let mut ping_link = LinkModel::new(condition.link, s ^ 0x52);
        let mut pong_link = LinkModel::new(condition.link, s ^ 0x53);

        // Sender: throttle every tick, stamp on the sender clock, send at local time.
        let mut events: Vec<(f64, Event)> = Vec::new();
        let mut throttle = SendThrottle::new(condition.send_rate);
        let mut auto = condition
            .auto
            .then(|| AutoRate::new(SendRate::Max(condition.send_rate)));
        // What the sender sees of the link: the peer's states at 60 Hz
        // through a link like this one (a link of its own: the fixed-rate
        // figures stay as they were).
        let mut seen: Vec<(f64, u16, f64)> = Vec::new();
        if condition.auto {
            let mut states_in = LinkModel::new(condition.link, s ^ 0x54);
            for k in 0..traj.states.len() {
                let t = k as f64 * traj.dt;
                for a in states_in.deliver(t) {
                    seen.push((a, k as u16, a - t));
                }
            }
        }
        seen.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut seen = seen.into_iter().peekable();
        let mut seq: u16 = 65_500; // cross the u16 wrap during the run
        let mut prev_spawn = traj.states.first().map_or(0, |s| s.spawn);
        for (k, st) in traj.states.iter().enumerate() {
            let t = k as f64 * traj.dt;
            let discrete = st.discrete || st.spawn != prev_spawn;
            prev_spawn = st.spawn;
            if let Some(a) = auto.as_mut() {
                while let Some((_, seq, lag)) = seen.next_if(|e| e.0 <= t) {
                    a.on_state(seq, lag);
                }
                throttle.set_rate(a.rate(t));
            }
            if throttle.should_send(t, discrete, false) {
                sent += 1;
                if let Some(a) = auto.as_mut() {
                    a.on_sent(22, true);
                }
                let snap = Snapshot {
                    seq,
                    sent_at: t,
                    pos: st.pos,
                    vel: Some(st.vel),
                    aim: st.aim,
                    spawn: st.spawn,
                };
                seq = seq.wrapping_add(1);
                for a in state_link.deliver(t + CLOCK_OFFSET) {
                    events.push((a, Event::State(snap)));
                }
            }
        }
        seconds += traj.duration();
        // Receiver pings twice a second; the sender stamps on its own clock.
        let mut t0 = CLOCK_OFFSET;
        while t0 < CLOCK_OFFSET + traj.duration() {
            if let Some(&at_sender) = ping_link.deliver(t0).first()
                && let Some(&back) = pong_link.deliver(at_sender).first()
            {
                events.push((
                    back,
                    Event::Pong {
                        t_ping: t0,
                        t_remote: at_sender - CLOCK_OFFSET,
                    },
                ));
            }
            t0 += 0.5;
        }
        events.sort_by(|a, b| a.0.total_cmp(&b.0));

        let mut r = Renderer::new(strategy);
        let mut next = 0;
        let mut prev: Option<Frame> = None;
        let phase = 0.37 * FRAME;
        let mut n = 0u64;
        loop {
            let now = CLOCK_OFFSET + phase + n as f64 * FRAME;
            n += 1;
            if now - CLOCK_OFFSET > traj.duration() - 0.5 {
                break;
            }
            while next < events.len() && events[next].0 <= now {
                match events[next].1 {
                    Event::State(snap) => r.push(snap, events[next].0),
                    Event::Pong { t_ping, t_remote } => r.pong(t_ping, t_remote, events[next].0),
                }
                next += 1;
            }
            let Some(d) = r.sample(now) else {
                prev = None;
                continue;
            };
            let Some(truth) = traj.at(d.render_time) else {
                continue;
            };
            let this = Frame {
                drawn: d.pos,
                drawn_spawn: d.spawn,
                truth: truth.pos,
                truth_spawn: truth.spawn,
            };
            let measured = now - CLOCK_OFFSET >= WARMUP;
            if measured {
                if let Some(p) = prev
                    && p.drawn_spawn == d.spawn
                    && p.truth_spawn == truth.spawn
                {
                    let jump = ((d.pos - p.drawn) - (truth.pos - p.truth)).length() as f64;
                    max_jump = max_jump.max(jump);
                }
                frames += 1;
                delays.push((now - CLOCK_OFFSET - d.render_time - latency) * 1000.0);
                ages.push((now - CLOCK_OFFSET - d.render_time) * 1000.0);
                match d.mode {
                    SampleMode::Interpolated => {}
                    SampleMode::Extrapolated => extrapolated += 1,
                    SampleMode::Held => held += 1,
                }
                if d.spawn == truth.spawn {
                    let e = d.pos.distance(truth.pos) as f64;
                    sq_err += e * e;
                    max_error = max_error.max(e);
                }
                if let Some(tn) = traj.at(now - CLOCK_OFFSET - latency)
                    && tn.spawn == d.spawn
                {
                    let e = d.pos.distance(tn.pos) as f64;
                    sq_err_now += e * e;
                }
            }
            prev = Some(this);
        }
    }

    let f = frames.max(1) as f64;
    let mean_delay_ms = delays.iter().sum::<f64>() / f;
    delays.sort_by(f64::total_cmp);
    let mean_age_ms = ages.iter().sum::<f64>() / f;
    ages.sort_by(f64::total_cmp);
    let rate_hz = sent as f64 / seconds.max(1e-9);
    Metrics {
        rate_hz,
        state_kbps: rate_hz * (22 + arena::sync::rate::WIRE_OVERHEAD) as f64 * 8.0 / 1000.0,
        mean_age_ms,
        p95_age_ms: percentile_sorted(&ages, 0.95),
        frames,
        mean_delay_ms,
        p95_delay_ms: percentile_sorted(&delays, 0.95),
        rms_error: (sq_err / f).sqrt(),
        max_error,
        rms_error_now: (sq_err_now / f).sqrt(),
        max_jump,
        extrapolated_pct: 100.0 * extrapolated as f64 / f,
        held_pct: 100.0 * held as f64 / f,
    }
}

/// The renderers compared in the table: ours (default config), snap to
/// latest, fixed 100 ms linear.
pub fn strategies() -> [Strategy; 3] {
    [
        Strategy::Ours(SyncConfig::default()),
        Strategy::SnapToLatest,
        Strategy::FixedLinear(0.1),
    ]
}

/// Runs every condition × renderer and formats a markdown table.
pub fn table(conditions: &[Condition], trajectories: &[Trajectory], seed: u64) -> String {
    let mut out = String::new();
    out.push_str(
        "| condition | renderer | mean delay ms | p95 delay ms | age mean ms | age p95 ms | RMS err | max err | RMS err vs now | max jump | extrapolated % | held % |\n",
    );
    out.push_str("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for c in conditions {
        for s in strategies() {
            let m = run(c, trajectories, s, seed);
            let modes = |v: f64| {
                if matches!(s, Strategy::SnapToLatest) {
                    "n/a".to_string()
                } else {
                    format!("{v:.2}")
                }
            };
            out.push_str(&format!(
                "| {} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.2} | {:.1} | {:.2} | {:.2} | {} | {} |\n",
                c.name,
                s.label(),
                m.mean_delay_ms,
                m.p95_delay_ms,
                m.mean_age_ms,
                m.p95_age_ms,
                m.rms_error,
                m.max_error,
                m.rms_error_now,
                m.max_jump,
                modes(m.extrapolated_pct),
                modes(m.held_pct),
            ));
        }
    }
    out
}
