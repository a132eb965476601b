//! Merge and validate: every key is declared once as a `Key` constant (its name in
//! the file, its flag, its environment variable, its default), and one function picks a
//! value flag > environment > file > default, remembering where it came from, so that an
//! invalid value is refused naming the key, the origin and the value.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::file::FileConfig;
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

const fn file_only(name: &'static str, default: &'static str) -> Key {
    Key {
        name,
        flag: None,
        env: None,
        default,
    }
}

/// `listen`
pub const LISTEN: Key = Key {
    name: "listen",
    flag: Some(("--listen", |f| f.listen.as_deref())),
    env: Some("MCP_SYNC_LISTEN"),
    default: "0.0.0.0:9878",
};
/// `interval`
pub const INTERVAL: Key = Key {
    name: "interval",
    flag: Some(("--interval", |f| f.interval.as_deref())),
    env: Some("MCP_SYNC_INTERVAL"),
    default: "5m",
};
/// `stale_after`
pub const STALE_AFTER: Key = Key {
    name: "stale_after",
    flag: Some(("--stale-after", |f| f.stale_after.as_deref())),
    env: Some("MCP_SYNC_STALE_AFTER"),
    default: "3h",
};
/// `dry_run`
pub const DRY_RUN: Key = Key {
    name: "dry_run",
    flag: Some(("--dry-run", |f| f.dry_run.as_deref())),
    env: Some("MCP_SYNC_DRY_RUN"),
    default: "false",
};
/// `log.format`
pub const LOG_FORMAT: Key = Key {
    name: "log.format",
    flag: Some(("--log-format", |f| f.log_format.as_deref())),
    env: Some("MCP_SYNC_LOG_FORMAT"),
    default: "text",
};
/// `web.config_file`
pub const WEB_CONFIG_FILE: Key = Key {
    name: "web.config_file",
    flag: Some(("--web.config.file", |f| f.web_config_file.as_deref())),
    env: Some("MCP_SYNC_WEB_CONFIG_FILE"),
    default: "none (plain HTTP, no authentication)",
};
/// `web.max_connections`
pub const WEB_MAX_CONNECTIONS: Key = Key {
    name: "web.max_connections",
    flag: Some(("--web.max-connections", |f| {
        f.web_max_connections.as_deref()
    })),
    env: Some("MCP_SYNC_WEB_MAX_CONNECTIONS"),
    default: "512",
};
/// `capabilities.pins`
pub const CAPABILITIES_PINS: Key = Key {
    name: "capabilities.pins",
    flag: Some(("--capabilities.pins", |f| f.capabilities_pins.as_deref())),
    env: Some("MCP_SYNC_CAPABILITIES_PINS"),
    default: "none (no pins: no drift is reported)",
};
/// `api.base_url`
pub const BASE_URL: Key = Key {
    name: "api.base_url",
    flag: None,
    env: Some("CLOUDFLARE_BASE_URL"),
    default: DEFAULT_BASE_URL,
};
const REQUEST_TIMEOUT: Key = file_only("request_timeout", "30s");
const FAILURE_BACKOFF_MAX: Key = file_only("failure_backoff_max", "6h");
const SYNC_CONCURRENCY: Key = file_only("sync_concurrency", "4");
const LIST_CONCURRENCY: Key = file_only("list_concurrency", "4");
const PER_PAGE: Key = file_only("per_page", "100");
const RETRY_INITIAL: Key = file_only("retry.initial_interval", "1s");
const RETRY_MULTIPLIER: Key = file_only("retry.multiplier", "2.0");
const RETRY_MAX_INTERVAL: Key = file_only("retry.max_interval", "60s");
const RETRY_MAX_ELAPSED: Key = file_only("retry.max_elapsed", "5m");
const RATE_REQUESTS: Key = file_only("rate_limit.requests", "600");
const RATE_PER: Key = file_only("rate_limit.per", "5m");

/// A value and where it came from.
pub(super) struct Raw {
    value: String,
    origin: String,
}

/// The layers a value can come from.
pub(super) struct Layers<'a> {
    flags: &'a Flags,
    env: &'a Env,
    file_origin: String,
}

impl<'a> Layers<'a> {
    pub(super) fn new(flags: &'a Flags, env: &'a Env, path: Option<&Path>) -> Self {
        let file_origin = match path {
            Some(p) => format!("file {}", p.display()),
            None => "file".into(),
        };
        Self {
            flags,
            env,
            file_origin,
        }
    }

