//! World ↔ screen transform: the arena scaled uniformly to fit the window,
//! centred, with the HUD bar kept clear.

use macroquad::math::{Rect, Vec2, vec2};

/// A uniform scale plus an offset from world units to screen pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct View {
    /// Screen pixels per world unit.
    pub scale: f32,
    /// Screen position of the world origin.
    pub offset: Vec2,
}

impl View {
    /// The largest view that shows the whole `arena` (world size) inside `area`
    /// (screen rectangle), centred.
    pub fn fit(arena: Vec2, area: Rect) -> View {
        let sx = area.w / arena.x.max(1.0);
        let sy = area.h / arena.y.max(1.0);
        let scale = sx.min(sy).max(0.01);
        let size = arena * scale;
        let offset = vec2(
            area.x + (area.w - size.x) / 2.0,
            area.y + (area.h - size.y) / 2.0,
        );
        View { scale, offset }
    }

    /// World point → screen point.
    pub fn to_screen(&self, p: Vec2) -> Vec2 {
        self.offset + p * self.scale
    }

    /// Screen point → world point.
    pub fn to_world(&self, s: Vec2) -> Vec2 {
        (s - self.offset) / self.scale
    }

    /// World length → screen length.
    pub fn len(&self, l: f32) -> f32 {
        l * self.scale
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fits_and_round_trips() {
        let v = View::fit(vec2(1600.0, 1000.0), Rect::new(0.0, 40.0, 1280.0, 680.0));
        assert!((v.scale - 0.68).abs() < 1e-5);
        // Centred horizontally: 1600 * 0.68 = 1088 wide in 1280.
        assert!((v.offset.x - 96.0).abs() < 1e-3);
        assert!((v.offset.y - 40.0).abs() < 1e-3);
        let p = vec2(123.0, 456.0);
        assert!((v.to_world(v.to_screen(p)) - p).length() < 1e-3);
    }

    #[test]
    fn degenerate_window_does_not_divide_by_zero() {
        let v = View::fit(vec2(1600.0, 1000.0), Rect::new(0.0, 0.0, 0.0, 0.0));
        assert!(v.scale > 0.0 && v.scale.is_finite());
    }
}
