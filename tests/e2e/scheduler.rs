//! The sync loop against the simulated API: what is synced, how often, with what waits.

use std::time::{Duration, Instant};

use mcp_sync_monitor::fake::{self, FakeRateLimit, FakeServer, SyncBehavior};
use mcp_sync_monitor::testing::cloudflare::Endpoint;
use mcp_sync_monitor::testing::scheduler::ListingOutcome;
use mcp_sync_monitor::testing::shutdown::Shutdown;
use mcp_sync_monitor::testing::state::{Action, Outcome};

use crate::common::*;

fn syncs(api: &fake::FakeApi, id: &str) -> usize {
    api.count(Endpoint::Sync, Some(id))
}

#[tokio::test]
async fn only_stale_servers_are_synced() {
    let mut cf_stale = FakeServer::fresh("cf-stale");
    cf_stale.status = "stale".into();
    let api = fake_with(vec![
        FakeServer::fresh("fresh"),
        FakeServer::stale("old"),
        FakeServer::never_synced("never"),
        cf_stale,
    ])
    .await;
    let (s, state) = scheduler(test_config(&api));
    let r = s.cycle(fake::ACCOUNT, &Shutdown::new()).await;
    assert_eq!(r.listing, ListingOutcome::Complete);
    assert_eq!((r.servers, r.stale, r.synced, r.failed), (4, 3, 3, 0));
    assert_eq!(syncs(&api, "fresh"), 0);
    assert_eq!(syncs(&api, "old"), 1);
    assert_eq!(syncs(&api, "never"), 1);
    assert_eq!(
        syncs(&api, "cf-stale"),
        1,
        "Cloudflare's own status: stale counts"
    );
    {
        // The answers carried no timestamp: what Cloudflare listed stays until it says more.
        let snap = state.read();
        let old = &snap.accounts[fake::ACCOUNT].servers["old"];
        assert!(old.info.stale, "not fresh on the daemon's word");
        assert_eq!(
            old.last_sync.as_ref().map(|l| l.outcome),
            Some(Outcome::Pending)
        );
    }
    let r = s.cycle(fake::ACCOUNT, &Shutdown::new()).await;
    assert_eq!((r.servers, r.stale, r.synced), (4, 0, 0));
    let snap = state.read();
    let a = &snap.accounts[fake::ACCOUNT];
    assert!(
        a.servers.values().all(|s| !s.info.stale),
        "synced servers are fresh afterwards, as the next listing says"
    );
    assert_eq!(a.servers["old"].syncs_total, 1);
    assert_eq!(
        a.servers["old"].last_sync.as_ref().map(|l| l.outcome),
        Some(Outcome::Success)
    );
    assert_eq!(a.servers["fresh"].syncs_total, 0);
}

