//! The state send rate of one peer link chosen from what the link shows:
//! [`SendRate`] (the player's setting) and [`AutoRate`] (the choice).
//!
//! What a player sees of another is as old as the network transit plus the
//! receiver's buffer, and the buffer must cover the send interval (plus the
//! jitter): at 20 Hz a LAN player is drawn ≈ 55 ms in the past, at 60 Hz ≈
//! 22 ms. So a good link gets the highest rate and a struggling one a lower
//! rate. The rates are the whole divisors of the 60 Hz simulation tick — 60,
//! 30 and 20 Hz ([`AUTO_LEVELS`]): a rate in between sends on an uneven
//! pattern of ticks (45 Hz is 3 ticks of 4), the receiver's buffer must cover
//! the longest gap, and the link would carry the higher rate's bandwidth for
//! the lower rate's picture.
//!
//! [`AutoRate`] steps one level down (at most once per [`DOWN_HOLD`]) on a
//! sign that the link is struggling, and one level up after [`UP_AFTER`]
//! without one:
//! - a **loss burst**: [`BURST_RUN`] or more consecutive states of the peer
//!   lost, or more than [`LOSS_LIMIT`] of them over a window ([`WINDOW`]);
//!   a state counts as lost once [`REORDER_STATES`] newer ones came, so
//!   jitter that reorders is not loss. Independent losses of a few per cent
//!   do not count: a higher rate is what helps against those, each loss
//!   leaving a shorter hole. Neither does jitter: the buffer it needs is the
//!   same at any rate, and the send interval still adds to it;
//! - **queueing**: the lowest one-way lag of the peer's states in a window
//!   above the lowest of the last [`LAG_WINDOWS`] windows by more than
//!   [`QUEUE_SLACK`] (the base-delay measure of LEDBAT, RFC 6817: the
//!   minimum of tens of samples ignores jitter, a standing queue raises it);
//! - **bandwidth**: our upstream to the peer — game messages plus
//!   [`WIRE_OVERHEAD`] bytes of headers each — above [`BUDGET_BPS`] over
//!   [`WINDOW`]; a step up must also fit the budget;
//! - **congestion** of the send queue (said by the caller, who also halves the
//!   rate at once through [`super::SendThrottle`]).
//!
//! Loss and queueing delay are measured on what the peer sends us: a link's
//! two directions usually share their fate, and the sender cannot see its
//! own losses without a report from the receiver.
//!
//! Pure: time is an argument (seconds, caller's monotonic clock); no I/O.

use std::collections::{BTreeSet, VecDeque};
use std::fmt;
use std::str::FromStr;

use super::throttle::{MAX_RATE_HZ, MIN_RATE_HZ};

/// The rates [`AutoRate`] moves between, highest first: the whole divisors
/// of the 60 Hz simulation tick from 60 down to 20 Hz.
pub const AUTO_LEVELS: [f64; 3] = [60.0, 30.0, 20.0];
/// States of the peer lost in a row that make a loss burst.
pub const BURST_RUN: u32 = 3;
/// A state this many sequence numbers older than the newest is judged lost
/// if it has not come: later ones may overtake it by that much (half a
/// second at 60 Hz) under jitter without counting as lost.
pub const REORDER_STATES: i64 = 30;
/// Sequence numbers kept for judging, at most (a flood cannot grow it).
const MAX_TRACKED: usize = 4096;
/// Share of the peer's states lost over [`WINDOW`] that counts as a burst.
pub const LOSS_LIMIT: f64 = 0.15;
/// Window of the loss and bandwidth measurements, seconds.
pub const WINDOW: f64 = 2.0;
/// The lowest one-way lag of a window above the lowest of the last
/// [`LAG_WINDOWS`] by more than this means a standing queue, seconds.
pub const QUEUE_SLACK: f64 = 0.030;
/// Windows the base (lowest) one-way lag is taken over.
pub const LAG_WINDOWS: usize = 5;
/// A lag change this large is the peer's clock jumping, not a queue, seconds.
const CLOCK_JUMP: f64 = 1.0;
/// Upstream budget per link, bits per second (headers included).
pub const BUDGET_BPS: f64 = 64_000.0;
/// Header bytes per message on a WebRTC data channel over IPv4: IP 20, UDP
/// 8, DTLS record 13 + AES-GCM nonce and tag 24, SCTP common header 12 and
/// DATA chunk 16. (A relayed message pays TCP/WebSocket/Socket.IO headers
/// instead, of a similar size.)
pub const WIRE_OVERHEAD: usize = 93;
/// Least time between two steps down, seconds.
pub const DOWN_HOLD: f64 = 1.0;
/// Time without a sign of trouble before a step up, seconds.
pub const UP_AFTER: f64 = 5.0;

