//! The HTTP endpoints: `/` (the status page), `/api/v1/servers` and `/api/v1/portals` (its
//! JSON twins), `/metrics`,
//! `/healthz`, `/readyz`, `/runbook`; anything else 404.
//!
//! A scrape renders the state as it is: it never calls Cloudflare and never waits on a
//! cycle. Concurrent scrapes share one rendering (`scrape`); the accept loop bounds
//! connections and slow clients (`serve`); the web configuration adds TLS, basic
//! authentication, headers and a rate limit to every route (`web`). The server stops with
//! the shared shutdown signal.

mod scrape;
mod serve;

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::extract::State as AxState;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;

use crate::metrics;
use crate::shutdown::Shutdown;
use crate::state::State;
use crate::status;
use crate::web;
pub use scrape::{Encoding, Renderings};
use scrape::{Inflater, Rendering};
pub use serve::Limits;

/// What the handlers read.
#[derive(Clone)]
pub struct AppState {
    /// What the daemon publishes.
    pub state: Arc<State>,
    /// The renderings of `/metrics` in use.
    pub renderings: Arc<Renderings>,
    /// The web configuration (`--web.config.file`), when there is one.
    pub web: Option<Arc<web::Web>>,
}

/// The routes: `/`, `/metrics`, `/healthz`, `/readyz`, `/runbook`; anything else is 404.
pub fn router(app: AppState) -> Router {
    let web = app.web.clone();
    let routes = Router::new()
        .route("/", get(status_page))
        .route("/api/v1/servers", get(status_json))
        .route("/api/v1/portals", get(portals_json))
        .route("/metrics", get(metrics_handler))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/runbook", get(runbook))
        .fallback(|| async { (StatusCode::NOT_FOUND, "not found\n") })
        .with_state(app);
    match web {
        Some(web) => routes.layer(axum::middleware::from_fn_with_state(web, web::guard)),
        None => routes,
    }
}

/// The filters of the status page and its JSON from the query string; a bad `limit` is
/// refused by name.
fn filter(
    q: &std::collections::HashMap<String, String>,
    default_limit: Option<usize>,
) -> Result<status::Filter, &'static str> {
    let limit = match q.get("limit").map(|l| l.parse::<usize>()) {
        None => default_limit,
        Some(Ok(n)) if n > 0 => Some(n),
        Some(_) => return Err("limit: must be a positive whole number\n"),
    };
    Ok(status::Filter {
        account: q.get("account").filter(|a| !a.is_empty()).cloned(),
        q: q.get("q").cloned(),
        problems: q.get("problems").is_some_and(|v| v == "1" || v == "true"),
        limit,
    })
}

/// Rows shown by the status page unless `?limit=` says otherwise.
pub const PAGE_ROWS: usize = 500;

type QueryMap = axum::extract::Query<std::collections::HashMap<String, String>>;

