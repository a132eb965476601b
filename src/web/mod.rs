//! The web configuration (`--web.config.file`): TLS, basic authentication, response headers
//! and a rate limit, in the Prometheus exporter-toolkit format so that the files operators
//! already have for node_exporter work unchanged (`file` checks it, `tls` builds rustls's
//! configuration, `auth` checks passwords, `sans` reads client certificates' names).
//!
//! Like the toolkit, the daemon notices changes without a restart: every connection and
//! every request asks [`Web::current`], which compares the stamps (modification time, size,
//! inode) of the file and of the files it names with those last seen and loads the new
//! version when one changed. A version that does not load is logged once and leaves the last
//! good one serving; [`Web::status`] says how the last load went, for `/metrics`. Whether the
//! server speaks TLS at all is fixed at start.
//!
//! Its own module, beside `http` rather than inside it: `http` applies it to every route,
//! `metrics` reads its reload status, `healthcheck` and `check-config` load it.

mod auth;
mod choices;
pub mod client;
pub(crate) mod file;
mod handshake;
mod sans;
mod tls;

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use axum::extract::{ConnectInfo, Request, State as AxState};
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::Quota;
use tokio_rustls::TlsAcceptor;
use tracing::{error, info, warn};

use crate::secret::{stamp, Stamp};
pub use auth::{Users, Verdict};
pub use file::{Pem, RateSpec, Spec, TlsSpec};
use handshake::Handshakes;
pub use handshake::Refusal;
pub use tls::{certificates, private_key};

/// Why a web configuration cannot be used: the file, and the key where there is one.
#[derive(Debug, Clone, thiserror::Error)]
pub enum WebConfigError {
    /// The file cannot be read.
    #[error("web configuration {}: cannot read it: {reason}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS's reason.
        reason: String,
    },
    /// Not YAML of the expected shape (an unknown key, a wrong type).
    #[error("web configuration {}: {reason}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's reason, without excerpts of the file.
        reason: String,
    },
    /// A value that is wrong or cannot be honoured.
    #[error("web configuration {}: {key}: {reason}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The key, dotted (`tls_server_config.min_version`).
        key: String,
        /// Why.
        reason: String,
    },
}

/// One loaded version of the configuration.
pub struct Loaded {
    /// The checked file.
    pub spec: Spec,
    /// The TLS acceptor, when TLS is on.
    pub tls: Option<TlsAcceptor>,
    /// The users (none: no authentication).
    pub users: Users,
    limiter: Option<Limiter>,
}

impl std::fmt::Debug for Loaded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loaded")
            .field("spec", &self.spec)
            .field("users", &self.users)
            .finish_non_exhaustive()
    }
}

/// The files a version was loaded from, as they were.
type Stamps = Vec<(PathBuf, Option<Stamp>)>;

fn stamps(paths: impl IntoIterator<Item = PathBuf>) -> Stamps {
    paths
        .into_iter()
        .map(|p| {
            let s = stamp(&p).ok();
            (p, s)
        })
        .collect()
}

/// Loads the file at `path` and what it names; on failure, also the stamps seen so far.
fn load_once(path: &Path) -> Result<(Loaded, Stamps), (WebConfigError, Stamps)> {
    let mut seen = stamps([path.to_owned()]);
    let spec = file::read(path).map_err(|e| (e, seen.clone()))?;
    seen.extend(stamps(spec.files()));
    if let Some(dropped) = spec
        .tls
        .as_ref()
        .map(|t| &t.dropped_groups)
        .filter(|d| !d.is_empty())
    {
        warn!(
            path = %path.display(),
            dropped = ?dropped,
            "tls_server_config.curve_preferences names groups rustls (ring) does not offer; serving the others"
        );
    }
    let invalid = |(key, reason)| WebConfigError::Invalid {
        path: path.to_owned(),
        key,
        reason,
    };
    let tls = match &spec.tls {
        Some(t) => Some(TlsAcceptor::from(
            tls::server_config(t).map_err(|e| (invalid(e), seen.clone()))?,
        )),
        None => None,
    };
    let loaded = Loaded {
        users: Users::new(spec.users.clone()),
        limiter: spec.rate.and_then(|r| limiter(r, Default::default())),
        tls,
        spec,
    };
    Ok((loaded, seen))
}

struct Current {
    loaded: Arc<Loaded>,
    /// The stamps of the last attempt, good or not: a failed version is reported once.
    watched: Stamps,
}

/// The web configuration in use, reloaded when its files change.
pub struct Web {
    path: PathBuf,
    tls: bool,
    current: Mutex<Current>,
    status: Mutex<Reload>,
    handshakes: Handshakes,
}

/// How the web configuration's last (re)load went.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Reload {
    ok: bool,
    last_success: Option<SystemTime>,
}

/// What `/metrics` says of the web configuration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WebStatus {
    /// Whether the last attempt loaded (false: the last good version keeps serving).
    pub ok: bool,
    /// When a version last loaded.
    pub last_success: Option<SystemTime>,
    /// Refused TLS handshakes per reason, in [`Refusal::ALL`]'s order (`None` without TLS).
    pub handshake_failures: Option<[u64; Refusal::ALL.len()]>,
}

