//! Fingerprints of a server's tool and prompt definitions, so that a change between two
//! listings (a tool added, removed, or its description or input schema changed: what a
//! "rug pull" relies on) is seen without keeping the definitions.
//!
//! Each definition is hashed while it is decoded, from its canonical form: object keys in
//! any order and any whitespace give the same hash; arrays inside a definition keep their
//! order (a JSON schema's `enum` or `required` list is data). Definitions are keyed by their
//! `name`; the order of the list does not matter. What is kept per server is one hash pair
//! per definition and its name (`capabilities` keeps them between listings). A 64-bit hash can
//! collide, so a fingerprint says "changed" with certainty and "unchanged" with overwhelming
//! probability; it cannot say what changed inside a definition, only which one.

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::OnceLock;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// The definitions of one list (`tools` or `prompts`) as decoded: each one's name and hash.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Defs {
    /// `(name, hash of the canonical definition)`; the name is `None` when it has none.
    pub items: Vec<(Option<String>, u64)>,
}

impl Defs {
    /// How many definitions.
    pub fn count(&self) -> u64 {
        self.items.len() as u64
    }
}

/// Decodes a list of definitions into their names and hashes; `null` or a non-list is
/// unknown.
pub fn defs<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Defs>, D::Error> {
    struct ListVisitor;
    impl<'de> Visitor<'de> for ListVisitor {
        type Value = Option<Defs>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a list of definitions")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut items = Vec::new();
            while let Some(item) = seq.next_element_seed(Canonical::DEFINITION)? {
                items.push((item.name, item.hash));
            }
            Ok(Some(Defs { items }))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(self)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            while map
                .next_entry::<de::IgnoredAny, de::IgnoredAny>()?
                .is_some()
            {}
            Ok(None)
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok(None)
        }
    }
    d.deserialize_any(ListVisitor)
}

/// A value's canonical hash, and at the top of a definition its `name`.
struct Hashed {
    hash: u64,
    name: Option<String>,
}

/// Hashes any JSON value canonically; at the top of a definition it also picks the name.
struct Canonical {
    /// A definition: the value of its `name` is kept.
    top: bool,
    /// The value of a definition's `name`: kept when it is a string.
    keep: bool,
}

impl Canonical {
    const DEFINITION: Self = Self {
        top: true,
        keep: false,
    };
    const NAME: Self = Self {
        top: false,
        keep: true,
    };
    const VALUE: Self = Self {
        top: false,
        keep: false,
    };
}

/// A fast 64-bit hasher for fingerprints. Every definition of every page is hashed, so
/// speed matters (SipHash was several times slower here), but the author of an upstream MCP
/// server writes the definitions, so a change must not be made to hash like the old version.
/// Each step multiplies the input by a value derived from a key drawn at random when the
/// process starts ([`Keys`]) and folds the 128-bit product (wyhash's construction): how a
/// difference in the input spreads depends on that secret, so it cannot be cancelled by a
/// second change worked out ahead. The multiply–rotate mix this replaces passed a flipped bit
/// through unchanged half the time, whatever its start, so two edited characters went unseen
/// in one listing of two (a unit test keeps the demonstration). Fast, not a cryptographic MAC.
struct Mix {
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
}

