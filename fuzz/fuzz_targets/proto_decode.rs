//! Fuzz target `proto_decode`: the body is `arena::fuzzing::proto_decode`, which
//! `cargo test --test fuzz_corpus` also runs on every file of `fuzz/corpus/proto_decode/`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| arena::fuzzing::proto_decode(data));
