//! The fault matrix: every way the API and the network fail. For each: no crash, no hang
//! past the timeouts, /healthz stays 200, the metrics stay true to what is known, and the
//! daemon recovers when the fault ends.

use std::sync::Arc;
use std::time::Duration;

use mcp_sync_monitor::fake::{self, FakeRateLimit, FakeServer, Fault};
use mcp_sync_monitor::testing::cloudflare::Endpoint;

use crate::common::*;
use crate::http_metrics::Daemon;

const ACC: &str = fake::ACCOUNT;

fn up() -> String {
    format!("cloudflare_mcp_up{{account_id=\"{ACC}\"}}")
}

fn servers() -> String {
    format!("cloudflare_mcp_servers{{account_id=\"{ACC}\"}}")
}

/// A daemon that cycles every 200 ms and gives up on a request quickly.
async fn quick_daemon(api: &fake::FakeApi) -> Daemon {
    Daemon::start_with(api, |c| {
        c.interval = Duration::from_millis(200);
        c.retry.max_elapsed = Duration::from_millis(150);
        c.request_timeout = Duration::from_millis(500);
    })
    .await
}

async fn healthy(d: &Daemon) {
    assert_eq!(
        get(&format!("{}/healthz", d.base)).await.0,
        200,
        "/healthz stays 200"
    );
}

fn fleet(n: usize) -> Vec<FakeServer> {
    let mut v: Vec<FakeServer> = (0..n)
        .map(|i| FakeServer::fresh(format!("s{i:03}")))
        .collect();
    v[0] = FakeServer::stale("s000");
    v
}

