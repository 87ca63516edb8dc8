//! The player's settings: what they are, where they live, how they are read,
//! repaired, overridden and written back.
//!
//! Owns [`Settings`] (name, colour, network mode, server, rates, ICE/TURN,
//! link conditioner, net graph), its TOML file in the OS config directory
//! ([`default_path`]), the lenient loader ([`load`]: a bad file never stops
//! the game, it falls back to defaults field by field and says why), the
//! atomic writer ([`Settings::save`]: a file it could not read is kept as
//! `settings.toml.bad`, never overwritten) and the env/CLI layer
//! ([`Overrides`]). Precedence is defaults < settings file < env < CLI; the
//! binary parses flags and env and calls [`Settings::apply`]. It must not
//! touch macroquad or sockets: the settings screen (`ui::settings`) and the
//! net thread only read and hand back values of these types.
//!
//! # File format
//!
//! ```toml
//! name = "Ada"
//! color = 2                          # 0-7
//! mode = "hybrid"                    # "hybrid" | "webrtc" | "signaling"
//! server_url = "http://10.0.0.5:3536" # absent or "": host on this machine
//! host_addr = "0.0.0.0:3536"
//! send_rate_hz = 20.0                # 5-60
//! interp_delay = "auto"              # "auto" or milliseconds 0-500, e.g. 120
//! ice_servers = ["stun:stun.example.org:3478", "turn:turn.example.org:3478"]
//! turn_user = "ada"
//! turn_pass = "secret"
//! latency_ms = 0.0                   # 0-1000
//! jitter_ms = 0.0                    # 0-500
//! loss = 0.0                         # 0-0.5 (fraction of messages dropped)
//! net_graph = false
//! ```

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::io::Write as _;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use arena_server::protocol::IceServer;
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

use crate::config::MAX_NAME_LEN;
use crate::net::{LinkConditions, NetMode};
use crate::sync::DelayMode;
use crate::sync::throttle::{DEFAULT_RATE_HZ, MAX_RATE_HZ, MIN_RATE_HZ};

/// Player name used when none is set (or the one set is unusable).
pub const DEFAULT_NAME: &str = "Player";
/// Number of player colours (indices `0..COLORS`).
pub const COLORS: u8 = 8;
/// Where the embedded server listens by default.
pub const DEFAULT_HOST_ADDR: SocketAddr =
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 3536));
/// Largest fixed interpolation delay, milliseconds.
pub const MAX_INTERP_DELAY_MS: u32 = 500;
/// Largest added latency of the link conditioner, milliseconds.
pub const MAX_LATENCY_MS: f64 = 1000.0;
/// Largest jitter of the link conditioner, milliseconds.
pub const MAX_JITTER_MS: f64 = 500.0;
/// Largest loss of the link conditioner (fraction of messages dropped).
pub const MAX_LOSS: f64 = 0.5;
/// What [`Settings::server_label`] says when the game hosts the server itself.
pub const HOST_HERE: &str = "host on this machine";
/// URL schemes accepted in [`Settings::ice_servers`].
pub const ICE_SCHEMES: [&str; 4] = ["stun:", "stuns:", "turn:", "turns:"];

/// How far behind remote players are drawn.
///
/// In the settings file: `interp_delay = "auto"` or a number of milliseconds
/// (`interp_delay = 120`; the strings `"120"` and `"120ms"` are accepted too).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InterpDelay {
    /// Measured from arrivals (adaptive playout delay).
    #[default]
    Auto,
    /// A fixed buffering delay, milliseconds (0..=500).
    FixedMs(u32),
}

impl InterpDelay {
    /// The playout-delay mode of `sync` this setting stands for.
    pub fn to_delay_mode(self) -> DelayMode {
        match self {
            InterpDelay::Auto => DelayMode::default(),
            InterpDelay::FixedMs(ms) => DelayMode::Fixed(f64::from(ms) / 1000.0),
        }
    }
}

impl fmt::Display for InterpDelay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InterpDelay::Auto => f.write_str("auto"),
            InterpDelay::FixedMs(ms) => write!(f, "{ms}ms"),
        }
    }
}

/// Parses `"auto"` or milliseconds (`"120"`, `"120ms"`, `"120 ms"`) without
/// a range check; `None` if it is neither.
fn parse_interp(s: &str) -> Option<InterpDelay> {
    let s = s.trim().to_ascii_lowercase();
    if s == "auto" {
        return Some(InterpDelay::Auto);
    }
    let digits = s.strip_suffix("ms").unwrap_or(&s).trim();
    digits.parse::<u32>().ok().map(InterpDelay::FixedMs)
}

impl FromStr for InterpDelay {
    type Err = SettingsError;

    /// `"auto"`, or 0 to 500 milliseconds: `"120"`, `"120ms"`, `"120 ms"`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match parse_interp(s) {
            Some(InterpDelay::FixedMs(ms)) if ms > MAX_INTERP_DELAY_MS => {
                Err(SettingsError::InterpDelay { got: s.to_owned() })
            }
            Some(d) => Ok(d),
            None => Err(SettingsError::InterpDelay { got: s.to_owned() }),
        }
    }
}

impl Serialize for InterpDelay {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            InterpDelay::Auto => serializer.serialize_str("auto"),
            InterpDelay::FixedMs(ms) => serializer.serialize_u32(*ms),
        }
    }
}

impl<'de> Deserialize<'de> for InterpDelay {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct InterpVisitor;