impl Keys {
    fn get() -> Self {
        static KEYS: OnceLock<Keys> = OnceLock::new();
        *KEYS.get_or_init(|| {
            let s = RandomState::new();
            Keys {
                start: s.hash_one(1u8),
                mul: s.hash_one(2u8) | 1,
            }
        })
    }
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

impl Hasher for Mix {
    fn write(&mut self, bytes: &[u8]) {
        // Long strings (tool descriptions, schemas) are most of a page: two independent lanes
        // of 16 bytes per step keep the multiplier busy instead of waiting on one chain.
        let mut blocks = bytes.chunks_exact(32);
        if bytes.len() >= 64 {
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
        }
        let rest = if bytes.len() >= 64 {
            blocks.remainder()
        } else {
            bytes
        };
        let mut chunks = rest.chunks_exact(8);
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

fn finish(tag: u8, parts: impl FnOnce(&mut Mix)) -> u64 {
    let mut h = Mix::default();
    tag.hash(&mut h);
    parts(&mut h);
    h.finish()
}

impl<'de> DeserializeSeed<'de> for Canonical {
    type Value = Hashed;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Hashed, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Canonical {
    type Value = Hashed;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Hashed, E> {
        Ok(plain(finish(0, |_| {})))
    }
    fn visit_none<E: de::Error>(self) -> Result<Hashed, E> {
        self.visit_unit()
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Hashed, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Hashed, E> {
        Ok(plain(finish(1, |h| v.hash(h))))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Hashed, E> {
        Ok(plain(number(v as f64)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Hashed, E> {
        Ok(plain(number(v as f64)))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Hashed, E> {
        Ok(plain(number(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Hashed, E> {
        Ok(Hashed {
            hash: finish(3, |h| v.hash(h)),
            name: self.keep.then(|| v.to_owned()),
        })
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Hashed, A::Error> {
        let mut h = Mix::default();
        4u8.hash(&mut h);
        let mut n = 0u64;
        while let Some(item) = seq.next_element_seed(Canonical::VALUE)? {
            item.hash.hash(&mut h);
            n += 1;
        }
        n.hash(&mut h);
        Ok(plain(h.finish()))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Hashed, A::Error> {
        // Entries are hashed one by one and summed, so their order does not matter.
        let (mut sum, mut n, mut name) = (0u64, 0u64, None);
        while let Some(key) = map.next_key_seed(Key)? {
            let value = if self.top && key.is_name {
                let v = map.next_value_seed(Canonical::NAME)?;
                name = v.name;
                v.hash
            } else {
                map.next_value_seed(Canonical::VALUE)?.hash
            };
            sum = sum.wrapping_add(finish(6, |h| {
                key.hash.hash(h);
                value.hash(h);
            }));
            n += 1;
        }
        Ok(Hashed {
            hash: finish(5, |h| {
                sum.hash(h);
                n.hash(h);
            }),
            name,
        })
    }
}

/// An object key, hashed without being kept.
struct Key;

/// A key's hash, and whether it is `name`.
struct KeyHash {
    hash: u64,
    is_name: bool,
}

impl<'de> DeserializeSeed<'de> for Key {
    type Value = KeyHash;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<KeyHash, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key {
    type Value = KeyHash;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<KeyHash, E> {
        Ok(KeyHash {
            hash: finish(3, |h| v.hash(h)),
            is_name: v == "name",
        })
    }
}

fn plain(hash: u64) -> Hashed {
    Hashed { hash, name: None }
}

/// Numbers by value: `1`, `1.0` and `1e0` are the same number.
fn number(v: f64) -> u64 {
    finish(2, |h| {
        if v == 0.0 {
            0u64.hash(h)
        } else {
            v.to_bits().hash(h)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::{word, Mix, K};
    use crate::cloudflare::capabilities::caps;
    use proptest::prelude::*;

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

    #[test]
    fn key_order_whitespace_and_list_order_do_not_matter() {
        let a = caps(
            r#"[{"name":"a","input_schema":{"type":"object","required":["x"]}},{"name":"b"}]"#,
        );
        let b = caps(
            r#"[ {"name":"b"}, {"input_schema":{ "required":["x"], "type":"object"}, "name":"a"} ]"#,
        );
        assert_eq!(a, b);
        assert!(a.diff(&b).is_empty());
    }

    #[test]
    fn arrays_inside_a_definition_keep_their_order() {
        assert_ne!(
            caps(r#"[{"name":"a","enum":[1,2]}]"#),
            caps(r#"[{"name":"a","enum":[2,1]}]"#)
        );
        assert_eq!(
            caps(r#"[{"name":"a","n":1}]"#),
            caps(r#"[{"name":"a","n":1.0}]"#)
        );
    }

    fn json_value() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i32>().prop_map(serde_json::Value::from),
            "[a-z]{0,6}".prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
                prop::collection::btree_map("[a-z]{1,4}", inner, 0..4)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// Writes `v` with every object's keys in reverse order.
    fn reversed(v: &serde_json::Value) -> String {
        match v {
            serde_json::Value::Object(m) => {
                let parts: Vec<String> = m
                    .iter()
                    .rev()
                    .map(|(k, v)| {
                        format!("{}:{}", serde_json::Value::from(k.as_str()), reversed(v))
                    })
                    .collect();
                format!("{{{}}}", parts.join(","))
            }
            serde_json::Value::Array(a) => {
                format!("[{}]", a.iter().map(reversed).collect::<Vec<_>>().join(","))
            }
            other => other.to_string(),
        }
    }

    proptest! {
        #[test]
        fn the_fingerprint_ignores_key_and_list_order_and_sees_a_changed_value(
            schemas in prop::collection::vec(json_value(), 1..5),
            pick in any::<prop::sample::Index>(),
        ) {
            let tools: Vec<serde_json::Value> = schemas
                .iter()
                .enumerate()
                .map(|(i, s)| serde_json::json!({"name": format!("t{i}"), "input_schema": s}))
                .collect();
            let forward = serde_json::Value::from(tools.clone()).to_string();
            let backward = format!(
                "[{}]",
                tools.iter().rev().map(reversed).collect::<Vec<_>>().join(",")
            );
            prop_assert_eq!(caps(&forward), caps(&backward));
            // Any changed value is seen, and only that definition is named.
            let i = pick.index(tools.len());
            let mut changed = tools.clone();
            changed[i]["input_schema"] = serde_json::json!({"changed": true, "was": schemas[i].clone()});
            let after = caps(&serde_json::Value::from(changed).to_string());
            prop_assert_eq!(after.diff(&caps(&forward)).changed, vec![format!("tool:t{i}")]);
        }

    }
}
