//! Configuration of `arena play`, turned from raw CLI flags into one
//! validated struct.
//!
//! Precedence is defaults < settings file < env < CLI: the settings file is
//! read here ([`crate::settings`]), env and CLI arrive together as
//! [`Overrides`] (clap's `env` fallbacks), one flag and one variable per
//! entry of the settings table [`FIELDS`]. This module only parses, reads
//! files and validates: it opens no window and no socket.

use std::net::IpAddr;
#[cfg(not(target_arch = "wasm32"))]
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

use thiserror::Error;

#[cfg(not(target_arch = "wasm32"))]
use crate::settings::{FIELDS, Kind, Overrides};
use crate::settings::{Settings, SettingsError};
use crate::sim::{MAX_PLAYERS, Map, MapError};

/// What a `play` session starts with.
#[derive(Debug, Clone, PartialEq)]
pub enum StartScreen {
    /// The main menu.
    Menu,
    /// Straight into a practice match.
    Practice,
    /// The settings screen.
    Settings,
    /// The settings screen, testing the connection to the server.
    TestConnection,
    /// Create a room and play in it.
    Create,
    /// Join the room with this code (normalised, ungrouped).
    Join(String),
    /// The join screen with this code filled in (a browser link without a
    /// name: the player types one).
    JoinForm(String),
}

/// Validated configuration of the `play` command.
#[derive(Debug, Clone)]
pub struct PlayConfig {
    /// Screen shown first.
    pub start: StartScreen,
    /// AI opponents in practice, or bots joining a created room (0..=7).
    pub bots: usize,
    /// The player's settings: file, then env and CLI overrides.
    pub settings: Settings,
    /// Where the settings are saved (`None`: the OS gives no config directory).
    pub settings_path: Option<PathBuf>,
    /// A problem with the settings file, shown on the settings screen.
    pub settings_warning: Option<String>,
    /// Local address for WebRTC host candidates (`0.0.0.0`: every interface).
    pub bind_ip: IpAddr,
    /// Seed of the simulation and the AI (practice is deterministic given inputs).
    pub seed: u64,
    /// The arena map.
    pub map: Map,
    /// Save the frame shown at `exit_after` as a PNG here, then exit.
    pub screenshot: Option<PathBuf>,
    /// Exit (after saving the screenshot, if any) once this much time has passed.
    pub exit_after: Option<Duration>,
    /// Write every frame's duration (ms) here at exit.
    pub frame_times: Option<PathBuf>,
    /// Multisample anti-aliasing: a fixed number of samples, or chosen
    /// for the GL renderer once the window is open (`crate::ui::msaa`).
    pub msaa: Msaa,
    /// Play no sound.
    pub mute: bool,
}

/// Why a configuration was refused: shown to the person as is.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// `--bots` out of range.
    #[error("--bots must be between 0 and {max}, got {got}", max = MAX_PLAYERS - 1)]
    Bots {
        /// The value given.
        got: usize,
    },
    /// A setting given on the command line or in the environment is invalid.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// `--room` is not a room code.
    #[error("--room {got:?}: {reason}")]
    Room {
        /// The value given.
        got: String,
        /// What is wrong with it.
        reason: String,
    },
    /// `--msaa` not auto, 1, 2, 4 or 8.
    #[error("--msaa must be auto, 1 (off), 2, 4 or 8, got {0}")]
    Msaa(u8),
    /// `--exit-after` not a finite, non-negative number of seconds.
    #[error("--exit-after must be a number of seconds ≥ 0, got {0}")]
    ExitAfter(f64),
    /// The map file could not be read.
    #[error("cannot read map file {path}: {source}")]
    MapRead {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The map file is not a valid map.
    #[error("invalid map file {path}: {source}")]
    MapInvalid {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        source: MapError,
    },
}

/// Practice opponents when `--bots` is not given.
pub const DEFAULT_PRACTICE_BOTS: usize = 3;

/// Anti-aliasing samples `--msaa auto` (the default) picks on a hardware
/// renderer; on a software one it picks none.
pub const HARDWARE_MSAA: u8 = 4;

