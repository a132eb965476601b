//! The families with few series, rendered for every scrape from the snapshot it took: per
//! account (up, servers, listing, cycles, API requests, rate limit), per endpoint, the
//! daemon's own settings and build, the web configuration's reloads, and the standard
//! `process_*` families.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::metrics::MetricType::{Counter, Gauge};

use super::encode::{family, histograms, Num};
use super::NS;
use crate::process::ProcessStats;
use crate::state::{AccountView, BlockReason, RequestCounts, Snapshot};
use crate::vocabulary::Anomaly;
use crate::web::{Refusal, WebStatus};

/// Unix seconds (negative before 1970).
pub(super) fn ts(t: SystemTime) -> Num {
    Num::from(match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    })
}

type Enc<'a, 'b> = &'a mut DescriptorEncoder<'b>;

/// No labels.
const NONE: [(&str, &str); 0] = [];

/// The account-level, settings, build and web configuration families.
pub(super) fn render(enc: Enc, snap: &Snapshot, web: Option<WebStatus>) -> fmt::Result {
    render_listings(enc, snap)?;
    render_requests(enc, snap)?;
    render_daemon(enc, snap, web)
}

fn n(name: &str) -> String {
    format!("{NS}{name}")
}

/// Per account, from its published view: listing, servers, blocked, cycles, anomalies.
fn render_listings(enc: Enc, snap: &Snapshot) -> fmt::Result {
    let per_account = |get: fn(&AccountView) -> Option<Num>| {
        snap.accounts
            .iter()
            .filter_map(move |(id, a)| Some(([("account_id", id.as_str())], get(a)?)))
    };
    family(
        enc,
        &n("up"),
        Gauge,
        "1 when the last listing of the account completed, 0 when it failed.",
        per_account(|a| a.up.map(Num::from)),
    )?;
    family(
        enc,
        &n("servers"),
        Gauge,
        "MCP servers in the last complete listing (within the include/exclude filters).",
        per_account(|a| a.listed.then_some(Num::from(a.servers.len()))),
    )?;
    family(
        enc,
        &n("servers_stale"),
        Gauge,
        "Of the servers in the last complete listing, those that are stale.",
        per_account(|a| a.listed.then_some(Num::from(a.stale_count()))),
    )?;
    render_blocked(enc, snap)?;
    family(
        enc,
        &n("last_list_success_timestamp_seconds"),
        Gauge,
        "Unix time at the end of the last complete listing.",
        per_account(|a| a.last_list_success.map(ts)),
    )?;
    histograms(
        enc,
        &n("cycle_duration_seconds"),
        "Duration of one cycle, list to publish.",
        snap.accounts
            .iter()
            .map(|(id, a)| ([("account_id", id.as_str())], &a.cycle_duration)),
    )?;
    // Every kind from 0: the label set is known, so an alert sees the first anomaly.
    let anomalies = snap.accounts.iter().flat_map(|(id, a)| {
        Anomaly::ALL.iter().map(move |kind| {
            let count = a.walk_anomalies.get(kind).copied().unwrap_or(0);
            let l = [("account_id", id.as_str()), ("kind", kind.as_str())];
            (l, Num::from(count))
        })
    });
    family(
        enc,
        &n("list_walk_anomalies_total"),
        Counter,
        "Listing walks that did not go as the API promised, by kind: page_size_not_honoured, repeated_page, page_cap_reached, list_changed.",
        anomalies,
    )
}

/// Per account and reason, the blocked servers; every reason from 0, so a dashboard and an
/// alert see the first blocked server.
fn render_blocked(enc: Enc, snap: &Snapshot) -> fmt::Result {
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
                let l = [("account_id", id.as_str()), ("reason", r.as_str())];
                (l, Num::from(count))
            })
        });
    family(
        enc,
        &n("servers_sync_blocked"),
        Gauge,
        "Of the stale servers, those not synced because a sync cannot refresh them, by reason: manual_oauth, sign_in_required.",
        blocked,
    )
}

/// Per account, from the request counters: requests by endpoint and code, the rate limit.
fn render_requests(enc: Enc, snap: &Snapshot) -> fmt::Result {
    let per_account = |get: fn(&RequestCounts) -> Option<Num>| {
        snap.requests
            .accounts
            .iter()
            .filter_map(move |(id, a)| Some(([("account_id", id.as_str())], get(a)?)))
    };
    let requests = snap.requests.accounts.iter().flat_map(|(id, a)| {
        a.by_code.iter().map(move |((ep, code), count)| {
            let code = code.map_or_else(|| "error".to_owned(), |c| c.to_string());
            (
                [
                    ("account_id", id.clone()),
                    ("endpoint", ep.as_str().to_owned()),
                    ("code", code),
                ],
                Num::from(*count),
            )
        })
    });
    family(
        enc,
        &n("api_requests_total"),
        Counter,
        "Cloudflare API requests by endpoint and HTTP status (error: no answer).",
        requests,
    )?;
    family(
        enc,
        &n("api_ratelimit_remaining"),
        Gauge,
        "Requests remaining per the last Ratelimit header; absent if never seen.",
        per_account(|a| a.ratelimit_remaining.map(Num::from)),
    )?;
    family(
        enc,
        &n("api_ratelimit_reset_timestamp_seconds"),
        Gauge,
        "Unix time at which the window of the last Ratelimit header resets; absent if never seen.",
        per_account(|a| a.ratelimit_reset.map(ts)),
    )
}

