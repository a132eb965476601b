//! The first fingerprint, a serde visitor over the decoded values: kept as the reference
//! the hand-written [`scan`](super::scan) must agree with, hash for hash.

use std::fmt;
use std::hash::{Hash, Hasher};

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use super::{boolean, entry, null, number, object, string, Defs, Mix};

/// Decodes a list of definitions into their names and hashes; `null` or a non-list is
/// unknown.
pub(super) fn defs<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Defs>, D::Error> {
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
            hash: string(v.as_bytes()),
            name: self.keep.then(|| v.to_owned()),
            rules: crate::cloudflare::inspect::rules_of(v),
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
            sum = sum.wrapping_add(entry(key.hash, value));
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
            hash: string(v.as_bytes()),
            is_name: v == "name",
            rules: crate::cloudflare::inspect::rules_of(v),
        })
    }
}

/// A value's canonical hash, and at the top of a definition its `name`.
struct Hashed {
    hash: u64,
    name: Option<String>,
    /// The rules its strings break.
    rules: u8,
}

fn plain(hash: u64) -> Hashed {
    Hashed {
        hash,
        name: None,
        rules: 0,
    }
}
