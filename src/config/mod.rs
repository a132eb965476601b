//! Configuration: read the TOML file (`file`), merge it with the environment and the flags
//! and validate every value (`merge`, where each key is declared once), resolve the accounts
//! and their credentials (`accounts`), and compile the include/exclude filters (`filters`).
//!
//! An invalid value is refused with a [`ConfigError`] naming the key, where the value came
//! from and the value (never a secret's), so `main` exits 2 with a message an operator can
//! act on. Loading is a pure function of the flags and the environment (passed as a map).

mod accounts;
mod file;
mod filters;
pub mod merge;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cloudflare::Credentials;

pub use filters::Globs;
pub use merge::Flags;

/// A result whose error is a refusal of the configuration (parsers give a reason: `String`).
type Result<T, E = ConfigError> = std::result::Result<T, E>;

/// The environment, as a map (tests pass their own).
pub type Env = HashMap<String, String>;

/// `log.format`: human-readable lines or one JSON object per line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
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
    /// The variables they came from (accounts sharing a credential share its rate budget).
    pub credential_source: String,
}

/// The effective, validated configuration. Each field holds the key it is named after
/// (`log_format` is `log.format`, `pins` is `capabilities.pins`); what a key does is said
/// once, in its declaration in [`merge`] (and the README's table).
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
    pub base_url: String,
    pub accounts: Vec<Account>,
    /// Only servers whose id or name matches one of these (empty: all).
    pub include: Globs,
    /// Never servers whose id or name matches one of these.
    pub exclude: Globs,
    pub log_format: LogFormat,
    pub web_config_file: Option<PathBuf>,
    pub max_connections: usize,
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
    /// The file cannot be read, is not TOML or has an unknown key (the OS's or parser's reason).
    #[error("configuration file {path}: {reason}")]
    File { path: PathBuf, reason: String },
    #[error("no account configured: set CLOUDFLARE_ACCOUNT_ID or add [[accounts]] to the configuration file")]
    NoAccount,
    #[error("account {account}: no credentials: {reason}")]
    Credentials { account: String, reason: String },
}

/// The layers: the flags, the environment and the file the flags or `MCP_SYNC_CONFIG` name.
fn layers<'a>(flags: &'a Flags, env: &'a Env) -> Result<merge::Layers<'a>> {
    let named = env.get("MCP_SYNC_CONFIG").filter(|s| !s.is_empty());
    let file = file::read(flags.config.as_deref().or(named.map(Path::new)))?;
    Ok(merge::Layers { flags, env, file })
}

/// Loads and validates the configuration from the flags, the environment and the file.
pub fn load(flags: &Flags, env: &Env) -> Result<Config> {
    merge::build(&layers(flags, env)?)
}

/// The configuration a file at `path` with this `text` gives, with `env` and no flags (the
/// fuzz targets' door: the file's parser and the validation behind it, without a file).
#[cfg(feature = "fake")]
pub fn load_text(path: &Path, text: &str, env: &Env) -> Result<Config> {
    let (flags, file) = (&Flags::default(), file::parse(path, text)?);
    merge::build(&merge::Layers { flags, env, file })
}

/// Only the listen address and the web configuration file (for `healthcheck`, which must
/// work even where the rest of the configuration, such as credentials, is not visible).
pub fn endpoint(flags: &Flags, env: &Env) -> Result<(SocketAddr, Option<PathBuf>)> {
    merge::endpoint(&layers(flags, env)?)
}

#[cfg(test)]
#[path = "../../tests/unit/config.rs"]
mod tests;
