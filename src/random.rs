//! Fresh randomness for seeds and ids: the OS's on desktop (`rand`'s
//! thread generator), the browser's `crypto.getRandomValues` on wasm
//! (through `arena-web-ffi`; getrandom has no browser backend without
//! wasm-bindgen). Everything random in the game flows from these seeds into
//! seeded generators, so pure modules stay deterministic.

/// A random `u64` (a seed, a network id).
pub fn u64() -> u64 {
    #[cfg(not(target_arch = "wasm32"))]
    {
        rand::random()
    }
    #[cfg(target_arch = "wasm32")]
    {
        let mut bytes = [0u8; 8];
        arena_web_ffi::fill_random(&mut bytes);
        u64::from_le_bytes(bytes)
    }
}
