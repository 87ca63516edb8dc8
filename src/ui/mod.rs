//! The macroquad side: the window, the screens (menu, practice, settings,
//! join, the networked match), the HUD and sound. It reads the simulation to draw it and feeds it input; it
//! never opens a socket (the net thread does, through channels).
//!
//! The app is a small state machine of screens driven by one `async` frame
//! loop: each screen's `frame()` draws, handles input and says what comes next.

pub mod arena;
pub mod audio;
pub mod badge;
pub mod effects;
pub mod hud;
pub mod join;
pub mod menu;
pub mod msaa;
pub mod netgraph;
pub mod online_screen;
pub mod play;
pub mod practice;
pub mod settings;
pub mod theme;
pub mod toast;
pub mod view;
pub mod widgets;

use crate::time::Instant;
use std::path::Path;

use macroquad::prelude::*;

use crate::ai::Ai;
use crate::config::{PlayConfig, StartScreen};
use crate::session::Intent;
use crate::settings::Settings;
use crate::sim::{Rules, World};
use join::{JoinAction, JoinScreen};
use menu::{Menu, MenuAction};
use online_screen::{Online, OnlineAction, OnlineStart};
use play::FixedStep;
use practice::{Practice, PracticeAction};
use settings::{SettingsAction, SettingsScreen};
use theme::{Fonts, Text};

/// Default window size.
pub const WINDOW_SIZE: (i32, i32) = (1280, 720);

/// Opens the window and runs the game until the player quits.
///
/// The window is single-sampled: anti-aliasing is chosen once the GL
/// renderer is known, and drawn through a render target ([`msaa`]).
///
/// With `--screenshot`/`--exit-after` it saves the frame shown after that
/// time and exits the process (0 on success, 1 if the PNG could not be written).
#[cfg(not(target_arch = "wasm32"))]
pub fn run(config: PlayConfig) -> ! {
    open_window(config);
    std::process::exit(0)
}

/// Starts the game in the page's canvas and returns: in the browser the
/// frame loop is driven by the page's `requestAnimationFrame`, after
/// `main` has returned (and `std::process::exit` would abort the module).
#[cfg(target_arch = "wasm32")]
pub fn run_in_page(config: PlayConfig) {
    open_window(config);
}

fn open_window(config: PlayConfig) {
    quiet_audio_panics();
    let conf = Conf {
        window_title: "P2P Arena".to_owned(),
        window_width: WINDOW_SIZE.0,
        window_height: WINDOW_SIZE.1,
        window_resizable: true,
        high_dpi: false,
        sample_count: 1,
        ..Default::default()
    };
    macroquad::Window::from_config(conf, app(config));
}

enum Screen {
    Menu(Menu),
    Practice(Box<Practice>),
    Settings(Box<SettingsScreen>),
    Join(Box<JoinScreen>),
    Online(Box<Online>),
}

/// What the screens share: the configuration, the player's settings (as
/// edited and saved in this session) and the frame-time log.
struct App {
    config: PlayConfig,
    settings: Settings,
    /// Per frame: the whole frame period, and the part spent in the game's
    /// own code (input, simulation, network events, queuing draw calls)
    /// before handing the frame to the GL driver, both ms.
    frame_ms: Vec<(f32, f32)>,
    /// Rooms being left in the background (see [`Online::leave`]).
    leaving: Vec<std::thread::JoinHandle<()>>,
}

impl App {
    fn menu(&self, status: Option<String>) -> Screen {
        // Practice opponents: `--bots` when it was for practice, else the default.
        let bots = match self.config.start {
            StartScreen::Menu | StartScreen::Practice if self.config.bots > 0 => self.config.bots,
            _ => crate::config::DEFAULT_PRACTICE_BOTS,
        };
        let mut menu = Menu::new(bots);
        menu.status = status;
        Screen::Menu(menu)
    }

    /// Where a join goes when no address is typed.
    fn default_join_server(&self) -> String {
        crate::session::join_server(&self.settings)
    }

