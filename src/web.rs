//! The browser build's entry (`src/bin/arena-web.rs`): the configuration
//! the game starts with in a page, where there is no command line and no
//! settings file, read from the page's address ([`PageLink`]: the server is
//! the page's origin, `#CODE` joins a room); the stand-ins for what a tab
//! cannot have (an embedded server, bots in this process); and the online
//! screen's report to the page ([`NetReport`], `window.__arena.net`).
//!
//! It owns only that configuration, those stand-ins and the messages the
//! browser shows in place of what it cannot do. The page itself (`web/index.html`,
//! `web/arena.js`) and the FFI (`arena-web-ffi`) live outside the game
//! crate. Natively (`cargo run --features web --bin arena-web`) the same
//! configuration opens in a window, which is how to try it without a browser.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

use crate::config::{DEFAULT_PRACTICE_BOTS, Msaa, PlayConfig, StartScreen};
use crate::net::{NetEvent, NetMode, Route};
use crate::proto::{GameEvent, NetId};
use crate::settings::Settings;
use crate::sim::Map;

/// Why Create room cannot host in the browser (a tab cannot listen): the
/// room is created on the server the page came from, or nowhere.
pub const NO_HOSTING: &str = "A browser tab cannot host a server: open the game from a server's /play page (or use the desktop game to host).";

/// Why bots cannot be added from the browser (they run in the desktop game's process).
pub const NO_BOTS: &str = "bots run in the desktop game, not in a browser tab";

/// The menu's line when Quit is chosen in the browser (a page cannot close its tab).
pub const QUIT_HINT: &str = "To quit, close the tab.";

/// What the page's address says: `http(s)://HOST[:PORT]/play/[?QUERY]#CODE[?QUERY]`,
/// where QUERY is `name=NAME` and/or `mode=MODE`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageLink {
    /// `scheme://host[:port]` when the page came from a web server (the
    /// signaling server is the same origin); `None` for `file:` and the like.
    pub origin: Option<String>,
    /// The room code after `#`, normalised (ungrouped, upper case), when it is one.
    pub code: Option<String>,
    /// `name=NAME` in the query (before or after the `#CODE`): the player's
    /// name, so a test (or a link maker) skips the name prompt.
    pub name: Option<String>,
    /// `mode=MODE` in the query, as written: the network mode to play in
    /// (`hybrid`, `webrtc` or `signaling`, as the settings file spells it),
    /// e.g. a link for a network where WebRTC is blocked.
    pub mode: Option<String>,
}

