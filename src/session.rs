//! One networked session, the layer the window's online screen and the
//! headless bot share: the [`NetConfig`] built from the player's
//! [`Settings`], the net thread, the [`OnlineMatch`] it feeds, and the lines
//! printed on stdout for scripts. (Bots started from a match are
//! [`crate::bot::Bots`]: the bot is built on this layer, not under it.)
//!
//! It owns the order of a frame's network work: drain the events once
//! ([`Session::next_event`]) feeding each to the match, step the match
//! ([`Session::step`]) and send what it returns while in a room. It draws
//! nothing and decides no game rule (the match does); what the person is
//! told is the screen's business, what a report counts is the bot's.

use std::fmt;
use std::io::Write;
use std::net::IpAddr;

use crate::time::Instant;

use crate::net::{
    CandidateKind, LeaveReason, NetCommand, NetConfig, NetError, NetEvent, NetHandle, NetMode,
    Route,
};
use crate::online_match::{Notice, OnlineMatch};
use crate::proto::{Bounds, NetId};
use crate::settings::Settings;
use crate::sim::{InputFrame, Map, SimEvent};
use crate::sync::SyncConfig;

/// Create a room or join one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Intent {
    /// Create a room (on the configured server, or a server hosted here).
    Create,
    /// Join the room with this code.
    Join(String),
}

/// The net thread's configuration for a player with `settings` on `map`:
/// the one place settings become a [`NetConfig`]. The caller adds where
/// (`server_url`), from which local address (`bind_ip`, for WebRTC host
/// candidates) and with which `seed` (the conditioner's, the session's and
/// the match's).
pub fn net_config(
    settings: &Settings,
    server_url: String,
    bind_ip: IpAddr,
    seed: u64,
    map: &Map,
) -> NetConfig {
    NetConfig {
        color: settings.color,
        mode: settings.mode,
        ice_servers: settings.ice_servers(),
        conditions: settings.conditions(),
        send_rate: settings.send_rate,
        create_token: settings.create_token.clone(),
        bind_ip,
        seed,
        ..NetConfig::new(server_url, settings.name.clone(), arena_bounds(map))
    }
}

/// How the player's settings shape the drawing of remote players: their
/// interpolation delay, and the interval states are expected at.
pub fn sync_config(settings: &Settings) -> SyncConfig {
    SyncConfig {
        delay: settings.interp_delay.to_delay_mode(),
        // What a peer sends at is its own choice; ours is the best guess.
        nominal_interval: 1.0 / settings.send_rate.cap(),
        ..SyncConfig::default()
    }
}

/// Where joining goes when no server address is typed: the settings'
/// server, or else a game hosting on this machine (on the settings' host port).
pub fn join_server(settings: &Settings) -> String {
    settings
        .server_url
        .clone()
        .unwrap_or_else(|| format!("http://127.0.0.1:{}", settings.host_addr.port()))
}

/// The arena bounds game messages are checked against.
pub fn arena_bounds(map: &Map) -> Bounds {
    Bounds::new(glam::Vec2::ZERO, map.size)
}

/// A networked match in progress. Dropping it leaves the room: the net
/// thread says goodbye to every peer and stops (see [`NetHandle`]).
pub struct Session {
    net: NetHandle,
    /// The match the net thread's events feed.
    pub game: OnlineMatch,
    /// Time zero of the net thread's times (see [`Session::now`]).
    epoch: Instant,
    commands: Vec<NetCommand>,
}

impl Session {
    /// Starts the net thread with `config` (its epoch is now) and a match
    /// on `map` for the player it describes. Does not ask for a room yet
    /// (see [`Session::enter`]).
    pub fn start(mut config: NetConfig, map: Map, sync: SyncConfig) -> Result<Session, NetError> {
        let epoch = Instant::now();
        config.epoch = epoch;
        let (seed, name, color) = (config.seed, config.name.clone(), config.color);
        let net = NetHandle::spawn(config)?;
        let game = OnlineMatch::new(map, seed, &name, color, net.id(), sync);
        Ok(Session {
            net,
            game,
            epoch,
            commands: Vec::new(),
        })
    }

