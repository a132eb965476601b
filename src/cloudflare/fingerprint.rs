//! Fingerprints of a server's tool and prompt definitions, so that a change between two
//! listings (a tool added, removed, or its description or input schema changed: what a
//! "rug pull" relies on) is seen without keeping the definitions.
//!
//! Each definition is hashed while it is decoded, from its canonical form: object keys in
//! any order and any whitespace give the same hash; arrays inside a definition keep their
//! order (a JSON schema's `enum` or `required` list is data). Definitions are keyed by their
//! `name`; the order of the list does not matter. What is kept per server is one hash pair
//! per definition and its names, joined in one string. A 64-bit hash can collide, so a
//! fingerprint says "changed" with certainty and "unchanged" with overwhelming probability;
//! it cannot say what changed inside a definition, only which one.

use std::fmt::{self, Write as _};
use std::hash::{Hash, Hasher};

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
            while let Some(item) = seq.next_element_seed(Canonical { top: true })? {
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
    top: bool,
}

/// A fast 64-bit hasher for fingerprints: eight bytes at a time, multiply and rotate, with
/// a final avalanche (MurmurHash3's). Fingerprints only tell one version of a definition from
/// the next; every definition of every page is hashed, so speed matters and a keyed hash
/// (SipHash, several times slower here) buys nothing: its key would be fixed anyway.
#[derive(Default)]
struct Mix(u64);

const K: u64 = 0x9e37_79b9_7f4a_7c15;

