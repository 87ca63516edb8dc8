//! Wrap-around arithmetic: `u16` sequence numbers and angles in radians.
//!
//! Owns the two comparisons every other `sync` module relies on: "is sequence
//! `a` newer than `b`" across the `u16` wrap (RFC 1982 serial arithmetic), and
//! the shortest signed difference between two angles across ±π. Pure maths; it
//! must not know about snapshots, buffers or time.

use std::f32::consts::{PI, TAU};

/// Signed distance from `b` to `a` in sequence space: positive when `a` is
/// newer than `b`, negative when older, across the `u16` wrap.
///
/// Two sequences exactly half the space apart (32768) compare as `i16::MIN`
/// (older); with 20 states a second that is 27 minutes of silence.
pub fn seq_diff(a: u16, b: u16) -> i16 {
    a.wrapping_sub(b) as i16
}

/// `true` when sequence `a` is strictly newer than `b` (wrap-aware).
pub fn seq_newer(a: u16, b: u16) -> bool {
    seq_diff(a, b) > 0
}

/// Wraps an angle in radians into `[-π, π)`. Non-finite input is returned as 0.
pub fn wrap_angle(a: f32) -> f32 {
    if !a.is_finite() {
        return 0.0;
    }
    let w = a - TAU * ((a + PI) / TAU).floor();
    // Rounding can land exactly on +π; fold it onto -π to keep the half-open range.
    if w >= PI { w - TAU } else { w }
}

/// Shortest signed rotation from `from` to `to`, in `[-π, π)`.
pub fn angle_diff(from: f32, to: f32) -> f32 {
    wrap_angle(to - from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seq_wraps() {
        assert!(seq_newer(0, 65535));
        assert!(seq_newer(5, 65530));
        assert!(!seq_newer(65530, 5));
        assert_eq!(seq_diff(2, 65534), 4);
        assert_eq!(seq_diff(65534, 2), -4);
        assert!(!seq_newer(7, 7));
    }

    #[test]
    fn angles_wrap() {
        assert!((wrap_angle(3.0 * PI) - -PI).abs() < 1e-5);
        assert!((wrap_angle(-3.0 * PI) - -PI).abs() < 1e-5);
        assert!((wrap_angle(0.5) - 0.5).abs() < 1e-6);
        assert!((wrap_angle(TAU + 0.25) - 0.25).abs() < 1e-5);
        assert_eq!(wrap_angle(f32::NAN), 0.0);
        // Across ±π the short way is 0.2 rad, not 2π − 0.2.
        assert!((angle_diff(PI - 0.1, -PI + 0.1) - 0.2).abs() < 1e-5);
        assert!((angle_diff(-PI + 0.1, PI - 0.1) + 0.2).abs() < 1e-5);
    }
}