impl PageLink {
    /// Reads `href` (`location.href`). Pure: no page needed.
    pub fn parse(href: &str) -> PageLink {
        let (before, fragment) = href.split_once('#').unwrap_or((href, ""));
        let (base, query) = before.split_once('?').unwrap_or((before, ""));
        let (code_part, fragment_query) = fragment.split_once('?').unwrap_or((fragment, ""));
        let origin = base.split_once("://").and_then(|(scheme, rest)| {
            let host = rest.split('/').next().unwrap_or_default();
            let web = scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https");
            (web && !host.is_empty()).then(|| format!("{}://{host}", scheme.to_ascii_lowercase()))
        });
        let code = arena_server::protocol::normalize_code(&percent_decode(code_part))
            .ok()
            .map(|c| c.as_str().to_owned());
        let param = |key: &str| {
            [query, fragment_query]
                .iter()
                .flat_map(|q| q.split('&'))
                .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
                .map(|v| percent_decode(&v.replace('+', " ")).trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        PageLink {
            origin,
            code,
            name: param("name"),
            mode: param("mode"),
        }
    }

    /// The page's own address, read from the browser (an empty link natively).
    pub fn of_page() -> PageLink {
        #[cfg(target_arch = "wasm32")]
        return PageLink::parse(&arena_web_ffi::location());
        #[cfg(not(target_arch = "wasm32"))]
        PageLink::default()
    }
}

/// `%XX` escapes decoded (invalid ones kept as they are).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The browser's configuration: the main menu (or, for a link with a
/// room code, the join screen with the code filled in, or straight into
/// the room when the link names the player too), the default practice
/// opponents and map, default settings kept in memory (saving changes them
/// for the page's life) with the page's origin as the server, no
/// anti-aliasing pass (WebGL 1 has no multisampled render targets; the
/// canvas is antialiased by the browser). A `mode` the link gets wrong is
/// said on the settings screen, and the default mode is kept.
pub fn config(seed: u64, link: &PageLink) -> PlayConfig {
    let mut settings = Settings {
        server_url: link.origin.clone(),
        ..Settings::default()
    };
    if let Some(name) = &link.name {
        settings.name = name.chars().take(crate::proto::MAX_NAME_CHARS).collect();
    }
    let mut settings_warning = None;
    if let Some(mode) = &link.mode {
        match mode.parse::<NetMode>() {
            Ok(mode) => settings.mode = mode,
            Err(e) => {
                settings_warning = Some(format!(
                    "The link's mode= was not understood: {e}. Playing in {} mode.",
                    settings.mode
                ));
            }
        }
    }
    let start = match (&link.code, &link.name) {
        (Some(code), Some(_)) => StartScreen::Join(code.clone()),
        (Some(code), None) => StartScreen::JoinForm(code.clone()),
        (None, _) => StartScreen::Menu,
    };
    PlayConfig {
        start,
        bots: DEFAULT_PRACTICE_BOTS,
        settings,
        settings_path: None,
        settings_warning,
        bind_ip: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        seed,
        map: Map::builtin(),
        screenshot: None,
        exit_after: None,
        frame_times: None,
        msaa: Msaa::Samples(1),
        mute: false,
    }
}

/// Runs the game as the browser runs it, seeded with fresh randomness.
pub fn run() {
    #[cfg(target_arch = "wasm32")]
    report_panics();
    let config = config(crate::random::u64(), &PageLink::of_page());
    #[cfg(target_arch = "wasm32")]
    crate::ui::run_in_page(config);
    #[cfg(not(target_arch = "wasm32"))]
    crate::ui::run(config);
}

/// Tells the page that a frame was drawn (`window.__arena`: its state and
/// frame count, which the page's tests wait on). Nothing on desktop.
pub fn frame_drawn() {
    #[cfg(target_arch = "wasm32")]
    arena_web_ffi::frame_drawn();
}

/// A panic in the browser aborts the module with an opaque "unreachable"
/// trap: hand the page the message first, so it can say what happened.
#[cfg(target_arch = "wasm32")]
fn report_panics() {
    std::panic::set_hook(Box::new(|info| {
        arena_web_ffi::fail(&format!("The game stopped: {info}"));
    }));
}

/// The online screen's report to the page (`window.__arena.net`), for the
/// page's tests: the room, each peer with its route and the states
/// received from it, and the game events received. Pure bookkeeping over
/// the net events; [`NetReport::publish`] hands it to the page.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NetReport {
    /// The room code, once in a room.
    pub room: Option<String>,
    /// Our network id.
    pub me: NetId,
    /// Per peer, by id.
    pub peers: BTreeMap<NetId, PeerLine>,
    /// Game events received: `fire`, `hit`, `killed`, `chat`, by kind.
    pub events: BTreeMap<&'static str, u64>,
    /// Hits and kills received whose victim is us.
    pub hits_on_me: u64,
    /// Set when something changed since the last publish.
    dirty: bool,
}

/// One peer in a [`NetReport`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PeerLine {
    /// Its name.
    pub name: String,
    /// Its route now.
    pub route: Option<Route>,
    /// States received from it.
    pub states: u64,
    /// Game events received from it.
    pub events: u64,
    /// The latest round trip, milliseconds (from the statistics).
    pub rtt_ms: Option<f64>,
    /// Whether it left.
    pub left: bool,
}

impl NetReport {
    /// A report for player `me`.
    pub fn new(me: NetId) -> NetReport {
        NetReport {
            me,
            ..NetReport::default()
        }
    }