/// Multisample anti-aliasing as configured (`--msaa`, `ARENA_MSAA`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Msaa {
    /// Chosen once the window is open and the GL renderer is known:
    /// [`HARDWARE_MSAA`] samples on a GPU, none on a software rasteriser
    /// (llvmpipe and the like, where 4x MSAA doubles the frame time).
    #[default]
    Auto,
    /// This many samples (1: off), whatever the renderer.
    Samples(u8),
}

impl std::str::FromStr for Msaa {
    type Err = String;

    /// `auto` or a number of samples (checked by [`PlayArgs::validate`]).
    fn from_str(s: &str) -> Result<Msaa, String> {
        if s.trim().eq_ignore_ascii_case("auto") {
            return Ok(Msaa::Auto);
        }
        s.trim()
            .parse()
            .map(Msaa::Samples)
            .map_err(|_| format!("expected auto, 1 (off), 2, 4 or 8, got {s:?}"))
    }
}

impl std::fmt::Display for Msaa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Msaa::Auto => f.write_str("auto"),
            Msaa::Samples(n) => write!(f, "{n}"),
        }
    }
}

/// Raw `play` options, as parsed from flags and env (clap), before validation.
#[cfg(not(target_arch = "wasm32"))]
#[derive(Debug, Clone, clap::Args)]
pub struct PlayArgs {
    /// Go straight into a practice match against AI opponents.
    #[arg(long, conflicts_with_all = ["create", "room"])]
    pub practice: bool,
    /// Create a room and play in it (prints `ROOM <code>` and `SERVER <url>` on stdout).
    #[arg(long, conflicts_with = "room")]
    pub create: bool,
    /// Join the room with this code (any case; spaces and dashes ignored).
    #[arg(long, value_name = "CODE")]
    pub room: Option<String>,
    /// Open the settings screen first.
    #[arg(long = "settings", conflicts_with_all = ["practice", "create", "room"])]
    pub open_settings: bool,
    /// Open the settings screen and test the connection to the server (as
    /// its Test connection button does; `arena doctor` is the same in a terminal).
    #[arg(long, conflicts_with_all = ["practice", "create", "room", "open_settings"])]
    pub test_connection: bool,
    /// AI opponents in practice (default 3), or bots that join the room you
    /// create, over the real network (default 0). 0-7.
    #[arg(long, env = "ARENA_BOTS")]
    pub bots: Option<usize>,
    /// Settings given by env and CLI.
    #[command(flatten)]
    pub overrides: Overrides,
    /// Settings file (default: the OS config directory's p2p-arena/settings.toml).
    #[arg(long = "config", env = "ARENA_CONFIG", value_name = "PATH")]
    pub settings_path: Option<PathBuf>,
    /// Local IP address for WebRTC (0.0.0.0: every interface).
    #[arg(long = "bind", env = "ARENA_BIND", value_name = "IP", default_value_t = IpAddr::V4(Ipv4Addr::UNSPECIFIED))]
    pub bind_ip: IpAddr,
    /// Seed of the simulation and the AI (random when absent).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Arena map file (TOML); the built-in arena when absent.
    #[arg(long, env = "ARENA_MAP")]
    pub map: Option<PathBuf>,
    /// Save a PNG of the frame shown at --exit-after, then exit.
    #[arg(long, requires = "exit_after")]
    pub screenshot: Option<PathBuf>,
    /// Exit after this many seconds (with --screenshot: after saving it).
    #[arg(long, value_name = "SECS")]
    pub exit_after: Option<f64>,
    /// Write every frame's duration and the game's own share of it (ms, one
    /// frame per line: `period work`) here at exit (benchmarks).
    #[arg(long, value_name = "PATH")]
    pub frame_times: Option<PathBuf>,
    /// Anti-aliasing samples: auto, 1 (off), 2, 4 or 8. Auto: 4 on a GPU,
    /// off on a software renderer (llvmpipe: Xvfb, VMs, remote desktops).
    #[arg(long, env = "ARENA_MSAA", value_name = "auto|N", default_value_t = Msaa::Auto)]
    pub msaa: Msaa,
    /// Play no sound.
    #[arg(long, env = "ARENA_MUTE")]
    pub mute: bool,
}

