// Smoke test of the browser build in a real headless Chromium (Debian's),
// offline (online play is tests/web/crossplay.mjs, against a real server),
// driven by playwright-core: the page loads the game with no console error
// and no dialog, the menu draws, Enter starts Practice (as a player would),
// and the canvas shows the arena's colours. A screenshot of the canvas is
// kept as an artifact.
//
//   node tests/web/smoke.mjs WEB_DIR ARTIFACT_DIR
//
// WEB_DIR is scripts/web.sh's output. Serves it on 127.0.0.1, port 0;
// with ARENA_WEB_URL set (e.g. an arena-server's http://127.0.0.1:PORT/play/)
// it opens that page instead and serves nothing.
// Waits on conditions (window.__arena, set by web/arena.js), never on sleeps.
import { createServer } from "node:http";
import { readFile, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";
import { CHROMIUM_ARGS as ARGS } from "./browser.mjs";

const [webDir, artifacts] = process.argv.slice(2);
if (!webDir || !artifacts) {
    console.error("usage: node smoke.mjs WEB_DIR ARTIFACT_DIR");
    process.exit(2);
}
const executablePath = process.env.ARENA_CHROMIUM || "/usr/bin/chromium";
const TIMEOUT_MS = 60_000;

const TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".wasm": "application/wasm",
};

// Theme colours (src/ui/theme.rs) as 8-bit RGB.
const rgb = (r, g, b) => [r, g, b].map((c) => Math.round(c * 255));
const COLORS = {
    floor: rgb(0.12, 0.13, 0.18),
    wall: rgb(0.29, 0.32, 0.42),
    blue: rgb(0.26, 0.53, 0.96),
    red: rgb(0.92, 0.25, 0.2),
    green: rgb(0.26, 0.77, 0.35),
    yellow: rgb(0.96, 0.78, 0.16),
};
// The focused Practice button (theme::BUTTON_HOT) fills its rectangle,
// ui::menu::button_rects(1280, 720)[0], while the menu is up. Walls are
// 5 levels away from it in each channel: only a close match counts.
const BUTTON_HOT = rgb(0.27, 0.3, 0.4);
const PRACTICE_BUTTON = { x: 460, y: 260, w: 360, h: 50 };
// The menu's status line (theme::HEALTH_LOW text, 30 px under Quit).
const STATUS_RED = rgb(0.95, 0.3, 0.25);
const STATUS_LINE = { x: 240, y: 625, w: 800, h: 30 };

function serve(dir) {
    const server = createServer(async (req, res) => {
        const url = new URL(req.url, "http://localhost");
        const name = url.pathname === "/" ? "index.html" : url.pathname.slice(1);
        if (name.includes("..") || name.includes("/")) {
            res.writeHead(404).end();
            return;
        }
        try {
            const body = await readFile(path.join(dir, name));
            const type = TYPES[path.extname(name)] || "application/octet-stream";
            res.writeHead(200, { "content-type": type, "cache-control": "no-store" });
            res.end(body);
        } catch {
            res.writeHead(404).end();
        }
    });
    return new Promise((resolve) => {
        server.listen(0, "127.0.0.1", () => resolve(server));
    });
}

