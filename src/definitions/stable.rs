//! A second look at a server's tool and prompt definitions, taken only for pins and only when
//! their fast fingerprints say they are new (first sighting, a change, a reloaded pin file):
//! each definition's stable fingerprint, which pins hold, and what the
//! [`rules`](super::rules) find in it.
//!
//! The stable fingerprint is SHA-256 (`ring`, already linked for TLS) of the definition's
//! canonical form, version [`CANONICAL_VERSION`]: JSON without whitespace, object keys
//! sorted by their UTF-8 bytes (of a repeated key the last), arrays in order, strings as
//! `serde_json` escapes them, numbers by value (`1`, `1.0` and `1e0` are `1`; an integral
//! value below 2^53 in magnitude is written as an integer, any other in the shortest form
//! that reads back the same, `ryu`). It is unkeyed, so it is the same on every machine and
//! after every restart, and a pin can be committed. It is not the fast fingerprint: that
//! one is keyed per process and computed for every definition of every page
//! ([`fingerprint`](super::fingerprint)); this one costs a second parse of the server's bytes, paid
//! only for the servers whose fast fingerprint is new.

use std::fmt::{self, Write as _};

use ring::digest::{digest, SHA256};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
#[cfg(test)]
use serde_json::Value;

use super::rules::{rules_of, Rule, Suspicious};
use super::table::{Labels, Table, SEP};

/// The version of the canonical form the stable fingerprints hash.
pub const CANONICAL_VERSION: u32 = 1;

/// The hash of the stable fingerprints, as the pin file names it.
pub const HASH: &str = "sha256";

/// A stable fingerprint: SHA-256, 32 bytes.
pub type Stable = [u8; 32];

/// A server's definitions by name (`tool:x`, `prompt:y`) with their stable fingerprints.
pub type StableTable = Table<32>;

/// A server's definitions, looked at closely.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspected {
    /// Each definition's stable fingerprint, by name.
    pub definitions: StableTable,
    /// What the rules found.
    pub suspicious: Suspicious,
}

/// Writes `v` in the canonical form (the reference the one-pass writer, `canon`, is tested
/// against).
#[cfg(test)]
pub fn canonical(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Number(n) => number(n.as_f64().unwrap_or(0.0), out),
        Value::String(s) => string(s, out),
        Value::Array(a) => {
            out.push(b'[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                canonical(x, out);
            }
            out.push(b']');
        }
        Value::Object(m) => {
            let mut keys: Vec<(&String, &Value)> = m.iter().collect();
            keys.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push(b'{');
            for (i, (k, x)) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                string(k, out);
                out.push(b':');
                canonical(x, out);
            }
            out.push(b'}');
        }
    }
}

pub(super) mod canon;

fn string(s: &str, out: &mut Vec<u8>) {
    // Writing a string into a vector cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

fn number(v: f64, out: &mut Vec<u8>) {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    if v == 0.0 {
        out.push(b'0');
    } else if v.fract() == 0.0 && v.abs() < EXACT {
        out.extend_from_slice(itoa::Buffer::new().format(v as i64).as_bytes());
    } else {
        out.extend_from_slice(ryu::Buffer::new().format_finite(v).as_bytes());
    }
}

/// The stable fingerprint of one definition's canonical bytes.
pub fn stable(canonical: &[u8]) -> Stable {
    let d = digest(&SHA256, canonical);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// A stable fingerprint as the pin file writes it (64 lowercase hex digits).
pub fn hex(h: &Stable) -> String {
    let mut s = String::with_capacity(64);
    for b in h {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// A fingerprint from the pin file's hex; `None` unless 64 hex digits.
pub fn parse_hex(s: &str) -> Option<Stable> {
    let bytes = s.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        let text = std::str::from_utf8(pair).ok()?;
        out[i] = u8::from_str_radix(text, 16).ok()?;
    }
    Some(out)
}

/// Looks closely at the definitions of the server object `json`; `None` when it does not
/// parse (the fast decode has already said why).
pub fn inspect(json: &[u8]) -> Option<Inspected> {
    let mut de = serde_json::Deserializer::from_slice(json);
    let mut look = Look::default();
    ServerSeed(&mut look).deserialize(&mut de).ok()?;
    let Look {
        labels, flagged, ..
    } = look;
    Some(Inspected {
        definitions: labels.table(),
        suspicious: Suspicious::from_flagged(flagged),
    })
}

/// What a look at a server gathers.
#[derive(Default)]
struct Look {
    canon: canon::Canon,
    labels: Labels<32>,
    flagged: Vec<(Rule, String)>,
}

impl Look {
    /// The definition just written into `canon`, of `kind`.
    fn definition(&mut self, kind: &str) {
        let c = &mut self.canon;
        let hash = stable(&c.out);
        let label = match c.name.take() {
            Some(n) => format!("{kind}:{n}").replace(SEP, " "),
            None => format!("{kind}:#{}", &hex(&hash)[..16]),
        };
        self.labels.push_label(&label, hash);
        if c.found != 0 {
            for r in Rule::ALL {
                if c.found & (1 << r.index()) != 0 {
                    self.flagged.push((r, label.clone()));
                }
            }
        }
    }
}

/// A server object: its `tools` and `prompts` looked at, the rest skipped.
struct ServerSeed<'l>(&'l mut Look);

impl<'de> DeserializeSeed<'de> for ServerSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ServerSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a server object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match &*key {
                "tools" => map.next_value_seed(ListSeed(&mut *self.0, "tool"))?,
                "prompts" => map.next_value_seed(ListSeed(&mut *self.0, "prompt"))?,
                _ => {
                    map.next_value::<de::IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// A list of definitions of one kind (anything else is none).
struct ListSeed<'l>(&'l mut Look, &'static str);

impl<'de> DeserializeSeed<'de> for ListSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ListSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of definitions")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let (look, kind) = (self.0, self.1);
        loop {
            look.canon.reset();
            let seed = canon::Value::definition(&mut look.canon);
            if seq.next_element_seed(seed)?.is_none() {
                return Ok(());
            }
            look.definition(kind);
        }
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map
            .next_entry::<de::IgnoredAny, de::IgnoredAny>()?
            .is_some()
        {}
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
}

#[cfg(test)]
#[path = "../../tests/unit/definitions/stable.rs"]
mod tests;
