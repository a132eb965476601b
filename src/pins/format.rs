//! The pin file's JSON: read as a stream straight into tables, written in a stable order
//! (accounts, servers and definitions sorted, one definition per line).

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, Write};

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};

use super::PinSet;
use crate::cloudflare::model::sanitize as clean;
use crate::definitions::stable::{hex, parse_hex, StableTable, CANONICAL_VERSION, HASH};
use crate::definitions::table::Labels;

/// The version of the file's format.
pub const VERSION: u64 = 1;

/// Writes a pin file: every account (even one without servers), each server's definitions.
pub fn write(
    accounts: &BTreeMap<String, BTreeMap<String, StableTable>>,
    out: &mut impl Write,
) -> io::Result<()> {
    let q = |s: &str| serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into());
    writeln!(out, "{{")?;
    writeln!(out, "  \"version\": {VERSION},")?;
    writeln!(out, "  \"hash\": {},", q(HASH))?;
    writeln!(out, "  \"canonical_form\": {CANONICAL_VERSION},")?;
    write!(out, "  \"accounts\": {{")?;
    for (ai, (account, servers)) in accounts.iter().enumerate() {
        write!(
            out,
            "{}\n    {}: {{",
            if ai > 0 { "," } else { "" },
            q(account)
        )?;
        for (si, (server, table)) in servers.iter().enumerate() {
            write!(
                out,
                "{}\n      {}: {{",
                if si > 0 { "," } else { "" },
                q(server)
            )?;
            let mut first = true;
            let mut failed = Ok(());
            table.each(|name, hash| {
                if failed.is_ok() {
                    failed = write!(
                        out,
                        "{}\n        {}: \"{}\"",
                        if first { "" } else { "," },
                        q(name),
                        hex(hash)
                    );
                }
                first = false;
            });
            failed?;
            write!(out, "{}}}", if first { "" } else { "\n      " })?;
        }
        write!(out, "{}}}", if servers.is_empty() { "" } else { "\n    " })?;
    }
    writeln!(out, "{}}}", if accounts.is_empty() { "" } else { "\n  " })?;
    writeln!(out, "}}")?;
    Ok(())
}

/// Reads a pin file from `r`.
pub(super) fn read(r: impl io::Read) -> Result<PinSet, String> {
    let mut de = serde_json::Deserializer::from_reader(io::BufReader::new(r));
    let set = Top
        .deserialize(&mut de)
        .and_then(|set| de.end().map(|()| set))
        .map_err(|e| e.to_string())?;
    Ok(set)
}

struct Top;

impl<'de> DeserializeSeed<'de> for Top {
    type Value = PinSet;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<PinSet, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Top {
    type Value = PinSet;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a pin file (an object with version, hash, canonical_form, accounts)")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<PinSet, A::Error> {
        let mut set = PinSet::default();
        let (mut version, mut hash, mut canonical) = (None, None, None);
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "version" => version = Some(map.next_value::<u64>()?),
                "hash" => hash = Some(map.next_value::<String>()?),
                "canonical_form" => canonical = Some(map.next_value::<u64>()?),
                "accounts" => map.next_value_seed(Accounts { set: &mut set })?,
                other => {
                    return Err(de::Error::custom(format!(
                        "unknown key `{}` (expected version, hash, canonical_form, accounts)",
                        clean(other)
                    )))
                }
            }
        }
        match version {
            Some(VERSION) => {}
            Some(v) => {
                return Err(de::Error::custom(format!(
                    "`version` {v} is not understood by this build (it reads {VERSION})"
                )))
            }
            None => return Err(de::Error::custom("`version` is missing")),
        }
        match hash.as_deref() {
            Some(HASH) => {}
            Some(h) => {
                return Err(de::Error::custom(format!(
                    "`hash` {:?} is not understood (this build pins with {HASH:?})",
                    clean(h)
                )))
            }
            None => return Err(de::Error::custom("`hash` is missing")),
        }
        match canonical {
            Some(c) if c == u64::from(CANONICAL_VERSION) => {}
            Some(c) => return Err(de::Error::custom(format!("`canonical_form` {c} is not the one this build hashes ({CANONICAL_VERSION}): export the pins again with this build and review the diff"))),
            None => return Err(de::Error::custom("`canonical_form` is missing")),
        }
        Ok(set)
    }
}

struct Accounts<'s> {
    set: &'s mut PinSet,
}

impl<'de> DeserializeSeed<'de> for Accounts<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Accounts<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("`accounts`: an object of account ids")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(account) = map.next_key::<String>()? {
            map.next_value_seed(Servers {
                account: &account,
                set: self.set,
            })?;
        }
        Ok(())
    }
}

struct Servers<'a, 's> {
    account: &'a str,
    set: &'s mut PinSet,
}

impl<'de> DeserializeSeed<'de> for Servers<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Servers<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an account: an object of server ids")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(server) = map.next_key::<String>()? {
            let table = map.next_value_seed(Definitions {
                account: self.account,
                server: &server,
            })?;
            let at = format!("accounts.{}.{}", clean(self.account), clean(&server));
            if !self.set.insert(self.account, server, table) {
                return Err(de::Error::custom(format!("`{at}` appears twice")));
            }
        }
        Ok(())
    }
}

struct Definitions<'a> {
    account: &'a str,
    server: &'a str,
}

impl<'de> DeserializeSeed<'de> for Definitions<'_> {
    type Value = StableTable;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<StableTable, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Definitions<'_> {
    type Value = StableTable;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "a server: an object of definition names (`tool:x`, `prompt:y`) and fingerprints",
        )
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<StableTable, A::Error> {
        let mut labels = Labels::<32>::default();
        while let Some(name) = map.next_key::<String>()? {
            let value = map.next_value::<String>()?;
            if !(name.starts_with("tool:") || name.starts_with("prompt:")) {
                return Err(de::Error::custom(format!(
                    "`accounts.{}.{}`: definition {:?} is neither `tool:<name>` nor `prompt:<name>`",
                    clean(self.account),
                    clean(self.server),
                    clean(&name),
                )));
            }
            let Some(hash) = parse_hex(&value) else {
                return Err(de::Error::custom(format!(
                    "`accounts.{}.{}.{:?}` = {:?}: not a SHA-256 fingerprint (64 hex digits)",
                    clean(self.account),
                    clean(self.server),
                    clean(&name),
                    clean(&value),
                )));
            };
            labels.push_label(&name, hash);
        }
        Ok(labels.table())
    }
}
