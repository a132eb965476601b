use std::hash::Hasher;

use super::{
    array_end, array_start, boolean, entry, null, number, object, start, string, Defs, Hash,
};
use crate::definitions::rules::rules_of;
use crate::definitions::table::{Capabilities, Change};
use proptest::prelude::*;
use serde_json::Value;

/// The fingerprint of a JSON list of tool definitions.
fn caps(tools: &str) -> Capabilities {
    let mut de = serde_json::Deserializer::from_str(tools);
    let d = super::defs(&mut de).expect("decodes");
    Capabilities::new(d.as_ref(), None)
}

/// The reference the visitor must agree with, hash for hash: the same canonical encoding
/// fed from a decoded `serde_json::Value`. Returns the rules broken.
fn reference_value(v: &Value, h: &mut Hash) -> u8 {
    match v {
        Value::Null => null(h),
        Value::Bool(b) => boolean(h, *b),
        Value::Number(n) => number(h, n.as_f64().unwrap_or(0.0)),
        Value::String(t) => {
            string(h, t);
            return rules_of(t);
        }
        Value::Array(a) => {
            array_start(h);
            let rules = a.iter().fold(0, |r, x| r | reference_value(x, h));
            array_end(h);
            return rules;
        }
        Value::Object(m) => {
            let (mut sum, mut rules) = (0u64, 0u8);
            for (k, x) in m {
                let mut e = entry(k);
                rules |= reference_value(x, &mut e) | rules_of(k);
                sum = sum.wrapping_add(e.finish());
            }
            object(h, sum, m.len() as u64);
            return rules;
        }
    }
    0
}

/// The reference's definitions of a list's text: `None` unless a list.
fn reference(text: &str) -> Option<Defs> {
    let Value::Array(list) = serde_json::from_str::<Value>(text).ok()? else {
        return None;
    };
    let mut defs = Defs::default();
    for d in &list {
        let name = d.get("name").and_then(Value::as_str).map(str::to_owned);
        let mut h = start();
        let rules = reference_value(d, &mut h);
        defs.items.push((name, h.finish()));
        defs.rules.push(rules);
    }
    Some(defs)
}

#[test]
fn key_order_whitespace_and_list_order_do_not_matter() {
    let a =
        caps(r#"[{"name":"a","input_schema":{"type":"object","required":["x"]}},{"name":"b"}]"#);
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
                .map(|(k, v)| format!("{}:{}", serde_json::Value::from(k.as_str()), reversed(v)))
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

fn both(text: &str) -> (Option<Defs>, Option<Defs>) {
    let scanned = super::defs(&mut serde_json::Deserializer::from_str(text)).expect("scan");
    (scanned, reference(text))
}

/// The nesting limit is serde_json's own: 127 levels pass, deeper is refused, never a stack
/// overflow.
#[test]
fn the_fingerprint_refuses_what_serde_json_refuses_and_nesting_deeper_than_it() {
    let deep = format!("[{}{}]", "[".repeat(126), "]".repeat(126));
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
    fn the_visitor_hashes_as_the_value_reference(
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
        super::defs(&mut de).expect("decodes")
    };
    let tools = defs(r#"[{"name":"a","v":1},{"name":"a","v":2},{"v":3},{"name":"z\u001fy"}]"#);
    let prompts = defs(r#"[{"name":"a"}]"#);
    let before = Capabilities::new(tools.as_ref(), prompts.as_ref());
    let mut names = Vec::new();
    before.each(|name, _| names.push(name.to_owned()));
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

proptest! {
    #[test]
    fn front_coded_names_diff_as_the_sets_of_names_do(
        a in prop::collection::btree_map("(x{0,300}|é{0,3})[a-cé]{0,3}", 0..3u64, 0..12),
        b in prop::collection::btree_map("(x{0,300}|é{0,3})[a-cé]{0,3}", 0..3u64, 0..12),
    ) {
        let fp = |m: &std::collections::BTreeMap<String, u64>| {
            let defs = Defs { items: m.iter().map(|(n, h)| (Some(n.clone()), *h)).collect(), ..Defs::default() };
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