impl std::fmt::Debug for Web {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Web")
            .field("path", &self.path)
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

impl Web {
    /// Loads the configuration at `path`, or says which key of it is wrong.
    pub fn load(path: &Path) -> Result<Self, WebConfigError> {
        let (loaded, watched) = load_once(path).map_err(|(e, _)| e)?;
        Ok(Self {
            path: path.to_owned(),
            tls: loaded.tls.is_some(),
            current: Mutex::new(Current {
                loaded: Arc::new(loaded),
                watched,
            }),
            status: Mutex::new(Reload {
                ok: true,
                last_success: Some(SystemTime::now()),
            }),
            handshakes: Handshakes::default(),
        })
    }

    /// How the last (re)load went, and the refused handshakes.
    pub fn status(&self) -> WebStatus {
        let reload = *self.status.lock().unwrap_or_else(|e| e.into_inner());
        WebStatus {
            ok: reload.ok,
            last_success: reload.last_success,
            handshake_failures: self.tls.then(|| self.handshakes.counts()),
        }
    }

    /// A TLS handshake from `peer` failed (`None`: it timed out): counted, and said.
    pub fn handshake_refused(&self, peer: std::net::SocketAddr, error: Option<&std::io::Error>) {
        let why = error.map_or(Refusal::Timeout, handshake::classify);
        let detail = error.map(|e| e.to_string()).unwrap_or_default();
        self.handshakes.refused(peer, why, &detail);
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the server speaks TLS.
    pub fn tls(&self) -> bool {
        self.tls
    }

    /// The version to use now, loading a changed one first.
    pub fn current(&self) -> Arc<Loaded> {
        let mut cur = self.current.lock().unwrap_or_else(|e| e.into_inner());
        let now = stamps(cur.watched.iter().map(|(p, _)| p.clone()));
        if now == cur.watched {
            return cur.loaded.clone();
        }
        let outcome = match load_once(&self.path) {
            Ok((loaded, seen)) if loaded.tls.is_some() != self.tls => Err((
                WebConfigError::Invalid {
                    path: self.path.clone(),
                    key: "tls_server_config".into(),
                    reason: "TLS cannot be turned on or off while running; restart to apply".into(),
                },
                seen,
            )),
            other => other,
        };
        let ok = match outcome {
            Ok((loaded, seen)) => {
                info!(file = %self.path.display(), "web configuration reloaded");
                cur.loaded = Arc::new(loaded);
                cur.watched = seen;
                true
            }
            Err((e, seen)) => {
                error!(error = %e, "web configuration not reloaded; the last good one keeps serving");
                cur.watched = seen;
                false
            }
        };
        let mut status = self.status.lock().unwrap_or_else(|e| e.into_inner());
        status.ok = ok;
        if ok {
            status.last_success = Some(SystemTime::now());
        }
        cur.loaded.clone()
    }
}

/// `rate_limit` as exporter-toolkit applies it (Go's `x/time/rate`: one token every
/// `interval`, a bucket of `burst`), with `governor`'s GCRA, which admits the same requests.
type Limiter<C = governor::clock::DefaultClock> = governor::RateLimiter<
    NotKeyed,
    InMemoryState,
    C,
    NoOpMiddleware<<C as governor::clock::Clock>::Instant>,
>;

fn limiter<C: governor::clock::Clock>(spec: RateSpec, clock: C) -> Option<Limiter<C>> {
    let quota = Quota::with_period(spec.interval)?.allow_burst(NonZeroU32::new(spec.burst)?);
    Some(governor::RateLimiter::direct_with_clock(quota, clock))
}

const REALM: &str = "Basic realm=\"mcp-sync-monitor\", charset=\"UTF-8\"";

/// The middleware of every route: rate limit (429), basic authentication (401 with
/// `WWW-Authenticate`), then the configured headers on whatever the answer is.
pub async fn guard(AxState(web): AxState<Arc<Web>>, req: Request, next: Next) -> Response {
    let loaded = web.current();
    let allowed = loaded.limiter.as_ref().is_none_or(|l| l.check().is_ok());
    let mut response = if !allowed {
        (StatusCode::TOO_MANY_REQUESTS, "Too Many Requests\n").into_response()
    } else {
        let verdict = if loaded.users.is_empty() {
            Verdict::Allowed
        } else {
            let authorization = req.headers().get(header::AUTHORIZATION);
            let peer = req
                .extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip());
            loaded
                .users
                .check(authorization.map(|v| v.as_bytes()), peer)
                .await
        };
        match verdict {
            Verdict::Allowed => next.run(req).await,
            Verdict::Refused => {
                let mut r = (StatusCode::UNAUTHORIZED, "Unauthorized\n").into_response();
                r.headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(REALM));
                r
            }
            Verdict::Limited => {
                let mut r = (
                    StatusCode::TOO_MANY_REQUESTS,
                    "Too many logins from this address; retry later.\n",
                )
                    .into_response();
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                r
            }
        }
    };
    let h = response.headers_mut();
    for (name, value) in &loaded.spec.headers {
        h.insert(HeaderName::clone(name), value.clone());
    }
    response
}

#[cfg(test)]
#[path = "../../tests/unit/web.rs"]
mod tests;