async fn status_page(
    AxState(app): AxState<AppState>,
    axum::extract::Query(q): QueryMap,
) -> Response {
    let f = match filter(&q, Some(PAGE_ROWS)) {
        Ok(f) => f,
        Err(why) => return (StatusCode::BAD_REQUEST, why).into_response(),
    };
    let now = std::time::SystemTime::now();
    let rows = status::status(&app.state.read(), &f, now);
    let nonce = format!("{:032x}", fastrand::u128(..));
    let mut r = Html(status::html::page(&rows, &f, now, &nonce)).into_response();
    let csp = format!(
        "default-src 'none'; style-src 'nonce-{nonce}'; script-src 'none'; img-src 'self'; \
         base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    );
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    guarded(h);
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    r
}

/// No content sniffing: a page or JSON of API text is never taken for anything else.
fn guarded(h: &mut HeaderMap) {
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
}

async fn portals_json(app: AxState<AppState>, q: QueryMap) -> Response {
    rows(app, q, |snap, f| json(&status::portals::portals(snap, f)))
}

/// The JSON twins: the filters of the query string (a bad one is answered 400), then the
/// rows of the current snapshot.
fn rows(
    AxState(app): AxState<AppState>,
    axum::extract::Query(q): QueryMap,
    answer: impl FnOnce(&crate::state::Snapshot, &status::Filter) -> Response,
) -> Response {
    match filter(&q, None) {
        Ok(f) => answer(&app.state.read(), &f),
        Err(why) => (StatusCode::BAD_REQUEST, why).into_response(),
    }
}

/// `v` as a JSON answer (serde_json escapes every string it writes).
fn json(v: &impl serde::Serialize) -> Response {
    let mut r = Response::new(Body::from(serde_json::to_vec(v).unwrap_or_default()));
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    guarded(h);
    r
}

async fn status_json(app: AxState<AppState>, q: QueryMap) -> Response {
    rows(app, q, |snap, f| {
        json(&status::status(snap, f, std::time::SystemTime::now()))
    })
}

async fn metrics_handler(AxState(app): AxState<AppState>, headers: HeaderMap) -> Response {
    let text = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    let enc = Encoding::from_accept(text(header::ACCEPT_ENCODING));
    let format = metrics::format_from_accept(text(header::ACCEPT));
    let snap = app.state.read();
    let shared = app.renderings.get(&snap, format).await;
    let web = app.web.as_ref().map(|w| w.status());
    let head = Bytes::from(scrape::encode(&metrics::head(&snap, web, format), enc));
    drop(snap);
    let (len, servers) = match enc {
        Encoding::Gzip => (shared.gzip.len(), Servers::Shared(Some(shared))),
        Encoding::Plain => (shared.plain_len, Servers::Inflating(Inflater::new(shared))),
    };
    let body = Scrape {
        head: Some(head.clone()),
        servers,
    };
    let mut r = Response::new(Body::new(body));
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    h.insert(
        header::VARY,
        HeaderValue::from_static("accept, accept-encoding"),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(head.len() + len));
    if enc == Encoding::Gzip {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    r
}

/// A shared rendering as the owner of the bytes a response sends.
struct Shared(Arc<Rendering>);

impl AsRef<[u8]> for Shared {
    fn as_ref(&self) -> &[u8] {
        &self.0.gzip
    }
}

/// The per-server part of a scrape: the shared gzip bytes, or their text as it inflates.
enum Servers {
    Shared(Option<Arc<Rendering>>),
    Inflating(Inflater),
}

/// The body of a scrape: the head, then the servers, one window at a time when inflating.
struct Scrape {
    head: Option<Bytes>,
    servers: Servers,
}

impl http_body::Body for Scrape {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        let next = match self.head.take() {
            Some(head) => Some(head),
            None => match &mut self.servers {
                Servers::Shared(r) => r.take().map(|r| Bytes::from_owner(Shared(r))),
                Servers::Inflating(i) => i.next_window(),
            },
        };
        Poll::Ready(next.map(|b| Ok(http_body::Frame::data(b))))
    }
}

async fn healthz(AxState(app): AxState<AppState>) -> Response {
    if app.state.scheduler_alive() {
        (StatusCode::OK, "ok\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "scheduler stopped\n").into_response()
    }
}

async fn readyz(AxState(app): AxState<AppState>) -> Response {
    if app.state.ready() {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "waiting for the first complete listing of every account\n",
        )
            .into_response()
    }
}

/// The runbook the alert rules' `runbook_url` points at by default, built into the binary so
/// that the link works wherever the daemon runs.
const RUNBOOK: &str = include_str!("../../docs/runbook.md");

async fn runbook() -> Html<String> {
    Html(runbook_html(RUNBOOK))
}

/// The runbook as a page: its text as written, each `## ` heading an anchor with the id
/// GitHub would give it (lower case, spaces as dashes), so `runbook#mcpsyncmonitordown` lands
/// on its section here as on GitHub.
fn runbook_html(md: &str) -> String {
    let anchor = |h: &str| -> String {
        h.trim()
            .to_lowercase()
            .chars()
            .filter_map(|c| match c {
                ' ' => Some('-'),
                c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
                _ => None,
            })
            .collect()
    };
    let page = maud::html! {
        (maud::DOCTYPE)
        html {
            head { meta charset="utf-8"; title { "mcp-sync-monitor runbook" } }
            body {
                pre style="white-space: pre-wrap" {
                    @for line in md.lines() {
                        @match line.strip_prefix("## ") {
                            Some(h) => { b id=(anchor(h)) { "## " (h) } "\n" }
                            None => { (line) "\n" }
                        }
                    }
                }
            }
        }
    };
    let mut out = page.into_string();
    out.push('\n');
    out
}

/// Binds `addr`; returns the listener (to learn an ephemeral port) for [`serve`].
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

/// Serves the routes on `listener` within `limits` until `shutdown`.
pub async fn serve_with(
    listener: TcpListener,
    app: AppState,
    shutdown: Shutdown,
    limits: Limits,
) -> std::io::Result<()> {
    let web = app.web.clone();
    serve::serve(listener, router(app), web, shutdown, limits).await
}

#[cfg(test)]
#[path = "../../tests/unit/http.rs"]
mod tests;
