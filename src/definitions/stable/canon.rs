//! The canonical form written straight from the bytes, in one pass, with the rules checked
//! on each string as it passes: no JSON value is built. Each object's entries are written
//! in the order they come, and the object is rewritten in key order only when they were not
//! in it already. Built because the value-based form (`serde_json::Value`, then writing it)
//! cost 44 ms per object-heavy page against the fast decode's 16 ms
//! (`cargo bench --bench cycle -- decode`), and it runs for every server of a first listing.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// What one definition's pass leaves: its canonical bytes, its name, the rules it breaks.
#[derive(Default)]
pub(super) struct Canon {
    /// The canonical form of the definition being written.
    pub(super) out: Vec<u8>,
    /// Its `name`, when a string.
    pub(super) name: Option<String>,
    /// The rules broken, a bit per [`Rule::index`](super::Rule::index).
    pub(super) found: u8,
    /// Per object level being written: its entries (raw key range in `keys`, then the range
    /// of the entry in `out`), reused from one object to the next.
    frames: Vec<Frame>,
    depth: usize,
    scratch: Vec<u8>,
}

#[derive(Default)]
struct Frame {
    keys: String,
    entries: Vec<(usize, usize, usize, usize)>,
}

impl Canon {
    /// Starts a definition.
    pub(super) fn reset(&mut self) {
        self.out.clear();
        self.name = None;
        self.found = 0;
        self.depth = 0;
    }

    fn check(&mut self, s: &str) {
        self.found |= super::rules_of(s);
    }

    fn string(&mut self, s: &str) {
        self.check(s);
        super::string(s, &mut self.out);
    }

    /// Rewrites the object that starts at `start` in key order (of a repeated key, the
    /// last), unless its entries came in that order.
    fn sort_object(&mut self, start: usize) {
        let frame = &self.frames[self.depth];
        let keys = &frame.keys;
        let key = |e: &(usize, usize, usize, usize)| &keys.as_bytes()[e.0..e.1];
        let sorted = frame.entries.windows(2).all(|w| key(&w[0]) < key(&w[1]));
        if sorted {
            return;
        }
        let mut order: Vec<usize> = (0..frame.entries.len()).collect();
        order.sort_by(|a, b| key(&frame.entries[*a]).cmp(key(&frame.entries[*b])));
        // Of equal keys (adjacent now, in their order of arrival) the last stays.
        let mut kept: Vec<usize> = Vec::with_capacity(order.len());
        for i in order {
            match kept.last() {
                Some(&j) if key(&frame.entries[j]) == key(&frame.entries[i]) => {
                    *kept.last_mut().expect("not empty") = i;
                }
                _ => kept.push(i),
            }
        }
        self.scratch.clear();
        self.scratch.extend_from_slice(&self.out[start..]);
        self.out.truncate(start);
        self.out.push(b'{');
        for (n, i) in kept.into_iter().enumerate() {
            if n > 0 {
                self.out.push(b',');
            }
            let (_, _, a, b) = frame.entries[i];
            self.out
                .extend_from_slice(&self.scratch[a - start..b - start]);
        }
        self.out.push(b'}');
    }
}

/// A value of a definition, written canonically into [`Canon`]; at the top (`top`) the
/// definition itself, whose `name` is kept.
pub(super) struct Value<'c> {
    pub(super) canon: &'c mut Canon,
    pub(super) top: bool,
    /// This value is a top-level `name`: keep it when a string.
    keep: bool,
}

impl<'c> Value<'c> {
    pub(super) fn definition(canon: &'c mut Canon) -> Self {
        Self {
            canon,
            top: true,
            keep: false,
        }
    }
}

impl<'de> DeserializeSeed<'de> for Value<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Value<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.canon.out.extend_from_slice(b"null");
        Ok(())
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.visit_unit()
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        let text: &[u8] = if v { b"true" } else { b"false" };
        self.canon.out.extend_from_slice(text);
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        super::number(v as f64, &mut self.canon.out);
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        super::number(v as f64, &mut self.canon.out);
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        super::number(v, &mut self.canon.out);
        Ok(())
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        if self.keep {
            self.canon.name = Some(v.to_owned());
        }
        self.canon.string(v);
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let canon = self.canon;
        canon.out.push(b'[');
        let mut first = true;
        loop {
            if !first {
                canon.out.push(b',');
            }
            let at = canon.out.len();
            let item = Value {
                canon: &mut *canon,
                top: false,
                keep: false,
            };
            if seq.next_element_seed(item)?.is_none() {
                if !first {
                    canon.out.truncate(at - 1);
                }
                break;
            }
            first = false;
        }
        canon.out.push(b']');
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let canon = self.canon;
        canon.depth += 1;
        if canon.frames.len() <= canon.depth {
            canon.frames.resize_with(canon.depth + 1, Frame::default);
        }
        let frame = &mut canon.frames[canon.depth];
        frame.keys.clear();
        frame.entries.clear();
        let start = canon.out.len();
        canon.out.push(b'{');
        while let Some(k) = map.next_key_seed(Key(&mut *canon))? {
            let frame = &canon.frames[canon.depth];
            let (k0, k1, e0) = (k.0, k.1, k.2);
            let is_name = self.top && &frame.keys[k0..k1] == "name";
            if is_name {
                // Of a repeated `name`, the last counts (a non-string one is none).
                canon.name = None;
            }
            map.next_value_seed(Value {
                canon: &mut *canon,
                top: false,
                keep: is_name,
            })?;
            let end = canon.out.len();
            canon.frames[canon.depth].entries.push((k0, k1, e0, end));
        }
        canon.out.push(b'}');
        canon.sort_object(start);
        canon.depth -= 1;
        Ok(())
    }
}

/// An object key: kept raw in the level's frame (for sorting), written escaped, followed by
/// `:`. Its value is the raw key's range and where the entry starts in `out`.
struct Key<'c>(&'c mut Canon);

impl<'de> DeserializeSeed<'de> for Key<'_> {
    type Value = (usize, usize, usize);
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key<'_> {
    type Value = (usize, usize, usize);
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        let canon = self.0;
        let depth = canon.depth;
        let comma = !canon.frames[depth].entries.is_empty();
        if comma {
            canon.out.push(b',');
        }
        let entry = canon.out.len();
        canon.string(v);
        canon.out.push(b':');
        let keys = &mut canon.frames[depth].keys;
        let k0 = keys.len();
        keys.push_str(v);
        Ok((k0, keys.len(), entry))
    }
}
