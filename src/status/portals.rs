//! The portals for a person: one row per portal with its servers by health as the server
//! list says, the worst of them named, worst portal first (unusable, then degraded by how
//! many servers its users miss, then the rest), for the status page's Portals table, its
//! JSON twin (`/api/v1/portals`) and `once`. The same filters and limit as the servers'.

use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::Filter;
use crate::state::{portal_health, MemberHealth, Snapshot};

/// One portal, as a person reads it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PortalRow {
    /// Portal id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its account.
    pub account_id: String,
    /// Where its users connect.
    pub hostname: String,
    /// How its users fare.
    pub state: PortalState,
    /// Its servers by health: fresh, stale, failing, blocked, missing.
    pub servers: BTreeMap<&'static str, usize>,
    /// Of its servers enabled by default, those that are unusable.
    pub unusable: usize,
    /// Its servers enabled by default.
    pub enabled: usize,
    /// The worst of its servers and its health.
    pub worst: Option<(String, &'static str)>,
}

impl PortalRow {
    /// Its servers by health for a person: "1 failing, 2 fresh" (or "no servers").
    pub fn counts(&self) -> String {
        let counts: Vec<String> = self
            .servers
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(h, n)| format!("{n} {h}"))
            .collect();
        if counts.is_empty() {
            "no servers".into()
        } else {
            counts.join(", ")
        }
    }
}

/// How a portal's users fare, worst first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PortalState {
    /// Every server its users get by default is failing, blocked or missing.
    Unusable,
    /// Some are.
    Degraded,
    /// None is.
    Ok,
}

impl PortalState {
    /// For a person (and the JSON's spelling).
    pub fn as_str(self) -> &'static str {
        ["unusable", "degraded", "ok"][self as usize]
    }
}

/// The portal rows of one view.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Portals {
    /// Whether each account's last portal listing completed: `up`, `down`, `off`.
    pub listings: BTreeMap<String, &'static str>,
    /// The portals, worst first.
    pub portals: Vec<PortalRow>,
    /// Portals that matched the filters but were left out by the limit.
    pub omitted: usize,
}

/// The portals of `snap` that `filter` selects, worst first.
pub fn portals(snap: &Snapshot, filter: &Filter) -> Portals {
    let mut out = Portals::default();
    let q = filter
        .q
        .as_deref()
        .filter(|q| !q.is_empty())
        .map(str::to_lowercase);
    for (account, ps) in &snap.portals {
        if filter.account.as_deref().is_some_and(|a| a != account) {
            continue;
        }
        let listing = match ps.up {
            Some(true) => "up",
            Some(false) => "down",
            None => "off",
        };
        out.listings.insert(account.clone(), listing);
        let Some(view) = snap.accounts.get(account).filter(|v| v.listed) else {
            continue;
        };
        for p in ps.portals.iter() {
            let hit = |v: &str| q.as_ref().is_none_or(|q| v.to_lowercase().contains(q));
            if !(hit(&p.id) || hit(&p.name) || hit(&p.hostname)) {
                continue;
            }
            let health = portal_health(view, p);
            let state = match health.unusable {
                _ if health.is_unusable() => PortalState::Unusable,
                0 => PortalState::Ok,
                _ => PortalState::Degraded,
            };
            if filter.problems && state == PortalState::Ok {
                continue;
            }
            out.portals.push(PortalRow {
                id: p.id.clone(),
                name: p.name.clone(),
                account_id: account.clone(),
                hostname: p.hostname.clone(),
                state,
                servers: MemberHealth::ALL
                    .iter()
                    .map(|h| (h.as_str(), health.counts[*h as usize]))
                    .collect(),
                unusable: health.unusable,
                enabled: health.enabled,
                worst: health.worst.map(|(id, h)| (id.to_owned(), h.as_str())),
            });
        }
    }
    out.portals.sort_by(|a, b| {
        let key = |r: &PortalRow| {
            (
                r.state,
                Reverse(r.unusable),
                r.account_id.clone(),
                r.id.clone(),
            )
        };
        key(a).cmp(&key(b))
    });
    let limit = filter.limit.unwrap_or(usize::MAX);
    out.omitted = out.portals.len().saturating_sub(limit);
    out.portals.truncate(limit);
    out
}

/// The names of the portals that serve each server, per account and server id.
pub fn serving(snap: &Snapshot) -> HashMap<(&str, &str), Vec<&str>> {
    let mut out: HashMap<(&str, &str), Vec<&str>> = HashMap::new();
    for (account, ps) in &snap.portals {
        for p in ps.portals.iter() {
            for m in &p.members {
                out.entry((account.as_str(), m.server_id.as_str()))
                    .or_default()
                    .push(&p.name);
            }
        }
    }
    out
}
