//! The Cloudflare client against the simulated API: pagination, auth, error classes,
//! lenient decoding, timeouts.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use mcp_sync_monitor::fake::{self, FakeRateLimit, FakeServer, SyncBehavior};
use mcp_sync_monitor::testing::cloudflare::{
    ApiError, Credentials, Endpoint, Observer, RateLimitInfo,
};
use mcp_sync_monitor::testing::scheduler::decide::{classify_sync, Class};
use mcp_sync_monitor::testing::secret::Secret;
use mcp_sync_monitor::testing::shutdown::Shutdown;

use crate::common::*;

fn fleet(n: usize) -> Vec<FakeServer> {
    (0..n)
        .map(|i| FakeServer::fresh(format!("s{i:04}")))
        .collect()
}

fn list_pages(api: &mcp_sync_monitor::fake::FakeApi) -> Vec<u32> {
    api.requests()
        .iter()
        .filter(|r| r.endpoint == Some(Endpoint::List))
        .filter_map(|r| r.page)
        .collect()
}

/// One cycle of the daemon's scheduler (the walk it really runs) over a fresh fleet: the
/// servers it listed and the pages it asked for, in order of page number.
async fn walk(api: &mcp_sync_monitor::fake::FakeApi) -> (usize, Vec<u32>) {
    api.clear_requests();
    let (s, state) = scheduler(test_config(api));
    let r = s.cycle(fake::ACCOUNT, &Shutdown::new()).await;
    assert_eq!(
        r.listing,
        mcp_sync_monitor::testing::scheduler::ListingOutcome::Complete
    );
    let listed = state.read().accounts[fake::ACCOUNT].servers.len();
    assert_eq!(listed, r.servers);
    let mut pages = list_pages(api);
    pages.sort_unstable();
    (listed, pages)
}

#[tokio::test]
async fn pagination_stops_at_total_pages_when_result_info_is_sent() {
    let api = fake_with(fleet(250)).await;
    assert_eq!(walk(&api).await, (250, vec![1, 2, 3]));
    assert!(
        api.requests().iter().all(|r| r.per_page == Some(100)),
        "per_page is always sent"
    );
}

#[tokio::test]
async fn without_result_info_the_first_walk_proves_the_short_page_and_later_ones_stop_at_it() {
    let api = fake_with(fleet(250)).await;
    api.with(|w| w.result_info = false);
    let (s, state) = scheduler(test_config(&api));
    for (walk, pages) in [
        (
            "first walk: page 4 proves that page 3 was the last",
            vec![1, 2, 3, 4],
        ),
        (
            "within the hour: the short page 3 ends the walk",
            vec![1, 2, 3],
        ),
    ] {
        api.clear_requests();
        let r = s.cycle(fake::ACCOUNT, &Shutdown::new()).await;
        assert_eq!(r.servers, 250, "{walk}");
        assert_eq!(list_pages(&api), pages, "{walk}");
    }
    assert_eq!(state.read().accounts[fake::ACCOUNT].walk_anomalies.len(), 0);
}

#[tokio::test]
async fn an_exact_multiple_of_per_page_needs_no_extra_page_with_result_info() {
    let api = fake_with(fleet(200)).await;
    assert_eq!(
        walk(&api).await,
        (200, vec![1, 2]),
        "total_pages says two: no third request"
    );
    api.with(|w| w.result_info = false);
    assert_eq!(
        walk(&api).await,
        (200, vec![1, 2, 3]),
        "without result_info only an empty page can say it was the last"
    );
}

#[tokio::test]
async fn a_list_that_shifts_while_walked_counts_each_id_once() {
    let api = fake_with(fleet(150)).await;
    api.with(|w| {
        w.result_info = false;
        // Before page 2 is cut, a new server appears at the front: the last server of
        // page 1 moves onto page 2 and is sent twice.
        w.list_hook = Some(Arc::new(|page, servers| {
            if page == 2 && !servers.iter().any(|s| s.id == "new-first") {
                servers.insert(0, FakeServer::fresh("new-first"));
            }
        }));
    });
    let (listed, pages) = walk(&api).await;
    assert_eq!(pages, [1, 2, 3], "the first walk proves the short page 2");
    assert_eq!(
        listed, 150,
        "s0099 once (sent on both pages), new-first not seen (it went onto page 1 after page 1 was read)"
    );
}

