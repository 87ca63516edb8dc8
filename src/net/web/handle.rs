//! [`WebHandle`]: the browser's counterpart of [`crate::net::NetHandle`],
//! with the same methods, so the session layer drives either.
//!
//! The native handle talks to a thread; in a tab there is one thread, so
//! this handle owns the shell and runs it when the game calls it: a
//! command is handled at once, and [`WebHandle::events`] (which the game
//! calls once per frame to drain the events) first pumps the shell.
//!
//! A hidden tab draws no frames, so nothing would drain the events: the
//! page then calls [`Shared::pump`] about once a second instead (through
//! [`WebHandle::shared`]), which keeps pings and resends going, so peers do
//! not time the player out while the tab is in the background.

use crate::time::Instant;
use std::cell::RefCell;
use std::rc::Rc;

use crossbeam_channel::{Receiver, Sender};

use super::{Page, WebNet};
use crate::net::{NetCommand, NetConfig, NetEvent};
use crate::proto::NetId;

/// The browser's net handle. See the module documentation.
pub struct WebHandle<P: Page> {
    id: NetId,
    shared: Rc<Shared<P>>,
    events: Receiver<NetEvent>,
}

/// What a handle shares with the page's background pump: the shell, the
/// sending end of the game's event stream, the clock.
pub struct Shared<P: Page> {
    pub(super) net: RefCell<WebNet<P>>,
    tx: Sender<NetEvent>,
    clock: fn() -> Instant,
}

impl<P: Page> Shared<P> {
    /// Runs the shell (the page's reports, due timers) and queues its
    /// events for the game. Does nothing if the shell is busy (a call
    /// from inside it).
    pub fn pump(&self) {
        if let Ok(mut net) = self.net.try_borrow_mut() {
            net.pump((self.clock)());
            self.forward(&mut net);
        }
    }

    fn forward(&self, net: &mut WebNet<P>) {
        while let Some(ev) = net.next_event() {
            // The receiver lives in the handle; once it is gone the events
            // have no reader, and dropping them is right.
            let _ = self.tx.send(ev);
        }
    }
}

impl<P: Page> WebHandle<P> {
    /// A handle for player `id` with `config`, talking through `page`, on
    /// the page's `clock` (the same clock as `config.epoch`'s).
    pub fn new(config: NetConfig, id: NetId, page: P, clock: fn() -> Instant) -> WebHandle<P> {
        let (tx, events) = crossbeam_channel::unbounded();
        let net = WebNet::new(config, id, page, clock());
        let shared = Rc::new(Shared {
            net: RefCell::new(net),
            tx,
            clock,
        });
        WebHandle { id, shared, events }
    }

    /// The part the page's background pump runs while the tab is hidden
    /// (hold it weakly: the handle's drop ends the shell).
    pub fn shared(&self) -> &Rc<Shared<P>> {
        &self.shared
    }

    /// The shell, for tests.
    #[cfg(test)]
    pub(super) fn net(&self) -> &RefCell<WebNet<P>> {
        &self.shared.net
    }

    /// Our stable network id.
    pub fn id(&self) -> NetId {
        self.id
    }

    /// Hands the core a command now.
    pub fn send(&self, command: NetCommand) {
        let shared = &self.shared;
        if let Ok(mut net) = shared.net.try_borrow_mut() {
            net.send(command, (shared.clock)());
            shared.forward(&mut net);
        }
    }

    /// Runs the shell (the page's reports, due timers), then gives the
    /// event stream: drain it with `try_iter()` once per frame.
    pub fn events(&self) -> &Receiver<NetEvent> {
        self.shared.pump();
        &self.events
    }

    /// Leaves the room, says goodbye to every peer and closes the socket.
    pub fn shutdown(self) {
        // Drop does it.
    }
}

impl<P: Page> Drop for WebHandle<P> {
    fn drop(&mut self) {
        let now = (self.shared.clock)();
        // A background pump may hold the shell only while it runs, never
        // across a drop (the page is single-threaded).
        if let Ok(mut net) = self.shared.net.try_borrow_mut() {
            if !net.is_closed() {
                net.send(NetCommand::Shutdown, now);
            }
            net.close_now();
        }
    }
}
