//! Fingerprints of a server's tool and prompt definitions, so that a change between two
//! listings (a tool added, removed, or its description or input schema changed: what a
//! "rug pull" relies on) is seen without keeping the definitions.
//!
//! Each definition is written, while it is decoded, in a canonical form (version
//! [`CANONICAL_VERSION`]): object keys sorted, whitespace gone, numbers by value (`1`, `1.0`
//! and `1e0` are one number), strings and lists length-prefixed so no two values write the
//! same bytes; arrays keep their order (a JSON schema's `enum` or `required` list is data).
//! The canonical bytes are hashed with BLAKE3 and its first 128 bits kept: unkeyed, so the
//! same definition has the same fingerprint across restarts and machines (pins can be
//! committed), and collision-resistant, which is what stops the author of an upstream server
//! (who writes what is hashed) from making a changed definition hash like the approved one:
//! a pair that collides in 128 bits costs about 2^64 BLAKE3 evaluations. Definitions are keyed
//! by their `name`; the order of the list does not matter.

use std::cell::RefCell;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// The version of the canonical form, stated with any fingerprint that leaves the process.
pub const CANONICAL_VERSION: u32 = 1;

/// A definition's fingerprint: the first 128 bits of BLAKE3 over its canonical form.
pub type Fingerprint = u128;

/// The definitions of one list (`tools` or `prompts`) as decoded: each one's name and
/// fingerprint.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Defs {
    /// `(name, fingerprint)`; the name is `None` when it has none.
    pub items: Vec<(Option<String>, Fingerprint)>,
}

impl Defs {
    /// How many definitions.
    pub fn count(&self) -> u64 {
        self.items.len() as u64
    }
}

/// The fingerprint of canonical bytes: BLAKE3's first 16 bytes, in order (so `{:032x}` writes
/// them as BLAKE3's hex does).
pub fn fingerprint(canonical: &[u8]) -> Fingerprint {
    let h = blake3::hash(canonical);
    let mut first = [0u8; 16];
    first.copy_from_slice(&h.as_bytes()[..16]);
    u128::from_be_bytes(first)
}

thread_local! {
    /// The buffer a definition's canonical form is written into, reused from one to the next.
    static CANONICAL: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Decodes a list of definitions into their names and fingerprints; `null` or a non-list
/// is unknown.
pub fn defs<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Defs>, D::Error> {
    struct ListVisitor;
    impl<'de> Visitor<'de> for ListVisitor {
        type Value = Option<Defs>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a list of definitions")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut items = Vec::new();
            CANONICAL.with(|buf| {
                let mut buf = buf.borrow_mut();
                loop {
                    buf.clear();
                    let seed = Canonical {
                        out: &mut buf,
                        top: true,
                        keep: false,
                    };
                    match seq.next_element_seed(seed)? {
                        Some(name) => items.push((name, fingerprint(&buf))),
                        None => break,
                    }
                }
                if buf.capacity() > 1 << 20 {
                    *buf = Vec::new();
                }
                Ok(Some(Defs { items }))
            })
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

/// Writes any JSON value's canonical form into `out`; at the top of a definition it also
/// returns the value of its `name`, and for that value (`keep`) the string itself.
struct Canonical<'a> {
    out: &'a mut Vec<u8>,
    /// A definition: the value of its `name` is returned.
    top: bool,
    /// The value of a definition's `name`: returned when it is a string.
    keep: bool,
}

fn len(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&(n as u64).to_le_bytes());
}

fn string(out: &mut Vec<u8>, v: &str) {
    out.push(b's');
    len(out, v.len());
    out.extend_from_slice(v.as_bytes());
}

/// Numbers by value: `1`, `1.0` and `1e0` are the same number.
fn number(out: &mut Vec<u8>, v: f64) {
    out.push(b'd');
    let v = if v == 0.0 { 0.0 } else { v };
    out.extend_from_slice(&v.to_bits().to_le_bytes());
}

/// An object key, written in canonical form; says whether it is `name`.
struct Key<'a> {
    out: &'a mut Vec<u8>,
}

impl<'de> DeserializeSeed<'de> for Key<'_> {
    type Value = bool;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key<'_> {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
        string(self.out, v);
        Ok(v == "name")
    }
}

