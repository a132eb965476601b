//! The per-server families (thousands of series at scale), encoded straight from the
//! published views: nothing is copied out (a view is immutable once published), and the
//! text goes on to the writer as it is made.

use std::fmt;

use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::metrics::MetricType::{self, Counter, Gauge};

use super::encode::{open, sample, Num};
use super::head::ts;
use super::NS;
use crate::state::{ServerState, Snapshot};
use crate::vocabulary::Rule;

/// The per-server families: name, type, help, and how to read the value (`None`: no series).
type ServerValue = fn(&ServerState) -> Option<Num>;

const SERVER_FAMILIES: &[(&str, MetricType, &str, ServerValue)] = &[
    (
        "server_last_successful_sync_timestamp_seconds",
        Gauge,
        "Unix time of the server's last successful sync as Cloudflare reports it; absent if never.",
        |s| s.info.last_successful_sync.map(ts),
    ),
    (
        "server_last_synced_timestamp_seconds",
        Gauge,
        "Unix time of the server's last sync (by anyone) as Cloudflare reports it; absent if never.",
        |s| s.info.last_synced.map(ts),
    ),
    (
        "server_stale",
        Gauge,
        "1 when the server is stale, 0 when fresh.",
        |s| Some(Num::from(s.info.stale)),
    ),
    (
        "server_error",
        Gauge,
        "1 when Cloudflare reports an error for the server.",
        |s| Some(Num::from(s.info.error)),
    ),
    (
        "server_error_retryable",
        Gauge,
        "1 when the server's error is retryable per error_details; absent without details.",
        |s| s.info.error_retryable.map(Num::from),
    ),
    (
        "server_tools",
        Gauge,
        "Number of tools the server exposes.",
        |s| s.info.tools.map(Num::from),
    ),
    (
        "server_prompts",
        Gauge,
        "Number of prompts the server exposes.",
        |s| s.info.prompts.map(Num::from),
    ),
    (
        "server_last_sync_attempt_timestamp_seconds",
        Gauge,
        "Unix time the daemon last sent a sync of the server (its own clock); absent before the first.",
        |s| s.last_sync.as_ref().map(|l| ts(l.at)),
    ),
    (
        "server_consecutive_sync_failures",
        Gauge,
        "Syncs of the server that failed in a row; resets on success.",
        |s| Some(Num::from(s.consecutive_failures)),
    ),
    (
        "syncs_total",
        Counter,
        "Syncs triggered (one per decision, however many retries).",
        |s| Some(Num::from(s.syncs_total)),
    ),
    (
        "sync_failures_total",
        Counter,
        "Syncs that failed after their retries, or answered success without effect.",
        |s| Some(Num::from(s.failures_total)),
    ),
    (
        "server_capability_changes_total",
        Counter,
        "Changes of the server's tool or prompt definitions seen between two listings (the first sighting is not one).",
        |s| Some(Num::from(s.capability_changes)),
    ),
    (
        "server_capabilities_changed_timestamp_seconds",
        Gauge,
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

type Enc<'a, 'b> = &'a mut DescriptorEncoder<'b>;

/// The help texts of the per-server tables.
#[cfg(test)]
pub(super) fn helps() -> impl Iterator<Item = &'static str> {
    let labelled = LABELLED.iter().map(|f| f.2);
    labelled.chain(SERVER_FAMILIES.iter().map(|f| f.2))
}

/// Writes the per-server families of `snap`.
pub(super) fn write(snap: &Snapshot, enc: Enc) -> fmt::Result {
    let all = || servers(snap);
    if all().next().is_some() {
        let name = format!("{NS}server_info");
        let mut m = open(enc, &name, Gauge, "Identity of an MCP server (always 1).")?;
        for (acct, id, s) in all() {
            let labels = [
                ("account_id", acct),
                ("server_id", id),
                ("name", &*s.info.name),
                ("hostname", &*s.info.hostname),
                ("auth_type", &*s.info.auth_type),
            ];
            sample(&mut m, Gauge, &labels, Num::Count(1))?;
        }
    }
    for (name, key, help, pick) in LABELLED {
        if all().all(|(_, _, s)| pick(s).is_none()) {
            continue;
        }
        let name = format!("{NS}{name}");
        let mut m = open(enc, &name, Gauge, help)?;
        for (acct, id, s) in all() {
            if let Some(v) = pick(s) {
                let labels = [("account_id", acct), ("server_id", id), (key, v)];
                sample(&mut m, Gauge, &labels, Num::Count(1))?;
            }
        }
    }
    for &(name, kind, help, get) in SERVER_FAMILIES {
        if all().all(|(_, _, s)| get(s).is_none()) {
            continue;
        }
        let name = format!("{NS}{name}");
        let mut m = open(enc, &name, kind, help)?;
        for (acct, id, s) in all() {
            if let Some(v) = get(s) {
                sample(&mut m, kind, &[("account_id", acct), ("server_id", id)], v)?;
            }
        }
    }
    write_keyed_families(snap, enc)
}

/// The per-server families with a label more: retries by reason, drift by change, suspicious
/// definitions by rule.
fn write_keyed_families(snap: &Snapshot, enc: Enc) -> fmt::Result {
    let retries = |s: &ServerState| {
        Some([
            s.retries.retryable,
            s.retries.rate_limited,
            s.retries.transient,
        ])
    };
    let retry_family = Keyed {
        name: "sync_retries_total",
        kind: Counter,
        help: "Sync retries by reason: retryable, rate_limited, transient.",
        key: "reason",
        values: &RETRY_REASONS,
        zeros: false,
    };
    write_keyed(snap, enc, &retry_family, retries)?;
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
        kind: Gauge,
        help: "Tool and prompt definitions of the server that differ from its pins (capabilities.pins): added (not pinned), changed (another fingerprint), removed (pinned, no longer listed); absent without a pin file.",
        key: "change",
        values: &["added", "changed", "removed"],
        zeros: true,
    };
    write_keyed(snap, enc, &drift_family, drift)?;
    let suspicious = |s: &ServerState| Some(s.info.review.suspicious.map(u64::from));
    let rules = Rule::ALL.map(Rule::as_str);
    let suspicious_family = Keyed {
        name: "server_suspicious_definitions",
        kind: Gauge,
        help: "Tool and prompt definitions of the server that break a rule for hidden instructions: invisible_characters, bidi_controls, tag_characters (Unicode a person does not see), instruction_markup (<IMPORTANT>, <system>, [SYSTEM] and the like).",
        key: "rule",
        values: &rules,
        zeros: true,
    };
    write_keyed(snap, enc, &suspicious_family, suspicious)
}

