//! The networked match screen: creating or joining a room, then playing in
//! it with everyone else in the room.
//!
//! Owns the net thread's handle, the embedded signaling server when this
//! machine hosts, the bots started from this window, and what the person
//! sees of the network: route badges, toasts, the reconnecting banner, the
//! room-code panel and the net graph (F3). The networked match and its net
//! thread are a [`Session`] (shared with the headless bot); this screen
//! drains its events once per frame, steps it at the fixed tick and draws
//! with the arena renderer and HUD the practice screen uses
//! ([`super::play`]). Dropping the screen leaves the room cleanly (bots
//! first, then the net thread, then the embedded server).

use std::net::{IpAddr, SocketAddr};

use macroquad::prelude::*;

use super::arena::{arena_view, draw_crosshair, local_input};
use super::audio::Sounds;
use super::badge::draw_banner;
use super::hud::{self, HUD_HEIGHT};
use super::play::{Play, frame_dt};
use super::theme::{self, Text};
use super::toast::{ToastKind, Toasts};
use super::widgets::button_column;
#[cfg(not(target_arch = "wasm32"))]
use crate::bot::Bots;
#[cfg(not(target_arch = "wasm32"))]
use crate::net::{EmbeddedServer, lan_address};
use crate::net::{LeaveReason, NetCommand, NetEvent, NetMode};
use crate::online_match::Notice;
use crate::session::{self, Intent, Line, Peer, Session};
use crate::settings::Settings;
use crate::sim::{MAX_PLAYERS, Map, PLAYER_RADIUS};
use crate::web::NetReport;
#[cfg(target_arch = "wasm32")]
use crate::web::{Bots, EmbeddedServer, lan_address};

mod graph;
mod panels;
mod peer_panel;
mod words;

use graph::GraphPanel;
use panels::{CodeChoice, FailedChoice};

pub use peer_panel::{badge_cell, peer_row};
use words::next_mode;
pub use words::{explain, grouped, mode_label, wrap};

/// How to start an online session.
#[derive(Debug, Clone)]
pub struct OnlineStart {
    /// Create or join.
    pub intent: Intent,
    /// The player's settings (name, colour, mode, server, ...).
    pub settings: Settings,
    /// Server to use instead of the settings' (the join screen's address field).
    pub server: Option<String>,
    /// Local address for WebRTC host candidates.
    pub bind_ip: IpAddr,
    /// Bots to start in this process once in the room.
    pub bots: usize,
    /// The arena.
    pub map: Map,
    /// Seed of the match and the bots.
    pub seed: u64,
}

/// What the screen asks the app to do next.
#[derive(Debug, Clone, PartialEq)]
pub enum OnlineAction {
    /// Stay.
    Continue,
    /// Back to the main menu (the room is left).
    MainMenu,
    /// Joining failed: back to the join screen with this explanation.
    JoinFailed {
        /// The code tried.
        code: String,
        /// The server tried.
        server: String,
        /// What went wrong, for the person.
        message: String,
    },
    /// Quit the game.
    Quit,
}

#[derive(Debug, Clone, PartialEq)]
enum Stage {
    Connecting,
    Failed(String),
    Playing,
}

/// The entries of the match menu (Esc), in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MenuEntry {
    Resume,
    NetworkMode,
    NetGraph,
    AddBot,
    CopyCode,
    CopyLink,
    Leave,
    Quit,
}

/// The networked match screen. The first three fields connect it to the
/// room, in drop order: the bots started here leave first, then the net
/// thread says goodbye, then the embedded server stops. Dropping them can
/// take a second or two (see [`Online::leave`]).
pub struct Online {
    bots: Bots,
    session: Session,
    host: Option<EmbeddedServer>,
    server_url: String,
    /// `host:port` others on the network can join at (hosting here).
    lan_hint: Option<String>,
    /// The room code as people read it (`ABCD-EFGH`), once in the room.
    room_label: Option<String>,
    stage: Stage,
    start: OnlineStart,
    mode: NetMode,
    play: Play,
    toasts: Toasts,
    graph: GraphPanel,
    code_panel: bool,
    /// What the page's tests read (`window.__arena.net`; nothing on desktop).
    report: NetReport,
}