        impl Visitor<'_> for InterpVisitor {
            type Value = InterpDelay;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("\"auto\" or a number of milliseconds")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<InterpDelay, E> {
                parse_interp(v).ok_or_else(|| E::invalid_value(de::Unexpected::Str(v), &self))
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<InterpDelay, E> {
                u32::try_from(v)
                    .map(InterpDelay::FixedMs)
                    .or_else(|_| match v {
                        ..0 => Err(E::invalid_value(de::Unexpected::Signed(v), &self)),
                        _ => Ok(InterpDelay::FixedMs(u32::MAX)),
                    })
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<InterpDelay, E> {
                Ok(InterpDelay::FixedMs(u32::try_from(v).unwrap_or(u32::MAX)))
            }

            fn visit_f64<E: de::Error>(self, v: f64) -> Result<InterpDelay, E> {
                if v.is_finite() && v >= 0.0 {
                    // Saturating float-to-int cast: huge values are clamped later.
                    Ok(InterpDelay::FixedMs(v.round() as u32))
                } else {
                    Err(E::invalid_value(de::Unexpected::Float(v), &self))
                }
            }
        }

        deserializer.deserialize_any(InterpVisitor)
    }
}

/// The player's settings, as stored in `settings.toml`.
///
/// Every field missing from the file takes its default. Ranges are checked
/// by [`Settings::validate`] and repaired by [`Settings::sanitized`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Player name, 1 to [`MAX_NAME_LEN`] characters.
    pub name: String,
    /// Preferred colour index, `0..COLORS`.
    pub color: u8,
    /// Network mode.
    pub mode: NetMode,
    /// Signaling server (`http://` or `https://`); `None`: host on this machine.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_url: Option<String>,
    /// Where the embedded server listens when hosting on this machine.
    pub host_addr: SocketAddr,
    /// Game state send rate, Hz (5..=60).
    pub send_rate_hz: f64,
    /// Interpolation delay of remote players.
    pub interp_delay: InterpDelay,
    /// STUN/TURN URLs (`stun:`, `stuns:`, `turn:`, `turns:`); empty: host
    /// candidates only, which is enough on a LAN and offline.
    pub ice_servers: Vec<String>,
    /// TURN username for the `turn:` URLs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub turn_user: Option<String>,
    /// TURN password for the `turn:` URLs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub turn_pass: Option<String>,
    /// Link conditioner: added one-way latency, ms (0..=1000).
    pub latency_ms: f64,
    /// Link conditioner: jitter, ms (0..=500).
    pub jitter_ms: f64,
    /// Link conditioner: fraction of messages dropped (0..=0.5).
    pub loss: f64,
    /// Show the network graph in matches.
    pub net_graph: bool,
    /// Token for creating rooms on a server started with `--create-token`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub create_token: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            name: DEFAULT_NAME.to_owned(),
            color: 0,
            mode: NetMode::default(),
            server_url: None,
            host_addr: DEFAULT_HOST_ADDR,
            send_rate_hz: DEFAULT_RATE_HZ,
            interp_delay: InterpDelay::Auto,
            ice_servers: Vec::new(),
            turn_user: None,
            turn_pass: None,
            latency_ms: 0.0,
            jitter_ms: 0.0,
            loss: 0.0,
            net_graph: false,
            create_token: None,
        }
    }
}

/// Why settings were refused or could not be saved: shown to the person as is.
#[derive(Debug, Error)]
pub enum SettingsError {
    /// A player name that is empty, too long or has control characters.
    #[error(
        "name must be 1 to {max} characters (no control characters), got {got:?}",
        max = MAX_NAME_LEN
    )]
    Name {
        /// The value given.
        got: String,
    },
    /// A colour index out of range.
    #[error("color must be 0 to {max}, got {got}", max = COLORS - 1)]
    Color {
        /// The value given.
        got: u8,
    },
    /// A server URL that is not http(s).
    #[error(
        "server_url must start with http:// or https:// (or be empty to host on this machine), got {got:?}"
    )]
    ServerUrl {
        /// The value given.
        got: String,
    },
    /// A number outside its range (or not finite).
    #[error("{field} must be between {min} and {max}{unit}, got {got}")]
    OutOfRange {
        /// The settings key.
        field: &'static str,
        /// The value given.
        got: f64,
        /// Smallest allowed value.
        min: f64,
        /// Largest allowed value.
        max: f64,
        /// Unit suffix, e.g. `" Hz"`.
        unit: &'static str,
    },
    /// An interpolation delay that is neither `auto` nor 0–500 ms.
    #[error(
        "interp_delay must be \"auto\" or 0 to {max} ms (e.g. 120 or 120ms), got {got:?}",
        max = MAX_INTERP_DELAY_MS
    )]
    InterpDelay {
        /// The value given.
        got: String,
    },
    /// An ICE server URL with an unknown scheme.
    #[error("ice_servers entries must start with stun:, stuns:, turn: or turns:, got {got:?}")]
    IceServer {
        /// The value given.
        got: String,
    },
    /// A file-system operation on the settings file failed.
    #[error("cannot {action} {path}: {source}")]
    Io {
        /// What was being done ("write", "create the folder", …).
        action: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The settings could not be encoded as TOML (a bug, not a user error).
    #[error("cannot encode the settings as TOML: {0}")]
    Encode(#[from] toml::ser::Error),
}

impl SettingsError {
    /// The settings key this error is about, if any (e.g. `"server_url"`).
    pub fn field(&self) -> Option<&'static str> {
        match self {
            SettingsError::Name { .. } => Some("name"),
            SettingsError::Color { .. } => Some("color"),
            SettingsError::ServerUrl { .. } => Some("server_url"),
            SettingsError::OutOfRange { field, .. } => Some(field),
            SettingsError::InterpDelay { .. } => Some("interp_delay"),
            SettingsError::IceServer { .. } => Some("ice_servers"),
            SettingsError::Io { .. } | SettingsError::Encode(_) => None,
        }
    }
}

