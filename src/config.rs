//! Configuration: load the TOML file, the environment and the flags, merge them
//! (flag > environment > file > default), and validate the result.
//!
//! Every invalid value is refused with a [`ConfigError`] that names the key, where the value
//! came from and the value itself (never a secret's value), so `main` can exit 2 with a
//! message an operator can act on. Loading is a pure function of its inputs: the
//! environment is passed in as a map, which keeps it testable.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::cloudflare::{Credentials, DEFAULT_BASE_URL, MAX_PER_PAGE};
use crate::secret::Secret;

/// The environment, as a map (tests pass their own).
pub type Env = HashMap<String, String>;

/// Reads the process environment, skipping variables that are not valid UTF-8.
pub fn process_env() -> Env {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect()
}

/// Values given on the command line; `None` where the flag was not given.
#[derive(Debug, Clone, Default)]
pub struct Flags {
    /// `--config`
    pub config: Option<PathBuf>,
    /// `--listen`
    pub listen: Option<String>,
    /// `--interval`
    pub interval: Option<String>,
    /// `--stale-after`
    pub stale_after: Option<String>,
    /// `--dry-run`
    pub dry_run: bool,
    /// `--log-format`
    pub log_format: Option<String>,
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
    /// The window.
    pub per: Duration,
}

/// One Cloudflare account to keep synced.
#[derive(Debug, Clone, PartialEq)]
pub struct Account {
    /// The account id.
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
    /// The accounts.
    pub accounts: Vec<Account>,
    /// Only servers whose id or name matches one of these (empty: all).
    pub include: Vec<String>,
    /// Never servers whose id or name matches one of these.
    pub exclude: Vec<String>,
    /// Log format.
    pub log_format: LogFormat,
}

