//! The table of settings: one [`Field`] per key of [`Settings`], and
//! everything the program does with a setting, written once per kind of
//! value instead of once per setting.
//!
//! A [`Field`] gives the key in the file, its comment (also the `--help`
//! text), the environment variable and flag, the label on the settings
//! screen and the [`Kind`] of value, which carries the range, the stepper
//! positions and the accessors. From it come the checks
//! ([`Settings::validate`]), the repairs of a bad file, reading a value from
//! the file, setting it from text (env, CLI, the screen's text fields) and
//! the screen's rows (`ui::settings`). Adding a setting is adding a field to
//! [`Settings`] and one entry to [`FIELDS`].
//!
//! Pure functions of [`Settings`]: no file, no window, no socket.

use super::{
    COLORS, DEFAULT_NAME, ICE_SCHEMES, InterpDelay, MAX_INTERP_DELAY_MS, MAX_LOSS, Settings,
    SettingsError, ice_list_from_input, server_url_from_input,
};
use crate::net::LinkConditions;
use crate::proto::MAX_NAME_CHARS;
use crate::sync::SendRate;
use crate::sync::throttle::{MAX_RATE_HZ, MIN_RATE_HZ};

/// One setting.
#[derive(Debug)]
pub struct Field {
    /// Key in the settings file and in error messages, e.g. `"send_rate_hz"`.
    pub key: &'static str,
    /// Label of its row on the settings screen; `None`: not on the screen
    /// (file, env and command line only).
    pub label: Option<&'static str>,
    /// Command-line flag, without the dashes.
    pub flag: &'static str,
    /// Environment variable.
    pub env: &'static str,
    /// What it is, without its range (see [`Field::describe`]).
    pub doc: &'static str,
    /// The kind of value, with its range and accessors.
    pub kind: Kind,
}

/// The kind of value a setting holds. Settings of their own kind (the name,
/// the server, …) have a variant of their own; the others share one.
#[derive(Debug)]
pub enum Kind {
    /// The player name: 1 to [`MAX_NAME_CHARS`] characters, trimmed, no
    /// control characters (the limit peers accept).
    Name,
    /// The colour index, `0..COLORS`.
    Color,
    /// The network mode.
    Mode,
    /// The signaling server URL (http or https); none: host on this machine.
    ServerUrl,
    /// Where the embedded server listens.
    HostAddr,
    /// `auto` or 0 to [`MAX_INTERP_DELAY_MS`] ms.
    InterpDelay,
    /// `auto` or a cap of [`MIN_RATE_HZ`] to [`MAX_RATE_HZ`] Hz.
    SendRate,
    /// STUN/TURN URLs with one of [`ICE_SCHEMES`].
    IceServers,
    /// A number in a range.
    Number(Number),
    /// Optional text: empty means unset.
    Text(Text),
    /// On or off.
    Flag(Slot<bool>),
}

/// Reads and writes one field of [`Settings`].
pub struct Slot<T: 'static> {
    /// The field.
    pub get: fn(&Settings) -> &T,
    /// The field, to change it.
    pub get_mut: fn(&mut Settings) -> &mut T,
}

impl<T> std::fmt::Debug for Slot<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Slot")
    }
}

/// The [`Slot`] of field `$field` of [`Settings`].
macro_rules! slot {
    ($field:ident) => {
        Slot {
            get: |s| &s.$field,
            get_mut: |s| &mut s.$field,
        }
    };
}

/// A number setting: its range, and how the settings screen steps it.
#[derive(Debug)]
pub struct Number {
    /// The field.
    pub slot: Slot<f64>,
    /// Smallest allowed value.
    pub min: f64,
    /// Largest allowed value.
    pub max: f64,
    /// Unit after the number in docs and messages, e.g. `" Hz"`.
    pub unit: &'static str,
    /// The stepper's positions, in shown units.
    pub steps: Steps,
    /// How the stepper shows a value.
    pub shown: Shown,
}

