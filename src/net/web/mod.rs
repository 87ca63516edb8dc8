//! The browser shell around [`NetCore`]: the same core as the native shell
//! ([`super::driver`]), driven from the frame loop instead of a tokio task,
//! with the page's WebSocket and `RTCPeerConnection`s ([`Page`]) instead of
//! rust_socketio and webrtc, and [`super::sio`] for Socket.IO.
//!
//! Each frame the game calls [`WebNet::pump`] with the time: every report
//! the page has queued since the last frame ([`Page::poll`]) becomes a core
//! input (or a Socket.IO frame for the client), then every timer that is
//! due runs
//! (the Socket.IO client's, the request deadlines, lingering closes, the
//! reconnection, the core's). Reports are handled before timers, so a tab
//! the browser kept from drawing for a minute (hidden) comes back with its
//! queued pings counted before the silence check runs. No rule lives here:
//! as in the native shell, routes, offers, resends and timeouts are the
//! core's. Pure: it is compiled and unit-tested natively; the page behind
//! [`Page`] is `web/net.js`.
//!
//! It does what rust_socketio does for the native shell: after the first
//! connection is lost it reconnects by itself (250 ms doubling to 5 s,
//! forever), reporting [`ServerEvent::Disconnected`] once and
//! [`ServerEvent::Connected`] when back; a first connection that fails is
//! the core's to retry ([`Input::Connected`] with the error).

mod handle;
#[cfg(target_arch = "wasm32")]
mod js;
pub mod page;

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use crate::time::Instant;

use arena_server::protocol::{CreateRoomAck, HelloAck, IceServer, events};
use serde_json::{Value, json};

use super::api::{NetCommand, NetConfig, NetEvent};
use super::core::{
    BYE_LINGER, Backlog, HELLO_WAIT, Input, JoinRequest, NetCore, Output, PeerEvent, RequestError,
    ServerEvent,
};
use super::sio::{self, AckError, AckId, Client, ClientConfig, Payload};
use super::wire;
use crate::proto::NetId;
pub use handle::{Shared, WebHandle};
#[cfg(target_arch = "wasm32")]
pub use js::{JsPage, NetHandle};
pub use page::{Page, PageError, PageEvent, PeerReport};

/// Why the browser's shell could not start: it always starts (the page
/// is already there), so there is no value of this type. It stands in for
/// the desktop's `NetError` where the session layer starts a handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetError {}

impl std::fmt::Display for NetError {
    fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {}
    }
}

impl std::error::Error for NetError {}

