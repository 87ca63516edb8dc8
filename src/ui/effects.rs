//! Render-only effects derived from simulation events: particles, muzzle
//! flashes and the kill feed. They never feed back into the simulation.

use macroquad::prelude::*;

use super::theme;
use super::view::View;
use crate::sim::{SimEvent, World};

/// One short-lived particle, in world units.
#[derive(Debug, Clone, Copy)]
struct Particle {
    pos: Vec2,
    vel: Vec2,
    life: f32,
    max_life: f32,
    size: f32,
    color: Color,
}

/// A line of the kill feed.
#[derive(Debug, Clone)]
pub struct FeedLine {
    /// Killer's name and colour.
    pub killer: (String, Color),
    /// Victim's name and colour.
    pub victim: (String, Color),
    /// Seconds left on screen.
    pub ttl: f32,
}

/// Particles, flashes and the kill feed.
#[derive(Default)]
pub struct Effects {
    particles: Vec<Particle>,
    /// Recent kills, newest last.
    pub feed: Vec<FeedLine>,
    seed: u32,
}

impl Effects {
    fn rand(&mut self) -> f32 {
        // xorshift: effects only need variety, not quality.
        self.seed = self
            .seed
            .wrapping_mul(1_664_525)
            .wrapping_add(1_013_904_223);
        (self.seed >> 8) as f32 / (1u32 << 24) as f32
    }

    fn burst(&mut self, pos: Vec2, color: Color, count: usize, speed: f32, life: f32, size: f32) {
        for _ in 0..count {
            let a = self.rand() * std::f32::consts::TAU;
            let s = speed * (0.3 + 0.7 * self.rand());
            let l = life * (0.6 + 0.4 * self.rand());
            let size = size * (0.6 + 0.8 * self.rand());
            self.particles.push(Particle {
                pos,
                vel: Vec2::from_angle(a) * s,
                life: l,
                max_life: l,
                size,
                color,
            });
        }
    }

    /// Spawns the effects of one step's events.
    pub fn on_events(&mut self, events: &[SimEvent], world: &World) {
        let color_of = |id: u8| theme::player_color(id);
        let name_of = |id: u8| world.player(id).map(|p| p.name.clone()).unwrap_or_default();
        for event in events {
            match *event {
                SimEvent::Fired { by, pos } => self.burst(
                    pos,
                    theme::mix(color_of(by), WHITE, 0.6),
                    4,
                    120.0,
                    0.12,
                    3.0,
                ),
                SimEvent::Hit { victim, pos, .. } => {
                    self.burst(pos, color_of(victim), 10, 260.0, 0.35, 4.0)
                }
                SimEvent::WallHit { pos } => self.burst(pos, theme::WALL_EDGE, 6, 160.0, 0.25, 3.0),
                SimEvent::Killed { victim, by } => {
                    if let Some(p) = world.player(victim) {
                        self.burst(p.pos, color_of(victim), 36, 420.0, 0.8, 6.0);
                    }
                    self.feed.push(FeedLine {
                        killer: (name_of(by), color_of(by)),
                        victim: (name_of(victim), color_of(victim)),
                        ttl: 5.0,
                    });
                    if self.feed.len() > 5 {
                        self.feed.remove(0);
                    }
                }
                SimEvent::Respawned { id, pos } => self.burst(
                    pos,
                    theme::mix(color_of(id), WHITE, 0.5),
                    20,
                    200.0,
                    0.5,
                    4.0,
                ),
                _ => {}
            }
        }
    }

    /// Advances every effect by `dt` seconds of wall time.
    pub fn update(&mut self, dt: f32) {
        for p in &mut self.particles {
            p.pos += p.vel * dt;
            p.vel *= (1.0 - 4.0 * dt).max(0.0);
            p.life -= dt;
        }
        self.particles.retain(|p| p.life > 0.0);
        for line in &mut self.feed {
            line.ttl -= dt;
        }
        self.feed.retain(|l| l.ttl > 0.0);
    }

    /// Draws the particles in world space.
    pub fn draw(&self, view: &View) {
        for p in &self.particles {
            let s = view.to_screen(p.pos);
            let a = (p.life / p.max_life).clamp(0.0, 1.0);
            draw_circle(
                s.x,
                s.y,
                view.len(p.size * (0.5 + 0.5 * a)).max(1.0),
                theme::with_alpha(p.color, a),
            );
        }
    }
}
