//! The main menu: practice against AI opponents, create or join a room,
//! settings, quit; it shows who you play as (name and colour) and the
//! outcome of the last action (e.g. a server that could not start).

use macroquad::prelude::*;

use super::arena::{draw_arena, draw_players, draw_projectiles};
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

/// The menu's entries, top to bottom.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    /// Start practice.
    Practice,
    /// The number of practice opponents (arrows on its sides).
    Opponents,
    /// Create a room.
    Create,
    /// Open the join screen.
    Join,
    /// Open the settings.
    Settings,
    /// Quit.
    Quit,
}

impl Entry {
    /// Every entry, in menu order.
    pub const ALL: [Entry; ENTRIES] = [
        Entry::Practice,
        Entry::Opponents,
        Entry::Create,
        Entry::Join,
        Entry::Settings,
        Entry::Quit,
    ];

    /// Its place in the menu (and in [`button_rects`]).
    pub fn index(self) -> usize {
        self as usize
    }

    /// What its button says (the opponents row says the count itself).
    fn label(self) -> &'static str {
        match self {
            Entry::Practice => "Practice",
            Entry::Opponents => "Opponents",
            Entry::Create => "Create room",
            Entry::Join => "Join room",
            Entry::Settings => "Settings",
            Entry::Quit => "Quit",
        }
    }
}

const ENTRIES: usize = 6;

/// Where the main menu's buttons are (tests read pixels there), in the
/// order of [`Entry::ALL`].
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
        let focused = Entry::ALL.get(self.focus.index).copied();
        let rects = button_rects(sw, sh);
        let mut chosen = None;
        for entry in Entry::ALL {
            let rect = rects[entry.index()];
            let on = focused == Some(entry);
            if entry == Entry::Opponents {
                self.opponents_row(text, rect, on, activate);
            } else if button(text, rect, entry.label(), on, activate) {
                chosen = Some(entry);
            }
        }
        let action = match chosen {
            Some(Entry::Practice) => MenuAction::Practice(self.bots),
            Some(Entry::Create) => MenuAction::Create,
            Some(Entry::Join) => MenuAction::Join,
            Some(Entry::Settings) => MenuAction::Settings,
            Some(Entry::Quit) => MenuAction::Quit,
            Some(Entry::Opponents) | None => MenuAction::None,
        };
        if let Some(status) = &self.status {
            text.centered(
                status,
                cx,
                rects[Entry::Quit.index()].bottom() + 30.0,
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

    /// The opponent count: arrows on the sides, Left/Right (and Enter)
    /// when `focused`; clicking the count adds one.
    fn opponents_row(&mut self, text: &Text, r: Rect, focused: bool, activate: bool) {
        let label = format!("{}:  {}", Entry::Opponents.label(), self.bots);
        let clicked = button(
            text,
            Rect::new(r.x + 56.0, r.y, r.w - 112.0, r.h),
            &label,
            focused,
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
        if less || (focused && is_key_pressed(KeyCode::Left)) {
            self.bots = self.bots.saturating_sub(1);
        }
        if more || clicked || (focused && (is_key_pressed(KeyCode::Right) || activate)) {
            self.bots = if self.bots >= max { 0 } else { self.bots + 1 };
        }
    }
}
