//! The playout delay of one remote player: how far behind the sender's clock
//! the picture is drawn, and how that changes.
//!
//! Owns two windows of arrival measurements and the current delay. `lag` is
//! `arrival (local) − sent_at (sender)` per snapshot: the one-way transit plus
//! the unknown clock offset; its mean is the "network" part of the delay. The
//! *needed* delay of a snapshot is `arrival − sent_at of the snapshot before
//! it`: drawing that long behind would have had it in hand before the render
//! point left its predecessor, so it captures send interval, jitter and loss
//! at once. The adaptive target is a high percentile of the needed delay plus
//! a margin, bounded; the current delay moves towards it by time-scaling
//! playback by at most a few percent (no jumps). Working in `lag` units makes
//! the playout independent of the clock-offset estimate: re-estimating the
//! offset never moves the picture. It must not touch the snapshots themselves.

use std::collections::VecDeque;

/// How the playout delay is chosen.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DelayMode {
    /// Measured from arrivals.
    Adaptive {
        /// Percentile (0..=1) of the needed delay to cover.
        quantile: f64,
        /// Added on top of that percentile, seconds.
        margin: f64,
        /// Lower bound of the buffering delay (beyond the mean transit), seconds.
        min: f64,
        /// Upper bound of the buffering delay, seconds.
        max: f64,
    },
    /// A fixed buffering delay beyond the mean transit, seconds (settings).
    Fixed(f64),
}

impl Default for DelayMode {
    fn default() -> Self {
        DelayMode::Adaptive {
            quantile: 0.90,
            margin: 0.005,
            min: 0.0,
            max: 0.5,
        }
    }
}

/// Playout-delay controller (all times in seconds).
#[derive(Debug, Clone)]
pub struct DelayController {
    mode: DelayMode,
    /// Maximum playback-rate deviation from 1 (0.05 = ±5 %).
    slew: f64,
    window: usize,
    lags: VecDeque<f64>,
    needed: VecDeque<f64>,
    /// Current delay in lag units (`now − render point on the sender clock`).
    current: Option<f64>,
    /// Target, recomputed on every arrival and mode change (not per frame).
    target: Option<f64>,
    last_now: Option<f64>,
}

impl DelayController {
    /// A controller for `mode`, changing playback speed by at most `slew`
    /// (fraction), measuring over the last `window` arrivals.
    pub fn new(mode: DelayMode, slew: f64, window: usize) -> Self {
        Self {
            mode,
            slew: slew.clamp(0.0, 0.5),
            window: window.max(4),
            lags: VecDeque::new(),
            needed: VecDeque::new(),
            current: None,
            target: None,
            last_now: None,
        }
    }

    /// Changes the mode (e.g. from the settings menu); takes effect smoothly.
    pub fn set_mode(&mut self, mode: DelayMode) {
        self.mode = mode;
        self.target = self.compute_target();
    }

    /// Records one stored arrival: its `lag` (`arrival − sent_at`) and the
    /// needed delay (`arrival − sent_at` of its predecessor, if known).
    pub fn on_arrival(&mut self, lag: f64, needed: Option<f64>, nominal_interval: f64) {
        push_bounded(&mut self.lags, lag, self.window);
        push_bounded(
            &mut self.needed,
            needed.unwrap_or(lag + nominal_interval),
            self.window,
        );
        if self.current.is_none() {
            self.current = Some(lag + nominal_interval);
        }
        self.target = self.compute_target();
    }

    /// Mean lag (transit + clock offset) over the window.
    pub fn mean_lag(&self) -> Option<f64> {
        if self.lags.is_empty() {
            return None;
        }
        Some(self.lags.iter().sum::<f64>() / self.lags.len() as f64)
    }

    /// Smallest lag in the window.
    pub fn min_lag(&self) -> Option<f64> {
        self.lags.iter().copied().reduce(f64::min)
    }

    /// Target delay in lag units, bounded.
    pub fn target(&self) -> Option<f64> {
        self.target
    }

    fn compute_target(&self) -> Option<f64> {
        let mean = self.mean_lag()?;
        let buffering = match self.mode {
            DelayMode::Fixed(d) => d.max(0.0),
            DelayMode::Adaptive {
                quantile,
                margin,
                min,
                max,
            } => {
                let mut v: Vec<f64> = self.needed.iter().copied().collect();
                v.sort_by(f64::total_cmp);
                let q = percentile_sorted(&v, quantile);
                (q + margin - mean).clamp(min, max.max(min))
            }
        };
        Some(mean + buffering)
    }

