//! The page the browser build talks through: `web/net.js`, by way of the
//! imports in `arena_web_ffi::net`.

use arena_web_ffi::net as ffi;

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use super::{NetError, Page, Shared, WebHandle};
use crate::net::NetConfig;
use crate::net::core::Channel;
use crate::net::sio::Frame;

/// The browser's net handle: the shell over `web/net.js`, with the
/// methods of the desktop's `NetHandle`.
pub type NetHandle = WebHandle<JsPage>;

impl WebHandle<JsPage> {
    /// Starts the shell for `config` (its epoch must be the page's clock,
    /// [`crate::time::Instant::now`]); it connects to `config.server_url`
    /// at the first drain of its events. It cannot fail (the `Result` is
    /// the desktop handle's signature).
    pub fn spawn(config: NetConfig) -> Result<NetHandle, NetError> {
        // Our identity on the network: random, odd (never 0).
        let id = crate::random::u64() | 1;
        let handle = WebHandle::new(config, id, JsPage, crate::time::Instant::now);
        LIVE.with(|live| {
            let mut live = live.borrow_mut();
            live.retain(|w| w.strong_count() > 0);
            live.push(Rc::downgrade(handle.shared()));
        });
        ffi::on_background(pump_live);
        Ok(handle)
    }
}

thread_local! {
    /// The shells of the live handles (normally one), for the page's
    /// background pump.
    static LIVE: RefCell<Vec<Weak<Shared<JsPage>>>> = const { RefCell::new(Vec::new()) };
}

/// The page's pump while the tab is hidden: runs every live shell, so its
/// pings, hellos and resends go on and peers keep the player (the game's
/// states stop: a hidden tab draws no frames). Their events wait in the
/// handles for the next frame.
fn pump_live() {
    let shells: Vec<Rc<Shared<JsPage>>> =
        LIVE.with(|live| live.borrow().iter().filter_map(Weak::upgrade).collect());
    for shell in shells {
        shell.pump();
    }
}

/// `web/net.js`'s WebSocket and peer connections.
#[derive(Debug, Default)]
pub struct JsPage;

impl Page for JsPage {
    fn ws_open(&mut self, url: &str) {
        ffi::ws_open(url);
    }
    fn ws_send(&mut self, frame: &Frame) {
        match frame {
            Frame::Text(t) => ffi::ws_send_text(t),
            Frame::Binary(b) => ffi::ws_send_binary(b),
        }
    }
    fn ws_close(&mut self) {
        ffi::ws_close();
    }
    fn pc_open(&mut self, generation: u32, offerer: bool, config: &str) {
        ffi::pc_open(generation, offerer, config);
    }
    fn pc_signal(&mut self, generation: u32, signal: &str) {
        ffi::pc_signal(generation, signal);
    }
    fn pc_send(&mut self, generation: u32, channel: Channel, bytes: &[u8]) {
        let channel = match channel {
            Channel::State => 0,
            Channel::Events => 1,
        };
        ffi::pc_send(generation, channel, bytes);
    }
    fn pc_close(&mut self, generation: u32) {
        ffi::pc_close(generation);
    }
    fn pc_queued(&self, generation: u32) -> usize {
        ffi::pc_queued(generation)
    }
    fn ws_queued(&self) -> usize {
        ffi::ws_queued()
    }
    fn poll(&mut self) -> Option<Vec<u8>> {
        ffi::poll()
    }
}
