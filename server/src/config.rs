//! Server configuration: CLI flags with env fallbacks ([`ServerArgs`]), turned
//! into one validated [`Config`].
//!
//! Owns every tunable of the server and its validation; it must not bind
//! sockets or read anything but its arguments (clap reads the env), save one
//! look for a browser build when `--web-root` is not given
//! ([`crate::web::default_root`]). The game's
//! `arena server` subcommand can `#[command(flatten)]` [`ServerArgs`].

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use crate::rooms::RoomLimits;

/// Why the configuration is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A numeric setting is out of its range.
    #[error("{name} must be {rule}, got {value}")]
    OutOfRange {
        /// The flag.
        name: &'static str,
        /// What is allowed.
        rule: &'static str,
        /// What was given.
        value: u64,
    },
    /// A CORS origin is not a valid header value.
    #[error("invalid CORS origin {0:?}")]
    Origin(String),
    /// `--public-host` is not a host name or IP address.
    #[error("public host must be a host name or an IP address (no scheme, no port), got {0:?}")]
    PublicHost(String),
    /// `--redis` is not a Redis URL.
    #[error("--redis must be a URL like redis://HOST:6379 ({0})")]
    Redis(String),
}

/// A token bucket: sustained rate and burst size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Tokens added per second.
    pub per_second: u32,
    /// Bucket size (messages allowed at once).
    pub burst: u32,
}

/// Per-connection limits (token buckets per event class) and join throttling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// `signal` messages.
    pub signal: Rate,
    /// `relay` and `broadcast` messages.
    pub relay: Rate,
    /// `hello`, `create_room`, `join_room`, `leave_room`.
    pub join: Rate,
    /// Failed joins (unknown or malformed code) allowed per minute per connection, as a burst.
    pub failed_joins_per_minute: u32,
    /// Failed joins allowed per hour per client IP (all its connections
    /// together; IPv6 clients by their /64), as a burst refilled over the hour.
    pub failed_joins_per_hour_per_ip: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            signal: Rate {
                per_second: 50,
                burst: 200,
            },
            // 20 Hz state to 7 peers one by one, plus reliable events.
            relay: Rate {
                per_second: 250,
                burst: 500,
            },
            join: Rate {
                per_second: 5,
                burst: 10,
            },
            failed_joins_per_minute: 10,
            // 30 + 24 x 30 = 750 guesses per address per day: < 1e-6 odds of
            // hitting one of 1,000 live rooms among 32^8 codes (server/README.md).
            failed_joins_per_hour_per_ip: 30,
        }
    }
}

