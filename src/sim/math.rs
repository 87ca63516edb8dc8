//! Bit-reproducible trigonometry for the simulation.
//!
//! Owns only pure functions. `f32::sin_cos` calls the platform's libm, whose
//! last bits differ between operating systems and CPUs; a peer-to-peer game
//! that compares state hashes cannot afford that. These use only `+ - * /`
//! (correctly rounded by IEEE 754 everywhere, and Rust never fuses them into
//! FMAs on its own), so the results are identical on every platform. Must not
//! call into libm.

use glam::Vec2;

/// `(sin a, cos a)` computed with basic arithmetic only (error < 1e-7 for
/// `|a|` up to a few thousand radians; non-finite input gives `(0, 1)`).
pub fn sin_cos(a: f32) -> (f32, f32) {
    if !a.is_finite() {
        return (0.0, 1.0);
    }
    let a = f64::from(a);
    const FRAC_PI_2: f64 = std::f64::consts::FRAC_PI_2;
    // Range reduction to r in [-pi/4, pi/4] and a quadrant.
    let k = (a / FRAC_PI_2).round();
    let r = a - k * FRAC_PI_2;
    let r2 = r * r;
    // Taylor series to r^13 / r^12: error < 1e-15 on [-pi/4, pi/4].
    let s = r
        * (1.0
            + r2 * (-1.0 / 6.0
                + r2 * (1.0 / 120.0
                    + r2 * (-1.0 / 5040.0
                        + r2 * (1.0 / 362_880.0
                            + r2 * (-1.0 / 39_916_800.0 + r2 * (1.0 / 6_227_020_800.0)))))));
    let c = 1.0
        + r2 * (-0.5
            + r2 * (1.0 / 24.0
                + r2 * (-1.0 / 720.0
                    + r2 * (1.0 / 40_320.0
                        + r2 * (-1.0 / 3_628_800.0 + r2 * (1.0 / 479_001_600.0))))));
    let (sin, cos) = match (k as i64).rem_euclid(4) {
        0 => (s, c),
        1 => (c, -s),
        2 => (-s, -c),
        _ => (-c, s),
    };
    (sin as f32, cos as f32)
}

/// The unit vector at angle `a` (radians, 0 = +x, positive towards +y),
/// bit-identical on every platform. Use it wherever the result feeds state.
pub fn dir(a: f32) -> Vec2 {
    let (s, c) = sin_cos(a);
    Vec2::new(c, s)
}

/// The angle of `v` (like `atan2(v.y, v.x)`, in `-π..=π`), bit-identical
/// on every platform. Zero or non-finite vectors give `0`.
pub fn angle(v: Vec2) -> f32 {
    if !v.is_finite() || v == Vec2::ZERO {
        return 0.0;
    }
    let (x, y) = (f64::from(v.x), f64::from(v.y));
    let (ax, ay) = (x.abs(), y.abs());
    // atan of the ratio in [0, 1], then unfold the octant.
    let (num, den, swapped) = if ay <= ax {
        (ay, ax, false)
    } else {
        (ax, ay, true)
    };
    let mut t = num / den;
    // Two half-angle reductions: atan(t) = 2 atan(t / (1 + sqrt(1 + t^2))),
    // so t <= tan(pi/16) ~ 0.199 and the series converges fast.
    for _ in 0..2 {
        t /= 1.0 + (1.0 + t * t).sqrt();
    }
    let t2 = t * t;
    let mut sum = 0.0;
    for k in (0..12).rev() {
        let sign = if k % 2 == 0 { 1.0 } else { -1.0 };
        sum = sign / f64::from(2 * k + 1) + t2 * sum;
    }
    let mut a = 4.0 * t * sum;
    if swapped {
        a = std::f64::consts::FRAC_PI_2 - a;
    }
    if x < 0.0 {
        a = std::f64::consts::PI - a;
    }
    if y < 0.0 {
        a = -a;
    }
    a as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_libm_closely() {
        let mut a = -50.0f32;
        while a < 50.0 {
            let (s, c) = sin_cos(a);
            assert!((s - a.sin()).abs() < 2e-6, "sin {a}");
            assert!((c - a.cos()).abs() < 2e-6, "cos {a}");
            a += 0.013;
        }
        assert_eq!(sin_cos(f32::NAN), (0.0, 1.0));
        assert_eq!(dir(0.0), Vec2::X);
        let mut b = -std::f32::consts::PI + 1e-3;
        while b < std::f32::consts::PI {
            for r in [0.001f32, 1.0, 1e4] {
                let v = Vec2::new(b.cos(), b.sin()) * r;
                assert!((angle(v) - v.y.atan2(v.x)).abs() < 2e-6, "angle {v}");
            }
            b += 0.007;
        }
        assert_eq!(angle(Vec2::ZERO), 0.0);
        assert_eq!(angle(Vec2::new(f32::NAN, 1.0)), 0.0);
    }
}
