//! The fast fingerprint of each tool and prompt definition, taken for every definition of
//! every page while serde_json decodes it, so that a change between two listings (a tool
//! added, removed, or its description or schema changed: what a "rug pull" relies on) is
//! seen without keeping the definitions.
//!
//! The hash is canonical: strings by their decoded text, numbers by value (`1`, `1.0` and
//! `1e0` alike), an object's entries hashed one by one and summed, so neither key order nor
//! whitespace matters (Cloudflare or an upstream server re-serialising the same schema is not
//! a change); arrays keep their order (a schema's `enum` or `required` list is data).
//! Definitions are keyed by `name`; the order of the list does not matter.
//!
//! The hash function is SipHash-1-3 (`siphasher`) with a key drawn at random when the
//! process starts. SipHash is a keyed pseudorandom function: without the key, which never
//! leaves the process, an MCP server's author cannot work out a changed definition that
//! hashes like the old one, nor two that collide, better than by chance (2^-64 per pair).
//! The author can still change a definition between two listings the daemon never sees, and
//! can read nothing of the key from what the daemon exports (fingerprints are not exported).
//! It is not a commitment across processes: pins use SHA-256 of a canonical form
//! ([`stable`](super::stable)). The candidates measured are in `docs/performance.md`.

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::sync::OnceLock;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use siphasher::sip::SipHasher13;

use super::rules::{rules_of, Rule, Suspicious};
use super::table::{Capabilities, Labels, SEP};

/// The definitions of one list (`tools` or `prompts`) as decoded: each one's name and hash.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Defs {
    /// `(name, hash of the canonical definition)`; the name is `None` when it has none.
    pub items: Vec<(Option<String>, u64)>,
    /// Per item, the rules for hidden instructions its strings break (a bit per
    /// [`Rule::index`]), found in the same pass.
    pub rules: Vec<u8>,
}

impl Defs {
    /// How many definitions.
    pub fn count(&self) -> u64 {
        self.items.len() as u64
    }
}

/// One number for a server's tools and prompts, equal from one listing to the next exactly
/// when their fingerprints are (with the certainty of the hash), whatever their order: what
/// decides whether a server's definitions get a second look.
pub fn digest(tools: Option<&Defs>, prompts: Option<&Defs>) -> u64 {
    let mut h = hasher(Tag::Digest);
    for (tag, defs) in [(1u8, tools), (2u8, prompts)] {
        let items = defs.map(|d| d.items.as_slice()).unwrap_or_default();
        let sum = items.iter().fold(0u64, |a, (_, x)| a.wrapping_add(*x));
        h.write_u8(tag);
        h.write_u8(u8::from(defs.is_some()));
        h.write_usize(items.len());
        h.write_u64(sum);
    }
    h.finish()
}

impl Capabilities {
    /// The fingerprint of a server's tools and prompts (either may be unknown).
    pub fn new(tools: Option<&Defs>, prompts: Option<&Defs>) -> Self {
        let mut labels = Labels::default();
        for (kind, defs) in [("tool", tools), ("prompt", prompts)] {
            for (name, hash) in defs.map(|d| d.items.as_slice()).unwrap_or_default() {
                labels.push(kind, name.as_deref(), hash.to_le_bytes());
            }
        }
        labels.table()
    }
}

/// What the rules found in a server's definitions, from the fast pass: a flagged definition
/// is named as the change detection names it.
pub fn suspicious_of(tools: Option<&Defs>, prompts: Option<&Defs>) -> Suspicious {
    let mut flagged = Vec::new();
    for (kind, defs) in [("tool", tools), ("prompt", prompts)] {
        let Some(d) = defs else { continue };
        for ((name, hash), bits) in d.items.iter().zip(&d.rules) {
            if *bits == 0 {
                continue;
            }
            let label = match name {
                Some(n) => format!("{kind}:{n}").replace(SEP, " "),
                None => format!("{kind}:#{hash:016x}"),
            };
            for r in Rule::ALL {
                if bits & (1 << r.index()) != 0 {
                    flagged.push((r, label.clone()));
                }
            }
        }
    }
    Suspicious::from_flagged(flagged)
}

/// The domain of each hashed value, its first input byte.
#[derive(Clone, Copy)]
#[repr(u8)]
enum Tag {
    Null,
    Bool,
    Number,
    String,
    Array,
    Entry,
    Object,
    Digest,
}

/// A keyed hasher in the domain `tag`; the key is the process's own.
fn hasher(tag: Tag) -> SipHasher13 {
    static KEY: OnceLock<(u64, u64)> = OnceLock::new();
    let &(k0, k1) = KEY.get_or_init(|| {
        let s = RandomState::new();
        (s.hash_one(0u8), s.hash_one(1u8))
    });
    let mut h = SipHasher13::new_with_keys(k0, k1);
    h.write_u8(tag as u8);
    h
}

