//! Merge and validate: every key is declared once in the table below (its name in the file,
//! its default, its environment variable, its flag and the flag's help), which also declares
//! the command line's [`Flags`] for clap, and one function picks a value flag > environment >
//! file > default, remembering where it came from, so that an invalid value is refused naming
//! the key, the origin and the value. A test checks the table against the README's.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::file::{FileAccount, FileValues};
use super::{accounts, Config, ConfigError, Env, Globs, LogFormat, RateLimitConfig, RetryConfig};
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
    ($($id:ident $name:literal = $default:expr $(, env $env:literal)?
        $(, flag $field:ident $long:literal $value:literal $what:literal $([$($arg:tt)*])?)?;)*) => {
        $(#[doc = concat!("`", $name, "`")]
        pub const $id: Key = Key {
            name: $name,
            flag: keys!(@flag $($long $field)?),
            env: keys!(@env $($env)?),
            default: $default,
        };)*
        /// Every key of the file.
        pub const KEYS: &[&Key] = &[$(&$id),*];
        /// Values given on the command line (`None` where a flag was not given), declared for
        /// clap so that `main` flattens them instead of copying them.
        #[derive(Debug, Clone, Default, clap::Args)]
        pub struct Flags {
            /// Configuration file (TOML) [env: MCP_SYNC_CONFIG]
            #[arg(long, global = true, value_name = "FILE")]
            pub config: Option<PathBuf>,
            $($(#[arg(long = $long, global = true, value_name = $value, help = $id.help($what) $(, $($arg)*)?)]
            #[doc = concat!("`--", $long, "`")]
            pub $field: Option<String>,)?)*
        }
    };
    (@flag $long:literal $field:ident) => { Some((concat!("--", $long), |f: &Flags| f.$field.as_deref())) };
    (@flag) => { None };
    (@env $env:literal) => { Some($env) };
    (@env) => { None };
}

keys! {
    LISTEN "listen" = "0.0.0.0:9878", env "MCP_SYNC_LISTEN",
        flag listen "listen" "ADDR" "Address of the HTTP endpoints";
    INTERVAL "interval" = "5m", env "MCP_SYNC_INTERVAL",
        flag interval "interval" "DURATION" "Time between cycles, e.g. 5m";
    STALE_AFTER "stale_after" = "3h", env "MCP_SYNC_STALE_AFTER",
        flag stale_after "stale-after" "DURATION" "A server not synced successfully for this long is stale";
    DRY_RUN "dry_run" = "false", env "MCP_SYNC_DRY_RUN",
        flag dry_run "dry-run" "BOOL" "Decide and report, but never sync; --dry-run=false turns off a dry_run set elsewhere"
        [num_args = 0..=1, require_equals = true, default_missing_value = "true"];
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
    BASE_URL "api.base_url" = DEFAULT_BASE_URL, env "CLOUDFLARE_BASE_URL";
    LOG_FORMAT "log.format" = "text", env "MCP_SYNC_LOG_FORMAT",
        flag log_format "log-format" "FORMAT" "Log format: text or json";
    WEB_CONFIG_FILE "web.config_file" = "none (plain HTTP, no authentication)", env "MCP_SYNC_WEB_CONFIG_FILE",
        flag web_config_file "web.config.file" "FILE" "Web configuration (exporter-toolkit format): TLS, basic auth, headers";
    WEB_MAX_CONNECTIONS "web.max_connections" = "512", env "MCP_SYNC_WEB_MAX_CONNECTIONS",
        flag web_max_connections "web.max-connections" "N" "HTTP connections served at once; one more is answered 503";
    CAPABILITIES_PINS "capabilities.pins" = "none (no pins: no drift is reported)", env "MCP_SYNC_CAPABILITIES_PINS",
        flag capabilities_pins "capabilities.pins" "FILE" "Pin file of approved tool and prompt fingerprints (`pins export` writes one); drift from it is reported until approved";
    PORTALS_INTERVAL "portals.interval" = "10m", env "MCP_SYNC_PORTALS_INTERVAL",
        flag portals_interval "portals.interval" "DURATION" "Time between portal listings; 0 turns them off";
}

/// The layers a value can come from, and where each value picked came from.
pub(super) struct Layers<'a> {
    flags: &'a Flags,
    env: &'a Env,
    file: FileValues,
    file_origin: String,
    origins: RefCell<BTreeMap<&'static str, String>>,
}