/// The player's send-rate setting.
///
/// In the settings file: `send_rate = "auto"` or a number of Hz, the highest
/// rate to use (`send_rate = 30`).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum SendRate {
    /// Chosen per link between 20 and 60 Hz.
    #[default]
    Auto,
    /// Chosen per link as with `Auto`, never above this (5–60 Hz); at 20 Hz
    /// or below, that fixed rate.
    Max(f64),
}

impl SendRate {
    /// The highest rate this setting allows, Hz (clamped to 5–60).
    pub fn cap(self) -> f64 {
        match self {
            SendRate::Auto => MAX_RATE_HZ,
            SendRate::Max(hz) if hz.is_finite() => hz.clamp(MIN_RATE_HZ, MAX_RATE_HZ),
            SendRate::Max(_) => MAX_RATE_HZ,
        }
    }

    /// The rates it moves between, highest first: the cap, then the
    /// [`AUTO_LEVELS`] below it.
    pub fn levels(self) -> Vec<f64> {
        let cap = self.cap();
        let mut levels = vec![cap];
        levels.extend(AUTO_LEVELS.iter().copied().filter(|&l| l < cap));
        levels
    }
}

impl fmt::Display for SendRate {
    /// `auto` or e.g. `30` (Hz), as the settings file and flags take it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendRate::Auto => f.write_str("auto"),
            SendRate::Max(hz) => write!(f, "{hz}"),
        }
    }
}

/// Why a [`SendRate`] text could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("send rate must be \"auto\" or {MIN_RATE_HZ}-{MAX_RATE_HZ} Hz, got {0:?}")]
pub struct SendRateError(pub String);

impl FromStr for SendRate {
    type Err = SendRateError;

    /// `"auto"`, or 5 to 60 Hz: `"30"`, `"30hz"`, `"30 Hz"`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim().to_ascii_lowercase();
        if t == "auto" {
            return Ok(SendRate::Auto);
        }
        let digits = t.strip_suffix("hz").unwrap_or(&t).trim();
        match digits.parse::<f64>() {
            Ok(hz) if (MIN_RATE_HZ..=MAX_RATE_HZ).contains(&hz) => Ok(SendRate::Max(hz)),
            _ => Err(SendRateError(s.to_owned())),
        }
    }
}

/// What set the current rate of an [`AutoRate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RateReason {
    /// The link looks good (or nothing is measured yet): the highest level.
    Good,
    /// Lowered after a loss burst.
    LossBurst,
    /// Lowered after the RTT rose above its floor (a queue).
    Queueing,
    /// Lowered to stay within the upstream budget.
    Bandwidth,
    /// Lowered after the send queue backed up.
    Congestion,
}

impl RateReason {
    /// How reports and logs name it.
    pub fn as_str(self) -> &'static str {
        match self {
            RateReason::Good => "good",
            RateReason::LossBurst => "loss burst",
            RateReason::Queueing => "queueing",
            RateReason::Bandwidth => "bandwidth",
            RateReason::Congestion => "congestion",
        }
    }
}

