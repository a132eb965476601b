//! Merge and validate: every key is declared once in the table below (its name in the file,
//! its flag, its environment variable, its default), and one function picks a value
//! flag > environment > file > default, remembering where it came from, so that an invalid
//! value is refused naming the key, the origin and the value. The table also writes each
//! flag's `--help` text and is checked against the README's configuration table.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::file::{FileAccount, FileValues};
use super::{
    accounts, Config, ConfigError, Env, Flags, Globs, LogFormat, RateLimitConfig, RetryConfig,
};
use crate::cloudflare::{DEFAULT_BASE_URL, MAX_PER_PAGE};

/// Reads one flag's value from the parsed command line.
pub type FlagValue = fn(&Flags) -> Option<&str>;

/// One configuration key: where it can be set and its default.
pub struct Key {
    /// The key as written in the file (`retry.max_elapsed`).
    pub name: &'static str,
    /// The flag and how to read it from [`Flags`], where there is one.
    pub flag: Option<(&'static str, FlagValue)>,
    /// The environment variable, where there is one.
    pub env: Option<&'static str>,
    /// The default, as it would be written.
    pub default: &'static str,
}

impl Key {
    /// A flag's help text with its variable and default, so `--help` cannot drift from the
    /// table.
    pub fn help(&self, what: &str) -> String {
        match self.env {
            Some(env) => format!("{what} [env: {env}] [default: {}]", self.default),
            None => format!("{what} [default: {}]", self.default),
        }
    }
}

macro_rules! keys {
    ($($id:ident $name:literal $(flag $flag:literal $field:ident)? $(env $env:literal)? = $default:expr;)*) => {
        $(#[doc = concat!("`", $name, "`")]
        pub const $id: Key = Key {
            name: $name,
            flag: keys!(@flag $($flag $field)?),
            env: keys!(@env $($env)?),
            default: $default,
        };)*
        /// Every key of the file.
        pub const KEYS: &[&Key] = &[$(&$id),*];
    };
    (@flag $flag:literal $field:ident) => { Some(($flag, |f: &Flags| f.$field.as_deref())) };
    (@flag) => { None };
    (@env $env:literal) => { Some($env) };
    (@env) => { None };
}

keys! {
    LISTEN "listen" flag "--listen" listen env "MCP_SYNC_LISTEN" = "0.0.0.0:9878";
    INTERVAL "interval" flag "--interval" interval env "MCP_SYNC_INTERVAL" = "5m";
    STALE_AFTER "stale_after" flag "--stale-after" stale_after env "MCP_SYNC_STALE_AFTER" = "3h";
    DRY_RUN "dry_run" flag "--dry-run" dry_run env "MCP_SYNC_DRY_RUN" = "false";
    SYNC_CONCURRENCY "sync_concurrency" = "4";
    LIST_CONCURRENCY "list_concurrency" = "4";
    PER_PAGE "per_page" = "100";
    REQUEST_TIMEOUT "request_timeout" = "30s";
    RETRY_INITIAL "retry.initial_interval" = "1s";
    RETRY_MULTIPLIER "retry.multiplier" = "2.0";
    RETRY_MAX_INTERVAL "retry.max_interval" = "60s";
    RETRY_MAX_ELAPSED "retry.max_elapsed" = "5m";
    FAILURE_BACKOFF_MAX "failure_backoff_max" = "6h";
    RATE_REQUESTS "rate_limit.requests" = "600";
    RATE_PER "rate_limit.per" = "5m";
    BASE_URL "api.base_url" env "CLOUDFLARE_BASE_URL" = DEFAULT_BASE_URL;
    LOG_FORMAT "log.format" flag "--log-format" log_format env "MCP_SYNC_LOG_FORMAT" = "text";
    WEB_CONFIG_FILE "web.config_file" flag "--web.config.file" web_config_file
        env "MCP_SYNC_WEB_CONFIG_FILE" = "none (plain HTTP, no authentication)";
    WEB_MAX_CONNECTIONS "web.max_connections" flag "--web.max-connections" web_max_connections
        env "MCP_SYNC_WEB_MAX_CONNECTIONS" = "512";
    CAPABILITIES_PINS "capabilities.pins" flag "--capabilities.pins" capabilities_pins
        env "MCP_SYNC_CAPABILITIES_PINS" = "none (no pins: no drift is reported)";
    PORTALS_INTERVAL "portals.interval" flag "--portals.interval" portals_interval
        env "MCP_SYNC_PORTALS_INTERVAL" = "10m";
}

/// A value and where it came from.
struct Raw {
    value: String,
    origin: String,
}

/// The layers a value can come from.
pub(super) struct Layers<'a> {
    flags: &'a Flags,
    env: &'a Env,
    file: FileValues,
    file_origin: String,
}

