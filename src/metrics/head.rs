//! The families with few series, rendered for every scrape from the snapshot it took: per
//! account (up, servers, listing, cycles, API requests, rate limit), per endpoint, the
//! daemon's own settings and build, the web configuration's reloads, and the standard
//! `process_*` families.

use std::time::{SystemTime, UNIX_EPOCH};

use super::text::{family, histograms, labels, Out};
use super::NS;
use crate::process::ProcessStats;
use crate::state::{AccountView, BlockReason, RequestCounts, Snapshot};
use crate::vocabulary::Anomaly;
use crate::web::{Refusal, WebStatus};

/// Unix seconds (negative before 1970).
pub(super) fn ts(t: SystemTime) -> f64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    }
}

pub(super) fn flag(b: bool) -> f64 {
    if b {
        1.0
    } else {
        0.0
    }
}

/// The account-level, settings, build and web configuration families.
pub(super) fn render(out: &mut Out, snap: &Snapshot, web: Option<WebStatus>) {
    render_accounts(out, snap);
    render_daemon(out, snap, web);
}

fn n(name: &str) -> String {
    format!("{NS}{name}")
}

/// Per account: listing, servers, cycles, API requests and the rate limit.
fn render_accounts(out: &mut Out, snap: &Snapshot) {
    render_listings(out, snap);
    render_requests(out, snap);
}

/// Per account, from its published view: listing, servers, blocked, cycles, anomalies.
fn render_listings(out: &mut Out, snap: &Snapshot) {
    let per_account = |get: &dyn Fn(&AccountView) -> Option<f64>| {
        snap.accounts
            .iter()
            .filter_map(|(id, a)| Some((labels(&[("account_id", id)]), get(a)?)))
            .collect::<Vec<_>>()
    };
    family(
        out,
        &n("up"),
        "gauge",
        "1 when the last listing of the account completed, 0 when it failed.",
        per_account(&|a| a.up.map(flag)),
    );
    family(
        out,
        &n("servers"),
        "gauge",
        "MCP servers in the last complete listing (within the include/exclude filters).",
        per_account(&|a| a.listed.then_some(a.servers.len() as f64)),
    );
    family(
        out,
        &n("servers_stale"),
        "gauge",
        "Of the servers in the last complete listing, those that are stale.",
        per_account(&|a| a.listed.then_some(a.stale_count() as f64)),
    );
    render_blocked(out, snap);
    family(
        out,
        &n("last_list_success_timestamp_seconds"),
        "gauge",
        "Unix time at the end of the last complete listing.",
        per_account(&|a| a.last_list_success.map(ts)),
    );
    histograms(
        out,
        &n("cycle_duration_seconds"),
        "Duration of one cycle, list to publish.",
        snap.accounts
            .iter()
            .map(|(id, a)| (labels(&[("account_id", id)]), &a.cycle_duration)),
    );
    // Every kind from 0: the label set is known, so an alert sees the first anomaly.
    let anomalies = snap.accounts.iter().flat_map(|(id, a)| {
        Anomaly::ALL.iter().map(move |kind| {
            let count = a.walk_anomalies.get(kind).copied().unwrap_or(0);
            let l = labels(&[("account_id", id), ("kind", kind.as_str())]);
            (l, count as f64)
        })
    });
    family(
        out,
        &n("list_walk_anomalies_total"),
        "counter",
        "Listing walks that did not go as the API promised, by kind: page_size_not_honoured, repeated_page, page_cap_reached, list_changed.",
        anomalies,
    );
}

/// Per account and reason, the blocked servers; every reason from 0, so a dashboard and an
/// alert see the first blocked server.
fn render_blocked(out: &mut Out, snap: &Snapshot) {
    let blocked = snap
        .accounts
        .iter()
        .filter(|(_, a)| a.listed)
        .flat_map(|(id, a)| {
            BlockReason::ALL.iter().map(move |r| {
                let count = a
                    .servers
                    .values()
                    .filter(|s| s.last_action.blocked() == Some(*r))
                    .count();
                (
                    labels(&[("account_id", id), ("reason", r.as_str())]),
                    count as f64,
                )
            })
        });
    family(
        out,
        &n("servers_sync_blocked"),
        "gauge",
        "Of the stale servers, those not synced because a sync cannot refresh them, by reason: manual_oauth, sign_in_required.",
        blocked,
    );
}

