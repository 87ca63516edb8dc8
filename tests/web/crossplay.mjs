// Cross-play test: the browser build in a real headless Chromium plays in
// the same room as real desktop `arena bot`s, through a real arena-server
// that serves the page at /play (same origin as its Socket.IO endpoint).
//
//   node tests/web/crossplay.mjs WEB_DIR ARTIFACT_DIR
//
// ARENA_BIN names the native game binary (default target/debug/arena): its
// `arena server` is the server (arena-server's), its `arena bot` the bots;
// ARENA_CHROMIUM the browser (default /usr/bin/chromium); CROSSPLAY_ONLY
// names the one scenario to run (all by default).
//
// 1. "browser last": bot A creates a room, bot B joins, then the page opens
//    /play/#CODE?name=Web (the name skips the join screen's prompt): the
//    page is the newcomer and offers to both bots.
// 2. "browser second": bot A creates, the page joins, then bot B joins and
//    offers to the page (the page answers).
// 3. "browser-relay": as 1, with the page in Signaling-only mode
//    (/play/?mode=signaling): no peer connection in the page, every link
//    relayed through the server, both ways.
// 4. "hidden-tab": the page joins bot A's room, then another tab is opened
//    in front of it for HIDDEN_SECONDS (Chromium driven over its DevTools
//    pipe, tests/web/cdp.mjs: Playwright keeps its pages visible): the tab
//    is hidden (no frames), bot A never sees the page's player leave, and
//    once the tab is in front again states flow both ways.
// 5. "link-prompt": /play/#code (no name, lower case) shows the join screen
//    with the code filled in and the name field focused; the test types a
//    name as a person would (Backspace over the default, then "Ann", Enter)
//    and the page joins bot A's room under that name.
// In 1 to 3: the page reports the room and states from both bots
// (window.__arena.net), both bots' reports show states from the page, every
// link is direct (relayed in 3), no console error, no dialog. Screenshots in
// ARTIFACT_DIR.
// Ports are the OS's (port 0); every wait polls a condition with a deadline.
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createInterface } from "node:readline";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";
import { CHROMIUM_ARGS as ARGS } from "./browser.mjs";
import { launch } from "./cdp.mjs";

const [webDir, artifacts] = process.argv.slice(2);
if (!webDir || !artifacts) {
    console.error("usage: node crossplay.mjs WEB_DIR ARTIFACT_DIR");
    process.exit(2);
}
const ARENA = process.env.ARENA_BIN || "target/debug/arena";
const executablePath = process.env.ARENA_CHROMIUM || "/usr/bin/chromium";
const TIMEOUT_MS = 60_000;
// How long each bot plays once in the room: long enough for the page to
// load and link, then the bot writes its report and exits.
const BOT_SECONDS = 30;

const failures = [];
const fail = (msg) => {
    failures.push(msg);
    console.error("FAIL: " + msg);
};
const children = [];

/// Starts a process whose stdout lines are kept (and waited on).
function run(name, cmd, args, logDir) {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    children.push(child);
    const proc = { name, child, lines: [], exited: null, stderr: "" };
    createInterface({ input: child.stdout }).on("line", (l) => proc.lines.push(l));
    child.stderr.on("data", (d) => (proc.stderr += d));
    child.on("exit", (code) => {
        proc.exited = code ?? -1;
        writeFile(path.join(logDir, `${name}.log`), proc.stderr).catch(() => {});
    });
    return proc;
}

/// Polls `cond` (sync or async) until truthy or the deadline; returns its value.
async function until(what, cond, ms = TIMEOUT_MS) {
    const deadline = Date.now() + ms;
    for (;;) {
        const v = await cond();
        if (v) return v;
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 50));
    }
}

const line = (proc, prefix) => proc.lines.find((l) => l.startsWith(prefix));