impl Hasher for Mix {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.write_u64(u64::from_le_bytes(w));
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
        self.0 = (self.0 ^ v).wrapping_mul(K).rotate_left(29);
    }

    fn write_usize(&mut self, v: usize) {
        self.write_u64(v as u64);
    }

    fn finish(&self) -> u64 {
        let mut h = self.0 ^ K;
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
        Ok(plain(finish(3, |h| v.hash(h))))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Hashed, A::Error> {
        let mut h = Mix::default();
        4u8.hash(&mut h);
        let mut n = 0u64;
        while let Some(item) = seq.next_element_seed(Canonical { top: false })? {
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
                let v = map.next_value_seed(Name)?;
                name = v.name;
                v.hash
            } else {
                map.next_value_seed(Canonical { top: false })?.hash
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

/// A definition's `name`: hashed as any value is, and kept when it is a string.
struct Name;

impl<'de> DeserializeSeed<'de> for Name {
    type Value = Hashed;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Hashed, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Name {
    type Value = Hashed;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a name")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Hashed, E> {
        Ok(Hashed {
            hash: Canonical { top: false }.visit_str::<E>(v)?.hash,
            name: Some(v.to_owned()),
        })
    }
    fn visit_unit<E: de::Error>(self) -> Result<Hashed, E> {
        Canonical { top: false }.visit_unit()
    }
    fn visit_none<E: de::Error>(self) -> Result<Hashed, E> {
        Canonical { top: false }.visit_none()
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Hashed, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Hashed, E> {
        Canonical { top: false }.visit_bool(v)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Hashed, E> {
        Canonical { top: false }.visit_i64(v)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Hashed, E> {
        Canonical { top: false }.visit_u64(v)
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Hashed, E> {
        Canonical { top: false }.visit_f64(v)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Hashed, A::Error> {
        Canonical { top: false }.visit_seq(seq)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Hashed, A::Error> {
        Canonical { top: false }.visit_map(map)
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

/// What is kept of a server's definitions between listings, in one allocation: the number
/// of definitions (4 bytes), the hash of each (8 bytes, in the order of their names), then
/// their names (`tool:x`, `prompt:y`) sorted and joined, for the log line of a change. A
/// definition without a name is named by its hash; of two with the same name the first
/// counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capabilities {
    data: Box<[u8]>,
}

/// The definitions that differ between two fingerprints, by name (`tool:x`, `prompt:y`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Change {
    /// New definitions.
    pub added: Vec<String>,
    /// Definitions that are gone.
    pub removed: Vec<String>,
    /// Definitions whose content changed.
    pub changed: Vec<String>,
}

impl Change {
    /// Whether anything changed.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

const SEP: char = '\u{1f}';

impl Capabilities {
    /// The fingerprint of a server's tools and prompts (either may be unknown).
    pub fn new(tools: Option<&Defs>, prompts: Option<&Defs>) -> Self {
        // Every name in one buffer, each definition a range of it and its hash.
        let mut text = String::new();
        let mut items: Vec<(usize, usize, u64)> = Vec::new();
        for (kind, defs) in [("tool", tools), ("prompt", prompts)] {
            for (name, hash) in defs.map(|d| d.items.as_slice()).unwrap_or_default() {
                let start = text.len();
                text.push_str(kind);
                text.push(':');
                match name {
                    Some(n) => text.extend(n.chars().map(|c| if c == SEP { ' ' } else { c })),
                    None => {
                        let _ = write!(text, "#{hash:016x}");
                    }
                }
                items.push((start, text.len(), *hash));
            }
        }
        let label = |&(a, b, _): &(usize, usize, u64)| &text[a..b];
        items.sort_by(|x, y| label(x).cmp(label(y)));
        items.dedup_by(|b, a| label(a) == label(b));
        let items = &items[..items.len().min(u32::MAX as usize)];
        let labels = || {
            let mut prev = "";
            items.iter().map(move |item| {
                let l = label(item);
                let mut shared = l
                    .bytes()
                    .zip(prev.bytes())
                    .take_while(|(a, b)| a == b)
                    .count();
                shared = shared.min(u8::MAX as usize);
                while !l.is_char_boundary(shared) {
                    shared -= 1;
                }
                prev = l;
                (shared, &l.as_bytes()[shared..])
            })
        };
        let names: usize = labels().map(|(_, rest)| rest.len() + 2).sum();
        let mut data = Vec::with_capacity(4 + 8 * items.len() + names);
        data.extend_from_slice(&(items.len() as u32).to_le_bytes());
        for (_, _, hash) in items {
            data.extend_from_slice(&hash.to_le_bytes());
        }
        for (shared, rest) in labels() {
            data.push(shared as u8);
            data.extend_from_slice(rest);
            data.push(SEP as u8);
        }
        Self {
            data: data.into_boxed_slice(),
        }
    }

    /// What changed from `before` to `self`.
    pub fn diff(&self, before: &Capabilities) -> Change {
        let mut c = Change::default();
        if self.data == before.data {
            return c;
        }
        let (mut old, mut now) = (Cursor::new(before), Cursor::new(self));
        loop {
            let (left, right) = match (old.current(), now.current()) {
                (Some(x), Some(y)) if x.0 == y.0 => {
                    if x.1 != y.1 {
                        c.changed.push(y.0.to_owned());
                    }
                    (true, true)
                }
                (Some(x), Some(y)) if x.0 < y.0 => {
                    c.removed.push(x.0.to_owned());
                    (true, false)
                }
                (Some(x), None) => {
                    c.removed.push(x.0.to_owned());
                    (true, false)
                }
                (_, Some(y)) => {
                    c.added.push(y.0.to_owned());
                    (false, true)
                }
                (None, None) => return c,
            };
            if left {
                old.advance();
            }
            if right {
                now.advance();
            }
        }
    }
}

/// Reads a fingerprint's definitions in name order. The names are front-coded (each is the
/// number of bytes it shares with the one before, at most 255, then the rest, then
/// [`SEP`]): sorted names share long prefixes, `tool:` at least.
struct Cursor<'a> {
    hashes: &'a [u8],
    names: &'a [u8],
    name: Vec<u8>,
    hash: Option<u64>,
}

impl<'a> Cursor<'a> {
    fn new(c: &'a Capabilities) -> Self {
        let n = c
            .data
            .first_chunk::<4>()
            .map_or(0, |b| u32::from_le_bytes(*b) as usize);
        let mut cursor = Self {
            hashes: c.data.get(4..4 + 8 * n).unwrap_or_default(),
            names: c.data.get(4 + 8 * n..).unwrap_or_default(),
            name: Vec::new(),
            hash: None,
        };
        cursor.advance();
        cursor
    }

    fn advance(&mut self) {
        let (Some((hash, hashes)), Some((&shared, names))) = (
            self.hashes.split_first_chunk::<8>(),
            self.names.split_first(),
        ) else {
            self.hash = None;
            return;
        };
        let end = names
            .iter()
            .position(|&b| b == SEP as u8)
            .unwrap_or(names.len());
        self.name.truncate(usize::from(shared));
        self.name.extend_from_slice(&names[..end]);
        self.names = names.get(end + 1..).unwrap_or_default();
        self.hashes = hashes;
        self.hash = Some(u64::from_le_bytes(*hash));
    }

    /// The definition at the cursor: its name and hash.
    fn current(&self) -> Option<(&str, u64)> {
        let hash = self.hash?;
        Some((std::str::from_utf8(&self.name).unwrap_or("?"), hash))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn caps(tools: &str) -> Capabilities {
        let mut de = serde_json::Deserializer::from_str(tools);
        let d = defs(&mut de).expect("decodes");
        Capabilities::new(d.as_ref(), None)
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
    fn a_changed_schema_an_added_and_a_removed_tool_are_named() {
        let before = caps(r#"[{"name":"a","description":"x"},{"name":"gone"}]"#);
        let after = caps(r#"[{"name":"a","description":"y"},{"name":"new"}]"#);
        assert_eq!(
            after.diff(&before),
            Change {
                added: vec!["tool:new".into()],
                removed: vec!["tool:gone".into()],
                changed: vec!["tool:a".into()],
            }
        );
    }

    #[test]
    fn tools_and_prompts_are_apart_a_repeated_name_counts_once_and_unnamed_ones_by_content() {
        let defs = |json: &str| {
            let mut de = serde_json::Deserializer::from_str(json);
            defs(&mut de).expect("decodes")
        };
        let tools = defs(r#"[{"name":"a","v":1},{"name":"a","v":2},{"v":3},{"name":"z\u001fy"}]"#);
        let prompts = defs(r#"[{"name":"a"}]"#);
        let before = Capabilities::new(tools.as_ref(), prompts.as_ref());
        let mut cursor = Cursor::new(&before);
        let mut names = Vec::new();
        while let Some((name, _)) = cursor.current() {
            names.push(name.to_owned());
            cursor.advance();
        }
        assert_eq!(names.len(), 4);
        assert_eq!(names[0], "prompt:a");
        assert!(names[1].starts_with("tool:#"), "{names:?}");
        assert_eq!(names[2..], ["tool:a", "tool:z y"]);
        let tools = defs(r#"[{"name":"a","v":1},{"v":4},{"name":"z\u001fy"}]"#);
        let after = Capabilities::new(tools.as_ref(), None);
        let change = after.diff(&before);
        assert_eq!(
            change.changed,
            Vec::<String>::new(),
            "the first `a` is the one kept"
        );
        assert_eq!(change.removed.len(), 2, "{change:?}");
        assert_eq!(change.removed[0], "prompt:a");
        assert_eq!(change.added.len(), 1, "{change:?}");
        assert!(change.added[0].starts_with("tool:#"));
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

        #[test]
        fn front_coded_names_diff_as_the_sets_of_names_do(
            a in prop::collection::btree_map("(x{0,300}|é{0,3})[a-cé]{0,3}", 0..3u64, 0..12),
            b in prop::collection::btree_map("(x{0,300}|é{0,3})[a-cé]{0,3}", 0..3u64, 0..12),
        ) {
            let fp = |m: &std::collections::BTreeMap<String, u64>| {
                let defs = Defs { items: m.iter().map(|(n, h)| (Some(n.clone()), *h)).collect() };
                Capabilities::new(Some(&defs), None)
            };
            let names = |keep: &dyn Fn(&String) -> bool, m: &std::collections::BTreeMap<String, u64>| {
                m.keys().filter(|k| keep(k)).map(|k| format!("tool:{k}")).collect::<Vec<_>>()
            };
            let change = fp(&b).diff(&fp(&a));
            prop_assert_eq!(change.added, names(&|k| !a.contains_key(k), &b));
            prop_assert_eq!(change.removed, names(&|k| !b.contains_key(k), &a));
            prop_assert_eq!(change.changed, names(&|k| a.get(k).is_some_and(|h| b[k] != *h), &b));
        }
    }
}
