//! The HTTP endpoints: `/` (links), `/metrics`, `/healthz`, `/readyz`; anything else 404.
//!
//! A scrape renders the state as it is: it never calls Cloudflare and never waits on a
//! cycle. The server stops with the shared shutdown signal.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::extract::State as AxState;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::metrics;
use crate::shutdown::Shutdown;
use crate::state::State;

/// What the handlers read.
#[derive(Clone)]
pub struct AppState {
    /// The daemon's knowledge.
    pub state: Arc<State>,
    /// False once the scheduler has stopped.
    pub scheduler_alive: Arc<AtomicBool>,
}

/// The routes: `/`, `/metrics`, `/healthz`, `/readyz`, `/runbook`; anything else is 404.
pub fn router(app: AppState) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/metrics", get(metrics_handler))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/runbook", get(runbook))
        .fallback(|| async { (StatusCode::NOT_FOUND, "not found\n") })
        .with_state(app)
}

async fn index() -> Html<&'static str> {
    Html(concat!(
        "<!doctype html><html><head><title>mcp-sync-monitor</title></head><body>",
        "<h1>mcp-sync-monitor ",
        env!("CARGO_PKG_VERSION"),
        "</h1>",
        "<ul><li><a href=\"/metrics\">/metrics</a></li>",
        "<li><a href=\"/healthz\">/healthz</a></li>",
        "<li><a href=\"/readyz\">/readyz</a></li>",
        "<li><a href=\"/runbook\">/runbook</a> (what to do when an alert fires)</li>",
        "</ul></body></html>\n"
    ))
}

/// Pieces of the exposition in flight at once: memory per scrape stays at about
/// `CHUNK * (QUEUE + 2)` plus a compact copy of the state, however large the fleet.
const CHUNK: usize = 256 * 1024;
const QUEUE: usize = 2;

async fn metrics_handler(AxState(app): AxState<AppState>) -> Response {
    let (tx, rx) = mpsc::channel::<Bytes>(QUEUE);
    tokio::task::spawn_blocking(move || {
        let scrape = metrics::snapshot(&app.state);
        metrics::write(&scrape, CHUNK, |piece| {
            tx.blocking_send(Bytes::from(piece)).is_ok()
        });
    });
    (
        [(header::CONTENT_TYPE, metrics::CONTENT_TYPE)],
        Body::new(Pieces(rx)),
    )
        .into_response()
}

/// A response body fed by a channel of pieces.
struct Pieces(mpsc::Receiver<Bytes>);

impl http_body::Body for Pieces {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        self.0
            .poll_recv(cx)
            .map(|piece| piece.map(|b| Ok(http_body::Frame::data(b))))
    }
}

async fn healthz(AxState(app): AxState<AppState>) -> Response {
    if app.scheduler_alive.load(Ordering::SeqCst) {
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
const RUNBOOK: &str = include_str!("../docs/runbook.md");

async fn runbook() -> Html<String> {
    Html(runbook_html(RUNBOOK))
}

/// The runbook as a page: its text as written, each `## ` heading an anchor with the id
/// GitHub would give it (lower case, spaces as dashes), so `runbook#mcpsyncmonitordown` lands
/// on its section here as on GitHub.
fn runbook_html(md: &str) -> String {
    let escape = |t: &str| {
        t.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    let mut out = String::with_capacity(md.len() + 1024);
    out.push_str("<!doctype html><html><head><meta charset=\"utf-8\"><title>mcp-sync-monitor runbook</title></head><body><pre style=\"white-space: pre-wrap\">");
    for line in md.lines() {
        match line.strip_prefix("## ") {
            Some(h) => {
                let id: String = h
                    .trim()
                    .to_lowercase()
                    .chars()
                    .filter_map(|c| match c {
                        ' ' => Some('-'),
                        c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
                        _ => None,
                    })
                    .collect();
                out.push_str(&format!("<b id=\"{}\">## {}</b>\n", escape(&id), escape(h)));
            }
            None => {
                out.push_str(&escape(line));
                out.push('\n');
            }
        }
    }
    out.push_str("</pre></body></html>\n");
    out
}

/// Binds `addr`; returns the listener (to learn an ephemeral port) for [`serve`].
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

/// Serves until `shutdown`, then lets in-flight requests finish.
pub async fn serve(
    listener: TcpListener,
    app: AppState,
    shutdown: Shutdown,
) -> std::io::Result<()> {
    axum::serve(listener, router(app))
        .with_graceful_shutdown(async move { shutdown.wait().await })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runbook_headings_are_anchors_and_text_is_escaped() {
        let html =
            runbook_html("# Title\n\n## McpSyncMonitorDown\n\nrun `a <b> & c`\n## What, then?\n");
        assert!(
            html.contains("<b id=\"mcpsyncmonitordown\">## McpSyncMonitorDown</b>"),
            "{html}"
        );
        assert!(
            html.contains("<b id=\"what-then\">## What, then?</b>"),
            "{html}"
        );
        assert!(html.contains("run `a &lt;b&gt; &amp; c`"), "{html}");
    }

    #[test]
    fn every_alert_of_the_rule_file_has_its_section_in_the_served_runbook() {
        let rules = include_str!("../dashboards/alerts.yaml");
        let html = runbook_html(RUNBOOK);
        let mut alerts = 0;
        for name in rules
            .lines()
            .filter_map(|l| l.trim().strip_prefix("- alert: "))
        {
            alerts += 1;
            let id = format!("id=\"{}\"", name.trim().to_lowercase());
            assert!(html.contains(&id), "no runbook section for {name}");
        }
        assert!(alerts >= 12, "{alerts} alerts found");
    }
}