    /// Asks the server to create the room or to join it.
    pub fn enter(&self, intent: &Intent) {
        match intent {
            Intent::Create => self.send(NetCommand::CreateRoom),
            Intent::Join(code) => self.send(NetCommand::JoinRoom(code.clone())),
        }
    }

    /// Seconds since the session started: the time of every event and
    /// command, and what the match's `now` arguments are.
    pub fn now(&self) -> f64 {
        self.epoch.elapsed().as_secs_f64()
    }

    /// What the process holds and the net thread's live tasks (leak checks).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn usage(&self) -> crate::net::Usage {
        self.net.usage()
    }

    /// Where ping round trips went, per hop, when the config asked to
    /// record it ([`NetConfig::record_hops`]).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn hops(&self) -> Option<crate::net::hops::HopReport> {
        self.net.hops()
    }

    /// Our network id.
    pub fn id(&self) -> NetId {
        self.net.id()
    }

    /// Sends a command to the net thread (never blocks).
    pub fn send(&self, command: NetCommand) {
        self.net.send(command);
    }

    /// The next event from the net thread, already taken in by the match
    /// at local time `now`, with the match's news about the players it
    /// brings; `None` when no event is waiting. Call until `None` once a frame.
    pub fn next_event(&mut self, now: f64) -> Option<(NetEvent, Option<Notice>)> {
        let event = self.net.events().try_recv().ok()?;
        let notice = self.game.handle(&event, now);
        Some((event, notice))
    }

    /// One fixed tick of the match at local time `now` with the local
    /// `input`; what it has to send goes to the net thread while in a room
    /// (and is dropped before). Returns what happened (effects, sound).
    pub fn step(&mut self, input: InputFrame, now: f64) -> Vec<SimEvent> {
        let events = self.game.step(input, now, &mut self.commands);
        if self.game.room.is_some() {
            for c in self.commands.drain(..) {
                self.net.send(c);
            }
        } else {
            self.commands.clear();
        }
        events
    }
}