/// Per endpoint, and the daemon's own build and settings.
fn render_daemon(enc: Enc, snap: &Snapshot, web: Option<WebStatus>) -> fmt::Result {
    histograms(
        enc,
        &n("api_request_duration_seconds"),
        "Duration of Cloudflare API requests, body included.",
        snap.requests
            .durations
            .iter()
            .map(|(ep, h)| ([("endpoint", ep.as_str())], h)),
    )?;
    family(
        enc,
        &n("build_info"),
        Gauge,
        "Version of mcp-sync-monitor (always 1).",
        [([("version", env!("CARGO_PKG_VERSION"))], Num::from(1u64))],
    )?;
    let settings =
        |get: fn(&crate::state::Settings) -> f64| snap.settings.map(|s| (NONE, Num::from(get(&s))));
    family(
        enc,
        &n("interval_seconds"),
        Gauge,
        "The configured time between cycles (for alert rules).",
        settings(|s| s.interval.as_secs_f64()),
    )?;
    family(
        enc,
        &n("stale_after_seconds"),
        Gauge,
        "The configured age after which a server is stale (for alert rules).",
        settings(|s| s.stale_after.as_secs_f64()),
    )?;
    family(
        enc,
        &n("web_config_last_reload_successful"),
        Gauge,
        "1 when the last load of the web configuration (--web.config.file) succeeded; 0 while the last good one keeps serving. Absent without a web configuration.",
        web.map(|w| (NONE, Num::from(w.ok))),
    )?;
    family(
        enc,
        &n("web_config_last_reload_success_timestamp_seconds"),
        Gauge,
        "Unix time of the last successful load of the web configuration.",
        web.and_then(|w| w.last_success).map(|t| (NONE, ts(t))),
    )?;
    let pins = snap.pins;
    family(
        enc,
        &n("pins_last_reload_successful"),
        Gauge,
        "1 when the last load of the pin file (capabilities.pins) succeeded; 0 while the last good pins stay in use. Absent without a pin file.",
        pins.map(|p| (NONE, Num::from(p.ok))),
    )?;
    family(
        enc,
        &n("pins_definitions"),
        Gauge,
        "Tool and prompt definitions pinned in the pins in use.",
        pins.map(|p| (NONE, Num::from(p.definitions))),
    )?;
    // Every reason from 0 with TLS on, so an alert sees the first refusal.
    let refused = web
        .and_then(|w| w.handshake_failures)
        .into_iter()
        .flat_map(|counts| {
            Refusal::ALL
                .iter()
                .zip(counts)
                .map(|(r, n)| ([("reason", r.as_str())], Num::from(n)))
        });
    family(
        enc,
        &n("web_tls_handshake_failures_total"),
        Counter,
        "TLS handshakes refused, by reason: unknown_ca, expired, not_yet_valid, no_certificate, san_not_allowed, x509_v1, bad_certificate, protocol_version, not_tls, timeout, other. Absent without TLS.",
        refused,
    )
}

/// The standard `process_*` families, named as the official client libraries name them.
pub(super) fn render_process(enc: Enc, p: &ProcessStats) -> fmt::Result {
    let families: [(&str, _, &str, Option<f64>); 6] = [
        (
            "process_cpu_seconds_total",
            Counter,
            "Total user and system CPU time spent in seconds.",
            p.cpu_seconds,
        ),
        (
            "process_resident_memory_bytes",
            Gauge,
            "Resident memory size in bytes.",
            p.resident_bytes,
        ),
        (
            "process_virtual_memory_bytes",
            Gauge,
            "Virtual memory size in bytes.",
            p.virtual_bytes,
        ),
        (
            "process_open_fds",
            Gauge,
            "Number of open file descriptors.",
            p.open_fds,
        ),
        (
            "process_max_fds",
            Gauge,
            "Maximum number of open file descriptors.",
            p.max_fds,
        ),
        (
            "process_start_time_seconds",
            Gauge,
            "Start time of the process since unix epoch in seconds.",
            p.start_time_seconds,
        ),
    ];
    for (name, kind, help, v) in families {
        family(enc, name, kind, help, v.map(|v| (NONE, Num::from(v))))?;
    }
    Ok(())
}
