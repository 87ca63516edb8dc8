//! Send throttling of the local player's state.
//!
//! Owns the decision "send a state now?" for one peer link: a rate (set by
//! the caller, from [`super::AutoRate`] in the game; clamped to 5–60 Hz), an
//! immediate send on discrete changes (respawn, fire, …), and a congestion
//! back-off that halves the rate while the link reports congestion (relay
//! queue or data-channel buffered amount high) and recovers it additively
//! afterwards (AIMD). It must not measure congestion itself or build the
//! message: the net thread says whether the link is congested, the caller
//! builds the state.

/// Send rate of [`SendThrottle::default`], Hz (the game's own default is
/// [`super::SendRate::Auto`]).
pub const DEFAULT_RATE_HZ: f64 = 20.0;
/// Lowest allowed send rate, Hz.
pub const MIN_RATE_HZ: f64 = 5.0;
/// Highest allowed send rate, Hz.
pub const MAX_RATE_HZ: f64 = 60.0;

/// Rate limiter for one peer's state stream (times in seconds).
#[derive(Debug, Clone)]
pub struct SendThrottle {
    rate: f64,
    /// Congestion back-off: the rate may not exceed it (∞: no back-off).
    ceiling: f64,
    effective: f64,
    next_due: Option<f64>,
    last_now: Option<f64>,
    last_backoff: f64,
}

impl Default for SendThrottle {
    fn default() -> Self {
        Self::new(DEFAULT_RATE_HZ)
    }
}

impl SendThrottle {
    /// A throttle at `rate_hz`, clamped to 5–60 Hz (non-finite → default).
    pub fn new(rate_hz: f64) -> Self {
        let rate = clamp_rate(rate_hz);
        Self {
            rate,
            ceiling: f64::INFINITY,
            effective: rate,
            next_due: None,
            last_now: None,
            last_backoff: f64::NEG_INFINITY,
        }
    }

    /// Changes the configured rate (clamped to 5–60 Hz); it takes effect at
    /// once, within a congestion back-off in force.
    pub fn set_rate(&mut self, rate_hz: f64) {
        self.rate = clamp_rate(rate_hz);
        self.effective = self.rate.min(self.ceiling);
    }

    /// The configured rate, Hz.
    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// The rate currently in force after congestion back-off, Hz.
    pub fn effective_rate(&self) -> f64 {
        self.effective
    }

    /// Call once per simulation tick at local time `now`. Returns `true` when
    /// a state should be sent: the interval at the effective rate has elapsed,
    /// or `discrete_change` is set (sent at once; the periodic schedule
    /// restarts from here). `congested` halves the effective rate (at most
    /// once per 250 ms, never below 5 Hz); without congestion it recovers by
    /// 5 Hz per second up to the configured rate.
    pub fn should_send(&mut self, now: f64, discrete_change: bool, congested: bool) -> bool {
        let dt = self.last_now.map_or(0.0, |l| (now - l).max(0.0));
        self.last_now = Some(now);
        if congested {
            if now - self.last_backoff >= 0.25 {
                self.ceiling = (self.effective * 0.5).max(MIN_RATE_HZ);
                self.last_backoff = now;
            }
        } else if self.ceiling.is_finite() {
            self.ceiling += 5.0 * dt;
            if self.ceiling >= self.rate {
                self.ceiling = f64::INFINITY;
            }
        }
        self.effective = self.rate.min(self.ceiling);
        let interval = 1.0 / self.effective;
        // Half a millisecond of slack absorbs float noise in tick times.
        let due = self.next_due.is_none_or(|d| now + 5e-4 >= d);
        if discrete_change || due {
            let next = match self.next_due {
                // Keep the cadence exact when on time; restart it after a gap.
                Some(d) if !discrete_change && now - d < interval => d + interval,
                _ => now + interval,
            };
            self.next_due = Some(next);
            return true;
        }
        false
    }
}

fn clamp_rate(rate_hz: f64) -> f64 {
    if rate_hz.is_finite() {
        rate_hz.clamp(MIN_RATE_HZ, MAX_RATE_HZ)
    } else {
        DEFAULT_RATE_HZ
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(t: &mut SendThrottle, secs: f64, congested: bool) -> usize {
        let start = t.last_now.map_or(0.0, |l| l + 1.0 / 60.0);
        let ticks = (secs * 60.0).round() as usize;
        (0..ticks)
            .filter(|i| t.should_send(start + *i as f64 / 60.0, false, congested))
            .count()
    }

    #[test]
    fn default_is_20_hz_at_60_hz_ticks() {
        let mut t = SendThrottle::default();
        assert_eq!(count(&mut t, 10.0, false), 200);
    }

    #[test]
    fn rate_is_clamped() {
        assert_eq!(SendThrottle::new(1.0).rate(), 5.0);
        assert_eq!(SendThrottle::new(500.0).rate(), 60.0);
        assert_eq!(SendThrottle::new(f64::NAN).rate(), 20.0);
        let mut t = SendThrottle::new(60.0);
        assert_eq!(count(&mut t, 1.0, false), 60);
    }

    #[test]
    fn discrete_change_sends_immediately() {
        let mut t = SendThrottle::default();
        assert!(t.should_send(0.0, false, false));
        assert!(!t.should_send(1.0 / 60.0, false, false));
        assert!(t.should_send(2.0 / 60.0, true, false));
    }

    #[test]
    fn a_new_rate_applies_at_once_but_not_through_a_back_off() {
        let mut t = SendThrottle::new(30.0);
        assert_eq!(count(&mut t, 1.0, false), 30);
        t.set_rate(60.0);
        assert_eq!(count(&mut t, 1.0, false), 60);
        count(&mut t, 0.1, true);
        t.set_rate(60.0);
        assert_eq!(t.effective_rate(), 30.0);
    }

    #[test]
    fn congestion_lowers_rate_then_recovers() {
        let mut t = SendThrottle::default();
        let congested = count(&mut t, 2.0, true);
        assert!(congested <= 14, "sent {congested} in 2 s while congested");
        assert_eq!(t.effective_rate(), MIN_RATE_HZ);
        count(&mut t, 4.0, false);
        assert_eq!(t.effective_rate(), 20.0);
    }
}
