//! Fuzz target `room_code`: the body is `arena_server::fuzzing::room_code`, which
//! `cargo test -p arena-server` also runs on every file of `fuzz/corpus/room_code/`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| arena_server::fuzzing::room_code(data));
