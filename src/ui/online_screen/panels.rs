//! The panels of the online screen before and around play: joining or
//! creating (with the server), a create that failed (Retry, Main menu), and
//! the room code after Create room (Copy code, Copy link, Play). Each draws and
//! returns what the person chose; the screen acts on it.

use macroquad::prelude::*;

use super::words::{grouped, wrap};
use crate::session::Intent;
use crate::ui::theme::{self, Text};
use crate::ui::widgets::button;

/// A choice on the failed-create panel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FailedChoice {
    /// Ask again.
    Retry,
    /// Back to the main menu.
    MainMenu,
}

/// A choice on the room-code panel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CodeChoice {
    /// Copy the code to the clipboard.
    Copy,
    /// Copy the room's browser link (`http://HOST:PORT/play#CODE`).
    CopyLink,
    /// Close the panel and play.
    Play,
}

/// "Creating a room…" or "Joining room …", with the server.
pub(super) fn connecting(text: &Text, intent: &Intent, server: &str) {
    let (cx, cy) = (screen_width() / 2.0, screen_height() / 2.0);
    let what = match intent {
        Intent::Create => "Creating a room…".to_owned(),
        Intent::Join(code) => format!("Joining room {}…", grouped(code)),
    };
    panel(cx, cy - 40.0, 560.0, 120.0);
    text.centered(&what, cx, cy - 40.0, 30.0, theme::ACCENT, true);
    text.centered(
        &format!("server {server}"),
        cx,
        cy,
        16.0,
        theme::TEXT_DIM,
        false,
    );
}

/// Creating a room failed: why (`message`), Retry (also Enter) and Main menu.
pub(super) fn failed(text: &Text, message: &str) -> Option<FailedChoice> {
    let (cx, cy) = (screen_width() / 2.0, screen_height() / 2.0);
    panel(cx, cy, 720.0, 260.0);
    text.centered(
        "Could not create a room",
        cx,
        cy - 80.0,
        32.0,
        theme::HEALTH_LOW,
        true,
    );
    for (i, line) in wrap(message, 80).iter().enumerate() {
        text.centered(
            line,
            cx,
            cy - 40.0 + i as f32 * 22.0,
            17.0,
            theme::TEXT,
            false,
        );
    }
    let retry = button(
        text,
        Rect::new(cx - 250.0, cy + 40.0, 240.0, 52.0),
        "Retry",
        true,
        is_key_pressed(KeyCode::Enter),
    );
    let back = button(
        text,
        Rect::new(cx + 10.0, cy + 40.0, 240.0, 52.0),
        "Main menu",
        false,
        false,
    );
    if back {
        Some(FailedChoice::MainMenu)
    } else {
        retry.then_some(FailedChoice::Retry)
    }
}

/// After Create room: the grouped `code`, how others join (`hint`), Copy
/// code, Copy link (a browser joins with it) and Play (also Enter).
pub(super) fn room_code(text: &Text, code: &str, hint: &str) -> Option<CodeChoice> {
    let (cx, cy) = (screen_width() / 2.0, screen_height() / 2.0 - 20.0);
    panel(cx, cy, 640.0, 300.0);
    text.centered("Room created", cx, cy - 100.0, 26.0, theme::TEXT, true);
    text.centered(code, cx, cy - 20.0, 72.0, theme::ACCENT, true);
    text.centered(hint, cx, cy + 22.0, 16.0, theme::TEXT_DIM, false);
    let (w, gap) = (186.0, 12.0);
    let at = |i: f32| Rect::new(cx - 1.5 * w - gap + i * (w + gap), cy + 60.0, w, 52.0);
    let copy = button(text, at(0.0), "Copy code", false, false);
    let link = button(text, at(1.0), "Copy link", false, false);
    let play = button(text, at(2.0), "Play", true, is_key_pressed(KeyCode::Enter));
    if play {
        Some(CodeChoice::Play)
    } else if link {
        Some(CodeChoice::CopyLink)
    } else {
        copy.then_some(CodeChoice::Copy)
    }
}

/// A centred panel.
fn panel(cx: f32, cy: f32, w: f32, h: f32) {
    draw_rectangle(cx - w / 2.0, cy - h / 2.0 - 20.0, w, h, theme::PANEL);
    draw_rectangle_lines(
        cx - w / 2.0,
        cy - h / 2.0 - 20.0,
        w,
        h,
        2.0,
        theme::with_alpha(theme::ACCENT, 0.6),
    );
}
