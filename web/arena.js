// P2P Arena's miniquad plugin: the `env` functions the game imports beyond
// macroquad's own (see web/ffi/src/lib.rs for the Rust side of each), and
// `window.__arena`, the page's view of the game for its status line and tests.
//
// Load it after mq_js_bundle.js and before `load("arena.wasm")`. The
// WebSocket and RTCPeerConnection side is web/net.js.
"use strict";

(function () {
    const status = {
        // loading → running (first frame drawn) | failed (message in `error`)
        state: "loading",
        frames: 0,
        error: null,
        // Set by the online screen (src/web.rs NetReport): room code,
        // peers with route and states received, game events received.
        net: null,
    };
    window.__arena = status;

    function fail(message) {
        if (status.state === "failed") {
            return;
        }
        status.state = "failed";
        status.error = message;
        console.error(message);
        if (typeof window.arenaShowError === "function") {
            window.arenaShowError(message);
        }
    }

    function register_plugin(importObject) {
        const env = importObject.env;
        // performance.now(): fractional ms since the page's time origin.
        env.arena_now = function () {
            return performance.now();
        };
        // crypto.getRandomValues fills at most 65,536 bytes per call.
        env.arena_random = function (ptr, len) {
            for (let at = 0; at < len; at += 65536) {
                const n = Math.min(65536, len - at);
                crypto.getRandomValues(new Uint8Array(wasm_memory.buffer, ptr + at, n));
            }
        };
        env.arena_frame = function () {
            status.frames += 1;
            if (status.state === "loading") {
                status.state = "running";
                status.firstFrameMs = performance.now();
            }
        };
        // location.href, written only when it fits in `cap` bytes.
        env.arena_location = function (ptr, cap) {
            const bytes = new TextEncoder().encode(location.href);
            if (bytes.length <= cap) {
                new Uint8Array(wasm_memory.buffer, ptr, bytes.length).set(bytes);
            }
            return bytes.length;
        };
        // The online screen's report (JSON): room, peers, events received.
        env.arena_net_report = function (ptr, len) {
            const bytes = new Uint8Array(wasm_memory.buffer, ptr, len);
            try {
                status.net = JSON.parse(new TextDecoder().decode(bytes.slice()));
            } catch (e) {
                console.warn("arena: unreadable net report", e);
            }
        };
        env.arena_fail = function (ptr, len) {
            const bytes = new Uint8Array(wasm_memory.buffer, ptr, len);
            fail(new TextDecoder().decode(bytes.slice()));
        };
    }

    window.arenaFail = fail;
    miniquad_add_plugin({ register_plugin, version: 1, name: "arena" });
})();