    /// Flag > environment > file > default, with the origin.
    fn pick(&self, key: &Key, file: Option<String>) -> Raw {
        let from_flag = key
            .flag
            .and_then(|(name, get)| Some((get(self.flags)?, format!("flag {name}"))));
        let from_env = || {
            key.env.and_then(|name| {
                let v = self.env.get(name)?;
                Some((v.as_str(), format!("environment variable {name}")))
            })
        };
        match from_flag.or_else(from_env) {
            Some((v, origin)) => Raw {
                value: v.to_owned(),
                origin,
            },
            None => match file {
                Some(value) => Raw {
                    value,
                    origin: self.file_origin.clone(),
                },
                None => Raw {
                    value: key.default.to_owned(),
                    origin: "default".into(),
                },
            },
        }
    }

    fn duration(&self, key: &Key, file: Option<String>) -> Result<Duration, ConfigError> {
        let r = self.pick(key, file);
        parse_duration(key.name, &r.value, &r.origin)
    }

    fn int(&self, key: &Key, file: Option<i64>, lo: i64, hi: i64) -> Result<i64, ConfigError> {
        let r = self.pick(key, file.map(|v| v.to_string()));
        match r.value.trim().parse::<i64>() {
            Ok(v) if (lo..=hi).contains(&v) => Ok(v),
            _ => Err(invalid(
                key.name,
                &r.value,
                &r.origin,
                format!("must be a whole number between {lo} and {hi}"),
            )),
        }
    }

    /// The pin file, if any (an empty value is none); it must exist (its content is read
    /// by `pins`, which names what is wrong in it).
    pub(super) fn pins(&self, file: Option<String>) -> Result<Option<PathBuf>, ConfigError> {
        let picked = self.pick(&CAPABILITIES_PINS, file);
        let path = picked.value.trim();
        if picked.origin == "default" || path.is_empty() {
            return Ok(None);
        }
        match std::fs::metadata(path) {
            Ok(m) if m.is_file() => Ok(Some(PathBuf::from(path))),
            Ok(_) => Err(invalid(
                CAPABILITIES_PINS.name,
                &picked.value,
                &picked.origin,
                "not a file",
            )),
            Err(e) => Err(invalid(
                CAPABILITIES_PINS.name,
                &picked.value,
                &picked.origin,
                format!(
                    "cannot read the pin file: {e} (`mcp-sync-monitor pins export` writes one)"
                ),
            )),
        }
    }

    /// The web configuration file, if any (an empty value is none).
    pub(super) fn web_config_file(&self, file: Option<String>) -> Option<PathBuf> {
        let picked = self.pick(&WEB_CONFIG_FILE, file);
        (picked.origin != "default" && !picked.value.trim().is_empty())
            .then(|| PathBuf::from(picked.value.trim()))
    }

    pub(super) fn listen(&self, file: Option<String>) -> Result<SocketAddr, ConfigError> {
        let r = self.pick(&LISTEN, file);
        r.value.trim().parse().map_err(|_| {
            invalid(
                LISTEN.name,
                &r.value,
                &r.origin,
                "expected an address like 0.0.0.0:9878 or [::]:9878",
            )
        })
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

/// Parses a humantime duration; zero is refused.
pub fn parse_duration(key: &str, raw: &str, origin: &str) -> Result<Duration, ConfigError> {
    let d = humantime::parse_duration(raw.trim()).map_err(|e| {
        invalid(
            key,
            raw,
            origin,
            format!("not a duration ({e}); use e.g. 90s, 5m, 1h 30m"),
        )
    })?;
    if d.is_zero() {
        return Err(invalid(key, raw, origin, "must be greater than zero"));
    }
    Ok(d)
}

fn parse_bool(key: &str, raw: &str, origin: &str) -> Result<bool, ConfigError> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" | "" => Ok(false),
        _ => Err(invalid(key, raw, origin, "expected true or false")),
    }
}