await mkdir(artifacts, { recursive: true });
const work = await mkdtemp(path.join(tmpdir(), "arena-crossplay-"));
const results = {};
let server;
try {
    server = run(
        "server",
        ARENA,
        ["server", "--host", "127.0.0.1", "--port", "0", "--stun-port", "0", "--web-root", webDir],
        artifacts,
    );
    const listening = await until("the server to listen", () => {
        if (server.exited !== null) throw new Error(`the server exited: ${server.stderr}`);
        return line(server, "listening on ");
    });
    const port = listening.match(/listening on [^ ]*:(\d+)/)[1];
    const url = `http://127.0.0.1:${port}`;

    const scenarios = {
        "browser-last": { pageJoins: "last", route: "direct" },
        "browser-second": { pageJoins: "second", route: "direct" },
        "browser-relay": { pageJoins: "last", route: "relay", mode: "signaling" },
    };
    const only = process.env.CROSSPLAY_ONLY;
    const chosen = (name) => !only || only === name;
    for (const [scenario, how] of Object.entries(scenarios)) {
        if (chosen(scenario)) results[scenario] = await play(scenario, how, url);
    }
    if (chosen("hidden-tab")) results["hidden-tab"] = await hidden(url);
    if (chosen("link-prompt")) results["link-prompt"] = await prompt(url);
    if (Object.keys(results).length === 0) throw new Error(`no scenario ${only}`);
} catch (e) {
    fail(e.stack || String(e));
} finally {
    for (const c of children) if (c.exitCode === null) c.kill("SIGTERM");
    await rm(work, { recursive: true, force: true });
}
console.log(JSON.stringify({ crossplay: results }, null, 1));
if (failures.length) {
    console.error(`crossplay: ${failures.length} failure(s)`);
    process.exit(1);
}
console.log("crossplay: ok");

/// One room: bot A creates it; the page joins after bot B (`pageJoins`
/// "last") or before it ("second"), in network mode `mode` (the default
/// if none); every link must end on `route`.
async function play(scenario, { pageJoins, route, mode }, url) {
    const dir = path.join(work, scenario);
    await mkdir(dir, { recursive: true });
    const bot = (name, extra) =>
        run(
            `${scenario}-${name}`,
            ARENA,
            [
                "bot",
                "--server",
                url,
                "--name",
                name,
                "--bind",
                "127.0.0.1",
                "--duration",
                String(BOT_SECONDS),
                "--report",
                path.join(dir, `${name}.json`),
                ...extra,
            ],
            artifacts,
        );
    const a = bot("BotA", ["--create"]);
    const code = (await until("bot A's room", () => line(a, "ROOM "))).slice(5).trim();
    let b = null;
    if (pageJoins === "last") {
        b = bot("BotB", ["--room", code]);
        await until("bots A and B to see each other", () => line(a, "JOINED ") && line(b, "JOINED "));
    }

    const profile = await mkdtemp(path.join(tmpdir(), "arena-chromium-"));
    const browser = await chromium.launchPersistentContext(profile, {
        executablePath,
        headless: true,
        viewport: { width: 1280, height: 720 },
        args: ARGS,
    });
    try {
        const page = browser.pages()[0] ?? (await browser.newPage());
        page.on("console", (m) => {
            if (m.type() === "error") fail(`${scenario}: console error: ${m.text()}`);
        });
        page.on("pageerror", (e) => fail(`${scenario}: page error: ${e.message}`));
        page.on("dialog", async (d) => {
            fail(`${scenario}: dialog (${d.type()}): ${d.message()}`);
            await d.dismiss();
        });
        const grouped = `${code.slice(0, 4)}-${code.slice(4)}`;
        const t0 = Date.now();
        const query = mode ? `name=Web&mode=${mode}` : "name=Web";
        await page.goto(`${url}/play/#${grouped}?${query}`, { waitUntil: "load" });
        const inRoom = await until(
            "the page to be in the room",
            () => page.evaluate(() => window.__arena.error || (window.__arena.net && window.__arena.net.room)),
        );
        if (inRoom !== code) throw new Error(`page: ${inRoom} (room ${code})`);
        const loadToRoomMs = Date.now() - t0;
        if (pageJoins === "second") {
            b = bot("BotB", ["--room", code]);
        }
        // The page sees both bots, on the route, with states flowing.
        const net = await until("states from both bots in the page", async () => {
            const n = await page.evaluate(() => window.__arena.net);
            const peers = Object.values(n.peers || {}).filter((p) => !p.left);
            const ok = peers.length === 2 && peers.every((p) => p.route === route && p.states >= 30);
            return ok && n;
        });
        const peersJs = await page.evaluate(() => ({ ...window.__arenaPeers }));
        if (route === "relay" && peersJs.offered + peersJs.answered > 0) {
            fail(`${scenario}: the page made peer connections in Signaling-only mode: ${JSON.stringify(peersJs)}`);
        }
        if (route === "direct" && pageJoins === "last" && (peersJs.offered < 2 || peersJs.openedOfferer < 2)) {
            fail(`${scenario}: the page should have offered to both bots: ${JSON.stringify(peersJs)}`);
        }
        if (route === "direct" && pageJoins === "second" && (peersJs.offered < 1 || peersJs.openedOfferer < 1 || peersJs.answered < 1 || peersJs.openedAnswerer < 1)) {
            fail(`${scenario}: the page should have offered to A and answered B: ${JSON.stringify(peersJs)}`);
        }
        // A game event from a bot (they fire at whoever is in range).
        const events = await until("a game event from a bot", async () => {
            const n = await page.evaluate(() => window.__arena.net);
            const sum = Object.values(n.events || {}).reduce((x, y) => x + y, 0);
            return sum > 0 && n.events;
        });
        const shot = await page.locator("canvas").screenshot();
        await writeFile(path.join(artifacts, `crossplay-${scenario}.png`), shot);
        // The bots finish (their --duration) and write their reports.
        await until("both bots to finish", () => a.exited !== null && b.exited !== null, (BOT_SECONDS + 30) * 1000);
        const last = await page.evaluate(() => window.__arena.net);
        const reports = {};
        for (const [name, proc] of [["BotA", a], ["BotB", b]]) {
            if (proc.exited !== 0) fail(`${scenario}: ${name} exited with ${proc.exited}`);
            const r = JSON.parse(await readFile(path.join(dir, `${name}.json`), "utf8"));
            const web = r.peers[net.me];
            if (!web) {
                fail(`${scenario}: ${name} never saw the page's player ${net.me}`);
                continue;
            }
            if (!(web.states_in > 0)) fail(`${scenario}: ${name} got no states from the page`);
            if (web.route !== route) fail(`${scenario}: ${name}'s route to the page is ${web.route}`);
            reports[name] = {
                states_from_page: web.states_in,
                route: web.route,
                pair: web.pair,
                rtt_ms: web.net ? web.net.rtt_ms : null,
            };
        }
        return {
            room: code,
            loadToRoomMs,
            pcs: peersJs,
            page: {
                me: last.me,
                peers: last.peers,
                events,
                hits_on_me: last.hits_on_me,
            },
            bots: reports,
        };
    } finally {
        await browser.close();
        await rm(profile, { recursive: true, force: true });
    }
}