/// Validated configuration of the signaling server (everything but the listen address).
#[derive(Clone)]
pub struct Config {
    /// Serve only the six core events of PROTOCOL.md section 1: no `hello`
    /// answer, no codes issued, any non-empty room id accepted (created on join).
    pub core_only: bool,
    /// Room capacity, empty-room grace period, maximum rooms.
    pub rooms: RoomLimits,
    /// Allowed CORS origins; empty means any origin.
    pub cors_origins: Vec<String>,
    /// STUN URLs handed to joiners.
    pub stun_urls: Vec<String>,
    /// TURN URLs handed to joiners (only when `turn_secret` is set).
    pub turn_urls: Vec<String>,
    /// Shared secret of the TURN REST scheme; never sent to clients.
    pub turn_secret: Option<String>,
    /// Lifetime of TURN credentials.
    pub turn_ttl: Duration,
    /// Token required to create rooms, if any.
    pub create_token: Option<String>,
    /// Rate limits.
    pub limits: RateLimits,
    /// Largest accepted event (raw Socket.IO packet, bytes); larger → `bad_request`.
    pub max_event_bytes: usize,
    /// Take the client IP for join throttling from `X-Forwarded-For` (behind a PaaS proxy).
    pub trust_proxy: bool,
    /// Engine.io ping interval: how often the server pings each client.
    pub ping_interval: Duration,
    /// Engine.io ping timeout: how long a pong may take before the client is
    /// dropped (and its seat freed): at most `ping_interval + ping_timeout`
    /// after it went silent.
    pub ping_timeout: Duration,
    /// The host name or address players reach this server at, for the
    /// built-in STUN server's URL; `None`: the host each client connected to.
    pub public_host: Option<String>,
    /// Redis shared by every node of a multi-node server (`redis://HOST:PORT`);
    /// `None`: one node, rooms in memory.
    pub redis_url: Option<String>,
    /// The browser build served at `/play` (a directory with `index.html`);
    /// `None`: `/play` says it is not installed. [`ServerArgs::to_config`]
    /// fills in [`crate::web::default_root`] when `--web-root` is not given.
    pub web_root: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            core_only: false,
            rooms: RoomLimits::default(),
            cors_origins: Vec::new(),
            stun_urls: Vec::new(),
            turn_urls: Vec::new(),
            turn_secret: None,
            turn_ttl: Duration::from_secs(3600),
            create_token: None,
            limits: RateLimits::default(),
            max_event_bytes: 16 * 1024,
            trust_proxy: false,
            ping_interval: Duration::from_secs(25),
            ping_timeout: Duration::from_secs(20),
            public_host: None,
            redis_url: None,
            web_root: None,
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redact = |o: &Option<String>| if o.is_some() { "<set>" } else { "<none>" };
        f.debug_struct("Config")
            .field("core_only", &self.core_only)
            .field("rooms", &self.rooms)
            .field("cors_origins", &self.cors_origins)
            .field("stun_urls", &self.stun_urls)
            .field("turn_urls", &self.turn_urls)
            .field("turn_secret", &redact(&self.turn_secret))
            .field("turn_ttl", &self.turn_ttl)
            .field("create_token", &redact(&self.create_token))
            .field("limits", &self.limits)
            .field("max_event_bytes", &self.max_event_bytes)
            .field("trust_proxy", &self.trust_proxy)
            .field("ping_interval", &self.ping_interval)
            .field("ping_timeout", &self.ping_timeout)
            .field("public_host", &self.public_host)
            .field("redis_url", &redact(&self.redis_url))
            .field("web_root", &self.web_root)
            .finish()
    }
}