// Counts pixels within `tol` of each named colour over the whole image,
// and the share of the Practice button's rectangle in BUTTON_HOT.
async function colourCounts(page, png, tol) {
    return page.evaluate(
        async ({ b64, colors, tol, hot, rect, red, line }) => {
            const img = new Image();
            img.src = "data:image/png;base64," + b64;
            await img.decode();
            const c = new OffscreenCanvas(img.width, img.height);
            const g = c.getContext("2d");
            g.drawImage(img, 0, 0);
            const d = g.getImageData(0, 0, img.width, img.height).data;
            const near = (i, [r, gg, b], t) =>
                Math.abs(d[i] - r) <= t && Math.abs(d[i + 1] - gg) <= t && Math.abs(d[i + 2] - b) <= t;
            const counts = Object.fromEntries(Object.keys(colors).map((k) => [k, 0]));
            for (let i = 0; i < d.length; i += 4) {
                for (const [k, col] of Object.entries(colors)) {
                    if (near(i, col, tol)) counts[k] += 1;
                }
            }
            let hotPixels = 0;
            for (let y = rect.y; y < rect.y + rect.h; y++) {
                for (let x = rect.x; x < rect.x + rect.w; x++) {
                    if (near((y * img.width + x) * 4, hot, 2)) hotPixels += 1;
                }
            }
            let statusPixels = 0;
            for (let y = line.y; y < line.y + line.h; y++) {
                for (let x = line.x; x < line.x + line.w; x++) {
                    if (near((y * img.width + x) * 4, red, 30)) statusPixels += 1;
                }
            }
            return {
                width: img.width,
                height: img.height,
                counts,
                buttonShare: hotPixels / (rect.w * rect.h),
                statusPixels,
            };
        },
        {
            b64: png.toString("base64"),
            colors: COLORS,
            tol,
            hot: BUTTON_HOT,
            rect: PRACTICE_BUTTON,
            red: STATUS_RED,
            line: STATUS_LINE,
        },
    );
}

const failures = [];
const fail = (msg) => {
    failures.push(msg);
    console.error("FAIL: " + msg);
};

const server = process.env.ARENA_WEB_URL ? null : await serve(webDir);
const base = process.env.ARENA_WEB_URL || `http://127.0.0.1:${server.address().port}/`;
const profile = await mkdtemp(path.join(tmpdir(), "arena-chromium-"));
await mkdir(artifacts, { recursive: true });
// A fresh profile: playwright passes it as --user-data-dir.
const launch = (dir, extra = []) =>
    chromium.launchPersistentContext(dir, {
        executablePath,
        headless: true,
        viewport: { width: 1280, height: 720 },
        args: [...ARGS, ...extra],
    });

// Without WebGL (--disable-3d-apis) the page says so in the page: no dialog,
// no uncaught error, window.__arena failed.
{
    const dir = await mkdtemp(path.join(tmpdir(), "arena-chromium-nogl-"));
    const nogl = await launch(dir, ["--disable-3d-apis"]);
    try {
        const page = nogl.pages()[0] ?? (await nogl.newPage());
        page.on("pageerror", (e) => fail(`no WebGL: page error: ${e.message}`));
        page.on("dialog", async (d) => {
            fail(`no WebGL: dialog (${d.type()}): ${d.message()}`);
            await d.dismiss();
        });
        await page.goto(base, { waitUntil: "load" });
        await page.waitForFunction(() => window.__arena && window.__arena.state === "failed", null, {
            timeout: TIMEOUT_MS,
        });
        const shown = await page.locator("#message").innerText();
        if (!(await page.locator("#message").isVisible()) || !/WebGL/.test(shown)) {
            fail(`no WebGL: the page does not say why (${JSON.stringify(shown)})`);
        }
        await page.screenshot({ path: path.join(artifacts, "web-no-webgl.png") });
    } catch (e) {
        fail(`no WebGL: ${e}`);
    } finally {
        await nogl.close();
        await rm(dir, { recursive: true, force: true });
    }
}

