//! The status of every server for a person: the rows of the status page (`/`), of its JSON
//! twin (`/api/v1/servers`) and of `once`'s table, made from one published snapshot.
//!
//! A row says what Cloudflare reports of a server, what the daemon did last, and what it will
//! do next and why. Rows come worst first — failing (a sync that failed or had no effect, or
//! an error Cloudflare reports), then needing a person (blocked, a sign-in, definitions that
//! drift from their pins or look like hidden instructions), then stale,
//! then fresh — so the servers in trouble lead at any size. Filters and the row limit are
//! applied here, so every view of the rows agrees. Text in a row is the API's raw text: each
//! view escapes it for where it goes (HTML, JSON, a terminal).

pub mod html;
pub mod portals;

use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::Serialize;

use crate::state::{Action, BlockReason, Outcome, ServerState, Snapshot};
use crate::vocabulary::Rule;

/// How bad a server's state is, worst first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    /// A sync failed or had no effect, or Cloudflare reports an error.
    Failing,
    /// A sync cannot help: blocked, or an OAuth sign-in is needed; or its definitions drift
    /// from their pins or break a rule for hidden instructions (a person reviews them).
    NeedsPerson,
    /// Stale, and a sync could refresh it.
    Stale,
    /// Fresh and healthy.
    Fresh,
}

impl Health {
    /// For a person.
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Failing => "failing",
            Health::NeedsPerson => "needs a person",
            Health::Stale => "stale",
            Health::Fresh => "fresh",
        }
    }
}

/// The daemon's last sync of a server.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LastSyncRow {
    /// When it was sent (RFC 3339, the daemon's clock).
    pub at: String,
    /// `success`, `no_effect`, `pending`, `failed`, `rate_limited`, `interrupted`.
    pub outcome: &'static str,
    /// Why it failed, when it did.
    pub error: Option<String>,
}

/// What the daemon does next with a server, and when.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NextRow {
    /// `sync`, `confirm` (the next listing judges a sync), `backed_off`, `blocked`,
    /// `dry_run`, `none`.
    pub action: &'static str,
    /// When (RFC 3339), when known.
    pub at: Option<String>,
    /// Why, for a person.
    pub why: String,
}

/// One server, as the status page and its JSON show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServerRow {
    /// Server id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its account.
    pub account_id: String,
    /// Upstream URL.
    pub hostname: String,
    /// How bad it is.
    pub health: Health,
    /// Cloudflare's `status`.
    pub status: Option<String>,
    /// Cloudflare's `authentication_status`.
    pub authentication_status: Option<String>,
    /// Cloudflare's `last_successful_sync` (RFC 3339), or null when never.
    pub last_successful_sync: Option<String>,
    /// Whether it is stale.
    pub stale: bool,
    /// Why a sync cannot refresh it, when blocked.
    pub blocked_reason: Option<&'static str>,
    /// What Cloudflare says went wrong, when it reports an error.
    pub error: Option<String>,
    /// The daemon's last sync.
    pub last_sync: Option<LastSyncRow>,
    /// The daemon's syncs that failed in a row.
    pub consecutive_failures: u32,
    /// What happens next.
    pub next: NextRow,
    /// Tool count.
    pub tools: Option<u32>,
    /// Prompt count.
    pub prompts: Option<u32>,
    /// When the daemon last saw its tool or prompt definitions change (RFC 3339).
    pub capabilities_changed_at: Option<String>,
    /// Its definitions against their pins; null without a pin file.
    pub drift: Option<DriftRow>,
    /// Its definitions that break each rule for hidden instructions, by rule.
    pub suspicious: BTreeMap<&'static str, u32>,
    /// The names of the portals that serve it.
    pub portals: Vec<String>,
}

/// Definitions of a server that differ from its pins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DriftRow {
    /// Not pinned.
    pub added: u32,
    /// Pinned with another fingerprint.
    pub changed: u32,
    /// Pinned, no longer listed.
    pub removed: u32,
}

