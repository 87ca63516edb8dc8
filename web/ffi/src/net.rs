//! The network imports of `web/net.js` (the `arena_net` plugin): a
//! WebSocket and RTCPeerConnections for the game's browser shell
//! (`arena::net::web`), and the queue of what happened to them.

mod imports {
    // Provided by web/net.js (`importObject.env`); numbers only, pointers
    // are offsets into the module's memory.
    #[link(wasm_import_module = "env")]
    unsafe extern "C" {
        pub fn arena_ws_open(ptr: *const u8, len: usize);
        pub fn arena_ws_send_text(ptr: *const u8, len: usize);
        pub fn arena_ws_send_binary(ptr: *const u8, len: usize);
        pub fn arena_ws_close();
        pub fn arena_ws_queued() -> u32;
        pub fn arena_pc_open(generation: u32, offerer: u32, ptr: *const u8, len: usize);
        pub fn arena_pc_signal(generation: u32, ptr: *const u8, len: usize);
        pub fn arena_pc_send(generation: u32, channel: u32, ptr: *const u8, len: usize);
        pub fn arena_pc_close(generation: u32);
        pub fn arena_pc_queued(generation: u32) -> u32;
        pub fn arena_net_poll(ptr: *mut u8, cap: usize) -> usize;
    }
}

/// The plugin's version (`web/net.js` says `version: 1`).
#[unsafe(no_mangle)]
pub extern "C" fn arena_net_crate_version() -> u32 {
    1
}

thread_local! {
    /// What `arena_net_background` runs; set by the game's browser shell.
    static BACKGROUND: std::cell::Cell<Option<fn()>> = const { std::cell::Cell::new(None) };
}

/// Sets what the page runs about once a second while the tab is hidden
/// and draws no frames (the game's net pump): `arena_net_background`.
pub fn on_background(pump: fn()) {
    BACKGROUND.with(|b| b.set(Some(pump)));
}

/// Called by web/net.js about once a second while the tab is hidden (a
/// hidden tab gets no animation frames, so the game's frame loop, which
/// pumps the network, does not run): runs what [`on_background`] set.
#[unsafe(no_mangle)]
pub extern "C" fn arena_net_background() {
    if let Some(pump) = BACKGROUND.with(std::cell::Cell::get) {
        pump();
    }
}

/// Opens the page's WebSocket to `url` (closing one that is open).
pub fn ws_open(url: &str) {
    // SAFETY: pointer and length describe `url`, live for the call; net.js
    // decodes those bytes before returning and keeps no reference.
    unsafe { imports::arena_ws_open(url.as_ptr(), url.len()) }
}

/// Sends a text message on the WebSocket.
pub fn ws_send_text(text: &str) {
    // SAFETY: as in `ws_open`: the bytes are read (decoded) during the call only.
    unsafe { imports::arena_ws_send_text(text.as_ptr(), text.len()) }
}

/// Sends a binary message on the WebSocket.
pub fn ws_send_binary(bytes: &[u8]) {
    // SAFETY: net.js copies the `len` bytes at `ptr` (`slice()`) before returning.
    unsafe { imports::arena_ws_send_binary(bytes.as_ptr(), bytes.len()) }
}

/// Closes the WebSocket.
pub fn ws_close() {
    // SAFETY: no arguments, no memory access.
    unsafe { imports::arena_ws_close() }
}

/// Messages waiting to leave on the WebSocket (approximate).
pub fn ws_queued() -> usize {
    // SAFETY: no arguments, no memory access; returns a number.
    let n = unsafe { imports::arena_ws_queued() };
    n as usize
}

/// Creates peer connection `generation` with an `RTCConfiguration` (JSON).
pub fn pc_open(generation: u32, offerer: bool, config: &str) {
    // SAFETY: pointer and length describe `config`, decoded during the call only.
    unsafe {
        imports::arena_pc_open(
            generation,
            u32::from(offerer),
            config.as_ptr(),
            config.len(),
        )
    }
}

/// Applies a remote description or candidate (JSON) to a connection.
pub fn pc_signal(generation: u32, signal: &str) {
    // SAFETY: pointer and length describe `signal`, decoded during the call only.
    unsafe { imports::arena_pc_signal(generation, signal.as_ptr(), signal.len()) }
}

/// Writes a message on channel 0 (`state`) or 1 (`events`) of a connection.
pub fn pc_send(generation: u32, channel: u32, bytes: &[u8]) {
    // SAFETY: net.js copies the `len` bytes at `ptr` before returning.
    unsafe { imports::arena_pc_send(generation, channel, bytes.as_ptr(), bytes.len()) }
}

/// Lets a connection go (net.js closes it a moment later).
pub fn pc_close(generation: u32) {
    // SAFETY: a number only.
    unsafe { imports::arena_pc_close(generation) }
}

/// Messages waiting to leave on a connection (approximate).
pub fn pc_queued(generation: u32) -> usize {
    // SAFETY: a number in, a number out.
    let n = unsafe { imports::arena_pc_queued(generation) };
    n as usize
}

/// The page's oldest report, if any, in `arena::net::web::page`'s format.
pub fn poll() -> Option<Vec<u8>> {
    let mut buf = vec![0u8; 2048];
    loop {
        // SAFETY: pointer and capacity describe `buf`, live and exclusively
        // borrowed; net.js writes at most `cap` bytes there (only when the
        // whole event fits) and keeps no reference.
        let len = unsafe { imports::arena_net_poll(buf.as_mut_ptr(), buf.len()) };
        if len == 0 {
            return None;
        }
        if len <= buf.len() {
            buf.truncate(len);
            return Some(buf);
        }
        // Too big for the buffer: nothing was taken; grow and ask again.
        buf.resize(len, 0);
    }
}
