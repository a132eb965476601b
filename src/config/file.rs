//! The configuration file: TOML, every key optional, unknown keys refused (a typo is never
//! silently ignored). Tables are flattened to the dotted names of the key table
//! (`[retry] max_elapsed` is `retry.max_elapsed`) and each value is kept as the text a flag
//! would give, for `merge` to validate; the lists (`[[accounts]]`, `include`, `exclude`)
//! are read by serde.

use std::collections::BTreeMap;
use std::path::Path;

use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::merge::{invalid, KEYS};
use super::{ConfigError, Result};

/// What the file says.
#[derive(Default)]
pub(super) struct FileValues {
    /// `file <path>`, for refusals and `check-config`.
    pub(super) origin: String,
    pub(super) values: BTreeMap<String, String>,
    pub(super) accounts: Vec<FileAccount>,
    pub(super) include: Vec<String>,
    pub(super) exclude: Vec<String>,
}

/// One `[[accounts]]` entry.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileAccount {
    pub(super) id: String,
    pub(super) api_token_env: Option<String>,
    pub(super) email_env: Option<String>,
    pub(super) api_key_env: Option<String>,
}

/// Reads and parses the file at `path`; no file is an empty one.
pub(super) fn read(path: Option<&Path>) -> Result<FileValues> {
    let Some(path) = path else {
        return Ok(FileValues::default());
    };
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
        path: path.to_owned(),
        reason: format!("cannot read it: {e}"),
    })?;
    parse(path, &text)
}

pub(super) fn parse(path: &Path, text: &str) -> Result<FileValues> {
    let refuse = |reason: String| ConfigError::File {
        path: path.to_owned(),
        reason,
    };
    let mut table: toml::Table =
        toml::from_str(text).map_err(|e| refuse(e.to_string().trim_end().replace('\n', " | ")))?;
    fn list<T: DeserializeOwned>(table: &mut toml::Table, key: &str) -> Result<Vec<T>, String> {
        let value = table.remove(key).unwrap_or(toml::Value::Array(Vec::new()));
        value.try_into().map_err(|e| format!("`{key}`: {e}"))
    }
    let origin = format!("file {}", path.display());
    let mut patterns = |key: &str| -> Result<Vec<String>> {
        let list: Vec<String> = list(&mut table, key).map_err(refuse)?;
        let why = "an empty pattern matches nothing; remove it";
        match list.iter().find(|p| p.trim().is_empty()) {
            Some(p) => Err(invalid(key, p, &origin, why)),
            None => Ok(list),
        }
    };
    let (include, exclude) = (patterns("include")?, patterns("exclude")?);
    let mut out = FileValues {
        accounts: list(&mut table, "accounts").map_err(refuse)?,
        values: BTreeMap::new(),
        origin,
        include,
        exclude,
    };
    let entries = table.into_iter().flat_map(|(section, value)| match value {
        toml::Value::Table(t) => t
            .into_iter()
            .map(|(k, v)| (format!("{section}.{k}"), v))
            .collect(),
        v => vec![(section, v)],
    });
    for (key, value) in entries {
        if !KEYS.iter().any(|k| k.name == key) {
            let why = format!("unknown key `{key}`; the keys are in config/mcp-sync-monitor.toml");
            return Err(refuse(why));
        }
        use toml::Value as V;
        let shape = || refuse(format!("`{key}` takes one string, number or boolean"));
        let text = match value {
            V::String(s) => s,
            V::Integer(i) => i.to_string(),
            V::Float(f) => f.to_string(),
            V::Boolean(b) => b.to_string(),
            _ => return Err(shape()),
        };
        out.values.insert(key, text);
    }
    Ok(out)
}
