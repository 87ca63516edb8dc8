//! Fuzz target `map_file`: the body is `arena::fuzzing::map_file`, which
//! `cargo test --test fuzz_corpus` also runs on every file of `fuzz/corpus/map_file/`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| arena::fuzzing::map_file(data));
