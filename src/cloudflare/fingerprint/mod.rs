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

use std::fmt;
use std::hash::{Hash, Hasher};

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use mix::Mix;

mod mix;

/// The definitions of one list (`tools` or `prompts`) as decoded: each one's name and hash.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Defs {
    /// `(name, hash of the canonical definition)`; the name is `None` when it has none.
    pub items: Vec<(Option<String>, u64)>,
    /// Per item, the rules for hidden instructions its strings break
    /// ([`inspect::rules_of`](super::inspect::rules_of), a bit per rule), found in the same
    /// pass.
    pub rules: Vec<u8>,
}

impl Defs {
    /// How many definitions.
    pub fn count(&self) -> u64 {
        self.items.len() as u64
    }

    /// One number for a server's tools and prompts, equal from one listing to the next
    /// exactly when their fingerprints are (with the certainty of the hashes), whatever
    /// their order: what decides whether a server's definitions get a second look.
    pub fn digest(tools: Option<&Defs>, prompts: Option<&Defs>) -> u64 {
        let mut h = Mix::default();
        for (tag, defs) in [(1u8, tools), (2u8, prompts)] {
            let items = defs.map(|d| d.items.as_slice()).unwrap_or_default();
            let sum = items.iter().fold(0u64, |a, (_, x)| a.wrapping_add(*x));
            (tag, defs.is_some(), items.len(), sum).hash(&mut h);
        }
        h.finish()
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
            let (mut items, mut rules) = (Vec::new(), Vec::new());
            while let Some(item) = seq.next_element_seed(Canonical::DEFINITION)? {
                items.push((item.name, item.hash));
                rules.push(item.rules);
            }
            Ok(Some(Defs { items, rules }))
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
    /// The rules its strings break.
    rules: u8,
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
            rules: super::inspect::rules_of(v),
        })
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Hashed, A::Error> {
        let mut h = Mix::default();
        4u8.hash(&mut h);
        let (mut n, mut rules) = (0u64, 0u8);
        while let Some(item) = seq.next_element_seed(Canonical::VALUE)? {
            item.hash.hash(&mut h);
            rules |= item.rules;
            n += 1;
        }
        n.hash(&mut h);
        Ok(Hashed {
            rules,
            ..plain(h.finish())
        })
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Hashed, A::Error> {
        // Entries are hashed one by one and summed, so their order does not matter.
        let (mut sum, mut n, mut name, mut rules) = (0u64, 0u64, None, 0u8);
        while let Some(key) = map.next_key_seed(Key)? {
            rules |= key.rules;
            let value = if self.top && key.is_name {
                let v = map.next_value_seed(Canonical::NAME)?;
                name = v.name;
                rules |= v.rules;
                v.hash
            } else {
                let v = map.next_value_seed(Canonical::VALUE)?;
                rules |= v.rules;
                v.hash
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
            rules,
        })
    }
}

/// An object key, hashed without being kept.
struct Key;

/// A key's hash, and whether it is `name`.
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
            hash: finish(3, |h| v.hash(h)),
            is_name: v == "name",
            rules: super::inspect::rules_of(v),
        })
    }
}

fn plain(hash: u64) -> Hashed {
    Hashed {
        hash,
        name: None,
        rules: 0,
    }
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