/// Values from the environment or the command line that win over the file.
///
/// `None` leaves the setting as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Overrides {
    /// Player name.
    pub name: Option<String>,
    /// Colour index.
    pub color: Option<u8>,
    /// Network mode.
    pub mode: Option<NetMode>,
    /// Server URL; `""`, `"embedded"` or `"host"` mean host on this machine.
    pub server_url: Option<String>,
    /// Embedded server address.
    pub host_addr: Option<SocketAddr>,
    /// Send rate, Hz.
    pub send_rate_hz: Option<f64>,
    /// Interpolation delay.
    pub interp_delay: Option<InterpDelay>,
    /// ICE server URLs (replace the file's list).
    pub ice_servers: Option<Vec<String>>,
    /// TURN username (`""` clears it).
    pub turn_user: Option<String>,
    /// TURN password (`""` clears it).
    pub turn_pass: Option<String>,
    /// Added latency, ms.
    pub latency_ms: Option<f64>,
    /// Jitter, ms.
    pub jitter_ms: Option<f64>,
    /// Loss fraction.
    pub loss: Option<f64>,
    /// Net graph on or off.
    pub net_graph: Option<bool>,
    /// Room-creation token.
    pub create_token: Option<String>,
}

/// What [`load`] found: the settings to use and, if the file had problems,
/// one human sentence saying which and what was done about them.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    /// The settings (defaults where the file was missing or unusable).
    pub settings: Settings,
    /// Problems with the file, for a log line and the settings screen.
    pub warning: Option<String>,
}

/// The settings file in the OS config directory
/// (`~/.config/p2p-arena/settings.toml` on Linux); `None` when the OS has
/// no home directory.
pub fn default_path() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "p2p-arena")
        .map(|dirs| dirs.config_dir().join("settings.toml"))
}

/// `""`, `"embedded"` and `"host"` (any case, surrounding spaces ignored)
/// mean "host on this machine" (`None`); anything else is the URL, trimmed.
pub fn server_url_from_input(s: &str) -> Option<String> {
    let s = s.trim();
    if s.is_empty() || s.eq_ignore_ascii_case("embedded") || s.eq_ignore_ascii_case("host") {
        None
    } else {
        Some(s.to_owned())
    }
}

/// Splits a comma- or space-separated list of ICE URLs (the settings screen's
/// field, `--ice` flags), dropping empty entries.
pub fn ice_list_from_input(s: &str) -> Vec<String> {
    s.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|u| !u.is_empty())
        .map(str::to_owned)
        .collect()
}

fn has_scheme(url: &str, schemes: &[&str]) -> bool {
    !url.chars().any(char::is_whitespace)
        && schemes.iter().any(|s| {
            url.len() > s.len()
                && url
                    .get(..s.len())
                    .is_some_and(|head| head.eq_ignore_ascii_case(s))
        })
}

fn valid_server_url(url: &str) -> bool {
    has_scheme(url, &["http://", "https://"])
}

fn valid_ice_url(url: &str) -> bool {
    has_scheme(url, &ICE_SCHEMES)
}

fn valid_name(name: &str) -> bool {
    let n = name.chars().count();
    (1..=MAX_NAME_LEN).contains(&n) && !name.chars().any(char::is_control)
}

/// One repair made by [`Settings::sanitized`]: which key, what was done.
struct Repair {
    key: &'static str,
    message: String,
}

/// `v` clamped to `min..=max`; `default` if not finite. The message says what changed.
fn clamp_f64(
    key: &'static str,
    v: f64,
    (min, max, default): (f64, f64, f64),
    unit: &str,
    repairs: &mut Vec<Repair>,
) -> f64 {
    let fixed = if v.is_finite() {
        v.clamp(min, max)
    } else {
        default
    };
    // Clamping keeps a finite in-range value bit for bit.
    if fixed.to_bits() != v.to_bits() {
        repairs.push(Repair {
            key,
            message: format!("{key} {v} is outside {min}–{max}{unit}; using {fixed}"),
        });
    }
    fixed
}

impl Settings {
    /// Checks every field; the first problem found is the error.
    pub fn validate(&self) -> Result<(), SettingsError> {
        if !valid_name(&self.name) || self.name.trim() != self.name {
            return Err(SettingsError::Name {
                got: self.name.clone(),
            });
        }
        if self.color >= COLORS {
            return Err(SettingsError::Color { got: self.color });
        }
        if let Some(url) = &self.server_url {
            if !valid_server_url(url) {
                return Err(SettingsError::ServerUrl { got: url.clone() });
            }
        }
        let ranges: [(&'static str, f64, f64, f64, &'static str); 4] = [
            (
                "send_rate_hz",
                self.send_rate_hz,
                MIN_RATE_HZ,
                MAX_RATE_HZ,
                " Hz",
            ),
            ("latency_ms", self.latency_ms, 0.0, MAX_LATENCY_MS, " ms"),
            ("jitter_ms", self.jitter_ms, 0.0, MAX_JITTER_MS, " ms"),
            ("loss", self.loss, 0.0, MAX_LOSS, ""),
        ];
        for (field, got, min, max, unit) in ranges {
            if !(got.is_finite() && (min..=max).contains(&got)) {
                return Err(SettingsError::OutOfRange {
                    field,
                    got,
                    min,
                    max,
                    unit,
                });
            }
        }
        if let InterpDelay::FixedMs(ms) = self.interp_delay {
            if ms > MAX_INTERP_DELAY_MS {
                return Err(SettingsError::InterpDelay {
                    got: format!("{ms}ms"),
                });
            }
        }
        if let Some(bad) = self.ice_servers.iter().find(|u| !valid_ice_url(u)) {
            return Err(SettingsError::IceServer { got: bad.clone() });
        }
        Ok(())
    }