    /// Advances to local time `now` and returns the current delay (lag units):
    /// the render point on the sender's clock is `now − delay`. Between calls
    /// the delay moves towards the target at no more than `slew` seconds per
    /// second, so playback runs at `1 ± slew` speed and never jumps.
    pub fn advance(&mut self, now: f64) -> Option<f64> {
        let target = self.target()?;
        let current = self.current.get_or_insert(target);
        let dt = self.last_now.map_or(0.0, |l| (now - l).max(0.0));
        self.last_now = Some(now);
        let step = self.slew * dt;
        *current += (target - *current).clamp(-step, step);
        Some(*current)
    }

    /// Current delay in lag units, without advancing.
    pub fn current(&self) -> Option<f64> {
        self.current
    }

    /// Current buffering delay: the delay beyond the mean transit (seconds).
    pub fn buffering(&self) -> Option<f64> {
        Some(self.current? - self.mean_lag()?)
    }

    /// Restarts the measurements on a new sender timeline whose lag is
    /// `new_lag`, keeping the buffering delay that had been reached.
    pub fn rebase(&mut self, new_lag: f64, nominal_interval: f64) {
        let buffering = self.buffering().unwrap_or(nominal_interval);
        self.lags.clear();
        self.needed.clear();
        self.lags.push_back(new_lag);
        self.needed.push_back(new_lag + buffering);
        self.current = Some(new_lag + buffering);
        self.target = self.compute_target();
    }
}

fn push_bounded(q: &mut VecDeque<f64>, v: f64, cap: usize) {
    if q.len() == cap {
        q.pop_front();
    }
    q.push_back(v);
}

/// Linear-interpolated percentile of an ascending slice; `q` in 0..=1.
pub fn percentile_sorted(v: &[f64], q: f64) -> f64 {
    match v.len() {
        0 => 0.0,
        1 => v[0],
        n => {
            let x = q.clamp(0.0, 1.0) * (n - 1) as f64;
            let i = x.floor() as usize;
            let f = x - i as f64;
            if i + 1 < n {
                v[i] * (1.0 - f) + v[i + 1] * f
            } else {
                v[n - 1]
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn target_is_percentile_of_needed() {
        let mode = DelayMode::Adaptive {
            quantile: 0.95,
            margin: 0.01,
            min: 0.0,
            max: 0.5,
        };
        let mut d = DelayController::new(mode, 0.05, 100);
        for i in 0..100 {
            let lag = 0.05 + (i % 10) as f64 * 0.002; // 50..68 ms
            d.on_arrival(lag, Some(lag + 0.05), 0.05);
        }
        let t = d.target().unwrap();
        let mean = d.mean_lag().unwrap();
        // p95 of needed ≈ 0.118 + margin 0.01, minus the mean lag 0.059.
        assert!((t - mean - 0.069).abs() < 0.002, "{}", t - mean);
    }

    #[test]
    fn changes_slowly() {
        let mut d = DelayController::new(DelayMode::Fixed(0.1), 0.05, 32);
        d.on_arrival(0.05, None, 0.05);
        let a = d.advance(0.0).unwrap();
        d.set_mode(DelayMode::Fixed(0.3));
        let b = d.advance(1.0).unwrap();
        // At most 5 % of the elapsed second.
        assert!((b - a - 0.05).abs() < 1e-9);
        let c = d.advance(10.0).unwrap();
        assert!((c - 0.35).abs() < 1e-9);
    }

    #[test]
    fn bounded() {
        let mut d = DelayController::new(
            DelayMode::Adaptive {
                quantile: 0.95,
                margin: 0.0,
                min: 0.02,
                max: 0.2,
            },
            0.05,
            16,
        );
        for _ in 0..16 {
            d.on_arrival(0.05, Some(5.0), 0.05);
        }
        assert!((d.target().unwrap() - 0.25).abs() < 1e-9);
    }

    #[test]
    fn percentile() {
        assert_eq!(percentile_sorted(&[1.0, 2.0, 3.0], 0.5), 2.0);
        assert_eq!(percentile_sorted(&[1.0, 2.0], 1.0), 2.0);
        assert_eq!(percentile_sorted(&[], 0.9), 0.0);
    }
}
