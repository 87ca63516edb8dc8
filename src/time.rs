//! The game's monotonic clock, [`Instant`]: `std::time::Instant` on
//! desktop; in the browser a type of the same shape read from
//! `performance.now()`, because `std::time::Instant::now()` panics on
//! `wasm32-unknown-unknown` (std has no clock there).
//!
//! Shared code (the net core's API, the frame loop) names
//! `crate::time::Instant`, never `std::time::Instant`. Only the subset of
//! std's API the game uses is provided on wasm; add to it as needed. It owns
//! no policy: pure modules still take time as an argument.

#[cfg(not(target_arch = "wasm32"))]
pub use std::time::Instant;

#[cfg(target_arch = "wasm32")]
pub use web::Instant;

#[cfg(target_arch = "wasm32")]
mod web {
    use std::ops::{Add, AddAssign, Sub, SubAssign};
    use std::time::Duration;

    /// A point on the page's monotonic clock: the time since the page's time
    /// origin, from `performance.now()` (not macroquad's `get_time()`, which
    /// is rounded to milliseconds).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
    pub struct Instant(Duration);

    impl Instant {
        /// Now.
        pub fn now() -> Instant {
            let ms = arena_web_ffi::now_ms();
            // performance.now() is never negative or NaN; clamp anyway so a
            // broken page cannot make Duration panic.
            let ms = if ms.is_finite() { ms.max(0.0) } else { 0.0 };
            Instant(Duration::from_secs_f64(ms / 1000.0))
        }

        /// Time since `earlier`; zero if `earlier` is later.
        pub fn duration_since(&self, earlier: Instant) -> Duration {
            self.0.saturating_sub(earlier.0)
        }

        /// Time since `earlier`, or `None` if `earlier` is later.
        pub fn checked_duration_since(&self, earlier: Instant) -> Option<Duration> {
            self.0.checked_sub(earlier.0)
        }

        /// Time since `earlier`; zero if `earlier` is later.
        pub fn saturating_duration_since(&self, earlier: Instant) -> Duration {
            self.duration_since(earlier)
        }

        /// Time since this instant.
        pub fn elapsed(&self) -> Duration {
            Instant::now().duration_since(*self)
        }

        /// `self + d`, or `None` on overflow.
        pub fn checked_add(&self, d: Duration) -> Option<Instant> {
            self.0.checked_add(d).map(Instant)
        }

        /// `self - d`, or `None` before the page's time origin.
        pub fn checked_sub(&self, d: Duration) -> Option<Instant> {
            self.0.checked_sub(d).map(Instant)
        }
    }

    impl Add<Duration> for Instant {
        type Output = Instant;
        fn add(self, d: Duration) -> Instant {
            Instant(self.0 + d)
        }
    }

    impl AddAssign<Duration> for Instant {
        fn add_assign(&mut self, d: Duration) {
            self.0 += d;
        }
    }

    impl Sub<Duration> for Instant {
        type Output = Instant;
        /// Saturates at the page's time origin (std panics before its own
        /// origin; ours is the page load, close enough to reach).
        fn sub(self, d: Duration) -> Instant {
            Instant(self.0.saturating_sub(d))
        }
    }

    impl SubAssign<Duration> for Instant {
        fn sub_assign(&mut self, d: Duration) {
            *self = *self - d;
        }
    }

    impl Sub<Instant> for Instant {
        type Output = Duration;
        /// Saturates at zero, as std's does.
        fn sub(self, earlier: Instant) -> Duration {
            self.duration_since(earlier)
        }
    }
}
