//! Fuzz target `settings_file`: the body is `arena::fuzzing::settings_file`, which
//! `cargo test --test fuzz_corpus` also runs on every file of `fuzz/corpus/settings_file/`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| arena::fuzzing::settings_file(data));