    /// These settings with every invalid value repaired (clamped, or the
    /// default where there is nothing sensible to clamp to), and one line per
    /// repair. Whitespace around text and empty optional strings are
    /// normalised silently. The result always passes [`Settings::validate`].
    pub fn sanitized(self) -> (Settings, Vec<String>) {
        let (s, repairs) = self.repaired();
        (s, repairs.into_iter().map(|r| r.message).collect())
    }

    fn repaired(mut self) -> (Settings, Vec<Repair>) {
        let mut repairs = Vec::new();
        let d = Settings::default();

        let trimmed = self.name.trim();
        let clean: String = trimmed.chars().filter(|c| !c.is_control()).collect();
        if clean.chars().count() != trimmed.chars().count() {
            repairs.push(Repair {
                key: "name",
                message: "name had control characters; removed them".to_owned(),
            });
        }
        let clean = clean.trim();
        self.name = if clean.is_empty() {
            repairs.push(Repair {
                key: "name",
                message: format!("name is empty; using {DEFAULT_NAME:?}"),
            });
            d.name.clone()
        } else if clean.chars().count() > MAX_NAME_LEN {
            let cut: String = clean.chars().take(MAX_NAME_LEN).collect();
            let cut = cut.trim_end().to_owned();
            repairs.push(Repair {
                key: "name",
                message: format!(
                    "name {clean:?} is longer than {MAX_NAME_LEN} characters; using {cut:?}"
                ),
            });
            cut
        } else {
            clean.to_owned()
        };

        if self.color >= COLORS {
            repairs.push(Repair {
                key: "color",
                message: format!("color {} is not 0–{}; using 0", self.color, COLORS - 1),
            });
            self.color = d.color;
        }

        self.server_url = match self.server_url.as_deref().and_then(server_url_from_input) {
            Some(url) if !valid_server_url(&url) => {
                repairs.push(Repair {
                    key: "server_url",
                    message: format!(
                        "server_url {url:?} does not start with http:// or https://; hosting on this machine instead"
                    ),
                });
                None
            }
            other => other,
        };

        self.send_rate_hz = clamp_f64(
            "send_rate_hz",
            self.send_rate_hz,
            (MIN_RATE_HZ, MAX_RATE_HZ, d.send_rate_hz),
            " Hz",
            &mut repairs,
        );
        if let InterpDelay::FixedMs(ms) = self.interp_delay {
            if ms > MAX_INTERP_DELAY_MS {
                repairs.push(Repair {
                    key: "interp_delay",
                    message: format!(
                        "interp_delay {ms} ms is above {MAX_INTERP_DELAY_MS} ms; using {MAX_INTERP_DELAY_MS} ms"
                    ),
                });
                self.interp_delay = InterpDelay::FixedMs(MAX_INTERP_DELAY_MS);
            }
        }

        let mut ice = Vec::with_capacity(self.ice_servers.len());
        for url in self.ice_servers.iter().map(|u| u.trim()) {
            if url.is_empty() {
                continue;
            }
            if valid_ice_url(url) {
                ice.push(url.to_owned());
            } else {
                repairs.push(Repair {
                    key: "ice_servers",
                    message: format!(
                        "ice_servers entry {url:?} is not a stun:, stuns:, turn: or turns: URL; dropped it"
                    ),
                });
            }
        }
        self.ice_servers = ice;

        self.turn_user = self
            .turn_user
            .map(|u| u.trim().to_owned())
            .filter(|u| !u.is_empty());
        self.turn_pass = self.turn_pass.filter(|p| !p.is_empty());
        self.create_token = self
            .create_token
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty());

