//! The listing walk against APIs that break its trusts: one that ignores `per_page`, one that
//! ignores the page number, and lists that change while they are walked. Every server is
//! listed or the listing is marked incomplete (the previous snapshot stays, `up` says so),
//! and the requests stay bounded.

use std::sync::Arc;
use std::time::{Duration, Instant};

use mcp_sync_monitor::fake::{self, FakeApi, FakeServer};
use mcp_sync_monitor::testing::cloudflare::pagination::Anomaly;
use mcp_sync_monitor::testing::cloudflare::Endpoint;
use mcp_sync_monitor::testing::scheduler::{ListingOutcome, Scheduler};
use mcp_sync_monitor::testing::shutdown::Shutdown;
use mcp_sync_monitor::testing::state::State;

use crate::common::*;

fn fleet(n: usize) -> Vec<FakeServer> {
    (0..n)
        .map(|i| FakeServer::fresh(format!("s{i:04}")))
        .collect()
}

/// One cycle: how the listing ended and the list pages asked for, in order.
async fn cycle(api: &FakeApi, s: &Scheduler) -> (ListingOutcome, Vec<u32>) {
    api.clear_requests();
    let r = s.cycle(fake::ACCOUNT, &Shutdown::new()).await;
    let mut pages: Vec<u32> = api
        .requests()
        .iter()
        .filter(|q| q.endpoint == Some(Endpoint::List))
        .filter_map(|q| q.page)
        .collect();
    pages.sort_unstable();
    (r.listing, pages)
}

fn anomalies(state: &State, kind: Anomaly) -> u64 {
    state.read().accounts[fake::ACCOUNT]
        .walk_anomalies
        .get(&kind)
        .copied()
        .unwrap_or(0)
}

fn listed(state: &State) -> usize {
    state.read().accounts[fake::ACCOUNT].servers.len()
}

#[tokio::test]
async fn an_api_that_ignores_per_page_is_walked_to_an_empty_page_and_says_so() {
    // 20 per page whatever per_page says, no result_info: a short page 1 that is not the end.
    let api = fake_with(fleet(45)).await;
    api.with(|w| {
        w.result_info = false;
        w.page_size = Some(20);
    });
    let (s, state) = scheduler(test_config(&api));
    let (outcome, pages) = cycle(&api, &s).await;
    assert_eq!(outcome, ListingOutcome::Complete);
    assert_eq!(listed(&state), 45, "no server missed");
    assert_eq!(pages, [1, 2, 3, 4], "20 + 20 + 5, then the empty page");
    assert_eq!(anomalies(&state, Anomaly::PageSizeNotHonoured), 1);
    // From now on the account is walked until an empty page, without a new warning.
    let (outcome, pages) = cycle(&api, &s).await;
    assert_eq!(
        (outcome, pages),
        (ListingOutcome::Complete, vec![1, 2, 3, 4])
    );
    assert_eq!(listed(&state), 45);
    assert_eq!(anomalies(&state, Anomaly::PageSizeNotHonoured), 1);
    let m = mcp_sync_monitor::testing::metrics::render(
        &state,
        None,
        mcp_sync_monitor::testing::metrics::Format::Text,
    );
    assert_eq!(
        sample(
            &m,
            &format!(
                "cloudflare_mcp_list_walk_anomalies_total{{account_id=\"{}\",kind=\"page_size_not_honoured\"}}",
                fake::ACCOUNT
            )
        ),
        Some(1.0),
        "{m}"
    );
}

