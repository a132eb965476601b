//! The per-server families (thousands of series at scale), written straight from the
//! published views in pieces, so that a rendering never holds more than a piece of text.

use super::head::{flag, ts};
use super::text::{header, label, number, Out};
use super::NS;
use crate::state::{ServerState, Snapshot};
use crate::vocabulary::Rule;

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

const RETRY_REASONS: [&str; 3] = ["retryable", "rate_limited", "transient"];

/// Every server of the snapshot with its account, in the order of the exposition.
fn servers(snap: &Snapshot) -> impl Iterator<Item = (&str, &str, &ServerState)> {
    snap.accounts
        .iter()
        .flat_map(|(acct, a)| a.servers.iter().map(move |(id, s)| (acct.as_str(), id, s)))
}

/// The per-server families whose value is a label (always 1): name, label, help, value.
type Labelled = (
    &'static str,
    &'static str,
    &'static str,
    fn(&ServerState) -> Option<&str>,
);

const LABELLED: [Labelled; 4] = [
    (
        "server_status",
        "status",
        "The server's current status as Cloudflare reports it (always 1).",
        |s| s.info.status.as_deref(),
    ),
    (
        "server_authentication_status",
        "status",
        "The server's authentication_status as Cloudflare reports it (always 1); required or stale needs a person to sign in again.",
        |s| s.info.authentication_status.as_deref(),
    ),
    (
        "server_last_sync_outcome",
        "outcome",
        "How the daemon's last sync of the server ended (always 1): success (its last_successful_sync advanced), no_effect, pending (the next listing judges it), failed, rate_limited, interrupted; absent before the first.",
        |s| s.last_sync.as_ref().map(|l| l.outcome.as_str()),
    ),
    (
        "server_sync_blocked",
        "reason",
        "1 when the server is stale and not synced because a sync cannot refresh it: manual_oauth, sign_in_required; absent otherwise.",
        |s| s.last_action.blocked().map(|r| r.as_str()),
    ),
];

/// `cloudflare_mcp_<name>{account_id="…",server_id="…"`: the start of a server's sample.
fn sample_start(out: &mut String, name: &str, acct: &str, id: &str) {
    out.push_str(NS);
    out.push_str(name);
    out.push('{');
    label(out, "account_id", acct);
    out.push(',');
    label(out, "server_id", id);
}

/// Writes the per-server families of `snap` straight from its views (nothing is copied out:
/// a view is immutable once published); `flush` hands a full piece on and returns `false`
/// when the client went away (then writing stops).
pub(super) fn write(snap: &Snapshot, out: &mut Out, mut flush: impl FnMut(&mut Out) -> bool) {
    let all = || servers(snap);
    if all().next().is_some() {
        header(
            out,
            &format!("{NS}server_info"),
            "gauge",
            "Identity of an MCP server (always 1).",
        );
        for (acct, id, s) in all() {
            sample_start(out, "server_info", acct, id);
            out.push(',');
            label(out, "name", &s.info.name);
            out.push(',');
            label(out, "hostname", &s.info.hostname);
            out.push(',');
            label(out, "auth_type", &s.info.auth_type);
            out.push_str("} 1\n");
            if !flush(out) {
                return;
            }
        }
    }
    for (name, key, help, pick) in LABELLED {
        if all().all(|(_, _, s)| pick(s).is_none()) {
            continue;
        }
        header(out, &format!("{NS}{name}"), "gauge", help);
        for (acct, id, s) in all() {
            if let Some(v) = pick(s) {
                sample_start(out, name, acct, id);
                out.push(',');
                label(out, key, v);
                out.push_str("} 1\n");
                if !flush(out) {
                    return;
                }
            }
        }
    }
    for (name, kind, help, get) in SERVER_FAMILIES {
        if all().all(|(_, _, s)| get(s).is_none()) {
            continue;
        }
        header(out, &format!("{NS}{name}"), kind, help);
        for (acct, id, s) in all() {
            if let Some(v) = get(s) {
                sample_start(out, name, acct, id);
                out.push_str("} ");
                number(out, v);
                out.push('\n');
                if !flush(out) {
                    return;
                }
            }
        }
    }
    let retries = |s: &ServerState| {
        Some([
            s.retries.retryable,
            s.retries.rate_limited,
            s.retries.transient,
        ])
    };
    let retry_family = Keyed {
        name: "sync_retries_total",
        kind: "counter",
        help: "Sync retries by reason: retryable, rate_limited, transient.",
        key: "reason",
        values: &RETRY_REASONS,
        zeros: false,
    };
    if !write_keyed(snap, out, &retry_family, retries, &mut flush) {
        return;
    }
    let drift = |s: &ServerState| {
        s.info.review.drift.map(|d| {
            [
                u64::from(d.added),
                u64::from(d.changed),
                u64::from(d.removed),
            ]
        })
    };
    let drift_family = Keyed {
        name: "server_capability_drift",
        kind: "gauge",
        help: "Tool and prompt definitions of the server that differ from its pins (capabilities.pins): added (not pinned), changed (another fingerprint), removed (pinned, no longer listed); absent without a pin file.",
        key: "change",
        values: &["added", "changed", "removed"],
        zeros: true,
    };
    if !write_keyed(snap, out, &drift_family, drift, &mut flush) {
        return;
    }
    let suspicious = |s: &ServerState| Some(s.info.review.suspicious.map(u64::from));
    let rules = Rule::ALL.map(Rule::as_str);
    let suspicious_family = Keyed {
        name: "server_suspicious_definitions",
        kind: "gauge",
        help: "Tool and prompt definitions of the server that break a rule for hidden instructions: invisible_characters, bidi_controls, tag_characters (Unicode a person does not see), instruction_markup (<IMPORTANT>, <system>, [SYSTEM] and the like).",
        key: "rule",
        values: &rules,
        zeros: true,
    };
    write_keyed(snap, out, &suspicious_family, suspicious, &mut flush);
}

/// A per-server family with one label more, and a series per value of it.
struct Keyed<'a> {
    name: &'static str,
    kind: &'static str,
    help: &'static str,
    key: &'static str,
    values: &'a [&'static str],
    /// Whether a zero has a series (else only counts above zero do).
    zeros: bool,
}

/// Writes a [`Keyed`] family: for each server whose `get` is `Some`, one series per value.
/// `false` when the client went away.
fn write_keyed<const N: usize>(
    snap: &Snapshot,
    out: &mut Out,
    f: &Keyed<'_>,
    get: impl Fn(&ServerState) -> Option<[u64; N]>,
    flush: &mut impl FnMut(&mut Out) -> bool,
) -> bool {
    let shown = |n: u64| f.zeros || n > 0;
    if !servers(snap).any(|(_, _, s)| get(s).is_some_and(|v| v.iter().any(|n| shown(*n)))) {
        return true;
    }
    header(out, &format!("{NS}{}", f.name), f.kind, f.help);
    for (acct, id, s) in servers(snap) {
        let Some(v) = get(s) else { continue };
        for (value, n) in f.values.iter().zip(v) {
            if shown(n) {
                sample_start(out, f.name, acct, id);
                out.push(',');
                out.push_str(f.key);
                out.push_str("=\"");
                out.push_str(value);
                out.push_str("\"} ");
                number(out, n as f64);
                out.push('\n');
            }
        }
        if !flush(out) {
            return false;
        }
    }
    true
}