/// The positions of a number's stepper on the settings screen.
#[derive(Debug)]
pub enum Steps {
    /// These values, sorted.
    List(&'static [f64]),
    /// Every multiple of this step from 0 to the maximum.
    Every(f64),
}

/// How the settings screen shows a number `v`: `prefix`, `v × scale`, `suffix`.
#[derive(Debug)]
pub struct Shown {
    /// Before the number.
    pub prefix: &'static str,
    /// Factor from the stored to the shown value (100: a fraction in per cent).
    pub scale: f64,
    /// After the number.
    pub suffix: &'static str,
}

/// An optional text setting.
#[derive(Debug)]
pub struct Text {
    /// The field.
    pub slot: Slot<Option<String>>,
    /// Surrounding spaces are removed (not from passwords).
    pub trim: bool,
    /// Hidden on the settings screen.
    pub secret: bool,
    /// Written, commented out, when the setting is unset.
    pub example: &'static str,
}

/// A number's stepper shows the value as stored, then `suffix`.
const fn plain(suffix: &'static str) -> Shown {
    Shown {
        prefix: "",
        scale: 1.0,
        suffix,
    }
}

/// The caps the settings screen's send-rate stepper offers below `auto`.
pub const SEND_RATE_STEPS: [f64; 6] = [5.0, 10.0, 15.0, 20.0, 30.0, 45.0];

// The number, text and flag settings: range, stepper and accessors.
#[rustfmt::skip]
const LATENCY: Number = Number { slot: slot!(latency_ms), min: 0.0, max: LinkConditions::MAX_LATENCY_MS, unit: " ms",
    steps: Steps::Every(25.0), shown: plain(" ms") };
#[rustfmt::skip]
const JITTER: Number = Number { slot: slot!(jitter_ms), min: 0.0, max: LinkConditions::MAX_JITTER_MS, unit: " ms",
    steps: Steps::Every(10.0), shown: Shown { prefix: "± ", ..plain(" ms") } };
#[rustfmt::skip]
const LOSS: Number = Number { slot: slot!(loss), min: 0.0, max: MAX_LOSS, unit: "",
    steps: Steps::Every(1.0), shown: Shown { prefix: "", scale: 100.0, suffix: " %" } };
#[rustfmt::skip]
const TURN_USER: Text = Text { slot: slot!(turn_user), trim: true, secret: false, example: "user" };
#[rustfmt::skip]
const TURN_PASS: Text = Text { slot: slot!(turn_pass), trim: false, secret: true, example: "password" };
#[rustfmt::skip]
const CREATE_TOKEN: Text = Text { slot: slot!(create_token), trim: true, secret: true, example: "token" };

/// A row of [`FIELDS`].
const fn row(
    key: &'static str,
    label: Option<&'static str>,
    flag: &'static str,
    env: &'static str,
    kind: Kind,
    doc: &'static str,
) -> Field {
    Field {
        key,
        label,
        flag,
        env,
        doc,
        kind,
    }
}

/// Every setting, in file order. The settings screen shows those with a
/// label, in this order.
#[rustfmt::skip]
pub const FIELDS: &[Field] = &[
    //    key             screen label                 flag            env                   kind                          doc (Field::describe adds the range)
    row("name",         Some("Name"),                "name",         "ARENA_NAME",         Kind::Name,                   "Player name"),
    row("color",        Some("Colour"),              "color",        "ARENA_COLOR",        Kind::Color,                  "Preferred colour (blue, red, green, yellow, purple, orange, cyan, pink)"),
    row("mode",         Some("Network mode"),        "mode",         "ARENA_MODE",         Kind::Mode,                   "Network mode: \"hybrid\" (WebRTC, relay fallback), \"webrtc\" or \"signaling\" (relay only)"),
    row("server_url",   Some("Server"),              "server",       "ARENA_SERVER",       Kind::ServerUrl,              "Signaling server, e.g. http://192.168.1.10:3536 (no scheme: http://). Absent, \"\" or \"host\": host on this machine"),
    row("host_addr",    None,                        "host-addr",    "ARENA_HOST_ADDR",    Kind::HostAddr,               "Where the server listens when hosting on this machine (port 0: any free port)"),
    row("send_rate",    Some("Send rate"),           "send-rate",    "ARENA_SEND_RATE",    Kind::SendRate,               "Game state updates sent per second to each player: \"auto\" (20, 30 or 60, from how the link does) or at most this many"),
    row("interp_delay", Some("Interpolation delay"), "interp-delay", "ARENA_INTERP_DELAY", Kind::InterpDelay,            "Interpolation delay of remote players"),
    row("ice_servers",  Some("ICE servers"),         "ice-server",   "ARENA_ICE_SERVERS",  Kind::IceServers,             "STUN/TURN URLs (stun:, stuns:, turn:, turns:), comma-separated on the command line. Empty: direct/LAN only"),
    row("turn_user",    Some("TURN user"),           "turn-user",    "ARENA_TURN_USER",    Kind::Text(TURN_USER),        "TURN username"),
    row("turn_pass",    Some("TURN password"),       "turn-pass",    "ARENA_TURN_PASS",    Kind::Text(TURN_PASS),        "TURN password"),
    row("latency_ms",   Some("Latency"),             "latency-ms",   "ARENA_LATENCY_MS",   Kind::Number(LATENCY),        "Link conditioner, for testing: added latency"),
    row("jitter_ms",    Some("Jitter"),              "jitter-ms",    "ARENA_JITTER_MS",    Kind::Number(JITTER),         "Link conditioner: jitter"),
    row("loss",         Some("Loss"),                "loss",         "ARENA_LOSS",         Kind::Number(LOSS),           "Link conditioner: fraction of messages dropped"),
    row("net_graph",    Some("Show net graph"),      "net-graph",    "ARENA_NET_GRAPH",    Kind::Flag(slot!(net_graph)), "Show the network graph in matches (F3 toggles it in a match)"),
    row("create_token", None,                        "create-token", "ARENA_CREATE_TOKEN", Kind::Text(CREATE_TOKEN),     "Token for creating rooms on a server started with --create-token"),
];

/// The setting with file key `key`.
pub fn field(key: &str) -> Option<&'static Field> {
    FIELDS.iter().find(|f| f.key == key)
}