/// Command-line flags (each with an env fallback) of `arena-server` and `arena server`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServerArgs {
    /// Address to bind.
    #[arg(long, env = "ARENA_HOST", default_value_t = IpAddr::V4(Ipv4Addr::UNSPECIFIED))]
    pub host: IpAddr,
    /// Port to bind (0 picks a free one; PaaS hosts set PORT).
    #[arg(long, env = "PORT", default_value_t = 3536)]
    pub port: u16,
    /// Serve only the six core events (no hello, codes, relay, TURN).
    #[arg(long, env = "ARENA_CORE_ONLY")]
    pub core_only: bool,
    /// Allowed CORS origins, comma-separated (default: any).
    #[arg(
        long = "cors-origin",
        env = "ARENA_CORS_ORIGINS",
        value_delimiter = ','
    )]
    pub cors_origins: Vec<String>,
    /// Players per room.
    #[arg(long, env = "ARENA_ROOM_CAPACITY", default_value_t = 8)]
    pub room_capacity: usize,
    /// Seconds an empty room is kept before it expires.
    #[arg(long, env = "ARENA_ROOM_GRACE_SECS", default_value_t = 120)]
    pub room_grace_secs: u64,
    /// Maximum number of rooms.
    #[arg(long, env = "ARENA_MAX_ROOMS", default_value_t = 10_000)]
    pub max_rooms: usize,
    /// STUN URLs handed to clients, comma-separated (e.g. stun:stun.example.org:3478).
    #[arg(long = "stun", env = "ARENA_STUN_URLS", value_delimiter = ',')]
    pub stun_urls: Vec<String>,
    /// TURN URLs handed to clients with short-lived credentials, comma-separated.
    #[arg(long = "turn", env = "ARENA_TURN_URLS", value_delimiter = ',')]
    pub turn_urls: Vec<String>,
    /// TURN REST shared secret (coturn static-auth-secret). Prefer the env var.
    #[arg(long, env = "ARENA_TURN_SECRET", hide_env_values = true)]
    pub turn_secret: Option<String>,
    /// Lifetime of TURN credentials in seconds.
    #[arg(long, env = "ARENA_TURN_TTL_SECS", default_value_t = 3600)]
    pub turn_ttl_secs: u64,
    /// Token required to create rooms (connect auth `{"token"}` or create_room `token`).
    #[arg(long, env = "ARENA_CREATE_TOKEN", hide_env_values = true)]
    pub create_token: Option<String>,
    /// `signal` messages per second per connection.
    #[arg(long, env = "ARENA_SIGNAL_RATE", default_value_t = 50)]
    pub signal_rate: u32,
    /// `signal` burst per connection.
    #[arg(long, env = "ARENA_SIGNAL_BURST", default_value_t = 200)]
    pub signal_burst: u32,
    /// `relay` + `broadcast` messages per second per connection.
    #[arg(long, env = "ARENA_RELAY_RATE", default_value_t = 250)]
    pub relay_rate: u32,
    /// `relay` + `broadcast` burst per connection.
    #[arg(long, env = "ARENA_RELAY_BURST", default_value_t = 500)]
    pub relay_burst: u32,
    /// Room operations (hello, create, join, leave) per second per connection.
    #[arg(long, env = "ARENA_JOIN_RATE", default_value_t = 5)]
    pub join_rate: u32,
    /// Room-operation burst per connection.
    #[arg(long, env = "ARENA_JOIN_BURST", default_value_t = 10)]
    pub join_burst: u32,
    /// Failed joins per minute per connection.
    #[arg(long, env = "ARENA_FAILED_JOINS_PER_MIN", default_value_t = 10)]
    pub failed_joins_per_min: u32,
    /// Failed joins per hour per client IP (IPv6: per /64), all its connections together.
    #[arg(long, env = "ARENA_FAILED_JOINS_PER_HOUR_PER_IP", default_value_t = 30)]
    pub failed_joins_per_hour_per_ip: u32,
    /// Largest accepted event in bytes.
    #[arg(long, env = "ARENA_MAX_EVENT_BYTES", default_value_t = 16 * 1024)]
    pub max_event_bytes: usize,
    /// Trust X-Forwarded-For for the client IP (set behind a reverse proxy).
    #[arg(long, env = "ARENA_TRUST_PROXY")]
    pub trust_proxy: bool,
    /// Seconds between engine.io pings to each client.
    #[arg(long, env = "ARENA_PING_INTERVAL_SECS", default_value_t = 25)]
    pub ping_interval_secs: u64,
    /// Seconds a client may take to answer a ping before it is dropped.
    #[arg(long, env = "ARENA_PING_TIMEOUT_SECS", default_value_t = 20)]
    pub ping_timeout_secs: u64,
    /// UDP port of the built-in STUN server (it also answers on the next
    /// port, for `arena doctor`'s NAT test); 0 turns it off.
    #[arg(long, env = "ARENA_STUN_PORT", default_value_t = 3478)]
    pub stun_port: u16,
    /// Host name or address players reach this server at (for the STUN URL
    /// handed to them); default: the host each player connected to.
    #[arg(long, env = "ARENA_PUBLIC_HOST")]
    pub public_host: Option<String>,
    /// Redis shared by the nodes of a multi-node server
    /// (redis://[:PASSWORD@]HOST:PORT[/DB]); default: one node, rooms in memory.
    #[arg(long = "redis", env = "ARENA_REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,
    /// Directory of the browser build served at `/play` (from
    /// `scripts/web.sh`); default: `web` next to the executable, else the
    /// checkout's `target/web`. An empty value turns `/play` off.
    #[arg(long, env = "ARENA_WEB_ROOT")]
    pub web_root: Option<PathBuf>,
}

fn nonzero(name: &'static str, v: u64) -> Result<(), ConfigError> {
    if v == 0 {
        return Err(ConfigError::OutOfRange {
            name,
            rule: "at least 1",
            value: v,
        });
    }
    Ok(())
}

impl ServerArgs {
    /// Address to bind.
    pub fn listen_addr(&self) -> SocketAddr {
        SocketAddr::new(self.host, self.port)
    }

    /// Where the built-in STUN server listens, if it is on.
    pub fn stun_addr(&self) -> Option<SocketAddr> {
        (self.stun_port != 0).then(|| SocketAddr::new(self.host, self.stun_port))
    }