impl<'a> Layers<'a> {
    pub(super) fn new(
        flags: &'a Flags,
        env: &'a Env,
        path: Option<&Path>,
        file: FileValues,
    ) -> Self {
        let file_origin = path.map_or_else(|| "file".into(), |p| format!("file {}", p.display()));
        Self {
            flags,
            env,
            file,
            file_origin,
            origins: RefCell::default(),
        }
    }

    /// Flag > environment > file > default: the value and where it came from (remembered
    /// for `check-config`).
    fn pick(&self, key: &Key) -> Result<(String, String), ConfigError> {
        let picked = self.layer(key)?;
        self.origins.borrow_mut().insert(key.name, picked.1.clone());
        Ok(picked)
    }

    fn layer(&self, key: &Key) -> Result<(String, String), ConfigError> {
        let flag = key
            .flag
            .and_then(|(name, get)| Some((get(self.flags)?, format!("flag {name}"))));
        let env = || {
            key.env.and_then(|n| {
                Some((
                    self.env.get(n)?.as_str(),
                    format!("environment variable {n}"),
                ))
            })
        };
        if let Some((v, origin)) = flag.or_else(env) {
            return Ok((v.to_owned(), origin));
        }
        match self.file.get(key.name) {
            Some(toml::Value::String(s)) => Ok((s.clone(), self.file_origin.clone())),
            Some(v) => Err(invalid(
                key.name,
                kind(v),
                &self.file_origin,
                "expected one value",
            )),
            None => Ok((key.default.to_owned(), "default".into())),
        }
    }