#[tokio::test]
async fn both_auth_schemes_reach_the_api_and_bad_credentials_are_the_auth_class() {
    let api = fake_with(fleet(3)).await;
    let bearer = client(&api.base_url(), token(), Duration::from_secs(5), None);
    assert_eq!(
        bearer
            .list_page(fake::ACCOUNT, 1, 100, None)
            .await
            .expect("bearer")
            .servers
            .len(),
        3
    );
    let legacy = Credentials::Legacy {
        email: Secret::new(fake::EMAIL),
        key: Secret::new(fake::API_KEY),
    };
    let legacy = client(&api.base_url(), legacy, Duration::from_secs(5), None);
    assert_eq!(
        legacy
            .list_page(fake::ACCOUNT, 1, 100, None)
            .await
            .expect("legacy")
            .servers
            .len(),
        3
    );

    let bad = client(
        &api.base_url(),
        Credentials::Token(Secret::new("wrong")),
        Duration::from_secs(5),
        None,
    );
    let e = bad.sync(fake::ACCOUNT, "s0000").await.expect_err("refused");
    assert!(e.is_auth(), "{e}");
    assert_eq!(classify_sync(&Err(e.clone())), Class::Auth);
    assert!(
        e.to_string().contains("10000"),
        "Cloudflare's code is in the error: {e}"
    );
    assert!(
        !e.to_string().contains("wrong"),
        "the token is not in the error"
    );
    let ua = api
        .requests()
        .iter()
        .filter_map(|r| r.user_agent.clone())
        .collect::<Vec<_>>();
    assert!(
        ua.iter().all(|u| u.starts_with("mcp-sync-monitor/")),
        "{ua:?}"
    );
}

#[tokio::test]
async fn every_error_class_is_typed() {
    let servers = vec![
        FakeServer::stale("limited").behaving(SyncBehavior::RateLimitedThen {
            times: 1,
            retry_after_secs: 3,
        }),
        FakeServer::stale("broken").behaving(SyncBehavior::ServerErrorThen(1)),
        FakeServer::stale("flaky").behaving(SyncBehavior::RetryableThen(1)),
        FakeServer::stale("dead").behaving(SyncBehavior::Permanent),
        FakeServer::stale("ok"),
    ];
    let api = fake_with(servers).await;
    // A budget big enough not to matter; the 429 pauses it for 3 s, which the test
    // avoids waiting for by using separate clients.
    let mk = || client(&api.base_url(), token(), Duration::from_secs(5), None);

    let e = mk().sync(fake::ACCOUNT, "limited").await.expect_err("429");
    match &e {
        ApiError::RateLimited {
            retry_after,
            errors,
            ..
        } => {
            assert_eq!(*retry_after, Some(Duration::from_secs(3)));
            assert_eq!(errors[0].code, Some(971));
        }
        other => panic!("expected RateLimited, got {other:?}"),
    }
    let e = mk().sync(fake::ACCOUNT, "broken").await.expect_err("500");
    assert_eq!(e.status(), Some(500));
    assert_eq!(classify_sync(&Err(e)), Class::Transient);
    let r = mk().sync(fake::ACCOUNT, "flaky").await;
    assert_eq!(classify_sync(&r), Class::Retryable);
    let r = mk().sync(fake::ACCOUNT, "dead").await;
    assert_eq!(classify_sync(&r), Class::Permanent);
    let r = mk().sync(fake::ACCOUNT, "ok").await;
    assert_eq!(classify_sync(&r), Class::Success);
    assert_eq!(r.expect("ok").status.as_deref(), Some("ready"));
    let e = mk().sync(fake::ACCOUNT, "nope").await.expect_err("404");
    assert_eq!(e.status(), Some(404));
    assert!(e.to_string().contains("7002"), "{e}");
    assert_eq!(classify_sync(&Err(e)), Class::Gone);
    let e = mk().read(fake::ACCOUNT, "nope").await.expect_err("404");
    assert_eq!(e.status(), Some(404));
    let s = mk().read(fake::ACCOUNT, "ok").await.expect("read");
    assert_eq!(s.id, "ok");
    assert!(s.last_successful_sync.is_some());

    api.with(|w| w.fault = Some((fake::Fault::Malformed, None)));
    let e = mk()
        .list_page(fake::ACCOUNT, 1, 100, None)
        .await
        .expect_err("malformed");
    assert!(matches!(e, ApiError::Decode { .. }), "{e:?}");
    api.with(|w| w.fault = Some((fake::Fault::HtmlErrorPage, None)));
    let e = mk()
        .list_page(fake::ACCOUNT, 1, 100, None)
        .await
        .expect_err("html");
    assert_eq!(e.status(), Some(502));
}

