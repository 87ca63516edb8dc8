//! Immediate-mode widgets: a button that works with the mouse and with a
//! keyboard focus, and the labelled rows of forms (text field, stepper,
//! toggle), drawn in the theme. Widgets read macroquad input and draw; they
//! keep only their own editing state and never decide what a value means.

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
    draw_box(rect, focused, hover);
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

/// A column of buttons, one per entry, with the keyboard focus `focus`;
/// `rect_of(i)` places entry `i`. Returns the entry chosen this frame.
pub fn button_column<T: Copy>(
    text: &Text,
    focus: &mut Focus,
    entries: &[(T, String)],
    rect_of: impl Fn(usize) -> Rect,
) -> Option<T> {
    let activate = focus.update(entries.len());
    let mut chosen = None;
    for (i, (entry, label)) in entries.iter().enumerate() {
        if button(text, rect_of(i), label, focus.index == i, activate) {
            chosen = Some(*entry);
        }
    }
    chosen
}

/// Font size of the text in a form row of height `h`.
fn row_font(h: f32) -> f32 {
    (h * 0.45).clamp(12.0, 26.0)
}

/// Baseline that centres text of `size` vertically in `rect`.
fn baseline(rect: Rect, size: f32) -> f32 {
    rect.y + rect.h / 2.0 + size * 0.36
}

/// Splits a form row into its label column (left) and its control (right).
pub fn row_parts(rect: Rect) -> (Rect, Rect) {
    let label_w = (rect.w * 0.36).clamp(80.0, 220.0).min(rect.w * 0.5);
    (
        Rect::new(rect.x, rect.y, label_w, rect.h),
        Rect::new(rect.x + label_w, rect.y, rect.w - label_w, rect.h),
    )
}

fn draw_label(text: &Text, rect: Rect, label: &str, focused: bool) {
    let size = fitting_size(text, label, row_font(rect.h), rect.w - 14.0, focused);
    let color = if focused {
        theme::ACCENT
    } else {
        theme::TEXT_DIM
    };
    text.draw(
        label,
        rect.x + 4.0,
        baseline(rect, size),
        size,
        color,
        focused,
    );
}

/// `size`, or smaller (down to 12 px) so that `s` fits in `width`.
fn fitting_size(text: &Text, s: &str, size: f32, width: f32, bold: bool) -> f32 {
    let full = text.measure(s, size, bold).width;
    if full > width && full > 0.0 {
        (size * width.max(0.0) / full).floor().max(12.0)
    } else {
        size
    }
}

/// Draws the face and edge of a control box.
fn draw_box(rect: Rect, focused: bool, hover: bool) {
    let face = if focused || hover {
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
}

fn mouse_in(rect: Rect) -> bool {
    let (mx, my) = mouse_position();
    rect.contains(vec2(mx, my))
}

fn ctrl_down() -> bool {
    is_key_down(KeyCode::LeftControl)
        || is_key_down(KeyCode::RightControl)
        || is_key_down(KeyCode::LeftSuper)
        || is_key_down(KeyCode::RightSuper)
}

fn alt_down() -> bool {
    is_key_down(KeyCode::LeftAlt) || is_key_down(KeyCode::RightAlt)
}

fn shift_down() -> bool {
    is_key_down(KeyCode::LeftShift) || is_key_down(KeyCode::RightShift)
}

/// Drops every character typed so far and not yet read by a text field.
///
/// macroquad queues typed characters until someone reads them; a screen with
/// text fields calls this when no field is focused (and when it opens), so
/// keys pressed elsewhere do not appear in the next field focused.
pub fn discard_typed_chars() {
    while get_char_pressed().is_some() {}
}

/// What a [`TextField`] did this frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldEvent {
    /// Nothing.
    None,
    /// The mouse pressed on the field: the caller should focus it.
    Clicked,
    /// The value was edited (typing, Backspace, paste).
    Changed,
    /// Enter was pressed while focused.
    Submitted,
}

