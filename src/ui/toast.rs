//! Toasts: short notices ("Ada joined", "Bob switched to relay", "Server
//! connection lost") stacked at the bottom left, newest at the bottom, each
//! living a few seconds and fading out.
//!
//! [`Toasts`] is pure state aged by the caller's frame time (it reads no
//! clock), and its drawing only reads it. It must not decide what is worth a
//! toast: the screens push messages from the events they drain.

use std::collections::VecDeque;

use macroquad::prelude::*;

use super::theme::{self, Text};

/// Seconds a toast stays on screen.
pub const LIFETIME: f32 = 4.0;
/// Seconds of fading out at the end of its life.
pub const FADE: f32 = 0.5;
/// Most toasts kept (and shown); pushing more drops the oldest.
pub const MAX_SHOWN: usize = 5;
/// An identical message pushed within this many seconds of the last one is
/// merged into it ("×2") instead of stacking.
pub const MERGE_WITHIN: f32 = 1.0;

/// Gap between the stack and the bottom of the window, pixels.
const BOTTOM_MARGIN: f32 = 24.0;
/// Gap between the stack and the left of the window, pixels.
const LEFT_MARGIN: f32 = 16.0;
/// Height of one toast, pixels.
const ROW_H: f32 = 26.0;
/// Gap between toasts, pixels.
const GAP: f32 = 6.0;
/// Text size, pixels.
const SIZE: f32 = 15.0;

/// What a toast is about; sets the colour of its bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ToastKind {
    /// Neutral information (a peer joined, the mode changed).
    Info,
    /// Something got better (a direct link opened, reconnected).
    Good,
    /// Something degraded but the match goes on (fell back to the relay).
    Warn,
    /// Something failed (a peer is unreachable, the server is gone).
    Bad,
}

impl ToastKind {
    /// The colour of this kind's bar.
    pub fn color(self) -> Color {
        match self {
            Self::Info => Color::new(0.45, 0.65, 0.98, 1.0),
            Self::Good => theme::HEALTH,
            Self::Warn => theme::ACCENT,
            Self::Bad => theme::HEALTH_LOW,
        }
    }
}

#[derive(Debug, Clone)]
struct Toast {
    kind: ToastKind,
    message: String,
    /// How many identical pushes were merged into this one.
    count: u32,
    /// Seconds since it was pushed (or last merged into).
    age: f32,
}

impl Toast {
    /// Opacity: 1, then down to 0 over the last [`FADE`] seconds.
    fn alpha(&self) -> f32 {
        ((LIFETIME - self.age) / FADE).clamp(0.0, 1.0)
    }
}

/// The toasts on screen, oldest first.
#[derive(Debug, Clone, Default)]
pub struct Toasts {
    items: VecDeque<Toast>,
}

impl Toasts {
    /// No toasts.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a toast at the bottom of the stack. The same kind and message
    /// pushed again within [`MERGE_WITHIN`] seconds bumps the existing toast's
    /// count ("×2") and restarts its life instead; beyond [`MAX_SHOWN`] the
    /// oldest toast is dropped.
    pub fn push(&mut self, kind: ToastKind, message: impl Into<String>) {
        let message = message.into();
        if let Some(same) = self
            .items
            .iter_mut()
            .find(|t| t.kind == kind && t.age < MERGE_WITHIN && t.message == message)
        {
            same.count = same.count.saturating_add(1);
            same.age = 0.0;
            return;
        }
        while self.items.len() >= MAX_SHOWN {
            self.items.pop_front();
        }
        self.items.push_back(Toast {
            kind,
            message,
            count: 1,
            age: 0.0,
        });
    }

    /// Ages every toast by `dt` seconds and drops the expired ones. A
    /// negative or non-finite `dt` is ignored.
    pub fn update(&mut self, dt: f32) {
        if !dt.is_finite() || dt <= 0.0 {
            return;
        }
        for t in &mut self.items {
            t.age += dt;
        }
        self.items.retain(|t| t.age < LIFETIME);
    }

    /// The messages on screen, oldest (top) first, without their "×N".
    pub fn messages(&self) -> impl Iterator<Item = &str> {
        self.items.iter().map(|t| t.message.as_str())
    }

