//! The main menu: start a practice match (with a chosen number of AI
//! opponents) or quit. Later screens (create/join room, settings) add entries.

use macroquad::prelude::*;

use super::game::{draw_arena, draw_players, draw_projectiles};
use super::theme::{self, Text};
use super::view::View;
use super::widgets::{Focus, button};
use crate::sim::{MAX_PLAYERS, World};

/// What the menu asks the app to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MenuAction {
    /// Stay on the menu.
    None,
    /// Start practice against this many AI opponents.
    Practice(usize),
    /// Quit.
    Quit,
}

/// Menu state: the keyboard focus and the opponent count.
pub struct Menu {
    focus: Focus,
    /// AI opponents for practice.
    pub bots: usize,
}

const ENTRIES: usize = 3;

impl Menu {
    /// A menu with `bots` opponents preselected.
    pub fn new(bots: usize) -> Menu {
        Menu {
            focus: Focus::default(),
            bots: bots.min(MAX_PLAYERS - 1),
        }
    }

    /// Draws the menu over `backdrop` (a demo match running behind it) and handles input.
    pub fn frame(&mut self, text: &Text, backdrop: Option<&World>) -> MenuAction {
        clear_background(theme::BACKGROUND);
        let (sw, sh) = (screen_width(), screen_height());
        if let Some(world) = backdrop {
            let view = View::fit(world.map.size, Rect::new(0.0, 0.0, sw, sh));
            draw_arena(world, &view);
            draw_projectiles(world, &view);
            draw_players(world, &view, text, u8::MAX);
            draw_rectangle(0.0, 0.0, sw, sh, theme::with_alpha(theme::BACKGROUND, 0.72));
        }
        let cx = sw / 2.0;
        let top = (sh * 0.5 - 230.0).max(20.0);
        text.centered("P2P ARENA", cx, top + 80.0, 84.0, theme::ACCENT, true);
        text.centered(
            "top-down arena battles, peer to peer",
            cx,
            top + 120.0,
            22.0,
            theme::TEXT_DIM,
            false,
        );

        let activate = self.focus.update(ENTRIES);
        let index = self.focus.index;
        let (w, h, gap) = (360.0, 58.0, 16.0);
        let x = cx - w / 2.0;
        let mut y = top + 170.0;
        let mut action = MenuAction::None;

        if button(
            text,
            Rect::new(x, y, w, h),
            "Practice",
            index == 0,
            activate,
        ) {
            action = MenuAction::Practice(self.bots);
        }
        y += h + gap;

        // Opponent count: arrows on the sides, Left/Right when focused.
        let label = format!("Opponents:  {}", self.bots);
        let clicked = button(
            text,
            Rect::new(x + 56.0, y, w - 112.0, h),
            &label,
            index == 1,
            false,
        );
        let less = button(text, Rect::new(x, y, 48.0, h), "<", false, false);
        let more = button(text, Rect::new(x + w - 48.0, y, 48.0, h), ">", false, false);
        let max = MAX_PLAYERS - 1;
        if less || (index == 1 && is_key_pressed(KeyCode::Left)) {
            self.bots = self.bots.saturating_sub(1);
        }
        if more || clicked || (index == 1 && (is_key_pressed(KeyCode::Right) || activate)) {
            self.bots = if self.bots >= max { 0 } else { self.bots + 1 };
        }
        y += h + gap;

        if button(text, Rect::new(x, y, w, h), "Quit", index == 2, activate) {
            action = MenuAction::Quit;
        }
        y += h + 36.0;
        text.centered(
            "Online rooms arrive with the multiplayer release.",
            cx,
            y,
            16.0,
            theme::TEXT_DIM,
            false,
        );
        text.centered(
            "↑/↓ choose · Enter select · ←/→ opponents",
            cx,
            sh - 16.0,
            14.0,
            theme::TEXT_DIM,
            false,
        );
        if is_quit_requested() {
            MenuAction::Quit
        } else {
            action
        }
    }
}