/// Builds the validated configuration from the layers and the file.
pub(super) fn build(l: &Layers<'_>, file: FileConfig) -> Result<Config, ConfigError> {
    let dry = l.pick(&DRY_RUN, file.dry_run.map(|b| b.to_string()));
    let fr = file.retry.unwrap_or_default();
    let frl = file.rate_limit.unwrap_or_default();
    let (include, exclude) = filters(l, file.include, file.exclude)?;
    let web = file.web.unwrap_or_default();
    Ok(Config {
        listen: l.listen(file.listen)?,
        interval: l.duration(&INTERVAL, file.interval)?,
        stale_after: l.duration(&STALE_AFTER, file.stale_after)?,
        dry_run: parse_bool(DRY_RUN.name, &dry.value, &dry.origin)?,
        sync_concurrency: l.int(&SYNC_CONCURRENCY, file.sync_concurrency, 1, 256)? as usize,
        list_concurrency: l.int(&LIST_CONCURRENCY, file.list_concurrency, 1, 64)? as usize,
        per_page: l.int(&PER_PAGE, file.per_page, 1, i64::from(MAX_PER_PAGE))? as u32,
        request_timeout: l.duration(&REQUEST_TIMEOUT, file.request_timeout)?,
        failure_backoff_max: l.duration(&FAILURE_BACKOFF_MAX, file.failure_backoff_max)?,
        retry: retry(l, fr)?,
        rate_limit: RateLimitConfig {
            requests: l.int(&RATE_REQUESTS, frl.requests, 1, 1_000_000)? as u32,
            per: l.duration(&RATE_PER, frl.per)?,
        },
        base_url: base_url(l, file.api.and_then(|a| a.base_url))?,
        log_format: log_format(l, file.log.and_then(|x| x.format))?,
        max_connections: l.int(&WEB_MAX_CONNECTIONS, web.max_connections, 1, 65_536)? as usize,
        web_config_file: l.web_config_file(web.config_file),
        pins: l.pins(file.capabilities.and_then(|c| c.pins))?,
        accounts: accounts::build(l.env, file.accounts, &l.file_origin)?,
        include,
        exclude,
    })
}

fn retry(l: &Layers<'_>, fr: super::file::FileRetry) -> Result<RetryConfig, ConfigError> {
    let m = l.pick(&RETRY_MULTIPLIER, fr.multiplier.map(|m| m.to_string()));
    let multiplier = match m.value.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && (1.0..=10.0).contains(&v) => v,
        _ => {
            return Err(invalid(
                RETRY_MULTIPLIER.name,
                &m.value,
                &m.origin,
                "must be between 1.0 and 10.0",
            ))
        }
    };
    let retry = RetryConfig {
        initial_interval: l.duration(&RETRY_INITIAL, fr.initial_interval)?,
        multiplier,
        max_interval: l.duration(&RETRY_MAX_INTERVAL, fr.max_interval)?,
        max_elapsed: l.duration(&RETRY_MAX_ELAPSED, fr.max_elapsed)?,
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

fn base_url(l: &Layers<'_>, file: Option<String>) -> Result<String, ConfigError> {
    let r = l.pick(&BASE_URL, file);
    let url = r.value.trim().trim_end_matches('/').to_owned();
    let scheme_ok = ["http://", "https://"].iter().any(|p| {
        url.len() > p.len()
            && url
                .get(..p.len())
                .is_some_and(|s| s.eq_ignore_ascii_case(p))
    });
    if !scheme_ok || url.contains(char::is_whitespace) {
        return Err(invalid(
            BASE_URL.name,
            &r.value,
            &r.origin,
            "must be an http:// or https:// URL",
        ));
    }
    Ok(url)
}

fn log_format(l: &Layers<'_>, file: Option<String>) -> Result<LogFormat, ConfigError> {
    let r = l.pick(&LOG_FORMAT, file);
    match r.value.trim().to_ascii_lowercase().as_str() {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        _ => Err(invalid(
            LOG_FORMAT.name,
            &r.value,
            &r.origin,
            "expected text or json",
        )),
    }
}

fn filters(
    l: &Layers<'_>,
    include: Option<Vec<String>>,
    exclude: Option<Vec<String>>,
) -> Result<(Globs, Globs), ConfigError> {
    let (include, exclude) = (include.unwrap_or_default(), exclude.unwrap_or_default());
    for (key, list) in [("include", &include), ("exclude", &exclude)] {
        if let Some(p) = list.iter().find(|p| p.trim().is_empty()) {
            return Err(invalid(
                key,
                p,
                &l.file_origin,
                "an empty pattern matches nothing; remove it",
            ));
        }
    }
    Ok((Globs::new(include), Globs::new(exclude)))
}
