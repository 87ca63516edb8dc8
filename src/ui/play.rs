//! What every screen with a match in it shares: the fixed-step clock that
//! turns frame time into 60 Hz ticks, the Esc menu toggle, the reaction to
//! what a tick did (effects, sound, who killed us), the world drawn in the
//! arena and the HUD over it. The practice and online screens differ only
//! in who plays the other avatars and what they draw around this.

use macroquad::prelude::*;

use super::arena::{draw_arena, draw_players, draw_projectiles};
use super::audio::{Effect, Sounds};
use super::effects::Effects;
use super::hud;
use super::theme::Text;
use super::view::View;
use super::widgets::Focus;
use crate::sim::{DT, Phase, PlayerId, SimEvent, World};

/// Most simulation steps taken in one frame (after a stall we slow down
/// rather than spiral).
const MAX_STEPS_PER_FRAME: u32 = 8;
/// Longest frame counted, seconds (a longer one is a stall).
const MAX_FRAME: f32 = 0.25;

/// Turns frame time into whole fixed ticks of [`DT`].
#[derive(Debug, Clone, Copy, Default)]
pub struct FixedStep {
    accumulator: f32,
}

impl FixedStep {
    /// The ticks due after a frame of `dt` seconds: at most
    /// [`MAX_STEPS_PER_FRAME`]; when that many are due the backlog is dropped.
    pub fn ticks(&mut self, dt: f32) -> u32 {
        self.accumulator += dt;
        let mut n = 0;
        while self.accumulator >= DT && n < MAX_STEPS_PER_FRAME {
            self.accumulator -= DT;
            n += 1;
        }
        if n == MAX_STEPS_PER_FRAME {
            self.accumulator = 0.0;
        }
        n
    }
}

/// This frame's duration for the simulation and effects (a stall counts as
/// [`MAX_FRAME`]).
pub fn frame_dt() -> f32 {
    get_frame_time().min(MAX_FRAME)
}

/// The state a match screen keeps besides the match: its fixed-step clock,
/// effects, the Esc menu and who last killed the local player.
#[derive(Default)]
pub struct Play {
    /// The fixed-step clock.
    pub clock: FixedStep,
    /// Particles and the kill feed.
    pub effects: Effects,
    /// The Esc menu's focus, while it is open.
    pub menu: Option<Focus>,
    /// Who killed the local player last (for the death banner).
    pub killed_by: Option<String>,
}

impl Play {
    /// Esc opens or closes the menu.
    pub fn toggle_menu(&mut self) {
        if is_key_pressed(KeyCode::Escape) {
            self.menu = match self.menu {
                Some(_) => None,
                None => Some(Focus::default()),
            };
        }
    }

    /// Effects, sound and the killer's name for what a tick did; `world`
    /// is the world after the tick.
    pub fn on_sim_events(
        &mut self,
        events: &[SimEvent],
        world: &World,
        local: PlayerId,
        sounds: &Sounds,
    ) {
        self.effects.on_events(events, world);
        for e in events {
            if let SimEvent::Killed { victim, by } = *e {
                if victim == local {
                    self.killed_by = world.player(by).map(|p| p.name.clone());
                }
            }
            if let Some((effect, is_local)) = Effect::for_event(e, local) {
                sounds.play(effect, is_local);
            }
        }
    }

    /// The arena with its effects, projectiles and players.
    pub fn draw_world(&self, world: &World, view: &View, text: &Text, local: PlayerId) {
        draw_arena(world, view);
        self.effects.draw(view);
        draw_projectiles(world, view);
        draw_players(world, view, text, local);
    }

    /// Over the arena: the kill feed, the death banner, the end of a match
    /// (with its scoreboard), and the scoreboard while Tab is held.
    pub fn draw_hud(&self, world: &World, local: PlayerId, text: &Text) {
        hud::draw_feed(&self.effects.feed, text);
        hud::draw_death_banner(world, local, self.killed_by.as_deref(), text);
        hud::draw_match_end(world, text);
        if is_key_down(KeyCode::Tab) && !matches!(world.phase, Phase::Ended { .. }) {
            hud::draw_scoreboard(world, local, text);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_time_becomes_whole_ticks_and_a_stall_is_dropped() {
        let mut clock = FixedStep::default();
        assert_eq!(clock.ticks(DT * 0.5), 0);
        assert_eq!(clock.ticks(DT * 0.6), 1);
        assert_eq!(clock.ticks(DT * 2.0), 2);
        // A stall: the most per frame, and no catching up afterwards.
        assert_eq!(clock.ticks(DT * 20.0), MAX_STEPS_PER_FRAME);
        assert_eq!(clock.ticks(0.0), 0);
    }
}
