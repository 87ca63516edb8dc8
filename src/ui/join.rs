//! The join screen: a room-code field (any case, spaces or dashes), the
//! host's address when it is not this machine or the configured server (read
//! as the settings read a server: [`server_url_from_input`]), and the
//! explanation of the last failure with a retry. In the browser, where the
//! server is the page's own, the second row asks for the player's name
//! instead ([`JoinScreen::asking_name`]: a friend who opened a link).
//!
//! It only reads and checks what the person typed; joining itself is the
//! online screen's work.

use macroquad::prelude::*;

use super::theme::{self, Text};
use super::widgets::{FieldEvent, TextField, button, discard_typed_chars};
use crate::settings::{server_url_from_input, valid_server_url};

/// What the join screen asks the app to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JoinAction {
    /// Stay.
    None,
    /// Back to the main menu.
    Back,
    /// Join the room `code` (normalised, ungrouped) on `server` (`None`: the
    /// configured server, or a game hosting on this machine).
    Join {
        /// The room code.
        code: String,
        /// The server URL typed, if any.
        server: Option<String>,
        /// The player's name, when the screen asked for it.
        name: Option<String>,
    },
}

/// The join screen's state.
pub struct JoinScreen {
    code: TextField,
    server: TextField,
    /// The name field, in the server's row, when asking for a name.
    name: Option<TextField>,
    focus: usize,
    error: Option<String>,
    default_server: String,
}

/// Items that take the focus, in Tab order.
const ITEMS: usize = 4;

/// Where the join screen draws its parts (tests read pixels there).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct JoinLayout {
    /// The room code row.
    pub code: Rect,
    /// The server address row.
    pub server: Rect,
    /// The error box (drawn only after a failure).
    pub error: Rect,
    /// The Join / Retry button.
    pub join: Rect,
    /// The Back button.
    pub back: Rect,
}

/// The join screen's geometry for a window of `sw` × `sh` pixels.
pub fn layout(sw: f32, sh: f32) -> JoinLayout {
    let w = 640.0f32.min(sw - 40.0);
    let x = sw / 2.0 - w / 2.0;
    let top = (sh * 0.5 - 220.0).max(90.0);
    JoinLayout {
        code: Rect::new(x, top, w, 52.0),
        server: Rect::new(x, top + 70.0, w, 52.0),
        error: Rect::new(x, top + 146.0, w, 96.0),
        join: Rect::new(x, top + 262.0, w / 2.0 - 8.0, 56.0),
        back: Rect::new(x + w / 2.0 + 8.0, top + 262.0, w / 2.0 - 8.0, 56.0),
    }
}

impl JoinScreen {
    /// A join screen prefilled with `code` and `server`, showing `error`.
    /// `default_server` says where joining goes when the address is empty.
    pub fn new(
        code: &str,
        server: Option<&str>,
        error: Option<String>,
        default_server: &str,
    ) -> JoinScreen {
        discard_typed_chars();
        JoinScreen {
            code: TextField::new(code, 16).with_placeholder("ABCD-EFGH"),
            server: TextField::new(server.unwrap_or(""), 120).with_placeholder("empty: see below"),
            name: None,
            focus: 0,
            error,
            default_server: default_server.to_owned(),
        }
    }

    /// The same screen asking for the player's name (prefilled with `name`)
    /// in place of a server address: the browser joins on its page's server.
    /// The focus starts on the name when the code is filled in.
    pub fn asking_name(mut self, name: &str) -> JoinScreen {
        let field =
            TextField::new(name, crate::proto::MAX_NAME_CHARS).with_placeholder("Your name");
        if !self.code.value.is_empty() {
            self.focus = 1;
        }
        self.name = Some(field);
        self
    }

    /// Checks what was typed: the join request, or why it cannot be.
    fn request(&self) -> Result<JoinAction, String> {
        let code = arena_server::protocol::normalize_code(&self.code.value)
            .map_err(|e| format!("That is not a room code: {e}. A code looks like ABCD-EFGH."))?;
        let server = server_url_from_input(&self.server.value);
        if let Some(url) = server.as_ref().filter(|u| !valid_server_url(u)) {
            return Err(format!(
                "That is not a server address: {url:?}. An address looks like 192.168.1.5:3536 or https://arena.example.org."
            ));
        }
        if let Some(field) = &self.name {
            let name = checked_name(&field.value)?;
            return Ok(JoinAction::Join {
                code: code.as_str().to_owned(),
                server: None,
                name: Some(name),
            });
        }
        Ok(JoinAction::Join {
            code: code.as_str().to_owned(),
            server,
            name: None,
        })
    }