/// Per account, from the request counters: requests by endpoint and code, the rate limit.
fn render_requests(out: &mut Out, snap: &Snapshot) {
    let per_account_requests = |get: &dyn Fn(&RequestCounts) -> Option<f64>| {
        snap.requests
            .accounts
            .iter()
            .filter_map(|(id, a)| Some((labels(&[("account_id", id)]), get(a)?)))
            .collect::<Vec<_>>()
    };
    let requests = snap.requests.accounts.iter().flat_map(|(id, a)| {
        a.by_code.iter().map(move |((ep, code), count)| {
            let code = code.map_or_else(|| "error".to_owned(), |c| c.to_string());
            let l = labels(&[
                ("account_id", id),
                ("endpoint", ep.as_str()),
                ("code", &code),
            ]);
            (l, *count as f64)
        })
    });
    family(
        out,
        &n("api_requests_total"),
        "counter",
        "Cloudflare API requests by endpoint and HTTP status (error: no answer).",
        requests,
    );
    family(
        out,
        &n("api_ratelimit_remaining"),
        "gauge",
        "Requests remaining per the last Ratelimit header; absent if never seen.",
        per_account_requests(&|a| a.ratelimit_remaining.map(|r| r as f64)),
    );
    family(
        out,
        &n("api_ratelimit_reset_timestamp_seconds"),
        "gauge",
        "Unix time at which the window of the last Ratelimit header resets; absent if never seen.",
        per_account_requests(&|a| a.ratelimit_reset.map(ts)),
    );
}

/// Per endpoint, and the daemon's own build and settings.
fn render_daemon(out: &mut Out, snap: &Snapshot, web: Option<WebStatus>) {
    histograms(
        out,
        &n("api_request_duration_seconds"),
        "Duration of Cloudflare API requests, body included.",
        snap.requests
            .durations
            .iter()
            .map(|(ep, h)| (labels(&[("endpoint", ep.as_str())]), h)),
    );
    let version = labels(&[("version", env!("CARGO_PKG_VERSION"))]);
    family(
        out,
        &n("build_info"),
        "gauge",
        "Version of mcp-sync-monitor (always 1).",
        [(version, 1.0)],
    );
    let settings =
        |get: fn(&crate::state::Settings) -> f64| snap.settings.map(|s| (String::new(), get(&s)));
    family(
        out,
        &n("interval_seconds"),
        "gauge",
        "The configured time between cycles (for alert rules).",
        settings(|s| s.interval.as_secs_f64()),
    );
    family(
        out,
        &n("stale_after_seconds"),
        "gauge",
        "The configured age after which a server is stale (for alert rules).",
        settings(|s| s.stale_after.as_secs_f64()),
    );
    family(
        out,
        &n("web_config_last_reload_successful"),
        "gauge",
        "1 when the last load of the web configuration (--web.config.file) succeeded; 0 while the last good one keeps serving. Absent without a web configuration.",
        web.map(|w| (String::new(), flag(w.ok))),
    );
    family(
        out,
        &n("web_config_last_reload_success_timestamp_seconds"),
        "gauge",
        "Unix time of the last successful load of the web configuration.",
        web.and_then(|w| w.last_success)
            .map(|t| (String::new(), ts(t))),
    );
    let pins = snap.pins;
    family(
        out,
        &n("pins_last_reload_successful"),
        "gauge",
        "1 when the last load of the pin file (capabilities.pins) succeeded; 0 while the last good pins stay in use. Absent without a pin file.",
        pins.map(|p| (String::new(), flag(p.ok))),
    );
    family(
        out,
        &n("pins_definitions"),
        "gauge",
        "Tool and prompt definitions pinned in the pins in use.",
        pins.map(|p| (String::new(), p.definitions as f64)),
    );
    // Every reason from 0 with TLS on, so an alert sees the first refusal.
    let refused = web
        .and_then(|w| w.handshake_failures)
        .into_iter()
        .flat_map(|counts| {
            Refusal::ALL
                .iter()
                .zip(counts)
                .map(|(r, n)| (labels(&[("reason", r.as_str())]), n as f64))
        });
    family(
        out,
        &n("web_tls_handshake_failures_total"),
        "counter",
        "TLS handshakes refused, by reason: unknown_ca, expired, not_yet_valid, no_certificate, san_not_allowed, x509_v1, bad_certificate, protocol_version, not_tls, timeout, other. Absent without TLS.",
        refused,
    );
}

/// The standard `process_*` families, named as the official client libraries name them.
pub(super) fn render_process(out: &mut Out, p: &ProcessStats) {
    let one = |v: Option<f64>| v.map(|v| (String::new(), v));
    family(
        out,
        "process_cpu_seconds_total",
        "counter",
        "Total user and system CPU time spent in seconds.",
        one(p.cpu_seconds),
    );
    family(
        out,
        "process_resident_memory_bytes",
        "gauge",
        "Resident memory size in bytes.",
        one(p.resident_bytes),
    );
    family(
        out,
        "process_virtual_memory_bytes",
        "gauge",
        "Virtual memory size in bytes.",
        one(p.virtual_bytes),
    );
    family(
        out,
        "process_open_fds",
        "gauge",
        "Number of open file descriptors.",
        one(p.open_fds),
    );
    family(
        out,
        "process_max_fds",
        "gauge",
        "Maximum number of open file descriptors.",
        one(p.max_fds),
    );
    family(
        out,
        "process_start_time_seconds",
        "gauge",
        "Start time of the process since unix epoch in seconds.",
        one(p.start_time_seconds),
    );
}
