//! Settings of the game, turned from raw CLI flags into one validated struct.
//!
//! Precedence is defaults < env < CLI (clap's `env` fallbacks); a settings
//! file and the settings menu join the chain later. This module only parses
//! and validates: it opens no window and no socket.

use std::path::PathBuf;
use std::time::Duration;

use thiserror::Error;

use crate::sim::{MAX_PLAYERS, Map, MapError};

/// What a `play` session starts with.
#[derive(Debug, Clone, PartialEq)]
pub enum StartScreen {
    /// The main menu.
    Menu,
    /// Straight into a practice match.
    Practice,
}

/// Validated configuration of the `play` command.
#[derive(Debug, Clone)]
pub struct PlayConfig {
    /// Screen shown first.
    pub start: StartScreen,
    /// AI opponents in practice (0..=7).
    pub bots: usize,
    /// The local player's name.
    pub name: String,
    /// Seed of the simulation and the AI (practice is deterministic given inputs).
    pub seed: u64,
    /// The arena map.
    pub map: Map,
    /// Save the frame shown at `exit_after` as a PNG here, then exit.
    pub screenshot: Option<PathBuf>,
    /// Exit (after saving the screenshot, if any) once this much time has passed.
    pub exit_after: Option<Duration>,
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
    /// A player name that is empty or too long.
    #[error("the player name must be 1 to {max} characters, got {got:?}", max = MAX_NAME_LEN)]
    Name {
        /// The value given.
        got: String,
    },
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

/// Raw `play` options, as parsed from flags and env, before validation.
#[derive(Debug, Clone, Default)]
pub struct PlayArgs {
    /// Go straight into practice.
    pub practice: bool,
    /// AI opponents.
    pub bots: usize,
    /// Player name.
    pub name: String,
    /// Seed; `None` picks one from the OS clock of the binary (not of the sim).
    pub seed: Option<u64>,
    /// Map file; `None` is the built-in arena.
    pub map: Option<PathBuf>,
    /// Screenshot target.
    pub screenshot: Option<PathBuf>,
    /// Exit after this many seconds.
    pub exit_after: Option<f64>,
    /// No sound.
    pub mute: bool,
}

impl PlayArgs {
    /// Validates the raw options. `fallback_seed` is used when no seed was given.
    pub fn validate(self, fallback_seed: u64) -> Result<PlayConfig, ConfigError> {
        if self.bots >= MAX_PLAYERS {
            return Err(ConfigError::Bots { got: self.bots });
        }
        let name = self.name.trim().to_owned();
        if name.is_empty() || name.chars().count() > MAX_NAME_LEN {
            return Err(ConfigError::Name { got: self.name });
        }
        let exit_after = match self.exit_after {
            None => None,
            Some(s) if s.is_finite() && s >= 0.0 => Some(Duration::from_secs_f64(s)),
            Some(s) => return Err(ConfigError::ExitAfter(s)),
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
            start: if self.practice {
                StartScreen::Practice
            } else {
                StartScreen::Menu
            },
            bots: self.bots,
            name,
            seed: self.seed.unwrap_or(fallback_seed),
            map,
            screenshot: self.screenshot,
            exit_after,
            mute: self.mute,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> PlayArgs {
        PlayArgs {
            bots: 3,
            name: "Ada".into(),
            ..PlayArgs::default()
        }
    }

    #[test]
    fn defaults_validate() {
        let c = args().validate(7).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.bots, 3);
        assert_eq!(c.seed, 7);
        assert_eq!(c.start, StartScreen::Menu);
    }

    #[test]
    fn refuses_bad_values() {
        assert!(matches!(
            PlayArgs { bots: 8, ..args() }.validate(0),
            Err(ConfigError::Bots { got: 8 })
        ));
        assert!(matches!(
            PlayArgs {
                name: "  ".into(),
                ..args()
            }
            .validate(0),
            Err(ConfigError::Name { .. })
        ));
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