#[tokio::test]
async fn an_api_that_repeats_page_one_ends_the_walk_incomplete_at_page_two() {
    // Full pages, no result_info, page 1 whatever page is asked (cloudflare-python#2584).
    let api = fake_with(fleet(250)).await;
    api.with(|w| w.result_info = false);
    let (s, state) = scheduler(test_config(&api));
    let (outcome, _) = cycle(&api, &s).await;
    assert_eq!(outcome, ListingOutcome::Complete);
    assert_eq!(listed(&state), 250);

    api.with(|w| w.ignore_page = true);
    for _ in 0..3 {
        let (outcome, pages) = cycle(&api, &s).await;
        assert!(
            matches!(&outcome, ListingOutcome::Failed(m) if m.contains("incomplete")),
            "{outcome:?}"
        );
        assert_eq!(pages, [1, 2], "two requests, then the walk ends: no storm");
        let snap = state.read();
        let a = &snap.accounts[fake::ACCOUNT];
        assert_eq!(
            a.up,
            Some(false),
            "cloudflare_mcp_up says the listing failed"
        );
        assert_eq!(a.servers.len(), 250, "the previous snapshot stays");
    }
    assert_eq!(anomalies(&state, Anomaly::RepeatedPage), 3);

    // A fresh daemon against it never becomes ready, and spends two requests a cycle.
    let (s2, state2) = scheduler(test_config(&api));
    let (outcome, pages) = cycle(&api, &s2).await;
    assert!(matches!(outcome, ListingOutcome::Failed(_)));
    assert_eq!(pages, [1, 2]);
    assert!(!state2.ready());
}

#[tokio::test]
async fn a_list_that_changes_between_pages_is_listed_whole_or_marked_incomplete() {
    for (what, change) in [("shrinks", -1i32), ("grows", 1i32)] {
        let api = fake_with(fleet(250)).await;
        let (s, state) = scheduler(test_config(&api));
        let (outcome, _) = cycle(&api, &s).await;
        assert_eq!(outcome, ListingOutcome::Complete);
        // Before page 2 is cut, the front of the list changes once.
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        api.with(|w| {
            w.list_hook = Some(Arc::new(move |page, servers| {
                if page == 2 && !done.swap(true, std::sync::atomic::Ordering::SeqCst) {
                    if change < 0 {
                        servers.remove(0);
                    } else {
                        servers.insert(0, FakeServer::fresh("new-first"));
                    }
                }
            }))
        });
        let (outcome, pages) = cycle(&api, &s).await;
        assert!(
            matches!(&outcome, ListingOutcome::Failed(m) if m.contains("changed while it was walked")),
            "{what}: {outcome:?}"
        );
        assert_eq!(pages, [1, 2, 3], "{what}: no request beyond the pages");
        assert_eq!(listed(&state), 250, "{what}: the previous snapshot stays");
        assert_eq!(anomalies(&state, Anomaly::ListChanged), 1, "{what}");
        // The next cycle sees the list as it now is, whole.
        let (outcome, _) = cycle(&api, &s).await;
        assert_eq!(outcome, ListingOutcome::Complete, "{what}");
        assert_eq!(listed(&state) as i32, 250 + change, "{what}");
    }
}

#[tokio::test]
async fn without_result_info_a_server_skipped_by_a_shifting_list_is_noticed() {
    let api = fake_with(fleet(250)).await;
    api.with(|w| w.result_info = false);
    let (s, state) = scheduler(test_config(&api));
    assert_eq!(cycle(&api, &s).await.0, ListingOutcome::Complete);
    assert_eq!(listed(&state), 250);
    // s0000 is deleted after page 1 was read: s0100 moves onto page 1 and page 2 skips it.
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    api.with(|w| {
        w.list_hook = Some(Arc::new(move |page, servers| {
            if page == 2 && !done.swap(true, std::sync::atomic::Ordering::SeqCst) {
                servers.remove(0);
            }
        }))
    });
    let (outcome, _) = cycle(&api, &s).await;
    assert!(
        matches!(&outcome, ListingOutcome::Failed(m) if m.contains("s0100") && m.contains("still exists")),
        "{outcome:?}"
    );
    let reads = api.count(Endpoint::Read, None);
    assert!(
        (1..=2).contains(&reads),
        "one read per vanished server at most: {reads}"
    );
    assert_eq!(listed(&state), 250, "the previous snapshot stays");
    assert_eq!(anomalies(&state, Anomaly::ListChanged), 1);
    // The next walk is whole: s0000 is checked once more (404, deleted) and leaves.
    let (outcome, _) = cycle(&api, &s).await;
    assert_eq!(outcome, ListingOutcome::Complete);
    assert_eq!(listed(&state), 249);
    assert_eq!(api.count(Endpoint::Read, Some("s0000")), 1);
    // With nothing vanished, a walk reads nothing.
    let _ = cycle(&api, &s).await;
    assert_eq!(api.count(Endpoint::Read, None), 0);
}

