//! Abuse protection: per-connection token buckets per event class and
//! failed-join throttling against room-code guessing.
//!
//! Owns the limiter state of one connection ([`ConnLimits`]) and the pure
//! [`Bucket`] used for failed joins. The event classes use governor's GCRA
//! limiters; failed joins need a bucket that can be *looked at* before a join
//! is tried (a guessed valid code must be refused too once the budget is
//! spent) and charged only when the join fails, which governor's
//! check-and-consume API cannot express, hence the small pure [`Bucket`]
//! (time is an argument). It knows nothing about sockets or rooms.

use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use crate::config::{Rate, RateLimits};

/// Event classes that have their own token bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// `signal`.
    Signal,
    /// `relay` and `broadcast`.
    Relay,
    /// `hello`, `create_room`, `join_room`, `leave_room`.
    Join,
}

fn quota(rate: Rate) -> Quota {
    let per = NonZeroU32::new(rate.per_second).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(rate.burst).unwrap_or(NonZeroU32::MIN);
    Quota::per_second(per).allow_burst(burst)
}

/// The token buckets of one connection.
#[derive(Debug)]
pub struct ConnLimits {
    signal: DefaultDirectRateLimiter,
    relay: DefaultDirectRateLimiter,
    join: DefaultDirectRateLimiter,
    /// Limits `rate_limited` notices so a flood is not answered by a flood.
    notice: DefaultDirectRateLimiter,
}

impl ConnLimits {
    /// Fresh, full buckets.
    pub fn new(limits: &RateLimits) -> Self {
        Self {
            signal: RateLimiter::direct(quota(limits.signal)),
            relay: RateLimiter::direct(quota(limits.relay)),
            join: RateLimiter::direct(quota(limits.join)),
            notice: RateLimiter::direct(quota(Rate {
                per_second: 2,
                burst: 3,
            })),
        }
    }

    /// Takes one token of `class`; `false` when the bucket is empty.
    pub fn check(&self, class: Class) -> bool {
        let l = match class {
            Class::Signal => &self.signal,
            Class::Relay => &self.relay,
            Class::Join => &self.join,
        };
        l.check().is_ok()
    }

    /// Whether a `rate_limited` notice may be sent now (a few per second at most).
    pub fn may_notify(&self) -> bool {
        self.notice.check().is_ok()
    }
}

/// A token bucket that can be inspected before it is charged. Pure: `now` is an argument.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    tokens: f64,
    capacity: f64,
    per_sec: f64,
    last: Instant,
}

impl Bucket {
    /// A full bucket of `per_minute` tokens refilling at `per_minute` per minute.
    pub fn per_minute(per_minute: u32, now: Instant) -> Self {
        let capacity = f64::from(per_minute.max(1));
        Self {
            tokens: capacity,
            capacity,
            per_sec: capacity / 60.0,
            last: now,
        }
    }

    /// A full bucket of `per_hour` tokens refilling at `per_hour` per hour.
    pub fn per_hour(per_hour: u32, now: Instant) -> Self {
        let capacity = f64::from(per_hour.max(1));
        Self {
            tokens: capacity,
            capacity,
            per_sec: capacity / 3600.0,
            last: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let dt = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + dt * self.per_sec).min(self.capacity);
        self.last = now;
    }

    /// Whether at least one token is available at `now`.
    pub fn allows(&mut self, now: Instant) -> bool {
        self.refill(now);
        self.tokens >= 1.0
    }

    /// Spends one token (down to zero).
    pub fn charge(&mut self, now: Instant) {
        self.refill(now);
        self.tokens = (self.tokens - 1.0).max(0.0);
    }

    /// Whether the bucket is full at `now` (then it can be forgotten).
    pub fn is_full(&mut self, now: Instant) -> bool {
        self.refill(now);
        self.tokens >= self.capacity
    }

    /// Time until the next token, for messages.
    pub fn retry_after(&mut self, now: Instant) -> Duration {
        self.refill(now);
        if self.tokens >= 1.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64((1.0 - self.tokens) / self.per_sec)
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn bucket_throttles_and_refills() {
        let t = Instant::now();
        let mut b = Bucket::per_minute(3, t);
        for _ in 0..3 {
            assert!(b.allows(t));
            b.charge(t);
        }
        assert!(!b.allows(t));
        assert!(b.retry_after(t) > Duration::from_secs(19));
        assert!(b.allows(t + Duration::from_secs(20)));
        assert!(b.is_full(t + Duration::from_secs(60)));
    }

    #[test]
    fn classes_have_separate_buckets() {
        let l = ConnLimits::new(&RateLimits {
            signal: Rate {
                per_second: 1,
                burst: 2,
            },
            relay: Rate {
                per_second: 1,
                burst: 3,
            },
            join: Rate {
                per_second: 1,
                burst: 1,
            },
            failed_joins_per_minute: 1,
            failed_joins_per_hour_per_ip: 1,
        });
        assert!(l.check(Class::Signal) && l.check(Class::Signal));
        assert!(!l.check(Class::Signal));
        assert!(l.check(Class::Relay) && l.check(Class::Relay) && l.check(Class::Relay));
        assert!(!l.check(Class::Relay));
        assert!(l.check(Class::Join));
        assert!(!l.check(Class::Join));
    }
}
