//! The settings screen: edits a draft of [`Settings`] row by row and hands
//! back the validated result, or nothing on Cancel.
//!
//! Owns the screen's geometry ([`layout`], pure and unit-tested, so a
//! screenshot test can find the title, the first row and the Save button),
//! the editing state (text fields, keyboard focus, scroll) and the widgets
//! of each kind of setting. Which rows there are, their labels, ranges and
//! stepper positions come from the settings table
//! ([`crate::settings::FIELDS`]): one row per field with a label, in order.
//! It must not touch the settings file, the net thread or the app's screen
//! list: the caller saves what [`SettingsAction::Save`] returns and applies it.
//!
//! **Test connection** runs `arena doctor`'s checks ([`crate::net::doctor`])
//! against the Server field on a thread of their own and shows the verdict
//! lines in place of the rows; the window keeps drawing meanwhile.
//!
//! Keys: Up/Down or Tab/Shift+Tab move the focus, Left/Right change a
//! stepper, Enter goes to the next row (flips a toggle, presses a button),
//! Ctrl+S saves, Esc cancels. A click focuses a row. On a window too short
//! for every row the rows scroll (mouse wheel, or by following the focus).

use macroquad::prelude::*;

use super::theme::{self, Text};
use super::widgets::{
    FieldEvent, TextField, button, discard_typed_chars, stepper, stepper_with_swatch, toggle,
};
use crate::net::NetMode;
#[cfg(not(target_arch = "wasm32"))]
use crate::net::doctor::{self, Level, Report, Timeouts};
use crate::proto::MAX_NAME_CHARS;
#[cfg(not(target_arch = "wasm32"))]
use crate::settings::server_url_from_input;
use crate::settings::{
    COLORS, FIELDS, Field, HOST_HERE, InterpDelay, Kind, SEND_RATE_STEPS, Settings, SettingsError,
    Steps,
};
use crate::sync::SendRate;
use crate::sync::throttle::MAX_RATE_HZ;

/// What the settings screen asks the app to do.
#[derive(Debug, Clone, PartialEq)]
pub enum SettingsAction {
    /// Stay on the screen.
    None,
    /// Leave without saving (Cancel, Esc).
    Cancel,
    /// Leave and use (and save) these settings; they passed [`Settings::validate`].
    Save(Box<Settings>),
}

/// The settings shown: those of [`FIELDS`] with a label, in order (focus
/// order: left column, then right column).
fn shown() -> impl Iterator<Item = &'static Field> {
    FIELDS.iter().filter(|f| f.label.is_some())
}

/// Number of setting rows.
pub const ROWS: usize = {
    let mut n = 0;
    let mut i = 0;
    while i < FIELDS.len() {
        if FIELDS[i].label.is_some() {
            n += 1;
        }
        i += 1;
    }
    n
};

/// Rows in the first panel ("Player & network"); the rest are in the second.
const FIRST_PANEL_ROWS: usize = 6;
/// Focus index of the Save button (after the rows).
const SAVE: usize = ROWS;
/// Focus index of the Cancel button.
const CANCEL: usize = ROWS + 1;
/// Focus index of the Test connection button.
const TEST: usize = ROWS + 2;
/// Focusable items: the rows and the three buttons.
const FOCUSABLE: usize = ROWS + 3;
/// The buttons in screen order (left to right), for Left/Right.
const BUTTONS: [usize; 3] = [TEST, SAVE, CANCEL];

const PANEL_TITLES: [&str; 2] = ["Player & network", "Connection & testing"];

/// Stepper positions of the fixed interpolation delay, ms (after "Auto").
pub const INTERP_STEPS_MS: [u32; 8] = [0, 25, 50, 75, 100, 150, 200, 300];

const MARGIN: f32 = 24.0;
const ROW_H: f32 = 44.0;
const ROW_GAP: f32 = 10.0;
const PANEL_PAD: f32 = 14.0;
const PANEL_HEAD: f32 = 36.0;
const BUTTON_W: f32 = 180.0;
const TEST_BUTTON_W: f32 = 230.0;
const BUTTON_H: f32 = 48.0;
/// Narrower windows get one column (and scroll).
const TWO_COLUMNS_MIN_W: f32 = 960.0;
/// Wheel scroll per notch, pixels.
const WHEEL_STEP: f32 = 48.0;
const ERROR: Color = theme::HEALTH_LOW;

/// Where everything on the settings screen goes, for a window of a given
/// size. Row and panel rectangles are in content coordinates: on screen
/// they move up by the current scroll (0 whenever everything fits, as at
/// 1280×720). Header and footer do not scroll.
#[derive(Debug, Clone, PartialEq)]
pub struct SettingsLayout {
    /// The "Settings" title (text centred in it).
    pub title: Rect,
    /// Band under the title for the settings-file warning (two lines).
    pub notice: Rect,
    /// The area the rows scroll in.
    pub viewport: Rect,
    /// The two panels, unscrolled.
    pub panels: [Rect; 2],
    /// Every row, unscrolled, in focus order (Name first).
    pub rows: [Rect; ROWS],
    /// Line above the buttons for a validation error.
    pub message: Rect,
    /// The Save button.
    pub save: Rect,
    /// The Cancel button.
    pub cancel: Rect,
    /// The Test connection button (left of Save).
    pub test: Rect,
    /// Baseline of the key hints at the bottom.
    pub hint_y: f32,
    /// 2 on wide windows, else 1.
    pub columns: usize,
}

