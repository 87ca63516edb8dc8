//! Fuzz target `stun_datagram`: the body is `arena_server::fuzzing::stun_datagram`, which
//! `cargo test -p arena-server` also runs on every file of `fuzz/corpus/stun_datagram/`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| arena_server::fuzzing::stun_datagram(data));