/// One account, as the status page and its JSON show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccountRow {
    /// The account id.
    pub id: String,
    /// `up`, `down` or `unknown` (before the first listing).
    pub listing: &'static str,
    /// End of the last complete listing (RFC 3339).
    pub last_complete_listing: Option<String>,
    /// The last listing error.
    pub error: Option<String>,
    /// Servers in the last complete listing.
    pub servers: usize,
    /// Of those, stale.
    pub stale: usize,
    /// Of the stale, blocked, by reason.
    pub blocked: Vec<(&'static str, usize)>,
    /// Failing servers.
    pub failing: usize,
    /// Requests left per Cloudflare's last `Ratelimit` header.
    pub ratelimit_remaining: Option<u64>,
    /// When the next cycle starts (RFC 3339).
    pub next_cycle: Option<String>,
}

/// Which rows to show: filters from the query string, and a limit.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    /// Only this account.
    pub account: Option<String>,
    /// Only servers whose id, name or hostname contains this (case-insensitive).
    pub q: Option<String>,
    /// Only servers that are not fresh and healthy.
    pub problems: bool,
    /// At most this many rows (worst first).
    pub limit: Option<usize>,
}

/// The rows of one view.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Status {
    /// Every account (the account filter applies).
    pub accounts: Vec<AccountRow>,
    /// The servers, worst first.
    pub servers: Vec<ServerRow>,
    /// Servers that matched the filters but were left out by the limit.
    pub omitted: usize,
    /// The portals (the status page shows them; `/api/v1/portals` is their JSON).
    #[serde(skip)]
    pub portals: portals::Portals,
}

/// RFC 3339 in UTC, to the second.
pub fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

/// How bad a server is.
pub fn health(s: &ServerState) -> Health {
    let failed = s.failing();
    let person = s.last_action.blocked().is_some()
        || s.info.review.is_problem()
        || matches!(
            s.info.authentication_status.as_deref(),
            Some("required" | "stale")
        );
    if failed {
        Health::Failing
    } else if person {
        Health::NeedsPerson
    } else if s.info.stale {
        Health::Stale
    } else {
        Health::Fresh
    }
}

/// What the daemon does next with `s`: from its last action, its back-off and the next cycle.
pub fn next(s: &ServerState, next_cycle: Option<SystemTime>, now: SystemTime) -> NextRow {
    let at = |t: Option<SystemTime>| t.map(rfc3339);
    let pending = s
        .last_sync
        .as_ref()
        .is_some_and(|l| l.outcome == Outcome::Pending);
    if let Some(reason) = s.last_action.blocked() {
        return NextRow {
            action: "blocked",
            at: None,
            why: format!("not synced: {}", reason.describe()),
        };
    }
    if let Some(until) = s.backoff_until.filter(|u| *u > now) {
        return NextRow {
            action: "backed_off",
            at: at(Some(until)),
            why: format!(
                "backed off after {} failed syncs in a row",
                s.consecutive_failures
            ),
        };
    }
    if pending {
        return NextRow {
            action: "confirm",
            at: at(next_cycle),
            why: "the sync answered success; the next listing says whether it took effect".into(),
        };
    }
    match (s.info.stale, s.last_action) {
        (true, Action::WouldSync) => NextRow {
            action: "dry_run",
            at: None,
            why: "stale; dry_run: reported, not synced".into(),
        },
        (true, _) => NextRow {
            action: "sync",
            at: at(next_cycle),
            why: "stale: synced at the next cycle".into(),
        },
        (false, _) => NextRow {
            action: "none",
            at: None,
            why: "fresh".into(),
        },
    }
}