/// The automatic send rate of one peer link (see the module docs).
#[derive(Debug, Clone)]
pub struct AutoRate {
    levels: Vec<f64>,
    /// Index into `levels` (0: the highest).
    level: usize,
    reason: RateReason,
    last_down: f64,
    last_trouble: f64,
    /// Trouble seen since the last [`AutoRate::rate`], if any.
    pending: Option<RateReason>,
    window_start: Option<f64>,
    /// The peer's sequence numbers seen, unwrapped, from `checked` on.
    seen: BTreeSet<i64>,
    /// Newest sequence number seen, unwrapped.
    newest: Option<i64>,
    /// Sequence numbers below this have been judged (lost or not).
    checked: Option<i64>,
    /// Lowest one-way lag (`arrival − sent_at`) of each of the last
    /// [`LAG_WINDOWS`] windows, the current one last.
    lag_mins: VecDeque<f64>,
    bytes: usize,
    state_bytes: f64,
    upstream_bps: Option<f64>,
}

impl AutoRate {
    /// A controller for `setting`, at its highest level.
    pub fn new(setting: SendRate) -> Self {
        Self {
            levels: setting.levels(),
            level: 0,
            reason: RateReason::Good,
            last_down: f64::NEG_INFINITY,
            last_trouble: f64::NEG_INFINITY,
            pending: None,
            window_start: None,
            seen: BTreeSet::new(),
            newest: None,
            checked: None,
            lag_mins: VecDeque::from([f64::INFINITY]),
            bytes: 0,
            state_bytes: 24.0,
            upstream_bps: None,
        }
    }

    /// Why the rate is what it is.
    pub fn reason(&self) -> RateReason {
        self.reason
    }

    /// Upstream to the peer over the last full window, bits per second
    /// (headers included), once measured.
    pub fn upstream_bps(&self) -> Option<f64> {
        self.upstream_bps
    }

    /// A state with sequence number `seq` arrived from the peer, `lag`
    /// seconds after its `sent_at` (on the two clocks: transit plus their
    /// offset, which cancels out in the queueing measure).
    pub fn on_state(&mut self, seq: u16, lag: f64) {
        let at = match self.newest {
            // Within ±32767 of the newest: the nearest unwrapped value.
            Some(n) => n + i64::from(seq.wrapping_sub(n as u16) as i16),
            None => i64::from(seq),
        };
        if self.newest.is_none_or(|n| at > n) {
            self.newest = Some(at);
        }
        let checked = *self.checked.get_or_insert(at);
        if at >= checked && self.seen.len() < MAX_TRACKED {
            self.seen.insert(at);
        }
        if lag.is_finite()
            && let Some(min) = self.lag_mins.back_mut()
        {
            *min = min.min(lag);
        }
    }

    /// We sent the peer a message of `bytes` (a state when `state`).
    pub fn on_sent(&mut self, bytes: usize, state: bool) {
        self.bytes += bytes + WIRE_OVERHEAD;
        if state {
            self.state_bytes += (bytes as f64 - self.state_bytes) / 16.0;
        }
    }

    /// The send queue to the peer backed up.
    pub fn on_congestion(&mut self) {
        self.trouble(RateReason::Congestion);
    }

    fn trouble(&mut self, reason: RateReason) {
        self.pending.get_or_insert(reason);
    }

    /// The rate to send at, at local time `now` (call once per tick): acts on
    /// what was seen since the last call, and closes measurement windows.
    pub fn rate(&mut self, now: f64) -> f64 {
        let start = *self.window_start.get_or_insert(now);
        if now - start >= WINDOW {
            self.close_window(now - start);
            self.window_start = Some(now);
        }
        if let Some(reason) = self.pending.take() {
            self.last_trouble = now;
            if now - self.last_down >= DOWN_HOLD && self.level + 1 < self.levels.len() {
                self.level += 1;
                self.last_down = now;
                self.reason = reason;
            }
        } else if self.level > 0 && now - self.last_trouble >= UP_AFTER && self.up_fits() {
            self.level -= 1;
            // Either way, the next step up waits a full period again.
            self.last_trouble = now;
            if self.level == 0 {
                self.reason = RateReason::Good;
            }
        }
        self.levels[self.level]
    }

