//! The portal families, from the published portals and the server list's view of each
//! member: whether the account's portal listing is up, each portal's identity, its
//! membership with each member's health (for joins and for the alert rules, which count
//! a portal's enabled servers that are unusable), and its servers by health, every health
//! from 0. A portal's health series wait for the account's first complete server listing:
//! before it, every member would look missing.

use std::fmt;

use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::metrics::MetricType::Gauge;

use super::encode::{family, open, sample, Num};
use super::NS;
use crate::state::{
    member_health, portal_health, AccountPortals, AccountView, MemberHealth, Snapshot,
};

type Enc<'a, 'b> = &'a mut DescriptorEncoder<'b>;

/// The accounts whose portals and server list are both known.
fn known(snap: &Snapshot) -> impl Iterator<Item = (&str, &AccountPortals, &AccountView)> {
    snap.portals.iter().filter_map(|(id, p)| {
        let view = snap.accounts.get(id)?;
        (p.up.is_some() && view.listed).then_some((id.as_str(), &**p, &**view))
    })
}

/// The portal families of `snap`.
pub(super) fn write(snap: &Snapshot, enc: Enc) -> fmt::Result {
    family(
        enc,
        &format!("{NS}portals_up"),
        Gauge,
        "1 when the last portal listing of the account completed, 0 when it failed (the last good membership stays).",
        snap.portals
            .iter()
            .filter_map(|(id, p)| Some(([("account_id", id.as_str())], Num::from(p.up?)))),
    )?;
    if known(snap).all(|(_, p, _)| p.portals.is_empty()) {
        return Ok(());
    }
    let name = format!("{NS}portal_info");
    let mut m = open(enc, &name, Gauge, "Identity of an MCP portal (always 1).")?;
    for (acct, ps, _) in known(snap) {
        for p in ps.portals.iter() {
            let l = [
                ("account_id", acct),
                ("portal_id", &p.id),
                ("name", &p.name),
                ("hostname", &p.hostname),
            ];
            sample(&mut m, Gauge, &l, Num::Count(1))?;
        }
    }
    let name = format!("{NS}portal_server");
    let mut m = open(
        enc,
        &name,
        Gauge,
        "A server of a portal (always 1), with whether users get it only when they turn it on, and its health as the server list says: fresh, stale, failing, blocked, missing.",
    )?;
    for (acct, ps, view) in known(snap) {
        for p in ps.portals.iter() {
            for s in &p.members {
                let l = [
                    ("account_id", acct),
                    ("portal_id", &p.id),
                    ("server_id", &s.server_id),
                    (
                        "default_disabled",
                        if s.default_disabled { "true" } else { "false" },
                    ),
                    ("health", member_health(view, &s.server_id).as_str()),
                ];
                sample(&mut m, Gauge, &l, Num::Count(1))?;
            }
        }
    }
    let name = format!("{NS}portal_servers");
    let mut m = open(
        enc,
        &name,
        Gauge,
        "A portal's servers by health as the server list says: fresh, stale, failing, blocked, missing (named by the portal, absent from the server list).",
    )?;
    for (acct, ps, view) in known(snap) {
        for p in ps.portals.iter() {
            let (counts, _) = portal_health(view, p);
            for h in MemberHealth::ALL {
                let l = [
                    ("account_id", acct),
                    ("portal_id", &p.id),
                    ("health", h.as_str()),
                ];
                sample(&mut m, Gauge, &l, Num::from(counts[h as usize]))?;
            }
        }
    }
    Ok(())
}