        self.latency_ms = clamp_f64(
            "latency_ms",
            self.latency_ms,
            (0.0, MAX_LATENCY_MS, 0.0),
            " ms",
            &mut repairs,
        );
        self.jitter_ms = clamp_f64(
            "jitter_ms",
            self.jitter_ms,
            (0.0, MAX_JITTER_MS, 0.0),
            " ms",
            &mut repairs,
        );
        self.loss = clamp_f64("loss", self.loss, (0.0, MAX_LOSS, 0.0), "", &mut repairs);
        (self, repairs)
    }

    /// Applies env/CLI overrides on top of these settings (later calls win).
    /// Values are taken as given: call [`Settings::validate`] afterwards to
    /// refuse a bad flag with a clear message.
    pub fn apply(&mut self, o: &Overrides) {
        if let Some(v) = &o.name {
            self.name = v.trim().to_owned();
        }
        if let Some(v) = o.color {
            self.color = v;
        }
        if let Some(v) = o.mode {
            self.mode = v;
        }
        if let Some(v) = &o.server_url {
            self.server_url = server_url_from_input(v);
        }
        if let Some(v) = o.host_addr {
            self.host_addr = v;
        }
        if let Some(v) = o.send_rate_hz {
            self.send_rate_hz = v;
        }
        if let Some(v) = o.interp_delay {
            self.interp_delay = v;
        }
        if let Some(v) = &o.ice_servers {
            self.ice_servers = v.iter().map(|u| u.trim().to_owned()).collect();
        }
        if let Some(v) = &o.turn_user {
            self.turn_user = Some(v.trim().to_owned()).filter(|u| !u.is_empty());
        }
        if let Some(v) = &o.turn_pass {
            self.turn_pass = Some(v.clone()).filter(|p| !p.is_empty());
        }
        if let Some(v) = &o.create_token {
            self.create_token = Some(v.trim().to_owned()).filter(|t| !t.is_empty());
        }
        if let Some(v) = o.latency_ms {
            self.latency_ms = v;
        }
        if let Some(v) = o.jitter_ms {
            self.jitter_ms = v;
        }
        if let Some(v) = o.loss {
            self.loss = v;
        }
        if let Some(v) = o.net_graph {
            self.net_graph = v;
        }
    }

    /// The ICE servers for the net thread: one entry with every URL and the
    /// TURN credentials, or none when no URL is set.
    pub fn ice_servers(&self) -> Vec<IceServer> {
        if self.ice_servers.is_empty() {
            return Vec::new();
        }
        vec![IceServer {
            urls: self.ice_servers.clone(),
            username: self.turn_user.clone(),
            credential: self.turn_pass.clone(),
        }]
    }

    /// The link conditioner, clamped to the settings' ranges.
    pub fn conditions(&self) -> LinkConditions {
        let c = LinkConditions {
            latency_ms: self.latency_ms,
            jitter_ms: self.jitter_ms,
            loss: self.loss,
        }
        .clamped();
        LinkConditions {
            latency_ms: c.latency_ms.min(MAX_LATENCY_MS),
            jitter_ms: c.jitter_ms.min(MAX_JITTER_MS),
            loss: c.loss.min(MAX_LOSS),
        }
    }

    /// Where the game connects, for menus: "host on this machine" or the URL.
    pub fn server_label(&self) -> String {
        self.server_url
            .clone()
            .unwrap_or_else(|| HOST_HERE.to_owned())
    }

    /// The file text: a comment header, then every key with a one-line
    /// comment (unset optional keys appear commented out, as examples).
    pub fn to_toml(&self) -> Result<String, SettingsError> {
        let table = match toml::Value::try_from(self)? {
            toml::Value::Table(t) => t,
            _ => toml::Table::new(),
        };
        let mut out = String::from(HEADER);
        for (key, comment, example) in KEY_DOCS {
            out.push('\n');
            for line in comment.lines() {
                let _ = writeln!(out, "# {line}");
            }
            match table.get(key) {
                Some(v) => {
                    let _ = writeln!(out, "{key} = {v}");
                }
                None => {
                    let _ = writeln!(out, "# {key} = {example}");
                }
            }
        }
        Ok(out)
    }

    /// Writes the settings to `path` atomically (a temporary file renamed
    /// over it), creating the folder. An existing file that does not parse
    /// cleanly is first renamed to `<name>.bad` so nothing is lost. On Unix
    /// the file is readable by its owner only (it may hold a TURN password).
    pub fn save(&self, path: &Path) -> Result<(), SettingsError> {
        let body = self.to_toml()?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| SettingsError::Io {
                action: "create the folder",
                path: dir.to_owned(),
                source,
            })?;
        }
        let keep = match std::fs::read(path) {
            Ok(bytes) => parse(&bytes).lossy,
            Err(e) => e.kind() != std::io::ErrorKind::NotFound,
        };
        if keep {
            let bad = sibling(path, ".bad");
            std::fs::rename(path, &bad).map_err(|source| SettingsError::Io {
                action: "keep the unreadable settings file as",
                path: bad.clone(),
                source,
            })?;
            tracing::warn!(
                "kept the previous settings file as {} (it could not be read)",
                bad.display()
            );
        }
        let tmp = sibling(path, ".tmp");
        let written = write_new(&tmp, body.as_bytes()).and_then(|()| std::fs::rename(&tmp, path));
        if let Err(source) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(SettingsError::Io {
                action: "write",
                path: path.to_owned(),
                source,
            });
        }
        Ok(())
    }
}

const HEADER: &str = "\
# P2P Arena settings, written by the game's Settings screen.
# You may edit this file while the game is closed: a missing key takes its
# default, a value out of range is clamped. Command-line flags and
# environment variables override what is here.
";

/// Key, comment, example for a key that is unset.
const KEY_DOCS: [(&str, &str, &str); 15] = [
    ("name", "Player name, 1 to 16 characters.", "\"Player\""),
    (
        "color",
        "Preferred colour, 0-7: blue, red, green, yellow, purple, orange, cyan, pink.",
        "0",
    ),
    (
        "mode",
        "Network mode: \"hybrid\" (WebRTC, relay fallback), \"webrtc\" or \"signaling\" (relay only).",
        "\"hybrid\"",
    ),
    (
        "server_url",
        "Signaling server (http:// or https://). Absent or \"\": host on this machine.",
        "\"http://192.168.1.10:3536\"",
    ),
    (
        "host_addr",
        "Where the server listens when hosting on this machine.",
        "\"0.0.0.0:3536\"",
    ),
    (
        "send_rate_hz",
        "Game state updates sent per second, 5-60.",
        "20.0",
    ),
    (
        "interp_delay",
        "Interpolation delay of remote players: \"auto\" or milliseconds 0-500.",
        "\"auto\"",
    ),
    (
        "ice_servers",
        "STUN/TURN URLs (stun:, stuns:, turn:, turns:). Empty: direct/LAN only.",
        "[\"stun:stun.example.org:3478\"]",
    ),
    ("turn_user", "TURN username.", "\"user\""),
    ("turn_pass", "TURN password.", "\"password\""),
    (
        "latency_ms",
        "Link conditioner, for testing: added latency 0-1000 ms.",
        "0.0",
    ),
    ("jitter_ms", "Link conditioner: jitter 0-500 ms.", "0.0"),
    (
        "loss",
        "Link conditioner: fraction of messages dropped, 0-0.5.",
        "0.0",
    ),
    ("net_graph", "Show the network graph in matches.", "false"),
    (
        "create_token",
        "Token for creating rooms on a server started with --create-token.",
        "\"token\"",
    ),
];

/// `path` with `suffix` appended to its file name (`settings.toml.bad`).
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "settings.toml".to_owned());
    path.with_file_name(format!("{name}{suffix}"))
}

