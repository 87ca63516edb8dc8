//! Fuzz target `server_event`: the body is `arena_server::fuzzing::server_event`, which
//! `cargo test -p arena-server` also runs on every file of `fuzz/corpus/server_event/`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| arena_server::fuzzing::server_event(data));