    /// Judges the window just ended (`secs` long): bandwidth, losses of the
    /// states old enough that a reordered one would have come, queueing.
    fn close_window(&mut self, secs: f64) {
        let bps = std::mem::take(&mut self.bytes) as f64 * 8.0 / secs;
        self.upstream_bps = Some(bps);
        if bps > BUDGET_BPS {
            self.trouble(RateReason::Bandwidth);
        }

        if let (Some(newest), Some(checked)) = (self.newest, self.checked) {
            let upto = newest - REORDER_STATES;
            // A peer that leaps through sequence numbers is judged on the
            // last ones only: the work per window stays bounded.
            let from = checked.max(upto - MAX_TRACKED as i64);
            let (mut lost, mut run, mut longest) = (0, 0, 0);
            for k in from..upto.max(from) {
                if self.seen.remove(&k) {
                    run = 0;
                } else {
                    (lost, run) = (lost + 1, run + 1);
                    longest = longest.max(run);
                }
            }
            let expected = (upto - from).max(0);
            if upto > from {
                self.checked = Some(upto);
                self.seen.retain(|&k| k >= upto);
            }
            if longest >= BURST_RUN
                || (expected >= 20 && lost as f64 > LOSS_LIMIT * expected as f64)
            {
                self.trouble(RateReason::LossBurst);
            }
        }

        let current = self.lag_mins.back().copied().unwrap_or(f64::INFINITY);
        let base = self.lag_mins.iter().copied().fold(f64::INFINITY, f64::min);
        if !current.is_finite() {
            // Nothing arrived: no lag to judge (losses speak for themselves).
        } else if current - base > CLOCK_JUMP {
            // The peer's clock jumped: start over on the new timeline.
            self.lag_mins.clear();
        } else if self.lag_mins.len() >= 3 && current - base > QUEUE_SLACK {
            self.trouble(RateReason::Queueing);
        }
        if self.lag_mins.len() >= LAG_WINDOWS {
            self.lag_mins.pop_front();
        }
        self.lag_mins.push_back(f64::INFINITY);
    }

    /// The highest of its levels at or below `hz` (the lowest level if none
    /// is): for a link that must share a budget, e.g. the server's relay.
    pub fn level_at_most(&self, hz: f64) -> f64 {
        let lowest = self.levels.last().copied().unwrap_or(MIN_RATE_HZ);
        self.levels
            .iter()
            .copied()
            .find(|&l| l <= hz)
            .unwrap_or(lowest)
    }