/// How long a request waits for its ack (the native client's).
const ACK_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a join waits for the ack of the `leave_room` before it (a core
/// server never answers one).
const LEAVE_WAIT: Duration = Duration::from_secs(1);
/// First reconnection delay after a lost connection; it doubles up to
/// [`RECONNECT_MAX`] (rust_socketio's, as the native shell sets it).
const RECONNECT_MIN: Duration = Duration::from_millis(250);
const RECONNECT_MAX: Duration = Duration::from_secs(5);

/// A request waiting for its ack, and until when the shell waits.
#[derive(Debug)]
enum Pending {
    Hello,
    Create(JoinRequest),
    Join(JoinRequest),
    Leave,
}

/// The browser's net shell. See the module documentation.
pub struct WebNet<P: Page> {
    core: NetCore,
    page: P,
    /// The time origin of the Socket.IO client (it takes durations).
    epoch: Instant,
    server_url: String,
    sio: Option<Client>,
    /// Whether this socket is the core's first connection (its success or
    /// failure answers [`Output::Connect`]) or a reconnection of ours.
    first: bool,
    /// Whether the core was told the connection was lost (once per loss).
    told_down: bool,
    reconnect_at: Option<Instant>,
    backoff: Duration,
    pending: HashMap<AckId, (Pending, Instant)>,
    /// A join waiting for the `leave_room` before it.
    queued_join: Option<JoinRequest>,
    leaving: bool,
    /// Open connections: the page's number → the peer and the core's generation.
    conns: HashMap<u32, (String, u64)>,
    /// Connections to close once our `Bye` had time to leave.
    lingering: Vec<(Instant, u32)>,
    /// When to drop the socket after the core closed (byes and
    /// `leave_room` go out first).
    finish_at: Option<Instant>,
    finished: bool,
    inputs: VecDeque<Input>,
    events: VecDeque<NetEvent>,
    /// Page events that could not be read (counted, dropped).
    bad_page_events: u64,
}

impl<P: Page> WebNet<P> {
    /// A shell for player `me` talking through `page`; it connects to
    /// `cfg.server_url` at the first [`WebNet::pump`]. `now` is the page's
    /// clock (`performance.now()`), the same as `cfg.epoch`'s.
    pub fn new(cfg: NetConfig, me: NetId, page: P, now: Instant) -> WebNet<P> {
        let server_url = cfg.server_url.clone();
        let mut net = WebNet {
            core: NetCore::new(cfg, me),
            page,
            epoch: now,
            server_url,
            sio: None,
            first: true,
            told_down: false,
            reconnect_at: None,
            backoff: RECONNECT_MIN,
            pending: HashMap::new(),
            queued_join: None,
            leaving: false,
            conns: HashMap::new(),
            lingering: Vec::new(),
            finish_at: None,
            finished: false,
            inputs: VecDeque::new(),
            events: VecDeque::new(),
            bad_page_events: 0,
        };
        net.feed(Input::Timeout, now);
        net
    }

    /// Hands the game's command to the core.
    pub fn send(&mut self, command: NetCommand, now: Instant) {
        if let NetCommand::SendState { .. } = command {
            let backlog = self.backlog();
            self.feed(Input::Backlog(backlog), now);
        }
        self.feed(Input::Command(command), now);
    }

    /// One frame's worth: the page's reports since the last call (each in
    /// the plugin's byte format, see [`page`]), then every due timer.
    pub fn pump(&mut self, now: Instant) {
        while let Some(bytes) = self.page.poll() {
            match PageEvent::decode(&bytes) {
                Ok(ev) => self.on_page(ev, now),
                Err(e) => {
                    self.bad_page_events += 1;
                    tracing::warn!("page event dropped: {e}");
                }
            }
        }
        self.run_timers(now);
    }

    /// A report of the page (already decoded), then the due timers.
    pub fn handle(&mut self, ev: PageEvent, now: Instant) {
        self.on_page(ev, now);
        self.run_timers(now);
    }

    /// The next event for the game, if any: drain it each frame.
    pub fn next_event(&mut self) -> Option<NetEvent> {
        self.events.pop_front()
    }

    /// Whether the core shut down and the socket is closed.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Page events that were not in the plugin's format.
    pub fn bad_page_events(&self) -> u64 {
        self.bad_page_events
    }

    /// The page, for its owner.
    pub fn page(&self) -> &P {
        &self.page
    }

    /// Whether the core has shut down (after [`NetCommand::Shutdown`]).
    pub fn is_closed(&self) -> bool {
        self.core.is_closed()
    }

    /// Ends now, without waiting for lingering closes: for a shell that
    /// is going away (the page lets queued messages leave before it
    /// closes a connection).
    pub fn close_now(&mut self) {
        if !self.finished {
            self.finish();
        }
    }

    fn since(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.epoch)
    }

    fn backlog(&self) -> Backlog {
        Backlog {
            relay: self.page.ws_queued(),
            peers: self
                .conns
                .iter()
                .map(|(&page_gen, &(_, generation))| (generation, self.page.pc_queued(page_gen)))
                .collect(),
        }
    }

    /// Feeds `input` to the core and carries out what it asks, then any
    /// input that carrying out produced, in order.
    fn feed(&mut self, input: Input, now: Instant) {
        self.inputs.push_back(input);
        self.flush(now);
    }

    /// Feeds the queued inputs to the core, carrying out what it asks.
    fn flush(&mut self, now: Instant) {
        while let Some(input) = self.inputs.pop_front() {
            let outputs: Vec<Output> = self.core.handle(input, now).collect();
            for o in outputs {
                self.carry_out(o, now);
            }
        }
        if self.core.is_closed() && self.finish_at.is_none() && !self.finished {
            self.finish_at = Some(now + BYE_LINGER + Duration::from_millis(50));
        }
    }

    fn carry_out(&mut self, o: Output, now: Instant) {
        match o {
            Output::Event(ev) => self.events.push_back(ev),
            Output::Connect => {
                self.first = true;
                self.open_socket(now);
            }
            Output::Hello { name } => {
                self.request(events::HELLO, wire::hello(&name), Pending::Hello, now);
            }
            Output::Join(request) if self.leaving => self.queued_join = Some(request),
            Output::Join(request) => self.join(request, now),
            Output::LeaveRoom => {
                if self.request(events::LEAVE_ROOM, json!({}), Pending::Leave, now) {
                    self.leaving = true;
                }
            }
            Output::Signal { to, signal } => {
                self.emit(events::SIGNAL, &wire::signal(&to, signal), now);
            }
            Output::Relay { to, bytes } => self.emit(events::RELAY, &wire::relay(&to, &bytes), now),
            Output::Broadcast { bytes } => {
                self.emit(events::BROADCAST, &wire::broadcast(&bytes), now);
            }
            Output::OpenPeer(setup) => {
                let Ok(page_gen) = u32::try_from(setup.generation) else {
                    let event = PeerEvent::Failed("closed: too many connections".into());
                    self.inputs.push_back(Input::Peer {
                        sid: setup.sid,
                        generation: setup.generation,
                        event,
                    });
                    return;
                };
                let config = rtc_configuration(&setup.ice_servers, setup.relay_only);
                self.conns
                    .insert(page_gen, (setup.sid.clone(), setup.generation));
                self.page.pc_open(page_gen, setup.offerer, &config);
            }
            Output::PeerSignal { generation, signal } => {
                if let Some(g) = self.page_gen(generation) {
                    self.page.pc_signal(g, &signal.to_string());
                }
            }
            Output::PeerSend {
                generation,
                channel,
                bytes,
            } => {
                if let Some(g) = self.page_gen(generation) {
                    self.page.pc_send(g, channel, &bytes);
                }
            }
            Output::ClosePeer { generation, linger } => {
                let Some(g) = self.page_gen(generation) else {
                    return;
                };
                self.conns.remove(&g);
                if linger {
                    self.lingering.push((now + BYE_LINGER, g));
                } else {
                    self.page.pc_close(g);
                }
            }
        }
    }

    fn page_gen(&self, generation: u64) -> Option<u32> {
        u32::try_from(generation)
            .ok()
            .filter(|g| self.conns.contains_key(g))
    }

    fn open_socket(&mut self, now: Instant) {
        let cfg = ClientConfig {
            ack_timeout: ACK_TIMEOUT,
            answer_pings: false,
            ..ClientConfig::default()
        };
        match Client::new(cfg, self.since(now)) {
            Ok(c) => {
                self.sio = Some(c);
                self.page.ws_open(&sio::websocket_url(&self.server_url));
            }
            // The default namespace and no auth: cannot fail; if it did,
            // the core hears why and retries.
            Err(e) => self.inputs.push_back(Input::Connected(Err(e.to_string()))),
        }
    }

    /// Creates and/or joins a room; the answer comes back as an input.
    fn join(&mut self, mut request: JoinRequest, now: Instant) {
        if request.core_only {
            // Success shows as `room_users`; only a failed emit answers.
            let arg = wire::join_room(&request.code, false);
            if let Err(e) = self.emit_value(events::JOIN_ROOM, arg, now) {
                self.inputs.push_back(Input::Joined {
                    request,
                    result: Err(RequestError::Send(e)),
                });
            }
            return;
        }
        let (event, arg, pending) = if request.created && request.code.is_empty() {
            let token = request.token.take();
            let arg = wire::create_room(token.clone());
            request.token = token;
            (events::CREATE_ROOM, arg, Pending::Create(request))
        } else {
            let arg = wire::join_room(&request.code, request.rejoin);
            (events::JOIN_ROOM, arg, Pending::Join(request))
        };
        self.request(event, arg, pending, now);
    }

    /// Emits `event` with an ack; a failed emit answers at once. Returns
    /// whether it was sent.
    fn request(&mut self, event: &str, arg: Value, pending: Pending, now: Instant) -> bool {
        let since = self.since(now);
        let sent = match self.sio.as_mut() {
            Some(c) => c
                .emit_with_ack(event, vec![arg], since)
                .map_err(|e| e.to_string()),
            None => Err("not connected".to_owned()),
        };
        match sent {
            Ok(id) => {
                let wait = match pending {
                    Pending::Hello => HELLO_WAIT,
                    Pending::Leave => LEAVE_WAIT,
                    Pending::Create(_) | Pending::Join(_) => ACK_TIMEOUT,
                };
                self.pending.insert(id, (pending, now + wait));
                self.drain_sio(now);
                true
            }
            Err(e) => {
                self.answer(pending, Err(Failure::Send(e)), now);
                false
            }
        }
    }

    fn emit<T: serde::Serialize>(&mut self, event: &str, msg: &T, now: Instant) {
        let Ok(v) = serde_json::to_value(msg) else {
            return;
        };
        // Fire and forget, as the native outbox: a lost emit is the
        // relay route's loss, which the core's streams cover.
        let _ = self.emit_value(event, v, now);
    }

    fn emit_value(&mut self, event: &str, arg: Value, now: Instant) -> Result<(), String> {
        let Some(c) = self.sio.as_mut() else {
            return Err("not connected".to_owned());
        };
        let r = c.emit(event, vec![arg]).map_err(|e| e.to_string());
        self.drain_sio(now);
        r
    }

    /// What a request's ack (or its absence) means to the core.
    fn answer(&mut self, pending: Pending, result: Result<Value, Failure>, now: Instant) {
        let request_error = |f: Failure| match f {
            Failure::Timeout => RequestError::Timeout,
            Failure::Send(e) => RequestError::Send(e),
        };
        match pending {
            Pending::Hello => {
                let r = match result {
                    Ok(v) => serde_json::from_value::<HelloAck>(v)
                        .map(Some)
                        .map_err(|e| e.to_string()),
                    Err(Failure::Timeout) => Ok(None),
                    Err(Failure::Send(e)) => Err(e),
                };
                self.inputs.push_back(Input::Hello(r));
            }
            Pending::Create(mut request) => {
                match result
                    .map_err(request_error)
                    .and_then(wire::parse_reply::<CreateRoomAck>)
                {
                    Ok(ack) => {
                        request.code = ack.room_id;
                        let arg = wire::join_room(&request.code, false);
                        self.request(events::JOIN_ROOM, arg, Pending::Join(request), now);
                    }
                    Err(e) => self.inputs.push_back(Input::Joined {
                        request,
                        result: Err(e),
                    }),
                }
            }
            Pending::Join(request) => {
                let result = result.map_err(request_error).and_then(wire::parse_reply);
                self.inputs.push_back(Input::Joined { request, result });
            }
            Pending::Leave => {
                self.leaving = false;
                if let Some(request) = self.queued_join.take() {
                    self.join(request, now);
                }
            }
        }
    }

    fn on_page(&mut self, ev: PageEvent, now: Instant) {
        match ev {
            // The client waits for engine.io's open packet, which follows.
            PageEvent::WsOpen => {}
            PageEvent::WsMessage(frame) => {
                let since = self.since(now);
                if let Some(c) = self.sio.as_mut() {
                    if let Err(e) = c.handle_frame(frame, since) {
                        tracing::warn!("signaling message dropped: {e}");
                    }
                }
                self.drain_sio(now);
                self.flush(now);
            }
            PageEvent::WsClosed(why) => {
                if let Some(c) = self.sio.as_mut() {
                    c.transport_closed(&why);
                }
                self.drain_sio(now);
                self.flush(now);
            }
            PageEvent::Peer { generation, report } => {
                let Some((sid, core_gen)) = self.conns.get(&generation).cloned() else {
                    return; // a connection the core already closed
                };
                let event = match report {
                    PeerReport::Signal(text) => match serde_json::from_str(&text) {
                        Ok(v) => PeerEvent::LocalSignal(v),
                        Err(e) => {
                            self.bad_page_events += 1;
                            tracing::warn!("local signal is not JSON: {e}");
                            return;
                        }
                    },
                    PeerReport::Open(pair) => PeerEvent::Open(pair),
                    PeerReport::Message(bytes) => PeerEvent::Message(bytes),
                    PeerReport::Failed(why) => {
                        self.conns.remove(&generation);
                        PeerEvent::Failed(why)
                    }
                };
                let input = Input::Peer {
                    sid,
                    generation: core_gen,
                    event,
                };
                self.feed(input, now);
            }
        }
    }

    /// Carries out what the Socket.IO client asks; what it reported
    /// becomes inputs, queued for the core.
    fn drain_sio(&mut self, now: Instant) {
        let mut reported = Vec::new();
        if let Some(c) = self.sio.as_mut() {
            while let Some(o) = c.poll_output() {
                match o {
                    sio::Output::Send(f) => self.page.ws_send(&f),
                    sio::Output::Close => self.page.ws_close(),
                    sio::Output::Event(e) => reported.push(e),
                }
            }
        }
        for e in reported {
            self.on_sio(e, now);
        }
    }

    fn on_sio(&mut self, e: sio::Event, now: Instant) {
        match e {
            sio::Event::Connected { .. } => {
                self.backoff = RECONNECT_MIN;
                self.told_down = false;
                if self.first {
                    self.first = false;
                    self.inputs.push_back(Input::Connected(Ok(())));
                } else {
                    self.inputs.push_back(Input::Server(ServerEvent::Connected));
                }
            }
            sio::Event::Message { name, payload, .. } => {
                let arg = first_arg(payload);
                self.inputs
                    .push_back(Input::Server(wire::parse_event(&name, arg)));
            }
            sio::Event::Ack { id, result } => {
                // Not there: the shell stopped waiting (hello, leave_room).
                let Some((pending, _)) = self.pending.remove(&id) else {
                    return;
                };
                let result = match result {
                    Ok(p) => Ok(first_arg(p)),
                    Err(AckError::Timeout) => Err(Failure::Timeout),
                    Err(AckError::Disconnected) => Err(Failure::Send("disconnected".into())),
                };
                self.answer(pending, result, now);
            }
            sio::Event::Disconnected { reason } => {
                self.sio = None;
                self.page.ws_close();
                let why = reason.to_string();
                if self.core.is_closed() {
                    return;
                }
                if self.first {
                    // The core's connection attempt failed: it backs off
                    // and asks again.
                    self.inputs.push_back(Input::Connected(Err(why)));
                    return;
                }
                if !self.told_down {
                    self.told_down = true;
                    self.inputs
                        .push_back(Input::Server(ServerEvent::Disconnected(why)));
                }
                self.reconnect_at = Some(now + self.backoff);
                self.backoff = (self.backoff * 2).min(RECONNECT_MAX);
            }
        }
    }

    fn run_timers(&mut self, now: Instant) {
        let since = self.since(now);
        if let Some(c) = self.sio.as_mut() {
            if c.poll_timeout().is_some_and(|t| t <= since) {
                c.handle_timeout(since);
            }
        }
        self.drain_sio(now);
        let expired: Vec<AckId> = self
            .pending
            .iter()
            .filter(|(_, (_, due))| *due <= now)
            .map(|(&id, _)| id)
            .collect();
        for id in expired {
            if let Some((pending, _)) = self.pending.remove(&id) {
                self.answer(pending, Err(Failure::Timeout), now);
            }
        }
        let (due, later): (Vec<_>, Vec<_>) = self.lingering.drain(..).partition(|(t, _)| *t <= now);
        self.lingering = later;
        for (_, g) in due {
            self.page.pc_close(g);
        }
        if self.reconnect_at.is_some_and(|t| t <= now) && !self.core.is_closed() {
            self.reconnect_at = None;
            self.open_socket(now);
        }
        if !self.inputs.is_empty() || self.core.poll_timeout() <= now {
            self.feed(Input::Timeout, now);
        }
        if self.finish_at.is_some_and(|t| t <= now) {
            self.finish();
        }
    }

    /// After the core closed: every connection and the socket go.
    fn finish(&mut self) {
        self.finish_at = None;
        self.finished = true;
        for (_, g) in std::mem::take(&mut self.lingering) {
            self.page.pc_close(g);
        }
        for g in std::mem::take(&mut self.conns).into_keys() {
            self.page.pc_close(g);
        }
        if let Some(c) = self.sio.as_mut() {
            c.disconnect();
            while let Some(o) = c.poll_output() {
                if let sio::Output::Send(f) = o {
                    self.page.ws_send(&f);
                }
            }
        }
        self.sio = None;
        self.page.ws_close();
    }
}

/// Why a request has no ack.
enum Failure {
    Timeout,
    Send(String),
}

fn first_arg(p: Payload) -> Value {
    p.args.into_iter().next().unwrap_or(Value::Null)
}

/// The `RTCConfiguration` for a connection, as JSON.
pub fn rtc_configuration(ice_servers: &[IceServer], relay_only: bool) -> String {
    json!({
        "iceServers": ice_servers,
        "iceTransportPolicy": if relay_only { "relay" } else { "all" },
    })
    .to_string()
}

#[cfg(test)]
mod tests;
