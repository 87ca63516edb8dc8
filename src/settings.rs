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
//! What each setting is (key, doc, range, env variable, flag, screen label)
//! is said once, in the table [`FIELDS`] (`settings/fields.rs`); checks,
//! repairs, the file's comments, overrides and the screen all come from it.
//!
//! # File format
//!
//! ```toml
//! name = "Ada"
//! color = 2                          # 0-7
//! mode = "hybrid"                    # "hybrid" | "webrtc" | "signaling"
//! server_url = "http://10.0.0.5:3536" # absent or "": host on this machine; no scheme: http://
//! host_addr = "0.0.0.0:3536"
//! send_rate = "auto"                 # "auto" (20-60 Hz per link) or at most 5-60 Hz
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

use crate::net::{LinkConditions, NetMode};
use crate::proto::MAX_NAME_CHARS;
use crate::sync::{DelayMode, SendRate};

mod fields;
#[cfg(test)]
mod tests;

pub use fields::{
    FIELDS, Field, Kind, Number, SEND_RATE_STEPS, Shown, Slot, Steps, Text, field, valid_server_url,
};

/// Player name used when none is set (or the one set is unusable).
pub const DEFAULT_NAME: &str = "Player";
/// Number of player colours (indices `0..COLORS`).
pub const COLORS: u8 = 8;
/// Where the embedded server listens by default.
pub const DEFAULT_HOST_ADDR: SocketAddr =
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 3536));
/// Largest fixed interpolation delay, milliseconds.
pub const MAX_INTERP_DELAY_MS: u32 = 500;
/// Largest loss of the link conditioner in the settings (fraction of
/// messages dropped; the conditioner itself takes any probability). The
/// latency and jitter limits are [`LinkConditions::MAX_LATENCY_MS`] and
/// [`LinkConditions::MAX_JITTER_MS`].
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

impl Serialize for SendRate {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            SendRate::Auto => serializer.serialize_str("auto"),
            SendRate::Max(hz) => serializer.serialize_f64(*hz),
        }
    }
}

/// `"auto"` or a number of Hz (also as text, `"30"` or `"30 Hz"`), without
/// the range check: an out-of-range number is repaired (clamped) with a
/// message, as other numbers are.
impl<'de> Deserialize<'de> for SendRate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RateVisitor;

        impl Visitor<'_> for RateVisitor {
            type Value = SendRate;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("\"auto\" or a number of Hz")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<SendRate, E> {
                let t = v.trim().to_ascii_lowercase();
                if t == "auto" {
                    return Ok(SendRate::Auto);
                }
                let digits = t.strip_suffix("hz").unwrap_or(&t).trim();
                match digits.parse::<f64>() {
                    Ok(hz) => self.visit_f64(hz),
                    Err(_) => Err(E::invalid_value(de::Unexpected::Str(v), &self)),
                }
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<SendRate, E> {
                self.visit_f64(v as f64)
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<SendRate, E> {
                self.visit_f64(v as f64)
            }

            fn visit_f64<E: de::Error>(self, v: f64) -> Result<SendRate, E> {
                if v.is_finite() {
                    Ok(SendRate::Max(v))
                } else {
                    Err(E::invalid_value(de::Unexpected::Float(v), &self))
                }
            }
        }

        deserializer.deserialize_any(RateVisitor)
    }
}

/// The player's settings, as stored in `settings.toml`.
///
/// Every field missing from the file takes its default. What each field
/// allows is in [`FIELDS`]: checked by [`Settings::validate`], repaired by
/// [`Settings::sanitized`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Player name, 1 to [`MAX_NAME_CHARS`] characters.
    pub name: String,
    /// Preferred colour index, `0..COLORS`.
    pub color: u8,
    /// Network mode.
    pub mode: NetMode,
    /// Signaling server (`http://` or `https://`, as [`server_url_from_input`]
    /// makes it); `None`: host on this machine.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_url: Option<String>,
    /// Where the embedded server listens when hosting on this machine.
    pub host_addr: SocketAddr,
    /// Game state send rate: chosen per link, or chosen up to a cap. (Earlier
    /// versions had `send_rate_hz`, a fixed rate: see [`parse`].)
    pub send_rate: SendRate,
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
    /// Link conditioner: added one-way latency, ms (0..=[`LinkConditions::MAX_LATENCY_MS`]).
    pub latency_ms: f64,
    /// Link conditioner: jitter, ms (0..=[`LinkConditions::MAX_JITTER_MS`]).
    pub jitter_ms: f64,
    /// Link conditioner: fraction of messages dropped (0..=[`MAX_LOSS`]).
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
            send_rate: SendRate::Auto,
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
        max = MAX_NAME_CHARS
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
        "server_url must be an http:// or https:// address (or empty to host on this machine), got {got:?}"
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
    /// Text (a flag, an environment variable) that is not a value of its
    /// setting, or names no setting.
    #[error("{field} {got:?}: {reason}")]
    Value {
        /// The settings key.
        field: &'static str,
        /// The text given.
        got: String,
        /// Why it was refused.
        reason: String,
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
            SettingsError::OutOfRange { field, .. } | SettingsError::Value { field, .. } => {
                Some(field)
            }
            SettingsError::InterpDelay { .. } => Some("interp_delay"),
            SettingsError::IceServer { .. } => Some("ice_servers"),
            SettingsError::Io { .. } | SettingsError::Encode(_) => None,
        }
    }
}

