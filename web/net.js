// P2P Arena's network plugin for macroquad's JS loader (mq_js_bundle.js).
//
// The browser shell of the game's net core (src/net/web) asks the page for
// a WebSocket to the signaling server and one RTCPeerConnection per peer;
// this file is that page side. No wasm-bindgen: the game imports the
// functions below from `env` (numbers and pointers into wasm memory only)
// and polls what happened, one event at a time, in the byte format of
// src/net/web/page.rs:
//
//   kind u8, generation u32 little-endian (0 for the WebSocket), payload
//   1 WebSocket open            2 text message (UTF-8)
//   3 binary message            4 WebSocket closed (why, UTF-8)
//   5 local signal (JSON)       6 both channels open (selected pair, JSON)
//   7 data-channel message      8 connection failed or closed (why)
//
// Three things happen here without the game's frames, because a hidden tab
// runs none: engine.io's pings are answered at once (the server would drop
// a backgrounded player otherwise; the ping is still passed on so the game
// knows the server is alive), events queue until the game polls them, and
// a timer runs the game's net pump about once a second while the tab is
// hidden (so peers keep hearing from it).
// Channels follow docs/PROTOCOL.md section 3: the offerer creates `state`
// (unordered, maxRetransmits 0) and `events` (ordered, reliable) in-band.
"use strict";