/// Why an online session could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The embedded server could not listen (or, in the browser, there is none).
    #[error("cannot host a server here: {0}")]
    Host(String),
    /// The net thread could not start.
    #[error("cannot start networking: {0}")]
    Net(String),
}

impl Online {
    /// Starts networking (and the embedded server when hosting) and asks to
    /// create or join the room; the screen shows progress until it is in.
    pub fn start(start: OnlineStart) -> Result<Online, StartError> {
        let settings = &start.settings;
        let mut host = None;
        let mut lan_hint = None;
        let server_url = match (&start.server, &settings.server_url, &start.intent) {
            (Some(url), _, _) => url.clone(),
            (None, None, Intent::Create) => {
                let server = host_here(settings.host_addr)?;
                lan_hint = lan_hint_for(server.addr());
                let url = server.url();
                host = Some(server);
                url
            }
            (None, _, _) => session::join_server(settings),
        };
        let net = session::net_config(
            settings,
            server_url.clone(),
            start.bind_ip,
            start.seed,
            &start.map,
        );
        let sync = session::sync_config(settings);
        let session = Session::start(net, start.map.clone(), sync)
            .map_err(|e| StartError::Net(e.to_string()))?;
        let report = NetReport::new(session.id());
        let online = Online {
            bots: Bots::default(),
            session,
            host,
            server_url,
            lan_hint,
            room_label: None,
            stage: Stage::Connecting,
            mode: settings.mode,
            play: Play::default(),
            toasts: Toasts::new(),
            graph: GraphPanel::new(settings.net_graph),
            code_panel: false,
            report,
            start,
        };
        online.session.enter(&online.start.intent);
        Ok(online)
    }

    /// Asks again to create or join the room.
    fn retry(&mut self) {
        self.stage = Stage::Connecting;
        self.session.enter(&self.start.intent);
    }

    /// Leaves the room on a thread of its own, so the window does not freeze
    /// while bots and the net thread say goodbye; the handle tells when it
    /// is done (wait for it before the process exits).
    /// In the browser there is no thread: the room is left at once (the
    /// page closes its connections a moment later).
    pub fn leave(self) -> Option<std::thread::JoinHandle<()>> {
        let link = (self.bots, self.session, self.host);
        // Not `cfg!`: the browser's handle is not `Send` (it is shared
        // with the page's background pump), so no thread may even be named.
        #[cfg(target_arch = "wasm32")]
        {
            drop(link);
            None
        }
        #[cfg(not(target_arch = "wasm32"))]
        std::thread::Builder::new()
            .name("arena-leave".into())
            .spawn(move || drop(link))
            .ok()
    }

    /// One frame: network events, input, fixed-step match, drawing.
    pub fn frame(&mut self, text: &Text, sounds: &Sounds) -> OnlineAction {
        let dt = frame_dt();
        let now = self.session.now();
        while let Some((event, notice)) = self.session.next_event(now) {
            self.report.observe(&event);
            let action = match notice {
                Some(notice) => {
                    self.on_notice(notice);
                    None
                }
                None => self.on_session_event(event),
            };
            if let Some(action) = action {
                return action;
            }
        }
        self.play.toggle_menu();
        if is_key_pressed(KeyCode::F3) {
            self.graph.on = !self.graph.on;
        }
        let game = &self.session.game;
        let view = arena_view(&game.world);
        let input = if self.play.menu.is_none() && !self.code_panel {
            local_input(&game.world, game.local, &view)
        } else {
            Default::default()
        };
        // The match goes on behind the menus: others are playing.
        for _ in 0..self.play.clock.ticks(dt) {
            let events = self.session.step(input, now);
            let game = &self.session.game;
            self.play
                .on_sim_events(&events, &game.world, game.local, sounds);
        }
        self.play.effects.update(dt);
        self.toasts.update(dt);
        self.graph.sample(&self.session.game, now);
        self.report.publish();
        // First, while nothing else is drawn (see `GraphLayer::update`).
        self.graph.update(text, now);
        self.draw(text);
        let mut action = self.draw_overlays(text);
        if is_quit_requested() {
            action = OnlineAction::Quit;
        }
        action
    }

