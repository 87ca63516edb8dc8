//! The main menu: practice against AI opponents, create or join a room,
//! settings, quit; it shows who you play as (name and colour) and the
//! outcome of the last action (e.g. a server that could not start).

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
    /// Create a room.
    Create,
    /// Open the join screen.
    Join,
    /// Open the settings.
    Settings,
    /// Quit.
    Quit,
}

/// Menu state: the keyboard focus and the opponent count.
pub struct Menu {
    focus: Focus,
    /// AI opponents for practice.
    pub bots: usize,
    /// A line about the last action (an error), shown under the buttons.
    pub status: Option<String>,
}

const ENTRIES: usize = 6;

/// Where the main menu's buttons are (tests read pixels there): Practice,
/// Opponents, Create room, Join room, Settings, Quit.
pub fn button_rects(sw: f32, sh: f32) -> [Rect; ENTRIES] {
    let (w, h, gap) = (360.0, 50.0, 12.0);
    let x = sw / 2.0 - w / 2.0;
    let top = (sh * 0.5 - 250.0).max(10.0) + 150.0;
    std::array::from_fn(|i| Rect::new(x, top + i as f32 * (h + gap), w, h))
}

impl Menu {
    /// A menu with `bots` opponents preselected.
    pub fn new(bots: usize) -> Menu {
        Menu {
            focus: Focus::default(),
            bots: bots.min(MAX_PLAYERS - 1),
            status: None,
        }
    }

    /// Draws the menu over `backdrop` (a demo match running behind it) and
    /// handles input; `me` is the player's name and colour.
    pub fn frame(&mut self, text: &Text, backdrop: Option<&World>, me: (&str, u8)) -> MenuAction {
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
        let top = (sh * 0.5 - 250.0).max(10.0);
        text.centered("P2P ARENA", cx, top + 70.0, 84.0, theme::ACCENT, true);
        text.centered(
            "top-down arena battles, peer to peer",
            cx,
            top + 106.0,
            22.0,
            theme::TEXT_DIM,
            false,
        );
        let playing_as = format!("Playing as {}", me.0);
        let w_as = text.measure(&playing_as, 18.0, true).width;
        draw_circle(
            cx - w_as / 2.0 - 14.0,
            top + 132.0,
            7.0,
            theme::player_color(me.1),
        );
        text.centered(&playing_as, cx, top + 138.0, 18.0, theme::TEXT, true);

        let activate = self.focus.update(ENTRIES);
        let index = self.focus.index;
        let rects = button_rects(sw, sh);
        let mut action = MenuAction::None;

        if button(text, rects[0], "Practice", index == 0, activate) {
            action = MenuAction::Practice(self.bots);
        }
        // Opponent count: arrows on the sides, Left/Right when focused.
        let r = rects[1];
        let label = format!("Opponents:  {}", self.bots);
        let clicked = button(
            text,
            Rect::new(r.x + 56.0, r.y, r.w - 112.0, r.h),
            &label,
            index == 1,
            false,
        );
        let less = button(text, Rect::new(r.x, r.y, 48.0, r.h), "<", false, false);
        let more = button(
            text,
            Rect::new(r.x + r.w - 48.0, r.y, 48.0, r.h),
            ">",
            false,
            false,
        );
        let max = MAX_PLAYERS - 1;
        if less || (index == 1 && is_key_pressed(KeyCode::Left)) {
            self.bots = self.bots.saturating_sub(1);
        }
        if more || clicked || (index == 1 && (is_key_pressed(KeyCode::Right) || activate)) {
            self.bots = if self.bots >= max { 0 } else { self.bots + 1 };
        }
        if button(text, rects[2], "Create room", index == 2, activate) {
            action = MenuAction::Create;
        }
        if button(text, rects[3], "Join room", index == 3, activate) {
            action = MenuAction::Join;
        }
        if button(text, rects[4], "Settings", index == 4, activate) {
            action = MenuAction::Settings;
        }
        if button(text, rects[5], "Quit", index == 5, activate) {
            action = MenuAction::Quit;
        }
        if let Some(status) = &self.status {
            text.centered(
                status,
                cx,
                rects[5].bottom() + 30.0,
                16.0,
                theme::HEALTH_LOW,
                false,
            );
        }
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