#[tokio::test]
async fn each_row_of_the_retry_table_sends_exactly_the_expected_requests() {
    let api = fake_with(vec![
        FakeServer::stale("retryable3").behaving(SyncBehavior::RetryableThen(3)),
        FakeServer::stale("permanent").behaving(SyncBehavior::Permanent),
        FakeServer::stale("nodetails").behaving(SyncBehavior::FailsWithoutDetails),
        FakeServer::stale("http500").behaving(SyncBehavior::ServerErrorThen(1)),
        FakeServer::stale("http429").behaving(SyncBehavior::RateLimitedThen {
            times: 1,
            retry_after_secs: 1,
        }),
        FakeServer::stale("ok"),
    ])
    .await;
    let (s, state) = scheduler(test_config(&api));
    let r = s.cycle(fake::ACCOUNT, &Shutdown::new()).await;
    assert_eq!(
        syncs(&api, "retryable3"),
        4,
        "retryable k times → k+1 requests"
    );
    assert_eq!(syncs(&api, "permanent"), 1, "permanent → no retry");
    assert_eq!(
        syncs(&api, "nodetails"),
        1,
        "an error without details is permanent"
    );
    assert_eq!(syncs(&api, "http500"), 2, "5xx once → 2");
    assert_eq!(syncs(&api, "http429"), 2, "429 once → 2");
    assert_eq!(syncs(&api, "ok"), 1);
    let times: Vec<Instant> = api
        .requests()
        .iter()
        .filter(|q| q.server_id.as_deref() == Some("http429"))
        .map(|q| q.at)
        .collect();
    assert!(
        times[1].duration_since(times[0]) >= Duration::from_millis(950),
        "the retry waited for retry-after: {:?}",
        times[1].duration_since(times[0])
    );
    assert_eq!((r.synced, r.failed), (4, 2));

    let snap = state.read();
    let a = &snap.accounts[fake::ACCOUNT];
    let s = |id: &str| &a.servers[id];
    assert_eq!(s("retryable3").retries.retryable, 3);
    assert_eq!(s("http500").retries.transient, 1);
    assert_eq!(s("http429").retries.rate_limited, 1);
    assert_eq!(
        (
            s("permanent").syncs_total,
            s("permanent").failures_total,
            s("permanent").consecutive_failures
        ),
        (1, 1, 1)
    );
    assert_eq!(
        (s("retryable3").syncs_total, s("retryable3").failures_total),
        (1, 0),
        "one decision, however many retries"
    );
    assert!(s("permanent").info.stale && s("permanent").info.error);
    assert_eq!(s("permanent").info.error_retryable, Some(false));
}

#[tokio::test]
async fn retries_stop_at_max_elapsed() {
    let api = fake_with(vec![
        FakeServer::stale("always500").behaving(SyncBehavior::ServerErrorThen(1000))
    ])
    .await;
    let mut cfg = test_config(&api);
    cfg.retry.initial_interval = Duration::from_millis(100);
    cfg.retry.max_interval = Duration::from_millis(100);
    cfg.retry.max_elapsed = Duration::from_millis(700);
    let (s, state) = scheduler(cfg);
    let started = Instant::now();
    let r = s.cycle(fake::ACCOUNT, &Shutdown::new()).await;
    assert_eq!(r.failed, 1);
    let n = syncs(&api, "always500");
    // Waits of 100-200 ms (backon's jitter adds up to 100 %, capped at max_interval = 100 ms)
    // within 700 ms: about 7 retries.
    assert!((4..=9).contains(&n), "{n} requests");
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(
        state.read().accounts[fake::ACCOUNT].servers["always500"]
            .retries
            .transient as usize,
        n - 1
    );
}

