//! Configuration of `arena play`, turned from raw CLI flags into one
//! validated struct.
//!
//! Precedence is defaults < settings file < env < CLI: the settings file is
//! read here ([`crate::settings`]), env and CLI arrive together as
//! [`Overrides`] (clap's `env` fallbacks). This module only reads files and
//! validates: it opens no window and no socket.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Duration;

use thiserror::Error;

use crate::settings::{Overrides, Settings, SettingsError};
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
    /// Multisample anti-aliasing samples (1: off).
    pub msaa: u8,
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
    /// `--msaa` not 1, 2, 4 or 8.
    #[error("--msaa must be 1 (off), 2, 4 or 8, got {0}")]
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

/// Longest player name, in characters.
pub const MAX_NAME_LEN: usize = 16;

/// Practice opponents when `--bots` is not given.
pub const DEFAULT_PRACTICE_BOTS: usize = 3;

/// Raw `play` options, as parsed from flags and env, before validation.
#[derive(Debug, Clone)]
pub struct PlayArgs {
    /// Go straight into practice.
    pub practice: bool,
    /// Create a room at once.
    pub create: bool,
    /// Join this room at once.
    pub room: Option<String>,
    /// Open the settings screen first.
    pub open_settings: bool,
    /// Open the settings screen and test the connection.
    pub test_connection: bool,
    /// AI opponents (practice) or room bots (`--create`); `None`: the default.
    pub bots: Option<usize>,
    /// Seed; `None` picks one from the OS clock of the binary (not of the sim).
    pub seed: Option<u64>,
    /// Map file; `None` is the built-in arena.
    pub map: Option<PathBuf>,
    /// Screenshot target.
    pub screenshot: Option<PathBuf>,
    /// Exit after this many seconds.
    pub exit_after: Option<f64>,
    /// Write frame durations here at exit.
    pub frame_times: Option<PathBuf>,
    /// Anti-aliasing samples: 1, 2, 4 or 8.
    pub msaa: u8,
    /// No sound.
    pub mute: bool,
    /// Settings given by env and CLI.
    pub overrides: Overrides,
    /// Settings file; `None`: the OS config directory's.
    pub settings_path: Option<PathBuf>,
    /// Local address for WebRTC.
    pub bind_ip: IpAddr,
}

impl Default for PlayArgs {
    fn default() -> Self {
        PlayArgs {
            practice: false,
            create: false,
            room: None,
            open_settings: false,
            test_connection: false,
            bots: None,
            seed: None,
            map: None,
            screenshot: None,
            exit_after: None,
            frame_times: None,
            msaa: 4,
            mute: false,
            overrides: Overrides::default(),
            settings_path: None,
            bind_ip: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        }
    }
}

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
        if ![1, 2, 4, 8].contains(&self.msaa) {
            return Err(ConfigError::Msaa(self.msaa));
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
        settings.apply(&self.overrides);
        settings.name = settings.name.trim().to_owned();
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
            overrides: Overrides {
                name: Some("Ada".into()),
                ..Overrides::default()
            },
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
            overrides: Overrides {
                name: Some("  ".into()),
                ..Overrides::default()
            },
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
