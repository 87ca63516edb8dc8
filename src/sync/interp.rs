//! Interpolation primitives: cubic Hermite position, linear fallback, and
//! shortest-arc rotation.
//!
//! Owns the maths that turns two timed states into one state in between. It
//! must not decide *when* to interpolate or extrapolate (that is the buffer's
//! and the peer's job) and knows nothing about the network.

use glam::Vec2;

use super::wrap::{angle_diff, wrap_angle};

/// Cubic Hermite between `p0` (velocity `v0`) and `p1` (velocity `v1`) over a
/// segment lasting `dt` seconds, at fraction `u` in `[0, 1]`.
///
/// Returns the position and its time derivative (velocity, units/s). With
/// `dt <= 0` it returns `p1` and `v1`.
pub fn hermite(p0: Vec2, v0: Vec2, p1: Vec2, v1: Vec2, dt: f32, u: f32) -> (Vec2, Vec2) {
    if dt <= 0.0 || !dt.is_finite() {
        return (p1, v1);
    }
    let u = u.clamp(0.0, 1.0);
    let (u2, u3) = (u * u, u * u * u);
    let m0 = v0 * dt;
    let m1 = v1 * dt;
    let pos = p0 * (2.0 * u3 - 3.0 * u2 + 1.0)
        + m0 * (u3 - 2.0 * u2 + u)
        + p1 * (-2.0 * u3 + 3.0 * u2)
        + m1 * (u3 - u2);
    let dpos = p0 * (6.0 * u2 - 6.0 * u)
        + m0 * (3.0 * u2 - 4.0 * u + 1.0)
        + p1 * (-6.0 * u2 + 6.0 * u)
        + m1 * (3.0 * u2 - 2.0 * u);
    (pos, dpos / dt)
}

/// Linear interpolation between `p0` and `p1` over `dt` seconds at fraction
/// `u`; the velocity is the segment's slope.
pub fn linear(p0: Vec2, p1: Vec2, dt: f32, u: f32) -> (Vec2, Vec2) {
    let u = u.clamp(0.0, 1.0);
    let vel = if dt > 0.0 && dt.is_finite() {
        (p1 - p0) / dt
    } else {
        Vec2::ZERO
    };
    (p0.lerp(p1, u), vel)
}

/// Shortest-arc interpolation of an angle (radians): never spins the long way
/// round across ±π. The result is wrapped into `[-π, π)`.
pub fn slerp_angle(a0: f32, a1: f32, u: f32) -> f32 {
    wrap_angle(a0 + angle_diff(a0, a1) * u.clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f32::consts::PI;

    #[test]
    fn hermite_hits_endpoints_and_velocities() {
        let (p0, v0, p1, v1) = (
            Vec2::ZERO,
            Vec2::new(10.0, 0.0),
            Vec2::new(1.0, 1.0),
            Vec2::Y,
        );
        let (a, va) = hermite(p0, v0, p1, v1, 0.1, 0.0);
        let (b, vb) = hermite(p0, v0, p1, v1, 0.1, 1.0);
        assert!(a.distance(p0) < 1e-5 && b.distance(p1) < 1e-5);
        assert!(va.distance(v0) < 1e-3 && vb.distance(v1) < 1e-3);
    }

    #[test]
    fn hermite_is_exact_on_constant_velocity() {
        let v = Vec2::new(200.0, -50.0);
        let p0 = Vec2::new(3.0, 4.0);
        let p1 = p0 + v * 0.05;
        for i in 0..=10 {
            let u = i as f32 / 10.0;
            let (p, pv) = hermite(p0, v, p1, v, 0.05, u);
            assert!(p.distance(p0 + v * 0.05 * u) < 1e-3);
            assert!(pv.distance(v) < 1e-2);
        }
    }

    #[test]
    fn linear_midpoint() {
        let (p, v) = linear(Vec2::ZERO, Vec2::new(2.0, 0.0), 0.5, 0.5);
        assert_eq!(p, Vec2::new(1.0, 0.0));
        assert_eq!(v, Vec2::new(4.0, 0.0));
    }

    #[test]
    fn slerp_takes_short_way_across_pi() {
        let mid = slerp_angle(PI - 0.1, -PI + 0.1, 0.5);
        assert!((mid.abs() - PI).abs() < 1e-4, "went the long way: {mid}");
        let q = slerp_angle(PI - 0.1, -PI + 0.1, 0.25);
        assert!((q - (PI - 0.05)).abs() < 1e-4);
        assert!((slerp_angle(0.0, 1.0, 0.5) - 0.5).abs() < 1e-6);
    }
}