/// Delay before a held Backspace repeats, seconds.
const REPEAT_DELAY: f32 = 0.45;
/// Interval of Backspace auto-repeat, seconds.
const REPEAT_EVERY: f32 = 0.04;

/// A one-line text input: typed characters, Backspace (held: repeats),
/// Ctrl+V / Shift+Insert paste, Enter submits. The caret is always at the end.
#[derive(Debug, Clone)]
pub struct TextField {
    /// The text.
    pub value: String,
    /// Longest value, in characters (typing and paste stop there).
    pub max_chars: usize,
    /// Draw `•` for each character (passwords).
    pub mask: bool,
    /// Shown dimmed while the value is empty.
    pub placeholder: String,
    /// `get_time()` of the last edit: the caret stays solid right after one.
    caret_since: f64,
    /// Seconds until the next Backspace auto-repeat while it is held.
    repeat_in: f32,
}

impl TextField {
    /// A field holding `value` (cut to `max_chars`).
    pub fn new(value: &str, max_chars: usize) -> TextField {
        TextField {
            value: value.chars().take(max_chars).collect(),
            max_chars,
            mask: false,
            placeholder: String::new(),
            caret_since: 0.0,
            repeat_in: REPEAT_DELAY,
        }
    }

    /// The same field, drawn masked.
    pub fn masked(mut self) -> TextField {
        self.mask = true;
        self
    }

    /// The same field, with `placeholder` shown while empty.
    pub fn with_placeholder(mut self, placeholder: &str) -> TextField {
        self.placeholder = placeholder.to_owned();
        self
    }

    /// Appends the printable characters of `s` up to `max_chars`; true if any.
    /// Line breaks and tabs become spaces, other control characters are dropped.
    pub fn insert(&mut self, s: &str) -> bool {
        let mut room = self.max_chars.saturating_sub(self.value.chars().count());
        let mut changed = false;
        for c in s.chars() {
            let c = match c {
                '\n' | '\r' | '\t' => ' ',
                c if c.is_control() => continue,
                c => c,
            };
            if room == 0 {
                break;
            }
            self.value.push(c);
            room -= 1;
            changed = true;
        }
        changed
    }

    /// Reads this frame's keyboard input when `focused`, draws the field in
    /// `rect` (label on the left, box on the right) and says what happened.
    pub fn frame(&mut self, text: &Text, rect: Rect, label: &str, focused: bool) -> FieldEvent {
        let mut event = FieldEvent::None;
        let (label_rect, box_rect) = row_parts(rect);
        if is_mouse_button_pressed(MouseButton::Left) && mouse_in(rect) && !focused {
            event = FieldEvent::Clicked;
        }
        if focused && self.edit() {
            event = FieldEvent::Changed;
            self.caret_since = get_time();
        }
        if focused && (is_key_pressed(KeyCode::Enter) || is_key_pressed(KeyCode::KpEnter)) {
            event = FieldEvent::Submitted;
        }
        draw_label(text, label_rect, label, focused);
        self.draw(text, box_rect, focused);
        event
    }

    /// Applies typed characters, paste and Backspace; true if the value changed.
    fn edit(&mut self) -> bool {
        let mut changed = false;
        let shortcut = ctrl_down() && !alt_down();
        while let Some(c) = get_char_pressed() {
            // Ctrl+V arrives as a 'v' on some platforms: it is a shortcut, not text.
            if !shortcut && !c.is_control() {
                changed |= self.insert(c.encode_utf8(&mut [0; 4]));
            }
        }
        let paste = (shortcut && is_key_pressed(KeyCode::V))
            || (shift_down() && is_key_pressed(KeyCode::Insert));
        if paste {
            if let Some(clip) = macroquad::miniquad::window::clipboard_get() {
                changed |= self.insert(&clip);
            }
        }
        let mut deletes = 0;
        if is_key_pressed(KeyCode::Backspace) {
            deletes = 1;
            self.repeat_in = REPEAT_DELAY;
        } else if is_key_down(KeyCode::Backspace) {
            self.repeat_in -= get_frame_time();
            while self.repeat_in <= 0.0 {
                deletes += 1;
                self.repeat_in += REPEAT_EVERY;
            }
        }
        for _ in 0..deletes {
            changed |= self.value.pop().is_some();
        }
        changed
    }

