// What the browser tests share: how headless Chromium is started.
//
// Headless, no sandbox (CI runs as root), no GPU but WebGL through
// SwiftShader, and none of Chromium's background connections (this
// machine's network is closed: they would be refused, many at a time).
// ARENA_CHROMIUM_ARGS adds flags (space-separated), e.g.
// --disable-features=WebRtcHideLocalIpsWithMdns.
export const CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
    ...(process.env.ARENA_CHROMIUM_ARGS || "").split(" ").filter(Boolean),
];
