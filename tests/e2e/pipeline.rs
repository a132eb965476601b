//! The pipelined cycle: syncs start while later pages are still coming, yet the cycle makes
//! exactly the requests the sequential one makes, and a listing that fails after syncs
//! started keeps the previous snapshot and counts the syncs made (docs/design.md).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use mcp_sync_monitor::fake::{self, FakeServer, RecordedRequest, SyncBehavior};
use mcp_sync_monitor::testing::cloudflare::Endpoint;
use mcp_sync_monitor::testing::scheduler::ListingOutcome;
use mcp_sync_monitor::testing::shutdown::Shutdown;

use crate::common::*;

/// 1,000 servers on 10 pages: 50 stale, one failing for good, one failing twice first, one
/// failing without details.
fn fleet() -> Vec<FakeServer> {
    let mut f = fake::uniform_fleet(1000, 2, 50);
    f[101] = FakeServer::stale("srv-000101").behaving(SyncBehavior::Permanent);
    f[502] = FakeServer::stale("srv-000502").behaving(SyncBehavior::RetryableThen(2));
    f[903] = FakeServer::stale("srv-000903").behaving(SyncBehavior::FailsWithoutDetails);
    f
}

/// Every request of one cycle, as (endpoint, server, page) with how many times it came.
async fn one_cycle(pipelined: bool) -> (BTreeMap<String, usize>, Vec<RecordedRequest>) {
    let api = fake_with(fleet()).await;
    let (s, _) = scheduler(test_config(&api));
    s.set_pipelined(pipelined);
    let r = s.cycle(fake::ACCOUNT, &Shutdown::new()).await;
    assert_eq!(r.listing, ListingOutcome::Complete);
    assert_eq!((r.servers, r.stale), (1000, 53));
    let requests = api.requests();
    let mut counts = BTreeMap::new();
    for q in &requests {
        let key = format!("{:?} {:?} {:?}", q.endpoint, q.server_id, q.page);
        *counts.entry(key).or_insert(0) += 1;
    }
    (counts, requests)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pipelined_cycle_makes_exactly_the_requests_of_the_sequential_one() {
    let (pipelined, requests) = one_cycle(true).await;
    let (sequential, _) = one_cycle(false).await;
    assert_eq!(pipelined, sequential, "same requests, same counts");
    let syncs = |id: &str| {
        requests
            .iter()
            .filter(|q| q.endpoint == Some(Endpoint::Sync) && q.server_id.as_deref() == Some(id))
            .count()
    };
    assert_eq!(syncs("srv-000000"), 1, "a stale server: once");
    assert_eq!(syncs("srv-000001"), 0, "a fresh one: never");
    assert_eq!(syncs("srv-000101"), 1, "permanent: no retry");
    assert_eq!(syncs("srv-000502"), 3, "retryable twice, then success");
    assert_eq!(syncs("srv-000903"), 1, "an error without details: no retry");
    let lists = requests
        .iter()
        .filter(|q| q.endpoint == Some(Endpoint::List))
        .count();
    assert_eq!(lists, 10, "⌈1000/100⌉ pages, each once");
}

/// When the sync of the stale server on page 1 and the request for page 10 arrived.
async fn sync_and_last_page(pipelined: bool) -> (std::time::Instant, std::time::Instant) {
    let mut servers = fake::uniform_fleet(1000, 2, 0);
    servers[0] = FakeServer::stale("srv-000000");
    let api = fake_with(servers).await;
    api.with(|w| w.latency = Duration::from_millis(10));
    let mut cfg = test_config(&api);
    cfg.list_concurrency = 1;
    let (s, _) = scheduler(cfg);
    s.set_pipelined(pipelined);
    let r = s.cycle(fake::ACCOUNT, &Shutdown::new()).await;
    assert_eq!((r.listing, r.synced), (ListingOutcome::Complete, 1));
    let requests = api.requests();
    let at = |f: &dyn Fn(&RecordedRequest) -> bool| {
        requests
            .iter()
            .find(|q| f(q))
            .map(|q| q.at)
            .expect("the request came")
    };
    (
        at(&|q| q.endpoint == Some(Endpoint::Sync)),
        at(&|q| q.endpoint == Some(Endpoint::List) && q.page == Some(10)),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_server_on_page_1_is_synced_before_the_last_page_is_fetched() {
    let (sync, last_page) = sync_and_last_page(true).await;
    assert!(
        sync < last_page,
        "pipelined: the sync came {:?} before page 10",
        last_page - sync
    );
    let (sync, last_page) = sync_and_last_page(false).await;
    assert!(
        sync > last_page,
        "sequential (the comparison): after the whole listing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_failing_after_syncs_started_keeps_the_snapshot_and_counts_the_syncs_made() {
    let api = fake_with(fake::uniform_fleet(300, 2, 0)).await;
    let mut cfg = test_config(&api);
    cfg.sync_concurrency = 1;
    cfg.retry.max_elapsed = Duration::from_millis(300);
    let (s, state) = scheduler(cfg);
    let sd = Shutdown::new();
    assert_eq!(
        s.cycle(fake::ACCOUNT, &sd).await.listing,
        ListingOutcome::Complete
    );

    // Two stale servers on page 1; page 3 fails; a sync takes longer than the listing.
    api.with(|w| {
        for id in ["srv-000000", "srv-000001"] {
            w.server(id).expect("listed").last_successful_sync = None;
        }
        w.sync_latency = Duration::from_millis(1500);
        w.fail_list_page = Some(3);
    });
    let r = s.cycle(fake::ACCOUNT, &sd).await;
    assert!(
        matches!(r.listing, ListingOutcome::Failed(_)),
        "{:?}",
        r.listing
    );
    assert_eq!(r.synced, 1, "the sync already made counts");
    let made: Vec<&str> = ["srv-000000", "srv-000001"]
        .into_iter()
        .filter(|id| api.count(Endpoint::Sync, Some(id)) == 1)
        .collect();
    assert_eq!(
        made.len(),
        1,
        "one sync made; the one not started when the listing failed is not: {made:?}"
    );
    let snap = state.read();
    let a = &snap.accounts[fake::ACCOUNT];
    assert_eq!(a.up, Some(false), "cloudflare_mcp_up 0");
    assert_eq!(
        a.servers.len(),
        300,
        "the previous snapshot stays, no series removed"
    );
    for id in ["srv-000000", "srv-000001"] {
        let expected = u64::from(made.contains(&id));
        assert_eq!(
            a.servers[id].syncs_total, expected,
            "{id}: recorded on the previous snapshot's server"
        );
    }
}

/// One cycle of 100 syncs (each retried 8 times) over a listing of 100 pages, 1,000 API
/// requests in all, scraped all along: the account's view is published once (the first
/// cycle, which also publishes its listing at once for readiness, primes it), and the
/// per-server rendering is made at most once per published version, while the request
/// counters in every scrape are current.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cycle_publishes_once_and_requests_do_not_throw_the_rendering_away() {
    use mcp_sync_monitor::testing::http::{self, AppState, Limits, Renderings};
    let servers = (0..1000)
        .map(|i| {
            let id = format!("s{i:04}");
            if i % 10 == 0 {
                FakeServer::stale(id).behaving(SyncBehavior::RetryableThen(8))
            } else {
                FakeServer::fresh(id)
            }
        })
        .collect();
    let api = fake_with(servers).await;
    let mut cfg = test_config(&api);
    cfg.per_page = 10;
    cfg.sync_concurrency = 20;
    cfg.retry.initial_interval = Duration::from_millis(1);
    cfg.retry.max_interval = Duration::from_millis(2);
    cfg.rate_limit.requests = 10_000;
    let (s, state) = scheduler(cfg);
    let renderings = Arc::new(Renderings::default());
    let app = AppState {
        state: state.clone(),
        renderings: renderings.clone(),
        web: None,
    };
    let listener = http::bind("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("bind");
    let url = format!("http://{}/metrics", listener.local_addr().expect("addr"));
    let sd = Shutdown::new();
    tokio::spawn(http::serve_with(
        listener,
        app,
        sd.clone(),
        Limits::default(),
    ));

    s.cycle(fake::ACCOUNT, &Shutdown::new()).await;
    assert_eq!(
        state.version(),
        2,
        "the first listing at once, then the cycle's view"
    );
    // Make the same servers stale and flaky again, and count from here.
    api.with(|w| {
        for (i, srv) in w.servers().iter_mut().enumerate() {
            if i % 10 == 0 {
                srv.last_successful_sync =
                    SystemTime::now().checked_sub(Duration::from_secs(5 * 3600));
                srv.behavior = SyncBehavior::RetryableThen(8);
            }
        }
        w.requests.clear();
    });
    let (version, made) = (state.version(), renderings.made());
    let cycle = tokio::spawn({
        let s = s.clone();
        async move { s.cycle(fake::ACCOUNT, &Shutdown::new()).await }
    });
    let requests = |m: &str| -> f64 {
        series(m, "cloudflare_mcp_api_requests_total")
            .iter()
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    // As Prometheus scrapes: gzip, whose rendering is kept for its version.
    let prometheus = || async { crate::load::gunzip(&crate::load::scrape(&url, true).await.2) };
    let mut scrapes = 0;
    let mut counts = Vec::new();
    while !cycle.is_finished() {
        counts.push(requests(&prometheus().await));
        scrapes += 1;
    }
    let report = cycle.await.expect("cycle");
    assert_eq!(report.synced, 100, "{report:?}");
    assert_eq!(
        api.requests().len(),
        1000,
        "100 list pages and 900 sync requests"
    );
    assert_eq!(
        state.version(),
        version + 1,
        "one publication for the whole cycle"
    );
    assert_eq!(
        requests(&prometheus().await),
        2000.0,
        "both cycles' requests"
    );
    assert!(
        renderings.made() - made <= 2,
        "{} renderings for {scrapes} scrapes of 2 versions",
        renderings.made() - made
    );
    assert!(
        counts.windows(2).any(|w| w[1] > w[0]),
        "the request counters moved between scrapes during the cycle: {counts:?}"
    );
    sd.trigger();
}

/// Readiness comes with the first complete listing, not with the end of its syncs (the view
/// is published then): a slow sync does not keep the daemon unready.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_is_ready_when_its_first_listing_completes_before_its_syncs_end() {
    let api = fake_with(vec![
        FakeServer::fresh("fresh"),
        FakeServer::stale("slow").behaving(SyncBehavior::Slow(Duration::from_secs(3))),
    ])
    .await;
    let d = crate::http_metrics::Daemon::start(&api, Duration::from_secs(3600)).await;
    let ready = eventually(Duration::from_secs(2), || async {
        get(&format!("{}/readyz", d.base)).await.0 == 200
    })
    .await;
    assert!(ready, "ready within 2 s although the sync takes 3 s");
    let m = d.metrics_text().await;
    assert!(
        !crate::http_metrics::first_cycle_done(&m),
        "the cycle (and its view) is still running"
    );
    d.wait_for("the cycle's view", crate::http_metrics::first_cycle_done)
        .await;
    d.stop().await;
}
