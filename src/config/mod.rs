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

/// Retry settings inside a cycle.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryConfig {
    /// First wait.
    pub initial_interval: Duration,
    /// Growth factor per attempt.
    pub multiplier: f64,
    /// Longest single wait.
    pub max_interval: Duration,
    /// Give up after this much time since the first attempt.
    pub max_elapsed: Duration,
}

/// The per-credential budget.
#[derive(Debug, Clone, PartialEq)]
pub struct RateLimitConfig {
    /// Requests allowed per window.
    pub requests: u32,
    /// The window those requests are counted over.
    pub per: Duration,
}

/// One Cloudflare account to keep synced.
#[derive(Debug, Clone, PartialEq)]
pub struct Account {
    /// Cloudflare's account id (it goes into URL paths, so it is checked).
    pub id: String,
    /// Its credentials.
    pub credentials: Credentials,
    /// Where they came from (variable names), for display and to share one budget among
    /// accounts using the same credential.
    pub credential_source: String,
}

/// The effective, validated configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Address of the HTTP endpoints.
    pub listen: SocketAddr,
    /// Time between cycles.
    pub interval: Duration,
    /// A server whose last successful sync is older than this is stale.
    pub stale_after: Duration,
    /// Decide and report, never sync.
    pub dry_run: bool,
    /// Syncs at once, per account.
    pub sync_concurrency: usize,
    /// List pages fetched at once once the page count is known.
    pub list_concurrency: usize,
    /// Page size of the list call.
    pub per_page: u32,
    /// Bound on one request.
    pub request_timeout: Duration,
    /// Retries inside a cycle.
    pub retry: RetryConfig,
    /// Longest back-off of a failing server across cycles.
    pub failure_backoff_max: Duration,
    /// The per-credential budget.
    pub rate_limit: RateLimitConfig,
    /// Cloudflare's API base URL.
    pub base_url: String,
    /// The accounts to keep synced, each with its credentials.
    pub accounts: Vec<Account>,
    /// Only servers whose id or name matches one of these (empty: all).
    pub include: Globs,
    /// Never servers whose id or name matches one of these.
    pub exclude: Globs,
    /// Log format.
    pub log_format: LogFormat,
    /// The web configuration file (TLS, basic authentication), if any.
    pub web_config_file: Option<PathBuf>,
    /// HTTP connections served at once.
    pub max_connections: usize,
    /// The pin file of approved definitions, if any.
    pub pins: Option<PathBuf>,
    /// Time between portal listings (`None`: portals are not listed).
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
        /// The key, as written in the file.
        key: String,
        /// The value as given (never a secret's).
        value: String,
        /// Flag, variable or file it came from.
        origin: String,
        /// What is expected.
        reason: String,
    },
    /// The file could not be read, is not valid TOML or has an unknown key.
    #[error("configuration file {path}: {reason}")]
    File {
        /// The file `--config` or `MCP_SYNC_CONFIG` named.
        path: PathBuf,
        /// The OS's or the parser's reason (with the line and key).
        reason: String,
    },
    /// No account configured.
    #[error("no account configured: set CLOUDFLARE_ACCOUNT_ID or add [[accounts]] to the configuration file")]
    NoAccount,
    /// An account without usable credentials.
    #[error("account {account}: no credentials: {reason}")]
    Credentials {
        /// The account whose credentials are missing.
        account: String,
        /// What is missing.
        reason: String,
    },
}

/// The configuration file the flags or `MCP_SYNC_CONFIG` name.
fn config_path(flags: &Flags, env: &Env) -> Option<PathBuf> {
    flags.config.clone().or_else(|| {
        env.get("MCP_SYNC_CONFIG")
            .filter(|s| !s.is_empty())
            .map(PathBuf::from)
    })
}

/// Loads and validates the configuration from the flags, the environment and the file the
/// flags or `MCP_SYNC_CONFIG` name.
pub fn load(flags: &Flags, env: &Env) -> Result<Config, ConfigError> {
    let path = config_path(flags, env);
    let file = file::read(path.as_deref())?;
    merge::build(&merge::Layers::new(flags, env, path.as_deref(), file))
}

/// The configuration a file at `path` with this `text` gives, with `env` and no flags (the
/// fuzz targets' door: the file's parser and the validation behind it, without a file).
#[cfg(feature = "fake")]
pub fn load_text(path: &std::path::Path, text: &str, env: &Env) -> Result<Config, ConfigError> {
    let file = file::parse(path, text)?;
    merge::build(&merge::Layers::new(
        &Flags::default(),
        env,
        Some(path),
        file,
    ))
}

/// Only the listen address and the web configuration file (for `healthcheck`, which must
/// work even where the rest of the configuration, such as credentials, is not visible).
pub fn endpoint(flags: &Flags, env: &Env) -> Result<(SocketAddr, Option<PathBuf>), ConfigError> {
    let path = config_path(flags, env);
    let file = file::read(path.as_deref())?;
    let layers = merge::Layers::new(flags, env, path.as_deref(), file);
    Ok((layers.listen()?, layers.web_config_file()?))
}

#[cfg(test)]
#[path = "../../tests/unit/config.rs"]
mod tests;