const browser = await launch(profile);
try {
    const page = browser.pages()[0] ?? (await browser.newPage());
    const log = [];
    page.on("console", (m) => {
        log.push(`${m.type()}: ${m.text()}`);
        if (m.type() === "error") fail(`console error: ${m.text()}`);
    });
    page.on("pageerror", (e) => fail(`page error: ${e.message}`));
    page.on("dialog", async (d) => {
        fail(`dialog (${d.type()}): ${d.message()}`);
        await d.dismiss();
    });
    page.on("requestfailed", (r) => fail(`request failed: ${r.url()}`));

    const t0 = Date.now();
    await page.goto(base, { waitUntil: "load" });
    // The first frame drawn (or a failure the page reports).
    await page.waitForFunction(
        () => window.__arena && (window.__arena.state !== "loading" || window.__arena.error),
        null,
        { timeout: TIMEOUT_MS },
    );
    const first = await page.evaluate(() => ({ ...window.__arena }));
    if (first.state !== "running") {
        fail(`game did not start: ${JSON.stringify(first)}`);
        throw new Error("not running");
    }
    const loadToFirstFrameMs = Date.now() - t0;
    // The menu is up once the focused Practice button is drawn.
    const menuReady = async () => {
        const shot = await page.locator("canvas").screenshot();
        return (await colourCounts(page, shot, 3)).buttonShare > 0.5;
    };
    const deadline = Date.now() + TIMEOUT_MS;
    while (!(await menuReady())) {
        if (Date.now() > deadline) {
            fail("the menu's Practice button never appeared");
            throw new Error("no menu");
        }
        await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => r())));
    }
    await page.locator("canvas").screenshot({ path: path.join(artifacts, "web-menu.png") });

    await page.locator("canvas").focus();
    const framesAhead = async (n) => {
        const f0 = await page.evaluate(() => window.__arena.frames);
        await page.waitForFunction((f) => window.__arena.frames >= f, f0 + n, { timeout: TIMEOUT_MS });
    };
    // Practice: the menu opens focused on it; Enter starts it.
    await page.keyboard.press("Enter");
    // Practice is up when the menu's buttons are gone and the arena's
    // floor fills most of the canvas; let the players move for 60 frames.
    const framesAtStart = await page.evaluate(() => window.__arena.frames);
    let result;
    for (;;) {
        const shot = await page.locator("canvas").screenshot();
        result = await colourCounts(page, shot, 6);
        const frames = await page.evaluate(() => window.__arena.frames);
        const pixels = result.width * result.height;
        if (result.buttonShare < 0.1 && result.counts.floor > pixels * 0.3 && frames - framesAtStart >= 60) {
            await writeFile(path.join(artifacts, "web-practice.png"), shot);
            break;
        }
        if (Date.now() > deadline + TIMEOUT_MS) {
            await writeFile(path.join(artifacts, "web-practice.png"), shot);
            fail(`practice never showed: ${JSON.stringify(result)}`);
            break;
        }
        await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => r())));
    }
    const c = result.counts;
    const pixels = result.width * result.height;
    if (result.width !== 1280 || result.height !== 720) fail(`canvas is ${result.width}x${result.height}, not 1280x720`);
    if (c.floor < pixels * 0.3) fail(`floor colour covers ${c.floor} of ${pixels} pixels`);
    if (c.wall < 2000) fail(`wall colour: only ${c.wall} pixels`);
    // The local player (blue) and three AI opponents (red, green, yellow).
    for (const k of ["blue", "red", "green", "yellow"]) {
        if (c[k] < 50) fail(`player colour ${k}: only ${c[k]} pixels`);
    }
    // A figure, not a check: frames drawn in 3 s of practice with nothing
    // else asking the page for pixels (BENCHMARKS.md "Browser build").
    const practiceFps = await page.evaluate(async () => {
        const f0 = window.__arena.frames;
        const t0 = performance.now();
        await new Promise((r) => setTimeout(r, 3000));
        return ((window.__arena.frames - f0) * 1000) / (performance.now() - t0);
    });
    const state = await page.evaluate(() => ({ ...window.__arena }));
    const report = {
        loadToFirstFrameMs,
        firstFrameAtPageMs: Math.round(first.firstFrameMs ?? -1),
        frames: state.frames,
        practiceFps: Math.round(practiceFps * 10) / 10,
        counts: c,
        practiceButtonShare: result.buttonShare,
        console: log,
    };
    console.log(JSON.stringify(report, null, 1));
    await writeFile(path.join(artifacts, "web-smoke.json"), JSON.stringify(report, null, 1));
} catch (e) {
    if (!failures.length) fail(String(e));
} finally {
    await browser.close();
    server?.close();
    await rm(profile, { recursive: true, force: true });
}
if (failures.length) {
    console.error(`web smoke test: ${failures.length} failure(s)`);
    process.exit(1);
}
console.log("web smoke test: ok");
