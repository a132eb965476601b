//! Merge and validate: each key is declared once in the table below (name in the file,
//! default, what it does, variable, flag), which also declares clap's [`Flags`]; one function
//! picks a value flag > environment > file > default with where it came from, so a refusal
//! names the key, the origin and the value. A test checks the table against the README's.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use super::file::FileValues;
use super::{Config, ConfigError, Env, Globs, LogFormat, RateLimitConfig, Result, RetryConfig};
use crate::cloudflare::MAX_PER_PAGE;

/// One key: its name in the file (`retry.max_elapsed`), its flag and variable where it has
/// them, its default as it would be written, and how to read its flag from the command line.
pub struct Key {
    pub name: &'static str,
    pub flag: Option<&'static str>,
    pub env: Option<&'static str>,
    pub default: &'static str,
    read: fn(&Flags) -> Option<&str>,
}

/// Each key with a flag has a variable; the flag's help names both and the default, so
/// `--help` cannot drift from the table.
macro_rules! keys {
    ($($id:ident $name:literal = $default:literal, $what:literal $(, env $env:literal
        $(, flag $field:ident $long:literal $value:literal $([$($arg:tt)*])?)?)?;)*) => {
        $(#[doc = concat!("`", $name, "`: ", $what, ".")]
        pub const $id: Key = Key {
            name: $name,
            flag: keys!(@some $($(concat!("--", $long))?)?),
            env: keys!(@some $($env)?),
            default: $default,
            read: keys!(@read $($($field)?)?),
        };)*
        /// Every key of the file.
        pub const KEYS: &[&Key] = &[$(&$id),*];
        /// The flags (`None` where one was not given), declared for clap: `main` flattens them.
        #[derive(Debug, Clone, Default, clap::Args)]
        pub struct Flags {
            /// Configuration file (TOML) [env: MCP_SYNC_CONFIG]
            #[arg(long, global = true, value_name = "FILE")]
            pub config: Option<PathBuf>,
            $($($(#[arg(long = $long, global = true, value_name = $value $(, $($arg)*)?,
                help = concat!($what, " [env: ", $env, "] [default: ", $default, "]"))]
            pub $field: Option<String>,)?)?)*
        }
    };
    (@some $e:expr) => { Some($e) };
    (@some) => { None };
    (@read $field:ident) => { |f: &Flags| f.$field.as_deref() };
    (@read) => { |_: &Flags| None };
}

keys! {
    LISTEN "listen" = "0.0.0.0:9878", "Address of the HTTP endpoints", env "MCP_SYNC_LISTEN",
        flag listen "listen" "ADDR";
    INTERVAL "interval" = "5m", "Time between cycles, e.g. 5m", env "MCP_SYNC_INTERVAL",
        flag interval "interval" "DURATION";
    STALE_AFTER "stale_after" = "3h", "A server not synced successfully for this long is stale",
        env "MCP_SYNC_STALE_AFTER", flag stale_after "stale-after" "DURATION";
    DRY_RUN "dry_run" = "false",
        "Decide and report, but never sync; --dry-run=false turns off a dry_run set elsewhere",
        env "MCP_SYNC_DRY_RUN", flag dry_run "dry-run" "BOOL"
        [num_args = 0..=1, require_equals = true, default_missing_value = "true"];
    SYNC_CONCURRENCY "sync_concurrency" = "4", "Syncs at once, per account";
    LIST_CONCURRENCY "list_concurrency" = "4", "List pages fetched at once once the page count is known";
    PER_PAGE "per_page" = "100", "Page size of the list call";
    REQUEST_TIMEOUT "request_timeout" = "30s", "Bound on one request";
    RETRY_INITIAL "retry.initial_interval" = "1s", "First wait of a retry inside a cycle";
    RETRY_MULTIPLIER "retry.multiplier" = "2.0", "Growth of the wait per attempt";
    RETRY_MAX_INTERVAL "retry.max_interval" = "60s", "Longest single wait";
    RETRY_MAX_ELAPSED "retry.max_elapsed" = "5m", "Give up retrying after this long";
    FAILURE_BACKOFF_MAX "failure_backoff_max" = "6h", "Longest back-off of a failing server across cycles";
    RATE_REQUESTS "rate_limit.requests" = "600", "Requests allowed per credential and window";
    RATE_PER "rate_limit.per" = "5m", "The window those requests are counted over";
    BASE_URL "api.base_url" = "https://api.cloudflare.com/client/v4", "Cloudflare's API base URL", env "CLOUDFLARE_BASE_URL";
    LOG_FORMAT "log.format" = "text", "Log format: text or json", env "MCP_SYNC_LOG_FORMAT",
        flag log_format "log-format" "FORMAT";
    WEB_CONFIG_FILE "web.config_file" = "none (plain HTTP, no authentication)",
        "Web configuration (exporter-toolkit format): TLS, basic auth, headers",
        env "MCP_SYNC_WEB_CONFIG_FILE", flag web_config_file "web.config.file" "FILE";
    WEB_MAX_CONNECTIONS "web.max_connections" = "512",
        "HTTP connections served at once; one more is answered 503",
        env "MCP_SYNC_WEB_MAX_CONNECTIONS", flag web_max_connections "web.max-connections" "N";
    CAPABILITIES_PINS "capabilities.pins" = "none (no pins: no drift is reported)",
        "Pin file of approved tool and prompt fingerprints (`pins export` writes one); drift from it is reported until approved",
        env "MCP_SYNC_CAPABILITIES_PINS", flag capabilities_pins "capabilities.pins" "FILE";
    PORTALS_INTERVAL "portals.interval" = "10m", "Time between portal listings; 0 turns them off",
        env "MCP_SYNC_PORTALS_INTERVAL", flag portals_interval "portals.interval" "DURATION";
}