/// Who a [`Line`] is about.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Peer<'a> {
    /// A player as people see it, by name (the window's lines).
    Named(&'a str),
    /// A player by network id (the bot's lines: scripts key on the id, as
    /// names may repeat or hold spaces), with its name.
    Id(NetId, &'a str),
}

/// A line on stdout for scripts and tests, one per notable event. This
/// type's `Display` is the only place the format is written:
///
/// | line | window | bot |
/// |---|---|---|
/// | `ROOM` | `ROOM <code>` | the same, its first line |
/// | `SERVER` | `SERVER <url>` | — |
/// | `JOINED` | `JOINED <name>` | `JOINED <id> <name>` |
/// | `ROUTE` | `ROUTE <name> <route>` | `ROUTE <id> <route> <candidate or ->` |
/// | `LEFT` | `LEFT <name>` | `LEFT <id> <reason>` |
/// | others | — | `MODE <mode>`, `ERROR <text>`, `DISCONNECTED <text>`, `RECONNECTED`, `DONE` |
///
/// Ids are 16 hex digits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Line<'a> {
    /// In the room with this code.
    Room(&'a str),
    /// The room is on this server.
    Server(&'a str),
    /// A player joined.
    Joined(Peer<'a>),
    /// A player's route changed.
    Route {
        /// Who.
        peer: Peer<'a>,
        /// Its route now.
        route: Route,
        /// Local candidate type when on WebRTC (bot lines only).
        candidate: Option<CandidateKind>,
    },
    /// A player left.
    Left {
        /// Who.
        peer: Peer<'a>,
        /// Why (bot lines only).
        reason: LeaveReason,
    },
    /// Switched to this network mode.
    Mode(NetMode),
    /// An error reported by the net thread.
    Error(&'a str),
    /// The server connection was lost.
    Disconnected(&'a str),
    /// Back on the server.
    Reconnected,
    /// What the process holds, with the players in the room (`arena bot
    /// --usage-every`, `arena churn`).
    Usage {
        /// Memory, descriptors, tasks.
        usage: crate::net::Usage,
        /// Players in the room.
        peers: usize,
    },
    /// The bot is done (its report is written).
    Done,
}

impl fmt::Display for Line<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Line::Room(code) => write!(f, "ROOM {code}"),
            Line::Server(url) => write!(f, "SERVER {url}"),
            Line::Joined(Peer::Named(name)) => write!(f, "JOINED {name}"),
            Line::Joined(Peer::Id(id, name)) => write!(f, "JOINED {id:016x} {name}"),
            Line::Route {
                peer: Peer::Named(name),
                route,
                ..
            } => write!(f, "ROUTE {name} {route}"),
            Line::Route {
                peer: Peer::Id(id, _),
                route,
                candidate,
            } => {
                let c = candidate.map_or("-", CandidateKind::as_str);
                write!(f, "ROUTE {id:016x} {route} {c}")
            }
            Line::Left {
                peer: Peer::Named(name),
                ..
            } => write!(f, "LEFT {name}"),
            Line::Left {
                peer: Peer::Id(id, _),
                reason,
            } => write!(f, "LEFT {id:016x} {reason:?}"),
            Line::Mode(mode) => write!(f, "MODE {mode}"),
            Line::Error(e) => write!(f, "ERROR {e}"),
            Line::Disconnected(message) => write!(f, "DISCONNECTED {message}"),
            Line::Reconnected => f.write_str("RECONNECTED"),
            Line::Usage { usage, peers } => write!(f, "USAGE {usage} peers={peers}"),
            Line::Done => f.write_str("DONE"),
        }
    }
}

/// Writes `line` to `out` and flushes, so a script reading a pipe sees it at once.
pub fn print(out: &mut impl Write, line: Line<'_>) -> std::io::Result<()> {
    writeln!(out, "{line}")?;
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::SendRate;

    /// The formats tests/window.rs, tests/net.rs and tests/netlab.rs parse.
    #[test]
    fn lines_keep_the_formats_scripts_parse() {
        let id = 0xAB;
        let cases = [
            (Line::Room("ABCDEFGH"), "ROOM ABCDEFGH"),
            (Line::Server("http://h:1"), "SERVER http://h:1"),
            (Line::Joined(Peer::Named("Bot Red")), "JOINED Bot Red"),
            (Line::Joined(Peer::Id(id, "b")), "JOINED 00000000000000ab b"),
            (
                Line::Route {
                    peer: Peer::Named("Bob"),
                    route: Route::Direct,
                    candidate: Some(CandidateKind::Host),
                },
                "ROUTE Bob direct",
            ),
            (
                Line::Route {
                    peer: Peer::Id(id, "b"),
                    route: Route::Relay,
                    candidate: None,
                },
                "ROUTE 00000000000000ab relay -",
            ),
            (
                Line::Left {
                    peer: Peer::Named("Bob"),
                    reason: LeaveReason::Left,
                },
                "LEFT Bob",
            ),
            (
                Line::Left {
                    peer: Peer::Id(id, "b"),
                    reason: LeaveReason::TimedOut,
                },
                "LEFT 00000000000000ab TimedOut",
            ),
            (Line::Mode(NetMode::SignalingOnly), "MODE signaling"),
            (
                Line::Usage {
                    usage: crate::net::Usage {
                        rss_kb: Some(20480),
                        fds: None,
                        tasks: 7,
                    },
                    peers: 1,
                },
                "USAGE rss_kb=20480 fds=- tasks=7 peers=1",
            ),
            (Line::Done, "DONE"),
        ];
        for (line, text) in cases {
            assert_eq!(line.to_string(), text);
        }
    }

    #[test]
    fn the_net_config_carries_the_settings() {
        let settings = Settings {
            name: "Alice".into(),
            color: 3,
            send_rate: SendRate::Max(30.0),
            ice_servers: vec!["stun:example.invalid:3478".into()],
            create_token: Some("t".into()),
            ..Settings::default()
        };
        let ip = IpAddr::from([127, 0, 0, 1]);
        let c = net_config(&settings, "http://s:1".into(), ip, 9, &Map::builtin());
        assert_eq!((c.name.as_str(), c.color, c.seed), ("Alice", 3, 9));
        assert_eq!((c.server_url.as_str(), c.bind_ip), ("http://s:1", ip));
        assert_eq!(c.send_rate, SendRate::Max(30.0));
        assert_eq!(c.ice_servers, settings.ice_servers());
        assert_eq!(c.create_token.as_deref(), Some("t"));
    }
}
