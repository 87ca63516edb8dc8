//! Scripted opponents: turn a view of the [`World`] into an [`InputFrame`].
//!
//! Owns the per-bot decision state (a seeded PRNG, the current wander target,
//! stuck detection, aim error). It only reads the world and must not mutate
//! it, read the clock, do I/O or use the OS random source: an [`Ai`] is
//! deterministic given its seed and the sequence of worlds it sees, so the
//! same bots replay identically (the sim determinism test relies on it) and
//! the headless network bot can reuse it.
//!
//! Behaviour: wander between random points reachable in a straight line,
//! steer away from nearby walls, pick a new target when stuck; aim at the
//! nearest visible enemy (line of sight against walls) with a little lead and
//! a drifting aim error so it stays beatable; strafe while fighting; fire when
//! the shot is clear and the enemy within range, after a short reaction time.

use crate::sim::math;
use crate::sim::rng::Rng;
use crate::sim::{InputFrame, PLAYER_RADIUS, PROJECTILE_RADIUS, Phase, PlayerId, Vec2, World};

/// Farthest distance at which a bot opens fire.
pub const AI_FIRE_RANGE: f32 = 650.0;
/// Largest aim error, radians (either side).
pub const AI_AIM_ERROR: f32 = 0.10;
/// Ticks between first seeing an enemy and the first shot.
pub const AI_REACTION_TICKS: u32 = 12;

/// Distance at which walls start to push a bot away.
const AVOID_DIST: f32 = 28.0;
/// A target closer than this counts as reached.
const ARRIVE_DIST: f32 = 40.0;
/// Ticks without progress before choosing a new target.
const STUCK_TICKS: u32 = 25;

/// One scripted player's brain.
#[derive(Clone, Debug)]
pub struct Ai {
    rng: Rng,
    target: Option<Vec2>,
    last_pos: Option<Vec2>,
    stuck: u32,
    aim_error: f32,
    aim_error_ticks: u32,
    strafe: f32,
    strafe_ticks: u32,
    seen: u32,
}

impl Ai {
    /// A bot whose random choices are fully determined by `seed`.
    pub fn new(seed: u64) -> Ai {
        Ai {
            rng: Rng::new(seed ^ 0xA11_B07),
            target: None,
            last_pos: None,
            stuck: 0,
            aim_error: 0.0,
            aim_error_ticks: 0,
            strafe: 1.0,
            strafe_ticks: 0,
            seen: 0,
        }
    }

    /// The point the bot is currently walking to, if any (for debug drawing).
    pub fn target(&self) -> Option<Vec2> {
        self.target
    }

    /// Decide this tick's input for player `me`.
    pub fn think(&mut self, world: &World, me: PlayerId) -> InputFrame {
        let Some(player) = world.player(me) else {
            return InputFrame::default();
        };
        if !player.alive || !matches!(world.phase, Phase::Playing) {
            self.target = None;
            self.last_pos = None;
            self.seen = 0;
            return InputFrame {
                aim: player.aim,
                ..InputFrame::default()
            };
        }
        let pos = player.pos;
        let map = &world.map;

        // Progress and stuck detection.
        if let Some(last) = self.last_pos {
            if last.distance(pos) < 0.5 {
                self.stuck += 1;
            } else {
                self.stuck = self.stuck.saturating_sub(1);
            }
        }
        self.last_pos = Some(pos);
        if self.stuck > STUCK_TICKS || self.target.is_some_and(|t| t.distance(pos) < ARRIVE_DIST) {
            self.target = None;
            self.stuck = 0;
        }
        if self.target.is_none() {
            self.target = Some(self.pick_target(world, pos));
        }

        // Slowly drifting aim error and strafe direction.
        if self.aim_error_ticks == 0 {
            self.aim_error = self.rng.range_f32(-AI_AIM_ERROR, AI_AIM_ERROR);
            self.aim_error_ticks = 15 + self.rng.below(30);
        }
        self.aim_error_ticks -= 1;
        if self.strafe_ticks == 0 {
            self.strafe = if self.rng.below(2) == 0 { 1.0 } else { -1.0 };
            self.strafe_ticks = 30 + self.rng.below(60);
        }
        self.strafe_ticks -= 1;

        // Nearest visible enemy.
        let enemy = world
            .players
            .iter()
            .filter(|e| e.alive && e.id != me && map.line_of_sight(pos, e.pos))
            .min_by(|a, b| {
                a.pos
                    .distance_squared(pos)
                    .total_cmp(&b.pos.distance_squared(pos))
            });

        let mut desired = self
            .target
            .map_or(Vec2::ZERO, |t| (t - pos).normalize_or_zero());
        let mut aim = if desired != Vec2::ZERO {
            math::angle(desired)
        } else {
            player.aim
        };
        let mut fire = false;
        if let Some(e) = enemy {
            self.seen = self.seen.saturating_add(1);
            let to = e.pos - pos;
            let dist = to.length();
            let speed = world.rules.projectile_speed.max(1.0);
            let lead = e.pos + e.vel * (dist / speed);
            aim = math::angle(lead - pos) + self.aim_error;
            let dir = to.normalize_or_zero();
            let side = dir.perp() * self.strafe;
            let range = if dist > 450.0 {
                dir
            } else if dist < 180.0 {
                -dir
            } else {
                Vec2::ZERO
            };
            desired = (desired * 0.4 + side * 0.8 + range).normalize_or_zero();
            let clear = map.sweep(pos, e.pos, PROJECTILE_RADIUS).is_none();
            fire = clear && dist < AI_FIRE_RANGE && self.seen > AI_REACTION_TICKS;
        } else {
            self.seen = 0;
        }

        // Steer away from walls and the border.
        let mut avoid = Vec2::ZERO;
        for w in &map.walls {
            let closest = pos.clamp(w.min, w.max);
            let d = pos - closest;
            let gap = d.length() - PLAYER_RADIUS;
            if gap < AVOID_DIST && d != Vec2::ZERO {
                avoid += d.normalize() * (1.0 - gap.max(0.0) / AVOID_DIST);
            }
        }
        let lo = pos - Vec2::splat(PLAYER_RADIUS);
        let hi = map.size - pos - Vec2::splat(PLAYER_RADIUS);
        for (gap, n) in [
            (lo.x, Vec2::X),
            (lo.y, Vec2::Y),
            (hi.x, Vec2::NEG_X),
            (hi.y, Vec2::NEG_Y),
        ] {
            if gap < AVOID_DIST {
                avoid += n * (1.0 - gap.max(0.0) / AVOID_DIST);
            }
        }
        let move_dir = (desired + avoid * 0.8).clamp_length_max(1.0);
        let move_dir = if move_dir.is_finite() {
            move_dir
        } else {
            Vec2::ZERO
        };
        let aim = if aim.is_finite() { aim } else { 0.0 };
        InputFrame {
            move_dir,
            aim,
            fire,
        }
    }