    /// Validates the flags into a [`Config`].
    pub fn to_config(&self) -> Result<Config, ConfigError> {
        if !(1..=64).contains(&self.room_capacity) {
            return Err(ConfigError::OutOfRange {
                name: "room-capacity",
                rule: "between 1 and 64",
                value: self.room_capacity as u64,
            });
        }
        for (name, v) in [
            ("max-rooms", self.max_rooms as u64),
            ("turn-ttl-secs", self.turn_ttl_secs),
            ("signal-rate", u64::from(self.signal_rate)),
            ("signal-burst", u64::from(self.signal_burst)),
            ("relay-rate", u64::from(self.relay_rate)),
            ("relay-burst", u64::from(self.relay_burst)),
            ("join-rate", u64::from(self.join_rate)),
            ("join-burst", u64::from(self.join_burst)),
            ("failed-joins-per-min", u64::from(self.failed_joins_per_min)),
            (
                "failed-joins-per-hour-per-ip",
                u64::from(self.failed_joins_per_hour_per_ip),
            ),
            ("ping-interval-secs", self.ping_interval_secs),
            ("ping-timeout-secs", self.ping_timeout_secs),
            ("max-event-bytes", self.max_event_bytes as u64),
        ] {
            nonzero(name, v)?;
        }
        let clean = |v: &[String]| -> Vec<String> {
            v.iter()
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect()
        };
        let cors_origins = clean(&self.cors_origins);
        for o in &cors_origins {
            if o != "*" && axum::http::HeaderValue::from_str(o).is_err() {
                return Err(ConfigError::Origin(o.clone()));
            }
        }
        let non_empty = |o: &Option<String>| o.clone().filter(|s| !s.is_empty());
        let public_host = non_empty(&self.public_host.as_ref().map(|h| h.trim().to_owned()));
        if let Some(h) = &public_host
            && !crate::turn::valid_host(h)
        {
            return Err(ConfigError::PublicHost(h.clone()));
        }
        let redis_url = non_empty(&self.redis_url.as_ref().map(|u| u.trim().to_owned()));
        if let Some(u) = &redis_url {
            crate::store::redis::client(u).map_err(ConfigError::Redis)?;
        }
        Ok(Config {
            core_only: self.core_only,
            rooms: RoomLimits {
                capacity: self.room_capacity,
                empty_grace: Duration::from_secs(self.room_grace_secs),
                max_rooms: self.max_rooms,
            },
            cors_origins: cors_origins.into_iter().filter(|o| o != "*").collect(),
            stun_urls: clean(&self.stun_urls),
            turn_urls: clean(&self.turn_urls),
            turn_secret: non_empty(&self.turn_secret),
            turn_ttl: Duration::from_secs(self.turn_ttl_secs),
            create_token: non_empty(&self.create_token),
            limits: RateLimits {
                signal: Rate {
                    per_second: self.signal_rate,
                    burst: self.signal_burst,
                },
                relay: Rate {
                    per_second: self.relay_rate,
                    burst: self.relay_burst,
                },
                join: Rate {
                    per_second: self.join_rate,
                    burst: self.join_burst,
                },
                failed_joins_per_minute: self.failed_joins_per_min,
                failed_joins_per_hour_per_ip: self.failed_joins_per_hour_per_ip,
            },
            max_event_bytes: self.max_event_bytes,
            trust_proxy: self.trust_proxy,
            ping_interval: Duration::from_secs(self.ping_interval_secs),
            ping_timeout: Duration::from_secs(self.ping_timeout_secs),
            public_host,
            redis_url,
            web_root: match &self.web_root {
                Some(dir) if dir.as_os_str().is_empty() => None,
                Some(dir) => Some(dir.clone()),
                None => crate::web::default_root(),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: ServerArgs,
    }

    #[test]
    fn flags_become_a_validated_config_and_secrets_are_redacted() {
        let cli = Cli::try_parse_from([
            "x",
            "--port",
            "0",
            "--room-capacity",
            "4",
            "--stun",
            "stun:a,stun:b",
            "--turn-secret",
            "hush",
        ])
        .unwrap();
        let c = cli.args.to_config().unwrap();
        assert_eq!(cli.args.port, 0);
        assert_eq!(c.rooms.capacity, 4);
        assert_eq!(c.stun_urls, vec!["stun:a", "stun:b"]);
        assert!(!format!("{c:?}").contains("hush"));
        let bad = Cli::try_parse_from(["x", "--room-capacity", "0"]).unwrap();
        assert!(matches!(
            bad.args.to_config(),
            Err(ConfigError::OutOfRange { .. })
        ));
    }
}