impl<'de> DeserializeSeed<'de> for Canonical<'_> {
    type Value = Option<String>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<String>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Canonical<'_> {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Option<String>, E> {
        self.out.push(b'n');
        Ok(None)
    }
    fn visit_none<E: de::Error>(self) -> Result<Option<String>, E> {
        self.visit_unit()
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Option<String>, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Option<String>, E> {
        self.out.push(if v { b't' } else { b'f' });
        Ok(None)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Option<String>, E> {
        number(self.out, v as f64);
        Ok(None)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Option<String>, E> {
        number(self.out, v as f64);
        Ok(None)
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Option<String>, E> {
        number(self.out, v);
        Ok(None)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Option<String>, E> {
        string(self.out, v);
        Ok(self.keep.then(|| v.to_owned()))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Option<String>, A::Error> {
        self.out.push(b'[');
        let count_at = self.out.len();
        len(self.out, 0);
        let mut n = 0usize;
        loop {
            let seed = Canonical {
                out: &mut *self.out,
                top: false,
                keep: false,
            };
            if seq.next_element_seed(seed)?.is_none() {
                break;
            }
            n += 1;
        }
        self.out[count_at..count_at + 8].copy_from_slice(&(n as u64).to_le_bytes());
        Ok(None)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<String>, A::Error> {
        // Entries are written one after another, then put in the order of their keys'
        // canonical bytes (then of their values', for a repeated key).
        let start = self.out.len();
        let mut entries: Vec<(usize, usize, usize)> = Vec::new();
        let mut name = None;
        loop {
            let at = self.out.len();
            let Some(key_is_name) = map.next_key_seed(Key {
                out: &mut *self.out,
            })?
            else {
                break;
            };
            let value_at = self.out.len();
            let is_name = self.top && key_is_name;
            let seed = Canonical {
                out: &mut *self.out,
                top: false,
                keep: is_name,
            };
            let v = map.next_value_seed(seed)?;
            if is_name {
                name = v;
            }
            entries.push((at, value_at, self.out.len()));
        }
        let region = self.out.split_off(start);
        let rel = |(a, b, c): (usize, usize, usize)| (a - start, b - start, c - start);
        let mut entries: Vec<(usize, usize, usize)> = entries.into_iter().map(rel).collect();
        entries.sort_unstable_by(|x, y| {
            (&region[x.0..x.1], &region[x.1..x.2]).cmp(&(&region[y.0..y.1], &region[y.1..y.2]))
        });
        self.out.push(b'{');
        len(self.out, entries.len());
        for (a, _, c) in entries {
            self.out.extend_from_slice(&region[a..c]);
        }
        Ok(name)
    }
}

#[cfg(test)]
mod tests {
    use crate::cloudflare::capabilities::caps;
    use proptest::prelude::*;

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

    #[test]
    fn an_edit_of_two_characters_is_seen() {
        let before = caps(r#"[{"name":"q","description":"Runs a read-only query."}]"#);
        let after = caps(r#"[{"name":"q","description":"Runs a reaX-onYy query."}]"#);
        assert_eq!(after.diff(&before).changed, ["tool:q"]);
    }

    #[test]
    fn fingerprints_are_stable_across_processes() {
        // The canonical form of {"name":"a","n":1} and its BLAKE3, fixed: pins written by
        // one process are read by another.
        let mut canon = Vec::new();
        canon.push(b'{');
        canon.extend_from_slice(&2u64.to_le_bytes());
        for (k, v) in [("n", None), ("name", Some("a"))] {
            canon.push(b's');
            canon.extend_from_slice(&(k.len() as u64).to_le_bytes());
            canon.extend_from_slice(k.as_bytes());
            match v {
                Some(s) => {
                    canon.push(b's');
                    canon.extend_from_slice(&(s.len() as u64).to_le_bytes());
                    canon.extend_from_slice(s.as_bytes());
                }
                None => {
                    canon.push(b'd');
                    canon.extend_from_slice(&1.0f64.to_bits().to_le_bytes());
                }
            }
        }
        let mut de = serde_json::Deserializer::from_str(r#"[{"n": 1.0, "name": "a"}]"#);
        let d = super::defs(&mut de).expect("decodes").expect("a list");
        assert_eq!(
            d.items,
            [(Some("a".to_owned()), super::fingerprint(&canon))]
        );
        assert_eq!(
            format!("{:032x}", super::fingerprint(b"")),
            "af1349b9f5f9a1a6a0404dea36dcc949",
            "BLAKE3 of nothing: its first 16 bytes, in order"
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