    /// A random free point, preferably reachable in a straight line and not
    /// too close.
    fn pick_target(&mut self, world: &World, from: Vec2) -> Vec2 {
        let map = &world.map;
        let margin = PLAYER_RADIUS + 12.0;
        let hi = (map.size - Vec2::splat(margin)).max(Vec2::splat(margin));
        let mut fallback = None;
        for _ in 0..24 {
            let p = Vec2::new(
                self.rng.range_f32(margin, hi.x),
                self.rng.range_f32(margin, hi.y),
            );
            if !map.circle_is_free(p, margin) {
                continue;
            }
            if map.sweep(from, p, PLAYER_RADIUS).is_none() && p.distance(from) > 150.0 {
                return p;
            }
            fallback.get_or_insert(p);
        }
        fallback.unwrap_or(map.size * 0.5)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::sim::{Map, Rules};

    #[test]
    fn aims_and_fires_at_a_visible_enemy_in_range() {
        let mut w = World::new(Map::open(Vec2::new(1000.0, 1000.0)), Rules::default(), 1);
        let a = w.add_player("a").unwrap();
        let b = w.add_player("b").unwrap();
        w.player_mut(a).unwrap().pos = Vec2::new(300.0, 500.0);
        w.player_mut(b).unwrap().pos = Vec2::new(600.0, 500.0);
        let mut ai = Ai::new(7);
        let mut fired = false;
        for _ in 0..AI_REACTION_TICKS + 2 {
            let f = ai.think(&w, a);
            assert!(
                f.aim.abs() < AI_AIM_ERROR + 0.01,
                "aim {} should point at +x",
                f.aim
            );
            assert!(f.move_dir.length() <= 1.0 + 1e-5);
            fired |= f.fire;
        }
        assert!(fired);
    }

    #[test]
    fn does_not_fire_through_walls() {
        let map = Map::builtin();
        let mut w = World::new(map, Rules::default(), 1);
        let a = w.add_player("a").unwrap();
        let b = w.add_player("b").unwrap();
        // The central pillar sits between them.
        w.player_mut(a).unwrap().pos = Vec2::new(700.0, 500.0);
        w.player_mut(b).unwrap().pos = Vec2::new(900.0, 500.0);
        let mut ai = Ai::new(3);
        for _ in 0..60 {
            assert!(!ai.think(&w, a).fire);
        }
    }

    #[test]
    fn deterministic_given_seed() {
        let mut w = World::new(Map::builtin(), Rules::default(), 9);
        let a = w.add_player("a").unwrap();
        w.add_player("b").unwrap();
        let (mut x, mut y) = (Ai::new(5), Ai::new(5));
        for _ in 0..200 {
            let fx = x.think(&w, a);
            assert_eq!(fx, y.think(&w, a));
            w.step(&[(a, fx)]);
        }
        assert!(w.player(a).unwrap().pos.is_finite());
    }
}