    /// Whether the next level up keeps the upstream within the budget.
    fn up_fits(&self) -> bool {
        let Some(bps) = self.upstream_bps else {
            return true;
        };
        let (now, up) = (self.levels[self.level], self.levels[self.level - 1]);
        let per_state = (self.state_bytes + WIRE_OVERHEAD as f64) * 8.0;
        bps + (up - now) * per_state <= BUDGET_BPS
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const TICK: f64 = 1.0 / 60.0;

    /// A link as the sender sees it, for `secs` of 60 Hz ticks from `*t`:
    /// the peer's states at 60 Hz arrive after `lag(k)` (never when `None`),
    /// our own 24-byte states go out at the chosen rate. Returns the rates
    /// chosen, one per tick.
    fn run(
        a: &mut AutoRate,
        t: &mut f64,
        seq: &mut u16,
        secs: f64,
        lag: impl Fn(u64) -> Option<f64>,
    ) -> Vec<f64> {
        let ticks = (secs / TICK).round() as u64;
        let mut arrivals: Vec<(f64, u16, f64)> = (0..ticks)
            .filter_map(|k| {
                let sent = *t + k as f64 * TICK;
                lag(k).map(|l| (sent + l, seq.wrapping_add(k as u16), l))
            })
            .collect();
        arrivals.sort_by(|x, y| x.0.total_cmp(&y.0));
        let mut arrivals = arrivals.into_iter().peekable();
        let mut out = Vec::new();
        let mut due = *t;
        for _ in 0..ticks {
            while let Some((_, s, l)) = arrivals.next_if(|x| x.0 <= *t) {
                a.on_state(s, l);
            }
            let rate = a.rate(*t);
            if *t + 1e-6 >= due {
                a.on_sent(24, true);
                due += 1.0 / rate;
            }
            out.push(rate);
            *t += TICK;
        }
        *seq = seq.wrapping_add(ticks as u16);
        out
    }

    /// A pseudo-random number in `[0, 1)` from `k`.
    fn noise(k: u64) -> f64 {
        let x = k.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (k >> 7);
        (x.wrapping_mul(0xBF58_476D_1CE4_E5B9) >> 11) as f64 / (1u64 << 53) as f64
    }

    #[test]
    fn a_good_link_gets_60_hz() {
        let mut a = AutoRate::new(SendRate::Auto);
        let (mut t, mut seq) = (0.0, 0);
        let rates = run(&mut a, &mut t, &mut seq, 30.0, |_| Some(0.0005));
        assert!(rates.iter().all(|&r| r == 60.0), "{:?}", a.reason());
        // 60 × (24 + 93) bytes × 8 ≈ 56 kbit/s, within the budget.
        let bps = a.upstream_bps().unwrap();
        assert!((50_000.0..60_000.0).contains(&bps), "{bps}");
    }

    #[test]
    fn independent_loss_jitter_and_reordering_keep_60_hz() {
        // 5 % loss, 50 ± 30 ms uniform: states overtake each other by up to
        // 3 ticks and are lost one at a time. A higher rate is what helps.
        let mut a = AutoRate::new(SendRate::Auto);
        let (mut t, mut seq) = (0.0, 0);
        let rates = run(&mut a, &mut t, &mut seq, 120.0, |k| {
            (noise(k) >= 0.05).then(|| 0.050 + 0.060 * (noise(k + 1_000_000) - 0.5))
        });
        assert!(rates.iter().all(|&r| r == 60.0), "{:?}", a.reason());
        // Wraps of the sequence numbers change nothing.
        let (mut t, mut seq) = (0.0, 65_000);
        let rates = run(&mut a, &mut t, &mut seq, 20.0, |_| Some(0.05));
        assert!(rates.iter().all(|&r| r == 60.0), "{:?}", a.reason());
    }

    #[test]
    fn loss_bursts_step_down_then_quiet_steps_back_up() {
        let mut a = AutoRate::new(SendRate::Auto);
        let (mut t, mut seq) = (0.0, 0);
        run(&mut a, &mut t, &mut seq, 3.0, |_| Some(0.01));
        // Five states in a row lost every 1.5 s: judged half a second
        // later, one step per window, down to 20 Hz and it stays there.
        let rates = run(&mut a, &mut t, &mut seq, 8.0, |k| {
            (k % 90 >= 5).then_some(0.01)
        });
        assert!(rates.contains(&30.0));
        assert_eq!(rates.last(), Some(&20.0));
        assert_eq!(a.reason(), RateReason::LossBurst);
        // Quiet again: one level up per 5 s (the last bursts are judged
        // in the first window).
        let rates = run(&mut a, &mut t, &mut seq, 13.0, |_| Some(0.01));
        assert_eq!(rates[(4.0 / TICK) as usize], 20.0);
        assert_eq!(rates[(8.0 / TICK) as usize], 30.0);
        assert_eq!(rates.last(), Some(&60.0));
        assert_eq!(a.reason(), RateReason::Good);
    }

    #[test]
    fn heavy_loss_spread_out_steps_down() {
        // 25 % of the states lost, never three in a row.
        let mut a = AutoRate::new(SendRate::Auto);
        let (mut t, mut seq) = (0.0, 0);
        let rates = run(&mut a, &mut t, &mut seq, 6.0, |k| {
            (k % 4 != 0).then_some(0.01)
        });
        assert_eq!(rates.last(), Some(&20.0));
        assert_eq!(a.reason(), RateReason::LossBurst);
    }

    #[test]
    fn a_standing_queue_steps_down_a_clock_jump_does_not() {
        let mut a = AutoRate::new(SendRate::Auto);
        let (mut t, mut seq) = (0.0, 0);
        run(&mut a, &mut t, &mut seq, 10.0, |k| {
            Some(0.020 + 0.02 * noise(k))
        });
        // The one-way delay climbs by 80 ms and stays: a queue, not jitter.
        let rates = run(&mut a, &mut t, &mut seq, 4.0, |k| {
            Some(0.100 + 0.02 * noise(k))
        });
        assert!(rates.contains(&30.0), "{:?}", a.reason());
        assert_eq!(a.reason(), RateReason::Queueing);
        // The peer's clock jumps back by an hour: its states arrive as
        // before, stamped an hour earlier. Nothing to do with the link.
        let mut b = AutoRate::new(SendRate::Auto);
        let mut t = 0.0;
        for k in 0..(20.0 / TICK) as u64 {
            let jump = if k as f64 * TICK >= 10.0 { 3600.0 } else { 0.0 };
            b.on_state(k as u16, 0.020 + jump);
            assert_eq!(b.rate(t), 60.0, "{:?}", b.reason());
            t += TICK;
        }
    }

    #[test]
    fn big_states_are_held_to_the_budget() {
        // 120-byte states: 60 × 213 × 8 = 102 kbit/s, 30 Hz = 51 kbit/s.
        let mut a = AutoRate::new(SendRate::Auto);
        let mut t = 0.0;
        let mut due = 0.0;
        let mut rates = Vec::new();
        for _ in 0..(20.0 / TICK) as u64 {
            let rate = a.rate(t);
            if t + 1e-6 >= due {
                a.on_sent(120, true);
                due += 1.0 / rate;
            }
            rates.push(rate);
            t += TICK;
        }
        assert_eq!(rates.last(), Some(&30.0));
        assert_eq!(a.reason(), RateReason::Bandwidth);
        assert!(a.upstream_bps().unwrap() <= BUDGET_BPS);
    }

    #[test]
    fn the_setting_caps_the_levels() {
        assert_eq!(SendRate::Auto.levels(), vec![60.0, 30.0, 20.0]);
        assert_eq!(SendRate::Max(45.0).levels(), vec![45.0, 30.0, 20.0]);
        assert_eq!(SendRate::Max(30.0).levels(), vec![30.0, 20.0]);
        assert_eq!(SendRate::Max(20.0).levels(), vec![20.0]);
        assert_eq!(SendRate::Max(10.0).levels(), vec![10.0]);
        assert_eq!(SendRate::Max(500.0).levels(), vec![60.0, 30.0, 20.0]);
        assert_eq!(SendRate::Max(f64::NAN).cap(), 60.0);
        let mut a = AutoRate::new(SendRate::Max(20.0));
        a.on_congestion();
        assert_eq!(a.rate(0.0), 20.0);
        // A shared budget picks a level within it: 7 relayed peers of 150/s.
        let a = AutoRate::new(SendRate::Auto);
        assert_eq!(a.level_at_most(150.0 / 7.0), 20.0);
        assert_eq!(a.level_at_most(50.0), 30.0);
        assert_eq!(a.level_at_most(150.0), 60.0);
        assert_eq!(a.level_at_most(5.0), 20.0);
    }

    #[test]
    fn a_flood_of_sequence_numbers_is_bounded() {
        let mut a = AutoRate::new(SendRate::Auto);
        for k in 0..100_000u32 {
            a.on_state((k * 7919) as u16, f64::NAN);
        }
        assert!(a.seen.len() <= MAX_TRACKED);
        a.rate(0.0);
        a.rate(3.0);
        assert!(a.seen.len() <= MAX_TRACKED);
    }

    #[test]
    fn settings_text_round_trips() {
        for s in [SendRate::Auto, SendRate::Max(30.0), SendRate::Max(5.0)] {
            assert_eq!(s.to_string().parse::<SendRate>(), Ok(s));
        }
        assert_eq!(" Auto ".parse(), Ok(SendRate::Auto));
        assert_eq!("45 Hz".parse(), Ok(SendRate::Max(45.0)));
        assert!("61".parse::<SendRate>().is_err());
        assert!("fast".parse::<SendRate>().is_err());
        assert!("NaN".parse::<SendRate>().is_err());
    }
}
