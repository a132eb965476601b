//! The portals of one account as the daemon publishes them: membership from the last
//! complete portal listing, and the listing's own health. A member's health is not kept
//! here: it is judged at read time from the server list's view ([`member_health`]), so a
//! portal shows what the server list says now, never the portal's own copy of a server.

use std::sync::Arc;

use super::{AccountView, ServerState};

/// One portal, membership only.
#[derive(Debug, Clone, PartialEq)]
pub struct PortalView {
    /// The portal id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Where its users' MCP clients connect.
    pub hostname: String,
    /// Its servers (within the include/exclude filters), in the portal's order.
    pub members: Vec<MemberView>,
}

/// One server of a portal.
#[derive(Debug, Clone, PartialEq)]
pub struct MemberView {
    /// The server's id.
    pub server_id: String,
    /// Whether users get it only when they turn it on.
    pub default_disabled: bool,
}

/// The portals of one account.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AccountPortals {
    /// Whether the last portal listing completed (`None` before the first, or when portals
    /// are not listed).
    pub up: Option<bool>,
    /// The last portal listing's error.
    pub last_error: Option<String>,
    /// The portals of the last complete listing.
    pub portals: Arc<Vec<PortalView>>,
}

/// A portal member's health, worst first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MemberHealth {
    /// Named by the portal, absent from the server list.
    Missing,
    /// A sync failed or had no effect, or Cloudflare reports an error.
    Failing,
    /// Stale, and a sync cannot refresh it (a person must act).
    Blocked,
    /// Stale, and a sync could refresh it.
    Stale,
    /// Fresh.
    Fresh,
}

impl MemberHealth {
    /// Every health, worst first (the label values, each rendered from 0).
    pub const ALL: [MemberHealth; 5] = [
        MemberHealth::Missing,
        MemberHealth::Failing,
        MemberHealth::Blocked,
        MemberHealth::Stale,
        MemberHealth::Fresh,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        ["missing", "failing", "blocked", "stale", "fresh"][self as usize]
    }

    /// Whether users of the portal get no tools from it.
    pub fn unusable(self) -> bool {
        self <= MemberHealth::Blocked
    }

    fn of(s: &ServerState) -> Self {
        let failed = s.failing() || s.info.status.as_deref() == Some("error");
        if failed {
            MemberHealth::Failing
        } else if s.last_action.blocked().is_some() {
            MemberHealth::Blocked
        } else if s.info.stale {
            MemberHealth::Stale
        } else {
            MemberHealth::Fresh
        }
    }
}

/// The health of server `id` as the account's server list says it.
pub fn member_health(servers: &AccountView, id: &str) -> MemberHealth {
    servers
        .servers
        .get(id)
        .map_or(MemberHealth::Missing, MemberHealth::of)
}

/// A portal's servers by health, as the server list says.
#[derive(Debug, Clone, PartialEq)]
pub struct PortalHealth<'p> {
    /// Its servers by health, in [`MemberHealth::ALL`]'s order.
    pub counts: [usize; 5],
    /// Its servers enabled by default.
    pub enabled: usize,
    /// Of those, the unusable ones.
    pub unusable: usize,
    /// The worst of all its servers.
    pub worst: Option<(&'p str, MemberHealth)>,
}

impl PortalHealth<'_> {
    /// Whether every server its users get by default is unusable (they get no tools); a
    /// portal with none enabled has nothing to lose.
    pub fn is_unusable(&self) -> bool {
        self.enabled > 0 && self.unusable == self.enabled
    }
}

/// The health of portal `p` as the account's server list says.
pub fn portal_health<'p>(servers: &AccountView, p: &'p PortalView) -> PortalHealth<'p> {
    let mut h = PortalHealth {
        counts: [0; 5],
        enabled: 0,
        unusable: 0,
        worst: None,
    };
    for m in &p.members {
        let health = member_health(servers, &m.server_id);
        h.counts[health as usize] += 1;
        if h.worst.is_none_or(|(_, w)| health < w) {
            h.worst = Some((&m.server_id, health));
        }
        if !m.default_disabled {
            h.enabled += 1;
            h.unusable += usize::from(health.unusable());
        }
    }
    h
}

#[cfg(test)]
#[path = "../../tests/unit/state/portals.rs"]
mod tests;