#[cfg(not(target_arch = "wasm32"))]
impl Default for PlayArgs {
    fn default() -> Self {
        PlayArgs {
            practice: false,
            create: false,
            room: None,
            open_settings: false,
            test_connection: false,
            bots: None,
            overrides: Overrides::default(),
            settings_path: None,
            bind_ip: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            seed: None,
            map: None,
            screenshot: None,
            exit_after: None,
            frame_times: None,
            msaa: Msaa::Auto,
            mute: false,
        }
    }
}

/// The settings as flags and environment variables: one of each per entry of
/// [`FIELDS`] (`--send-rate`, `ARENA_SEND_RATE`), with its doc as help. clap
/// checks each value with [`crate::settings::Field::set_text`], so a value
/// that is no value of its setting is refused like any bad flag.
#[cfg(not(target_arch = "wasm32"))]
impl clap::Args for Overrides {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        cmd.args(FIELDS.iter().map(|f| {
            let arg = clap::Arg::new(f.key)
                .long(f.flag)
                .env(f.env)
                .help(format!("{} (Saved setting.)", f.describe()))
                .value_parser(move |text: &str| {
                    f.set_text(&mut Settings::default(), text)
                        .map(|()| text.to_owned())
                        .map_err(|e| e.to_string())
                });
            match f.kind {
                Kind::IceServers => arg.action(clap::ArgAction::Append),
                _ => arg,
            }
        }))
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}

#[cfg(not(target_arch = "wasm32"))]
impl clap::FromArgMatches for Overrides {
    fn from_arg_matches(matches: &clap::ArgMatches) -> Result<Self, clap::Error> {
        let mut o = Overrides::default();
        for f in FIELDS {
            if let Some(texts) = matches.get_many::<String>(f.key) {
                let texts: Vec<&str> = texts.map(String::as_str).collect();
                o = o.with(f.key, texts.join(","));
            }
        }
        Ok(o)
    }

