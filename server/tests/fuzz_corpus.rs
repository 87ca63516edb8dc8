//! Replays the fuzz corpus of the server's decoders: every file of
//! `fuzz/corpus/<target>/` and `fuzz/regressions/<target>/` goes through the
//! target's body in `arena_server::fuzzing`, exactly as libFuzzer ran it
//! (`scripts/fuzz.sh`), so every case a fuzzing run kept stays checked here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../fuzz/replay.rs"]
mod replay;

use std::path::{Path, PathBuf};

/// The repository's `fuzz/` folder.
fn fuzz() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

#[test]
fn server_event() {
    replay::replay(&fuzz(), "server_event", arena_server::fuzzing::server_event);
}

#[test]
fn room_code() {
    replay::replay(&fuzz(), "room_code", arena_server::fuzzing::room_code);
}

#[test]
fn stun_datagram() {
    replay::replay(
        &fuzz(),
        "stun_datagram",
        arena_server::fuzzing::stun_datagram,
    );
}