impl<'a> Layers<'a> {
    pub(super) fn new(
        flags: &'a Flags,
        env: &'a Env,
        path: Option<&Path>,
        file: FileValues,
    ) -> Self {
        let file_origin = match path {
            Some(p) => format!("file {}", p.display()),
            None => "file".into(),
        };
        Self {
            flags,
            env,
            file,
            file_origin,
        }
    }

    /// Flag > environment > file > default, with the origin.
    fn pick(&self, key: &Key) -> Result<Raw, ConfigError> {
        let raw = |value: &str, origin: String| Raw {
            value: value.to_owned(),
            origin,
        };
        if let Some(v) = key
            .flag
            .and_then(|(name, get)| Some(raw(get(self.flags)?, format!("flag {name}"))))
        {
            return Ok(v);
        }
        if let Some(v) = key
            .env
            .and_then(|n| Some(raw(self.env.get(n)?, format!("environment variable {n}"))))
        {
            return Ok(v);
        }
        Ok(match self.file.get(key.name) {
            Some(toml::Value::String(s)) => raw(s, self.file_origin.clone()),
            Some(v) => {
                return Err(invalid(
                    key.name,
                    kind(v),
                    &self.file_origin,
                    "expected one value",
                ))
            }
            None => raw(key.default, "default".into()),
        })
    }

    /// The value of `key`, parsed; a refusal names the key, the value and its origin.
    fn get<T>(
        &self,
        key: &Key,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<T, ConfigError> {
        let r = self.pick(key)?;
        parse(r.value.trim()).map_err(|reason| invalid(key.name, &r.value, &r.origin, reason))
    }

    fn duration(&self, key: &Key) -> Result<Duration, ConfigError> {
        self.get(key, duration)
    }

    fn int(&self, key: &Key, lo: i64, hi: i64) -> Result<i64, ConfigError> {
        self.get(key, |v| match v.parse::<i64>() {
            Ok(v) if (lo..=hi).contains(&v) => Ok(v),
            _ => Err(format!("must be a whole number between {lo} and {hi}")),
        })
    }

    /// A path, or none where it is unset or empty.
    fn path(&self, key: &Key) -> Result<Option<PathBuf>, ConfigError> {
        let r = self.pick(key)?;
        Ok((r.origin != "default" && !r.value.trim().is_empty())
            .then(|| PathBuf::from(r.value.trim())))
    }

    /// The pin file, if any; it must exist (its content is read by `pins`, which names what
    /// is wrong in it).
    fn pins(&self) -> Result<Option<PathBuf>, ConfigError> {
        let Some(path) = self.path(&CAPABILITIES_PINS)? else {
            return Ok(None);
        };
        self.get(&CAPABILITIES_PINS, |_| match std::fs::metadata(&path) {
            Ok(m) if m.is_file() => Ok(Some(path.clone())),
            Ok(_) => Err("not a file".into()),
            Err(e) => Err(format!(
                "cannot read the pin file: {e} (`mcp-sync-monitor pins export` writes one)"
            )),
        })
    }

    /// The web configuration file, if any.
    pub(super) fn web_config_file(&self) -> Result<Option<PathBuf>, ConfigError> {
        self.path(&WEB_CONFIG_FILE)
    }

    pub(super) fn listen(&self) -> Result<SocketAddr, ConfigError> {
        self.get(&LISTEN, |v| {
            v.parse()
                .map_err(|_| "expected an address like 0.0.0.0:9878 or [::]:9878".into())
        })
    }

    /// A list of strings from the file.
    fn list<T: serde::de::DeserializeOwned>(&self, key: &str) -> Result<Vec<T>, ConfigError> {
        match self.file.get(key) {
            None => Ok(Vec::new()),
            Some(v) => v.clone().try_into().map_err(|e| {
                invalid(
                    key,
                    kind(v),
                    &self.file_origin,
                    format!("expected a list: {e}"),
                )
            }),
        }
    }
}

/// An invalid value of `key`.
pub(super) fn invalid(
    key: &str,
    value: impl fmt::Display,
    origin: &str,
    reason: impl Into<String>,
) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        value: value.to_string(),
        origin: origin.into(),
        reason: reason.into(),
    }
}

/// What a file value is, for a refusal of a value of the wrong shape.
fn kind(v: &toml::Value) -> &'static str {
    match v {
        toml::Value::Array(_) => "a list",
        toml::Value::Table(_) => "a table",
        _ => "a single value",
    }
}

