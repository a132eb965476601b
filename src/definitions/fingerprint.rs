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
//! The hash function is SipHash-1-3 (`siphasher`), keyed with 128 bits drawn at random when
//! the process starts. Its claim, as its designers make it, is that of a pseudorandom
//! function: to whoever does not hold the key its outputs look random, so collisions can
//! only be found by chance (2^-64 a pair), not worked out. SipHash-1-3 is the reduced-round
//! variant Rust's standard library uses; the designers' full claim is for SipHash-2-4, and
//! no attack on 1-3 is known. Against it an MCP server's author, who writes what is hashed,
//! cannot make a changed definition hash like the old one, nor two definitions collide,
//! better than by chance, and learns nothing of the key (fingerprints are never exported,
//! and the key dies with the process). The author can still change a definition between two
//! listings, which the daemon then sees, or change it back before the next one, which it
//! does not. Values are fed as a prefix-free encoding (a tag, then the value; strings with
//! their length), and an object's entries are each hashed whole and summed. Fingerprints are
//! compared only within one process; pins, which must be stable across processes, use
//! SHA-256 of a canonical form ([`stable`](super::stable)). Why this hash and not a faster
//! one: `docs/performance.md`.

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

/// What each value writes into its parent's hasher first: the encoding is prefix-free, so
/// two different values never feed the same bytes.
#[derive(Clone, Copy)]
#[repr(u8)]
enum Tag {
    Null,
    False,
    True,
    Number,
    String,
    Array,
    End,
    Object,
    /// The first byte of a definition's own hasher.
    Definition,
    /// The first byte of an object entry's own hasher.
    Entry,
    Digest,
}

/// The hasher of one definition, one object entry or a digest.
pub(super) type Hash = SipHasher13;

/// A hasher keyed with the process's own key, drawn at random when it starts (std's
/// `RandomState` seeds from the operating system).
fn hasher(tag: Tag) -> Hash {
    static KEY: OnceLock<(u64, u64)> = OnceLock::new();
    let &(k0, k1) = KEY.get_or_init(|| {
        let s = RandomState::new();
        (s.hash_one(0u8), s.hash_one(1u8))
    });
    let mut h = SipHasher13::new_with_keys(k0, k1);
    h.write_u8(tag as u8);
    h
}

/// A fresh hasher for a definition (its value's tag comes first).
pub(super) fn start() -> Hash {
    hasher(Tag::Definition)
}

pub(super) fn null(h: &mut Hash) {
    h.write_u8(Tag::Null as u8);
}

pub(super) fn boolean(h: &mut Hash, v: bool) {
    h.write_u8(if v { Tag::True } else { Tag::False } as u8);
}

/// Numbers by value: `1`, `1.0` and `1e0` are the same number, and so are `0` and `-0`.
pub(super) fn number(h: &mut Hash, v: f64) {
    h.write_u8(Tag::Number as u8);
    h.write_u64(if v == 0.0 { 0 } else { v.to_bits() });
}

/// Writes a string, by its decoded text.
pub(super) fn string(h: &mut Hash, v: &str) {
    h.write_u8(Tag::String as u8);
    h.write_usize(v.len());
    h.write(v.as_bytes());
}

/// An array is its items in order between two tags.
pub(super) fn array_start(h: &mut Hash) {
    h.write_u8(Tag::Array as u8);
}

pub(super) fn array_end(h: &mut Hash) {
    h.write_u8(Tag::End as u8);
}

/// The hasher of one object entry, its key written; its value is written after.
pub(super) fn entry(key: &str) -> Hash {
    let mut h = hasher(Tag::Entry);
    h.write_usize(key.len());
    h.write(key.as_bytes());
    h
}

/// Writes an object from the sum of its entries' hashes (their order does not matter)
/// and their number.
pub(super) fn object(h: &mut Hash, sum: u64, n: u64) {
    h.write_u8(Tag::Object as u8);
    h.write_u64(sum);
    h.write_u64(n);
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
        loop {
            let (mut h, mut found, mut name) = (start(), 0u8, None);
            let seed = Canonical {
                h: &mut h,
                rules: &mut found,
                name: Some(&mut name),
                top: true,
            };
            if seq.next_element_seed(seed)?.is_none() {
                break;
            }
            items.push((name, h.finish()));
            rules.push(found);
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

/// Writes any JSON value canonically into its parent's hasher, and the rules its strings
/// break into `rules`; at the top of a definition it also picks the name.
struct Canonical<'a> {
    h: &'a mut Hash,
    rules: &'a mut u8,
    /// Where the definition's `name` goes: this value's text when it is that name, or at
    /// the top, the name its entries give.
    name: Option<&'a mut Option<String>>,
    /// A definition: its `name` entry is kept in `name`.
    top: bool,
}

impl<'de> DeserializeSeed<'de> for Canonical<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Canonical<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        null(self.h);
        Ok(())
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.visit_unit()
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        boolean(self.h, v);
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        number(self.h, v as f64);
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        number(self.h, v as f64);
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        number(self.h, v);
        Ok(())
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        string(self.h, v);
        *self.rules |= rules_of(v);
        match self.name {
            Some(name) if !self.top => *name = Some(v.to_owned()),
            _ => {}
        }
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        array_start(self.h);
        while seq
            .next_element_seed(Canonical {
                h: &mut *self.h,
                rules: &mut *self.rules,
                name: None,
                top: false,
            })?
            .is_some()
        {}
        array_end(self.h);
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let (mut sum, mut n) = (0u64, 0u64);
        let mut name = None;
        let top = self.top;
        while let Some((mut h, is_name)) = map.next_key_seed(Key(top, &mut *self.rules))? {
            if is_name {
                // Of a repeated `name`, the last counts (a non-string one is none).
                name = None;
            }
            map.next_value_seed(Canonical {
                h: &mut h,
                rules: &mut *self.rules,
                name: is_name.then_some(&mut name),
                top: false,
            })?;
            sum = sum.wrapping_add(h.finish());
            n += 1;
        }
        object(self.h, sum, n);
        match self.name {
            Some(slot) if top => *slot = name,
            _ => {}
        }
        Ok(())
    }
}

/// An object key: its entry's hasher, and whether it is a definition's `name` (at the top).
struct Key<'a>(bool, &'a mut u8);

impl<'de> DeserializeSeed<'de> for Key<'_> {
    type Value = (Hash, bool);
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key<'_> {
    type Value = (Hash, bool);
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        *self.1 |= rules_of(v);
        Ok((entry(v), self.0 && v == "name"))
    }
}

#[cfg(test)]
#[path = "../../tests/unit/definitions/fingerprint.rs"]
mod tests;
