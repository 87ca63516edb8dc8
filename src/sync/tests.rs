//! Behaviour tests of [`super::PeerSync`]: steady streams, reordering,
//! duplicates, burst loss, outages, sequence wrap, sender clock jumps, respawn
//! teleports, angle wrap, delay settings and statistics. The quality harness
//! has its own test, `tests/sync_quality.rs`.
#![allow(clippy::unwrap_used)]

use glam::Vec2;
use std::f32::consts::PI;

use super::*;

const V: f32 = 200.0;
const FRAME: f64 = 1.0 / 60.0;

/// The sender's true position at sender time `t`: constant velocity along x.
fn truth(t: f64) -> Vec2 {
    Vec2::new(V * t as f32, 0.0)
}

fn snap(seq: u16, t: f64) -> Snapshot {
    Snapshot {
        seq,
        sent_at: t,
        pos: truth(t),
        vel: Some(Vec2::new(V, 0.0)),
        aim: 0.0,
        spawn: 0,
    }
}

/// Runs `peer` from local time 0 to `until`: snapshots (sent at 20 Hz from
/// sender time 0, first seq `seq0`) arrive at `send + offset + lag(i)` unless
/// `lag(i)` is `None`; frames every 1/60 s. Returns the samples with their
/// local frame times.
fn drive(
    peer: &mut PeerSync,
    seq0: u16,
    offset: f64,
    until: f64,
    lag: impl Fn(usize) -> Option<f64>,
) -> Vec<(f64, Sample)> {
    let mut arrivals: Vec<(f64, Snapshot)> = Vec::new();
    let mut i = 0;
    loop {
        let t = i as f64 * 0.05;
        if t + offset > until {
            break;
        }
        if let Some(l) = lag(i) {
            arrivals.push((t + offset + l, snap(seq0.wrapping_add(i as u16), t)));
        }
        i += 1;
    }
    arrivals.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut out = Vec::new();
    let mut next = 0;
    let mut n = 0;
    loop {
        let now = n as f64 * FRAME;
        if now > until {
            break;
        }
        while next < arrivals.len() && arrivals[next].0 <= now {
            peer.push(arrivals[next].1, arrivals[next].0);
            next += 1;
        }
        if let Some(s) = peer.sample(now) {
            out.push((now, s));
        }
        n += 1;
    }
    out
}

fn after(samples: &[(f64, Sample)], t: f64) -> impl Iterator<Item = &(f64, Sample)> {
    samples.iter().filter(move |(now, _)| *now >= t)
}

#[test]
fn steady_stream_interpolates_exactly() {
    let mut p = PeerSync::new(SyncConfig::default());
    let s = drive(&mut p, 0, 0.0, 5.0, |i| {
        Some(0.05 + 0.01 * ((i * 7) % 5) as f64)
    });
    for (_, x) in after(&s, 1.0) {
        assert_eq!(x.mode, SampleMode::Interpolated);
        assert!(x.pos.distance(truth(x.render_time)) < 0.05, "{x:?}");
        assert!(x.delay > 0.0 && x.delay < 0.2, "delay {}", x.delay);
    }
    let st = p.stats();
    assert!(st.interpolated >= after(&s, 1.0).count() as u64);
    assert!(st.buffer_depth >= 1);
}

#[test]
fn render_clock_is_time_scaled_not_jumping() {
    let mut p = PeerSync::new(SyncConfig::default());
    // Jitter grows after 3 s: the delay must rise at ≤ 5 % of real time.
    let s = drive(&mut p, 0, 0.0, 8.0, |i| {
        Some(if i < 60 {
            0.03
        } else {
            0.03 + 0.1 * (i % 2) as f64
        })
    });
    for w in s.windows(2) {
        let (dn, dr) = (w[1].0 - w[0].0, w[1].1.render_time - w[0].1.render_time);
        if w[0].0 > 0.5 {
            assert!(
                dr >= 0.95 * dn - 1e-9 && dr <= 1.05 * dn + 1e-9,
                "step {dr} vs {dn}"
            );
        }
    }
    assert!(p.stats().target_delay.unwrap() > 0.1);
}

#[test]
fn reordering_changes_nothing_once_data_is_in() {
    let mut a = PeerSync::new(SyncConfig::default());
    let mut b = PeerSync::new(SyncConfig::default());
    let in_order = drive(&mut a, 0, 0.0, 4.0, |_| Some(0.05));
    // Every third packet overtakes its predecessor by 30 ms.
    let reordered = drive(&mut b, 0, 0.0, 4.0, |i| {
        Some(if i % 3 == 1 { 0.09 } else { 0.05 })
    });
    assert_eq!(b.stats().late, 0);
    for ((_, x), (_, y)) in after(&in_order, 2.0).zip(after(&reordered, 2.0)) {
        assert_eq!(y.mode, SampleMode::Interpolated);
        assert!(x.pos.distance(truth(x.render_time)) < 0.05);
        assert!(y.pos.distance(truth(y.render_time)) < 0.05);
    }
}

