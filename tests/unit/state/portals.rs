use std::time::SystemTime;

use super::*;
use crate::state::{Action, BlockReason, ServerInfo};

fn info(id: &str) -> ServerInfo {
    ServerInfo {
        id: id.into(),
        name: id.into(),
        ..ServerInfo::default()
    }
}

/// fresh, failing (Cloudflare reports an error), a status of `error` alone, blocked, stale.
fn view() -> AccountView {
    let failing = ServerInfo {
        error: true,
        ..info("failing")
    };
    let status_error = ServerInfo {
        status: Some("error".into()),
        ..info("status-error")
    };
    let blocked = ServerInfo {
        stale: true,
        ..info("blocked")
    };
    let stale = ServerInfo {
        stale: true,
        ..info("stale")
    };
    AccountView::default().relisted(
        vec![
            (info("fresh"), Action::None),
            (failing, Action::None),
            (status_error, Action::None),
            (blocked, Action::Blocked(BlockReason::SignInRequired)),
            (stale, Action::Synced),
        ],
        SystemTime::now(),
    )
}

fn portal(members: &[(&str, bool)]) -> PortalView {
    PortalView {
        id: "p".into(),
        name: "P".into(),
        hostname: "p.example.com".into(),
        members: members
            .iter()
            .map(|(id, off)| MemberView {
                server_id: (*id).into(),
                default_disabled: *off,
            })
            .collect(),
    }
}

#[test]
fn a_member_is_judged_by_the_server_list() {
    let v = view();
    let h = |id| member_health(&v, id);
    assert_eq!(h("fresh"), MemberHealth::Fresh);
    assert_eq!(h("failing"), MemberHealth::Failing);
    assert_eq!(h("status-error"), MemberHealth::Failing);
    assert_eq!(h("blocked"), MemberHealth::Blocked);
    assert_eq!(h("stale"), MemberHealth::Stale);
    assert_eq!(h("gone"), MemberHealth::Missing);
    assert!(MemberHealth::Missing.unusable() && MemberHealth::Blocked.unusable());
    assert!(!MemberHealth::Stale.unusable() && !MemberHealth::Fresh.unusable());
}

#[test]
fn counts_cover_every_member_and_unusable_only_the_enabled() {
    let v = view();
    let p = portal(&[
        ("fresh", false),
        ("blocked", false),
        ("gone", false),
        ("failing", true),
    ]);
    let h = portal_health(&v, &p);
    assert_eq!(
        h.counts,
        [1, 1, 1, 0, 1],
        "missing, failing, blocked, stale, fresh"
    );
    assert_eq!(h.unusable, 2, "gone and blocked; failing is off by default");
    assert_eq!(h.worst, Some(("gone", MemberHealth::Missing)));
    assert_eq!(h.enabled, 3);
    assert!(!h.is_unusable(), "fresh still serves");
}

#[test]
fn a_portal_is_unusable_when_every_enabled_server_is_and_never_when_none_is_enabled() {
    let v = view();
    let p = portal(&[("failing", false), ("gone", false), ("fresh", true)]);
    assert!(
        portal_health(&v, &p).is_unusable(),
        "the fresh one is off by default"
    );
    let off = portal(&[("failing", true)]);
    assert!(
        !portal_health(&v, &off).is_unusable(),
        "no enabled server: nothing to lose"
    );
}
