//! Look of the game: fonts, colours and text helpers shared by every screen.

use macroquad::prelude::*;

/// Window background, outside the arena.
pub const BACKGROUND: Color = Color::new(0.07, 0.08, 0.11, 1.0);
/// Arena floor.
pub const FLOOR: Color = Color::new(0.12, 0.13, 0.18, 1.0);
/// Grid lines on the floor.
pub const GRID: Color = Color::new(0.16, 0.18, 0.24, 1.0);
/// Wall fill.
pub const WALL: Color = Color::new(0.29, 0.32, 0.42, 1.0);
/// Wall outline.
pub const WALL_EDGE: Color = Color::new(0.45, 0.50, 0.63, 1.0);
/// Normal text.
pub const TEXT: Color = Color::new(0.92, 0.94, 0.97, 1.0);
/// Secondary text.
pub const TEXT_DIM: Color = Color::new(0.60, 0.64, 0.72, 1.0);
/// Accent (titles, focus).
pub const ACCENT: Color = Color::new(1.0, 0.74, 0.25, 1.0);
/// Translucent panel behind overlays.
pub const PANEL: Color = Color::new(0.05, 0.06, 0.09, 0.88);
/// Button face.
pub const BUTTON: Color = Color::new(0.18, 0.20, 0.27, 1.0);
/// Button face under the mouse or keyboard focus.
pub const BUTTON_HOT: Color = Color::new(0.27, 0.30, 0.40, 1.0);
/// Health bar.
pub const HEALTH: Color = Color::new(0.30, 0.85, 0.45, 1.0);
/// Health bar when low.
pub const HEALTH_LOW: Color = Color::new(0.95, 0.30, 0.25, 1.0);

/// Distinct player colours, indexed by player id.
pub const PLAYER_COLORS: [Color; 8] = [
    Color::new(0.26, 0.53, 0.96, 1.0), // blue
    Color::new(0.92, 0.25, 0.20, 1.0), // red
    Color::new(0.26, 0.77, 0.35, 1.0), // green
    Color::new(0.96, 0.78, 0.16, 1.0), // yellow
    Color::new(0.67, 0.35, 0.90, 1.0), // purple
    Color::new(0.96, 0.55, 0.16, 1.0), // orange
    Color::new(0.16, 0.82, 0.86, 1.0), // cyan
    Color::new(0.94, 0.39, 0.71, 1.0), // pink
];

/// Names of [`PLAYER_COLORS`], for text such as "Blue wins".
pub const PLAYER_COLOR_NAMES: [&str; 8] = [
    "Blue", "Red", "Green", "Yellow", "Purple", "Orange", "Cyan", "Pink",
];

/// The colour of player `id`.
pub fn player_color(id: u8) -> Color {
    PLAYER_COLORS[usize::from(id) % PLAYER_COLORS.len()]
}

/// `c` with alpha `a`.
pub fn with_alpha(c: Color, a: f32) -> Color {
    Color::new(c.r, c.g, c.b, a)
}

/// Linear mix of two colours (`t` = 0 gives `a`).
pub fn mix(a: Color, b: Color, t: f32) -> Color {
    let t = t.clamp(0.0, 1.0);
    Color::new(
        a.r + (b.r - a.r) * t,
        a.g + (b.g - a.g) * t,
        a.b + (b.b - a.b) * t,
        a.a + (b.a - a.a) * t,
    )
}

/// The game's fonts (DejaVu Sans, see `assets/CREDITS.md`).
pub struct Fonts {
    /// Body text.
    pub regular: Font,
    /// Titles, buttons, numbers.
    pub bold: Font,
}

impl Fonts {
    /// Loads the fonts embedded in the binary; `None` falls back to macroquad's built-in font.
    pub fn load() -> Option<Fonts> {
        let regular = load_ttf_font_from_bytes(include_bytes!("../../assets/DejaVuSans.ttf"));
        let bold = load_ttf_font_from_bytes(include_bytes!("../../assets/DejaVuSans-Bold.ttf"));
        match (regular, bold) {
            (Ok(regular), Ok(bold)) => Some(Fonts { regular, bold }),
            (Err(e), _) | (_, Err(e)) => {
                tracing::warn!("cannot load the embedded font, using the default one: {e}");
                None
            }
        }
    }
}

/// Text drawing with the loaded fonts (or the built-in one).
pub struct Text<'a> {
    fonts: Option<&'a Fonts>,
}

impl<'a> Text<'a> {
    /// Draws with `fonts`, or macroquad's default font when `None`.
    pub fn new(fonts: Option<&'a Fonts>) -> Self {
        Text { fonts }
    }

    fn font(&self, bold: bool) -> Option<&'a Font> {
        self.fonts.map(|f| if bold { &f.bold } else { &f.regular })
    }

    /// Size of `s` at `size` pixels.
    pub fn measure(&self, s: &str, size: f32, bold: bool) -> TextDimensions {
        measure_text(s, self.font(bold), size.round().max(1.0) as u16, 1.0)
    }

    /// Draws `s` with its baseline at `y` and its left edge at `x`.
    pub fn draw(&self, s: &str, x: f32, y: f32, size: f32, color: Color, bold: bool) {
        draw_text_ex(
            s,
            x.round(),
            y.round(),
            TextParams {
                font: self.font(bold),
                font_size: size.round().max(1.0) as u16,
                color,
                ..Default::default()
            },
        );
    }

    /// Draws `s` centred horizontally on `cx`, baseline at `y`.
    pub fn centered(&self, s: &str, cx: f32, y: f32, size: f32, color: Color, bold: bool) {
        let w = self.measure(s, size, bold).width;
        self.draw(s, cx - w / 2.0, y, size, color, bold);
    }

    /// Draws `s` right-aligned at `right`, baseline at `y`.
    pub fn right(&self, s: &str, right: f32, y: f32, size: f32, color: Color, bold: bool) {
        let w = self.measure(s, size, bold).width;
        self.draw(s, right - w, y, size, color, bold);
    }
}