    /// Whether no toast is on screen.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Draws the stack at the bottom left of the window.
    pub fn draw(&self, text: &Text) {
        self.draw_at(text, LEFT_MARGIN, screen_height() - BOTTOM_MARGIN);
    }

    /// Draws the stack with its left edge at `left` and the bottom of the
    /// newest toast at `bottom`.
    pub fn draw_at(&self, text: &Text, left: f32, bottom: f32) {
        for (i, toast) in self.items.iter().rev().enumerate() {
            let a = toast.alpha();
            if a <= 0.0 {
                continue;
            }
            let y = bottom - ROW_H - i as f32 * (ROW_H + GAP);
            let count = (toast.count > 1).then(|| format!("×{}", toast.count));
            let msg_w = text.measure(&toast.message, SIZE, false).width;
            let count_w = count
                .as_deref()
                .map_or(0.0, |c| text.measure(c, SIZE, true).width + 8.0);
            let w = 4.0 + 10.0 + msg_w + count_w + 12.0;
            draw_rectangle(
                left,
                y,
                w,
                ROW_H,
                theme::with_alpha(theme::PANEL, theme::PANEL.a * a),
            );
            draw_rectangle(
                left,
                y,
                4.0,
                ROW_H,
                theme::with_alpha(toast.kind.color(), a),
            );
            let base = y + ROW_H / 2.0 + SIZE * 0.36;
            let x = left + 14.0;
            text.draw(
                &toast.message,
                x,
                base,
                SIZE,
                theme::with_alpha(theme::TEXT, a),
                false,
            );
            if let Some(c) = &count {
                text.draw(
                    c,
                    x + msg_w + 8.0,
                    base,
                    SIZE,
                    theme::with_alpha(toast.kind.color(), a),
                    true,
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn messages(t: &Toasts) -> Vec<&str> {
        t.messages().collect()
    }

    #[test]
    fn toasts_expire_after_their_lifetime() {
        let mut t = Toasts::new();
        t.push(ToastKind::Info, "Ada joined");
        t.update(1.0);
        t.push(ToastKind::Good, "Ada: direct link");
        t.update(2.9);
        assert_eq!(messages(&t), ["Ada joined", "Ada: direct link"]);
        t.update(0.2);
        assert_eq!(messages(&t), ["Ada: direct link"]);
        t.update(1.0);
        assert!(t.is_empty());
    }

    #[test]
    fn toasts_fade_over_the_last_half_second() {
        let mut t = Toasts::new();
        t.push(ToastKind::Warn, "relay");
        t.update(3.0);
        assert_eq!(t.items[0].alpha(), 1.0);
        t.update(0.75);
        assert!((t.items[0].alpha() - 0.5).abs() < 1e-4);
    }

    #[test]
    fn identical_messages_within_a_second_merge() {
        let mut t = Toasts::new();
        t.push(ToastKind::Bad, "Bob unreachable");
        t.update(0.5);
        t.push(ToastKind::Bad, "Bob unreachable".to_owned());
        assert_eq!(messages(&t), ["Bob unreachable"]);
        assert_eq!(t.items[0].count, 2);
        // The merge restarted its life.
        t.update(3.9);
        assert_eq!(messages(&t), ["Bob unreachable"]);
        // Too late to merge: a new toast.
        t.push(ToastKind::Bad, "Bob unreachable");
        assert_eq!(messages(&t).len(), 2);
        // Another kind never merges.
        t.push(ToastKind::Info, "Bob unreachable");
        assert_eq!(messages(&t).len(), 3);
    }

    #[test]
    fn at_most_five_toasts_oldest_dropped() {
        let mut t = Toasts::new();
        for i in 0..7 {
            t.push(ToastKind::Info, format!("m{i}"));
        }
        assert_eq!(messages(&t), ["m2", "m3", "m4", "m5", "m6"]);
    }

    #[test]
    fn bad_frame_times_are_ignored() {
        let mut t = Toasts::new();
        t.push(ToastKind::Info, "x");
        t.update(f32::NAN);
        t.update(-10.0);
        t.update(f32::INFINITY);
        assert_eq!(messages(&t), ["x"]);
        assert_eq!(t.items[0].age, 0.0);
    }
}