impl Field {
    /// The doc with the range, as one sentence: the file's comment and the
    /// `--help` text, e.g. "Game state updates sent per second, 5-60 Hz."
    pub fn describe(&self) -> String {
        let range = match &self.kind {
            Kind::Name => format!("1 to {MAX_NAME_CHARS} characters"),
            Kind::Color => format!("0-{}", COLORS - 1),
            Kind::InterpDelay => format!("\"auto\" or milliseconds 0-{MAX_INTERP_DELAY_MS}"),
            Kind::SendRate => format!("\"auto\" or {MIN_RATE_HZ}-{MAX_RATE_HZ} Hz"),
            Kind::Number(n) => format!("{}-{}{}", n.min, n.max, n.unit),
            _ => return format!("{}.", self.doc),
        };
        format!("{}, {range}.", self.doc)
    }

    /// What the file shows, commented out, for an unset optional setting.
    pub(super) fn example(&self) -> String {
        match &self.kind {
            Kind::ServerUrl => "\"http://192.168.1.10:3536\"".to_owned(),
            Kind::Text(t) => format!("{:?}", t.example),
            _ => String::new(),
        }
    }

    /// Checks this setting of `s`.
    pub fn check(&self, s: &Settings) -> Result<(), SettingsError> {
        match &self.kind {
            Kind::Name if !valid_name(&s.name) || s.name.trim() != s.name => {
                Err(SettingsError::Name {
                    got: s.name.clone(),
                })
            }
            Kind::Color if s.color >= COLORS => Err(SettingsError::Color { got: s.color }),
            Kind::ServerUrl => match &s.server_url {
                Some(url) if !valid_server_url(url) => {
                    Err(SettingsError::ServerUrl { got: url.clone() })
                }
                _ => Ok(()),
            },
            Kind::InterpDelay => match s.interp_delay {
                InterpDelay::FixedMs(ms) if ms > MAX_INTERP_DELAY_MS => {
                    Err(SettingsError::InterpDelay {
                        got: format!("{ms}ms"),
                    })
                }
                _ => Ok(()),
            },
            Kind::IceServers => match s.ice_servers.iter().find(|u| !valid_ice_url(u)) {
                Some(bad) => Err(SettingsError::IceServer { got: bad.clone() }),
                None => Ok(()),
            },
            Kind::SendRate => match s.send_rate {
                SendRate::Max(got) if !(MIN_RATE_HZ..=MAX_RATE_HZ).contains(&got) => {
                    Err(SettingsError::OutOfRange {
                        field: self.key,
                        got,
                        min: MIN_RATE_HZ,
                        max: MAX_RATE_HZ,
                        unit: " Hz",
                    })
                }
                _ => Ok(()),
            },
            Kind::Number(n) => {
                let got = *(n.slot.get)(s);
                if got.is_finite() && (n.min..=n.max).contains(&got) {
                    Ok(())
                } else {
                    Err(SettingsError::OutOfRange {
                        field: self.key,
                        got,
                        min: n.min,
                        max: n.max,
                        unit: n.unit,
                    })
                }
            }
            _ => Ok(()),
        }
    }

