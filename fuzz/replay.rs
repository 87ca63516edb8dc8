//! The corpus replay shared by `tests/fuzz_corpus.rs` (the game's targets)
//! and `server/tests/fuzz_corpus.rs` (the server's), included there with
//! `#[path]`: not part of the fuzz crate's targets.

use std::path::Path;

/// Runs `body` on every file of `fuzz/corpus/<target>/` and
/// `fuzz/regressions/<target>/` under `fuzz`, exactly as libFuzzer ran it
/// (`scripts/fuzz.sh`); fails naming every file that panics, or when the
/// corpus is missing or holds fewer than 5 files.
pub fn replay(fuzz: &Path, target: &str, body: fn(&[u8])) {
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