/// The layers a value can come from.
pub(super) struct Layers<'a> {
    pub(super) flags: &'a Flags,
    pub(super) env: &'a Env,
    pub(super) file: FileValues,
}

impl Layers<'_> {
    /// Flag > environment > file > default: the value and where it came from.
    fn pick(&self, key: &Key) -> (&str, String) {
        let flag = (key.read)(self.flags).zip(key.flag.map(|f| format!("flag {f}")));
        let env = key.env.and_then(|n| Some((self.env.get(n)?, n)));
        let env = env.map(|(v, n)| (v.as_str(), format!("environment variable {n}")));
        let file = self.file.values.get(key.name);
        let file = file.map(|v| (v.as_str(), self.file.origin.clone()));
        (flag.or(env).or(file)).unwrap_or((key.default, "default".into()))
    }

    /// The value of `key`, parsed; a refusal names the key, the value and its origin.
    fn get<T>(&self, key: &Key, parse: impl FnOnce(&str) -> Result<T, String>) -> Result<T> {
        let (value, origin) = self.pick(key);
        parse(value.trim()).map_err(|reason| invalid(key.name, value, &origin, reason))
    }

    /// A value checked by `check`, or none where the key is not set or empty.
    fn optional<T>(&self, key: &Key, check: fn(&str) -> Result<T, String>) -> Result<Option<T>> {
        let set = self.pick(key).1 != "default";
        self.get(key, |v| match set && !v.is_empty() {
            true => check(v).map(Some),
            false => Ok(None),
        })
    }
}

pub(super) fn invalid(key: &str, value: &str, origin: &str, why: impl Into<String>) -> ConfigError {
    let (key, value, origin, reason) = (key.into(), value.into(), origin.into(), why.into());
    ConfigError::Invalid {
        key,
        value,
        origin,
        reason,
    }
}

fn duration(raw: &str) -> Result<Duration, String> {
    match humantime::parse_duration(raw) {
        Ok(d) if d.is_zero() => Err("must be greater than zero".into()),
        Ok(d) => Ok(d),
        Err(e) => Err(format!("not a duration ({e}); use e.g. 90s, 5m, 1h 30m")),
    }
}

/// A duration where zero turns the key off.
fn duration_or_off(raw: &str) -> Result<Option<Duration>, String> {
    match humantime::parse_duration(raw) {
        Ok(d) => Ok(Some(d).filter(|d| !d.is_zero())),
        Err(_) if raw == "0" => Ok(None),
        Err(e) => Err(format!(
            "not a duration ({e}); use e.g. 10m, or 0 to turn it off"
        )),
    }
}