impl SettingsLayout {
    /// The first row (Name), unscrolled.
    pub fn first_row(&self) -> Rect {
        self.rows[0]
    }

    /// How far the rows can scroll (0 when everything fits).
    pub fn max_scroll(&self) -> f32 {
        let bottom = self.panels.iter().map(Rect::bottom).fold(0.0, f32::max);
        (bottom - self.viewport.bottom()).max(0.0)
    }
}

/// The geometry of the settings screen in a `screen_w`×`screen_h` window
/// (pure: no window needed).
pub fn layout(screen_w: f32, screen_h: f32) -> SettingsLayout {
    let (sw, sh) = (screen_w.max(1.0), screen_h.max(1.0));
    let full_w = (sw - 2.0 * MARGIN).max(1.0);
    let title = Rect::new(MARGIN, 14.0, full_w, 52.0);
    let notice = Rect::new(MARGIN, title.bottom() + 2.0, full_w, 40.0);

    let hint_y = sh - 12.0;
    let buttons_y = sh - 30.0 - BUTTON_H;
    let button_w = BUTTON_W.min((sw - 4.0 * MARGIN) / 3.0).max(60.0);
    let test_w = TEST_BUTTON_W.min((sw - 4.0 * MARGIN) / 3.0).max(60.0);
    // Test connection, Save, Cancel: centred as a group.
    let x0 = sw / 2.0 - (test_w + 2.0 * button_w + 40.0) / 2.0;
    let test = Rect::new(x0, buttons_y, test_w, BUTTON_H);
    let save = Rect::new(test.right() + 20.0, buttons_y, button_w, BUTTON_H);
    let cancel = Rect::new(save.right() + 20.0, buttons_y, button_w, BUTTON_H);
    let message = Rect::new(MARGIN, buttons_y - 32.0, full_w, 26.0);

    let top = notice.bottom() + 6.0;
    let viewport = Rect::new(0.0, top, sw, (message.y - 4.0 - top).max(ROW_H));

    let columns = if sw >= TWO_COLUMNS_MIN_W { 2 } else { 1 };
    let rows_in = [FIRST_PANEL_ROWS, ROWS - FIRST_PANEL_ROWS];
    let panel_h = |n: usize| PANEL_HEAD + n as f32 * (ROW_H + ROW_GAP) - ROW_GAP + PANEL_PAD;
    let panels = if columns == 2 {
        let col_w = ((sw - 3.0 * MARGIN) / 2.0).min(600.0);
        let x0 = (sw - (2.0 * col_w + MARGIN)) / 2.0;
        // Same height for both, so their bottoms line up.
        let h = panel_h(rows_in[0].max(rows_in[1]));
        [
            Rect::new(x0, top, col_w, h),
            Rect::new(x0 + col_w + MARGIN, top, col_w, h),
        ]
    } else {
        let col_w = full_w.clamp(160.0, 640.0);
        let x0 = (sw - col_w) / 2.0;
        let first = Rect::new(x0, top, col_w, panel_h(rows_in[0]));
        [
            first,
            Rect::new(
                x0,
                first.bottom() + MARGIN / 2.0,
                col_w,
                panel_h(rows_in[1]),
            ),
        ]
    };
    let rows = std::array::from_fn(|i| {
        let (panel, k) = if i < FIRST_PANEL_ROWS {
            (panels[0], i)
        } else {
            (panels[1], i - FIRST_PANEL_ROWS)
        };
        Rect::new(
            panel.x + PANEL_PAD,
            panel.y + PANEL_HEAD + k as f32 * (ROW_H + ROW_GAP),
            panel.w - 2.0 * PANEL_PAD,
            ROW_H,
        )
    });
    SettingsLayout {
        title,
        notice,
        viewport,
        panels,
        rows,
        message,
        save,
        cancel,
        test,
        hint_y,
        columns,
    }
}

/// A connection test, running or done.
enum ConnTest {
    /// Waiting for the report.
    #[cfg(not(target_arch = "wasm32"))]
    Running {
        url: String,
        report: crossbeam_channel::Receiver<Report>,
        since: f64,
    },
    /// The report, shown until closed.
    #[cfg(not(target_arch = "wasm32"))]
    Done(Box<Report>),
    /// In the browser: the test needs UDP and the desktop's signaling
    /// client; rooms work without it.
    #[cfg(target_arch = "wasm32")]
    Unavailable,
    /// Nothing to test (the Server field is empty: hosting here).
    #[cfg_attr(target_arch = "wasm32", allow(dead_code))]
    NoServer,
}

/// One row of the screen: a setting and, if it is edited as text, its field.
struct Row {
    field: &'static Field,
    text: Option<TextField>,
}

