//! The browser build's entry (`src/bin/arena-web.rs`): the configuration
//! the game starts with in a page, where there is no command line, no
//! settings file and no net thread yet.
//!
//! It owns only that configuration and the messages the browser shows in
//! place of what it cannot do yet. The page itself (`web/index.html`,
//! `web/arena.js`) and the FFI (`arena-web-ffi`) live outside the game
//! crate. Natively (`cargo run --features web --bin arena-web`) the same
//! configuration opens in a window, which is how to try it without a browser.

use std::net::{IpAddr, Ipv4Addr};

use crate::config::{DEFAULT_PRACTICE_BOTS, Msaa, PlayConfig, StartScreen};
use crate::settings::Settings;
use crate::sim::Map;

/// The menu's line when an online entry is chosen in the browser.
pub const ONLINE_LATER: &str =
    "Online play in the browser comes with the web shell: use the desktop game for now.";

/// The menu's line when Quit is chosen in the browser (a page cannot close its tab).
pub const QUIT_HINT: &str = "To quit, close the tab.";

/// What an online entry of the menu asked for (the desktop's
/// `session::Intent`; the browser has no session yet).
#[cfg(target_arch = "wasm32")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Intent {
    /// Create a room.
    Create,
    /// Join the room with this code.
    Join(String),
}

/// The browser's configuration: the main menu, the default practice
/// opponents and map, default settings kept in memory (saving changes them
/// for the page's life), no anti-aliasing pass (WebGL 1 has no
/// multisampled render targets; the canvas is antialiased by the browser).
pub fn config(seed: u64) -> PlayConfig {
    PlayConfig {
        start: StartScreen::Menu,
        bots: DEFAULT_PRACTICE_BOTS,
        settings: Settings::default(),
        settings_path: None,
        settings_warning: None,
        bind_ip: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        seed,
        map: Map::builtin(),
        screenshot: None,
        exit_after: None,
        frame_times: None,
        msaa: Msaa::Samples(1),
        mute: false,
    }
}

/// Runs the game as the browser runs it, seeded with fresh randomness.
pub fn run() {
    #[cfg(target_arch = "wasm32")]
    report_panics();
    let config = config(crate::random::u64());
    #[cfg(target_arch = "wasm32")]
    crate::ui::run_in_page(config);
    #[cfg(not(target_arch = "wasm32"))]
    crate::ui::run(config);
}

/// Tells the page that a frame was drawn (`window.__arena`: its state and
/// frame count, which the page's tests wait on). Nothing on desktop.
pub fn frame_drawn() {
    #[cfg(target_arch = "wasm32")]
    arena_web_ffi::frame_drawn();
}

/// A panic in the browser aborts the module with an opaque "unreachable"
/// trap: hand the page the message first, so it can say what happened.
#[cfg(target_arch = "wasm32")]
fn report_panics() {
    std::panic::set_hook(Box::new(|info| {
        arena_web_ffi::fail(&format!("The game stopped: {info}"));
    }));
}
