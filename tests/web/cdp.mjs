// Chromium driven over the DevTools protocol itself, on a pipe (no port),
// for what Playwright cannot show: a background tab. Playwright keeps every
// page it drives visible and active (microsoft/playwright#2286), so a tab
// it drives never gets `document.hidden`, throttled timers or stopped
// animation frames. A tab opened here with another tab opened in front of
// it does, as in a person's browser.
//
//   const chrome = await launch(executablePath, args, profileDir);
//   const tab = await chrome.open(url);       // a tab in front
//   await tab.eval("document.visibilityState");
//   const other = await chrome.open("about:blank");  // `tab` is hidden now
//   await tab.front();                        // and visible again
//   await chrome.close();
import { spawn } from "node:child_process";

/// Starts `executablePath` with `args` and a DevTools pipe (fds 3 and 4).
export async function launch(executablePath, args, profileDir) {
    const child = spawn(
        executablePath,
        [...args, "--remote-debugging-pipe", `--user-data-dir=${profileDir}`, "about:blank"],
        { stdio: ["ignore", "ignore", "pipe", "pipe", "pipe"] },
    );
    const [toChrome, fromChrome] = [child.stdio[3], child.stdio[4]];
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    let nextId = 0;
    const pending = new Map();
    let buffer = Buffer.alloc(0);
    let exited = null;
    fromChrome.on("data", (chunk) => {
        buffer = Buffer.concat([buffer, chunk]);
        for (let end; (end = buffer.indexOf(0)) >= 0; ) {
            const msg = JSON.parse(buffer.subarray(0, end).toString("utf8"));
            buffer = buffer.subarray(end + 1);
            const waiter = pending.get(msg.id);
            if (waiter) {
                pending.delete(msg.id);
                if (msg.error) waiter.reject(new Error(`${waiter.method}: ${msg.error.message}`));
                else waiter.resolve(msg.result);
            }
        }
    });
    child.on("exit", (code) => {
        exited = code ?? -1;
        for (const w of pending.values()) w.reject(new Error(`chromium exited (${exited}): ${stderr.slice(-2000)}`));
        pending.clear();
    });
    const send = (method, params = {}, sessionId = undefined) =>
        new Promise((resolve, reject) => {
            if (exited !== null) return reject(new Error(`chromium exited (${exited})`));
            const id = ++nextId;
            pending.set(id, { resolve, reject, method });
            toChrome.write(JSON.stringify({ id, method, params, sessionId }) + "\0");
        });
    await send("Browser.getVersion");

    /// Opens `url` in a new tab, in front: its handle.
    async function open(url) {
        const { targetId } = await send("Target.createTarget", { url });
        const { sessionId } = await send("Target.attachToTarget", { targetId, flatten: true });
        await send("Runtime.enable", {}, sessionId);
        return {
            targetId,
            /// The value of `expression` in the page (awaited if a promise).
            async eval(expression) {
                const r = await send(
                    "Runtime.evaluate",
                    { expression, returnByValue: true, awaitPromise: true },
                    sessionId,
                );
                if (r.exceptionDetails) throw new Error(`${expression}: ${r.exceptionDetails.text}`);
                return r.result.value;
            },
            /// Brings the tab to the front (visible again).
            front: () => send("Target.activateTarget", { targetId }),
            close: () => send("Target.closeTarget", { targetId }),
        };
    }
    return {
        open,
        /// Ends Chromium and waits until it has exited (its profile is then free).
        close() {
            if (exited !== null) return Promise.resolve();
            const gone = new Promise((resolve) => child.once("exit", resolve));
            child.kill("SIGTERM");
            return gone;
        },
    };
}