/// The settings screen's state: a draft being edited.
pub struct SettingsScreen {
    draft: Settings,
    /// One per shown setting, in focus order.
    rows: Vec<Row>,
    focus: usize,
    /// Focus last frame, to scroll a newly focused row into view.
    shown_focus: Option<usize>,
    scroll: f32,
    warning: Option<String>,
    message: Option<String>,
    fresh: bool,
    test: Option<ConnTest>,
}

/// The empty server field's text: hosting here, and the address others on
/// the local network join at.
fn host_here_hint(port: u16) -> String {
    #[cfg(target_arch = "wasm32")]
    let lan: Option<std::net::IpAddr> = None; // a page cannot host
    #[cfg(not(target_arch = "wasm32"))]
    let lan = crate::net::lan_address();
    match lan {
        Some(ip) => format!("hosted here · LAN {ip}:{port}"),
        None => HOST_HERE.to_owned(),
    }
}

impl SettingsScreen {
    /// A screen editing `current`; `warning` (e.g. a malformed settings
    /// file) is shown under the title.
    pub fn new(current: Settings, warning: Option<String>) -> SettingsScreen {
        SettingsScreen {
            rows: shown()
                .map(|field| Row {
                    field,
                    text: text_field(field, &current),
                })
                .collect(),
            draft: current,
            focus: 0,
            shown_focus: None,
            scroll: 0.0,
            warning,
            message: None,
            fresh: true,
            test: None,
        }
    }

    /// Starts a connection test of the Server field's URL (the button).
    pub fn start_test(&mut self) {
        let server = self
            .rows
            .iter()
            .filter(|r| matches!(r.field.kind, Kind::ServerUrl))
            .find_map(|r| r.text.as_ref())
            .map_or("", |t| t.value.as_str());
        #[cfg(target_arch = "wasm32")]
        let _ = server;
        #[cfg(target_arch = "wasm32")]
        {
            self.test = Some(ConnTest::Unavailable);
        }
        #[cfg(not(target_arch = "wasm32"))]
        {
            self.test = Some(match server_url_from_input(server) {
                Some(url) => ConnTest::Running {
                    report: doctor::spawn(url.clone(), Timeouts::default()),
                    url,
                    since: get_time(),
                },
                None => ConnTest::NoServer,
            });
        }
    }

    /// The connection test's view, in place of the rows: the verdict lines
    /// (or a progress line), closed by Esc, Enter or a click once done.
    fn test_frame(&mut self, text: &Text, lay: &SettingsLayout) {
        #[cfg(not(target_arch = "wasm32"))]
        if let Some(ConnTest::Running { report, .. }) = &self.test
            && let Ok(r) = report.try_recv()
        {
            self.test = Some(ConnTest::Done(Box::new(r)));
        }
        let panel = Rect::new(
            lay.panels[0].x,
            lay.viewport.y,
            lay.panels[1].right() - lay.panels[0].x,
            lay.viewport.h,
        );
        draw_rectangle(panel.x, panel.y, panel.w, panel.h, theme::PANEL);
        let x = panel.x + PANEL_PAD;
        let w = panel.w - 2.0 * PANEL_PAD;
        let mut y = panel.y + 30.0;
        let head = |text: &Text, y: f32, s: &str| {
            text.draw(s, x, y, 20.0, theme::TEXT_DIM, true);
        };
        let size = 18.0;
        let line_h = 24.0;
        match &self.test {
            #[cfg(not(target_arch = "wasm32"))]
            Some(ConnTest::Running { url, since, .. }) => {
                head(text, y, &format!("Testing {url}"));
                y += 2.0 * line_h;
                let dots = ".".repeat(1 + ((get_time() - since) * 3.0) as usize % 3);
                text.draw(
                    &format!("Checking the server, STUN, your NAT and TURN{dots}"),
                    x,
                    y,
                    size,
                    theme::TEXT,
                    false,
                );
            }
            #[cfg(not(target_arch = "wasm32"))]
            Some(ConnTest::Done(r)) => {
                head(
                    text,
                    y,
                    &format!(
                        "Connection test of {} ({:.1} s)",
                        r.server_url,
                        r.elapsed_ms / 1000.0
                    ),
                );
                y += 2.0 * line_h;
                let headline_color = match r.verdict {
                    doctor::Verdict::Direct => theme::HEALTH,
                    doctor::Verdict::NeedsTurn | doctor::Verdict::RelayOnly => theme::ACCENT,
                    doctor::Verdict::Unreachable => ERROR,
                };
                text.draw(r.verdict.headline(), x, y, 26.0, headline_color, true);
                y += 1.8 * line_h;
                for l in &r.lines {
                    let (mark, color) = match l.level {
                        Level::Ok => ("✔", theme::HEALTH),
                        Level::Warn => ("!", theme::ACCENT),
                        Level::Fail => ("✖", ERROR),
                        Level::Info => ("·", theme::TEXT_DIM),
                    };
                    let wrapped =
                        wrap(&l.text, w - 28.0, 3, |s| text.measure(s, size, false).width);
                    text.draw(mark, x, y, size, color, true);
                    for part in wrapped {
                        if y > panel.bottom() - 8.0 {
                            break;
                        }
                        text.draw(&part, x + 28.0, y, size, color, false);
                        y += line_h;
                    }
                    y += 6.0;
                }
            }
            #[cfg(target_arch = "wasm32")]
            Some(ConnTest::Unavailable) => {
                head(text, y, "Connection test");
                y += 2.0 * line_h;
                for part in wrap(
                    "The connection test needs the desktop game (UDP probes and its own signaling client); rooms work in the browser without it.",
                    w,
                    3,
                    |s| text.measure(s, size, false).width,
                ) {
                    text.draw(&part, x, y, size, theme::TEXT, false);
                    y += line_h;
                }
            }
            Some(ConnTest::NoServer) | None => {
                head(text, y, "Connection test");
                y += 2.0 * line_h;
                for part in wrap(
                    "The Server field is empty: games are hosted on this machine. Type the server URL your friends use (e.g. https://arena.example.org), then test it.",
                    w,
                    3,
                    |s| text.measure(s, size, false).width,
                ) {
                    text.draw(&part, x, y, size, theme::TEXT, false);
                    y += line_h;
                }
            }
        }
    }