    /// Repairs this setting of `s` so that [`Field::check`] passes: clamped,
    /// or the default where there is nothing sensible to clamp to. Returns
    /// one line per repair; whitespace around text and empty optional
    /// strings are normalised silently.
    pub(super) fn repair(&self, s: &mut Settings) -> Vec<String> {
        let mut said = Vec::new();
        match &self.kind {
            Kind::Name => s.name = repaired_name(&s.name, &mut said),
            Kind::Color if s.color >= COLORS => {
                said.push(format!(
                    "color {} is not 0–{}; using 0",
                    s.color,
                    COLORS - 1
                ));
                s.color = Settings::default().color;
            }
            Kind::ServerUrl => {
                s.server_url = match s.server_url.as_deref().and_then(server_url_from_input) {
                    Some(url) if !valid_server_url(&url) => {
                        said.push(format!(
                            "server_url {url:?} does not start with http:// or https://; hosting on this machine instead"
                        ));
                        None
                    }
                    other => other,
                }
            }
            Kind::InterpDelay => {
                if let InterpDelay::FixedMs(ms) = s.interp_delay
                    && ms > MAX_INTERP_DELAY_MS
                {
                    said.push(format!(
                        "interp_delay {ms} ms is above {MAX_INTERP_DELAY_MS} ms; using {MAX_INTERP_DELAY_MS} ms"
                    ));
                    s.interp_delay = InterpDelay::FixedMs(MAX_INTERP_DELAY_MS);
                }
            }
            Kind::SendRate => {
                if let SendRate::Max(v) = s.send_rate {
                    let fixed = s.send_rate.cap();
                    if fixed.to_bits() != v.to_bits() {
                        said.push(format!(
                            "{} {v} is outside {MIN_RATE_HZ}–{MAX_RATE_HZ} Hz; using {fixed}",
                            self.key
                        ));
                        s.send_rate = SendRate::Max(fixed);
                    }
                }
            }
            Kind::IceServers => {
                let given = std::mem::take(&mut s.ice_servers);
                for url in given.iter().map(|u| u.trim()).filter(|u| !u.is_empty()) {
                    if valid_ice_url(url) {
                        s.ice_servers.push(url.to_owned());
                    } else {
                        said.push(format!(
                            "ice_servers entry {url:?} is not a stun:, stuns:, turn: or turns: URL; dropped it"
                        ));
                    }
                }
            }
            Kind::Number(n) => {
                let v = *(n.slot.get)(s);
                let fixed = if v.is_finite() {
                    v.clamp(n.min, n.max)
                } else {
                    *(n.slot.get)(&Settings::default())
                };
                // Clamping keeps a finite in-range value bit for bit.
                if fixed.to_bits() != v.to_bits() {
                    said.push(format!(
                        "{} {v} is outside {}–{}{}; using {fixed}",
                        self.key, n.min, n.max, n.unit
                    ));
                }
                *(n.slot.get_mut)(s) = fixed;
            }
            Kind::Text(t) => {
                let v = (t.slot.get_mut)(s);
                *v = v.take().and_then(|v| t.normalised(&v));
            }
            _ => {}
        }
        said
    }

    /// Sets this setting of `s` from a value of the settings file.
    pub(super) fn read(&self, s: &mut Settings, v: toml::Value) -> Result<(), toml::de::Error> {
        match &self.kind {
            Kind::Name => s.name = v.try_into()?,
            // Out of u8 range still reads as out of colour range.
            Kind::Color => s.color = u8::try_from(v.try_into::<i64>()?).unwrap_or(u8::MAX),
            Kind::Mode => s.mode = v.try_into()?,
            Kind::ServerUrl => s.server_url = Some(v.try_into()?),
            Kind::HostAddr => s.host_addr = v.try_into()?,
            Kind::InterpDelay => s.interp_delay = v.try_into()?,
            Kind::SendRate => s.send_rate = v.try_into()?,
            Kind::IceServers => s.ice_servers = v.try_into()?,
            Kind::Number(n) => *(n.slot.get_mut)(s) = v.try_into()?,
            Kind::Text(t) => *(t.slot.get_mut)(s) = Some(v.try_into()?),
            Kind::Flag(slot) => *(slot.get_mut)(s) = v.try_into()?,
        }
        Ok(())
    }

