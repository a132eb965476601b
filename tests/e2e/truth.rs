//! What the daemon exports is what Cloudflare says: a sync is judged by its effect on
//! Cloudflare's `last_successful_sync`, servers a sync cannot refresh are not synced, and the
//! daemon's own view of its syncs has series of its own.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mcp_sync_monitor::fake::{self, FakeServer, SyncBehavior};
use mcp_sync_monitor::testing::cloudflare::Endpoint;
use mcp_sync_monitor::testing::shutdown::Shutdown;
use mcp_sync_monitor::testing::state::{Action, BlockReason, Outcome};

use crate::common::*;
use crate::daemon::once;
use crate::http_metrics::{poll_metrics, Daemon};

const ACC: &str = fake::ACCOUNT;

fn l(server: &str) -> String {
    format!("{{account_id=\"{ACC}\",server_id=\"{server}\"}}")
}

fn unix(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs_f64()
}

/// A server authorized by a user 5 h ago with manual OAuth credentials: its syncs answer
/// success and change nothing.
fn manual_oauth_synced_5h_ago(id: &str) -> FakeServer {
    let mut s = FakeServer::stale(id).behaving(SyncBehavior::NoEffect);
    s.auth_type = "oauth".into();
    s.authentication_status = Some("manual".into());
    s
}

