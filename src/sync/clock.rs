//! Clock-offset estimation from ping/pong exchanges (NTP-style).
//!
//! Owns the estimate of `offset = local clock − remote clock` for one peer,
//! filtered against outliers by keeping the minimum-RTT exchange of a sliding
//! window (the exchange least inflated by queueing is the most symmetric), and
//! reset when the remote clock visibly jumps. It must not read a clock or send
//! pings itself: the net thread timestamps the ping and the pong and hands the
//! three times in.

use std::collections::VecDeque;

/// One measured exchange.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClockSample {
    /// `local − remote` clock offset in seconds: `local = remote + offset`.
    pub offset: f64,
    /// Round-trip time in seconds (processing time at the remote included).
    pub rtt: f64,
}

/// Sliding-window minimum-RTT offset estimator for one remote clock.
#[derive(Debug, Clone)]
pub struct ClockOffset {
    window: VecDeque<ClockSample>,
    capacity: usize,
    /// Consecutive samples that contradict the current estimate.
    disagreeing: u32,
    jumps: u32,
}

impl Default for ClockOffset {
    fn default() -> Self {
        Self::new(16)
    }
}

impl ClockOffset {
    /// A new estimator keeping the last `window` exchanges (at least 1).
    pub fn new(window: usize) -> Self {
        Self {
            window: VecDeque::with_capacity(window.max(1)),
            capacity: window.max(1),
            disagreeing: 0,
            jumps: 0,
        }
    }

    /// Feeds one exchange: the ping left at `t_send_local`, the remote stamped
    /// it `t_remote` (its own clock), the pong came back at `t_recv_local`. All
    /// in seconds. Returns the sample, or `None` if it was rejected (non-finite
    /// or negative RTT).
    ///
    /// When two consecutive samples disagree with the current estimate by more
    /// than their own uncertainty (RTT/2) plus 50 ms, the remote clock is taken
    /// to have jumped and the window restarts from the new samples.
    pub fn on_pong(
        &mut self,
        t_send_local: f64,
        t_remote: f64,
        t_recv_local: f64,
    ) -> Option<ClockSample> {
        let rtt = t_recv_local - t_send_local;
        if !(rtt.is_finite() && t_remote.is_finite()) || rtt < 0.0 {
            return None;
        }
        let sample = ClockSample {
            offset: 0.5 * (t_send_local + t_recv_local) - t_remote,
            rtt,
        };
        if let Some(best) = self.best() {
            let tolerance = 0.5 * (best.rtt + sample.rtt) + 0.05;
            if (sample.offset - best.offset).abs() > tolerance {
                self.disagreeing += 1;
                if self.disagreeing >= 2 {
                    // The remote clock moved: keep only the disagreeing samples.
                    let keep = self.window.back().copied();
                    self.window.clear();
                    self.window.extend(keep);
                    self.disagreeing = 0;
                    self.jumps += 1;
                } else {
                    // First disagreement: remember it, but do not let it win yet.
                    self.push(sample);
                    return Some(sample);
                }
            } else {
                self.disagreeing = 0;
            }
        }
        self.push(sample);
        Some(sample)
    }

    fn push(&mut self, sample: ClockSample) {
        if self.window.len() == self.capacity {
            self.window.pop_front();
        }
        self.window.push_back(sample);
    }

    /// The minimum-RTT sample of the window, ignoring a single unconfirmed
    /// outlier at the back.
    fn best(&self) -> Option<ClockSample> {
        let n = self.window.len();
        let considered = if self.disagreeing > 0 && n > 1 {
            n - 1
        } else {
            n
        };
        self.window
            .iter()
            .take(considered)
            .copied()
            .min_by(|a, b| a.rtt.total_cmp(&b.rtt))
    }

    /// Current estimate (the minimum-RTT exchange of the window), if any.
    pub fn estimate(&self) -> Option<ClockSample> {
        self.best()
    }

    /// Maps a remote timestamp to local time with the current estimate.
    pub fn to_local(&self, t_remote: f64) -> Option<f64> {
        self.best().map(|s| t_remote + s.offset)
    }

    /// How many remote clock jumps have been detected.
    pub fn jumps(&self) -> u32 {
        self.jumps
    }

    /// Forgets every sample (used when the snapshot stream shows a clock jump).
    pub fn reset(&mut self) {
        self.window.clear();
        self.disagreeing = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symmetric_exchange_is_exact() {
        let mut c = ClockOffset::default();
        // Remote clock = local − 100; 20 ms each way.
        let s = c
            .on_pong(10.0, 10.02 - 100.0, 10.04)
            .unwrap_or(ClockSample {
                offset: 0.0,
                rtt: 0.0,
            });
        assert!((s.offset - 100.0).abs() < 1e-9);
        assert!((s.rtt - 0.04).abs() < 1e-9);
        assert_eq!(c.to_local(0.0), Some(s.offset));
    }

    #[test]
    fn min_rtt_filters_outliers() {
        let mut c = ClockOffset::new(8);
        c.on_pong(0.0, 0.02 - 5.0, 0.04);
        // Queued on the way back: large RTT, offset off by 100 ms.
        c.on_pong(1.0, 1.02 - 5.0, 1.24);
        let est = c.estimate().map(|s| s.offset).unwrap_or(0.0);
        assert!((est - 5.0).abs() < 1e-9);
    }

    #[test]
    fn rejects_garbage() {
        let mut c = ClockOffset::default();
        assert!(c.on_pong(1.0, 0.0, 0.5).is_none());
        assert!(c.on_pong(0.0, f64::NAN, 0.5).is_none());
        assert!(c.estimate().is_none());
    }

    #[test]
    fn remote_clock_jump_resets() {
        let mut c = ClockOffset::new(8);
        for i in 0..5 {
            let t = i as f64;
            c.on_pong(t, t + 0.02 - 5.0, t + 0.04);
        }
        // Remote restarted: its clock is now local − 1000.
        c.on_pong(10.0, 10.02 - 1000.0, 10.04);
        // One outlier is not enough.
        assert!((c.estimate().map(|s| s.offset).unwrap_or(0.0) - 5.0).abs() < 1e-9);
        c.on_pong(11.0, 11.02 - 1000.0, 11.04);
        assert!((c.estimate().map(|s| s.offset).unwrap_or(0.0) - 1000.0).abs() < 1e-9);
        assert_eq!(c.jumps(), 1);
    }
}
