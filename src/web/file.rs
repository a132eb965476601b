//! The web configuration file as written: the Prometheus exporter-toolkit YAML format,
//! unknown keys refused (as the toolkit's strict unmarshalling does), every value checked
//! here into a [`Spec`], so that a value this server cannot honour is refused naming its
//! key, never ignored. Relative paths are resolved against the file's directory, as the
//! toolkit does.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::http::{HeaderName, HeaderValue};
use rustls::crypto::SupportedKxGroup;
use rustls::{SupportedCipherSuite, SupportedProtocolVersion};
use serde::Deserialize;

pub use super::choices::ClientAuth;
use super::choices::{client_auth, groups, suites, version};
use super::WebConfigError;

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileWeb {
    tls_server_config: Option<FileTls>,
    http_server_config: Option<FileHttp>,
    basic_auth_users: Option<BTreeMap<String, String>>,
    rate_limit: Option<FileRateLimit>,
}

/// No `Debug`: `key` is a private key.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileTls {
    cert: Option<String>,
    key: Option<String>,
    client_ca: Option<String>,
    cert_file: Option<String>,
    key_file: Option<String>,
    client_auth_type: Option<String>,
    client_ca_file: Option<String>,
    client_allowed_sans: Option<Vec<String>>,
    min_version: Option<String>,
    max_version: Option<String>,
    cipher_suites: Option<Vec<String>>,
    prefer_server_cipher_suites: Option<bool>,
    curve_preferences: Option<Vec<String>>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileHttp {
    http2: Option<bool>,
    headers: Option<BTreeMap<String, String>>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRateLimit {
    interval: Option<String>,
    burst: Option<i64>,
}

/// PEM text, inline in the file or in a file of its own.
#[derive(Clone, PartialEq, Eq)]
pub enum Pem {
    /// `cert_file`, `key_file`, `client_ca_file`: a path (resolved).
    File(PathBuf),
    /// `cert`, `key`, `client_ca`: the text itself.
    Inline(String),
}

impl std::fmt::Debug for Pem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Pem::File(p) => write!(f, "File({})", p.display()),
            Pem::Inline(_) => f.write_str("Inline(..)"),
        }
    }
}

/// `tls_server_config`, checked.
#[derive(Debug, Clone)]
pub struct TlsSpec {
    /// The server's certificate chain.
    pub cert: Pem,
    /// The server's private key.
    pub key: Pem,
    /// The CA that signs client certificates.
    pub client_ca: Option<Pem>,
    /// Who must show a certificate.
    pub client_auth: ClientAuth,
    /// A client certificate must carry one of these SANs (empty: any).
    pub allowed_sans: Vec<String>,
    /// TLS versions served.
    pub versions: Vec<&'static SupportedProtocolVersion>,
    /// Cipher suites in preference order.
    pub suites: Vec<SupportedCipherSuite>,
    /// Key exchange groups in preference order.
    pub groups: Vec<&'static dyn SupportedKxGroup>,
    /// Groups of `curve_preferences` rustls does not offer, left out (with a warning).
    pub dropped_groups: Vec<String>,
    /// The server's order of suites wins over the client's.
    pub prefer_server_order: bool,
}

/// `rate_limit`, checked: a token bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateSpec {
    /// One token every `interval`.
    pub interval: Duration,
    /// Tokens the bucket holds.
    pub burst: u32,
}

/// The whole file, checked. `Debug` names the users but never prints their hashes.
#[derive(Clone, Default)]
pub struct Spec {
    /// TLS, or plain HTTP when `None`.
    pub tls: Option<TlsSpec>,
    /// `http_server_config.headers`, added to every response.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// `basic_auth_users`: user name and bcrypt hash (empty: no authentication).
    pub users: Vec<(String, String)>,
    /// `rate_limit`, when on.
    pub rate: Option<RateSpec>,
}

impl std::fmt::Debug for Spec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let users: Vec<&str> = self.users.iter().map(|(u, _)| u.as_str()).collect();
        f.debug_struct("Spec")
            .field("tls", &self.tls)
            .field("headers", &self.headers)
            .field("users", &users)
            .field("rate", &self.rate)
            .finish()
    }
}

impl Spec {
    /// The files this configuration reads besides itself (to notice their changes).
    pub fn files(&self) -> Vec<PathBuf> {
        let Some(t) = &self.tls else {
            return Vec::new();
        };
        [Some(&t.cert), Some(&t.key), t.client_ca.as_ref()]
            .into_iter()
            .flatten()
            .filter_map(|p| match p {
                Pem::File(p) => Some(p.clone()),
                Pem::Inline(_) => None,
            })
            .collect()
    }
}

