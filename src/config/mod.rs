//! Configuration: load the TOML file (`file`), merge it with the environment and the flags
//! (flag > environment > file > default) and validate every value (`merge`, where each key
//! is declared once), resolve the accounts and their credentials (`accounts`), and decide
//! which servers the include/exclude filters keep (`filters`).
//!
//! Every invalid value is refused with a [`ConfigError`] that names the key, where the value
//! came from and the value itself (never a secret's value), so `main` can exit 2 with a
//! message an operator can act on. Loading is a pure function of its inputs: the
//! environment is passed in as a map, which keeps it testable.

mod accounts;
mod file;
mod filters;
pub mod merge;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::cloudflare::Credentials;

pub use filters::Globs;
pub use merge::Flags;

/// The environment, as a map (tests pass their own).
pub type Env = HashMap<String, String>;

/// Reads the process environment, skipping variables that are not valid UTF-8.
pub fn process_env() -> Env {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect()
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// The `[retry]` keys: retries inside a cycle.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryConfig {
    pub initial_interval: Duration,
    pub multiplier: f64,
    pub max_interval: Duration,
    pub max_elapsed: Duration,
}

/// The `[rate_limit]` keys: the per-credential budget.
#[derive(Debug, Clone, PartialEq)]
pub struct RateLimitConfig {
    pub requests: u32,
    pub per: Duration,
}

/// One Cloudflare account to keep synced.
#[derive(Debug, Clone, PartialEq)]
pub struct Account {
    /// Cloudflare's account id (it goes into URL paths, so it is checked).
    pub id: String,
    pub credentials: Credentials,
    /// Where they came from (variable names), for display and to share one budget among
    /// accounts using the same credential.
    pub credential_source: String,
}

/// The effective, validated configuration. A field named after a key holds that key's value;
/// what each key does is said once, in its declaration in [`merge`] (and the README's table).
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub listen: SocketAddr,
    pub interval: Duration,
    pub stale_after: Duration,
    pub dry_run: bool,
    pub sync_concurrency: usize,
    pub list_concurrency: usize,
    pub per_page: u32,
    pub request_timeout: Duration,
    pub retry: RetryConfig,
    pub failure_backoff_max: Duration,
    pub rate_limit: RateLimitConfig,
    /// `api.base_url`.
    pub base_url: String,
    pub accounts: Vec<Account>,
    /// Only servers whose id or name matches one of these (empty: all).
    pub include: Globs,
    /// Never servers whose id or name matches one of these.
    pub exclude: Globs,
    /// `log.format`.
    pub log_format: LogFormat,
    /// `web.config_file`, if set.
    pub web_config_file: Option<PathBuf>,
    /// `web.max_connections`.
    pub max_connections: usize,
    /// `capabilities.pins`, if set.
    pub pins: Option<PathBuf>,
    /// `portals.interval` (`None`: portals are not listed).
    pub portals_interval: Option<Duration>,
    /// Where each key's value came from (`flag --interval`, `default`…), by key.
    pub origins: BTreeMap<&'static str, String>,
}

/// Why the configuration was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// A value that does not fit its key.
    #[error("invalid configuration: `{key}` = {value:?} (from {origin}): {reason}")]
    Invalid {
        key: String,
        /// The value as given (never a secret's).
        value: String,
        origin: String,
        reason: String,
    },
    /// The file could not be read, is not valid TOML or has an unknown key (the OS's or the
    /// parser's reason, with the line and key).
    #[error("configuration file {path}: {reason}")]
    File { path: PathBuf, reason: String },
    /// No account configured.
    #[error("no account configured: set CLOUDFLARE_ACCOUNT_ID or add [[accounts]] to the configuration file")]
    NoAccount,
    /// An account without usable credentials.
    #[error("account {account}: no credentials: {reason}")]
    Credentials { account: String, reason: String },
}

/// The flags, the environment and the file the flags or `MCP_SYNC_CONFIG` name.
fn layers<'a>(flags: &'a Flags, env: &'a Env) -> Result<merge::Layers<'a>, ConfigError> {
    let named = env.get("MCP_SYNC_CONFIG").filter(|s| !s.is_empty());
    let path = flags.config.clone().or_else(|| named.map(PathBuf::from));
    let file = file::read(path.as_deref())?;
    Ok(merge::Layers { flags, env, file })
}

/// Loads and validates the configuration from the flags, the environment and the file.
pub fn load(flags: &Flags, env: &Env) -> Result<Config, ConfigError> {
    merge::build(&layers(flags, env)?)
}

/// The configuration a file at `path` with this `text` gives, with `env` and no flags (the
/// fuzz targets' door: the file's parser and the validation behind it, without a file).
#[cfg(feature = "fake")]
pub fn load_text(path: &std::path::Path, text: &str, env: &Env) -> Result<Config, ConfigError> {
    let file = file::parse(path, text)?;
    let flags = Flags::default();
    merge::build(&merge::Layers {
        flags: &flags,
        env,
        file,
    })
}

/// Only the listen address and the web configuration file (for `healthcheck`, which must
/// work even where the rest of the configuration, such as credentials, is not visible).
pub fn endpoint(flags: &Flags, env: &Env) -> Result<(SocketAddr, Option<PathBuf>), ConfigError> {
    merge::endpoint(&layers(flags, env)?)
}

#[cfg(test)]
#[path = "../../tests/unit/config.rs"]
mod tests;