    /// The value of `key`, parsed; a refusal names the key, the value and its origin.
    fn get<T>(
        &self,
        key: &Key,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<T, ConfigError> {
        let (value, origin) = self.pick(key)?;
        parse(value.trim()).map_err(|reason| invalid(key.name, &value, &origin, reason))
    }

    fn int(&self, key: &Key, lo: i64, hi: i64) -> Result<i64, ConfigError> {
        self.get(key, |v| match v.parse::<i64>() {
            Ok(v) if (lo..=hi).contains(&v) => Ok(v),
            _ => Err(format!("must be a whole number between {lo} and {hi}")),
        })
    }

    /// A path, or none where it is not set or empty; a pin file must be a file (its content
    /// is read by `pins`, which names what is wrong in it).
    fn path(&self, key: &Key) -> Result<Option<PathBuf>, ConfigError> {
        let (value, origin) = self.pick(key)?;
        let path = PathBuf::from(value.trim());
        if origin == "default" || value.trim().is_empty() {
            return Ok(None);
        }
        match std::fs::metadata(&path) {
            _ if key.name != CAPABILITIES_PINS.name => Ok(Some(path)),
            Ok(m) if m.is_file() => Ok(Some(path)),
            Ok(_) => Err(invalid(key.name, &value, &origin, "not a file")),
            Err(e) => {
                let why = format!(
                    "cannot read the pin file: {e} (`mcp-sync-monitor pins export` writes one)"
                );
                Err(invalid(key.name, &value, &origin, why))
            }
        }
    }

    /// The web configuration file, if any.
    pub(super) fn web_config_file(&self) -> Result<Option<PathBuf>, ConfigError> {
        self.path(&WEB_CONFIG_FILE)
    }

    pub(super) fn listen(&self) -> Result<SocketAddr, ConfigError> {
        let why = "expected an address like 0.0.0.0:9878 or [::]:9878";
        self.get(&LISTEN, |v| v.parse().map_err(|_| why.into()))
    }

    /// A list from the file.
    fn list<T: serde::de::DeserializeOwned>(&self, key: &str) -> Result<Vec<T>, ConfigError> {
        let Some(v) = self.file.get(key) else {
            return Ok(Vec::new());
        };
        let list = v.clone().try_into();
        list.map_err(|e| {
            invalid(
                key,
                kind(v),
                &self.file_origin,
                format!("expected a list: {e}"),
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
    let (key, value, origin, reason) =
        (key.into(), value.to_string(), origin.into(), reason.into());
    ConfigError::Invalid {
        key,
        value,
        origin,
        reason,
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

/// A humantime duration; `off` says whether zero turns the key off (`None`) or is refused.
fn duration(raw: &str, off: bool) -> Result<Option<Duration>, String> {
    match humantime::parse_duration(raw) {
        Ok(d) if !d.is_zero() => Ok(Some(d)),
        Ok(_) if !off => Err("must be greater than zero".into()),
        Err(_) if off && raw == "0" => Ok(None),
        Ok(_) => Ok(None),
        Err(e) if off => Err(format!(
            "not a duration ({e}); use e.g. 10m, or 0 to turn it off"
        )),
        Err(e) => Err(format!("not a duration ({e}); use e.g. 90s, 5m, 1h 30m")),
    }
}

fn one_of<T: Copy>(raw: &str, choices: &[(&[&str], T)], expected: &str) -> Result<T, String> {
    let raw = raw.to_ascii_lowercase();
    let found = choices
        .iter()
        .find(|(words, _)| words.contains(&raw.as_str()));
    found
        .map(|(_, v)| *v)
        .ok_or_else(|| format!("expected {expected}"))
}

fn base_url(raw: &str) -> Result<String, String> {
    let url = raw.trim_end_matches('/');
    let scheme = |p: &str| {
        url.len() > p.len()
            && url
                .get(..p.len())
                .is_some_and(|s| s.eq_ignore_ascii_case(p))
    };
    match (scheme("http://") || scheme("https://")) && !url.contains(char::is_whitespace) {
        true => Ok(url.to_owned()),
        false => Err("must be an http:// or https:// URL".into()),
    }
}

/// Builds the validated configuration from the layers.
pub(super) fn build(l: &Layers<'_>) -> Result<Config, ConfigError> {
    let d = |key: &Key| Ok(l.get(key, |v| duration(v, false))?.unwrap_or_default());
    let bools: &[(&[&str], bool)] = &[
        (&["1", "true", "yes", "on"], true),
        (&["0", "false", "no", "off", ""], false),
    ];
    let formats: &[(&[&str], LogFormat)] =
        &[(&["text"], LogFormat::Text), (&["json"], LogFormat::Json)];
    Ok(Config {
        listen: l.listen()?,
        interval: d(&INTERVAL)?,
        stale_after: d(&STALE_AFTER)?,
        dry_run: l.get(&DRY_RUN, |v| one_of(v, bools, "true or false"))?,
        sync_concurrency: l.int(&SYNC_CONCURRENCY, 1, 256)? as usize,
        list_concurrency: l.int(&LIST_CONCURRENCY, 1, 64)? as usize,
        per_page: l.int(&PER_PAGE, 1, i64::from(MAX_PER_PAGE))? as u32,
        request_timeout: d(&REQUEST_TIMEOUT)?,
        failure_backoff_max: d(&FAILURE_BACKOFF_MAX)?,
        retry: retry(l, d)?,
        rate_limit: RateLimitConfig {
            requests: l.int(&RATE_REQUESTS, 1, 1_000_000)? as u32,
            per: d(&RATE_PER)?,
        },
        base_url: l.get(&BASE_URL, base_url)?,
        log_format: l.get(&LOG_FORMAT, |v| one_of(v, formats, "text or json"))?,
        max_connections: l.int(&WEB_MAX_CONNECTIONS, 1, 65_536)? as usize,
        web_config_file: l.web_config_file()?,
        pins: l.path(&CAPABILITIES_PINS)?,
        portals_interval: l.get(&PORTALS_INTERVAL, |v| duration(v, true))?,
        accounts: accounts::build(l.env, l.list::<FileAccount>("accounts")?, &l.file_origin)?,
        include: filter(l, "include")?,
        exclude: filter(l, "exclude")?,
        origins: l.origins.take(),
    })
}

fn retry(
    l: &Layers<'_>,
    d: impl Fn(&Key) -> Result<Duration, ConfigError>,
) -> Result<RetryConfig, ConfigError> {
    let retry = RetryConfig {
        initial_interval: d(&RETRY_INITIAL)?,
        multiplier: l.get(&RETRY_MULTIPLIER, |v| match v.parse::<f64>() {
            Ok(v) if v.is_finite() && (1.0..=10.0).contains(&v) => Ok(v),
            _ => Err("must be between 1.0 and 10.0".into()),
        })?,
        max_interval: d(&RETRY_MAX_INTERVAL)?,
        max_elapsed: d(&RETRY_MAX_ELAPSED)?,
    };
    if retry.max_interval < retry.initial_interval {
        let (max, initial) = (retry.max_interval, retry.initial_interval);
        let why = format!(
            "must not be shorter than retry.initial_interval ({})",
            humantime::format_duration(initial)
        );
        return Err(invalid(
            RETRY_MAX_INTERVAL.name,
            humantime::format_duration(max),
            &l.file_origin,
            why,
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