    /// The draft with the text fields read back in, checked.
    fn collect(&self) -> Result<Settings, SettingsError> {
        let mut s = self.draft.clone();
        for row in &self.rows {
            if let Some(t) = &row.text {
                row.field.set_text(&mut s, &t.value)?;
            }
        }
        s.validate()?;
        Ok(s)
    }

    /// Validates the draft: the settings to save, or the error shown and the
    /// offending row focused.
    fn try_save(&mut self) -> SettingsAction {
        match self.collect() {
            Ok(s) => SettingsAction::Save(Box::new(s)),
            Err(e) => {
                if let Some(row) = e.field().and_then(row_of_key) {
                    self.focus = row;
                }
                self.message = Some(e.to_string());
                SettingsAction::None
            }
        }
    }

    /// Draws the screen and handles this frame's input.
    pub fn frame(&mut self, text: &Text) -> SettingsAction {
        if self.fresh {
            // Keys typed on the previous screen must not land in the name field.
            discard_typed_chars();
            self.fresh = false;
        }
        clear_background(theme::BACKGROUND);
        let (sw, sh) = (screen_width(), screen_height());
        let lay = layout(sw, sh);
        let mut action = SettingsAction::None;
        if self.test.is_some() {
            draw_title(text, &lay);
            self.test_frame(text, &lay);
            #[cfg(not(target_arch = "wasm32"))]
            let running = matches!(self.test, Some(ConnTest::Running { .. }));
            #[cfg(target_arch = "wasm32")]
            let running = false;
            let label = if running { "Cancel test" } else { "Close" };
            let close_key = is_key_pressed(KeyCode::Escape)
                || (!running
                    && (is_key_pressed(KeyCode::Enter) || is_key_pressed(KeyCode::KpEnter)));
            let close = Rect::new(
                sw / 2.0 - lay.save.w / 2.0,
                lay.save.y,
                lay.save.w,
                lay.save.h,
            );
            if button(text, close, label, true, false) || close_key {
                // A running test finishes on its own thread; its report is dropped.
                self.test = None;
            }
            text.centered(
                "Esc closes the test",
                sw / 2.0,
                lay.hint_y,
                14.0,
                theme::TEXT_DIM,
                false,
            );
            discard_typed_chars();
            return action;
        }

        // Keyboard, against the focus at the start of the frame.
        let focus = self.focus;
        let shift = is_key_down(KeyCode::LeftShift) || is_key_down(KeyCode::RightShift);
        let ctrl = is_key_down(KeyCode::LeftControl) || is_key_down(KeyCode::RightControl);
        let enter = is_key_pressed(KeyCode::Enter) || is_key_pressed(KeyCode::KpEnter);
        let mut next = focus;
        if is_key_pressed(KeyCode::Down) || (is_key_pressed(KeyCode::Tab) && !shift) {
            next = (focus + 1) % FOCUSABLE;
        }
        if is_key_pressed(KeyCode::Up) || (is_key_pressed(KeyCode::Tab) && shift) {
            next = (focus + FOCUSABLE - 1) % FOCUSABLE;
        }
        if focus >= SAVE && (is_key_pressed(KeyCode::Left) || is_key_pressed(KeyCode::Right)) {
            let at = BUTTONS.iter().position(|&b| b == focus).unwrap_or(0);
            let step = if is_key_pressed(KeyCode::Left) { 2 } else { 1 };
            next = BUTTONS[(at + step) % BUTTONS.len()];
        }

        // Scrolling: the wheel, or follow a focus that moved.
        let max_scroll = lay.max_scroll();
        let wheel = mouse_wheel().1;
        if wheel != 0.0 {
            self.scroll -= wheel.signum() * WHEEL_STEP;
        }
        if self.shown_focus != Some(focus) {
            if let Some(row) = lay.rows.get(focus) {
                self.scroll = scroll_to_show(self.scroll, *row, focus, &lay);
            }
            self.shown_focus = Some(focus);
        }
        self.scroll = self.scroll.clamp(0.0, max_scroll);
        let scroll = self.scroll;

        // Header.
        draw_title(text, &lay);
        if let Some(w) = &self.warning {
            let size = 16.0;
            let lines = wrap(w, lay.notice.w, 2, |s| text.measure(s, size, false).width);
            for (i, line) in lines.iter().enumerate() {
                text.centered(
                    line,
                    lay.notice.x + lay.notice.w / 2.0,
                    lay.notice.y + 16.0 + i as f32 * 20.0,
                    size,
                    theme::ACCENT,
                    false,
                );
            }
        }

        // Panels, clipped to the viewport.
        for (panel, title) in lay.panels.iter().zip(PANEL_TITLES) {
            let on_screen = Rect::new(panel.x, panel.y - scroll, panel.w, panel.h);
            if let Some(clip) = on_screen.intersect(lay.viewport) {
                draw_rectangle(clip.x, clip.y, clip.w, clip.h, theme::PANEL);
            }
            let head_visible =
                on_screen.y >= lay.viewport.y && on_screen.y + PANEL_HEAD <= lay.viewport.bottom();
            if head_visible {
                text.draw(
                    title,
                    on_screen.x + PANEL_PAD,
                    on_screen.y + 25.0,
                    18.0,
                    theme::TEXT_DIM,
                    true,
                );
            }
        }

        // Rows that are wholly visible.
        let pressed = is_mouse_button_pressed(MouseButton::Left);
        let (mx, my) = mouse_position();
        for (i, row) in self.rows.iter_mut().enumerate() {
            let r = lay.rows[i];
            let r = Rect::new(r.x, r.y - scroll, r.w, r.h);
            if r.y < lay.viewport.y - 0.5 || r.bottom() > lay.viewport.bottom() + 0.5 {
                continue;
            }
            if pressed && r.contains(vec2(mx, my)) {
                next = i;
            }
            let focused = focus == i;
            let (f, label) = (row.field, row.field.label.unwrap_or(row.field.key));
            if let Some(field) = &mut row.text {
                match field.frame(text, r, label, focused) {
                    FieldEvent::Submitted => next = (i + 1) % FOCUSABLE,
                    FieldEvent::Clicked => next = i,
                    FieldEvent::Changed => self.message = None,
                    FieldEvent::None => {}
                }
                continue;
            }
            let d = &mut self.draft;
            let dir = match &f.kind {
                Kind::Flag(slot) => {
                    if toggle(text, r, label, *(slot.get)(d), focused) {
                        let on = (slot.get_mut)(d);
                        *on = !*on;
                    }
                    continue;
                }
                Kind::Color => {
                    let swatch = Some(theme::player_color(d.color));
                    stepper_with_swatch(text, r, label, &value_label(f, d), swatch, focused)
                }
                _ => stepper(text, r, label, &value_label(f, d), focused),
            };
            if dir != 0 {
                step(f, d, dir);
                self.message = None;
            }
            if focused && enter {
                next = (i + 1) % FOCUSABLE;
            }
        }
        if max_scroll > 0.0 {
            draw_scrollbar(&lay, scroll, max_scroll);
        }

        // Footer.
        if let Some(m) = &self.message {
            let size = 17.0;
            let line = wrap(m, lay.message.w, 1, |s| text.measure(s, size, false).width);
            if let Some(line) = line.first() {
                text.centered(
                    line,
                    lay.message.x + lay.message.w / 2.0,
                    lay.message.y + 19.0,
                    size,
                    ERROR,
                    true,
                );
            }
        }
        if button(text, lay.save, "Save", focus == SAVE, enter) {
            action = self.try_save();
            next = self.focus;
        }
        if button(text, lay.cancel, "Cancel", focus == CANCEL, enter) {
            action = SettingsAction::Cancel;
        }
        if button(text, lay.test, "Test connection", focus == TEST, enter) {
            self.start_test();
        }
        text.centered(
            "↑/↓/Tab move · ←/→ change · Enter next · Ctrl+S save · Esc cancel",
            sw / 2.0,
            lay.hint_y,
            14.0,
            theme::TEXT_DIM,
            false,
        );

        if ctrl && is_key_pressed(KeyCode::S) {
            action = self.try_save();
            next = self.focus;
        }
        if is_key_pressed(KeyCode::Escape) {
            action = SettingsAction::Cancel;
        }
        self.focus = next.min(FOCUSABLE - 1);
        let typing = self.rows.get(self.focus).is_some_and(|r| r.text.is_some());
        if !typing {
            discard_typed_chars();
        }
        action
    }
}