/// Why the configuration was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// A value that does not fit its key.
    #[error("invalid configuration: `{key}` = {value:?} (from {origin}): {reason}")]
    Invalid {
        /// The key, as written in the file.
        key: String,
        /// The offending value.
        value: String,
        /// Flag, variable or file it came from.
        origin: String,
        /// What is expected.
        reason: String,
    },
    /// The file could not be read.
    #[error("cannot read the configuration file {path}: {reason}")]
    File {
        /// The path.
        path: PathBuf,
        /// The OS's reason.
        reason: String,
    },
    /// The file is not valid TOML or has unknown keys.
    #[error("invalid configuration file {path}: {reason}")]
    Parse {
        /// The path.
        path: PathBuf,
        /// The parser's message (with the line and key).
        reason: String,
    },
    /// No account configured.
    #[error("no account configured: set CLOUDFLARE_ACCOUNT_ID or add [[accounts]] to the configuration file")]
    NoAccount,
    /// An account without usable credentials.
    #[error("account {account}: no credentials: {reason}")]
    Credentials {
        /// The account id.
        account: String,
        /// What is missing.
        reason: String,
    },
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<String>,
    interval: Option<String>,
    stale_after: Option<String>,
    dry_run: Option<bool>,
    sync_concurrency: Option<i64>,
    list_concurrency: Option<i64>,
    per_page: Option<i64>,
    request_timeout: Option<String>,
    failure_backoff_max: Option<String>,
    retry: Option<FileRetry>,
    rate_limit: Option<FileRateLimit>,
    api: Option<FileApi>,
    accounts: Option<Vec<FileAccount>>,
    include: Option<Vec<String>>,
    exclude: Option<Vec<String>>,
    log: Option<FileLog>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRetry {
    initial_interval: Option<String>,
    multiplier: Option<f64>,
    max_interval: Option<String>,
    max_elapsed: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRateLimit {
    requests: Option<i64>,
    per: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileApi {
    base_url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileLog {
    format: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileAccount {
    id: String,
    api_token_env: Option<String>,
    email_env: Option<String>,
    api_key_env: Option<String>,
}

/// A raw value and where it came from.
struct Raw<T> {
    value: T,
    origin: String,
}

/// Picks flag > environment > file, remembering the origin.
fn pick(
    flag: Option<&String>,
    flag_name: &str,
    env: &Env,
    env_name: Option<&str>,
    file: Option<&String>,
    path: Option<&Path>,
) -> Option<Raw<String>> {
    if let Some(v) = flag {
        return Some(Raw {
            value: v.clone(),
            origin: format!("flag {flag_name}"),
        });
    }
    if let Some(name) = env_name {
        if let Some(v) = env.get(name) {
            return Some(Raw {
                value: v.clone(),
                origin: format!("environment variable {name}"),
            });
        }
    }
    file.map(|v| Raw {
        value: v.clone(),
        origin: file_origin(path),
    })
}

fn file_origin(path: Option<&Path>) -> String {
    match path {
        Some(p) => format!("file {}", p.display()),
        None => "file".into(),
    }
}

fn invalid(
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

fn int_in(key: &str, v: i64, lo: i64, hi: i64, origin: &str) -> Result<i64, ConfigError> {
    if (lo..=hi).contains(&v) {
        Ok(v)
    } else {
        Err(invalid(
            key,
            v,
            origin,
            format!("must be between {lo} and {hi}"),
        ))
    }
}

/// Loads and validates the configuration from the flags, the environment and the file the
/// flags or `MCP_SYNC_CONFIG` name.
pub fn load(flags: &Flags, env: &Env) -> Result<Config, ConfigError> {
    let path = flags.config.clone().or_else(|| {
        env.get("MCP_SYNC_CONFIG")
            .filter(|s| !s.is_empty())
            .map(PathBuf::from)
    });
    let file = match &path {
        Some(p) => read_file(p)?,
        None => FileConfig::default(),
    };
    build(flags, env, file, path.as_deref())
}

/// Only the listen address (for `healthcheck`, which must work even where the rest of
/// the configuration, such as credentials, is not visible).
pub fn listen_address(flags: &Flags, env: &Env) -> Result<SocketAddr, ConfigError> {
    let path = flags.config.clone().or_else(|| {
        env.get("MCP_SYNC_CONFIG")
            .filter(|s| !s.is_empty())
            .map(PathBuf::from)
    });
    let file = match &path {
        Some(p) => read_file(p)?,
        None => FileConfig::default(),
    };
    let raw = pick(
        flags.listen.as_ref(),
        "--listen",
        env,
        Some("MCP_SYNC_LISTEN"),
        file.listen.as_ref(),
        path.as_deref(),
    )
    .unwrap_or_else(|| Raw {
        value: DEFAULT_LISTEN.to_owned(),
        origin: "default".into(),
    });
    parse_listen(&raw)
}

/// The default listen address.
pub const DEFAULT_LISTEN: &str = "0.0.0.0:9878";

fn parse_listen(raw: &Raw<String>) -> Result<SocketAddr, ConfigError> {
    raw.value.trim().parse().map_err(|_| {
        invalid(
            "listen",
            &raw.value,
            &raw.origin,
            "expected an address like 0.0.0.0:9878 or [::]:9878",
        )
    })
}

fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    toml::from_str(&text).map_err(|e| ConfigError::Parse {
        path: path.to_owned(),
        reason: e.to_string().trim_end().replace('\n', " | "),
    })
}

fn build(
    flags: &Flags,
    env: &Env,
    file: FileConfig,
    path: Option<&Path>,
) -> Result<Config, ConfigError> {
    let fo = file_origin(path);
    let def = |v: &str| Raw {
        value: v.to_owned(),
        origin: "default".into(),
    };

    let listen_raw = pick(
        flags.listen.as_ref(),
        "--listen",
        env,
        Some("MCP_SYNC_LISTEN"),
        file.listen.as_ref(),
        path,
    )
    .unwrap_or_else(|| def(DEFAULT_LISTEN));
    let listen = parse_listen(&listen_raw)?;

    let dur = |key: &str,
               flag: Option<&String>,
               flag_name: &str,
               env_name: Option<&str>,
               fv: Option<&String>,
               default: &str| {
        let r = pick(flag, flag_name, env, env_name, fv, path).unwrap_or_else(|| def(default));
        parse_duration(key, &r.value, &r.origin)
    };
    let interval = dur(
        "interval",
        flags.interval.as_ref(),
        "--interval",
        Some("MCP_SYNC_INTERVAL"),
        file.interval.as_ref(),
        "5m",
    )?;
    let stale_after = dur(
        "stale_after",
        flags.stale_after.as_ref(),
        "--stale-after",
        Some("MCP_SYNC_STALE_AFTER"),
        file.stale_after.as_ref(),
        "3h",
    )?;
    let request_timeout = dur(
        "request_timeout",
        None,
        "",
        None,
        file.request_timeout.as_ref(),
        "30s",
    )?;
    let failure_backoff_max = dur(
        "failure_backoff_max",
        None,
        "",
        None,
        file.failure_backoff_max.as_ref(),
        "6h",
    )?;

    let dry_run = if flags.dry_run {
        true
    } else if let Some(v) = env.get("MCP_SYNC_DRY_RUN") {
        parse_bool("dry_run", v, "environment variable MCP_SYNC_DRY_RUN")?
    } else {
        file.dry_run.unwrap_or(false)
    };

    let sync_concurrency = int_in(
        "sync_concurrency",
        file.sync_concurrency.unwrap_or(4),
        1,
        256,
        &fo,
    )? as usize;
    let list_concurrency = int_in(
        "list_concurrency",
        file.list_concurrency.unwrap_or(4),
        1,
        64,
        &fo,
    )? as usize;
    let per_page = int_in(
        "per_page",
        file.per_page.unwrap_or(i64::from(MAX_PER_PAGE)),
        1,
        i64::from(MAX_PER_PAGE),
        &fo,
    )? as u32;

    let fr = file.retry.unwrap_or_default();
    let retry = RetryConfig {
        initial_interval: dur(
            "retry.initial_interval",
            None,
            "",
            None,
            fr.initial_interval.as_ref(),
            "1s",
        )?,
        multiplier: match fr.multiplier {
            None => 2.0,
            Some(m) if m.is_finite() && (1.0..=10.0).contains(&m) => m,
            Some(m) => {
                return Err(invalid(
                    "retry.multiplier",
                    m,
                    &fo,
                    "must be between 1.0 and 10.0",
                ))
            }
        },
        max_interval: dur(
            "retry.max_interval",
            None,
            "",
            None,
            fr.max_interval.as_ref(),
            "60s",
        )?,
        max_elapsed: dur(
            "retry.max_elapsed",
            None,
            "",
            None,
            fr.max_elapsed.as_ref(),
            "5m",
        )?,
    };
    if retry.max_interval < retry.initial_interval {
        return Err(invalid(
            "retry.max_interval",
            humantime::format_duration(retry.max_interval),
            &fo,
            format!(
                "must not be shorter than retry.initial_interval ({})",
                humantime::format_duration(retry.initial_interval)
            ),
        ));
    }

    let frl = file.rate_limit.unwrap_or_default();
    let rate_limit = RateLimitConfig {
        requests: int_in(
            "rate_limit.requests",
            frl.requests.unwrap_or(600),
            1,
            1_000_000,
            &fo,
        )? as u32,
        per: dur("rate_limit.per", None, "", None, frl.per.as_ref(), "5m")?,
    };

    let base_raw = pick(
        None,
        "",
        env,
        Some("CLOUDFLARE_BASE_URL"),
        file.api.as_ref().and_then(|a| a.base_url.as_ref()),
        path,
    )
    .unwrap_or_else(|| def(DEFAULT_BASE_URL));
    let base_url = base_raw.value.trim().trim_end_matches('/').to_owned();
    let valid_base = ["http://", "https://"].iter().any(|p| {
        base_url.len() > p.len()
            && base_url
                .get(..p.len())
                .is_some_and(|s| s.eq_ignore_ascii_case(p))
    });
    if !valid_base || base_url.contains(char::is_whitespace) {
        return Err(invalid(
            "api.base_url",
            &base_raw.value,
            &base_raw.origin,
            "must be an http:// or https:// URL",
        ));
    }

    let log_raw = pick(
        flags.log_format.as_ref(),
        "--log-format",
        env,
        Some("MCP_SYNC_LOG_FORMAT"),
        file.log.as_ref().and_then(|l| l.format.as_ref()),
        path,
    )
    .unwrap_or_else(|| def("text"));
    let log_format = match log_raw.value.trim().to_ascii_lowercase().as_str() {
        "text" => LogFormat::Text,
        "json" => LogFormat::Json,
        _ => {
            return Err(invalid(
                "log.format",
                &log_raw.value,
                &log_raw.origin,
                "expected text or json",
            ))
        }
    };

    let include = file.include.unwrap_or_default();
    let exclude = file.exclude.unwrap_or_default();
    for (key, list) in [("include", &include), ("exclude", &exclude)] {
        if let Some(p) = list.iter().find(|p| p.trim().is_empty()) {
            return Err(invalid(
                key,
                p,
                &fo,
                "an empty pattern matches nothing; remove it",
            ));
        }
    }

    let accounts = build_accounts(env, file.accounts, &fo)?;

    Ok(Config {
        listen,
        interval,
        stale_after,
        dry_run,
        sync_concurrency,
        list_concurrency,
        per_page,
        request_timeout,
        retry,
        failure_backoff_max,
        rate_limit,
        base_url,
        accounts,
        include,
        exclude,
        log_format,
    })
}

fn valid_account_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn build_accounts(
    env: &Env,
    file_accounts: Option<Vec<FileAccount>>,
    fo: &str,
) -> Result<Vec<Account>, ConfigError> {
    let specs: Vec<(FileAccount, String)> = match env.get("CLOUDFLARE_ACCOUNT_ID") {
        Some(id) => vec![(
            FileAccount {
                id: id.trim().to_owned(),
                ..FileAccount::default()
            },
            "environment variable CLOUDFLARE_ACCOUNT_ID".into(),
        )],
        None => file_accounts
            .unwrap_or_default()
            .into_iter()
            .map(|a| (a, fo.to_owned()))
            .collect(),
    };
    if specs.is_empty() {
        return Err(ConfigError::NoAccount);
    }
    let mut seen = BTreeMap::new();
    let mut out = Vec::with_capacity(specs.len());
    for (i, (spec, origin)) in specs.into_iter().enumerate() {
        let key = if origin.starts_with("environment") {
            "accounts".to_owned()
        } else {
            format!("accounts[{i}].id")
        };
        if !valid_account_id(&spec.id) {
            return Err(invalid(
                &key,
                &spec.id,
                &origin,
                "an account id is 1 to 64 letters, digits, '-' or '_'",
            ));
        }
        if seen.insert(spec.id.clone(), ()).is_some() {
            return Err(invalid(
                &key,
                &spec.id,
                &origin,
                "this account is listed twice",
            ));
        }
        let (credentials, credential_source) = credentials_for(env, &spec)?;
        out.push(Account {
            id: spec.id,
            credentials,
            credential_source,
        });
    }
    Ok(out)
}

/// Reads `NAME`, or the file that `NAME_FILE` points at (read again when it changes).
/// Both set is refused.
fn secret_var(env: &Env, account: &str, name: &str) -> Result<Option<Secret>, ConfigError> {
    let file_var = format!("{name}_FILE");
    let direct = env.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
    let via_file = env
        .get(&file_var)
        .map(|v| v.trim())
        .filter(|v| !v.is_empty());
    match (direct, via_file) {
        (Some(_), Some(_)) => Err(ConfigError::Credentials {
            account: account.into(),
            reason: format!("both {name} and {file_var} are set; set only one"),
        }),
        (Some(v), None) => Ok(Some(Secret::new(v))),
        (None, Some(path)) => Secret::from_file(path).map(Some).map_err(|e| {
            invalid(
                &file_var,
                path,
                &format!("environment variable {file_var}"),
                e.to_string(),
            )
        }),
        (None, None) => Ok(None),
    }
}

fn credentials_for(env: &Env, spec: &FileAccount) -> Result<(Credentials, String), ConfigError> {
    let explicit_legacy = spec.email_env.is_some() || spec.api_key_env.is_some();
    if !explicit_legacy || spec.api_token_env.is_some() {
        let name = spec
            .api_token_env
            .as_deref()
            .unwrap_or("CLOUDFLARE_API_TOKEN");
        if let Some(t) = secret_var(env, &spec.id, name)? {
            return Ok((Credentials::Token(t), name.to_owned()));
        }
        if spec.api_token_env.is_some() {
            return Err(ConfigError::Credentials {
                account: spec.id.clone(),
                reason: format!("{name} (or {name}_FILE) is not set"),
            });
        }
    }
    let email_name = spec.email_env.as_deref().unwrap_or("CLOUDFLARE_EMAIL");
    let key_name = spec.api_key_env.as_deref().unwrap_or("CLOUDFLARE_API_KEY");
    let email = secret_var(env, &spec.id, email_name)?;
    let key = secret_var(env, &spec.id, key_name)?;
    match (email, key) {
        (Some(email), Some(key)) => Ok((
            Credentials::Legacy { email, key },
            format!("{email_name} + {key_name}"),
        )),
        (Some(_), None) => Err(ConfigError::Credentials {
            account: spec.id.clone(),
            reason: format!("{email_name} is set but {key_name} (or {key_name}_FILE) is not"),
        }),
        (None, Some(_)) => Err(ConfigError::Credentials {
            account: spec.id.clone(),
            reason: format!("{key_name} is set but {email_name} (or {email_name}_FILE) is not"),
        }),
        (None, None) => Err(ConfigError::Credentials {
            account: spec.id.clone(),
            reason: if explicit_legacy {
                format!("{email_name} and {key_name} (or their _FILE variants) are not set")
            } else {
                "set CLOUDFLARE_API_TOKEN (or CLOUDFLARE_API_TOKEN_FILE), or CLOUDFLARE_EMAIL + CLOUDFLARE_API_KEY".into()
            },
        }),
    }
}

/// Matches a glob with `*` (any run) and `?` (one character).
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

impl Config {
    /// Whether the include/exclude filters keep a server with this id and name.
    pub fn wants(&self, id: &str, name: &str) -> bool {
        let hit = |pats: &[String]| {
            pats.iter()
                .any(|p| glob_match(p, id) || glob_match(p, name))
        };
        (self.include.is_empty() || hit(&self.include)) && !hit(&self.exclude)
    }

    /// The effective configuration as TOML-like text, secrets masked (for `check-config`).
    pub fn render(&self) -> String {
        let d = |d: Duration| format!("{:?}", humantime::format_duration(d).to_string());
        let list = |v: &[String]| {
            format!(
                "[{}]",
                v.iter()
                    .map(|s| format!("{s:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        let mut s = String::new();
        let mut line = |k: &str, v: String| {
            s.push_str(k);
            s.push_str(" = ");
            s.push_str(&v);
            s.push('\n');
        };
        line("listen", format!("{:?}", self.listen.to_string()));
        line("interval", d(self.interval));
        line("stale_after", d(self.stale_after));
        line("dry_run", self.dry_run.to_string());
        line("sync_concurrency", self.sync_concurrency.to_string());
        line("list_concurrency", self.list_concurrency.to_string());
        line("per_page", self.per_page.to_string());
        line("request_timeout", d(self.request_timeout));
        line("failure_backoff_max", d(self.failure_backoff_max));
        line("include", list(&self.include));
        line("exclude", list(&self.exclude));
        line(
            "\n[retry]\ninitial_interval",
            d(self.retry.initial_interval),
        );
        line("multiplier", self.retry.multiplier.to_string());
        line("max_interval", d(self.retry.max_interval));
        line("max_elapsed", d(self.retry.max_elapsed));
        line(
            "\n[rate_limit]\nrequests",
            self.rate_limit.requests.to_string(),
        );
        line("per", d(self.rate_limit.per));
        line("\n[api]\nbase_url", format!("{:?}", self.base_url));
        line(
            "\n[log]\nformat",
            format!(
                "{:?}",
                if self.log_format == LogFormat::Json {
                    "json"
                } else {
                    "text"
                }
            ),
        );
        for a in &self.accounts {
            let cred = match &a.credentials {
                Credentials::Token(t) => {
                    format!("api token from {} = \"{t}\"", a.credential_source)
                }
                Credentials::Legacy { email, key } => {
                    format!(
                        "email + API key from {} = \"{email}\" / \"{key}\"",
                        a.credential_source
                    )
                }
            };
            line("\n[[accounts]]\nid", format!("{:?}", a.id));
            line("# credentials", cred);
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn base_env() -> Env {
        env(&[
            ("CLOUDFLARE_ACCOUNT_ID", "acc1"),
            ("CLOUDFLARE_API_TOKEN", "tok-secret-1"),
        ])
    }

    #[test]
    fn defaults_match_the_spec() {
        let c = load(&Flags::default(), &base_env()).expect("valid");
        assert_eq!(c.listen.to_string(), "0.0.0.0:9878");
        assert_eq!(c.interval, Duration::from_secs(300));
        assert_eq!(c.stale_after, Duration::from_secs(3 * 3600));
        assert!(!c.dry_run);
        assert_eq!((c.sync_concurrency, c.per_page), (4, 100));
        assert_eq!(c.request_timeout, Duration::from_secs(30));
        assert_eq!(c.retry.initial_interval, Duration::from_secs(1));
        assert_eq!(c.retry.multiplier, 2.0);
        assert_eq!(c.retry.max_interval, Duration::from_secs(60));
        assert_eq!(c.retry.max_elapsed, Duration::from_secs(300));
        assert_eq!(c.failure_backoff_max, Duration::from_secs(6 * 3600));
        assert_eq!(
            c.rate_limit,
            RateLimitConfig {
                requests: 600,
                per: Duration::from_secs(300)
            }
        );
        assert_eq!(c.base_url, DEFAULT_BASE_URL);
        assert_eq!(c.log_format, LogFormat::Text);
        assert_eq!(
            c.accounts[0].credentials,
            Credentials::Token(Secret::new("tok-secret-1"))
        );
    }

    #[test]
    fn glob_patterns() {
        assert!(glob_match("prod-*", "prod-api"));
        assert!(glob_match("*-api", "prod-api"));
        assert!(glob_match("p?od*", "prod"));
        assert!(!glob_match("prod-*", "staging-api"));
        assert!(glob_match("*", ""));
        assert!(!glob_match("a", ""));
    }

    #[test]
    fn filters_apply_to_id_and_name() {
        let mut c = load(&Flags::default(), &base_env()).expect("valid");
        c.include = vec!["prod-*".into()];
        c.exclude = vec!["*legacy*".into()];
        assert!(c.wants("prod-1", "x"));
        assert!(c.wants("x1", "prod-crm"));
        assert!(!c.wants("prod-legacy", "x"));
        assert!(!c.wants("dev-1", "Dev"));
    }

    #[test]
    fn zero_duration_is_refused_naming_key_and_value() {
        let mut e = base_env();
        e.insert("MCP_SYNC_INTERVAL".into(), "0s".into());
        let err = load(&Flags::default(), &e).expect_err("zero");
        let msg = err.to_string();
        assert!(
            msg.contains("`interval`")
                && msg.contains("\"0s\"")
                && msg.contains("MCP_SYNC_INTERVAL"),
            "{msg}"
        );
    }
}