#[tokio::test]
async fn the_page_cap_ends_a_runaway_walk() {
    // An API that invents a new full page on every request, with no result_info.
    let api = fake_with(fleet(1)).await;
    api.with(|w| {
        w.result_info = false;
        w.ignore_page = true;
        w.record = true;
        w.list_hook = Some(Arc::new(|_, servers| {
            for s in servers.iter_mut() {
                s.id = format!("s-{}", fastrand::u64(..));
            }
        }));
    });
    let mut cfg = test_config(&api);
    cfg.per_page = 1;
    // The cap, not the request budget, is what ends this walk.
    cfg.rate_limit.requests = 100_000;
    let (s, state) = scheduler(cfg);
    let (outcome, pages) = cycle(&api, &s).await;
    assert!(matches!(outcome, ListingOutcome::Failed(_)), "{outcome:?}");
    assert_eq!(
        pages.len(),
        mcp_sync_monitor::testing::cloudflare::pagination::DEFAULT_PAGE_CAP as usize,
        "at most the documented cap of pages"
    );
    assert_eq!(anomalies(&state, Anomaly::PageCapReached), 1);
    assert_eq!(
        listed(&state),
        0,
        "nothing published from an incomplete walk"
    );
}

#[tokio::test]
async fn concurrent_listing_gives_the_same_result_as_a_sequential_walk() {
    let servers: Vec<FakeServer> = (0..450)
        .map(|i| FakeServer::fresh(format!("s{i:04}")))
        .collect();
    let api = fake_with(servers).await;
    api.with(|w| w.latency = Duration::from_millis(150));
    let mut cfg = test_config(&api);
    cfg.list_concurrency = 4;
    let (s, state) = scheduler(cfg.clone());
    s.cycle(fake::ACCOUNT, &Shutdown::new()).await;
    let concurrent: Vec<String> = state.read().accounts[fake::ACCOUNT]
        .servers
        .keys()
        .map(str::to_owned)
        .collect();
    let pages: Vec<Instant> = api
        .requests()
        .iter()
        .filter(|r| {
            r.endpoint == Some(Endpoint::List) && r.page.is_some_and(|p| (2..=5).contains(&p))
        })
        .map(|r| r.at)
        .collect();
    assert_eq!(pages.len(), 4);
    let spread = pages
        .iter()
        .max()
        .expect("max")
        .duration_since(*pages.iter().min().expect("min"));
    assert!(
        spread < Duration::from_millis(150),
        "pages 2-5 were in flight together ({spread:?} apart, latency 150 ms)"
    );

    api.clear_requests();
    api.with(|w| w.result_info = false);
    let (s, state) = scheduler(cfg);
    s.cycle(fake::ACCOUNT, &Shutdown::new()).await;
    let sequential: Vec<String> = state.read().accounts[fake::ACCOUNT]
        .servers
        .keys()
        .map(str::to_owned)
        .collect();
    assert_eq!(concurrent, sequential);
    assert_eq!(concurrent.len(), 450);
    assert_eq!(
        api.count(Endpoint::List, None),
        6,
        "the first walk without result_info proves its short page 5 with an empty page 6"
    );
    api.clear_requests();
    s.cycle(fake::ACCOUNT, &Shutdown::new()).await;
    assert_eq!(
        api.count(Endpoint::List, None),
        5,
        "within the hour, the walk stops at the short page"
    );
}