fn write_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// What the file text gave.
struct Parsed {
    settings: Settings,
    /// Human descriptions of the problems, in file order where known.
    issues: Vec<String>,
    /// Something in the file could not be represented (syntax or type error,
    /// unknown key): saving over it would lose it.
    lossy: bool,
}

/// A parser message on one line (toml's may span several).
fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(", ")
}

/// 1-based line of byte offset `at` in `text`.
fn line_of(text: &str, at: usize) -> usize {
    text.get(..at).map_or(0, |t| t.matches('\n').count()) + 1
}

/// Parses a settings file leniently: a syntax error gives the defaults, a
/// bad or unknown key is skipped, an out-of-range value is repaired.
fn parse(bytes: &[u8]) -> Parsed {
    let fail = |issue: String| Parsed {
        settings: Settings::default(),
        issues: vec![issue],
        lossy: true,
    };
    let Ok(text) = std::str::from_utf8(bytes) else {
        return fail("not UTF-8 text; using defaults".to_owned());
    };
    let table: BTreeMap<String, toml::Spanned<toml::Value>> = match toml::from_str(text) {
        Ok(t) => t,
        Err(e) => {
            let at = e
                .span()
                .map(|s| format!("line {}: ", line_of(text, s.start)))
                .unwrap_or_default();
            return fail(format!("{at}{}; using defaults", one_line(e.message())));
        }
    };
    let defaults = match toml::Value::try_from(Settings::default()) {
        Ok(toml::Value::Table(t)) => t,
        _ => toml::Table::new(),
    };
    let mut s = Settings::default();
    // (line, description), sorted by line at the end.
    let mut issues: Vec<(usize, String)> = Vec::new();
    let mut lossy = false;
    let mut lines: BTreeMap<&str, usize> = BTreeMap::new();
    for (key, spanned) in &table {
        let line = line_of(text, spanned.span().start);
        let value = spanned.get_ref().clone();
        let result = match key.as_str() {
            "name" => value.try_into().map(|v| s.name = v),
            "color" => value.try_into::<i64>().map(|v| {
                // Out of u8 range still reads as out of colour range.
                s.color = u8::try_from(v).unwrap_or(u8::MAX);
            }),
            "mode" => value.try_into().map(|v| s.mode = v),
            "server_url" => value.try_into().map(|v| s.server_url = Some(v)),
            "host_addr" => value.try_into().map(|v| s.host_addr = v),
            "send_rate_hz" => value.try_into().map(|v| s.send_rate_hz = v),
            "interp_delay" => value.try_into().map(|v| s.interp_delay = v),
            "ice_servers" => value.try_into().map(|v| s.ice_servers = v),
            "turn_user" => value.try_into().map(|v| s.turn_user = Some(v)),
            "turn_pass" => value.try_into().map(|v| s.turn_pass = Some(v)),
            "latency_ms" => value.try_into().map(|v| s.latency_ms = v),
            "jitter_ms" => value.try_into().map(|v| s.jitter_ms = v),
            "loss" => value.try_into().map(|v| s.loss = v),
            "net_graph" => value.try_into().map(|v| s.net_graph = v),
            "create_token" => value.try_into().map(|v| s.create_token = Some(v)),
            _ => {
                issues.push((line, format!("line {line}: unknown key `{key}` ignored")));
                lossy = true;
                continue;
            }
        };
        if let Some((known, _, _)) = KEY_DOCS.iter().find(|(k, _, _)| k == key) {
            lines.insert(known, line);
        }
        if let Err(e) = result {
            let default = defaults
                .get(key.as_str())
                .map_or_else(|| "none".to_owned(), |v| v.to_string());
            issues.push((
                line,
                format!(
                    "line {line}: `{key}`: {}; using the default {default}",
                    one_line(e.message())
                ),
            ));
            lossy = true;
        }
    }
    let (settings, repairs) = s.repaired();
    for r in repairs {
        match lines.get(r.key) {
            Some(&line) => issues.push((line, format!("line {line}: {}", r.message))),
            None => issues.push((usize::MAX, r.message)),
        }
    }
    issues.sort_by_key(|(line, _)| *line);
    Parsed {
        settings,
        issues: issues.into_iter().map(|(_, issue)| issue).collect(),
        lossy,
    }
}

