//! The keyed 64-bit hash behind fingerprints: fast enough for every definition of every page,
//! and keyed per process, because the author of an upstream MCP server writes what is hashed.
//!
//! Why not a vetted cryptographic hash: BLAKE3 (128 bits) over a canonical form of each
//! definition was built and measured, and at 10,000 servers × 20 tools it took one page's
//! decode from 1.88 to 5.02 ms (`cargo bench --bench cycle -- decode`), the first cycle's CPU
//! from 0.42–0.51 to 0.81–0.96 s and its peak RSS from 16.9–17.6 to 20.1–21.1 MiB (5 runs
//! each, interleaved; `cargo bench --bench cycle`). A definition is about 1 KiB, a single
//! BLAKE3 chunk, so its SIMD has nothing to parallelise. The secret key is what stops a
//! crafted collision here: fingerprints are compared only within one process. Pins, which
//! must be stable across processes, are for a cryptographic hash computed only when this one
//! says a definition changed.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::OnceLock;

/// A fast 64-bit hasher for fingerprints. Every definition of every page is hashed, so
/// speed matters (SipHash was several times slower here), but the author of an upstream MCP
/// server writes the definitions, so a change must not be made to hash like the old version.
/// Each step multiplies the input by a value derived from a key drawn at random when the
/// process starts ([`Keys`]) and folds the 128-bit product (wyhash's construction): how a
/// difference in the input spreads depends on that secret, so it cannot be cancelled by a
/// second change worked out ahead. The multiply–rotate mix this replaces passed a flipped bit
/// through unchanged half the time, whatever its start, so two edited characters went unseen
/// in one listing of two (a unit test keeps the demonstration). Fast, not a cryptographic MAC.
pub(super) struct Mix {
    h: u64,
    /// The secret multiplier of each step.
    m: u64,
}

impl Default for Mix {
    fn default() -> Self {
        let k = Keys::get();
        Self {
            h: k.start,
            m: k.mul,
        }
    }
}

/// The process's secret keys: fingerprints are compared only within one run (the remembered
/// ones live in memory), so new keys at each start change nothing else.
#[derive(Clone, Copy)]
struct Keys {
    start: u64,
    mul: u64,
    /// The secrets of [`text`] and [`pair`] (wyhash's construction: a 128-bit product of
    /// the input words each masked by a secret, then its halves folded with two more).
    s: [u64; 4],
}

impl Keys {
    #[inline]
    fn get() -> &'static Self {
        static KEYS: OnceLock<Keys> = OnceLock::new();
        KEYS.get_or_init(|| {
            let s = RandomState::new();
            Keys {
                start: s.hash_one(1u8),
                mul: s.hash_one(2u8) | 1,
                s: [3u8, 4, 5, 6].map(|i| s.hash_one(i) | 1),
            }
        })
    }
}

/// The keyed hash of two words, in a domain of its own (`tag`): what numbers, literals, an
/// object's entries and the object itself are hashed with. One 128-bit product and a fold.
/// The domain enters after the product, scaled by a secret: mixed into an input word it
/// would be a difference anyone can cancel (`true` hashed as `null` that way).
#[inline]
pub(super) fn pair(tag: u64, a: u64, b: u64) -> u64 {
    let k = Keys::get();
    let p = u128::from(a ^ k.s[0]) * u128::from(b ^ k.s[1]);
    let domain = tag.wrapping_mul(k.mul);
    fold((p as u64) ^ k.s[2] ^ domain, ((p >> 64) as u64) ^ k.s[3])
}

/// The keyed hash of a string's bytes, shaped as wyhash's: up to 16 bytes (most keys and
/// short values), two words that together cover every byte, with the length, one product
/// and one fold; up to 64, a fold per 16 bytes first; longer strings go through [`Mix`]'s
/// two lanes first.
#[inline]
pub(super) fn text(bytes: &[u8]) -> u64 {
    let n = bytes.len();
    let (a, b) = match n {
        0 => (0, 0),
        1..=3 => (
            (u64::from(bytes[0]) << 16) | (u64::from(bytes[n / 2]) << 8) | u64::from(bytes[n - 1]),
            0,
        ),
        4..=7 => (half(bytes), half(&bytes[n - 4..])),
        8..=16 => (word(bytes), word(&bytes[n - 8..])),
        17..=64 => {
            // Sixteen bytes a step into one chain, the last sixteen (which may overlap
            // the step before) into the final product.
            let k = Keys::get();
            let mut seed = k.start;
            let mut rest = bytes;
            while rest.len() > 16 {
                seed = fold(word(rest) ^ k.s[1], word(&rest[8..]) ^ seed);
                rest = &rest[16..];
            }
            (word(&bytes[n - 16..]), word(&bytes[n - 8..]) ^ seed)
        }
        _ => {
            let mut m = Mix::default();
            m.write(bytes);
            (m.h, 0)
        }
    };
    pair(TEXT | n as u64, a, b)
}

/// The domains of [`pair`]: a string's is its length with the top bit set.
pub(super) const TEXT: u64 = 1 << 63;
pub(super) const NULL: u64 = 0;
pub(super) const BOOL: u64 = 1;
pub(super) const NUMBER: u64 = 2;
pub(super) const OBJECT: u64 = 5;
pub(super) const ENTRY: u64 = 6;

