//! The practice screen: a local [`World`] against AI opponents, stepped at
//! the fixed tick from the frame clock with the player's input and the
//! AI's, and paused while its Esc menu is open. Drawing is the shared
//! arena renderer and HUD ([`super::play`]).

use macroquad::prelude::*;

use super::arena::{arena_view, draw_crosshair, local_input};
use super::audio::Sounds;
use super::hud;
use super::play::{Play, frame_dt};
use super::theme::{self, Text};
use super::widgets::button_column;
use crate::ai::Ai;
use crate::config::PlayConfig;
use crate::sim::{PlayerId, Rules, World};

/// What the practice screen asks the app to do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PracticeAction {
    /// Keep playing.
    Continue,
    /// Back to the main menu.
    MainMenu,
    /// Quit the game.
    Quit,
}

/// The entries of the Esc menu, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MenuEntry {
    Resume,
    MainMenu,
    Quit,
}

/// A practice match against AI opponents.
pub struct Practice {
    world: World,
    local: PlayerId,
    ais: Vec<(PlayerId, Ai)>,
    play: Play,
}

impl Practice {
    /// A new match: the local player plus `bots` AI opponents.
    pub fn new(config: &PlayConfig, bots: usize) -> Practice {
        let mut world = World::new(config.map.clone(), Rules::default(), config.seed);
        let settings = &config.settings;
        let local = world
            .add_player_preferring(&settings.name, settings.color)
            .unwrap_or(0);
        let ais = (0..bots)
            .filter_map(|i| {
                let id = world.add_player("Bot")?;
                if let Some(p) = world.player_mut(id) {
                    p.name = format!("Bot {}", theme::PLAYER_COLOR_NAMES[usize::from(id) % 8]);
                }
                Some((id, Ai::new(config.seed.wrapping_add(1 + i as u64))))
            })
            .collect();
        Practice {
            world,
            local,
            ais,
            play: Play::default(),
        }
    }

    /// The simulated world (read-only).
    pub fn world(&self) -> &World {
        &self.world
    }

    /// One frame: input, fixed-step simulation, effects and drawing.
    pub fn frame(&mut self, text: &Text, sounds: &Sounds) -> PracticeAction {
        let dt = frame_dt();
        let view = arena_view(&self.world);
        self.play.toggle_menu();
        // Practice pauses while the menu is open.
        if self.play.menu.is_none() {
            let input = local_input(&self.world, self.local, &view);
            for _ in 0..self.play.clock.ticks(dt) {
                let mut inputs = Vec::with_capacity(self.ais.len() + 1);
                inputs.push((self.local, input));
                for (id, ai) in &mut self.ais {
                    inputs.push((*id, ai.think(&self.world, *id)));
                }
                let events = self.world.step(&inputs);
                self.play
                    .on_sim_events(&events, &self.world, self.local, sounds);
            }
        }
        self.play.effects.update(dt);

        self.draw(text);
        let action = self.draw_menu(text);
        if is_quit_requested() {
            PracticeAction::Quit
        } else {
            action
        }
    }

    fn draw(&self, text: &Text) {
        let view = arena_view(&self.world);
        self.play.draw_world(&self.world, &view, text, self.local);
        if self.play.menu.is_none() {
            draw_crosshair();
        }
        hud::draw_bar(&self.world, self.local, text);
        self.play.draw_hud(&self.world, self.local, text);
        text.draw(
            "WASD move · mouse aim · click fire · Tab scores · Esc menu",
            14.0,
            screen_height() - 10.0,
            14.0,
            theme::TEXT_DIM,
            false,
        );
    }

    /// The Esc menu over a paused match.
    fn draw_menu(&mut self, text: &Text) -> PracticeAction {
        let Some(focus) = self.play.menu.as_mut() else {
            return PracticeAction::Continue;
        };
        draw_rectangle(
            0.0,
            0.0,
            screen_width(),
            screen_height(),
            theme::with_alpha(BLACK, 0.55),
        );
        let (cx, cy) = (screen_width() / 2.0, screen_height() / 2.0);
        let (w, h) = (320.0, 56.0);
        text.centered("Paused", cx, cy - 130.0, 44.0, theme::ACCENT, true);
        let entries = [
            (MenuEntry::Resume, "Resume".to_owned()),
            (MenuEntry::MainMenu, "Main menu".to_owned()),
            (MenuEntry::Quit, "Quit".to_owned()),
        ];
        let chosen = button_column(text, focus, &entries, |i| {
            Rect::new(cx - w / 2.0, cy - 90.0 + i as f32 * (h + 14.0), w, h)
        });
        match chosen {
            Some(MenuEntry::Resume) => {
                self.play.menu = None;
                PracticeAction::Continue
            }
            Some(MenuEntry::MainMenu) => PracticeAction::MainMenu,
            Some(MenuEntry::Quit) => PracticeAction::Quit,
            None => PracticeAction::Continue,
        }
    }
}