    /// Takes in one net event.
    pub fn observe(&mut self, event: &NetEvent) {
        match event {
            NetEvent::RoomJoined { code, .. } => self.room = Some(code.clone()),
            NetEvent::PeerJoined { peer, name, .. } => {
                let p = self.peers.entry(*peer).or_default();
                p.name.clone_from(name);
                p.left = false;
            }
            NetEvent::PeerLeft { peer, .. } => self.peers.entry(*peer).or_default().left = true,
            NetEvent::RouteChanged { peer, route, .. } => {
                self.peers.entry(*peer).or_default().route = Some(*route);
            }
            NetEvent::State { peer, .. } => self.peers.entry(*peer).or_default().states += 1,
            NetEvent::Event { peer, event } => {
                self.peers.entry(*peer).or_default().events += 1;
                let (kind, victim) = match event {
                    GameEvent::Fire { .. } => ("fire", None),
                    GameEvent::Hit { victim } => ("hit", Some(*victim)),
                    GameEvent::Killed { victim, .. } => ("killed", Some(*victim)),
                    GameEvent::Chat(_) => ("chat", None),
                };
                *self.events.entry(kind).or_default() += 1;
                if victim == Some(self.me) {
                    self.hits_on_me += 1;
                }
            }
            NetEvent::Stats(stats) => {
                for s in stats {
                    if let Some(p) = self.peers.get_mut(&s.peer) {
                        p.rtt_ms = s.rtt_ms.or(p.rtt_ms);
                    }
                }
            }
            _ => return,
        }
        self.dirty = true;
    }

    /// The report as a JSON object (ids as 16 hex digits, as the bot's).
    pub fn to_json(&self) -> String {
        let peers: serde_json::Map<String, serde_json::Value> = self
            .peers
            .iter()
            .map(|(id, p)| {
                let v = serde_json::json!({
                    "name": p.name,
                    "route": p.route.map(|r| r.to_string()),
                    "states": p.states,
                    "events": p.events,
                    "rtt_ms": p.rtt_ms,
                    "left": p.left,
                });
                (format!("{id:016x}"), v)
            })
            .collect();
        serde_json::json!({
            "room": self.room,
            "me": format!("{:016x}", self.me),
            "peers": peers,
            "events": self.events,
            "hits_on_me": self.hits_on_me,
        })
        .to_string()
    }

    /// Hands the report to the page when it changed (`window.__arena.net`;
    /// nothing on desktop). Call at most a few times a second.
    pub fn publish(&mut self) {
        let changed = std::mem::take(&mut self.dirty);
        #[cfg(target_arch = "wasm32")]
        if changed {
            arena_web_ffi::net_report(&self.to_json());
        }
        #[cfg(not(target_arch = "wasm32"))]
        let _ = changed;
    }
}

/// The browser cannot run an embedded server: this type has no value, so
/// the online screen's `host` is always `None` there.
#[cfg(target_arch = "wasm32")]
#[derive(Debug)]
pub enum EmbeddedServer {}

#[cfg(target_arch = "wasm32")]
impl EmbeddedServer {
    /// Never called (no value exists).
    pub fn addr(&self) -> std::net::SocketAddr {
        match *self {}
    }
    /// Never called (no value exists).
    pub fn url(&self) -> String {
        match *self {}
    }
}

/// Bots run in the desktop game's process: in the browser, adding one says why not.
#[cfg(target_arch = "wasm32")]
#[derive(Debug, Default)]
pub struct Bots(());

#[cfg(target_arch = "wasm32")]
impl Bots {
    /// Always 0.
    pub fn len(&self) -> usize {
        0
    }
    /// Always true.
    pub fn is_empty(&self) -> bool {
        true
    }
    /// Refuses, with [`NO_BOTS`].
    pub fn add(&mut self, _net: crate::net::NetConfig, _code: String) -> Result<(), &'static str> {
        Err(NO_BOTS)
    }
}

