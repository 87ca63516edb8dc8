//! [`WebHandle`]: the browser's counterpart of [`crate::net::NetHandle`],
//! with the same methods, so the session layer drives either.
//!
//! The native handle talks to a thread; in a tab there is one thread, so
//! this handle owns the shell and runs it when the game calls it: a
//! command is handled at once, and [`WebHandle::events`] (which the game
//! calls once per frame to drain the events) first pumps the shell.

use crate::time::Instant;
use std::cell::RefCell;

use crossbeam_channel::{Receiver, Sender};

use super::{Page, WebNet};
use crate::net::{NetCommand, NetConfig, NetEvent};
use crate::proto::NetId;

/// The browser's net handle. See the module documentation.
pub struct WebHandle<P: Page> {
    id: NetId,
    pub(super) net: RefCell<WebNet<P>>,
    tx: Sender<NetEvent>,
    events: Receiver<NetEvent>,
    clock: fn() -> Instant,
}

impl<P: Page> WebHandle<P> {
    /// A handle for player `id` with `config`, talking through `page`, on
    /// the page's `clock` (the same clock as `config.epoch`'s).
    pub fn new(config: NetConfig, id: NetId, page: P, clock: fn() -> Instant) -> WebHandle<P> {
        let (tx, events) = crossbeam_channel::unbounded();
        let net = WebNet::new(config, id, page, clock());
        WebHandle {
            id,
            net: RefCell::new(net),
            tx,
            events,
            clock,
        }
    }

    /// Our stable network id.
    pub fn id(&self) -> NetId {
        self.id
    }

    /// Hands the core a command now.
    pub fn send(&self, command: NetCommand) {
        if let Ok(mut net) = self.net.try_borrow_mut() {
            net.send(command, (self.clock)());
            self.forward(&mut net);
        }
    }

    /// Runs the shell (the page's reports, due timers), then gives the
    /// event stream: drain it with `try_iter()` once per frame.
    pub fn events(&self) -> &Receiver<NetEvent> {
        if let Ok(mut net) = self.net.try_borrow_mut() {
            net.pump((self.clock)());
            self.forward(&mut net);
        }
        &self.events
    }

    /// Leaves the room, says goodbye to every peer and closes the socket.
    pub fn shutdown(self) {
        // Drop does it.
    }

    fn forward(&self, net: &mut WebNet<P>) {
        while let Some(ev) = net.next_event() {
            // The receiver lives in `self`: the send cannot fail.
            let _ = self.tx.send(ev);
        }
    }
}

impl<P: Page> Drop for WebHandle<P> {
    fn drop(&mut self) {
        let now = (self.clock)();
        let net = self.net.get_mut();
        if !net.is_closed() {
            net.send(NetCommand::Shutdown, now);
        }
        net.close_now();
    }
}
