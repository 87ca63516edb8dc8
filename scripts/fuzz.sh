#!/usr/bin/env bash
# Coverage-guided fuzzing with libFuzzer on the STABLE toolchain.
#
#   scripts/fuzz.sh                 # list the targets
#   scripts/fuzz.sh TARGET [SECS]   # build, then fuzz TARGET for SECS seconds (default 60)
#   scripts/fuzz.sh build           # only build every target
#   scripts/fuzz.sh merge TARGET    # minimise fuzz/corpus/TARGET (libFuzzer -merge=1)
#   extra libFuzzer flags: FUZZ_ARGS="-runs=1000000 -jobs=2" scripts/fuzz.sh TARGET
#
# cargo-fuzz needs nightly only for its -Z sanitizer flags; libFuzzer itself
# just needs SanitizerCoverage instrumentation, which stable rustc emits with
# the -C flags below (the LLVM pass and its options). libfuzzer-sys builds
# libFuzzer's C++ with the cc crate (g++) and provides main(). No
# AddressSanitizer on stable: our crates forbid unsafe, so the findings are
# panics (debug assertions and overflow checks on), hangs (-timeout) and
# memory blow-ups (-rss_limit_mb / -malloc_limit_mb).
# The cases found go to fuzz/corpus/TARGET; crashes to fuzz/artifacts/TARGET
# (move a crash to fuzz/regressions/TARGET once fixed). `cargo test` replays
# both folders (tests/fuzz_corpus.rs, server/tests/fuzz_corpus.rs).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
FUZZ="$ROOT/fuzz"
TARGETS=(proto_decode settings_file map_file server_event room_code stun_datagram)
TRIPLE="$(rustc -vV | sed -n 's/^host: //p')"
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-${CARGO_TARGET_DIR:-$ROOT/target}/fuzz}"
# --target keeps these flags off build scripts and proc macros (they are not
# linked with libFuzzer); --cfg fuzzing is what cargo-fuzz sets too.
export RUSTFLAGS="--cfg fuzzing -Cpasses=sancov-module \
-Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
-Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares \
-Cdebug-assertions -Coverflow-checks ${EXTRA_RUSTFLAGS:-}"

build() {
    cargo build --manifest-path "$FUZZ/Cargo.toml" --release --target "$TRIPLE" --bins "$@"
}
bin() { echo "$CARGO_TARGET_DIR/$TRIPLE/release/$1"; }
known() {
    local t
    for t in "${TARGETS[@]}"; do [[ "$t" == "$1" ]] && return 0; done
    echo "unknown target '$1'; targets: ${TARGETS[*]}" >&2
    exit 2
}

case "${1:-}" in
    "" | -h | --help)
        sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
        echo "targets: ${TARGETS[*]}"
        ;;
    build)
        build
        ;;
    merge)
        known "${2:?merge TARGET}"
        build --bin "$2"
        tmp="$(mktemp -d)"
        mv "$FUZZ/corpus/$2" "$tmp/old"
        mkdir -p "$FUZZ/corpus/$2"
        # Seeds (seed-*) stay whatever the merge says: they document the format.
        cp "$tmp/old"/seed-* "$FUZZ/corpus/$2/" 2>/dev/null || true
        "$(bin "$2")" -merge=1 -max_len=4096 "$FUZZ/corpus/$2" "$tmp/old"
        rm -rf "$tmp"
        ;;
    *)
        known "$1"
        secs="${2:-60}"
        build --bin "$1"
        mkdir -p "$FUZZ/corpus/$1" "$FUZZ/artifacts/$1"
        # -timeout: one input taking over 2 s is a hang; -rss_limit_mb and
        # -malloc_limit_mb: more than 512 MB in all or in one allocation is
        # a finding. 4 KiB inputs cover every format (events are capped at 16 KiB
        # by the server, game messages at 512 bytes, STUN at 576).
        # shellcheck disable=SC2086
        "$(bin "$1")" -max_total_time="$secs" -timeout=2 -rss_limit_mb=512 -malloc_limit_mb=512 \
            -max_len=4096 -print_final_stats=1 -artifact_prefix="$FUZZ/artifacts/$1/" \
            ${FUZZ_ARGS:-} "$FUZZ/corpus/$1"
        ;;
esac