/// Reads and checks the file at `path`.
pub fn read(path: &Path) -> Result<Spec, WebConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| WebConfigError::Read {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    parse(path, &text)
}

/// Checks `text`, the content of the file at `path`.
pub fn parse(path: &Path, text: &str) -> Result<Spec, WebConfigError> {
    let file: FileWeb = if text.trim().is_empty() {
        FileWeb::default()
    } else {
        serde_saphyr::from_str(text).map_err(|e| WebConfigError::Parse {
            path: path.to_owned(),
            reason: parse_reason(&e),
        })?
    };
    let bad = |key: &str, reason: String| WebConfigError::Invalid {
        path: path.to_owned(),
        key: key.to_owned(),
        reason,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let tls = match file.tls_server_config {
        Some(t) if tls_enabled(&t) => Some(tls_spec(t, dir).map_err(|(k, r)| bad(&k, r))?),
        _ => None,
    };
    let http = file.http_server_config.unwrap_or_default();
    if http.http2 == Some(true) {
        return Err(bad(
            "http_server_config.http2",
            "true cannot be honoured: this server speaks HTTP/1.1 only; remove the key or set it to false".into(),
        ));
    }
    let headers = headers(http.headers.unwrap_or_default()).map_err(|(k, r)| bad(&k, r))?;
    let users = users(file.basic_auth_users.unwrap_or_default()).map_err(|(k, r)| bad(&k, r))?;
    let rate = match file.rate_limit {
        Some(r) => rate(r).map_err(|(k, r)| bad(&k, r))?,
        None => None,
    };
    Ok(Spec {
        tls,
        headers,
        users,
        rate,
    })
}

/// The parser's message without the excerpt of the file it may quote (a key or a hash
/// could be on that line).
fn parse_reason(e: &serde_saphyr::Error) -> String {
    let text = e.to_string();
    let first = text.lines().next().unwrap_or("invalid YAML").trim();
    let first = first.strip_prefix("error: ").unwrap_or(first);
    match e.location() {
        Some(l) if !first.contains("line") => {
            format!("{first} (line {}, column {})", l.line(), l.column())
        }
        _ => first.to_owned(),
    }
}

type KeyError = (String, String);

/// Any setting turns TLS on (and then a certificate and key are required): a file that
/// sets `min_version` alone is refused rather than served over plain HTTP.
fn tls_enabled(t: &FileTls) -> bool {
    let text = [
        &t.cert,
        &t.key,
        &t.cert_file,
        &t.key_file,
        &t.client_ca,
        &t.client_ca_file,
        &t.client_auth_type,
        &t.min_version,
        &t.max_version,
    ]
    .iter()
    .any(|v| v.as_deref().is_some_and(|s| !s.is_empty()));
    let lists = [
        &t.client_allowed_sans,
        &t.cipher_suites,
        &t.curve_preferences,
    ]
    .iter()
    .any(|v| v.as_ref().is_some_and(|l| !l.is_empty()));
    text || lists || t.prefer_server_cipher_suites.is_some()
}

fn pem(
    dir: &Path,
    inline: Option<String>,
    file: Option<String>,
    names: (&str, &str),
) -> Result<Option<Pem>, KeyError> {
    let inline = inline.filter(|s| !s.is_empty());
    let file = file.filter(|s| !s.is_empty());
    match (inline, file) {
        (Some(_), Some(_)) => Err((
            format!("tls_server_config.{}", names.1),
            format!("give either {} or {}, not both", names.0, names.1),
        )),
        (Some(text), None) => Ok(Some(Pem::Inline(text))),
        (None, Some(f)) => Ok(Some(Pem::File(dir.join(f)))),
        (None, None) => Ok(None),
    }
}

fn tls_spec(t: FileTls, dir: &Path) -> Result<TlsSpec, KeyError> {
    let key = |k: &str| format!("tls_server_config.{k}");
    let cert = pem(dir, t.cert, t.cert_file, ("cert", "cert_file"))?.ok_or_else(|| {
        (
            key("cert_file"),
            "missing: TLS needs cert_file (or cert)".into(),
        )
    })?;
    let private = pem(dir, t.key, t.key_file, ("key", "key_file"))?.ok_or_else(|| {
        (
            key("key_file"),
            "missing: TLS needs key_file (or key)".into(),
        )
    })?;
    let client_ca = pem(
        dir,
        t.client_ca,
        t.client_ca_file,
        ("client_ca", "client_ca_file"),
    )?;
    let client_auth = client_auth(t.client_auth_type.as_deref().unwrap_or(""))
        .map_err(|r| (key("client_auth_type"), r))?;
    if client_ca.is_some() && client_auth == ClientAuth::NoClientCert {
        return Err((
            key("client_auth_type"),
            "a client CA is configured without a client auth policy: set client_auth_type (RequireAndVerifyClientCert)".into(),
        ));
    }
    let allowed_sans = t.client_allowed_sans.unwrap_or_default();
    if !allowed_sans.is_empty() && !client_auth.requires() {
        return Err((
            key("client_allowed_sans"),
            "requires client_auth_type RequireAnyClientCert or RequireAndVerifyClientCert".into(),
        ));
    }
    let min = version(t.min_version.as_deref(), "TLS12").map_err(|r| (key("min_version"), r))?;
    let max = version(t.max_version.as_deref(), "TLS13").map_err(|r| (key("max_version"), r))?;
    if min > max {
        return Err((key("min_version"), "is above max_version".into()));
    }
    let versions = [(12, &rustls::version::TLS12), (13, &rustls::version::TLS13)]
        .into_iter()
        .filter(|(v, _)| (min..=max).contains(v))
        .map(|(_, v)| v)
        .collect();
    let suites =
        suites(t.cipher_suites.unwrap_or_default()).map_err(|r| (key("cipher_suites"), r))?;
    let (groups, dropped_groups) = groups(t.curve_preferences.unwrap_or_default())
        .map_err(|r| (key("curve_preferences"), r))?;
    Ok(TlsSpec {
        cert,
        key: private,
        client_ca,
        client_auth,
        allowed_sans,
        versions,
        suites,
        groups,
        dropped_groups,
        prefer_server_order: t.prefer_server_cipher_suites.unwrap_or(true),
    })
}

/// The headers the toolkit lets a file set, with the values it accepts (`None`: any).
const HEADERS: &[(&str, Option<&[&str]>)] = &[
    ("Strict-Transport-Security", None),
    ("X-Content-Type-Options", Some(&["nosniff"])),
    ("X-Frame-Options", Some(&["deny", "sameorigin"])),
    ("X-XSS-Protection", None),
    ("Content-Security-Policy", None),
];

fn headers(given: BTreeMap<String, String>) -> Result<Vec<(HeaderName, HeaderValue)>, KeyError> {
    let mut out = Vec::new();
    for (name, value) in given {
        let key = format!("http_server_config.headers.{name}");
        let Some((_, allowed)) = HEADERS.iter().find(|(h, _)| *h == name) else {
            return Err((
                key,
                format!(
                    "this header cannot be configured; only {}",
                    HEADERS
                        .iter()
                        .map(|(h, _)| *h)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        };
        if value.is_empty() {
            continue;
        }
        if let Some(allowed) = allowed {
            if !allowed.contains(&value.as_str()) {
                return Err((key, format!("{value:?} is not one of {allowed:?}")));
            }
        }
        let v = HeaderValue::from_str(&value).map_err(|_| {
            (
                key.clone(),
                format!("{value:?} is not a valid header value"),
            )
        })?;
        let n = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| (key.clone(), "is not a valid header name".into()))?;
        out.push((n, v));
    }
    Ok(out)
}

/// Checks each hash's form and cost (never printing it).
fn users(given: BTreeMap<String, String>) -> Result<Vec<(String, String)>, KeyError> {
    let mut out = Vec::new();
    for (user, hash) in given {
        if let Err(e) = hash.parse::<bcrypt::HashParts>() {
            let why = match e {
                bcrypt::BcryptError::CostNotAllowed(c) => {
                    format!("the hash's cost {c} is outside bcrypt's 4..=31")
                }
                _ => "is not a bcrypt hash ($2y$, $2b$ or $2a$, as htpasswd -B makes them)".into(),
            };
            return Err((format!("basic_auth_users.{user}"), why));
        }
        if user.contains(':') {
            return Err((
                format!("basic_auth_users.{user}"),
                "a user name cannot contain ':' (basic auth separates it from the password with one)".into(),
            ));
        }
        out.push((user, hash));
    }
    Ok(out)
}

fn rate(r: FileRateLimit) -> Result<Option<RateSpec>, KeyError> {
    let interval = match r.interval.as_deref().map(str::trim) {
        None | Some("" | "0" | "0s") => return Ok(None),
        Some(v) => humantime::parse_duration(v).map_err(|e| {
            (
                "rate_limit.interval".to_owned(),
                format!("{v:?} is not a duration like 100ms or 1s: {e}"),
            )
        })?,
    };
    let burst = r.burst.unwrap_or(0);
    if !(1..=i64::from(u32::MAX)).contains(&burst) {
        return Err((
            "rate_limit.burst".into(),
            format!("{burst} must be at least 1 when rate_limit.interval is set"),
        ));
    }
    Ok(Some(RateSpec {
        interval,
        burst: burst as u32,
    }))
}