/// The text field editing `f` (a setting edited as text), holding its value in `s`.
fn text_field(f: &Field, s: &Settings) -> Option<TextField> {
    let value = f.text(s);
    Some(match &f.kind {
        Kind::Name => TextField::new(&value, MAX_NAME_CHARS),
        Kind::ServerUrl => {
            TextField::new(&value, 200).with_placeholder(&host_here_hint(s.host_addr.port()))
        }
        Kind::IceServers => {
            TextField::new(&value, 600).with_placeholder("optional: more STUN / TURN URLs")
        }
        Kind::Text(t) if t.secret => TextField::new(&value, 200)
            .masked()
            .with_placeholder("none"),
        Kind::Text(_) => TextField::new(&value, 200).with_placeholder("none"),
        _ => return None,
    })
}

/// The text the stepper of setting `f` shows for its value in `d`.
fn value_label(f: &Field, d: &Settings) -> String {
    match &f.kind {
        Kind::Color => theme::PLAYER_COLOR_NAMES
            .get(usize::from(d.color))
            .copied()
            .unwrap_or("?")
            .to_owned(),
        Kind::Mode => mode_label(d.mode).to_owned(),
        Kind::InterpDelay => match d.interp_delay {
            InterpDelay::Auto => "Auto (adaptive)".to_owned(),
            InterpDelay::FixedMs(ms) => format!("{ms} ms"),
        },
        Kind::SendRate => match d.send_rate {
            SendRate::Auto => "Auto (20-60 Hz)".to_owned(),
            SendRate::Max(hz) if hz <= 20.0 => format!("{} Hz", number(hz)),
            SendRate::Max(hz) => format!("Auto, up to {} Hz", number(hz)),
        },
        Kind::Number(n) => {
            let v = *(n.slot.get)(d) * n.shown.scale;
            format!("{}{}{}", n.shown.prefix, number(v), n.shown.suffix)
        }
        _ => String::new(),
    }
}