/// Scenario 4: a tab in the background for a minute keeps its seat.
async function hidden(url) {
    const scenario = "hidden-tab";
    const HIDDEN_SECONDS = 60;
    const dir = path.join(work, scenario);
    await mkdir(dir, { recursive: true });
    const a = run(
        `${scenario}-BotA`,
        ARENA,
        ["bot", "--server", url, "--name", "BotA", "--bind", "127.0.0.1", "--create",
            "--duration", String(HIDDEN_SECONDS + 60), "--report", path.join(dir, "BotA.json")],
        artifacts,
    );
    const code = (await until("bot A's room", () => line(a, "ROOM "))).slice(5).trim();
    const profile = await mkdtemp(path.join(tmpdir(), "arena-chromium-"));
    const chrome = await launch(executablePath, ARGS, profile);
    try {
        const tab = await chrome.open(`${url}/play/#${code}?name=Hidden`);
        const net = () => tab.eval("JSON.stringify(window.__arena && window.__arena.net)").then((j) => JSON.parse(j ?? "null"));
        const states = async () => {
            const n = await net();
            const peer = n && Object.values(n.peers || {}).find((p) => p.name === "BotA" && !p.left);
            return peer ? peer.states : 0;
        };
        await until("states from bot A in the page", async () => (await states()) >= 30);
        const me = (await net()).me;
        // Another tab in front: this one is hidden and draws no frames.
        const other = await chrome.open("about:blank");
        await until("the tab to be hidden", () => tab.eval("document.visibilityState === 'hidden'"), 10_000);
        const frames0 = await tab.eval("window.__arena.frames");
        const hiddenAt = Date.now();
        const lefts = () => a.lines.filter((l) => l.startsWith("LEFT "));
        while (Date.now() - hiddenAt < HIDDEN_SECONDS * 1000) {
            if (lefts().length) break;
            if (a.exited !== null) throw new Error(`bot A exited (${a.exited}) while the tab was hidden`);
            await new Promise((r) => setTimeout(r, 500));
        }
        const framesHidden = (await tab.eval("window.__arena.frames")) - frames0;
        const stillHidden = await tab.eval("document.visibilityState");
        if (lefts().length) fail(`${scenario}: bot A saw the hidden tab leave: ${lefts().join("; ")}`);
        if (stillHidden !== "hidden") fail(`${scenario}: the tab was ${stillHidden}, not hidden`);
        if (framesHidden > 5) fail(`${scenario}: the hidden tab drew ${framesHidden} frames`);
        const hiddenMs = Date.now() - hiddenAt;
        // In front again: the game resumes, states flow both ways.
        await other.close();
        await tab.front();
        await until("the tab to be visible", () => tab.eval("document.visibilityState === 'visible'"), 10_000);
        const s0 = await states();
        await until("new states from bot A after the tab came back", async () => (await states()) >= s0 + 30, 20_000);
        await until("bot A to finish", () => a.exited !== null, (HIDDEN_SECONDS + 90) * 1000);
        if (a.exited !== 0) fail(`${scenario}: bot A exited with ${a.exited}`);
        if (lefts().length) fail(`${scenario}: bot A saw the tab leave: ${lefts().join("; ")}`);
        const report = JSON.parse(await readFile(path.join(dir, "BotA.json"), "utf8"));
        const web = report.peers[me];
        if (!web || !(web.states_in > 0)) fail(`${scenario}: bot A has no states from the page: ${JSON.stringify(web)}`);
        return {
            room: code,
            hiddenSeconds: Math.round(hiddenMs / 1000),
            framesWhileHidden: framesHidden,
            botA: web && { states_from_page: web.states_in, route: web.route },
        };
    } finally {
        await chrome.close();
        await rm(profile, { recursive: true, force: true });
    }
}

