//! The configuration file: TOML, every key optional, unknown keys refused (a typo is never
//! silently ignored). Tables are flattened to the dotted names of the key table
//! (`[retry] max_elapsed` is `retry.max_elapsed`) and values stay raw: `merge` validates them.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::merge::KEYS;
use super::ConfigError;

/// The file's values by dotted key.
pub(super) type FileValues = BTreeMap<String, toml::Value>;

/// One `[[accounts]]` entry.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileAccount {
    pub(super) id: String,
    pub(super) api_token_env: Option<String>,
    pub(super) email_env: Option<String>,
    pub(super) api_key_env: Option<String>,
}

/// Keys that are lists, not in the key table.
const LISTS: [&str; 3] = ["accounts", "include", "exclude"];

/// A scalar as the text it would be on the command line (lists and tables stay).
fn scalar(v: toml::Value) -> toml::Value {
    use toml::Value::{Boolean, Datetime, Float, Integer, String};
    match v {
        Integer(i) => String(i.to_string()),
        Float(f) => String(f.to_string()),
        Boolean(b) => String(b.to_string()),
        Datetime(d) => String(d.to_string()),
        v => v,
    }
}

/// Reads and parses the file at `path`; no file is an empty one.
pub(super) fn read(path: Option<&Path>) -> Result<FileValues, ConfigError> {
    let Some(path) = path else {
        return Ok(FileValues::new());
    };
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
        path: path.to_owned(),
        reason: format!("cannot read it: {e}"),
    })?;
    parse(path, &text)
}

/// Parses the text of the file at `path`.
pub(super) fn parse(path: &Path, text: &str) -> Result<FileValues, ConfigError> {
    let refuse = |reason: String| ConfigError::File {
        path: path.to_owned(),
        reason,
    };
    let table: toml::Table =
        toml::from_str(text).map_err(|e| refuse(e.to_string().trim_end().replace('\n', " | ")))?;
    let mut out = FileValues::new();
    for (section, value) in table {
        match value {
            toml::Value::Table(t) if !LISTS.contains(&section.as_str()) => {
                out.extend(
                    t.into_iter()
                        .map(|(k, v)| (format!("{section}.{k}"), scalar(v))),
                );
            }
            v => {
                out.insert(section, scalar(v));
            }
        }
    }
    let known = |k: &str| LISTS.contains(&k) || KEYS.iter().any(|key| key.name == k);
    match out.keys().find(|k| !known(k)) {
        Some(k) => Err(refuse(format!(
            "unknown key `{k}`; the keys are in config/mcp-sync-monitor.toml"
        ))),
        None => Ok(out),
    }
}