#[test]
fn duplicates_are_dropped() {
    let mut p = PeerSync::new(SyncConfig::default());
    p.push(snap(0, 0.0), 0.05);
    p.push(snap(0, 0.0), 0.06);
    p.push(snap(1, 0.05), 0.10);
    p.push(snap(1, 0.05), 0.20);
    let st = p.stats();
    assert_eq!(st.duplicates, 2);
    assert_eq!(st.received, 2);
    assert_eq!(p.buffer_len(), 2);
}

#[test]
fn burst_loss_extrapolates_then_corrects_smoothly() {
    let mut p = PeerSync::new(SyncConfig::default());
    // A constant-velocity stream where the true motion turns at t = 3.0;
    // packets 60..=63 (t = 3.00..3.15) are lost.
    let turn = |t: f64| {
        if t < 3.0 {
            truth(t)
        } else {
            truth(3.0) + Vec2::new(0.0, V * (t - 3.0) as f32)
        }
    };
    let mut arrivals = Vec::new();
    for i in 0..120u16 {
        let t = i as f64 * 0.05;
        if (60..=63).contains(&i) {
            continue;
        }
        let vel = if t < 3.0 {
            Vec2::new(V, 0.0)
        } else {
            Vec2::new(0.0, V)
        };
        let s = Snapshot {
            pos: turn(t),
            vel: Some(vel),
            ..snap(i, t)
        };
        arrivals.push((t + 0.05, s));
    }
    let mut next = 0;
    let mut prev: Option<Sample> = None;
    let mut modes = Vec::new();
    let mut last_err_after_return = None;
    for n in 0..360 {
        let now = n as f64 * FRAME;
        while next < arrivals.len() && arrivals[next].0 <= now {
            p.push(arrivals[next].1, arrivals[next].0);
            next += 1;
        }
        let Some(s) = p.sample(now) else { continue };
        if let Some(q) = prev
            && now > 1.0
        {
            // Never a snap: the dead-reckoned path ends ≈ 40 units off the
            // turned true path; smoothing spreads that over ~6 frames, so a
            // frame moves at most ≈ a quarter of it on top of the true
            // motion (V/60 ≈ 3.3 units).
            let step = s.pos.distance(q.pos);
            assert!(step < 15.0, "jump of {step} at {now}");
        }
        if s.render_time > 3.4 && s.render_time < 3.6 {
            last_err_after_return = Some(s.pos.distance(turn(s.render_time)));
        }
        modes.push(s.mode);
        prev = Some(s);
    }
    assert!(modes.contains(&SampleMode::Extrapolated));
    assert!(
        !modes.contains(&SampleMode::Held)
            || modes.iter().position(|m| *m == SampleMode::Held) < Some(10)
    );
    // 0.25 s after the data came back the correction has decayed.
    assert!(last_err_after_return.unwrap() < 1.0);
    assert!(p.stats().extrapolated_ratio() > 0.0);
}

#[test]
fn long_outage_extrapolates_bounded_then_holds() {
    let mut p = PeerSync::new(SyncConfig::default());
    // Nothing after sender time 2.0.
    let s = drive(&mut p, 0, 0.0, 4.0, |i| (i <= 40).then_some(0.05));
    let extrap: Vec<_> = s
        .iter()
        .filter(|(_, x)| x.mode == SampleMode::Extrapolated)
        .collect();
    let held: Vec<_> = after(&s, 1.0)
        .filter(|(_, x)| x.mode == SampleMode::Held)
        .collect();
    assert!(!extrap.is_empty() && !held.is_empty());
    let max_x = truth(2.0).x + V * 0.25;
    for (_, x) in &held {
        assert!((x.pos.x - max_x).abs() < 0.5, "held at {}", x.pos.x);
        assert_eq!(x.vel, Vec2::ZERO);
    }
    assert!(
        extrap
            .iter()
            .all(|(_, x)| x.render_time - 2.0 <= 0.25 + 1e-9)
    );
}

#[test]
fn sequence_wrap_is_seamless() {
    let mut p = PeerSync::new(SyncConfig::default());
    let s = drive(&mut p, 65_500, 0.0, 6.0, |_| Some(0.04));
    let st = p.stats();
    assert_eq!((st.resets, st.late, st.duplicates), (0, 0, 0));
    for (_, x) in after(&s, 1.0) {
        assert_eq!(x.mode, SampleMode::Interpolated);
    }
}