    /// The join screen with `code`, `server` and `error` filled in; in the
    /// browser it asks for the player's name instead of a server (the
    /// page's origin is the server).
    fn join_screen(&self, code: &str, server: Option<&str>, error: Option<String>) -> Screen {
        let join = JoinScreen::new(code, server, error, &self.default_join_server());
        let join = if cfg!(target_arch = "wasm32") {
            join.asking_name(&self.settings.name)
        } else {
            join
        };
        Screen::Join(Box::new(join))
    }

    fn online(&self, intent: Intent, server: Option<String>, bots: usize) -> Screen {
        let start = OnlineStart {
            intent: intent.clone(),
            settings: self.settings.clone(),
            server: server.clone(),
            bind_ip: self.config.bind_ip,
            bots,
            map: self.config.map.clone(),
            seed: self.config.seed,
        };
        match Online::start(start) {
            Ok(online) => Screen::Online(Box::new(online)),
            Err(e) => match intent {
                Intent::Join(code) => self.join_screen(
                    &online_screen::grouped(&code),
                    server.as_deref(),
                    Some(e.to_string()),
                ),
                Intent::Create => self.menu(Some(e.to_string())),
            },
        }
    }

    fn save_settings(&mut self, settings: Settings) -> Option<String> {
        self.settings = settings;
        let path = self.config.settings_path.as_ref()?;
        match self.settings.save(path) {
            Ok(()) => {
                tracing::info!("settings saved to {}", path.display());
                None
            }
            Err(e) => Some(format!("settings not saved: {e}")),
        }
    }

    /// Writes the frame-time log (if asked for) and exits the process.
    fn exit(&mut self, code: i32) -> ! {
        // Rooms left just before still say goodbye.
        for h in self.leaving.drain(..) {
            let _ = h.join();
        }
        if let Some(path) = &self.config.frame_times {
            let lines: String = self
                .frame_ms
                .iter()
                .map(|(period, work)| format!("{period:.3} {work:.3}\n"))
                .collect();
            if let Err(e) = std::fs::write(path, lines) {
                eprintln!("error: cannot write frame times to {}: {e}", path.display());
            }
        }
        std::process::exit(code)
    }
}