/// Values from the environment or the command line that win over the file:
/// (settings key, text as given), applied in order by [`Settings::apply`]
/// with [`Field::set_text`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Overrides(pub Vec<(&'static str, String)>);

impl Overrides {
    /// These overrides and `key` set to `text` (e.g. `("name", "Ada")`).
    pub fn with(mut self, key: &'static str, text: impl Into<String>) -> Overrides {
        self.0.push((key, text.into()));
        self
    }
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
/// no home directory, and in the browser (settings live in memory there).
pub fn default_path() -> Option<PathBuf> {
    #[cfg(not(target_arch = "wasm32"))]
    {
        directories::ProjectDirs::from("", "", "p2p-arena")
            .map(|dirs| dirs.config_dir().join("settings.toml"))
    }
    #[cfg(target_arch = "wasm32")]
    {
        None
    }
}

/// A signaling server address as a person typed it (the join screen, the
/// settings screen, `--server`, the file), normalised: surrounding spaces
/// and trailing slashes removed, `http://` added when no scheme is given
/// (`10.0.0.5:3536` is `http://10.0.0.5:3536`), the scheme in lower case.
/// `""`, `"embedded"` and `"host"` (any case) mean "host on this machine"
/// (`None`). Whether the result is usable is [`valid_server_url`]'s call
/// (`ftp://x` stays as typed and is refused there).
pub fn server_url_from_input(s: &str) -> Option<String> {
    let s = s.trim();
    if s.is_empty() || s.eq_ignore_ascii_case("embedded") || s.eq_ignore_ascii_case("host") {
        return None;
    }
    let (scheme, rest) = s.split_once("://").unwrap_or(("http", s));
    Some(format!(
        "{}://{}",
        scheme.to_ascii_lowercase(),
        rest.trim_end_matches('/')
    ))
}

/// Splits a comma- or space-separated list of ICE URLs (the settings screen's
/// field, `--ice-server`), dropping empty entries.
pub fn ice_list_from_input(s: &str) -> Vec<String> {
    s.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|u| !u.is_empty())
        .map(str::to_owned)
        .collect()
}

/// One repair made by [`Settings::sanitized`]: which key, what was done.
struct Repair {
    key: &'static str,
    message: String,
}

impl Settings {
    /// Checks every field; the first problem found is the error.
    pub fn validate(&self) -> Result<(), SettingsError> {
        FIELDS.iter().try_for_each(|f| f.check(self))
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
        for f in FIELDS {
            for message in f.repair(&mut self) {
                repairs.push(Repair {
                    key: f.key,
                    message,
                });
            }
        }
        (self, repairs)
    }

    /// Applies env/CLI overrides on top of these settings (later ones win).
    /// Text that is no value of its setting (`color = "red"`) is refused;
    /// ranges are not checked: call [`Settings::validate`] afterwards to
    /// refuse a bad flag with a clear message.
    pub fn apply(&mut self, o: &Overrides) -> Result<(), SettingsError> {
        for (key, text) in &o.0 {
            let f = field(key).ok_or_else(|| SettingsError::Value {
                field: key,
                got: text.clone(),
                reason: "no such setting".to_owned(),
            })?;
            f.set_text(self, text)?;
        }
        Ok(())
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
            loss: c.loss.min(MAX_LOSS),
            ..c
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
        for f in FIELDS {
            let _ = writeln!(out, "\n# {}", f.describe());
            match table.get(f.key) {
                Some(v) => {
                    let _ = writeln!(out, "{} = {v}", f.key);
                }
                None => {
                    let _ = writeln!(out, "# {} = {}", f.key, f.example());
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
pub(crate) struct Parsed {
    /// The settings to use, repaired.
    pub(crate) settings: Settings,
    /// Human descriptions of the problems, in file order where known.
    pub(crate) issues: Vec<String>,
    /// Something in the file could not be represented (syntax or type error,
    /// unknown key): saving over it would lose it.
    pub(crate) lossy: bool,
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

/// The key of the fixed send rate of earlier versions (20 Hz by default),
/// read as the cap of [`Settings::send_rate`].
const LEGACY_SEND_RATE: &str = "send_rate_hz";
/// The default of [`LEGACY_SEND_RATE`], Hz.
const LEGACY_DEFAULT_HZ: f64 = 20.0;

/// Parses a settings file leniently: a syntax error gives the defaults, a
/// bad or unknown key is skipped, an out-of-range value is repaired. The
/// `send_rate_hz` of earlier versions is read as a cap of `send_rate`
/// (`auto` when it was the old default, 20).
pub(crate) fn parse(bytes: &[u8]) -> Parsed {
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
        if key == LEGACY_SEND_RATE {
            // A fixed rate other than the old default becomes a cap; the old
            // default, which every saved file had, becomes "auto".
            let hz = spanned
                .get_ref()
                .as_float()
                .or_else(|| spanned.get_ref().as_integer().map(|i| i as f64));
            if let Some(hz) = hz.filter(|&hz| hz != LEGACY_DEFAULT_HZ)
                && !table.contains_key("send_rate")
            {
                s.send_rate = SendRate::Max(hz);
                lines.insert("send_rate", line);
            }
            continue;
        }
        let Some(f) = field(key) else {
            issues.push((line, format!("line {line}: unknown key `{key}` ignored")));
            lossy = true;
            continue;
        };
        lines.insert(f.key, line);
        let result = f.read(&mut s, spanned.get_ref().clone());
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