    fn update_from_arg_matches(&mut self, matches: &clap::ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

#[cfg(not(target_arch = "wasm32"))]
impl PlayArgs {
    /// Validates the raw options (reading the settings and map files).
    /// `fallback_seed` is used when no seed was given.
    pub fn validate(self, fallback_seed: u64) -> Result<PlayConfig, ConfigError> {
        let bots = self.bots.unwrap_or(if self.practice {
            DEFAULT_PRACTICE_BOTS
        } else {
            0
        });
        if bots >= MAX_PLAYERS {
            return Err(ConfigError::Bots { got: bots });
        }
        if let Msaa::Samples(n) = self.msaa {
            if ![1, 2, 4, 8].contains(&n) {
                return Err(ConfigError::Msaa(n));
            }
        }
        let exit_after = match self.exit_after {
            None => None,
            Some(s) if s.is_finite() && s >= 0.0 => Some(Duration::from_secs_f64(s)),
            Some(s) => return Err(ConfigError::ExitAfter(s)),
        };
        let settings_path = self.settings_path.or_else(crate::settings::default_path);
        let (mut settings, settings_warning) = match &settings_path {
            Some(path) => {
                let loaded = crate::settings::load(path);
                (loaded.settings, loaded.warning)
            }
            None => (Settings::default(), None),
        };
        if let Some(w) = &settings_warning {
            tracing::warn!("{w}");
        }
        settings.apply(&self.overrides)?;
        settings.validate()?;
        let start = match (&self.room, self.create, self.practice, self.open_settings) {
            (Some(code), ..) => {
                let code = arena_server::protocol::normalize_code(code).map_err(|e| {
                    ConfigError::Room {
                        got: code.clone(),
                        reason: e.to_string(),
                    }
                })?;
                StartScreen::Join(code.as_str().to_owned())
            }
            (None, true, ..) => StartScreen::Create,
            (None, false, true, _) => StartScreen::Practice,
            (None, false, false, true) => StartScreen::Settings,
            _ if self.test_connection => StartScreen::TestConnection,
            _ => StartScreen::Menu,
        };
        let map = match self.map {
            None => Map::builtin(),
            Some(path) => {
                let text =
                    std::fs::read_to_string(&path).map_err(|source| ConfigError::MapRead {
                        path: path.clone(),
                        source,
                    })?;
                Map::parse(&text).map_err(|source| ConfigError::MapInvalid { path, source })?
            }
        };
        Ok(PlayConfig {
            start,
            bots,
            settings,
            settings_path,
            settings_warning,
            bind_ip: self.bind_ip,
            seed: self.seed.unwrap_or(fallback_seed),
            map,
            screenshot: self.screenshot,
            exit_after,
            frame_times: self.frame_times,
            msaa: self.msaa,
            mute: self.mute,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> PlayArgs {
        // A settings file that does not exist: defaults, nothing written.
        let dir = std::env::temp_dir().join(format!("arena-config-test-{}", std::process::id()));
        PlayArgs {
            bots: Some(3),
            overrides: Overrides::default().with("name", "Ada"),
            settings_path: Some(dir.join("missing.toml")),
            ..PlayArgs::default()
        }
    }

    #[test]
    fn defaults_validate() {
        let c = args().validate(7).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.bots, 3);
        assert_eq!(c.seed, 7);
        assert_eq!(c.start, StartScreen::Menu);
        assert_eq!(c.settings.name, "Ada");
        let practice = PlayArgs {
            practice: true,
            bots: None,
            ..args()
        };
        assert_eq!(
            practice.validate(0).map(|c| c.bots).ok(),
            Some(DEFAULT_PRACTICE_BOTS)
        );
        let create = PlayArgs {
            create: true,
            bots: None,
            ..args()
        };
        let c = create.validate(0).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((c.start, c.bots), (StartScreen::Create, 0));
    }

    #[test]
    fn room_codes_are_normalised_or_refused() {
        let join = |code: &str| {
            PlayArgs {
                room: Some(code.into()),
                ..args()
            }
            .validate(0)
        };
        assert_eq!(
            join("abcd efgh").map(|c| c.start).ok(),
            Some(StartScreen::Join("ABCDEFGH".into()))
        );
        let err = join("abc").err().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            err.contains("--room") && err.contains("8 characters"),
            "{err}"
        );
    }

    #[test]
    fn msaa_is_auto_unless_set() {
        use clap::Parser;
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            play: PlayArgs,
        }
        let msaa = |argv: &[&str]| Cli::try_parse_from(argv).map(|c| c.play.msaa).ok();
        // ARENA_MSAA in the test's environment would change the default.
        if std::env::var_os("ARENA_MSAA").is_none() {
            assert_eq!(msaa(&["arena"]), Some(Msaa::Auto));
        }
        assert_eq!(msaa(&["arena", "--msaa", "4"]), Some(Msaa::Samples(4)));
        assert_eq!(msaa(&["arena", "--msaa", "1"]), Some(Msaa::Samples(1)));
        assert_eq!(msaa(&["arena", "--msaa", "Auto"]), Some(Msaa::Auto));
        assert_eq!(msaa(&["arena", "--msaa", "many"]), None);
        let c = args().validate(0).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.msaa, Msaa::Auto);
    }

    #[test]
    fn refuses_bad_values() {
        assert!(matches!(
            PlayArgs {
                bots: Some(8),
                ..args()
            }
            .validate(0),
            Err(ConfigError::Bots { got: 8 })
        ));
        let blank = PlayArgs {
            overrides: Overrides::default().with("name", "  "),
            ..args()
        };
        assert!(matches!(blank.validate(0), Err(ConfigError::Settings(_))));
        assert!(matches!(
            PlayArgs {
                exit_after: Some(f64::NAN),
                ..args()
            }
            .validate(0),
            Err(ConfigError::ExitAfter(_))
        ));
        assert!(matches!(
            PlayArgs {
                msaa: Msaa::Samples(3),
                ..args()
            }
            .validate(0),
            Err(ConfigError::Msaa(3))
        ));
        let missing = PlayArgs {
            map: Some("/nonexistent/map.toml".into()),
            ..args()
        };
        let err = missing
            .validate(0)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("cannot read map file"), "{err}");
    }
}