async function prompt(url) {
    const scenario = "link-prompt";
    const dir = path.join(work, scenario);
    await mkdir(dir, { recursive: true });
    const a = run(
        `${scenario}-BotA`,
        ARENA,
        ["bot", "--server", url, "--name", "BotA", "--bind", "127.0.0.1", "--duration", "20", "--create",
            "--report", path.join(dir, "BotA.json")],
        artifacts,
    );
    const code = (await until("bot A's room", () => line(a, "ROOM "))).slice(5).trim();
    const profile = await mkdtemp(path.join(tmpdir(), "arena-chromium-"));
    const browser = await chromium.launchPersistentContext(profile, {
        executablePath,
        headless: true,
        viewport: { width: 1280, height: 720 },
        args: ARGS,
    });
    try {
        const page = browser.pages()[0] ?? (await browser.newPage());
        page.on("console", (m) => {
            if (m.type() === "error") fail(`${scenario}: console error: ${m.text()}`);
        });
        page.on("pageerror", (e) => fail(`${scenario}: page error: ${e.message}`));
        page.on("dialog", async (d) => {
            fail(`${scenario}: dialog (${d.type()}): ${d.message()}`);
            await d.dismiss();
        });
        await page.goto(`${url}/play/#${code.toLowerCase()}`, { waitUntil: "load" });
        await until("the join screen", () => page.evaluate(() => window.__arena.frames > 5));
        await page.locator("canvas").focus();
        const framesAhead = async (n) => {
            const f0 = await page.evaluate(() => window.__arena.frames);
            await until("frames", () => page.evaluate((f) => window.__arena.frames >= f, f0 + n));
        };
        await writeFile(path.join(artifacts, `crossplay-${scenario}-form.png`), await page.locator("canvas").screenshot());
        if (await page.evaluate(() => window.__arena.net)) fail(`${scenario}: joined before a name was given`);
        for (let i = 0; i < "Player".length; i++) {
            await page.keyboard.press("Backspace");
            await framesAhead(2);
        }
        for (const ch of "Ann") {
            await page.keyboard.type(ch);
            await framesAhead(2);
        }
        await page.keyboard.press("Enter");
        const room = await until("the page to be in the room", () =>
            page.evaluate(() => window.__arena.net && window.__arena.net.room),
        );
        if (room !== code) fail(`${scenario}: page in ${room}, not ${code}`);
        await until("bot A to see Ann", () => line(a, "JOINED ") && line(a, "JOINED ").endsWith(" Ann"));
        await until("bot A to finish", () => a.exited !== null, 60_000);
        return { room, botSaw: line(a, "JOINED ") };
    } finally {
        await browser.close();
        await rm(profile, { recursive: true, force: true });
    }
}
