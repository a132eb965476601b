//! The portal families, from the published portals and the server list's view of each
//! member: whether the account's portal listing is up, each portal's identity, its
//! membership with each member's health (for joins and for the alert rules, which count
//! a portal's enabled servers that are unusable), and its servers by health, every health
//! from 0. A portal's health series wait for the account's first complete server listing:
//! before it, every member would look missing.

use std::fmt;

use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::metrics::MetricType::Gauge;

use super::encode::{family, Num};
use super::NS;
use crate::state::{member_health, portal_health, AccountView, MemberHealth, PortalView, Snapshot};

/// Every portal of the accounts whose portals and server list are both known.
fn known(snap: &Snapshot) -> impl Iterator<Item = (&str, &PortalView, &AccountView)> {
    snap.portals.iter().flat_map(move |(id, p)| {
        let view = snap.accounts.get(id).filter(|v| v.listed && p.up.is_some());
        view.into_iter()
            .flat_map(move |v| p.portals.iter().map(move |p| (id.as_str(), p, &**v)))
    })
}

/// The portal families of `snap`.
pub(super) fn write(snap: &Snapshot, enc: &mut DescriptorEncoder<'_>) -> fmt::Result {
    let up = snap
        .portals
        .iter()
        .filter_map(|(id, p)| Some(([("account_id", id.as_str())], Num::from(p.up?))));
    family(enc, &format!("{NS}portals_up"), Gauge, "1 when the last portal listing of the account completed, 0 when it failed (the last good membership stays).", up)?;
    let info = known(snap).map(|(a, p, _)| {
        (
            [
                ("account_id", a),
                ("portal_id", &p.id),
                ("name", &p.name),
                ("hostname", &p.hostname),
            ],
            Num::Count(1),
        )
    });
    family(
        enc,
        &format!("{NS}portal_info"),
        Gauge,
        "Identity of an MCP portal (always 1).",
        info,
    )?;
    let members = known(snap).flat_map(|(a, p, view)| {
        p.members.iter().map(move |s| {
            let disabled = if s.default_disabled { "true" } else { "false" };
            let health = member_health(view, &s.server_id).as_str();
            let l = [
                ("account_id", a),
                ("portal_id", &p.id),
                ("server_id", &s.server_id),
                ("default_disabled", disabled),
                ("health", health),
            ];
            (l, Num::Count(1))
        })
    });
    family(enc, &format!("{NS}portal_server"), Gauge, "A server of a portal (always 1), with whether users get it only when they turn it on, and its health as the server list says: fresh, stale, failing, blocked, missing.", members)?;
    let by_health = known(snap).flat_map(|(a, p, view)| {
        let health = portal_health(view, p);
        MemberHealth::ALL.into_iter().map(move |h| {
            (
                [
                    ("account_id", a),
                    ("portal_id", &p.id),
                    ("health", h.as_str()),
                ],
                Num::from(health.counts[h as usize]),
            )
        })
    });
    family(enc, &format!("{NS}portal_servers"), Gauge, "A portal's servers by health as the server list says: fresh, stale, failing, blocked, missing (named by the portal, absent from the server list).", by_health)
}