    /// Reacts to the server connection and the room (the match took the
    /// event in already); `Some` ends the screen.
    fn on_session_event(&mut self, event: NetEvent) -> Option<OnlineAction> {
        match event {
            NetEvent::Connected { core_only: true } => {
                self.toasts.push(
                    ToastKind::Info,
                    "This server speaks only the core protocol: rooms work, some extras do not",
                );
            }
            NetEvent::RoomJoined { code, created } => {
                let first = self.stage != Stage::Playing;
                self.stage = Stage::Playing;
                if first {
                    announce(Line::Room(&code));
                    announce(Line::Server(&self.server_url));
                    self.code_panel = created && self.start.bots == 0;
                    for _ in 0..self.start.bots {
                        self.add_bot();
                    }
                    self.room_label = Some(grouped(&code));
                    let what = if created {
                        "Room created"
                    } else {
                        "Joined room"
                    };
                    let label = self.room_label.as_deref().unwrap_or_default();
                    self.toasts.push(ToastKind::Good, format!("{what} {label}"));
                }
            }
            NetEvent::RoomFailed { kind, message } => {
                let message = explain(kind, &message, &self.server_url);
                match &self.start.intent {
                    Intent::Join(code) => {
                        return Some(OnlineAction::JoinFailed {
                            code: code.clone(),
                            server: self.server_url.clone(),
                            message,
                        });
                    }
                    Intent::Create => self.stage = Stage::Failed(message),
                }
            }
            NetEvent::ServerUnreachable { message } if self.stage == Stage::Playing => {
                self.toasts.push(ToastKind::Warn, message);
            }
            NetEvent::Disconnected { .. } => {
                self.toasts
                    .push(ToastKind::Warn, "Lost the server — reconnecting…");
            }
            NetEvent::Reconnected => {
                self.toasts
                    .push(ToastKind::Good, "Reconnected to the server");
            }
            NetEvent::Error(e) => self.toasts.push(ToastKind::Bad, e),
            // Players, their states and links: the match's business.
            _ => {}
        }
        None
    }

    /// Tells the person what the match reports about the players.
    fn on_notice(&mut self, notice: Notice) {
        match notice {
            Notice::Joined(name) => {
                announce(Line::Joined(Peer::Named(&name)));
                self.code_panel = false;
                self.toasts.push(ToastKind::Good, format!("{name} joined"));
            }
            Notice::Left {
                peer, name, reason, ..
            } => {
                announce(Line::Left {
                    peer: Peer::Named(&name),
                    reason,
                });
                let (kind, msg) = match reason {
                    LeaveReason::TimedOut => (ToastKind::Warn, format!("{name} timed out")),
                    LeaveReason::Blocked => (
                        ToastKind::Warn,
                        format!("{name} was blocked: it sent invalid or forged data"),
                    ),
                    _ => (ToastKind::Info, format!("{name} left")),
                };
                self.toasts.push(kind, msg);
                self.graph.forget(peer);
            }
            Notice::Full(name) => self.toasts.push(
                ToastKind::Warn,
                format!("{name} is in the room but the arena is full ({MAX_PLAYERS} players)"),
            ),
            Notice::Route { name, from, to } => {
                announce(Line::Route {
                    peer: Peer::Named(&name),
                    route: to,
                    candidate: None,
                });
                let toast = words::route_news(&name, from, to);
                if let Some((kind, msg)) = toast {
                    self.toasts.push(kind, msg);
                }
            }
            Notice::Chat { name, text } => {
                self.toasts.push(ToastKind::Info, format!("{name}: {text}"));
            }
        }
    }

    /// Starts one more bot in this process, in the room: a default player
    /// with its own name and colour, in our network mode, with our ICE servers.
    fn add_bot(&mut self) {
        let Some(code) = self.session.game.room.clone() else {
            return;
        };
        let n = self.bots.len();
        let ours = &self.start.settings;
        let color = (ours.color as usize + 1 + n) % MAX_PLAYERS;
        let settings = Settings {
            name: format!("Bot {}", theme::PLAYER_COLOR_NAMES[color]),
            color: color as u8,
            mode: self.mode,
            ice_servers: ours.ice_servers.clone(),
            turn_user: ours.turn_user.clone(),
            turn_pass: ours.turn_pass.clone(),
            ..Settings::default()
        };
        let seed = self.start.seed.wrapping_add(1 + n as u64);
        let net = session::net_config(
            &settings,
            self.server_url.clone(),
            self.start.bind_ip,
            seed,
            &self.start.map,
        );
        if let Err(e) = self.bots.add(net, code) {
            let name = settings.name;
            self.toasts
                .push(ToastKind::Bad, format!("cannot start {name}: {e}"));
        }
    }

