//! The per-server families (thousands of series at scale): copied out of the state as
//! compact rows under the read lock, written after it is released, in pieces, so a scrape
//! holds the lock for milliseconds however slowly its client reads.

use super::head::{flag, ts};
use super::text::{header, label, number, Out};
use super::NS;
use crate::state::{ServerState, Snapshot};

/// The per-server families: name, type, help, and how to read the value (`None`: no series).
type ServerValue = fn(&ServerState) -> Option<f64>;

const SERVER_FAMILIES: &[(&str, &str, &str, ServerValue)] = &[
    (
        "server_last_successful_sync_timestamp_seconds",
        "gauge",
        "Unix time of the server's last successful sync as Cloudflare reports it; absent if never.",
        |s| s.info.last_successful_sync.map(ts),
    ),
    (
        "server_last_synced_timestamp_seconds",
        "gauge",
        "Unix time of the server's last sync (by anyone) as Cloudflare reports it; absent if never.",
        |s| s.info.last_synced.map(ts),
    ),
    (
        "server_stale",
        "gauge",
        "1 when the server is stale, 0 when fresh.",
        |s| Some(flag(s.info.stale)),
    ),
    (
        "server_error",
        "gauge",
        "1 when Cloudflare reports an error for the server.",
        |s| Some(flag(s.info.error)),
    ),
    (
        "server_error_retryable",
        "gauge",
        "1 when the server's error is retryable per error_details; absent without details.",
        |s| s.info.error_retryable.map(flag),
    ),
    (
        "server_tools",
        "gauge",
        "Number of tools the server exposes.",
        |s| s.info.tools.map(f64::from),
    ),
    (
        "server_prompts",
        "gauge",
        "Number of prompts the server exposes.",
        |s| s.info.prompts.map(f64::from),
    ),
    (
        "server_last_sync_attempt_timestamp_seconds",
        "gauge",
        "Unix time the daemon last sent a sync of the server (its own clock); absent before the first.",
        |s| s.last_sync.as_ref().map(|l| ts(l.at)),
    ),
    (
        "server_consecutive_sync_failures",
        "gauge",
        "Syncs of the server that failed in a row; resets on success.",
        |s| Some(f64::from(s.consecutive_failures)),
    ),
    (
        "syncs_total",
        "counter",
        "Syncs triggered (one per decision, however many retries).",
        |s| Some(s.syncs_total as f64),
    ),
    (
        "sync_failures_total",
        "counter",
        "Syncs that failed after their retries, or answered success without effect.",
        |s| Some(s.failures_total as f64),
    ),
    (
        "server_capability_changes_total",
        "counter",
        "Changes of the server's tool or prompt definitions seen between two listings (the first sighting is not one).",
        |s| Some(s.capability_changes as f64),
    ),
    (
        "server_capabilities_changed_timestamp_seconds",
        "gauge",
        "Unix time the daemon last saw the server's tool or prompt definitions change; absent until it has.",
        |s| s.capabilities_changed_at.map(ts),
    ),
];

/// One server as a scrape sees it: its labels, escaped once, and its values.
pub(super) struct Row {
    /// `account_id="…",server_id="…"`
    labels: String,
    /// `name="…",hostname="…",auth_type="…"`
    info: String,
    status: Option<std::sync::Arc<str>>,
    auth_status: Option<std::sync::Arc<str>>,
    outcome: Option<&'static str>,
    blocked: Option<&'static str>,
    values: [Option<f64>; SERVER_FAMILIES.len()],
    retries: [u64; 3],
}

const RETRY_REASONS: [&str; 3] = ["retryable", "rate_limited", "transient"];