/// A steady stream for 3 s, then 60 more states at the same cadence (seq 61
/// on) stamped from `t0` on a jumped sender clock, each at position
/// `truth(t - shift)`, 3 frames sampled after each. The buffer must reset
/// once and play on, interpolating: the last sample.
fn play_after_clock_jump(t0: f64, shift: f64) -> Sample {
    let mut p = PeerSync::new(SyncConfig::default());
    drive(&mut p, 0, 0.0, 3.0, |_| Some(0.05));
    let mut last = None;
    for i in 0..60u16 {
        let t = t0 + i as f64 * 0.05;
        let now = 3.0 + i as f64 * 0.05 + 0.05;
        p.push(
            Snapshot {
                pos: truth(t - shift),
                ..snap(61 + i, t)
            },
            now,
        );
        for k in 0..3 {
            last = p.sample(now + k as f64 * FRAME);
        }
    }
    assert_eq!(p.stats().resets, 1);
    let last = last.unwrap();
    assert_eq!(last.mode, SampleMode::Interpolated);
    last
}

#[test]
fn sender_clock_jump_forward_resets_not_freezes() {
    // The sender restarts its clock 1000 s ahead (seq continues).
    let last = play_after_clock_jump(1003.0, 1000.0);
    assert!(last.render_time > 1004.0);
}

#[test]
fn sender_clock_jump_backward_resets_not_freezes() {
    // Newer sequence numbers, timestamps 2.5 s in the past.
    let last = play_after_clock_jump(0.5, 0.0);
    assert!(last.render_time > 2.0, "frozen at {}", last.render_time);
}

#[test]
fn respawn_teleport_snaps_without_blending() {
    let mut p = PeerSync::new(SyncConfig::default());
    let far = Vec2::new(5000.0, 5000.0);
    let mut samples = Vec::new();
    let mut next_snap = 0;
    for n in 0..240 {
        let now = n as f64 * FRAME;
        while (next_snap as f64) * 0.05 + 0.05 <= now {
            let t = next_snap as f64 * 0.05;
            let mut s = snap(next_snap as u16, t);
            if t >= 2.0 {
                s.pos = far;
                s.vel = Some(Vec2::ZERO);
                s.spawn = 1;
            }
            p.push(s, t + 0.05);
            next_snap += 1;
        }
        if let Some(s) = p.sample(now) {
            samples.push(s);
        }
    }
    let mut saw_teleport = false;
    for w in samples.windows(2) {
        if w[0].spawn != w[1].spawn {
            saw_teleport = true;
            assert_eq!(w[1].pos, far, "teleport must snap");
        } else if w[0].render_time > 0.5 {
            assert!(
                w[0].pos.distance(w[1].pos) < 10.0,
                "no blending between lives"
            );
        }
    }
    assert!(saw_teleport);
}

#[test]
fn aim_interpolates_short_way_across_pi() {
    let mut p = PeerSync::new(SyncConfig {
        delay: DelayMode::Fixed(0.1),
        ..SyncConfig::default()
    });
    for i in 0..40u16 {
        let t = i as f64 * 0.05;
        // Alternate between just below +π and just above −π.
        let aim = if i % 2 == 0 { PI - 0.05 } else { -PI + 0.05 };
        p.push(Snapshot { aim, ..snap(i, t) }, t + 0.02);
        for k in 0..3 {
            if let Some(s) = p.sample(t + 0.02 + k as f64 * FRAME)
                && s.mode == SampleMode::Interpolated
            {
                assert!(s.aim.abs() > PI - 0.06, "spun the long way: {}", s.aim);
            }
        }
    }
}

#[test]
fn linear_without_velocities() {
    let mut p = PeerSync::new(SyncConfig::default());
    p.push(
        Snapshot {
            vel: None,
            pos: Vec2::ZERO,
            ..snap(0, 0.0)
        },
        0.0,
    );
    p.push(
        Snapshot {
            vel: None,
            pos: Vec2::new(10.0, 0.0),
            ..snap(1, 0.05)
        },
        0.0,
    );
    let b = super::buffer::SnapshotBuffer::new(4);
    assert!(b.is_empty());
    let s = p.sample(0.0).unwrap();
    let _ = s;
    let mut buf = super::buffer::SnapshotBuffer::new(4);
    buf.insert(
        Snapshot {
            vel: None,
            pos: Vec2::ZERO,
            ..snap(0, 0.0)
        },
        0.0,
        None,
    );
    buf.insert(
        Snapshot {
            vel: None,
            pos: Vec2::new(10.0, 0.0),
            ..snap(1, 0.05)
        },
        0.0,
        None,
    );
    let m = buf.sample(0.025, 0.25).unwrap();
    assert!((m.pos.x - 5.0).abs() < 1e-4);
    assert!((m.vel.x - 200.0).abs() < 1e-2);
    // Past the newest, dead reckoning uses the slope.
    let e = buf.sample(0.1, 0.25).unwrap();
    assert!((e.pos.x - 20.0).abs() < 1e-3);
}