/// Moves the stepper of setting `f` one position in direction `dir` (-1 or +1).
fn step(f: &Field, d: &mut Settings, dir: i32) {
    match &f.kind {
        Kind::Color => {
            d.color = (i32::from(d.color) + dir).rem_euclid(i32::from(COLORS)) as u8;
        }
        Kind::Mode => {
            let n = NetMode::ALL.len() as i32;
            let at = NetMode::ALL.iter().position(|&m| m == d.mode).unwrap_or(0) as i32;
            d.mode = NetMode::ALL[(at + dir).rem_euclid(n) as usize];
        }
        Kind::InterpDelay => d.interp_delay = step_interp(d.interp_delay, dir),
        Kind::SendRate => d.send_rate = step_send_rate(d.send_rate, dir),
        Kind::Number(n) => {
            let scale = n.shown.scale;
            let v = (n.slot.get_mut)(d);
            let shown = *v * scale;
            *v = match n.steps {
                Steps::List(list) => step_list(shown, list, dir),
                Steps::Every(step) => step_grid(shown, step, n.max * scale, dir),
            } / scale;
        }
        _ => {}
    }
}

/// The row that edits settings key `key`.
fn row_of_key(key: &str) -> Option<usize> {
    shown().position(|f| f.key == key)
}

/// How the network modes read on the screen.
pub fn mode_label(mode: NetMode) -> &'static str {
    match mode {
        NetMode::Hybrid => "Hybrid (WebRTC + relay fallback)",
        NetMode::WebRtcOnly => "WebRTC only",
        NetMode::SignalingOnly => "Signaling only (relay)",
    }
}

/// `v` without a fractional part when it is whole, else with one decimal.
fn number(v: f64) -> String {
    if (v - v.round()).abs() < 1e-6 {
        format!("{:.0}", v)
    } else {
        format!("{v:.1}")
    }
}

const EPS: f64 = 1e-6;

/// The next (`dir` > 0) or previous entry of the sorted `list` from `v`;
/// `v` itself past either end. A value between entries steps to a neighbour.
fn step_list(v: f64, list: &[f64], dir: i32) -> f64 {
    if dir > 0 {
        list.iter().copied().find(|&x| x > v + EPS).unwrap_or(v)
    } else if dir < 0 {
        list.iter()
            .rev()
            .copied()
            .find(|&x| x < v - EPS)
            .unwrap_or(v)
    } else {
        v
    }
}

/// `v` moved to the next multiple of `step` in direction `dir`, within
/// `0..=max` (a value already past `max`, from the file, can only go down).
fn step_grid(v: f64, step: f64, max: f64, dir: i32) -> f64 {
    let v = if v.is_finite() { v.max(0.0) } else { 0.0 };
    if dir > 0 {
        if v >= max - EPS {
            return v;
        }
        (((v / step) + EPS).floor() + 1.0) * step
    } else if dir < 0 {
        ((((v / step) - EPS).ceil() - 1.0) * step).max(0.0)
    } else {
        v
    }
    .min(max.max(v))
}

/// The caps of [`SEND_RATE_STEPS`], then Auto (no cap, the most); no wrap-around.
fn step_send_rate(r: SendRate, dir: i32) -> SendRate {
    let key = |r: SendRate| match r {
        SendRate::Auto => MAX_RATE_HZ,
        SendRate::Max(hz) => hz,
    };
    let mut keys = SEND_RATE_STEPS.to_vec();
    keys.push(MAX_RATE_HZ);
    let k = step_list(key(r), &keys, dir);
    if k >= MAX_RATE_HZ {
        SendRate::Auto
    } else if (k - key(r)).abs() < EPS {
        r
    } else {
        SendRate::Max(k)
    }
}