    fn draw(&self, text: &Text) {
        let world = &self.session.game.world;
        let local = self.session.game.local;
        let view = arena_view(world);
        self.play.draw_world(world, &view, text, local);
        // Route badge under each remote player.
        let r = view.len(PLAYER_RADIUS);
        for remote in self.session.game.remotes() {
            let Some(p) = world.player(remote.slot).filter(|p| p.alive) else {
                continue;
            };
            let s = view.to_screen(p.pos);
            super::badge::draw_route_badge(
                text,
                s.x,
                s.y + r + 15.0,
                remote.link.route,
                remote.link.candidate,
                remote.link.rtt_ms,
            );
        }
        if self.play.menu.is_none() && !self.code_panel {
            draw_crosshair();
        }
        hud::draw_bar(world, local, text);
        if let Some(label) = &self.room_label {
            text.right(
                &format!("Room {label}"),
                screen_width() - 90.0,
                HUD_HEIGHT / 2.0 + 7.0,
                16.0,
                theme::TEXT,
                true,
            );
        }
        peer_panel::draw(text, &self.session.game);
        self.play.draw_hud(world, local, text);
        self.graph.draw();
        self.toasts.draw(text);
        if self.session.game.server_lost {
            draw_banner(
                text,
                HUD_HEIGHT,
                "Server connection lost — reconnecting… direct links keep the match running",
                theme::HEALTH_LOW,
            );
        }
        text.draw(
            "WASD move · mouse aim · click fire · Tab scores · F3 net graph · Esc menu",
            14.0,
            screen_height() - 10.0,
            14.0,
            theme::TEXT_DIM,
            false,
        );
    }

    /// Menus and panels over the match; returns what the person chose.
    fn draw_overlays(&mut self, text: &Text) -> OnlineAction {
        match &self.stage {
            Stage::Connecting => panels::connecting(text, &self.start.intent, &self.server_url),
            Stage::Failed(message) => {
                return match panels::failed(text, message) {
                    Some(FailedChoice::Retry) => {
                        self.retry();
                        OnlineAction::Continue
                    }
                    Some(FailedChoice::MainMenu) => OnlineAction::MainMenu,
                    None => OnlineAction::Continue,
                };
            }
            Stage::Playing => {}
        }
        if self.code_panel && self.play.menu.is_none() {
            if let Some(code) = &self.room_label {
                let hosted = self.host.as_ref().map(|h| h.addr().port());
                let hint = words::share_hint(
                    hosted,
                    self.start.settings.host_addr.port(),
                    self.lan_hint.as_deref(),
                    &self.server_url,
                );
                match panels::room_code(text, code, &hint) {
                    Some(CodeChoice::Copy) => {
                        copy_to_clipboard(code);
                        self.toasts.push(ToastKind::Good, "Room code copied");
                    }
                    Some(CodeChoice::CopyLink) => self.copy_link(),
                    Some(CodeChoice::Play) => self.code_panel = false,
                    None => {}
                }
            }
        }
        self.draw_menu(text)
    }

    /// Puts the room's browser link (`http://HOST:PORT/play#CODE`, see
    /// [`words::play_link`]) on the clipboard.
    fn copy_link(&mut self) {
        let Some(label) = &self.room_label else {
            return;
        };
        // Our LAN address stands in for a loopback server URL, unless the
        // server hosted here listens on loopback only.
        let lan = match &self.host {
            Some(h) if h.addr().ip().is_loopback() => None,
            _ => lan_address(),
        };
        match words::play_link(&self.server_url, lan, label) {
            Some(link) => {
                copy_to_clipboard(&link);
                self.toasts.push(ToastKind::Good, "Link copied");
            }
            None => self.toasts.push(
                ToastKind::Bad,
                format!(
                    "Cannot make a link from the server address {}",
                    self.server_url
                ),
            ),
        }
    }

