//! The macroquad side: the window, the screens (menu, practice match), the
//! HUD and sound. It reads the simulation to draw it and feeds it input; it
//! never opens a socket (the net thread does, through channels).
//!
//! The app is a small state machine of screens driven by one `async` frame
//! loop: each screen's `frame()` draws, handles input and says what comes next.

pub mod audio;
pub mod effects;
pub mod game;
pub mod hud;
pub mod menu;
pub mod theme;
pub mod view;
pub mod widgets;

use std::path::Path;
use std::time::Instant;

use macroquad::prelude::*;

use crate::ai::Ai;
use crate::config::{PlayConfig, StartScreen};
use crate::sim::{Rules, World};
use game::{GameAction, Practice};
use menu::{Menu, MenuAction};
use theme::{Fonts, Text};

/// Default window size.
pub const WINDOW_SIZE: (i32, i32) = (1280, 720);

/// Opens the window and runs the game until the player quits.
///
/// With `--screenshot`/`--exit-after` it saves the frame shown after that
/// time and exits the process (0 on success, 1 if the PNG could not be written).
pub fn run(config: PlayConfig) -> ! {
    quiet_audio_panics();
    let conf = Conf {
        window_title: "P2P Arena".to_owned(),
        window_width: WINDOW_SIZE.0,
        window_height: WINDOW_SIZE.1,
        window_resizable: true,
        high_dpi: false,
        sample_count: 4,
        ..Default::default()
    };
    macroquad::Window::from_config(conf, app(config));
    std::process::exit(0)
}

enum Screen {
    Menu(Menu),
    Practice(Box<Practice>),
}

async fn app(config: PlayConfig) {
    prevent_quit();
    let fonts = Fonts::load();
    let text = Text::new(fonts.as_ref());
    let sounds = audio::Sounds::load(config.mute).await;
    let started = Instant::now();
    let mut screen = match config.start {
        StartScreen::Menu => Screen::Menu(Menu::new(config.bots)),
        StartScreen::Practice => Screen::Practice(Box::new(Practice::new(&config, config.bots))),
    };
    // A match between AIs runs behind the main menu.
    let mut backdrop = Backdrop::new(&config);
    loop {
        let next = match &mut screen {
            Screen::Menu(menu) => {
                backdrop.step();
                match menu.frame(&text, Some(&backdrop.world)) {
                    MenuAction::None => None,
                    MenuAction::Practice(bots) => {
                        Some(Screen::Practice(Box::new(Practice::new(&config, bots))))
                    }
                    MenuAction::Quit => break,
                }
            }
            Screen::Practice(game) => match game.frame(&text, &sounds) {
                GameAction::Continue => None,
                GameAction::MainMenu => Some(Screen::Menu(Menu::new(config.bots))),
                GameAction::Quit => break,
            },
        };
        if let Some(next) = next {
            screen = next;
        }
        if let Some(limit) = config.exit_after {
            if started.elapsed() >= limit {
                let code = match &config.screenshot {
                    Some(path) => save_screenshot(path),
                    None => 0,
                };
                std::process::exit(code);
            }
        }
        next_frame().await;
    }
    std::process::exit(0);
}

/// Saves the current frame (call before `next_frame`); returns the exit code.
fn save_screenshot(path: &Path) -> i32 {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Err(e) = std::fs::create_dir_all(dir) {
            eprintln!("error: cannot create {}: {e}", dir.display());
            return 1;
        }
    }
    let image = get_screen_data();
    // macroquad's export_png panics on an I/O error: check we can write first.
    if let Err(e) = std::fs::write(path, []) {
        eprintln!("error: cannot write screenshot {}: {e}", path.display());
        return 1;
    }
    image.export_png(&path.to_string_lossy());
    println!(
        "screenshot {} ({}x{})",
        path.display(),
        image.width,
        image.height
    );
    0
}

/// An AI-only match drawn behind the main menu.
struct Backdrop {
    world: World,
    ais: Vec<(u8, Ai)>,
    accumulator: f32,
}

impl Backdrop {
    fn new(config: &PlayConfig) -> Backdrop {
        let mut world = World::new(config.map.clone(), Rules::default(), config.seed ^ 0x5EED);
        let ais = (0..4u64)
            .filter_map(|i| {
                let id = world.add_player(theme::PLAYER_COLOR_NAMES[i as usize])?;
                Some((id, Ai::new(config.seed.wrapping_add(100 + i))))
            })
            .collect();
        Backdrop {
            world,
            ais,
            accumulator: 0.0,
        }
    }

    fn step(&mut self) {
        self.accumulator += get_frame_time().min(0.1);
        while self.accumulator >= crate::sim::DT {
            self.accumulator -= crate::sim::DT;
            let inputs: Vec<_> = self
                .ais
                .iter_mut()
                .map(|(id, ai)| (*id, ai.think(&self.world, *id)))
                .collect();
            self.world.step(&inputs);
        }
    }
}

/// With no sound device, macroquad's audio thread panics ("Can't open PCM
/// device"). The game plays on without sound: say so once, plainly, instead
/// of printing a panic.
fn quiet_audio_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        let from_audio = info
            .location()
            .is_some_and(|l| l.file().contains("quad-snd"));
        if from_audio {
            tracing::warn!("no usable audio device ({msg}); playing without sound");
        } else {
            default(info);
        }
    }));
}
