#!/usr/bin/env bash
# Builds the game for the browser: target/web/ gets index.html, macroquad's
# JS loader (mq_js_bundle.js, the vendored copy of our exact macroquad),
# the game's plugin (arena.js) and arena.wasm. Serve that folder over HTTP
# (`.wasm` as application/wasm) and open index.html.
#
# Two toolchains, picked automatically (README "Browser build"):
# - rustup with the wasm32-unknown-unknown target installed (`rustup target
#   add wasm32-unknown-unknown`; what the GitHub workflow does): a plain
#   `cargo build --target wasm32-unknown-unknown`.
# - Otherwise Debian's packages rustc-web, cargo-web, rust-web-src and lld
#   (installed here when missing, as root or through sudo): Debian's rustc
#   and cargo (not rustup's, which come first on PATH) build std from source
#   (-Zbuild-std, with RUSTC_BOOTSTRAP=1) and link with wasm-ld.
#
# `scripts/web.sh clippy` instead runs clippy (-D warnings) on the game and
# web/ffi for wasm32 (with Debian's toolchain: rust-web-clippy).
#
# Environment: WEB_OUT (default target/web), WEB_TARGET_DIR (the wasm
# build's cargo target dir, default target/wasm: kept apart from the native
# one so neither rebuilds the other's dependencies).
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n== %s\n' "$*" >&2; }

out=${WEB_OUT:-target/web}
export CARGO_TARGET_DIR=${WEB_TARGET_DIR:-target/wasm}
target=wasm32-unknown-unknown
# The vendored loader must be the one of the macroquad we build (patches/README.md).
bundle=patches/macroquad/js/mq_js_bundle.js
# Older rustc and Debian's do not pass --allow-undefined to the linker the
# same way: say it, so imports without a #[link(wasm_import_module)] (quad-snd's)
# become `env` imports as macroquad's loader expects.
export RUSTFLAGS="${RUSTFLAGS:-} -C link-arg=--allow-undefined"
mode=${1:-build}
case "$mode" in
build) args=(build --locked --profile web --target "$target" --bin arena-web --features web) ;;
clippy) args=(clippy --locked --target "$target" -p arena -p arena-web-ffi --lib --bin arena-web
    --features web) ;;
*) echo "usage: scripts/web.sh [build|clippy]" >&2; exit 2 ;;
esac

if command -v rustup >/dev/null && rustup target list --installed 2>/dev/null | grep -qx "$target"; then
    log "$mode with rustup's $target target"
    cargo=(cargo)
else
    packages=(rustc-web cargo-web rust-web-src lld)
    [ "$mode" = clippy ] && packages+=(rust-web-clippy)
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
    # Debian's binaries, by package, whatever PATH says.
    rustc=$(dpkg -L rustc-web | grep -m1 -x '/usr/bin/rustc')
    debian_cargo=$(dpkg -L cargo-web | grep -m1 -x '/usr/bin/cargo')
    wasm_ld=$(dpkg -L lld | grep -m1 '/wasm-ld$')
    log "$mode with Debian's $("$rustc" --version) and -Zbuild-std"
    export RUSTC="$rustc" RUSTC_BOOTSTRAP=1
    export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER="$wasm_ld"
    cargo=("$debian_cargo")
    if [ "$mode" = clippy ]; then
        # Debian's cargo-clippy (by path) runs Debian's cargo, not rustup's.
        export CARGO="$debian_cargo"
        cargo=("$(dpkg -L rust-web-clippy | grep -m1 -x '/usr/bin/cargo-clippy')")
    fi
    args+=(-Zbuild-std=std,panic_abort)
fi

if [ "$mode" = clippy ]; then
    "${cargo[@]}" "${args[@]}" -- -D warnings
    exit
fi

start=$(date +%s)
"${cargo[@]}" "${args[@]}"
log "built in $(($(date +%s) - start)) s"

mkdir -p "$out"
cp "$CARGO_TARGET_DIR/$target/web/arena-web.wasm" "$out/arena.wasm"
cp web/index.html web/arena.js web/net.js "$bundle" "$out/"
raw=$(stat -c %s "$out/arena.wasm")
gz=$(gzip -9 -c "$out/arena.wasm" | wc -c)
printf 'arena.wasm: %s bytes (%s KiB), gzip -9: %s bytes (%s KiB)\n' \
    "$raw" "$((raw / 1024))" "$gz" "$((gz / 1024))"
echo "web bundle in $out/"