    /// Draws the screen and handles input.
    pub fn frame(&mut self, text: &Text) -> JoinAction {
        clear_background(theme::BACKGROUND);
        let (sw, sh) = (screen_width(), screen_height());
        let l = layout(sw, sh);
        text.centered(
            "Join a room",
            sw / 2.0,
            l.code.y - 40.0,
            44.0,
            theme::ACCENT,
            true,
        );

        if is_key_pressed(KeyCode::Tab) || is_key_pressed(KeyCode::Down) {
            self.focus = (self.focus + 1) % ITEMS;
        }
        if is_key_pressed(KeyCode::Up) {
            self.focus = (self.focus + ITEMS - 1) % ITEMS;
        }
        let mut submit = false;
        match self.code.frame(text, l.code, "Room code", self.focus == 0) {
            FieldEvent::Clicked => self.focus = 0,
            FieldEvent::Submitted => submit = true,
            FieldEvent::Changed | FieldEvent::None => {}
        }
        let (second, label) = match &mut self.name {
            Some(name) => (name, "Your name"),
            None => (&mut self.server, "Host address"),
        };
        match second.frame(text, l.server, label, self.focus == 1) {
            FieldEvent::Clicked => self.focus = 1,
            FieldEvent::Submitted => submit = true,
            FieldEvent::Changed | FieldEvent::None => {}
        }
        let hint = match self.name {
            Some(_) => format!(
                "The room is on {}, the server this page came from",
                self.default_server
            ),
            None => format!(
                "Empty: {} · another machine: the address shown on the host's screen",
                self.default_server
            ),
        };
        text.draw(
            &hint,
            l.server.x,
            l.server.bottom() + 16.0,
            14.0,
            theme::TEXT_DIM,
            false,
        );

        if let Some(error) = &self.error {
            let e = l.error;
            draw_rectangle(
                e.x,
                e.y,
                e.w,
                e.h,
                theme::with_alpha(theme::HEALTH_LOW, 0.18),
            );
            draw_rectangle(e.x, e.y, 5.0, e.h, theme::HEALTH_LOW);
            text.draw(
                "Could not join",
                e.x + 16.0,
                e.y + 24.0,
                18.0,
                theme::HEALTH_LOW,
                true,
            );
            for (i, line) in super::online_screen::wrap(error, 72)
                .iter()
                .take(3)
                .enumerate()
            {
                text.draw(
                    line,
                    e.x + 16.0,
                    e.y + 48.0 + i as f32 * 20.0,
                    15.0,
                    theme::TEXT,
                    false,
                );
            }
        }
        let enter = is_key_pressed(KeyCode::Enter) || is_key_pressed(KeyCode::KpEnter);
        let label = if self.error.is_some() {
            "Retry"
        } else {
            "Join"
        };
        if button(text, l.join, label, self.focus == 2, enter) {
            submit = true;
        }
        if button(text, l.back, "Back", self.focus == 3, enter) || is_key_pressed(KeyCode::Escape) {
            return JoinAction::Back;
        }
        text.centered(
            "Tab / ↑↓ move · Enter join · Esc back · Ctrl+V paste",
            sw / 2.0,
            sh - 16.0,
            14.0,
            theme::TEXT_DIM,
            false,
        );
        if submit {
            match self.request() {
                Ok(action) => return action,
                Err(e) => self.error = Some(e),
            }
        }
        JoinAction::None
    }
}

/// `name` trimmed, when it is one peers accept: 1 to
/// [`crate::proto::MAX_NAME_CHARS`] characters, no control characters.
fn checked_name(name: &str) -> Result<String, String> {
    let name = name.trim();
    let max = crate::proto::MAX_NAME_CHARS;
    if name.is_empty() || name.chars().count() > max || name.chars().any(char::is_control) {
        return Err(format!("Type a name of 1 to {max} characters."));
    }
    Ok(name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn screen(code: &str, server: &str) -> JoinScreen {
        JoinScreen {
            code: TextField::new(code, 16),
            server: TextField::new(server, 120),
            name: None,
            focus: 0,
            error: None,
            default_server: "http://127.0.0.1:3536".into(),
        }
    }

    #[test]
    fn codes_are_accepted_in_any_case_with_spaces_or_dashes() {
        for typed in ["abcd-efgh", " ABCD EFGH ", "AbCdEfGh"] {
            assert_eq!(
                screen(typed, "").request(),
                Ok(JoinAction::Join {
                    code: "ABCDEFGH".into(),
                    server: None,
                    name: None,
                })
            );
        }
        assert_eq!(
            screen("ABCD-EFGH", "192.168.1.5:3536").request(),
            Ok(JoinAction::Join {
                code: "ABCDEFGH".into(),
                server: Some("http://192.168.1.5:3536".into()),
                name: None,
            })
        );
    }

    #[test]
    fn server_addresses_are_read_as_settings_reads_them() {
        let server = |typed: &str| match screen("ABCD-EFGH", typed).request() {
            Ok(JoinAction::Join { server, .. }) => Ok(server),
            other => Err(format!("{other:?}")),
        };
        assert_eq!(
            server(" 10.0.0.5:3536/ "),
            Ok(Some("http://10.0.0.5:3536".into()))
        );
        assert_eq!(
            server("HTTPS://arena.example"),
            Ok(Some("https://arena.example".into()))
        );
        assert_eq!(server("host"), Ok(None));
        let e = server("ftp://x").err().unwrap_or_default();
        assert!(e.contains("not a server address"), "{e}");
    }

    #[test]
    fn bad_codes_are_explained() {
        let e = screen("ABC", "").request().err().unwrap_or_default();
        assert!(e.contains("8 characters"), "{e}");
        let e = screen("ABCD-EFGO", "").request().err().unwrap_or_default();
        assert!(e.contains("not a room-code character"), "{e}");
    }

    #[test]
    fn a_link_asks_for_a_name() {
        let s = screen("abcd-efgh", "").asking_name("Ann ");
        assert_eq!(s.focus, 1);
        assert_eq!(
            s.request(),
            Ok(JoinAction::Join {
                code: "ABCDEFGH".into(),
                server: None,
                name: Some("Ann".into()),
            })
        );
        let e = screen("ABCD-EFGH", "").asking_name(" ").request();
        assert!(e.err().unwrap_or_default().contains("name"));
    }

    #[test]
    fn the_layout_fits_small_windows() {
        for (w, h) in [(1280.0, 720.0), (800.0, 600.0)] {
            let l = layout(w, h);
            assert!(l.back.right() <= w && l.back.bottom() <= h, "{l:?}");
            assert!(l.code.bottom() <= l.server.y && l.error.bottom() <= l.join.y);
        }
    }
}