    /// The value as text, as [`Field::set_text`] reads it back (an unset
    /// optional value is `""`).
    pub fn text(&self, s: &Settings) -> String {
        match &self.kind {
            Kind::Name => s.name.clone(),
            Kind::Color => s.color.to_string(),
            Kind::Mode => s.mode.to_string(),
            Kind::ServerUrl => s.server_url.clone().unwrap_or_default(),
            Kind::HostAddr => s.host_addr.to_string(),
            Kind::InterpDelay => s.interp_delay.to_string(),
            Kind::SendRate => s.send_rate.to_string(),
            Kind::IceServers => s.ice_servers.join(", "),
            Kind::Number(n) => (n.slot.get)(s).to_string(),
            Kind::Text(t) => (t.slot.get)(s).clone().unwrap_or_default(),
            Kind::Flag(slot) => (slot.get)(s).to_string(),
        }
    }

    /// Sets this setting of `s` from text as a person typed it (a flag, an
    /// environment variable, a text field of the settings screen): trimmed,
    /// normalised (the server URL, a comma- or space-separated ICE list, an
    /// empty optional value unsets it), parsed. The range is not checked
    /// here, except for the interpolation delay whose text says it:
    /// [`Settings::validate`] refuses an out-of-range value with a clear message.
    pub fn set_text(&self, s: &mut Settings, text: &str) -> Result<(), SettingsError> {
        let bad = |reason: String| SettingsError::Value {
            field: self.key,
            got: text.to_owned(),
            reason,
        };
        let trimmed = text.trim();
        match &self.kind {
            Kind::Name => s.name = trimmed.to_owned(),
            Kind::Color => s.color = trimmed.parse().map_err(|e| bad(format!("{e}")))?,
            Kind::Mode => s.mode = trimmed.parse().map_err(bad)?,
            Kind::ServerUrl => s.server_url = server_url_from_input(text),
            Kind::HostAddr => s.host_addr = trimmed.parse().map_err(|e| bad(format!("{e}")))?,
            Kind::InterpDelay => s.interp_delay = trimmed.parse()?,
            Kind::SendRate => s.send_rate = trimmed.parse().map_err(|e| bad(format!("{e}")))?,
            Kind::IceServers => s.ice_servers = ice_list_from_input(text),
            Kind::Number(n) => {
                *(n.slot.get_mut)(s) = trimmed.parse().map_err(|e| bad(format!("{e}")))?;
            }
            Kind::Text(t) => *(t.slot.get_mut)(s) = t.normalised(text),
            Kind::Flag(slot) => {
                *(slot.get_mut)(s) = trimmed.parse().map_err(|e| bad(format!("{e}")))?;
            }
        }
        Ok(())
    }
}

impl Text {
    /// `v` trimmed (unless a password), `None` when empty.
    fn normalised(&self, v: &str) -> Option<String> {
        let v = if self.trim { v.trim() } else { v };
        (!v.is_empty()).then(|| v.to_owned())
    }
}

/// `name` trimmed, without control characters, non-empty and at most
/// [`MAX_NAME_CHARS`] long; what was changed is said in `said`.
fn repaired_name(name: &str, said: &mut Vec<String>) -> String {
    let trimmed = name.trim();
    let clean: String = trimmed.chars().filter(|c| !c.is_control()).collect();
    if clean.chars().count() != trimmed.chars().count() {
        said.push("name had control characters; removed them".to_owned());
    }
    let clean = clean.trim();
    if clean.is_empty() {
        said.push(format!("name is empty; using {DEFAULT_NAME:?}"));
        DEFAULT_NAME.to_owned()
    } else if clean.chars().count() > MAX_NAME_CHARS {
        let cut: String = clean.chars().take(MAX_NAME_CHARS).collect();
        let cut = cut.trim_end().to_owned();
        said.push(format!(
            "name {clean:?} is longer than {MAX_NAME_CHARS} characters; using {cut:?}"
        ));
        cut
    } else {
        clean.to_owned()
    }
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

/// Whether `url` is a usable signaling server address (http or https).
pub fn valid_server_url(url: &str) -> bool {
    has_scheme(url, &["http://", "https://"])
}

fn valid_ice_url(url: &str) -> bool {
    has_scheme(url, &ICE_SCHEMES)
}

fn valid_name(name: &str) -> bool {
    let n = name.chars().count();
    (1..=MAX_NAME_CHARS).contains(&n) && !name.chars().any(char::is_control)
}