    /// The Esc menu (the match goes on behind it).
    fn draw_menu(&mut self, text: &Text) -> OnlineAction {
        let Some(mut focus) = self.play.menu else {
            return OnlineAction::Continue;
        };
        let (sw, sh) = (screen_width(), screen_height());
        draw_rectangle(0.0, 0.0, sw, sh, theme::with_alpha(BLACK, 0.55));
        let (cx, cy) = (sw / 2.0, sh / 2.0);
        let (w, h, gap) = (380.0, 46.0, 10.0);
        let graph = if self.graph.on { "on" } else { "off" };
        let entries = [
            (MenuEntry::Resume, "Resume".to_owned()),
            (
                MenuEntry::NetworkMode,
                format!("Network: {}", mode_label(self.mode)),
            ),
            (MenuEntry::NetGraph, format!("Net graph: {graph}")),
            (MenuEntry::AddBot, "Add a bot".to_owned()),
            (MenuEntry::CopyCode, "Copy room code".to_owned()),
            (MenuEntry::CopyLink, "Copy link".to_owned()),
            (MenuEntry::Leave, "Leave room".to_owned()),
            (MenuEntry::Quit, "Quit".to_owned()),
        ];
        let top = cy - (entries.len() as f32 * (h + gap)) / 2.0;
        text.centered("Match menu", cx, top - 24.0, 40.0, theme::ACCENT, true);
        let chosen = button_column(text, &mut focus, &entries, |i| {
            Rect::new(cx - w / 2.0, top + i as f32 * (h + gap), w, h)
        });
        self.play.menu = Some(focus);
        match chosen {
            Some(MenuEntry::Resume) => self.play.menu = None,
            Some(MenuEntry::NetworkMode) => {
                self.mode = next_mode(self.mode);
                self.session.send(NetCommand::SetMode(self.mode));
                self.toasts.push(
                    ToastKind::Info,
                    format!("Network mode: {}", mode_label(self.mode)),
                );
            }
            Some(MenuEntry::NetGraph) => self.graph.on = !self.graph.on,
            Some(MenuEntry::AddBot) => {
                if self.session.game.world.players.len() < MAX_PLAYERS {
                    self.add_bot();
                } else {
                    self.toasts.push(ToastKind::Warn, "The arena is full");
                }
            }
            Some(MenuEntry::CopyCode) => {
                if let Some(label) = &self.room_label {
                    copy_to_clipboard(label);
                    self.toasts.push(ToastKind::Good, "Room code copied");
                }
            }
            Some(MenuEntry::CopyLink) => self.copy_link(),
            Some(MenuEntry::Leave) => return OnlineAction::MainMenu,
            Some(MenuEntry::Quit) => return OnlineAction::Quit,
            None => {}
        }
        OnlineAction::Continue
    }
}

/// Starts the embedded server on `addr`; when that port is taken (another
/// game hosts already), on a free port of the same interface.
#[cfg(not(target_arch = "wasm32"))]
fn host_here(addr: SocketAddr) -> Result<EmbeddedServer, StartError> {
    // The browser build at /play, found as `arena-server` finds it.
    let config = arena_server::Config {
        web_root: arena_server::web::default_root(),
        ..arena_server::Config::default()
    };
    EmbeddedServer::start(addr, config.clone()).or_else(|first| {
        let mut any = addr;
        any.set_port(0);
        tracing::info!("{first}; hosting on a free port instead");
        EmbeddedServer::start(any, config).map_err(|e| StartError::Host(e.to_string()))
    })
}

/// A browser tab cannot listen: Create room needs the page's server.
#[cfg(target_arch = "wasm32")]
fn host_here(_addr: SocketAddr) -> Result<EmbeddedServer, StartError> {
    Err(StartError::Host(crate::web::NO_HOSTING.to_owned()))
}

/// `ip:port` others on the local network can join at, when hosting on every interface.
fn lan_hint_for(addr: SocketAddr) -> Option<String> {
    if !addr.ip().is_unspecified() {
        return (!addr.ip().is_loopback()).then(|| addr.to_string());
    }
    lan_address().map(|ip| SocketAddr::new(ip, addr.port()).to_string())
}

fn copy_to_clipboard(s: &str) {
    macroquad::miniquad::window::clipboard_set(s);
}

/// A line on stdout for scripts and tests (see [`Line`]); a closed stdout
/// does not stop the game.
fn announce(line: Line<'_>) {
    let _ = session::print(&mut std::io::stdout().lock(), line);
}
