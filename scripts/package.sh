#!/usr/bin/env bash
# Builds the release archives of one platform into dist/: `arena` (the game,
# with the embedded signaling server) and `arena-server` (the standalone
# server), with the README and the browser build in `web/` (both servers
# serve it at /play from `web` next to their executable), in
# p2p-arena-VERSION-TARGET.tar.gz (.zip on Windows), plus its SHA-256 in a
# .sha256 file beside it.
#
# The browser build is taken from target/web (scripts/web.sh writes it; the
# release workflow builds it once and hands it to every platform). Without
# it the archive has no web/ and says so, unless ARENA_REQUIRE_WEB=1, which
# makes it an error (the release workflow sets it).
#
#   scripts/package.sh                 # this machine's target
#   scripts/package.sh aarch64-apple-darwin
#
# The release workflow (.github/workflows/release.yml) runs exactly this on
# each platform. It builds as scripts/test.sh does: the workspace's
# Cargo.lock (--locked), default features, no extra set-up (on Linux the
# sound links the ALSA runtime library, see build.rs).
set -euo pipefail
cd "$(dirname "$0")/.."

target="${1:-$(rustc -vV | sed -n 's/^host: //p')}"
version="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)"
name="p2p-arena-${version}-${target}"

cargo build --release --locked --target "$target" -p arena -p arena-server --bins

exe=""
case "$target" in *windows*) exe=".exe" ;; esac
stage="dist/$name"
rm -rf "$stage"
mkdir -p "$stage"
for bin in arena arena-server; do
    cp "target/$target/release/$bin$exe" "$stage/"
done
cp README.md "$stage/"
if [ -f target/web/index.html ] && [ -f target/web/arena.wasm ]; then
    cp -R target/web "$stage/web"
elif [ "${ARENA_REQUIRE_WEB:-0}" = 1 ]; then
    echo "no browser build in target/web (run scripts/web.sh first)" >&2
    exit 1
else
    echo "note: no browser build in target/web: the archive has no web/ (/play answers how to build it)" >&2
fi

cd dist
case "$target" in
*windows*)
    archive="$name.zip"
    rm -f "$archive"
    if command -v 7z >/dev/null; then 7z a -tzip -bso0 "$archive" "$name" ; else zip -qr "$archive" "$name"; fi
    ;;
*)
    archive="$name.tar.gz"
    tar -czf "$archive" "$name"
    ;;
esac
if command -v sha256sum >/dev/null; then
    sha256sum "$archive" > "$archive.sha256"
else
    shasum -a 256 "$archive" > "$archive.sha256"
fi
rm -rf "$name"
echo "dist/$archive"