    fn draw(&self, text: &Text, rect: Rect, focused: bool) {
        draw_box(rect, focused, mouse_in(rect));
        let size = row_font(rect.h);
        let pad = 10.0;
        let room = (rect.w - 2.0 * pad - 4.0).max(0.0);
        let y = baseline(rect, size);
        let shown: String = if self.mask {
            "•".repeat(self.value.chars().count())
        } else {
            self.value.clone()
        };
        if shown.is_empty() && !self.placeholder.is_empty() {
            // A hint reads from its start.
            let hint = fit_head(text, &self.placeholder, size, room);
            text.draw(
                &hint,
                rect.x + pad,
                y,
                size,
                theme::with_alpha(theme::TEXT_DIM, 0.7),
                false,
            );
        }
        if !focused {
            // Unfocused, a long value shows its start.
            let head = fit_head(text, &shown, size, room);
            text.draw(&head, rect.x + pad, y, size, theme::TEXT, false);
            return;
        }
        let tail = fit_tail(text, &shown, size, room, false);
        text.draw(tail, rect.x + pad, y, size, theme::TEXT, false);
        let blink = (get_time() - self.caret_since).rem_euclid(1.0) < 0.55;
        if focused && blink {
            let x = rect.x + pad + text.measure(tail, size, false).width + 2.0;
            draw_line(x, y - size * 0.8, x, y + size * 0.2, 2.0, theme::ACCENT);
        }
    }
}

/// `s`, or its longest start that fits in `width` pixels followed by "…".
fn fit_head(text: &Text, s: &str, size: f32, width: f32) -> String {
    if text.measure(s, size, false).width <= width {
        return s.to_owned();
    }
    let mut head: String = s.to_owned();
    // Halve first, then drop one char at a time: long values stay cheap.
    while head.chars().count() > 8 && text.measure(&head, size, false).width > 2.0 * width {
        let keep = head.chars().count() / 2;
        head = head.chars().take(keep).collect();
    }
    while !head.is_empty() && text.measure(&format!("{head}…"), size, false).width > width {
        head.pop();
    }
    head.push('…');
    head
}