/// The rows of every server of the snapshot.
pub(super) fn rows(snap: &Snapshot) -> Vec<Row> {
    let mut rows = Vec::with_capacity(snap.accounts.values().map(|a| a.servers.len()).sum());
    for (acct, a) in &snap.accounts {
        for (id, s) in &a.servers {
            let mut labels = String::with_capacity(acct.len() + id.len() + 28);
            label(&mut labels, "account_id", acct);
            labels.push(',');
            label(&mut labels, "server_id", id);
            let mut info = String::with_capacity(s.info.name.len() + s.info.hostname.len() + 40);
            label(&mut info, "name", &s.info.name);
            info.push(',');
            label(&mut info, "hostname", &s.info.hostname);
            info.push(',');
            label(&mut info, "auth_type", &s.info.auth_type);
            let mut values = [None; SERVER_FAMILIES.len()];
            for (v, (_, _, _, get)) in values.iter_mut().zip(SERVER_FAMILIES) {
                *v = get(s);
            }
            rows.push(Row {
                labels,
                info,
                status: s.info.status.clone(),
                auth_status: s.info.authentication_status.clone(),
                outcome: s.last_sync.as_ref().map(|l| l.outcome.as_str()),
                blocked: s.last_action.blocked().map(|r| r.as_str()),
                values,
                retries: [
                    s.retries.retryable,
                    s.retries.rate_limited,
                    s.retries.transient,
                ],
            });
        }
    }
    rows
}

/// The per-server families whose value is a label (always 1): name, label, help, value.
type Labelled = (
    &'static str,
    &'static str,
    &'static str,
    fn(&Row) -> Option<&str>,
);

const LABELLED: [Labelled; 4] = [
    (
        "server_status",
        "status",
        "The server's current status as Cloudflare reports it (always 1).",
        |r| r.status.as_deref(),
    ),
    (
        "server_authentication_status",
        "status",
        "The server's authentication_status as Cloudflare reports it (always 1); required or stale needs a person to sign in again.",
        |r| r.auth_status.as_deref(),
    ),
    (
        "server_last_sync_outcome",
        "outcome",
        "How the daemon's last sync of the server ended (always 1): success (its last_successful_sync advanced), no_effect, pending (the next listing judges it), failed, rate_limited, interrupted; absent before the first.",
        |r| r.outcome,
    ),
    (
        "server_sync_blocked",
        "reason",
        "1 when the server is stale and not synced because a sync cannot refresh it: manual_oauth, sign_in_required; absent otherwise.",
        |r| r.blocked,
    ),
];

fn sample_start(out: &mut String, name: &str, labels: &str) {
    out.push_str(NS);
    out.push_str(name);
    out.push('{');
    out.push_str(labels);
}

/// Writes the per-server families; `flush` hands a full piece on and returns `false` when
/// the client went away (then writing stops).
pub(super) fn write(rows: &[Row], out: &mut Out, mut flush: impl FnMut(&mut Out) -> bool) {
    if !rows.is_empty() {
        header(
            out,
            &format!("{NS}server_info"),
            "gauge",
            "Identity of an MCP server (always 1).",
        );
        for r in rows {
            sample_start(out, "server_info", &r.labels);
            out.push(',');
            out.push_str(&r.info);
            out.push_str("} 1\n");
            if !flush(out) {
                return;
            }
        }
    }
    for (name, key, help, pick) in LABELLED {
        if rows.iter().all(|r| pick(r).is_none()) {
            continue;
        }
        header(out, &format!("{NS}{name}"), "gauge", help);
        for r in rows {
            if let Some(v) = pick(r) {
                sample_start(out, name, &r.labels);
                out.push(',');
                label(out, key, v);
                out.push_str("} 1\n");
                if !flush(out) {
                    return;
                }
            }
        }
    }
    for (i, (name, kind, help, _)) in SERVER_FAMILIES.iter().enumerate() {
        if rows.iter().all(|r| r.values[i].is_none()) {
            continue;
        }
        header(out, &format!("{NS}{name}"), kind, help);
        for r in rows {
            if let Some(v) = r.values[i] {
                sample_start(out, name, &r.labels);
                out.push_str("} ");
                number(out, v);
                out.push('\n');
                if !flush(out) {
                    return;
                }
            }
        }
    }
    if rows.iter().any(|r| r.retries.iter().any(|n| *n > 0)) {
        header(
            out,
            &format!("{NS}sync_retries_total"),
            "counter",
            "Sync retries by reason: retryable, rate_limited, transient.",
        );
        for r in rows {
            for (reason, n) in RETRY_REASONS.iter().zip(r.retries) {
                if n > 0 {
                    sample_start(out, "sync_retries_total", &r.labels);
                    out.push_str(",reason=\"");
                    out.push_str(reason);
                    out.push_str("\"} ");
                    number(out, n as f64);
                    out.push('\n');
                }
            }
            if !flush(out) {
                return;
            }
        }
    }
}
