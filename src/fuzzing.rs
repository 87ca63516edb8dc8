//! The bodies of the game's fuzz targets (`fuzz/`, see the README's
//! "Fuzzing" section), kept here so that `cargo test` (`tests/fuzz_corpus.rs`)
//! replays every case of the corpus through exactly the code libFuzzer ran.
//! The server's targets (events, room codes, STUN) are in
//! `arena_server::fuzzing`.
//!
//! Each function takes arbitrary bytes, runs the game's real decoder on them
//! and panics only when an invariant of that decoder is broken: a panic here
//! is a finding. Not part of the game's API (hence `doc(hidden)`); no I/O.

use std::sync::OnceLock;

use crate::proto::{self, Bounds, MAX_MESSAGE_BYTES};
use crate::session::arena_bounds;
use crate::settings;
use crate::sim::{MAX_PLAYERS, Map, Rect};
use glam::Vec2;

/// One received game message (data channel, or the bytes of a relayed
/// `data`), checked against the built-in arena. A message that passes is
/// no longer than [`MAX_MESSAGE_BYTES`], and re-encodes to bytes that decode
/// to the same message (what a peer forwards is what it read).
pub fn proto_decode(data: &[u8]) {
    // Parsing the built-in map each time would be 99% of the work.
    static BOUNDS: OnceLock<Bounds> = OnceLock::new();
    let bounds = BOUNDS.get_or_init(|| arena_bounds(&Map::builtin()));
    let Ok(msg) = proto::decode(data, bounds) else {
        return;
    };
    assert!(data.len() <= MAX_MESSAGE_BYTES);
    let again = proto::encode(&msg);
    assert!(
        again.len() <= MAX_MESSAGE_BYTES,
        "{msg:?} re-encodes too long"
    );
    match proto::decode(&again, bounds) {
        Ok(back) => assert_eq!(back, msg, "re-encoding changed the message"),
        Err(e) => panic!("{msg:?} re-encodes to a message that fails: {e}"),
    }
}

/// The settings file, whatever it holds: the settings it gives always pass
/// [`validate`](settings::Settings::validate), and saving them gives a file
/// that reads back to the same settings without a warning.
pub fn settings_file(data: &[u8]) {
    let parsed = settings::parse(data);
    if let Err(e) = parsed.settings.validate() {
        panic!("the settings read are invalid: {e}");
    }
    let text = match parsed.settings.to_toml() {
        Ok(t) => t,
        Err(e) => panic!("the settings read cannot be saved: {e}"),
    };
    let back = settings::parse(text.as_bytes());
    assert!(
        back.issues.is_empty() && !back.lossy,
        "the saved file reads with issues {:?}:\n{text}",
        back.issues
    );
    assert_eq!(
        back.settings, parsed.settings,
        "saving changed the settings"
    );
}

/// A map file (`--map`): any text loads or is refused with an error. A
/// map that loads has a finite, positive size, walls inside it and at least
/// [`MAX_PLAYERS`] spawns inside it, none in a wall.
pub fn map_file(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(map) = Map::parse(text) else {
        return;
    };
    let size = map.size;
    assert!(size.is_finite() && size.x > 0.0 && size.y > 0.0, "{size:?}");
    let arena = Rect {
        min: Vec2::ZERO,
        max: size,
    };
    for w in &map.walls {
        assert!(
            arena.contains(w.min) && arena.contains(w.max),
            "wall {w:?} outside {size:?}"
        );
    }
    assert!(map.spawns.len() >= MAX_PLAYERS);
    for p in &map.spawns {
        assert!(arena.contains(*p), "spawn {p:?} outside {size:?}");
        assert!(
            !map.walls.iter().any(|w| w.contains(*p)),
            "spawn {p:?} in a wall"
        );
    }
}
