use super::*;
use crate::state::{AccountView, BlockReason, ServerInfo, ServerRecord, State, SyncRecord};

fn report(listing: ListingOutcome, auth_failed: bool) -> CycleReport {
    CycleReport {
        listing,
        servers: 1,
        stale: 1,
        auth_failed,
        ..CycleReport::new("a")
    }
}

fn one_server(name: &str, stale: bool, action: Action) -> State {
    let st = State::new(["a"]);
    let server = ServerInfo {
        id: "s1".into(),
        name: name.into(),
        stale,
        ..ServerInfo::default()
    };
    let now = SystemTime::now();
    st.publish(
        "a",
        AccountView::default().relisted(vec![(server, action)], now),
    );
    st
}

fn state(stale: bool, failures: u32) -> State {
    let st = one_server("One", stale, Action::None);
    let mut view = st.account("a").map(|v| (*v).clone()).unwrap_or_default();
    for _ in 0..failures {
        let record = SyncRecord::Failure {
            reason: "boom".into(),
            status: None,
            retryable: None,
            api_error: true,
            cause: None,
            rate_limited: false,
            consecutive_failures: 1,
        };
        let at = SystemTime::now();
        view.apply(
            "s1",
            ServerRecord::Sync {
                attempts: 1,
                record,
                at,
            },
        );
    }
    st.publish("a", view);
    st
}

#[test]
fn exit_code_is_0_healthy_1_stale_or_failing_2_auth() {
    let ok = [report(ListingOutcome::Complete, false)];
    assert_eq!(exit_code(&ok, &state(false, 0).read()), Exit::Success);
    assert_eq!(exit_code(&ok, &state(true, 0).read()), Exit::Failure);
    assert_eq!(exit_code(&ok, &state(false, 1).read()), Exit::Failure);
    let failed = report(ListingOutcome::Failed("x".into()), false);
    assert_eq!(exit_code(&[failed], &state(false, 0).read()), Exit::Failure);
    let auth = report(ListingOutcome::AuthFailed("x".into()), false);
    assert_eq!(
        exit_code(&[auth], &state(false, 0).read()),
        Exit::ConfigOrAuth
    );
    assert_eq!(
        exit_code(
            &[report(ListingOutcome::Complete, true)],
            &state(false, 0).read()
        ),
        Exit::ConfigOrAuth
    );
}

#[test]
fn blocked_servers_alone_exit_0() {
    let ok = [report(ListingOutcome::Complete, false)];
    let blocked = Action::Blocked(BlockReason::ManualOauth);
    assert_eq!(
        exit_code(&ok, &one_server("m", true, blocked).read()),
        Exit::Success
    );
    let stale = one_server("s", true, Action::Synced);
    assert_eq!(exit_code(&ok, &stale.read()), Exit::Failure);
}

#[test]
fn the_table_escapes_names_and_shows_every_column() {
    let st = one_server("bad\u{1b}[31m", true, Action::None);
    let t = table(
        &[report(ListingOutcome::Complete, false)],
        &st.read(),
        SystemTime::now(),
    );
    assert!(!t.contains('\u{1b}'), "{t}");
    for col in [
        "SERVER",
        "NAME",
        "LAST SUCCESSFUL SYNC",
        "STALE",
        "ACTION",
        "ATTEMPTS",
        "OUTCOME",
        "never",
        "yes",
    ] {
        assert!(t.contains(col), "{col} in {t}");
    }
}

#[test]
fn once_prints_one_line_per_portal_worst_first_after_the_servers() {
    use crate::state::{AccountPortals, MemberView, PortalView};
    let st = one_server("One", false, Action::None);
    let portal = |id: &str, member: &str| PortalView {
        id: id.into(),
        name: format!("Portal \u{1b}[31m{id}"),
        hostname: format!("{id}.example.com"),
        members: vec![MemberView {
            server_id: member.into(),
            default_disabled: false,
        }],
    };
    st.publish_portals(
        "a",
        AccountPortals {
            up: Some(true),
            portals: Arc::new(vec![portal("works", "s1"), portal("dead", "gone")]),
            ..AccountPortals::default()
        },
    );
    let out = table(&[], &st.read(), SystemTime::now());
    let lines: Vec<&str> = out.lines().filter(|l| l.starts_with("portal ")).collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines[0].starts_with("portal dead (")
            && lines[0].contains(
                "unusable; 1 of 1 enabled servers unusable; 1 missing; worst gone (missing)"
            ),
        "{out}"
    );
    assert!(
        lines[1].contains("works") && lines[1].contains(": ok;"),
        "{out}"
    );
    assert!(
        !out.contains('\u{1b}'),
        "terminal control sequences are escaped: {out}"
    );
}
