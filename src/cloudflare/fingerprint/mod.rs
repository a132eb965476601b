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

use std::hash::{Hash, Hasher};

use serde::de::{self, Deserializer};
use serde::Deserialize;
use serde_json::value::RawValue;

use mix::Mix;

mod mix;
#[cfg(test)]
mod reference;
mod scan;
mod server;
pub(super) use scan::quote_or_backslash;
pub(super) use server::{split_server, Read, Server as ServerRead, Split};

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
/// unknown. The list's bytes are taken whole (serde_json checks their syntax and UTF-8 while
/// skipping them) and hashed by [`scan`] in one pass.
pub fn defs<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Defs>, D::Error> {
    match <Option<&'de RawValue>>::deserialize(d)? {
        None => Ok(None),
        Some(raw) => scan::list(raw.get()).map_err(de::Error::custom),
    }
}

/// A string's hash, from its decoded text.
fn string(v: &[u8]) -> u64 {
    mix::text(v)
}

fn boolean(v: bool) -> u64 {
    mix::pair(mix::BOOL, u64::from(v), 0)
}

fn null() -> u64 {
    mix::pair(mix::NULL, 0, 0)
}

/// One object entry's share of its object's hash (entries are summed: their order does not
/// matter).
fn entry(key: u64, value: u64) -> u64 {
    mix::pair(mix::ENTRY, key, value)
}

/// An object's hash from the sum of its entries' and their number.
fn object(sum: u64, n: u64) -> u64 {
    mix::pair(mix::OBJECT, sum, n)
}

/// Numbers by value: `1`, `1.0` and `1e0` are the same number.
fn number(v: f64) -> u64 {
    let bits = if v == 0.0 { 0 } else { v.to_bits() };
    mix::pair(mix::NUMBER, bits, 0)
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

    /// Values of different kinds, and strings that differ only in their length, never
    /// hash alike by construction (a domain mixed linearly into an input word once made
    /// `true` hash as `null`).
    #[test]
    fn values_of_every_kind_hash_apart() {
        let values = [
            "null",
            "true",
            "false",
            "0",
            "1",
            "-1",
            "0.5",
            "1e300",
            "-4.9e-318",
            r#""""#,
            r#""a""#,
            r#""ab""#,
            r#""\u0000""#,
            r#""abcd""#,
            r#""abcde""#,
            r#""bcde""#,
            r#""abcdefghijklmnop""#,
            r#""abcdefghijklmnopq""#,
            "[]",
            "[null]",
            "[[]]",
            "{}",
            r#"{"a":null}"#,
            r#"{"a":[]}"#,
            r#"[{}]"#,
        ];
        let mut seen = std::collections::HashMap::new();
        for v in values {
            let list = format!(r#"[{{"name":"t","v":{v}}}]"#);
            let defs = super::defs(&mut serde_json::Deserializer::from_str(&list))
                .expect("decodes")
                .expect("a list");
            if let Some(other) = seen.insert(defs.items[0].1, v) {
                panic!("{v} hashes as {other}");
            }
        }
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

    /// Writes `v` as JSON with the spelling `style` picks: whitespace, strings with every
    /// character escaped or none, numbers as integers or with a fraction or an exponent.
    fn spelled(v: &serde_json::Value, style: u64, out: &mut String) {
        use serde_json::Value;
        let ws = if style & 1 == 1 { " \n\t" } else { "" };
        match v {
            Value::Object(m) => {
                out.push('{');
                for (i, (k, v)) in m.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(ws);
                    spelled(&Value::from(k.as_str()), style.rotate_right(1), out);
                    out.push_str(ws);
                    out.push(':');
                    spelled(v, style.rotate_right(2), out);
                }
                out.push_str(ws);
                out.push('}');
            }
            Value::Array(a) => {
                out.push('[');
                for (i, v) in a.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(ws);
                    spelled(v, style.rotate_right(3), out);
                }
                out.push(']');
            }
            Value::String(t) if style & 2 == 2 => {
                out.push('"');
                for c in t.chars() {
                    let mut units = [0u16; 2];
                    for u in c.encode_utf16(&mut units) {
                        out.push_str(&format!("\\u{u:04X}"));
                    }
                }
                out.push('"');
            }
            // serde_json reads `n.0e0` off the nearest float once `n0` (the digits it
            // scales) is beyond 2^53: 1929870144134899.0e0 as 1929870144134899.2 (the scan
            // reads it as `n`: by value), so only integers whose `n0` an f64 holds exactly
            // are respelled.
            Value::Number(n)
                if style & 4 == 4 && n.as_i64().is_some_and(|i| i.abs() < (1 << 53) / 10) =>
            {
                out.push_str(&format!("{}.0e0", n));
            }
            other => out.push_str(&other.to_string()),
        }
    }

    fn any_json() -> impl Strategy<Value = serde_json::Value> {
        use serde_json::Value;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            (-1_000_000i32..1_000_000).prop_map(|n| Value::from(f64::from(n) / 1000.0)),
            ".{0,8}".prop_map(Value::from),
            "[<>\\[\\]a-z\"\\\\\u{200b}\u{202e}\u{e0041}\u{1f600}]{0,8}".prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 32, 5, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(Value::from),
                prop::collection::btree_map("name|[a-z\"]{1,4}", inner, 0..5)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn both(text: &str) -> (Option<super::Defs>, Option<super::Defs>) {
        let scanned = super::defs(&mut serde_json::Deserializer::from_str(text)).expect("scan");
        let reference = super::reference::defs(&mut serde_json::Deserializer::from_str(text))
            .expect("reference");
        (scanned, reference)
    }

    #[test]
    fn the_scan_refuses_what_serde_json_refuses_and_nesting_deeper_than_it() {
        let deep = format!("[{}{}]", "[".repeat(127), "]".repeat(127));
        assert!(super::defs(&mut serde_json::Deserializer::from_str(&deep)).is_ok());
        let deeper = format!("[{}{}]", "{\"a\":".repeat(200), "}".repeat(200));
        assert!(super::defs(&mut serde_json::Deserializer::from_str(&deeper)).is_err());
        for bad in [r#"["\ud800"]"#, r#"["\udc00x"]"#, r#"[{"a" 1}]"#, r#"["x"#] {
            assert!(
                super::defs(&mut serde_json::Deserializer::from_str(bad)).is_err(),
                "{bad}"
            );
        }
        assert_eq!(both(r#"{"a":1}"#), (None, None));
        assert_eq!(both("null"), (None, None));
        assert_eq!(both(r#""x""#), (None, None));
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
        fn the_scan_hashes_as_the_serde_visitor_did(
            list in prop::collection::vec(any_json(), 0..4),
            style in any::<u64>(),
        ) {
            let mut text = String::new();
            spelled(&serde_json::Value::from(list.clone()), style, &mut text);
            let (scanned, reference) = both(&text);
            prop_assert_eq!(&scanned, &reference, "{}", text);
            let plain = serde_json::Value::from(list).to_string();
            prop_assert_eq!(both(&plain).0, scanned, "however it is spelled");
        }

    }
}
