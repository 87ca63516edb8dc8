//! Immediate-mode widgets: a button that works with the mouse and with a
//! keyboard focus, drawn in the theme.

use macroquad::prelude::*;

use super::theme::{self, Text};

/// Keyboard focus over a vertical list of `len` items (Up/Down/Tab, Enter).
#[derive(Debug, Default, Clone, Copy)]
pub struct Focus {
    /// Index of the focused item.
    pub index: usize,
}

impl Focus {
    /// Moves the focus with the arrow keys; returns true when Enter or Space was pressed.
    pub fn update(&mut self, len: usize) -> bool {
        if len == 0 {
            return false;
        }
        if is_key_pressed(KeyCode::Down) || is_key_pressed(KeyCode::S) {
            self.index = (self.index + 1) % len;
        }
        if is_key_pressed(KeyCode::Up) || is_key_pressed(KeyCode::W) {
            self.index = (self.index + len - 1) % len;
        }
        self.index = self.index.min(len - 1);
        is_key_pressed(KeyCode::Enter) || is_key_pressed(KeyCode::KpEnter)
    }
}

/// Draws a button; returns true when it was clicked (mouse released over it)
/// or activated from the keyboard (`focused && activate`).
pub fn button(text: &Text, rect: Rect, label: &str, focused: bool, activate: bool) -> bool {
    let (mx, my) = mouse_position();
    let hover = rect.contains(vec2(mx, my));
    let face = if hover || focused {
        theme::BUTTON_HOT
    } else {
        theme::BUTTON
    };
    draw_rectangle(rect.x, rect.y, rect.w, rect.h, face);
    let edge = if focused {
        theme::ACCENT
    } else {
        theme::with_alpha(theme::TEXT_DIM, 0.4)
    };
    draw_rectangle_lines(rect.x, rect.y, rect.w, rect.h, 2.0, edge);
    let size = (rect.h * 0.45).clamp(12.0, 40.0);
    text.centered(
        label,
        rect.x + rect.w / 2.0,
        rect.y + rect.h / 2.0 + size * 0.36,
        size,
        theme::TEXT,
        true,
    );
    (hover && is_mouse_button_released(MouseButton::Left)) || (focused && activate)
}