fn words(tag: Tag, a: u64, b: u64) -> u64 {
    let mut h = hasher(tag);
    h.write_u64(a);
    h.write_u64(b);
    h.finish()
}

/// A string's hash, from its decoded text.
pub(super) fn string(v: &str) -> u64 {
    let mut h = hasher(Tag::String);
    h.write_usize(v.len());
    h.write(v.as_bytes());
    h.finish()
}

pub(super) fn null() -> u64 {
    words(Tag::Null, 0, 0)
}

pub(super) fn boolean(v: bool) -> u64 {
    words(Tag::Bool, u64::from(v), 0)
}

/// Numbers by value: `1`, `1.0` and `1e0` are the same number, and so are `0` and `-0`.
pub(super) fn number(v: f64) -> u64 {
    words(Tag::Number, if v == 0.0 { 0 } else { v.to_bits() }, 0)
}

/// An array's hash from its items' in order (what the visitor streams).
#[cfg(test)]
pub(super) fn array(items: impl IntoIterator<Item = u64>) -> u64 {
    let mut h = hasher(Tag::Array);
    let mut n = 0u64;
    for x in items {
        h.write_u64(x);
        n += 1;
    }
    h.write_u64(n);
    h.finish()
}

/// One object entry's share of its object's hash.
pub(super) fn entry(key: u64, value: u64) -> u64 {
    words(Tag::Entry, key, value)
}

/// An object's hash from the sum of its entries' (their order does not matter) and their
/// number.
pub(super) fn object(sum: u64, n: u64) -> u64 {
    words(Tag::Object, sum, n)
}

/// Decodes a list of definitions into their names and hashes; `null` or a non-list is
/// unknown.
pub fn defs<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Defs>, D::Error> {
    d.deserialize_any(ListVisitor)
}

struct ListVisitor;

impl<'de> Visitor<'de> for ListVisitor {
    type Value = Option<Defs>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of definitions")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let (mut items, mut rules) = (Vec::new(), Vec::new());
        while let Some(item) = seq.next_element_seed(Canonical::DEFINITION)? {
            items.push((item.name, item.hash));
            rules.push(item.rules);
        }
        Ok(Some(Defs { items, rules }))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map
            .next_entry::<de::IgnoredAny, de::IgnoredAny>()?
            .is_some()
        {}
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
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

/// Hashes any JSON value canonically; at the top of a definition it also picks the name.
#[derive(Clone, Copy)]
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
    const VALUE: Self = Self {
        top: false,
        keep: false,
    };
}

/// A value's canonical hash, the rules its strings break, and at the top of a definition
/// its `name`.
struct Hashed {
    hash: u64,
    name: Option<String>,
    rules: u8,
}

fn plain(hash: u64) -> Hashed {
    Hashed {
        hash,
        name: None,
        rules: 0,
    }
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
        Ok(plain(null()))
    }
    fn visit_none<E: de::Error>(self) -> Result<Hashed, E> {
        self.visit_unit()
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Hashed, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Hashed, E> {
        Ok(plain(boolean(v)))
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
            hash: string(v),
            name: self.keep.then(|| v.to_owned()),
            rules: rules_of(v),
        })
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Hashed, A::Error> {
        let (mut h, mut n, mut rules) = (hasher(Tag::Array), 0u64, 0u8);
        while let Some(item) = seq.next_element_seed(Canonical::VALUE)? {
            h.write_u64(item.hash);
            rules |= item.rules;
            n += 1;
        }
        h.write_u64(n);
        Ok(Hashed {
            rules,
            ..plain(h.finish())
        })
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Hashed, A::Error> {
        let (mut sum, mut n, mut name, mut rules) = (0u64, 0u64, None, 0u8);
        while let Some(key) = map.next_key_seed(Key)? {
            let is_name = self.top && key.is_name;
            let value = map.next_value_seed(Canonical {
                top: false,
                keep: is_name,
            })?;
            if is_name {
                name = value.name;
            }
            rules |= key.rules | value.rules;
            sum = sum.wrapping_add(entry(key.hash, value.hash));
            n += 1;
        }
        Ok(Hashed {
            hash: object(sum, n),
            name,
            rules,
        })
    }
}

/// An object key, hashed without being kept.
struct Key;

/// A key's hash, whether it is `name`, and the rules it breaks.
struct KeyHash {
    hash: u64,
    is_name: bool,
    rules: u8,
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
            hash: string(v),
            is_name: v == "name",
            rules: rules_of(v),
        })
    }
}

#[cfg(test)]
mod tests;