#[tokio::test]
async fn ratelimit_header_and_retry_after_reach_the_caller() {
    let api = fake_with(fleet(2)).await;
    let limit = |requests| FakeRateLimit {
        requests,
        per: Duration::from_secs(60),
        lockout: Duration::from_secs(7),
    };
    api.with(|w| w.rate_limit = Some(limit(100)));
    type Seen = Vec<(Option<u16>, Option<RateLimitInfo>)>;
    let seen: Arc<Mutex<Seen>> = Arc::default();
    let obs: Observer = {
        let seen = seen.clone();
        Arc::new(move |r| seen.lock().expect("lock").push((r.status, r.ratelimit)))
    };
    let c = client(&api.base_url(), token(), Duration::from_secs(5), Some(obs));
    for _ in 0..2 {
        c.list_page(fake::ACCOUNT, 1, 100, None)
            .await
            .expect("within the limit");
    }
    // The same two requests now fill a limit of two: the next one is refused for 7 s.
    api.with(|w| {
        w.rate_limit = Some(limit(2));
        w.ratelimit_header = false;
    });
    let e = c
        .list_page(fake::ACCOUNT, 1, 100, None)
        .await
        .expect_err("over the limit");
    assert!(
        matches!(e, ApiError::RateLimited { retry_after: Some(d), .. } if d == Duration::from_secs(7)),
        "{e:?}"
    );
    let seen = seen.lock().expect("lock").clone();
    assert_eq!(seen.len(), 3);
    assert_eq!(
        seen[0].1,
        Some(RateLimitInfo {
            remaining: 99,
            reset: Duration::from_secs(60)
        })
    );
    assert_eq!(seen[1].1.map(|i| i.remaining), Some(98));
    assert_eq!(seen[2].0, Some(429));
}

#[tokio::test]
async fn a_malformed_server_is_skipped_and_the_rest_of_the_page_kept() {
    let mut servers = fleet(5);
    servers[2].raw = Some(r#"{"id": 12345, "name": ["not", "a", "name"]}"#.into());
    servers[3].tools = 17;
    let api = fake_with(servers).await;
    let c = client(&api.base_url(), token(), Duration::from_secs(5), None);
    let p = c
        .list_page(fake::ACCOUNT, 1, 100, None)
        .await
        .expect("page");
    let ids: Vec<_> = p.servers.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["s0000", "s0001", "s0003", "s0004"]);
    assert_eq!(p.skipped.len(), 1);
    assert_eq!(p.skipped[0].index, 2);
    assert_eq!(p.servers[2].tools.as_ref().map(|d| d.count()), Some(17));
    assert_eq!(p.servers[0].tools.as_ref().map(|d| d.count()), Some(3));
}

#[tokio::test]
async fn a_request_that_outlives_the_timeout_fails_as_a_timeout() {
    let api = fake_with(fleet(1)).await;
    api.with(|w| w.latency = Duration::from_secs(3));
    let c = client(&api.base_url(), token(), Duration::from_millis(300), None);
    let e = c
        .list_page(fake::ACCOUNT, 1, 100, None)
        .await
        .expect_err("timeout");
    assert!(matches!(e, ApiError::Timeout { .. }), "{e:?}");
    assert_eq!(classify_sync(&Err(e)), Class::Transient);
}

#[tokio::test]
async fn an_unreachable_api_is_a_transport_error() {
    let port = free_port();
    let c = client(
        &format!("http://127.0.0.1:{port}/client/v4"),
        token(),
        Duration::from_secs(2),
        None,
    );
    let e = c
        .list_page(fake::ACCOUNT, 1, 100, None)
        .await
        .expect_err("refused");
    assert!(matches!(e, ApiError::Transport { .. }), "{e:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_page_over_the_body_cap_is_refused_while_it_streams() {
    // 100 servers x 20 tools x 34 KiB: a 66 MiB page, over the 64 MiB cap.
    let api = fake_with(fake::uniform_fleet(100, 20, 0)).await;
    api.with(|w| w.tool_schema_bytes = 34 * 1024);
    let c = client(&api.base_url(), token(), Duration::from_secs(30), None);
    let err = c
        .list_page(fake::ACCOUNT, 1, 100, None)
        .await
        .expect_err("over the cap");
    assert!(
        matches!(&err, ApiError::Decode { message, .. } if message.contains("larger than 67108864 bytes")),
        "{err:?}"
    );
    api.with(|w| w.tool_schema_bytes = 1024);
    let page = c
        .list_page(fake::ACCOUNT, 1, 100, None)
        .await
        .expect("under the cap");
    assert_eq!(page.servers.len(), 100);
}