/// The longest end of `s` that fits in `width` pixels.
fn fit_tail<'s>(text: &Text, s: &'s str, size: f32, width: f32, bold: bool) -> &'s str {
    if text.measure(s, size, bold).width <= width {
        return s;
    }
    // Binary search over char boundaries for the first start that fits.
    let starts: Vec<usize> = s.char_indices().map(|(i, _)| i).collect();
    let (mut lo, mut hi) = (0, starts.len());
    while lo < hi {
        let mid = (lo + hi) / 2;
        let tail = s.get(starts[mid]..).unwrap_or("");
        if text.measure(tail, size, bold).width <= width {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    starts.get(lo).and_then(|&i| s.get(i..)).unwrap_or("")
}

/// A row that steps a value left or right: `label` on the left, `<` and `>`
/// buttons around `value`. Returns -1 (left button, Left key when focused),
/// +1 (right button, a click on the value, Right key when focused) or 0.
pub fn stepper(text: &Text, rect: Rect, label: &str, value: &str, focused: bool) -> i32 {
    stepper_with_swatch(text, rect, label, value, None, focused)
}

/// [`stepper`] with a colour swatch drawn before the value (player colours).
pub fn stepper_with_swatch(
    text: &Text,
    rect: Rect,
    label: &str,
    value: &str,
    swatch: Option<Color>,
    focused: bool,
) -> i32 {
    let (label_rect, control) = row_parts(rect);
    draw_label(text, label_rect, label, focused);
    let arrow_w = control.h.min(control.w / 4.0);
    let left = Rect::new(control.x, control.y, arrow_w, control.h);
    let right = Rect::new(control.right() - arrow_w, control.y, arrow_w, control.h);
    let middle = Rect::new(
        left.right() + 4.0,
        control.y,
        (control.w - 2.0 * arrow_w - 8.0).max(0.0),
        control.h,
    );
    let less = button(text, left, "<", false, false);
    let more = button(text, right, ">", false, false);
    let hover = mouse_in(middle);
    draw_box(middle, focused, hover);
    // Long values shrink to fit before they are cut.
    let room = (middle.w - 16.0).max(0.0);
    let size = fitting_size(text, value, row_font(rect.h), room, false);
    let shown = fit_tail(text, value, size, room, false);
    let width = text.measure(shown, size, false).width;
    let cx = middle.x + middle.w / 2.0;
    if let Some(color) = swatch {
        let r = middle.h * 0.22;
        let x = cx - (width + 2.0 * r + 10.0) / 2.0;
        draw_circle(x + r, middle.y + middle.h / 2.0, r, color);
        draw_circle_lines(x + r, middle.y + middle.h / 2.0, r, 1.5, theme::TEXT);
        text.draw(
            shown,
            x + 2.0 * r + 10.0,
            baseline(middle, size),
            size,
            theme::TEXT,
            false,
        );
    } else {
        text.centered(shown, cx, baseline(middle, size), size, theme::TEXT, false);
    }
    let clicked = hover && is_mouse_button_released(MouseButton::Left);
    if less || (focused && is_key_pressed(KeyCode::Left)) {
        -1
    } else if more || clicked || (focused && is_key_pressed(KeyCode::Right)) {
        1
    } else {
        0
    }
}

/// An on/off row: `label` on the left, a switch on the right. Returns true
/// when the person asks to flip it (click; Space, Enter, Left or Right when
/// focused); the caller flips the value.
pub fn toggle(text: &Text, rect: Rect, label: &str, on: bool, focused: bool) -> bool {
    let (label_rect, control) = row_parts(rect);
    draw_label(text, label_rect, label, focused);
    let h = control.h;
    let track = Rect::new(control.x, control.y + h * 0.15, h * 1.8, h * 0.7);
    let hover = mouse_in(track) || mouse_in(rect);
    let face = if on {
        theme::mix(theme::BUTTON_HOT, theme::HEALTH, 0.7)
    } else if hover || focused {
        theme::BUTTON_HOT
    } else {
        theme::BUTTON
    };
    let r = track.h / 2.0;
    draw_rectangle(track.x + r, track.y, track.w - 2.0 * r, track.h, face);
    draw_circle(track.x + r, track.y + r, r, face);
    draw_circle(track.right() - r, track.y + r, r, face);
    if focused {
        draw_rectangle_lines(
            track.x - 3.0,
            track.y - 3.0,
            track.w + 6.0,
            track.h + 6.0,
            2.0,
            theme::ACCENT,
        );
    }
    let knob_x = if on { track.right() - r } else { track.x + r };
    draw_circle(knob_x, track.y + r, r - 3.0, theme::TEXT);
    let size = row_font(rect.h);
    text.draw(
        if on { "On" } else { "Off" },
        track.right() + 12.0,
        baseline(control, size),
        size,
        if on { theme::TEXT } else { theme::TEXT_DIM },
        false,
    );
    let keys = [
        KeyCode::Space,
        KeyCode::Enter,
        KeyCode::KpEnter,
        KeyCode::Left,
        KeyCode::Right,
    ];
    (hover && is_mouse_button_released(MouseButton::Left))
        || (focused && keys.iter().any(|&k| is_key_pressed(k)))
}