fn cycles(m: &str) -> f64 {
    sample(
        m,
        &format!("cloudflare_mcp_cycle_duration_seconds_count{{account_id=\"{ACC}\"}}"),
    )
    .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twelve_cycles_export_cloudflares_timestamps_and_judge_each_sync_by_its_effect() {
    let api = fake_with(vec![
        manual_oauth_synced_5h_ago("manual"),
        FakeServer::stale("futile").behaving(SyncBehavior::NoEffect),
        FakeServer::stale("working"),
        FakeServer::fresh("fresh"),
    ])
    .await;
    let cloudflare = |id: &str| {
        api.with(|w| w.server(id).and_then(|s| s.last_successful_sync))
            .map(unix)
            .expect("the API has a last_successful_sync")
    };
    let (manual_lss, futile_lss) = (cloudflare("manual"), cloudflare("futile"));
    let d = Daemon::start(&api, Duration::from_secs(2)).await;
    // Twelve cycles, and the futile server's last sync judged (a sync of the last cycle is
    // pending until the next listing judges it).
    let judged = format!(
        "cloudflare_mcp_server_last_sync_outcome{{account_id=\"{ACC}\",server_id=\"futile\",outcome=\"no_effect\"}} 1"
    );
    let m = poll_metrics(
        &format!("{}/metrics", d.base),
        Duration::from_secs(90),
        "12 cycles and the futile sync judged",
        |m| cycles(m) >= 12.0 && m.contains(&judged),
    )
    .await;
    d.stop().await;

    for (id, want) in [("manual", manual_lss), ("futile", futile_lss)] {
        let got = sample(
            &m,
            &format!(
                "cloudflare_mcp_server_last_successful_sync_timestamp_seconds{}",
                l(id)
            ),
        )
        .expect("exported");
        assert!(
            (got - want).abs() < 0.002,
            "{id}: exported {got}, Cloudflare says {want}"
        );
        assert_eq!(
            sample(&m, &format!("cloudflare_mcp_server_stale{}", l(id))),
            Some(1.0),
            "{id}"
        );
    }

    assert_eq!(
        api.count(Endpoint::Sync, Some("manual")),
        0,
        "a blocked server costs nothing"
    );
    let blocked = format!(
        "cloudflare_mcp_server_sync_blocked{{account_id=\"{ACC}\",server_id=\"manual\",reason=\"manual_oauth\"}}"
    );
    assert_eq!(sample(&m, &blocked), Some(1.0));
    for (reason, n) in [("manual_oauth", 1.0), ("sign_in_required", 0.0)] {
        let per_account = format!(
            "cloudflare_mcp_servers_sync_blocked{{account_id=\"{ACC}\",reason=\"{reason}\"}}"
        );
        assert_eq!(sample(&m, &per_account), Some(n), "{per_account}");
    }
    assert_eq!(
        series(&m, "cloudflare_mcp_server_sync_blocked").len(),
        1,
        "absent for syncable servers"
    );

    let futile_syncs = api.count(Endpoint::Sync, Some("futile"));
    assert!(
        (2..=5).contains(&futile_syncs),
        "a futile sync backs off: {futile_syncs} syncs in 12 cycles"
    );
    let streak = sample(
        &m,
        &format!(
            "cloudflare_mcp_server_consecutive_sync_failures{}",
            l("futile")
        ),
    );
    assert!(streak.is_some_and(|n| n >= 2.0), "{streak:?}");
    assert!(sample(
        &m,
        &format!("cloudflare_mcp_sync_failures_total{}", l("futile"))
    )
    .is_some_and(|n| n >= 2.0));
    let outcome = |id: &str, o: &str| {
        sample(
            &m,
            &format!(
                "cloudflare_mcp_server_last_sync_outcome{{account_id=\"{ACC}\",server_id=\"{id}\",outcome=\"{o}\"}}"
            ),
        )
    };
    assert_eq!(outcome("futile", "no_effect"), Some(1.0), "{m}");

    assert_eq!(api.count(Endpoint::Sync, Some("working")), 1);
    assert_eq!(
        sample(&m, &format!("cloudflare_mcp_server_stale{}", l("working"))),
        Some(0.0)
    );
    assert_eq!(outcome("working", "success"), Some(1.0));
    assert_eq!(
        sample(
            &m,
            &format!(
                "cloudflare_mcp_server_last_successful_sync_timestamp_seconds{}",
                l("working")
            )
        ),
        Some((cloudflare("working") * 1000.0).floor() / 1000.0),
        "Cloudflare's value, to the millisecond it sends"
    );

    assert_eq!(api.count(Endpoint::Sync, Some("fresh")), 0);
    let attempts = series(
        &m,
        "cloudflare_mcp_server_last_sync_attempt_timestamp_seconds",
    );
    assert_eq!(attempts.len(), 2, "only the synced servers: {attempts:?}");
    assert_eq!(
        series(&m, "cloudflare_mcp_server_last_sync_outcome").len(),
        2,
        "absent before the first attempt"
    );
    let lists = api.count(Endpoint::List, None);
    let syncs = api.count(Endpoint::Sync, None);
    assert_eq!(
        syncs,
        futile_syncs + 1,
        "budget: the syncable stale servers not in back-off, nothing else"
    );
    assert!(lists >= 12, "one list page per cycle: {lists}");
    if let Some(check) = promtool_check_metrics(&m) {
        check.expect("promtool check metrics");
    }
}

#[tokio::test]
async fn a_sync_answer_that_carries_last_successful_sync_is_judged_at_once() {
    let api = fake_with(vec![
        FakeServer::stale("working"),
        FakeServer::stale("futile").behaving(SyncBehavior::NoEffect),
    ])
    .await;
    api.with(|w| w.sync_answer_timestamps = true);
    let (s, state) = scheduler(test_config(&api));
    let r = s.cycle(ACC, &Shutdown::new()).await;
    assert_eq!((r.synced, r.failed, r.no_effect), (1, 1, 1));
    let snap = state.read();
    let servers = &snap.accounts[ACC].servers;
    let working = &servers["working"];
    assert_eq!(
        working.last_sync.as_ref().map(|l| l.outcome),
        Some(Outcome::Success)
    );
    assert!(!working.info.stale, "the answer's timestamp is fresh");
    let cf = api.with(|w| w.server("working").and_then(|s| s.last_successful_sync));
    let exported = working.info.last_successful_sync.map(unix);
    assert!(
        exported
            .zip(cf.map(unix))
            .is_some_and(|(e, c)| (e - c).abs() < 0.002),
        "{exported:?} vs {cf:?}"
    );
    let futile = &servers["futile"];
    assert_eq!(
        futile.last_sync.as_ref().map(|l| l.outcome),
        Some(Outcome::NoEffect)
    );
    assert_eq!((futile.consecutive_failures, futile.failures_total), (1, 1));
    assert!(s.remembered(ACC, "futile").backoff_until.is_some());
}

#[tokio::test]
async fn cloudflares_own_background_sync_between_cycles_confirms_a_pending_sync() {
    let api = fake_with(vec![
        FakeServer::stale("helped").behaving(SyncBehavior::NoEffect),
        FakeServer::stale("unhelped").behaving(SyncBehavior::NoEffect),
    ])
    .await;
    let (s, state) = scheduler(test_config(&api));
    let sd = Shutdown::new();
    s.cycle(ACC, &sd).await;
    {
        let snap = state.read();
        let helped = &snap.accounts[ACC].servers["helped"];
        assert_eq!(
            helped.last_sync.as_ref().map(|l| l.outcome),
            Some(Outcome::Pending)
        );
        assert!(helped.info.stale);
    }
    // Cloudflare's background sync runs before the next listing.
    api.with(|w| {
        if let Some(sv) = w.server("helped") {
            sv.last_successful_sync = Some(SystemTime::now());
        }
    });
    let r = s.cycle(ACC, &sd).await;
    assert_eq!((r.stale, r.synced), (1, 0), "the unhelped one backs off");
    let snap = state.read();
    let servers = &snap.accounts[ACC].servers;
    let helped = &servers["helped"];
    assert_eq!(
        helped.last_sync.as_ref().map(|l| l.outcome),
        Some(Outcome::Success)
    );
    assert_eq!((helped.consecutive_failures, helped.failures_total), (0, 0));
    assert!(!helped.info.stale);
    let unhelped = &servers["unhelped"];
    assert_eq!(
        unhelped.last_sync.as_ref().map(|l| l.outcome),
        Some(Outcome::NoEffect)
    );
    assert_eq!(
        (unhelped.consecutive_failures, unhelped.failures_total),
        (1, 1)
    );
    assert_eq!(unhelped.last_action, Action::BackedOff);
    assert_eq!(
        api.count(Endpoint::Sync, None),
        2,
        "no second sync of either"
    );
}

#[tokio::test]
async fn blocked_servers_are_never_synced_until_a_person_fixes_them() {
    let api = fake_with(vec![
        FakeServer::manual_oauth("manual"),
        FakeServer::needs_sign_in("sign-in"),
        FakeServer::fresh("fresh"),
    ])
    .await;
    let mut cfg = test_config(&api);
    cfg.dry_run = false;
    let (s, state) = scheduler(cfg);
    let sd = Shutdown::new();
    for _ in 0..3 {
        let r = s.cycle(ACC, &sd).await;
        assert_eq!((r.stale, r.blocked, r.synced), (2, 2, 0));
    }
    assert_eq!(api.count(Endpoint::Sync, None), 0);
    {
        let snap = state.read();
        let servers = &snap.accounts[ACC].servers;
        assert_eq!(
            servers["manual"].last_action,
            Action::Blocked(BlockReason::ManualOauth)
        );
        assert_eq!(
            servers["sign-in"].last_action,
            Action::Blocked(BlockReason::SignInRequired)
        );
        assert!(
            servers["manual"].info.last_successful_sync.is_none(),
            "waiting, never synced"
        );
    }
    // A user authorizes the manual one: Cloudflare captures its capabilities, it is fresh.
    api.with(|w| w.server("manual").map(|s| s.authorize(SystemTime::now())));
    let r = s.cycle(ACC, &sd).await;
    assert_eq!((r.stale, r.blocked, r.synced), (1, 1, 0));
    assert_eq!(
        state.read().accounts[ACC].servers["manual"].last_action,
        Action::None
    );
}

#[tokio::test]
async fn once_names_the_blocked_reason_and_exits_0_for_blocked_servers_alone() {
    let api = fake_with(vec![
        FakeServer::fresh("fresh"),
        FakeServer::manual_oauth("manual"),
        FakeServer::needs_sign_in("sign-in"),
    ])
    .await;
    let (code, out, err) = once(&api, &[]).await;
    assert_eq!(
        code, 0,
        "a rerun cannot change blocked servers\n{out}\n{err}"
    );
    assert!(out.contains("blocked: manual_oauth"), "{out}");
    assert!(out.contains("blocked: sign_in_required"), "{out}");
    assert!(out.contains("2 blocked"), "{out}");
    assert_eq!(api.count(Endpoint::Sync, None), 0);

    api.with(|w| {
        w.servers()
            .push(FakeServer::stale("futile").behaving(SyncBehavior::NoEffect))
    });
    let (code, out, _) = once(&api, &[]).await;
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("no_effect"),
        "read after the sync: no effect\n{out}"
    );
    assert_eq!(api.count(Endpoint::Read, Some("futile")), 1);
}
