//! Replays the fuzz corpus of the server's decoders: every file of
//! `fuzz/corpus/<target>/` and `fuzz/regressions/<target>/` goes through the
//! target's body in `arena_server::fuzzing`, exactly as libFuzzer ran it
//! (`scripts/fuzz.sh`), so every case a fuzzing run kept stays checked here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

/// Runs `body` on every file of the target's corpus and regressions; fails
/// naming every file that panics, or when the corpus is missing or empty.
fn replay(target: &str, body: fn(&[u8])) {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let mut files = Vec::new();
    for dir in ["corpus", "regressions"] {
        let Ok(entries) = std::fs::read_dir(fuzz.join(dir).join(target)) else {
            assert_ne!(dir, "corpus", "no fuzz/corpus/{target}/");
            continue;
        };
        for e in entries {
            files.push(e.unwrap().path());
        }
    }
    assert!(
        files.len() >= 5,
        "fuzz/corpus/{target}/ holds {} files",
        files.len()
    );
    files.sort();
    let failed: Vec<_> = files
        .iter()
        .filter(|f| {
            let bytes = std::fs::read(f).unwrap();
            std::panic::catch_unwind(|| body(&bytes)).is_err()
        })
        .collect();
    assert!(
        failed.is_empty(),
        "{target}: {} of {} cases fail: {failed:?}",
        failed.len(),
        files.len()
    );
}

#[test]
fn server_event() {
    replay("server_event", arena_server::fuzzing::server_event);
}

#[test]
fn room_code() {
    replay("room_code", arena_server::fuzzing::room_code);
}

#[test]
fn stun_datagram() {
    replay("stun_datagram", arena_server::fuzzing::stun_datagram);
}