/// A humantime duration, zero refused.
fn duration(raw: &str) -> Result<Duration, String> {
    match humantime::parse_duration(raw) {
        Ok(d) if d.is_zero() => Err("must be greater than zero".into()),
        Ok(d) => Ok(d),
        Err(e) => Err(format!("not a duration ({e}); use e.g. 90s, 5m, 1h 30m")),
    }
}

/// `0` (or any zero duration) is off.
fn duration_or_off(raw: &str) -> Result<Option<Duration>, String> {
    match humantime::parse_duration(raw) {
        Ok(d) => Ok((!d.is_zero()).then_some(d)),
        Err(_) if raw == "0" => Ok(None),
        Err(e) => Err(format!(
            "not a duration ({e}); use e.g. 10m, or 0 to turn it off"
        )),
    }
}

fn boolean(raw: &str) -> Result<bool, String> {
    match raw.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" | "" => Ok(false),
        _ => Err("expected true or false".into()),
    }
}

fn base_url(raw: &str) -> Result<String, String> {
    let url = raw.trim_end_matches('/');
    let scheme_ok = ["http://", "https://"].iter().any(|p| {
        url.len() > p.len()
            && url
                .get(..p.len())
                .is_some_and(|s| s.eq_ignore_ascii_case(p))
    });
    if !scheme_ok || url.contains(char::is_whitespace) {
        return Err("must be an http:// or https:// URL".into());
    }
    Ok(url.to_owned())
}

fn log_format(raw: &str) -> Result<LogFormat, String> {
    match raw.to_ascii_lowercase().as_str() {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        _ => Err("expected text or json".into()),
    }
}

/// Builds the validated configuration from the layers.
pub(super) fn build(l: &Layers<'_>) -> Result<Config, ConfigError> {
    Ok(Config {
        listen: l.listen()?,
        interval: l.duration(&INTERVAL)?,
        stale_after: l.duration(&STALE_AFTER)?,
        dry_run: l.get(&DRY_RUN, boolean)?,
        sync_concurrency: l.int(&SYNC_CONCURRENCY, 1, 256)? as usize,
        list_concurrency: l.int(&LIST_CONCURRENCY, 1, 64)? as usize,
        per_page: l.int(&PER_PAGE, 1, i64::from(MAX_PER_PAGE))? as u32,
        request_timeout: l.duration(&REQUEST_TIMEOUT)?,
        failure_backoff_max: l.duration(&FAILURE_BACKOFF_MAX)?,
        retry: retry(l)?,
        rate_limit: RateLimitConfig {
            requests: l.int(&RATE_REQUESTS, 1, 1_000_000)? as u32,
            per: l.duration(&RATE_PER)?,
        },
        base_url: l.get(&BASE_URL, base_url)?,
        log_format: l.get(&LOG_FORMAT, log_format)?,
        max_connections: l.int(&WEB_MAX_CONNECTIONS, 1, 65_536)? as usize,
        web_config_file: l.web_config_file()?,
        pins: l.pins()?,
        portals_interval: l.get(&PORTALS_INTERVAL, duration_or_off)?,
        accounts: accounts::build(l.env, l.list::<FileAccount>("accounts")?, &l.file_origin)?,
        include: filter(l, "include")?,
        exclude: filter(l, "exclude")?,
    })
}

fn retry(l: &Layers<'_>) -> Result<RetryConfig, ConfigError> {
    let retry = RetryConfig {
        initial_interval: l.duration(&RETRY_INITIAL)?,
        multiplier: l.get(&RETRY_MULTIPLIER, |v| match v.parse::<f64>() {
            Ok(v) if v.is_finite() && (1.0..=10.0).contains(&v) => Ok(v),
            _ => Err("must be between 1.0 and 10.0".into()),
        })?,
        max_interval: l.duration(&RETRY_MAX_INTERVAL)?,
        max_elapsed: l.duration(&RETRY_MAX_ELAPSED)?,
    };
    if retry.max_interval < retry.initial_interval {
        return Err(invalid(
            RETRY_MAX_INTERVAL.name,
            humantime::format_duration(retry.max_interval),
            &l.file_origin,
            format!(
                "must not be shorter than retry.initial_interval ({})",
                humantime::format_duration(retry.initial_interval)
            ),
        ));
    }
    Ok(retry)
}

fn filter(l: &Layers<'_>, key: &str) -> Result<Globs, ConfigError> {
    let list: Vec<String> = l.list(key)?;
    match list.iter().find(|p| p.trim().is_empty()) {
        Some(p) => Err(invalid(
            key,
            p,
            &l.file_origin,
            "an empty pattern matches nothing; remove it",
        )),
        None => Ok(Globs::new(list)),
    }
}
