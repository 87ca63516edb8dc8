//! The game's imports from the page (`web/arena.js`, a miniquad plugin),
//! behind safe functions: the one place of the workspace with `unsafe` code.
//!
//! macroquad's JS loader instantiates the wasm module with a single import
//! object, `env`, which miniquad plugins extend (`miniquad_add_plugin`).
//! `web/arena.js` adds the functions declared here. There is no
//! wasm-bindgen: its imports are not in `env`, and the loader would refuse
//! to start the module.
//!
//! The network imports (`web/net.js`, the `arena_net` plugin: a WebSocket
//! and RTCPeerConnections for the game's browser shell) are in [`net`].
//!
//! It owns only the calls across the boundary; what they mean for the game
//! (the `Instant` type, seeding the random generator) lives in the game
//! crate (`arena::time`, `arena::random`). On other targets the crate is
//! empty: the game uses std there.
//!
//! Adding an import: declare it in `imports` with the exact signature
//! `arena.js` gives it, wrap it in a safe function here, and say in a
//! `SAFETY:` comment why every call is sound.

#![cfg(target_arch = "wasm32")]

pub mod net;

mod imports {
    // Provided by web/arena.js (`importObject.env`). wasm32 function
    // imports take and return only numbers: pointers are offsets into
    // the module's memory, `usize` is 32 bits.
    #[link(wasm_import_module = "env")]
    unsafe extern "C" {
        /// `performance.now()`: milliseconds since the page's time origin,
        /// monotonic, with sub-millisecond resolution.
        pub fn arena_now() -> f64;
        /// Fills `len` bytes at `ptr` in the module's memory with
        /// `crypto.getRandomValues` (in pieces of at most 65,536 bytes).
        pub fn arena_random(ptr: *mut u8, len: usize);
        /// One frame was drawn: updates `window.__arena` (state `running`,
        /// the frame count) for the page and its tests.
        pub fn arena_frame();
        /// The game stopped on an error: `len` bytes of UTF-8 at `ptr`,
        /// shown in the page and logged with `console.error`.
        pub fn arena_fail(ptr: *const u8, len: usize);
        /// Writes `location.href` (UTF-8) at `ptr` when it fits in `cap`
        /// bytes; returns its length either way.
        pub fn arena_location(ptr: *mut u8, cap: usize) -> usize;
        /// `len` bytes of JSON at `ptr`: the online screen's report, set
        /// as `window.__arena.net` for the page's tests.
        pub fn arena_net_report(ptr: *const u8, len: usize);
    }
}

/// The plugin's version (`web/arena.js` says `version: 1`); the loader
/// compares the two at start and logs a mismatch as an error.
#[unsafe(no_mangle)]
pub extern "C" fn arena_crate_version() -> u32 {
    1
}

/// Milliseconds since the page's time origin (`performance.now()`):
/// monotonic, fractional (microseconds or a little coarser, as the browser
/// allows).
pub fn now_ms() -> f64 {
    // SAFETY: `arena_now` takes no arguments, touches no memory of ours and
    // returns a plain number; arena.js defines it whenever the module loads
    // (a missing import makes instantiation fail before any code runs).
    unsafe { imports::arena_now() }
}

/// Fills `buf` with cryptographically secure random bytes from the browser
/// (`crypto.getRandomValues`).
pub fn fill_random(buf: &mut [u8]) {
    if buf.is_empty() {
        return;
    }
    // SAFETY: the pointer and length describe `buf`, a live, exclusively
    // borrowed slice in this module's linear memory; arena.js writes exactly
    // `len` bytes from `ptr` and keeps no reference after it returns. A
    // memory growth during the call cannot happen (the JS side allocates
    // nothing in wasm memory).
    unsafe { imports::arena_random(buf.as_mut_ptr(), buf.len()) }
}

/// Tells the page a frame was drawn (`window.__arena.frames`).
pub fn frame_drawn() {
    // SAFETY: no arguments, no memory access; defined by arena.js.
    unsafe { imports::arena_frame() }
}

/// Tells the page the game stopped, with `message`: the page shows it in
/// place of the canvas (used by the panic hook: the wasm module traps right
/// after, and nothing else would say why).
pub fn fail(message: &str) {
    // SAFETY: pointer and length describe `message`, live for the call;
    // arena.js only reads those bytes (decoding them as UTF-8) before
    // returning and keeps no reference.
    unsafe { imports::arena_fail(message.as_ptr(), message.len()) }
}

/// The page's address, `location.href` (origin, path, query, fragment).
pub fn location() -> String {
    let mut buf = vec![0u8; 512];
    loop {
        // SAFETY: pointer and capacity describe `buf`, live and exclusively
        // borrowed; arena.js writes there only when the whole address fits
        // in `cap` bytes, and keeps no reference.
        let len = unsafe { imports::arena_location(buf.as_mut_ptr(), buf.len()) };
        if len <= buf.len() {
            buf.truncate(len);
            return String::from_utf8_lossy(&buf).into_owned();
        }
        // Too long: nothing was written; grow and ask again.
        buf.resize(len, 0);
    }
}

/// Hands the page the online screen's report (`json`, an object), as
/// `window.__arena.net`.
pub fn net_report(json: &str) {
    // SAFETY: pointer and length describe `json`, live for the call;
    // arena.js decodes those bytes before returning and keeps no reference.
    unsafe { imports::arena_net_report(json.as_ptr(), json.len()) }
}