/// The page has no LAN address to offer (the link is the page's own).
#[cfg(target_arch = "wasm32")]
pub fn lan_address() -> Option<IpAddr> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_gives_origin_code_and_name() {
        let l = PageLink::parse("http://127.0.0.1:41234/play/#3a5q-gnpb?name=Web%20Tab");
        assert_eq!(l.origin.as_deref(), Some("http://127.0.0.1:41234"));
        assert_eq!(l.code.as_deref(), Some("3A5QGNPB"));
        assert_eq!(l.name.as_deref(), Some("Web Tab"));
        let l = PageLink::parse("https://arena.example.org/play/?name=Ann#3A5Q GNPB");
        assert_eq!(l.origin.as_deref(), Some("https://arena.example.org"));
        assert_eq!(l.code.as_deref(), Some("3A5QGNPB"));
        assert_eq!(l.name.as_deref(), Some("Ann"));
    }

    #[test]
    fn a_plain_page_opens_the_menu() {
        let l = PageLink::parse("http://h:3536/play/");
        assert_eq!((l.code, l.name), (None, None));
        assert_eq!(
            config(1, &PageLink::parse("http://h:3536/play/")).start,
            StartScreen::Menu
        );
        assert_eq!(
            PageLink::parse("file:///x/index.html#NOTACODE!").origin,
            None
        );
        assert_eq!(PageLink::parse("http://h/play/#!!").code, None);
    }

    #[test]
    fn the_link_chooses_the_first_screen() {
        let c = config(1, &PageLink::parse("http://h:1/play/#ABCDEFGH"));
        assert_eq!(c.start, StartScreen::JoinForm("ABCDEFGH".into()));
        assert_eq!(c.settings.server_url.as_deref(), Some("http://h:1"));
        let c = config(1, &PageLink::parse("http://h:1/play/#ABCDEFGH?name=Zed"));
        assert_eq!(c.start, StartScreen::Join("ABCDEFGH".into()));
        assert_eq!(c.settings.name, "Zed");
    }

    #[test]
    fn the_link_may_choose_the_network_mode() {
        let c = config(
            1,
            &PageLink::parse("http://h:1/play/?mode=signaling#ABCDEFGH?name=Zed"),
        );
        assert_eq!(c.settings.mode, NetMode::SignalingOnly);
        assert_eq!(c.settings_warning, None);
        let c = config(
            1,
            &PageLink::parse("http://h:1/play/#ABCDEFGH?mode=webrtc&name=Zed"),
        );
        assert_eq!(c.settings.mode, NetMode::WebRtcOnly);
        assert_eq!(c.settings.name, "Zed");
        let c = config(
            1,
            &PageLink::parse("http://h:1/play/#ABCDEFGH?mode=carrier-pigeon"),
        );
        assert_eq!(c.settings.mode, NetMode::Hybrid);
        let warning = c.settings_warning.unwrap_or_default();
        assert!(warning.contains("carrier-pigeon"), "{warning}");
        // `modes=` is not `mode=`.
        assert_eq!(PageLink::parse("http://h/play/?modes=webrtc").mode, None);
    }

    #[test]
    fn the_report_counts_states_routes_and_events() -> Result<(), serde_json::Error> {
        let mut r = NetReport::new(1);
        r.observe(&NetEvent::RoomJoined {
            code: "ABCDEFGH".into(),
            created: false,
        });
        r.observe(&NetEvent::PeerJoined {
            peer: 3,
            name: "b".into(),
            color: 1,
        });
        r.observe(&NetEvent::RouteChanged {
            peer: 3,
            route: Route::Direct,
            candidate: None,
        });
        r.observe(&NetEvent::Event {
            peer: 3,
            event: GameEvent::Hit { victim: 1 },
        });
        let v: serde_json::Value = serde_json::from_str(&r.to_json())?;
        assert_eq!(v["room"], "ABCDEFGH");
        assert_eq!(v["peers"]["0000000000000003"]["route"], "direct");
        assert_eq!(v["peers"]["0000000000000003"]["events"], 1);
        assert_eq!(v["events"]["hit"], 1);
        assert_eq!(v["hits_on_me"], 1);
        assert!(!r.dirty || v["me"] == "0000000000000001");
        Ok(())
    }
}