fn whole<T: FromStr + PartialOrd + fmt::Display>(lo: T, hi: T, raw: &str) -> Result<T, String> {
    match raw.parse::<T>() {
        Ok(n) if lo <= n && n <= hi => Ok(n),
        _ => Err(format!("must be a whole number between {lo} and {hi}")),
    }
}

fn boolean(raw: &str) -> Result<bool, String> {
    match raw.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" | "" => Ok(false),
        _ => Err("expected true or false".into()),
    }
}

fn address(raw: &str) -> Result<SocketAddr, String> {
    raw.parse()
        .map_err(|_| "expected an address like 0.0.0.0:9878 or [::]:9878".into())
}

fn base_url(raw: &str) -> Result<String, String> {
    match reqwest::Url::parse(raw) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => {
            Ok(raw.trim_end_matches('/').to_owned())
        }
        _ => Err("must be an http:// or https:// URL".into()),
    }
}

/// A pin file must be a file (its content is read by `pins`, which names what is wrong in it).
fn pin_file(raw: &str) -> Result<PathBuf, String> {
    match std::fs::metadata(raw) {
        Ok(m) if m.is_file() => Ok(raw.into()),
        Ok(_) => Err("not a file".into()),
        Err(e) => Err(format!(
            "cannot read the pin file: {e} (`mcp-sync-monitor pins export` writes one)"
        )),
    }
}

pub(super) fn endpoint(l: &Layers<'_>) -> Result<(SocketAddr, Option<PathBuf>)> {
    let listen = l.get(&LISTEN, address)?;
    Ok((listen, l.optional(&WEB_CONFIG_FILE, |v| Ok(v.into()))?))
}

pub(super) fn build(l: &Layers<'_>) -> Result<Config> {
    let retry = RetryConfig {
        initial_interval: l.get(&RETRY_INITIAL, duration)?,
        multiplier: l.get(&RETRY_MULTIPLIER, |v| match v.parse::<f64>() {
            Ok(v) if (1.0..=10.0).contains(&v) => Ok(v),
            _ => Err("must be between 1.0 and 10.0".into()),
        })?,
        max_interval: l.get(&RETRY_MAX_INTERVAL, duration)?,
        max_elapsed: l.get(&RETRY_MAX_ELAPSED, duration)?,
    };
    if retry.max_interval < retry.initial_interval {
        let (value, origin) = l.pick(&RETRY_MAX_INTERVAL);
        let initial = humantime::format_duration(retry.initial_interval);
        let why = format!("must not be shorter than retry.initial_interval ({initial})");
        return Err(invalid(RETRY_MAX_INTERVAL.name, value, &origin, why));
    }
    let (listen, web_config_file) = endpoint(l)?;
    Ok(Config {
        listen,
        interval: l.get(&INTERVAL, duration)?,
        stale_after: l.get(&STALE_AFTER, duration)?,
        dry_run: l.get(&DRY_RUN, boolean)?,
        sync_concurrency: l.get(&SYNC_CONCURRENCY, |v| whole(1, 256, v))?,
        list_concurrency: l.get(&LIST_CONCURRENCY, |v| whole(1, 64, v))?,
        per_page: l.get(&PER_PAGE, |v| whole(1, MAX_PER_PAGE, v))?,
        request_timeout: l.get(&REQUEST_TIMEOUT, duration)?,
        failure_backoff_max: l.get(&FAILURE_BACKOFF_MAX, duration)?,
        retry,
        rate_limit: RateLimitConfig {
            requests: l.get(&RATE_REQUESTS, |v| whole(1, 1_000_000, v))?,
            per: l.get(&RATE_PER, duration)?,
        },
        base_url: l.get(&BASE_URL, base_url)?,
        log_format: l.get(&LOG_FORMAT, |v| match v.to_ascii_lowercase().as_str() {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            _ => Err("expected text or json".into()),
        })?,
        max_connections: l.get(&WEB_MAX_CONNECTIONS, |v| whole(1, 65_536, v))?,
        web_config_file,
        pins: l.optional(&CAPABILITIES_PINS, pin_file)?,
        portals_interval: l.get(&PORTALS_INTERVAL, duration_or_off)?,
        accounts: super::accounts::build(l.env, &l.file)?,
        include: Globs::new(&l.file.include),
        exclude: Globs::new(&l.file.exclude),
        origins: KEYS.iter().map(|k| (k.name, l.pick(k).1)).collect(),
    })
}