#[test]
fn fixed_delay_setting_is_reached() {
    let mut p = PeerSync::new(SyncConfig {
        delay: DelayMode::Fixed(0.1),
        ..SyncConfig::default()
    });
    let s = drive(&mut p, 0, 0.0, 10.0, |i| Some(0.03 + 0.02 * (i % 2) as f64));
    let last = s.last().unwrap().1;
    assert!((last.delay - 0.1).abs() < 0.002, "delay {}", last.delay);
    p.set_delay_mode(DelayMode::Fixed(0.2));
    assert!((p.stats().target_delay.unwrap() - 0.2).abs() < 1e-9);
}

#[test]
fn adaptive_delay_is_bounded() {
    let mut p = PeerSync::new(SyncConfig {
        delay: DelayMode::Adaptive {
            quantile: 0.95,
            margin: 0.0,
            min: 0.02,
            max: 0.15,
        },
        ..SyncConfig::default()
    });
    drive(&mut p, 0, 0.0, 20.0, |i| Some(0.05 + 0.6 * (i % 2) as f64));
    let st = p.stats();
    assert!(st.target_delay.unwrap() <= 0.15 + 1e-9);
    assert!(st.delay.unwrap() <= 0.15 + 1e-6);
}

#[test]
fn stats_after_pong_report_transit() {
    let mut p = PeerSync::new(SyncConfig::default());
    // Remote clock = local − 100; 40 ms each way.
    p.on_pong(0.0, -100.0 + 0.04, 0.08);
    drive(&mut p, 0, 100.0, 103.0, |_| Some(0.04));
    let st = p.stats();
    assert!((st.transit.unwrap() - 0.04).abs() < 1e-6);
    assert!((st.clock_offset.unwrap() - 100.0).abs() < 1e-9);
    assert!((st.rtt.unwrap() - 0.08).abs() < 1e-9);
    assert!(st.mean_delay.unwrap() > 0.0);
    assert!(st.frames > 0 && st.extrapolated_ratio() == 0.0);
    assert_eq!(p.to_local(3.0), Some(103.0));
    // The first frames, before the render point reached the first state,
    // wait for the stream: not a stall.
    assert!(st.waiting > 0 && st.held == 0, "{st:?}");
    // The picture is as old as the transit plus the buffering.
    let (age, p95) = (st.mean_age.unwrap(), st.p95_age.unwrap());
    assert!((age - 0.04 - st.mean_delay.unwrap()).abs() < 0.002, "{age}");
    assert!(p95 >= age && p95 < age + 0.02, "{p95} vs {age}");
}

#[test]
fn malformed_snapshots_are_counted_not_used() {
    let mut p = PeerSync::new(SyncConfig::default());
    p.push(
        Snapshot {
            pos: Vec2::new(f32::NAN, 0.0),
            ..snap(0, 0.0)
        },
        0.0,
    );
    p.push(
        Snapshot {
            sent_at: f64::INFINITY,
            ..snap(1, 0.0)
        },
        0.0,
    );
    p.push(
        Snapshot {
            vel: Some(Vec2::new(0.0, f32::INFINITY)),
            ..snap(2, 0.0)
        },
        0.0,
    );
    assert_eq!(p.stats().invalid, 3);
    assert!(p.sample(0.1).is_none());
}

proptest::proptest! {
    /// Whatever arrives — any order, duplicates, gaps, sequence and clock
    /// jumps, garbage values — sampling never panics and stays finite.
    #[test]
    fn any_arrival_pattern_is_survivable(
        packets in proptest::collection::vec(
            (proptest::prelude::any::<u16>(), -1e4f64..1e4, -1e4f32..1e4, 0.0f64..0.5, 0u8..3, proptest::prelude::any::<bool>()),
            1..80,
        ),
        garbage in proptest::prelude::any::<bool>(),
    ) {
        let mut p = PeerSync::new(SyncConfig::default());
        let mut now = 0.0;
        for (seq, sent_at, x, gap, spawn, with_vel) in packets {
            now += gap;
            let pos = if garbage && seq % 7 == 0 { Vec2::new(f32::NAN, x) } else { Vec2::new(x, -x) };
            p.push(Snapshot {
                seq,
                sent_at,
                pos,
                vel: with_vel.then_some(Vec2::new(x, 1.0)),
                aim: x,
                spawn,
            }, now);
            if let Some(s) = p.sample(now) {
                proptest::prop_assert!(s.pos.is_finite() && s.vel.is_finite() && s.aim.is_finite());
                proptest::prop_assert!(s.render_time.is_finite() && s.delay.is_finite());
            }
        }
        let st = p.stats();
        proptest::prop_assert!(st.frames >= st.extrapolated + st.held);
    }
}