async fn app(config: PlayConfig) {
    prevent_quit();
    let fonts = Fonts::load();
    let text = Text::new(fonts.as_ref());
    let sounds = audio::Sounds::load(config.mute).await;
    let started = Instant::now();
    let mut scene = msaa::Scene::for_renderer(config.msaa);
    let mut app = App {
        settings: config.settings.clone(),
        frame_ms: Vec::new(),
        leaving: Vec::new(),
        config,
    };
    let mut screen = match app.config.start.clone() {
        StartScreen::Menu => app.menu(None),
        StartScreen::Practice => {
            Screen::Practice(Box::new(Practice::new(&app.config, app.config.bots)))
        }
        StartScreen::Settings => Screen::Settings(Box::new(SettingsScreen::new(
            app.settings.clone(),
            app.config.settings_warning.clone(),
        ))),
        StartScreen::TestConnection => {
            let mut s =
                SettingsScreen::new(app.settings.clone(), app.config.settings_warning.clone());
            s.start_test();
            Screen::Settings(Box::new(s))
        }
        StartScreen::Create => app.online(Intent::Create, None, app.config.bots),
        StartScreen::Join(code) => app.online(Intent::Join(code), None, 0),
        StartScreen::JoinForm(code) => app.join_screen(&online_screen::grouped(&code), None, None),
    };
    // A match between AIs runs behind the main menu.
    let mut backdrop = Backdrop::new(&app.config);
    let mut last_frame = Instant::now();
    loop {
        let frame_start = Instant::now();
        scene.begin();
        let next = match &mut screen {
            Screen::Menu(menu) => {
                backdrop.step();
                let me = (app.settings.name.as_str(), app.settings.color);
                match menu.frame(&text, Some(&backdrop.world), me) {
                    MenuAction::None => None,
                    MenuAction::Practice(bots) => {
                        Some(Screen::Practice(Box::new(Practice::new(&app.config, bots))))
                    }
                    MenuAction::Create => Some(app.online(Intent::Create, None, 0)),
                    MenuAction::Join => Some(app.join_screen("", None, None)),
                    MenuAction::Settings => Some(Screen::Settings(Box::new(SettingsScreen::new(
                        app.settings.clone(),
                        app.config.settings_warning.clone(),
                    )))),
                    MenuAction::Quit if cfg!(target_arch = "wasm32") => {
                        Some(app.menu(Some(crate::web::QUIT_HINT.to_owned())))
                    }
                    MenuAction::Quit => break,
                }
            }
            Screen::Practice(game) => match game.frame(&text, &sounds) {
                PracticeAction::Continue => None,
                PracticeAction::MainMenu => Some(app.menu(None)),
                PracticeAction::Quit if cfg!(target_arch = "wasm32") => {
                    Some(app.menu(Some(crate::web::QUIT_HINT.to_owned())))
                }
                PracticeAction::Quit => break,
            },
            Screen::Settings(settings) => match settings.frame(&text) {
                SettingsAction::None => None,
                SettingsAction::Cancel => Some(app.menu(None)),
                SettingsAction::Save(new) => {
                    let status = app.save_settings(*new);
                    app.config.settings_warning = None;
                    Some(app.menu(status))
                }
            },
            Screen::Join(join) => match join.frame(&text) {
                JoinAction::None => None,
                JoinAction::Back => Some(app.menu(None)),
                JoinAction::Join { code, server, name } => {
                    if let Some(name) = name {
                        app.settings.name = name;
                    }
                    Some(app.online(Intent::Join(code), server, 0))
                }
            },
            Screen::Online(online) => match online.frame(&text, &sounds) {
                OnlineAction::Continue => None,
                OnlineAction::MainMenu => Some(app.menu(None)),
                OnlineAction::JoinFailed {
                    code,
                    server,
                    message,
                } => {
                    let typed = (server != app.default_join_server()).then_some(server);
                    Some(app.join_screen(
                        &online_screen::grouped(&code),
                        typed.as_deref(),
                        Some(message),
                    ))
                }
                OnlineAction::Quit => break,
            },
        };
        scene.present();
        crate::web::frame_drawn();
        if is_quit_requested() {
            break; // the window's close button, on any screen
        }
        if let Some(next) = next {
            // An online screen leaves its room without freezing the window.
            if let Screen::Online(online) = std::mem::replace(&mut screen, next) {
                app.leaving.extend(online.leave());
            }
        }
        if app.config.frame_times.is_some() {
            let now = Instant::now();
            app.frame_ms.push((
                (now - last_frame).as_secs_f32() * 1000.0,
                (now - frame_start).as_secs_f32() * 1000.0,
            ));
            last_frame = now;
        }
        if let Some(limit) = app.config.exit_after {
            if started.elapsed() >= limit {
                let code = match &app.config.screenshot {
                    Some(path) => save_screenshot(path),
                    None => 0,
                };
                // A clean quit: an online screen leaves its room first.
                drop(screen);
                app.exit(code);
            }
        }
        next_frame().await;
    }
    drop(screen);
    app.exit(0);
}

/// Saves the current frame (call before `next_frame`); returns the exit code.
fn save_screenshot(path: &Path) -> i32 {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Err(e) = std::fs::create_dir_all(dir) {
            eprintln!("error: cannot create {}: {e}", dir.display());
            return 1;
        }
    }
    let mut image = get_screen_data();
    // The framebuffer's alpha is whatever blending left there: a PNG shows
    // what the window shows only when it is opaque.
    for px in image.bytes.chunks_exact_mut(4) {
        px[3] = 255;
    }
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
    clock: FixedStep,
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
            clock: FixedStep::default(),
        }
    }

    fn step(&mut self) {
        // At most 0.1 s of a slow frame: under the per-frame cap of steps.
        for _ in 0..self.clock.ticks(get_frame_time().min(0.1)) {
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