/// Auto, then the fixed steps in [`INTERP_STEPS_MS`]; no wrap-around.
fn step_interp(d: InterpDelay, dir: i32) -> InterpDelay {
    // Auto sorts before every fixed value.
    let key = |d: InterpDelay| match d {
        InterpDelay::Auto => -1.0,
        InterpDelay::FixedMs(ms) => f64::from(ms),
    };
    let mut keys = vec![-1.0];
    keys.extend(INTERP_STEPS_MS.iter().map(|&ms| f64::from(ms)));
    let k = step_list(key(d), &keys, dir);
    if k < 0.0 {
        InterpDelay::Auto
    } else if (k - key(d)).abs() < EPS {
        d
    } else {
        InterpDelay::FixedMs(k as u32)
    }
}

/// The scroll that shows `row` (focus index `i`), moving as little as possible.
fn scroll_to_show(scroll: f32, row: Rect, i: usize, lay: &SettingsLayout) -> f32 {
    // The first row of a panel brings the panel's title along.
    let head = if i == 0 || i == FIRST_PANEL_ROWS {
        PANEL_HEAD
    } else {
        ROW_GAP
    };
    let top = row.y - head;
    let bottom = row.bottom() + ROW_GAP;
    if top - scroll < lay.viewport.y {
        top - lay.viewport.y
    } else if bottom - scroll > lay.viewport.bottom() {
        bottom - lay.viewport.bottom()
    } else {
        scroll
    }
}

fn draw_title(text: &Text, lay: &SettingsLayout) {
    text.centered(
        "Settings",
        lay.title.x + lay.title.w / 2.0,
        lay.title.y + 42.0,
        44.0,
        theme::ACCENT,
        true,
    );
}

fn draw_scrollbar(lay: &SettingsLayout, scroll: f32, max_scroll: f32) {
    let v = lay.viewport;
    // Beside the column when there is room, else at the window's edge.
    let x = (lay.panels[0].right() + 8.0).min(v.right() - 6.0);
    draw_rectangle(x, v.y, 4.0, v.h, theme::with_alpha(theme::TEXT_DIM, 0.2));
    let content = v.h + max_scroll;
    let thumb_h = (v.h * v.h / content).max(24.0);
    let y = v.y + (v.h - thumb_h) * (scroll / max_scroll);
    draw_rectangle(x, y, 4.0, thumb_h, theme::with_alpha(theme::TEXT_DIM, 0.8));
}