/// Reads the settings at `path`. Never fails: a missing file gives the
/// defaults silently; an unreadable or malformed file gives the defaults, a
/// bad value its default or the nearest allowed value, each with a warning
/// naming the file and the problem.
pub fn load(path: &Path) -> Loaded {
    let bad_name = sibling(path, ".bad");
    let bad_name = bad_name
        .file_name()
        .map_or_else(|| "settings.toml.bad".into(), |n| n.to_string_lossy());
    let keep_note = format!("; the file is kept as {bad_name} when you next save");
    match std::fs::read(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Loaded {
            settings: Settings::default(),
            warning: None,
        },
        Err(e) => Loaded {
            settings: Settings::default(),
            warning: Some(format!(
                "cannot read settings file {}: {e}; using defaults{keep_note}",
                path.display()
            )),
        },
        Ok(bytes) => {
            let parsed = parse(&bytes);
            let warning = (!parsed.issues.is_empty()).then(|| {
                format!(
                    "settings file {}: {}{}",
                    path.display(),
                    parsed.issues.join("; "),
                    if parsed.lossy { keep_note.as_str() } else { "" }
                )
            });
            Loaded {
                settings: parsed.settings,
                warning,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh, empty folder under the system temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(name: &str) -> TempDir {
            let dir = std::env::temp_dir()
                .join(format!("arena-settings-test-{}-{name}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            TempDir(dir)
        }

        fn file(&self) -> PathBuf {
            self.0.join("nested").join("settings.toml")
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn custom() -> Settings {
        Settings {
            name: "Ada \"quoted\"".to_owned(),
            color: 5,
            mode: NetMode::WebRtcOnly,
            server_url: Some("https://arena.example.org".to_owned()),
            host_addr: "127.0.0.1:4000".parse().unwrap_or(DEFAULT_HOST_ADDR),
            send_rate_hz: 30.0,
            interp_delay: InterpDelay::FixedMs(120),
            ice_servers: vec![
                "stun:stun.example.org:3478".to_owned(),
                "turn:turn.example.org:3478?transport=udp".to_owned(),
            ],
            turn_user: Some("ada".to_owned()),
            turn_pass: Some("s3cr3t".to_owned()),
            latency_ms: 75.0,
            jitter_ms: 10.0,
            loss: 0.05,
            net_graph: true,
            create_token: Some("let-me-in".to_owned()),
        }
    }

    #[test]
    fn round_trip_save_load() {
        let dir = TempDir::new("round-trip");
        let path = dir.file();
        for s in [custom(), Settings::default()] {
            assert!(s.validate().is_ok());
            s.save(&path).unwrap_or_else(|e| panic!("{e}"));
            let loaded = load(&path);
            assert_eq!(loaded.warning, None);
            assert_eq!(loaded.settings, s);
        }
        assert!(!path.with_file_name("settings.toml.tmp").exists());
        assert!(!path.with_file_name("settings.toml.bad").exists());
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(text.starts_with("# P2P Arena settings"), "{text}");
        assert!(text.contains("# server_url = "), "{text}");
    }

    #[test]
    fn missing_file_is_defaults_without_warning() {
        let dir = TempDir::new("missing");
        let loaded = load(&dir.file());
        assert_eq!(loaded.settings, Settings::default());
        assert_eq!(loaded.warning, None);
    }

    #[test]
    fn malformed_file_gives_defaults_warning_and_is_kept_on_save() {
        let dir = TempDir::new("malformed");
        let path = dir.file();
        let _ = std::fs::create_dir_all(path.parent().unwrap_or(&dir.0));
        let original = "name = \"Ada\"\ncolor = 3\nthis is not toml\n";
        std::fs::write(&path, original).unwrap_or_else(|e| panic!("{e}"));
        let loaded = load(&path);
        assert_eq!(loaded.settings, Settings::default());
        let w = loaded.warning.unwrap_or_default();
        assert!(w.contains(&path.display().to_string()), "{w}");
        assert!(w.contains("line 3"), "{w}");
        assert!(w.contains("using defaults"), "{w}");
        assert!(w.contains("settings.toml.bad"), "{w}");

        loaded
            .settings
            .save(&path)
            .unwrap_or_else(|e| panic!("{e}"));
        let bad = path.with_file_name("settings.toml.bad");
        assert_eq!(std::fs::read_to_string(&bad).unwrap_or_default(), original);
        assert_eq!(load(&path).warning, None);

        // Saving over a good file keeps no copy (and leaves the old .bad alone).
        std::fs::remove_file(&bad).unwrap_or_else(|e| panic!("{e}"));
        custom().save(&path).unwrap_or_else(|e| panic!("{e}"));
        assert!(!bad.exists());
    }

    #[test]
    fn wrong_type_and_unknown_key_skip_only_that_key() {
        let text = "name = \"Ada\"\nsend_rate_hz = \"fast\"\nfavourite = 1\n";
        let p = parse(text.as_bytes());
        assert_eq!(p.settings.name, "Ada");
        assert_eq!(p.settings.send_rate_hz, DEFAULT_RATE_HZ);
        assert!(p.lossy);
        assert_eq!(p.issues.len(), 2, "{:?}", p.issues);
        assert!(
            p.issues[0].starts_with("line 2: `send_rate_hz`: invalid type"),
            "{:?}",
            p.issues
        );
        assert!(
            p.issues[0].ends_with("using the default 20.0"),
            "{:?}",
            p.issues
        );
        assert!(p.issues[1].contains("line 3: unknown key `favourite`"));
        let syntax = parse(b"name = \"x\"\ncolor = [1\n");
        assert_eq!(syntax.issues.len(), 1);
        assert!(!syntax.issues[0].contains('\n'), "{:?}", syntax.issues);
        assert!(parse(b"\xff\xfe").lossy);
    }

    #[test]
    fn out_of_range_values_are_clamped_with_warning() {
        let dir = TempDir::new("range");
        let path = dir.file();
        let _ = std::fs::create_dir_all(path.parent().unwrap_or(&dir.0));
        let text = "\
name = \"  a name that is far too long  \"
color = 12
server_url = \"ftp://x\"
send_rate_hz = 500
interp_delay = 900
ice_servers = [\"stun:ok.example:3478\", \"http://nope\", \"\"]
latency_ms = -3
jitter_ms = nan
loss = 2.0
";
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
        let loaded = load(&path);
        let s = &loaded.settings;
        assert_eq!(s.name, "a name that is f");
        assert_eq!(s.color, 0);
        assert_eq!(s.server_url, None);
        assert_eq!(s.send_rate_hz, MAX_RATE_HZ);
        assert_eq!(s.interp_delay, InterpDelay::FixedMs(MAX_INTERP_DELAY_MS));
        assert_eq!(s.ice_servers, vec!["stun:ok.example:3478".to_owned()]);
        assert_eq!(s.latency_ms, 0.0);
        assert_eq!(s.jitter_ms, 0.0);
        assert_eq!(s.loss, MAX_LOSS);
        assert!(s.validate().is_ok(), "{:?}", s.validate());
        let w = loaded.warning.unwrap_or_default();
        assert!(
            w.contains("line 4: send_rate_hz 500 is outside 5–60 Hz; using 60"),
            "{w}"
        );
        assert!(w.contains("line 2: color 12"), "{w}");
        assert!(w.contains("\"http://nope\""), "{w}");
        // Clamping loses nothing the person wrote: no .bad copy on save.
        assert!(!w.contains(".bad"), "{w}");
        s.save(&path).unwrap_or_else(|e| panic!("{e}"));
        assert!(!path.with_file_name("settings.toml.bad").exists());
    }

    #[test]
    fn validate_names_the_field() {
        let bad = Settings {
            send_rate_hz: 61.0,
            ..Settings::default()
        };
        let e = bad.validate().err().map(|e| (e.field(), e.to_string()));
        assert_eq!(
            e,
            Some((
                Some("send_rate_hz"),
                "send_rate_hz must be between 5 and 60 Hz, got 61".to_owned()
            ))
        );
        let bad = Settings {
            server_url: Some("localhost:3536".to_owned()),
            ..Settings::default()
        };
        assert!(matches!(
            bad.validate(),
            Err(SettingsError::ServerUrl { .. })
        ));
        let bad = Settings {
            name: String::new(),
            ..Settings::default()
        };
        assert!(matches!(bad.validate(), Err(SettingsError::Name { .. })));
        let bad = Settings {
            ice_servers: vec!["stun.example.org".to_owned()],
            ..Settings::default()
        };
        assert!(matches!(
            bad.validate(),
            Err(SettingsError::IceServer { .. })
        ));
        let (fixed, repairs) = bad.sanitized();
        assert!(fixed.validate().is_ok());
        assert_eq!(repairs.len(), 1);
    }

    #[test]
    fn overrides_win_over_the_file_and_later_layers_win() {
        let mut s = custom();
        let env = Overrides {
            name: Some("Env".to_owned()),
            send_rate_hz: Some(10.0),
            server_url: Some("embedded".to_owned()),
            ..Overrides::default()
        };
        let cli = Overrides {
            name: Some(" Cli ".to_owned()),
            turn_pass: Some(String::new()),
            ice_servers: Some(vec![]),
            interp_delay: Some(InterpDelay::Auto),
            ..Overrides::default()
        };
        s.apply(&env);
        s.apply(&cli);
        assert_eq!(s.name, "Cli");
        assert_eq!(s.send_rate_hz, 10.0);
        assert_eq!(s.server_url, None);
        assert_eq!(s.server_label(), HOST_HERE);
        assert_eq!(s.turn_pass, None);
        assert!(s.ice_servers.is_empty());
        assert!(s.ice_servers().is_empty());
        assert_eq!(s.interp_delay, InterpDelay::Auto);
        // Untouched keys keep the file's value.
        assert_eq!(s.color, 5);
        assert_eq!(s.mode, NetMode::WebRtcOnly);
        assert_eq!(s.turn_user.as_deref(), Some("ada"));
        for host in ["", " host ", "EMBEDDED"] {
            assert_eq!(server_url_from_input(host), None);
        }
    }

    #[test]
    fn interp_delay_parsing() {
        let ok = |s: &str| s.parse::<InterpDelay>().ok();
        assert_eq!(ok("auto"), Some(InterpDelay::Auto));
        assert_eq!(ok(" AUTO "), Some(InterpDelay::Auto));
        assert_eq!(ok("120"), Some(InterpDelay::FixedMs(120)));
        assert_eq!(ok("120ms"), Some(InterpDelay::FixedMs(120)));
        assert_eq!(ok("0 ms"), Some(InterpDelay::FixedMs(0)));
        assert_eq!(ok("500"), Some(InterpDelay::FixedMs(500)));
        assert_eq!(ok("501"), None);
        assert_eq!(ok("-5"), None);
        assert_eq!(ok("soon"), None);
        assert_eq!(InterpDelay::FixedMs(120).to_string(), "120ms");
        assert_eq!(
            InterpDelay::FixedMs(120).to_delay_mode(),
            DelayMode::Fixed(0.12)
        );
        assert_eq!(InterpDelay::Auto.to_delay_mode(), DelayMode::default());
        for (toml, want) in [
            ("interp_delay = \"auto\"", InterpDelay::Auto),
            ("interp_delay = 80", InterpDelay::FixedMs(80)),
            ("interp_delay = \"80ms\"", InterpDelay::FixedMs(80)),
            ("interp_delay = 80.4", InterpDelay::FixedMs(80)),
        ] {
            let p = parse(toml.as_bytes());
            assert!(p.issues.is_empty(), "{toml}: {:?}", p.issues);
            assert_eq!(p.settings.interp_delay, want, "{toml}");
        }
        assert!(parse(b"interp_delay = -1").lossy);
    }

    #[test]
    fn ice_servers_and_conditions() {
        let s = custom();
        let ice = s.ice_servers();
        assert_eq!(ice.len(), 1);
        assert_eq!(ice[0].urls.len(), 2);
        assert_eq!(ice[0].username.as_deref(), Some("ada"));
        assert_eq!(ice[0].credential.as_deref(), Some("s3cr3t"));
        let c = Settings {
            latency_ms: 5000.0,
            jitter_ms: f64::INFINITY,
            loss: 0.9,
            ..Settings::default()
        }
        .conditions();
        assert_eq!(
            c,
            LinkConditions {
                latency_ms: MAX_LATENCY_MS,
                jitter_ms: 0.0,
                loss: MAX_LOSS
            }
        );
        assert_eq!(
            ice_list_from_input(" stun:a:1, turn:b:2  stun:c:3,,"),
            vec!["stun:a:1", "turn:b:2", "stun:c:3"]
        );
        assert_eq!(s.server_label(), "https://arena.example.org");
        assert!(default_path().is_none_or(|p| p.ends_with("settings.toml")));
    }
}