/// Waits for the listing to fail under `fault`, checks nothing was lost, lifts the fault
/// and waits for recovery.
async fn fails_then_recovers(api: &fake::FakeApi, d: &Daemon, what: &str, n: usize) {
    let m = d
        .wait_for(&format!("up = 0 under {what}"), |m| {
            sample(m, &up()) == Some(0.0)
        })
        .await;
    healthy(d).await;
    assert_eq!(
        sample(&m, &servers()),
        Some(n as f64),
        "{what}: the last snapshot stays"
    );
    assert_eq!(
        series(&m, "cloudflare_mcp_server_info").len(),
        n,
        "{what}: no series removed"
    );
    api.with(|w| {
        w.fault = None;
        w.fail_list_page = None;
    });
    d.wait_for(&format!("recovery after {what}"), |m| {
        sample(m, &up()) == Some(1.0)
    })
    .await;
    healthy(d).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_5xx_storm_fails_listings_until_it_ends() {
    let api = fake_with(fleet(5)).await;
    let d = quick_daemon(&api).await;
    d.wait_for("the first listing", |m| sample(m, &up()) == Some(1.0))
        .await;
    api.with(|w| w.fault = Some((Fault::ServerError, None)));
    fails_then_recovers(&api, &d, "a 5xx storm", 5).await;
    let m = d.metrics_text().await;
    assert!(sample(&m, &format!("cloudflare_mcp_api_requests_total{{account_id=\"{ACC}\",endpoint=\"list\",code=\"500\"}}")).is_some_and(|n| n >= 1.0));
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_truncated_wrong_type_and_html_answers_fail_cleanly() {
    let api = fake_with(fleet(4)).await;
    let d = quick_daemon(&api).await;
    d.wait_for("the first listing", |m| sample(m, &up()) == Some(1.0))
        .await;
    for fault in [
        Fault::Malformed,
        Fault::Truncated,
        Fault::WrongContentType,
        Fault::HtmlErrorPage,
    ] {
        api.with(|w| w.fault = Some((fault.clone(), None)));
        fails_then_recovers(&api, &d, &format!("{fault:?}"), 4).await;
    }
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responses_slower_than_the_timeout_fail_as_timeouts() {
    let api = fake_with(fleet(3)).await;
    let d = quick_daemon(&api).await;
    d.wait_for("the first listing", |m| sample(m, &up()) == Some(1.0))
        .await;
    api.with(|w| w.fault = Some((Fault::Slow(Duration::from_secs(2)), None)));
    let errors = format!("cloudflare_mcp_api_requests_total{{account_id=\"{ACC}\",endpoint=\"list\",code=\"error\"}}");
    d.wait_for("a timed-out listing", |m| {
        sample(m, &errors).is_some_and(|n| n >= 1.0)
    })
    .await;
    fails_then_recovers(&api, &d, "slow answers", 3).await;
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_page_failing_mid_walk_fails_the_listing_and_removes_nothing() {
    let api = fake_with(fleet(250)).await;
    let d = quick_daemon(&api).await;
    d.wait_for("the first listing", |m| {
        sample(m, &servers()) == Some(250.0)
    })
    .await;
    api.with(|w| {
        w.fail_list_page = Some(2);
        // A server that only the (failing) walk could have dropped.
        w.servers().retain(|s| s.id != "s249");
    });
    fails_then_recovers(&api, &d, "page 2 failing", 250).await;
    let m = d
        .wait_for("the complete listing", |m| {
            sample(m, &servers()) == Some(249.0)
        })
        .await;
    assert!(!m.contains("server_id=\"s249\""));
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_revoked_mid_run_then_restored() {
    let api = fake_with(fleet(3)).await;
    let d = quick_daemon(&api).await;
    d.wait_for("the first listing", |m| sample(m, &up()) == Some(1.0))
        .await;
    api.with(|w| w.tokens.clear());
    let forbidden = format!(
        "cloudflare_mcp_api_requests_total{{account_id=\"{ACC}\",endpoint=\"list\",code=\"403\"}}"
    );
    let m = d
        .wait_for("the refusal", |m| {
            sample(m, &up()) == Some(0.0) && sample(m, &forbidden).is_some()
        })
        .await;
    healthy(&d).await;
    assert_eq!(series(&m, "cloudflare_mcp_server_info").len(), 3);
    tokio::time::sleep(Duration::from_millis(600)).await;
    let m = d.metrics_text().await;
    let refused = sample(&m, &forbidden).unwrap_or(0.0);
    let cycles = sample(
        &m,
        &format!("cloudflare_mcp_cycle_duration_seconds_count{{account_id=\"{ACC}\"}}"),
    )
    .unwrap_or(0.0);
    assert!(
        refused <= cycles,
        "at most one refused request per cycle: {refused} refusals in {cycles} cycles"
    );
    api.with(|w| w.tokens.push(fake::TOKEN.to_owned()));
    d.wait_for("recovery", |m| sample(m, &up()) == Some(1.0))
        .await;
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_lockout_is_waited_out_without_a_single_request() {
    let api = fake_with(fleet(3)).await;
    let lockout = Duration::from_secs(2);
    api.with(|w| {
        w.rate_limit = Some(FakeRateLimit {
            requests: 4,
            per: Duration::from_secs(60),
            lockout,
        });
        // Without the header the daemon cannot see the limit coming (see the next test).
        w.ratelimit_header = false;
    });
    let d = Daemon::start_with(&api, |c| {
        c.interval = Duration::from_millis(200);
        c.retry.max_elapsed = Duration::from_secs(3);
    })
    .await;
    d.wait_for("the lockout", |m| sample(m, &up()) == Some(0.0))
        .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    healthy(&d).await;
    let reqs = api.requests();
    let locked: Vec<_> = reqs
        .iter()
        .enumerate()
        .filter(|(_, r)| r.status == 429)
        .collect();
    assert!(!locked.is_empty());
    for (i, r) in &locked {
        if let Some(next) = reqs.get(i + 1) {
            let gap = next.at.duration_since(r.at);
            assert!(
                gap >= lockout - Duration::from_millis(50),
                "a request {gap:?} after a 429 with retry-after {lockout:?}"
            );
        }
    }
    api.with(|w| w.rate_limit = None);
    d.wait_for("recovery", |m| sample(m, &up()) == Some(1.0))
        .await;
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_shifting_while_walked_never_duplicates_a_server() {
    let api = fake_with(
        (0..230)
            .map(|i| FakeServer::fresh(format!("s{i:04}")))
            .collect(),
    )
    .await;
    api.with(|w| {
        w.result_info = false;
        w.list_hook = Some(Arc::new(|page, servers| {
            // Every page request inserts one server and deletes another.
            let at = (page as usize * 37) % servers.len().max(1);
            servers.insert(
                at,
                FakeServer::fresh(format!("new-{page}-{}", fastrand::u32(..))),
            );
            servers.remove((at + 101) % servers.len());
        }));
    });
    let d = quick_daemon(&api).await;
    let cycles = format!("cloudflare_mcp_cycle_duration_seconds_count{{account_id=\"{ACC}\"}}");
    let m = d
        .wait_for("several cycles", |m| {
            sample(m, &cycles).is_some_and(|c| c >= 5.0)
        })
        .await;
    let mut ids = server_ids(&m, "cloudflare_mcp_server_info");
    let n = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), n, "no server twice");
    assert_eq!(
        sample(&m, &servers()),
        Some(n as f64),
        "the count matches the series"
    );
    healthy(&d).await;
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_fields_are_decoded_and_bounded() {
    let mut big = FakeServer::stale("big").named("N".repeat(200_000));
    big.tools = 5_000;
    big.hostname = format!("https://{}.example.com/mcp", "h".repeat(100_000));
    let api = fake_with(vec![big, FakeServer::fresh("small")]).await;
    let d = quick_daemon(&api).await;
    let tools = format!("cloudflare_mcp_server_tools{{account_id=\"{ACC}\",server_id=\"big\"}}");
    let m = d
        .wait_for("the big server", |m| sample(m, &tools) == Some(5000.0))
        .await;
    let info = series(&m, "cloudflare_mcp_server_info")
        .into_iter()
        .find(|l| l.contains("server_id=\"big\""))
        .expect("big's info");
    assert!(
        info.len() < 3000,
        "labels are bounded: {} bytes",
        info.len()
    );
    assert!(m.contains("server_id=\"small\""));
    assert_eq!(api.count(Endpoint::Sync, Some("big")), 1);
    healthy(&d).await;
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ratelimit_header_slows_the_daemon_down_before_a_429() {
    let api = fake_with(fleet(3)).await;
    api.with(|w| {
        w.rate_limit = Some(FakeRateLimit {
            requests: 6,
            per: Duration::from_secs(3),
            lockout: Duration::from_secs(30),
        })
    });
    // Cycles every 100 ms would send far more than 6 requests per 3 s.
    let d = quick_daemon(&api).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let reqs = api.requests();
    assert!(
        reqs.iter().all(|r| r.status != 429),
        "the daemon paced itself: {:?}",
        reqs.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert!(api.count(Endpoint::List, None) >= 3, "and kept cycling");
    let m = d.metrics_text().await;
    assert!(sample(
        &m,
        &format!("cloudflare_mcp_api_ratelimit_remaining{{account_id=\"{ACC}\"}}")
    )
    .is_some_and(|r| r < 6.0));
    healthy(&d).await;
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrongly_typed_fields_lose_the_field_not_the_server() {
    let api = fake_with(fleet(3)).await;
    api.with(|w| {
        if let Some(s) = w.server("s001") {
            s.raw = Some(
                r#"{"id":"s001","name":{"not":"a string"},"tools":"many","prompts":[1,2],"last_synced":7,
                    "last_successful_sync":"yesterday","status":["ready"],"error_details":"oops"}"#
                    .into(),
            );
        }
        if let Some(s) = w.server("s002") {
            s.raw = Some(r#"{"name":"no id at all"}"#.into());
        }
    });
    // dry_run: what is shown is what was listed, not what a sync taught.
    let d = Daemon::start_with(&api, |c| c.dry_run = true).await;
    let m = d
        .wait_for("the first listing", |m| sample(m, &up()) == Some(1.0))
        .await;
    let l = |f: &str| format!("cloudflare_mcp_{f}{{account_id=\"{ACC}\",server_id=\"s001\"}}");
    assert_eq!(
        sample(&m, &l("server_prompts")),
        Some(2.0),
        "what decodes is kept"
    );
    assert_eq!(
        sample(&m, &l("server_tools")),
        None,
        "a wrongly typed count is unknown, not 0"
    );
    assert_eq!(
        sample(&m, &l("server_last_successful_sync_timestamp_seconds")),
        None
    );
    assert_eq!(
        sample(&m, &l("server_stale")),
        Some(1.0),
        "no usable last success: stale"
    );
    assert!(
        !m.contains("server_id=\"s002\""),
        "an object without an id cannot be tracked"
    );
    assert_eq!(sample(&m, &servers()), Some(2.0));
    d.stop().await;
}