fn row(
    account: &str,
    s: &ServerState,
    next_cycle: Option<SystemTime>,
    now: SystemTime,
    portals: Vec<String>,
) -> ServerRow {
    let text = |v: &Option<std::sync::Arc<str>>| v.as_deref().map(str::to_owned);
    ServerRow {
        id: s.info.id.to_string(),
        name: s.info.name.to_string(),
        account_id: account.to_owned(),
        hostname: s.info.hostname.to_string(),
        health: health(s),
        status: text(&s.info.status),
        authentication_status: text(&s.info.authentication_status),
        last_successful_sync: s.info.last_successful_sync.map(rfc3339),
        stale: s.info.stale,
        blocked_reason: s.last_action.blocked().map(BlockReason::as_str),
        error: s.info.error_cause.as_deref().map(str::to_owned),
        last_sync: s.last_sync.as_ref().map(|l| LastSyncRow {
            at: rfc3339(l.at),
            outcome: l.outcome.as_str(),
            error: l.error.clone(),
        }),
        consecutive_failures: s.consecutive_failures,
        next: next(s, next_cycle, now),
        tools: s.info.tools,
        prompts: s.info.prompts,
        capabilities_changed_at: s.capabilities_changed_at.map(rfc3339),
        drift: s.info.review.drift.map(|d| DriftRow {
            added: d.added,
            changed: d.changed,
            removed: d.removed,
        }),
        suspicious: Rule::ALL
            .iter()
            .map(|r| (r.as_str(), s.info.review.suspicious[r.index()]))
            .collect(),
        portals,
    }
}

fn matches(f: &Filter, s: &ServerState) -> bool {
    if f.problems && health(s) == Health::Fresh {
        return false;
    }
    let Some(q) = f.q.as_deref().filter(|q| !q.is_empty()) else {
        return true;
    };
    let q = q.to_lowercase();
    [&*s.info.id, &*s.info.name, &*s.info.hostname]
        .iter()
        .any(|v| v.to_lowercase().contains(&q))
}

type Picked<'a> = (Health, &'a str, &'a ServerState, Option<SystemTime>);

/// Worst first: health, then the longest failure streak, then account and id.
fn order_key<'a>(p: &Picked<'a>) -> (Health, Reverse<u32>, &'a str, &'a str) {
    let (h, account, s, _) = *p;
    (h, Reverse(s.consecutive_failures), account, &s.info.id)
}

/// The rows of `snap` that `filter` selects, worst first, at `now`.
pub fn status(snap: &Snapshot, filter: &Filter, now: SystemTime) -> Status {
    let wanted = |id: &str| filter.account.as_deref().is_none_or(|a| a == id);
    let mut picked: Vec<Picked<'_>> = Vec::new();
    let mut accounts = Vec::new();
    for (id, a) in snap.accounts.iter().filter(|(id, _)| wanted(id)) {
        let counts = |h: Health| a.servers.values().filter(|s| health(s) == h).count();
        accounts.push(AccountRow {
            id: id.clone(),
            listing: match a.up {
                Some(true) => "up",
                Some(false) => "down",
                None => "unknown",
            },
            last_complete_listing: a.last_list_success.map(rfc3339),
            error: a.last_error.clone(),
            servers: a.servers.len(),
            stale: a.stale_count(),
            blocked: BlockReason::ALL
                .iter()
                .map(|r| {
                    let n = a
                        .servers
                        .values()
                        .filter(|s| s.last_action.blocked() == Some(*r));
                    (r.as_str(), n.count())
                })
                .collect(),
            failing: counts(Health::Failing),
            ratelimit_remaining: snap
                .requests
                .accounts
                .get(id)
                .and_then(|r| r.ratelimit_remaining),
            next_cycle: a.next_cycle.map(rfc3339),
        });
        picked.extend(
            a.servers
                .values()
                .filter(|s| matches(filter, s))
                .map(|s| (health(s), id.as_str(), s, a.next_cycle)),
        );
    }
    picked.sort_unstable_by(|a, b| order_key(a).cmp(&order_key(b)));
    let limit = filter.limit.unwrap_or(usize::MAX);
    let omitted = picked.len().saturating_sub(limit);
    let serving = portals::serving(snap);
    let servers = picked
        .into_iter()
        .take(limit)
        .map(|(_, a, s, next_cycle)| {
            let names = serving.get(&(a, &*s.info.id)).into_iter().flatten();
            row(
                a,
                s,
                next_cycle,
                now,
                names.map(|n| (*n).to_owned()).collect(),
            )
        })
        .collect();
    Status {
        accounts,
        servers,
        omitted,
        portals: portals::portals(snap, filter),
    }
}

#[cfg(test)]
#[path = "../../tests/unit/status.rs"]
mod tests;