/// Reads four bytes as a word.
fn half(c: &[u8]) -> u64 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&c[..4]);
    u64::from(u32::from_le_bytes(w))
}

const K: u64 = 0x9e37_79b9_7f4a_7c15;

/// The 128-bit product of `a` and `b`, its halves folded together.
fn fold(a: u64, b: u64) -> u64 {
    let p = u128::from(a) * u128::from(b);
    (p as u64) ^ ((p >> 64) as u64)
}

/// Reads eight bytes as a word.
fn word(c: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&c[..8]);
    u64::from_le_bytes(w)
}

impl Mix {
    /// Long strings (tool descriptions, schemas) are most of a page's bytes: two independent
    /// lanes of 16 bytes per step keep the multiplier busy instead of waiting on one chain.
    #[inline(never)]
    fn write_long(&mut self, bytes: &[u8]) {
        let mut blocks = bytes.chunks_exact(32);
        let (h, m) = (self.h, self.m);
        let pads = [m, m.rotate_left(32) ^ K];
        let mut lanes = [h, h.rotate_left(32) ^ K];
        for b in &mut blocks {
            for (i, lane) in lanes.iter_mut().enumerate() {
                *lane = fold(word(&b[i * 16..]) ^ pads[i], word(&b[i * 16 + 8..]) ^ *lane);
            }
        }
        for lane in lanes {
            self.write_u64(lane);
        }
        self.write_short(blocks.remainder());
    }

    /// Fewer than 64 bytes, a word at a time (most strings of a page are keys and short
    /// values: this is inlined where they are hashed).
    #[inline]
    fn write_short(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.write_u64(word(c));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.write_u64(u64::from_le_bytes(w) ^ ((rest.len() as u64) << 59));
        }
    }
}

impl Hasher for Mix {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        if bytes.len() >= 64 {
            self.write_long(bytes);
        } else {
            self.write_short(bytes);
        }
    }

    fn write_u8(&mut self, v: u8) {
        self.write_u64(u64::from(v) | 0x100);
    }

    fn write_u64(&mut self, v: u64) {
        self.h = fold(self.h ^ v, self.m).wrapping_add(K);
    }

    fn write_usize(&mut self, v: usize) {
        self.write_u64(v as u64);
    }

    fn finish(&self) -> u64 {
        let mut h = self.h ^ K;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mix(bytes: &[u8]) -> u64 {
        use std::hash::Hasher;
        let mut h = Mix::default();
        h.write(bytes);
        h.finish()
    }

    #[test]
    fn every_byte_of_a_long_string_counts_and_so_does_its_place() {
        let base: Vec<u8> = (0..200u8).collect();
        let mut seen = std::collections::HashSet::from([mix(&base)]);
        for i in 0..base.len() {
            let mut b = base.clone();
            b[i] ^= 1;
            assert!(
                seen.insert(mix(&b)),
                "flipping byte {i} left the hash unchanged"
            );
        }
        // The lanes are not interchangeable: swapping two words changes the hash.
        let mut swapped = base.clone();
        swapped[0..8].copy_from_slice(&base[8..16]);
        swapped[8..16].copy_from_slice(&base[0..8]);
        assert_ne!(mix(&swapped), mix(&base));
        // A prefix is not the string.
        for n in [63, 64, 65, 96, 199] {
            assert!(seen.insert(mix(&base[..n])), "the prefix of {n} bytes");
        }
    }

    /// Keys for the tests, from a counter (splitmix64).
    fn keys(i: u64) -> (u64, u64) {
        let mix = |mut z: u64| {
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        };
        (mix(2 * i + 1), mix(2 * i + 2) | 1)
    }

    #[test]
    fn two_edited_characters_are_seen_whatever_the_key() {
        use std::hash::Hasher;
        // "a" -> "!" flips bit 62 of the first word, "a" -> "i" bit 27 of the second.
        let original = *b"abcdefgaabcaefgh";
        let mut edited = original;
        edited[7] = b'!';
        edited[11] = b'i';
        // The multiply-rotate step used before: the flipped bit comes out of the multiply
        // and the rotation as bit 27 (or bits 27 and 28) whatever the start, so the second
        // edit cancels it for about half of all starts.
        let old = |start: u64, bytes: &[u8; 16]| {
            let step = |s: u64, w: u64| (s ^ w).wrapping_mul(K).rotate_left(29);
            step(step(start, word(&bytes[..8])), word(&bytes[8..]))
        };
        let old_missed = (0..1000)
            .filter(|i| old(keys(*i).0, &original) == old(keys(*i).0, &edited))
            .count();
        assert!(old_missed > 300, "the old step missed {old_missed} of 1000");
        let hash = |(start, mul): (u64, u64), bytes: &[u8]| {
            let mut h = Mix { h: start, m: mul };
            h.write(bytes);
            h.finish()
        };
        for i in 0..1000 {
            assert_ne!(hash(keys(i), &original), hash(keys(i), &edited), "key {i}");
            let long_original = original.repeat(5);
            let mut long_edited = long_original.clone();
            long_edited[32..48].copy_from_slice(&edited);
            assert_ne!(
                hash(keys(i), &long_original),
                hash(keys(i), &long_edited),
                "key {i}, the lanes"
            );
        }
    }
}