/// Word-wraps `s` into at most `max_lines` lines of `width` (as measured by
/// `measure`); the last line ends with "…" when text was left out.
fn wrap(s: &str, width: f32, max_lines: usize, measure: impl Fn(&str) -> f32) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    let mut cut = false;
    for word in s.split_whitespace() {
        let candidate = if line.is_empty() {
            word.to_owned()
        } else {
            format!("{line} {word}")
        };
        if line.is_empty() || measure(&candidate) <= width {
            line = candidate;
            continue;
        }
        lines.push(std::mem::take(&mut line));
        if lines.len() == max_lines {
            cut = true;
            break;
        }
        line = word.to_owned();
    }
    if !line.is_empty() && lines.len() < max_lines {
        lines.push(line);
    } else if !line.is_empty() {
        cut = true;
    }
    if cut {
        if let Some(last) = lines.last_mut() {
            while !last.is_empty() && measure(&format!("{last}…")) > width {
                last.pop();
            }
            last.push('…');
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inside(outer: Rect, inner: Rect) -> bool {
        inner.x >= outer.x
            && inner.y >= outer.y
            && inner.right() <= outer.right()
            && inner.bottom() <= outer.bottom()
    }

    #[test]
    fn layout_at_1280x720_fits_without_scrolling() {
        let lay = layout(1280.0, 720.0);
        assert_eq!(lay.columns, 2);
        assert_eq!(lay.max_scroll(), 0.0);
        let screen = Rect::new(0.0, 0.0, 1280.0, 720.0);
        for r in lay.rows {
            assert!(inside(lay.viewport, r), "{r:?} outside {:?}", lay.viewport);
        }
        assert!(inside(screen, lay.save) && inside(screen, lay.cancel));
        assert!(lay.title.bottom() <= lay.first_row().y);
        assert!(lay.viewport.bottom() <= lay.message.y);
        assert!(lay.message.bottom() <= lay.save.y);
        assert!(lay.save.right() < lay.cancel.x);
        assert!(inside(screen, lay.test) && lay.test.right() < lay.save.x);
        // Stable numbers a screenshot test can rely on.
        assert_eq!(lay.title, Rect::new(24.0, 14.0, 1232.0, 52.0));
        assert_eq!(lay.save, Rect::new(575.0, 642.0, 180.0, 48.0));
        assert_eq!(lay.first_row(), Rect::new(42.0, 150.0, 572.0, 44.0));
    }

    #[test]
    fn rows_never_overlap() {
        for (w, h) in [(1280.0, 720.0), (800.0, 600.0), (1920.0, 1080.0)] {
            let lay = layout(w, h);
            for (i, a) in lay.rows.iter().enumerate() {
                for b in &lay.rows[i + 1..] {
                    assert!(!a.overlaps(b), "{a:?} {b:?}");
                }
            }
        }
    }

    #[test]
    fn narrow_window_is_one_scrolling_column() {
        let lay = layout(800.0, 600.0);
        assert_eq!(lay.columns, 1);
        assert!(lay.max_scroll() > 0.0);
        // Focus order runs down the column.
        assert!(lay.rows.windows(2).all(|p| p[0].y < p[1].y));
        // Scrolling to the last row brings it into view.
        let last = ROWS - 1;
        let s = scroll_to_show(0.0, lay.rows[last], last, &lay);
        assert!((0.0..=lay.max_scroll() + 0.5).contains(&s), "{s}");
        assert!(lay.rows[last].bottom() - s <= lay.viewport.bottom());
        // Tiny windows do not produce NaN.
        let tiny = layout(0.0, 0.0);
        assert!(tiny.rows.iter().all(|r| r.x.is_finite() && r.w > 0.0));
    }

    #[test]
    fn steppers_follow_their_lists() {
        let rates = &[5.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0];
        assert_eq!(step_list(20.0, rates, 1), 30.0);
        assert_eq!(step_list(20.0, rates, -1), 15.0);
        assert_eq!(step_list(25.0, rates, 1), 30.0);
        assert_eq!(step_list(25.0, rates, -1), 20.0);
        assert_eq!(step_list(60.0, rates, 1), 60.0);
        assert_eq!(step_list(5.0, rates, -1), 5.0);

        assert_eq!(step_send_rate(SendRate::Auto, 1), SendRate::Auto);
        assert_eq!(step_send_rate(SendRate::Auto, -1), SendRate::Max(45.0));
        assert_eq!(step_send_rate(SendRate::Max(45.0), 1), SendRate::Auto);
        assert_eq!(step_send_rate(SendRate::Max(25.0), -1), SendRate::Max(20.0));
        assert_eq!(step_send_rate(SendRate::Max(5.0), -1), SendRate::Max(5.0));

        assert_eq!(step_interp(InterpDelay::Auto, -1), InterpDelay::Auto);
        assert_eq!(step_interp(InterpDelay::Auto, 1), InterpDelay::FixedMs(0));
        assert_eq!(step_interp(InterpDelay::FixedMs(0), -1), InterpDelay::Auto);
        assert_eq!(
            step_interp(InterpDelay::FixedMs(120), 1),
            InterpDelay::FixedMs(150)
        );
        assert_eq!(
            step_interp(InterpDelay::FixedMs(300), 1),
            InterpDelay::FixedMs(300)
        );
        assert_eq!(
            step_interp(InterpDelay::FixedMs(450), -1),
            InterpDelay::FixedMs(300)
        );

        assert_eq!(step_grid(0.0, 25.0, 500.0, 1), 25.0);
        assert_eq!(step_grid(0.0, 25.0, 500.0, -1), 0.0);
        assert_eq!(step_grid(30.0, 25.0, 500.0, 1), 50.0);
        assert_eq!(step_grid(30.0, 25.0, 500.0, -1), 25.0);
        assert_eq!(step_grid(500.0, 25.0, 500.0, 1), 500.0);
        assert_eq!(step_grid(700.0, 25.0, 500.0, 1), 700.0);
        assert_eq!(step_grid(700.0, 25.0, 500.0, -1), 675.0);
        // Percent steps survive float error (0.07 * 100 = 7.000000000000001).
        assert_eq!(step_grid(0.07 * 100.0, 1.0, 30.0, 1), 8.0);
        assert_eq!(step_grid(0.07 * 100.0, 1.0, 30.0, -1), 6.0);
        assert_eq!(step_grid(30.0, 1.0, 30.0, 1), 30.0);
    }

    #[test]
    fn rows_map_to_keys() {
        assert_eq!(row_of_key("name"), Some(0));
        assert_eq!(row_of_key("server_url"), Some(3));
        assert_eq!(row_of_key("net_graph"), Some(ROWS - 1));
        assert_eq!(row_of_key("nope"), None);
        assert_eq!(number(20.0), "20");
        assert_eq!(number(2.5), "2.5");
    }

    #[test]
    fn warning_wraps_and_ellipsizes() {
        let by_chars = |s: &str| s.chars().count() as f32;
        assert_eq!(
            wrap("one two three", 20.0, 2, by_chars),
            vec!["one two three"]
        );
        assert_eq!(
            wrap("one two three", 8.0, 2, by_chars),
            vec!["one two", "three"]
        );
        let cut = wrap("one two three four five", 8.0, 2, by_chars);
        assert_eq!(cut.len(), 2);
        assert!(cut[1].ends_with('…') && by_chars(&cut[1]) <= 8.0, "{cut:?}");
        assert!(wrap("", 8.0, 2, by_chars).is_empty());
    }
}
