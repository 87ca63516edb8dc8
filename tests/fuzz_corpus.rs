//! Replays the fuzz corpus of the game's decoders: every file of
//! `fuzz/corpus/<target>/` and `fuzz/regressions/<target>/` goes through the
//! target's body in `arena::fuzzing`, exactly as libFuzzer ran it
//! (`scripts/fuzz.sh`), so every case a fuzzing run kept stays checked here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../fuzz/replay.rs"]
mod replay;

use std::path::{Path, PathBuf};

/// The repository's `fuzz/` folder.
fn fuzz() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

#[test]
fn proto_decode() {
    replay::replay(&fuzz(), "proto_decode", arena::fuzzing::proto_decode);
}

#[test]
fn settings_file() {
    replay::replay(&fuzz(), "settings_file", arena::fuzzing::settings_file);
}

#[test]
fn map_file() {
    replay::replay(&fuzz(), "map_file", arena::fuzzing::map_file);
}