(function () {
    const enc = new TextEncoder();
    const dec = new TextDecoder();
    /// Events waiting for the game, oldest first.
    const events = [];
    /// Beyond this many waiting events (a tab hidden for minutes in a busy
    /// room), data-channel messages are dropped: states are unreliable and
    /// the game's reliable events are resent until acknowledged.
    const MAX_EVENTS = 200000;
    let dropped = 0;
    let ws = null;
    /// How long a closed connection stays up for what was written on it.
    const LINGER_MS = 250;
    /// generation -> { pc, channels: {state, events}, chain, opened, early, avg }
    const pcs = new Map();
    /// For the page's tests: peer connections made as the offerer and as
    /// the answerer, and those whose two channels opened, by role.
    const counts = { offered: 0, answered: 0, openedOfferer: 0, openedAnswerer: 0 };
    window.__arenaPeers = counts;

    function push(kind, generation, payload) {
        if (kind === 7 && events.length >= MAX_EVENTS) {
            if (dropped++ === 0) {
                console.warn("arena net: the game is not polling; dropping messages");
            }
            return;
        }
        const b = new Uint8Array(5 + payload.length);
        b[0] = kind;
        new DataView(b.buffer).setUint32(1, generation >>> 0, true);
        b.set(payload, 5);
        events.push(b);
    }
    const pushText = (kind, generation, s) => push(kind, generation, enc.encode(String(s)));
    const view = (ptr, len) => new Uint8Array(wasm_memory.buffer, ptr, len);
    const text = (ptr, len) => dec.decode(view(ptr, len));

    // ---- the WebSocket -------------------------------------------------

    function ws_open(ptr, len) {
        ws_close();
        const url = text(ptr, len);
        let sock;
        try {
            sock = new WebSocket(url);
        } catch (e) {
            pushText(4, 0, "cannot open " + url + ": " + e.message);
            return;
        }
        sock.binaryType = "arraybuffer";
        ws = sock;
        sock.onopen = () => {
            if (ws === sock) push(1, 0, new Uint8Array(0));
        };
        sock.onmessage = (m) => {
            if (ws !== sock) return;
            if (typeof m.data === "string") {
                // engine.io ping ("2" + data): answer now, pass it on.
                if (m.data.charAt(0) === "2") sock.send("3" + m.data.slice(1));
                pushText(2, 0, m.data);
            } else {
                push(3, 0, new Uint8Array(m.data));
            }
        };
        sock.onclose = (c) => {
            if (ws !== sock) return;
            ws = null;
            const why = c.reason ? c.reason : "connection closed (code " + c.code + ")";
            pushText(4, 0, why);
        };
    }

    function ws_send_text(ptr, len) {
        if (ws && ws.readyState === WebSocket.OPEN) ws.send(text(ptr, len));
    }

    function ws_send_binary(ptr, len) {
        if (ws && ws.readyState === WebSocket.OPEN) ws.send(view(ptr, len).slice());
    }

    function ws_close() {
        const sock = ws;
        ws = null;
        if (sock) {
            try {
                sock.close(1000);
            } catch (e) {
                // already closing
            }
        }
    }

    function ws_queued() {
        // Approximate: bytes waiting over a typical relay emit's size.
        return ws ? Math.ceil(ws.bufferedAmount / 100) : 0;
    }

    // ---- peer connections ----------------------------------------------

    function signal(generation, value) {
        pushText(5, generation, JSON.stringify(value));
    }

    /// Closes and forgets a connection, telling the game why.
    function fail(generation, why) {
        const c = pcs.get(generation);
        if (!c) return;
        drop(generation, c);
        pushText(8, generation, why);
    }

    function drop(generation, c) {
        if (pcs.get(generation) === c) pcs.delete(generation);
        for (const ch of Object.values(c.channels)) {
            try {
                ch.close();
            } catch (e) {
                // closing anyway
            }
        }
        try {
            c.pc.close();
        } catch (e) {
            // closed already
        }
    }

    function address(cand) {
        if (!cand) return "";
        const ip = cand.address || cand.ip || "";
        return ip.includes(":") ? "[" + ip + "]:" + cand.port : ip + ":" + cand.port;
    }

    /// The selected candidate pair, as page.rs reads it.
    async function selectedPair(pc) {
        const stats = await pc.getStats();
        let pair = null;
        stats.forEach((s) => {
            if (s.type === "transport" && s.selectedCandidatePairId) {
                pair = stats.get(s.selectedCandidatePairId) || pair;
            }
        });
        if (!pair) {
            stats.forEach((s) => {
                if (s.type === "candidate-pair" && s.nominated && s.state === "succeeded") pair = s;
            });
        }
        const local = pair ? stats.get(pair.localCandidateId) : null;
        const remote = pair ? stats.get(pair.remoteCandidateId) : null;
        return {
            local: (local && local.candidateType) || "host",
            localAddr: address(local),
            remote: (remote && remote.candidateType) || "host",
            remoteAddr: address(remote),
        };
    }

    function maybeOpen(generation, c) {
        if (c.opened) return;
        const open = (l) => c.channels[l] && c.channels[l].readyState === "open";
        if (!open("state") || !open("events")) return;
        c.opened = true;
        if (c.offerer) counts.openedOfferer += 1;
        else counts.openedAnswerer += 1;
        selectedPair(c.pc)
            .catch(() => ({ local: "host", remote: "host" }))
            .then((pair) => {
                if (pcs.get(generation) !== c) return;
                pushText(6, generation, JSON.stringify(pair));
                // Messages that came before the report follow it.
                for (const m of c.early) push(7, generation, m);
                c.early = null;
            });
    }

    function channel(generation, c, ch) {
        if (ch.label !== "state" && ch.label !== "events") return;
        ch.binaryType = "arraybuffer";
        c.channels[ch.label] = ch;
        ch.onopen = () => maybeOpen(generation, c);
        ch.onmessage = (m) => {
            if (pcs.get(generation) !== c) return;
            const b = typeof m.data === "string" ? enc.encode(m.data) : new Uint8Array(m.data);
            if (c.early) c.early.push(b);
            else push(7, generation, b);
        };
        ch.onclose = () => {
            if (pcs.get(generation) === c) fail(generation, "closed: channel " + ch.label + " closed");
        };
        if (ch.readyState === "open") maybeOpen(generation, c);
    }

    function pc_open(generation, offerer, ptr, len) {
        const old = pcs.get(generation);
        if (old) drop(generation, old);
        let pc;
        try {
            pc = new RTCPeerConnection(JSON.parse(text(ptr, len)));
        } catch (e) {
            pcs.set(generation, { pc: { close() {} }, channels: {} });
            fail(generation, "closed: cannot create a peer connection: " + e.message);
            return;
        }
        const c = { pc, channels: {}, chain: Promise.resolve(), opened: false, early: [], avg: 64, offerer: !!offerer };
        pcs.set(generation, c);
        if (offerer) counts.offered += 1;
        else counts.answered += 1;
        pc.onicecandidate = (e) => {
            if (pcs.get(generation) !== c) return;
            const cand = e.candidate
                ? e.candidate.toJSON()
                : { candidate: "", sdpMid: "0", sdpMLineIndex: 0 };
            signal(generation, { candidate: cand });
        };
        pc.onconnectionstatechange = () => {
            if (pcs.get(generation) !== c) return;
            if (pc.connectionState === "failed") fail(generation, "ICE failed");
            else if (pc.connectionState === "closed") fail(generation, "closed");
        };
        pc.ondatachannel = (e) => channel(generation, c, e.channel);
        if (offerer) {
            channel(generation, c, pc.createDataChannel("state", { ordered: false, maxRetransmits: 0 }));
            channel(generation, c, pc.createDataChannel("events", { ordered: true }));
            c.chain = c.chain
                .then(() => pc.setLocalDescription())
                .then(() => {
                    const d = pc.localDescription;
                    if (pcs.get(generation) === c) signal(generation, { type: d.type, sdp: d.sdp });
                })
                .catch((e) => fail(generation, "closed: no offer: " + e.message));
        }
    }

    function pc_signal(generation, ptr, len) {
        const c = pcs.get(generation);
        if (!c) return;
        let s;
        try {
            s = JSON.parse(text(ptr, len));
        } catch (e) {
            return;
        }
        // In order: a candidate needs the description before it applied.
        c.chain = c.chain.then(async () => {
            if (pcs.get(generation) !== c) return;
            if (s.type === "offer" || s.type === "answer") {
                try {
                    await c.pc.setRemoteDescription({ type: s.type, sdp: s.sdp });
                    if (s.type === "offer") {
                        await c.pc.setLocalDescription();
                        const d = c.pc.localDescription;
                        signal(generation, { type: d.type, sdp: d.sdp });
                    }
                } catch (e) {
                    fail(generation, "closed: " + s.type + " refused: " + e.message);
                }
            } else if (s.candidate && s.candidate.candidate) {
                try {
                    await c.pc.addIceCandidate(s.candidate);
                } catch (e) {
                    console.warn("arena net: candidate refused:", e.message);
                }
            }
        });
    }

    function pc_send(generation, which, ptr, len) {
        const c = pcs.get(generation);
        if (!c) return;
        const ch = c.channels[which === 0 ? "state" : "events"];
        if (!ch || ch.readyState !== "open") return;
        c.avg = c.avg * 0.9 + len * 0.1;
        try {
            ch.send(view(ptr, len).slice());
        } catch (e) {
            if (which !== 0) fail(generation, "closed: send failed: " + e.message);
        }
    }

    /// The game is done with a connection: it is forgotten now (no more
    /// reports) and closed a little later, so that a `Bye` just written on
    /// it still leaves (the game may be gone by then: a tab leaving a match).
    function pc_close(generation) {
        const c = pcs.get(generation);
        if (!c) return;
        pcs.delete(generation);
        setTimeout(() => drop(generation, c), LINGER_MS);
    }

    function pc_queued(generation) {
        const c = pcs.get(generation);
        if (!c) return 0;
        let bytes = 0;
        for (const ch of Object.values(c.channels)) bytes += ch.bufferedAmount;
        return Math.ceil(bytes / Math.max(c.avg, 1));
    }

    /// Writes the oldest event at `ptr` if it fits in `cap` bytes; returns
    /// its length (0: none; more than `cap`: call again with more room).
    function poll(ptr, cap) {
        if (events.length === 0) return 0;
        const e = events[0];
        if (e.length > cap) return e.length;
        view(ptr, e.length).set(e);
        events.shift();
        return e.length;
    }

    /// A hidden tab gets no animation frames, so the game's frame loop,
    /// which pumps its network, stops. About once a second (as often as
    /// Chromium runs a hidden tab's timers) the page runs the game's net
    /// pump instead (`arena_net_background`): its pings and resends keep the
    /// peers, and what it receives waits for the next frame.
    const BACKGROUND_MS = 1000;
    let background = null;
    function onVisibility() {
        if (document.hidden && background === null) {
            background = setInterval(() => {
                if (typeof wasm_exports !== "undefined" && wasm_exports.arena_net_background) {
                    wasm_exports.arena_net_background();
                }
            }, BACKGROUND_MS);
        } else if (!document.hidden && background !== null) {
            clearInterval(background);
            background = null;
        }
    }
    document.addEventListener("visibilitychange", onVisibility);

    miniquad_add_plugin({
        register_plugin: function (importObject) {
            const env = importObject.env;
            env.arena_ws_open = ws_open;
            env.arena_ws_send_text = ws_send_text;
            env.arena_ws_send_binary = ws_send_binary;
            env.arena_ws_close = ws_close;
            env.arena_ws_queued = ws_queued;
            env.arena_pc_open = pc_open;
            env.arena_pc_signal = pc_signal;
            env.arena_pc_send = pc_send;
            env.arena_pc_close = pc_close;
            env.arena_pc_queued = pc_queued;
            env.arena_net_poll = poll;
        },
        name: "arena_net",
        version: 1,
    });
})();