/// A per-server family with one label more, and a series per value of it.
struct Keyed<'a> {
    name: &'static str,
    kind: MetricType,
    help: &'static str,
    key: &'static str,
    values: &'a [&'static str],
    /// Whether a zero has a series (else only counts above zero do).
    zeros: bool,
}

/// Writes a [`Keyed`] family: for each server whose `get` is `Some`, one series per value.
fn write_keyed<const N: usize>(
    snap: &Snapshot,
    enc: Enc,
    f: &Keyed<'_>,
    get: impl Fn(&ServerState) -> Option<[u64; N]>,
) -> fmt::Result {
    let shown = |n: u64| f.zeros || n > 0;
    if !servers(snap).any(|(_, _, s)| get(s).is_some_and(|v| v.iter().any(|n| shown(*n)))) {
        return Ok(());
    }
    let name = format!("{NS}{}", f.name);
    let mut m = open(enc, &name, f.kind, f.help)?;
    for (acct, id, s) in servers(snap) {
        let Some(v) = get(s) else { continue };
        for (value, n) in f.values.iter().zip(v) {
            if shown(n) {
                let labels = [("account_id", acct), ("server_id", id), (f.key, value)];
                sample(&mut m, f.kind, &labels, Num::Count(n))?;
            }
        }
    }
    Ok(())
}
