//! The configuration file: TOML, every key optional, unknown keys refused (a typo is never
//! silently ignored). Values stay raw here; `merge` layers and validates them.

use std::path::Path;

use serde::Deserialize;

use super::ConfigError;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileConfig {
    pub(super) listen: Option<String>,
    pub(super) interval: Option<String>,
    pub(super) stale_after: Option<String>,
    pub(super) dry_run: Option<bool>,
    pub(super) sync_concurrency: Option<i64>,
    pub(super) list_concurrency: Option<i64>,
    pub(super) per_page: Option<i64>,
    pub(super) request_timeout: Option<String>,
    pub(super) failure_backoff_max: Option<String>,
    pub(super) retry: Option<FileRetry>,
    pub(super) rate_limit: Option<FileRateLimit>,
    pub(super) api: Option<FileApi>,
    pub(super) accounts: Option<Vec<FileAccount>>,
    pub(super) include: Option<Vec<String>>,
    pub(super) exclude: Option<Vec<String>>,
    pub(super) log: Option<FileLog>,
    pub(super) web: Option<FileWebSection>,
    pub(super) capabilities: Option<FileCapabilities>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileCapabilities {
    pub(super) pins: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileWebSection {
    pub(super) config_file: Option<String>,
    pub(super) max_connections: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileRetry {
    pub(super) initial_interval: Option<String>,
    pub(super) multiplier: Option<f64>,
    pub(super) max_interval: Option<String>,
    pub(super) max_elapsed: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileRateLimit {
    pub(super) requests: Option<i64>,
    pub(super) per: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileApi {
    pub(super) base_url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileLog {
    pub(super) format: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileAccount {
    pub(super) id: String,
    pub(super) api_token_env: Option<String>,
    pub(super) email_env: Option<String>,
    pub(super) api_key_env: Option<String>,
}

/// Reads and parses the file at `path`; no file is an empty one.
pub(super) fn read(path: Option<&Path>) -> Result<FileConfig, ConfigError> {
    let Some(path) = path else {
        return Ok(FileConfig::default());
    };
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    parse(path, &text)
}

/// Parses the text of the file at `path`.
pub(super) fn parse(path: &Path, text: &str) -> Result<FileConfig, ConfigError> {
    toml::from_str(text).map_err(|e| ConfigError::Parse {
        path: path.to_owned(),
        reason: e.to_string().trim_end().replace('\n', " | "),
    })
}