#[tokio::test]
async fn a_failing_server_is_not_synced_again_before_its_backoff_expires() {
    let api = fake_with(vec![
        FakeServer::stale("bad").behaving(SyncBehavior::Permanent),
        FakeServer::stale("good"),
    ])
    .await;
    let mut cfg = test_config(&api);
    cfg.interval = Duration::from_secs(1);
    cfg.failure_backoff_max = Duration::from_secs(60);
    let (s, state) = scheduler(cfg);
    let sd = Shutdown::new();
    s.cycle(fake::ACCOUNT, &sd).await; // fails: back-off 1 s
    let r = s.cycle(fake::ACCOUNT, &sd).await; // at once: inside the back-off
    assert_eq!(syncs(&api, "bad"), 1);
    assert_eq!(r.backed_off, 1);
    assert_eq!(
        state.read().accounts[fake::ACCOUNT].servers["bad"].last_action,
        Action::BackedOff
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    s.cycle(fake::ACCOUNT, &sd).await; // expired: second failure, back-off 2 s
    assert_eq!(syncs(&api, "bad"), 2);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    s.cycle(fake::ACCOUNT, &sd).await; // 1.1 s into a 2 s back-off
    assert_eq!(syncs(&api, "bad"), 2, "the back-off doubled");
    tokio::time::sleep(Duration::from_millis(1000)).await;
    s.cycle(fake::ACCOUNT, &sd).await;
    assert_eq!(syncs(&api, "bad"), 3);
    assert_eq!(
        state.read().accounts[fake::ACCOUNT].servers["bad"].consecutive_failures,
        3
    );
    // A success resets it.
    api.with(|w| w.server("bad").map(|s| s.behavior = SyncBehavior::Succeed));
    tokio::time::sleep(Duration::from_millis(4100)).await;
    s.cycle(fake::ACCOUNT, &sd).await;
    // The next listing shows the sync took effect.
    s.cycle(fake::ACCOUNT, &sd).await;
    assert_eq!(syncs(&api, "bad"), 4);
    let snap = state.read();
    let bad = &snap.accounts[fake::ACCOUNT].servers["bad"];
    assert_eq!(
        (
            bad.consecutive_failures,
            s.remembered(fake::ACCOUNT, "bad").backoff_until.is_none(),
            bad.info.stale
        ),
        (0, true, false)
    );
}

/// `n` stale servers behind a fake that enforces `budget` per `per` (locking out for a
/// minute, as Cloudflare would: a 429 shows the limit was crossed), and a daemon
/// configuration with the same budget.
pub(crate) async fn stale_fleet_at_budget(
    n: usize,
    budget: usize,
    per: Duration,
) -> (fake::FakeApi, mcp_sync_monitor::config::Config) {
    let api = fake_with(
        (0..n)
            .map(|i| FakeServer::stale(format!("s{i:03}")))
            .collect(),
    )
    .await;
    api.with(|w| {
        w.rate_limit = Some(FakeRateLimit {
            requests: budget,
            per,
            lockout: Duration::from_secs(60),
        })
    });
    let mut cfg = test_config(&api);
    cfg.rate_limit.requests = budget as u32;
    cfg.rate_limit.per = per;
    (api, cfg)
}

#[tokio::test]
async fn the_request_budget_is_never_exceeded_and_every_server_gets_its_turn() {
    let budget = 20;
    let per = Duration::from_secs(2);
    let n = 50;
    let (api, mut cfg) = stale_fleet_at_budget(n, budget, per).await;
    cfg.per_page = 25;
    cfg.retry.max_elapsed = Duration::from_secs(30);
    let (s, _state) = scheduler(cfg);
    let r = s.cycle(fake::ACCOUNT, &Shutdown::new()).await;
    assert_eq!((r.servers, r.synced), (n, n));
    let reqs = api.requests();
    assert_eq!(reqs.len(), 2 + n, "two list pages and one sync per server");
    assert!(reqs.iter().all(|q| q.status != 429), "never rate limited");
    // Server-side arrival times can be a little closer than the client's send times.
    let window = per - Duration::from_millis(100);
    for (i, q) in reqs.iter().enumerate() {
        let inside = reqs[i..]
            .iter()
            .take_while(|o| o.at.duration_since(q.at) < window)
            .count();
        assert!(
            inside <= budget,
            "{inside} requests within {window:?} starting at request {i}"
        );
    }
    for i in 0..n {
        assert_eq!(syncs(&api, &format!("s{i:03}")), 1);
    }
}

#[tokio::test]
async fn an_auth_failure_stops_the_cycle_after_one_request() {
    let api = fake_with(vec![FakeServer::stale("a"), FakeServer::stale("b")]).await;
    api.with(|w| w.tokens.clear());
    let (s, state) = scheduler(test_config(&api));
    let sd = Shutdown::new();
    for cycle in 1..=3 {
        let r = s.cycle(fake::ACCOUNT, &sd).await;
        assert!(
            matches!(r.listing, ListingOutcome::AuthFailed(_)),
            "{:?}",
            r.listing
        );
        assert_eq!(
            api.requests().len(),
            cycle,
            "one request per cycle while it lasts"
        );
    }
    let snap = state.read();
    assert_eq!(snap.accounts[fake::ACCOUNT].up, Some(false));
    assert!(snap.accounts[fake::ACCOUNT].auth_failed);
}

#[tokio::test]
async fn an_auth_failure_during_syncs_stops_the_remaining_syncs() {
    let api = fake_with(
        (0..20)
            .map(|i| {
                FakeServer::stale(format!("s{i:02}"))
                    .behaving(SyncBehavior::Slow(Duration::from_millis(50)))
            })
            .collect(),
    )
    .await;
    let mut cfg = test_config(&api);
    cfg.sync_concurrency = 1;
    let (s, _state) = scheduler(cfg);
    let sd = Shutdown::new();
    let revoke = {
        async {
            assert!(
                eventually(Duration::from_secs(5), || async {
                    api.count(Endpoint::Sync, None) >= 3
                })
                .await
            );
            api.with(|w| w.tokens.clear());
        }
    };
    let (r, ()) = tokio::join!(s.cycle(fake::ACCOUNT, &sd), revoke);
    assert!(r.auth_failed);
    let forbidden = api.requests().iter().filter(|q| q.status == 403).count();
    assert_eq!(forbidden, 1, "no hammering after the first 403");
    assert!(api.count(Endpoint::Sync, None) < 20);
}

#[tokio::test]
async fn dry_run_never_sends_a_sync() {
    let api = fake_with(vec![
        FakeServer::stale("a"),
        FakeServer::never_synced("b"),
        FakeServer::fresh("c"),
    ])
    .await;
    let mut cfg = test_config(&api);
    cfg.dry_run = true;
    let (s, state) = scheduler(cfg);
    let r = s.cycle(fake::ACCOUNT, &Shutdown::new()).await;
    assert_eq!(api.count(Endpoint::Sync, None), 0);
    assert_eq!((r.stale, r.dry_run, r.synced), (2, 2, 0));
    assert_eq!(
        state.read().accounts[fake::ACCOUNT].servers["a"].last_action,
        Action::WouldSync
    );
}

#[tokio::test]
async fn include_and_exclude_filters_are_respected() {
    let api = fake_with(vec![
        FakeServer::stale("prod-a"),
        FakeServer::stale("prod-legacy"),
        FakeServer::stale("dev-a"),
        FakeServer::stale("x1").named("prod crm"),
    ])
    .await;
    let mut cfg = test_config(&api);
    cfg.include = mcp_sync_monitor::config::Globs::new(["prod*"]);
    cfg.exclude = mcp_sync_monitor::config::Globs::new(["*legacy*"]);
    let (s, state) = scheduler(cfg);
    s.cycle(fake::ACCOUNT, &Shutdown::new()).await;
    assert_eq!(syncs(&api, "prod-a"), 1);
    assert_eq!(syncs(&api, "x1"), 1, "include matches the name too");
    assert_eq!(syncs(&api, "prod-legacy"), 0);
    assert_eq!(syncs(&api, "dev-a"), 0);
    let ids: Vec<String> = state.read().accounts[fake::ACCOUNT]
        .servers
        .keys()
        .map(str::to_owned)
        .collect();
    assert_eq!(
        ids,
        ["prod-a", "x1"],
        "servers outside the filters are ignored entirely"
    );
}

#[tokio::test]
async fn a_server_deleted_between_listing_and_sync_is_forgotten() {
    let mut ghost = FakeServer::stale("real-id");
    ghost.raw = Some(r#"{"id":"ghost","name":"Ghost","hostname":"https://g","auth_type":"bearer","tools":[],"prompts":[]}"#.into());
    let api = fake_with(vec![ghost, FakeServer::stale("ok")]).await;
    let (s, state) = scheduler(test_config(&api));
    let r = s.cycle(fake::ACCOUNT, &Shutdown::new()).await;
    assert_eq!(syncs(&api, "ghost"), 1, "404 is not retried");
    assert_eq!(r.synced, 1);
    let snap = state.read();
    assert!(!snap.accounts[fake::ACCOUNT].servers.contains_key("ghost"));
    assert!(snap.accounts[fake::ACCOUNT].servers.contains_key("ok"));
}
