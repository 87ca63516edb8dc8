//! FNV-1a 64-bit hashing of simulation state for determinism checks.
//!
//! Owns only the hasher. It feeds explicit little-endian bit patterns, never
//! `std::hash::Hash` (whose output is not promised to be stable across Rust
//! versions or platforms), and must not depend on pointer values or map
//! iteration order.

/// An FNV-1a 64-bit hasher over explicit byte patterns.
#[derive(Clone, Debug)]
pub struct Fnv1a(u64);

impl Default for Fnv1a {
    fn default() -> Self {
        Fnv1a(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv1a {
    /// Feed raw bytes.
    pub fn bytes(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    /// Feed a `u64` (little-endian).
    pub fn u64(&mut self, v: u64) {
        self.bytes(&v.to_le_bytes());
    }
    /// Feed a `u32` (little-endian).
    pub fn u32(&mut self, v: u32) {
        self.bytes(&v.to_le_bytes());
    }
    /// Feed an `i32` (little-endian).
    pub fn i32(&mut self, v: i32) {
        self.bytes(&v.to_le_bytes());
    }
    /// Feed an `f32` by its bit pattern.
    pub fn f32(&mut self, v: f32) {
        self.u32(v.to_bits());
    }
    /// Feed a `Vec2` by the bit patterns of x then y.
    pub fn vec2(&mut self, v: glam::Vec2) {
        self.f32(v.x);
        self.f32(v.y);
    }
    /// Feed a bool as one byte.
    pub fn bool(&mut self, v: bool) {
        self.bytes(&[u8::from(v)]);
    }
    /// Feed a string: its length then its UTF-8 bytes.
    pub fn str(&mut self, s: &str) {
        self.u64(s.len() as u64);
        self.bytes(s.as_bytes());
    }
    /// The hash so far.
    pub fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors() {
        // Reference values of FNV-1a 64.
        let h = Fnv1a::default();
        assert_eq!(h.finish(), 0xcbf2_9ce4_8422_2325);
        let mut h = Fnv1a::default();
        h.bytes(b"a");
        assert_eq!(h.finish(), 0xaf63_dc4c_8601_ec8c);
    }
}
