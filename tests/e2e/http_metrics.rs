//! The HTTP endpoints and the /metrics contract, on a daemon running against the
//! simulated API.

use std::time::Duration;

use mcp_sync_monitor::fake::{self, FakeApi, FakeServer, SyncBehavior};
use mcp_sync_monitor::testing::app;
use mcp_sync_monitor::testing::shutdown::Shutdown;

use crate::common::*;

/// One server of every kind the metrics can say something about.
pub fn every_kind() -> Vec<FakeServer> {
    let mut oauth = FakeServer::stale("oauth-required").behaving(SyncBehavior::Permanent);
    oauth.auth_type = "oauth".into();
    oauth.authentication_status = Some("required".into());
    vec![
        FakeServer::fresh("fresh"),
        FakeServer::stale("stale-ok"),
        FakeServer::never_synced("never"),
        FakeServer::stale("flaky").behaving(SyncBehavior::RetryableThen(1)),
        FakeServer::stale("broken").behaving(SyncBehavior::Permanent),
        FakeServer::stale("limited").behaving(SyncBehavior::RateLimitedThen {
            times: 1,
            retry_after_secs: 1,
        }),
        FakeServer::stale("wobbly").behaving(SyncBehavior::ServerErrorThen(1)),
        oauth,
    ]
}

pub struct Daemon {
    pub base: String,
    pub sd: Shutdown,
    pub running: Option<app::Running>,
}

impl Daemon {
    pub async fn start(api: &FakeApi, interval: Duration) -> Self {
        Self::start_with(api, |c| c.interval = interval).await
    }

    pub async fn start_with(
        api: &FakeApi,
        tune: impl FnOnce(&mut mcp_sync_monitor::config::Config),
    ) -> Self {
        let mut cfg = test_config(api);
        tune(&mut cfg);
        let sd = Shutdown::new();
        let running = app::start(cfg, sd.clone()).await.expect("daemon starts");
        Self {
            base: format!("http://{}", running.addr),
            sd,
            running: Some(running),
        }
    }

    pub async fn metrics_text(&self) -> String {
        get(&format!("{}/metrics", self.base)).await.1
    }

    pub async fn wait_for(&self, what: &str, cond: impl Fn(&str) -> bool) -> String {
        let url = format!("{}/metrics", self.base);
        poll_metrics(&url, Duration::from_secs(20), what, cond).await
    }

    pub async fn stop(mut self) {
        self.sd.trigger();
        if let Some(r) = self.running.take() {
            r.wait().await.expect("clean stop");
        }
    }
}

/// Fetches `url` until `cond` holds on the body; panics with the last body on timeout.
pub async fn poll_metrics(
    url: &str,
    timeout: Duration,
    what: &str,
    cond: impl Fn(&str) -> bool,
) -> String {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let m = get(url).await.1;
        if cond(&m) {
            return m;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}; last /metrics:\n{m}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

const ACC: &str = fake::ACCOUNT;

/// Whether /metrics shows one finished cycle of the test account.
pub fn first_cycle_done(m: &str) -> bool {
    sample(
        m,
        &format!("cloudflare_mcp_cycle_duration_seconds_count{{account_id=\"{ACC}\"}}"),
    ) == Some(1.0)
}

fn l(server: &str) -> String {
    format!("{{account_id=\"{ACC}\",server_id=\"{server}\"}}")
}

#[tokio::test]
async fn every_metric_of_the_spec_is_present_with_its_labels() {
    let api = fake_with(every_kind()).await;
    // Sync answers carry Cloudflare's timestamps, so one cycle shows their effect.
    api.with(|w| {
        w.sync_answer_timestamps = true;
        w.rate_limit = Some(fake::FakeRateLimit {
            requests: 1000,
            per: Duration::from_secs(300),
            lockout: Duration::from_secs(1),
        })
    });
    let d = Daemon::start(&api, Duration::from_secs(3600)).await;
    let m = d.wait_for("the first cycle", first_cycle_done).await;
    let acc = format!("{{account_id=\"{ACC}\"}}");
    assert_eq!(sample(&m, &format!("cloudflare_mcp_up{acc}")), Some(1.0));
    assert_eq!(
        sample(&m, &format!("cloudflare_mcp_servers{acc}")),
        Some(8.0)
    );
    assert_eq!(
        sample(&m, &format!("cloudflare_mcp_servers_stale{acc}")),
        Some(2.0),
        "broken and oauth-required stay stale"
    );
    assert!(sample(
        &m,
        &format!("cloudflare_mcp_last_list_success_timestamp_seconds{acc}")
    )
    .is_some_and(|t| t > 1.7e9));
    assert!(m.contains(&format!(
        "cloudflare_mcp_cycle_duration_seconds_bucket{{account_id=\"{ACC}\",le=\"+Inf\"}}"
    )));
    assert!(m.contains(&format!(
        "cloudflare_mcp_server_info{{account_id=\"{ACC}\",server_id=\"fresh\",name=\"Server fresh\",hostname=\"https://fresh.mcp.example.com/mcp\",auth_type=\"unauthenticated\"}} 1"
    )), "{m}");
    assert_eq!(sample(&m, &format!("cloudflare_mcp_server_status{{account_id=\"{ACC}\",server_id=\"broken\",status=\"error\"}}")), Some(1.0));
    assert_eq!(sample(&m, &format!("cloudflare_mcp_server_status{{account_id=\"{ACC}\",server_id=\"fresh\",status=\"ready\"}}")), Some(1.0));
    assert_eq!(sample(&m, &format!("cloudflare_mcp_server_authentication_status{{account_id=\"{ACC}\",server_id=\"oauth-required\",status=\"required\"}}")), Some(1.0));
    assert!(sample(
        &m,
        &format!(
            "cloudflare_mcp_server_last_successful_sync_timestamp_seconds{}",
            l("fresh")
        )
    )
    .is_some());
    assert!(
        sample(
            &m,
            &format!(
                "cloudflare_mcp_server_last_successful_sync_timestamp_seconds{}",
                l("broken")
            )
        )
        .is_some(),
        "broken had a success 5 h ago"
    );
    assert!(
        sample(
            &m,
            &format!(
                "cloudflare_mcp_server_last_synced_timestamp_seconds{}",
                l("never")
            )
        )
        .is_some(),
        "synced by this cycle"
    );
    // Per-server values: (family, server, expected value; None: no series).
    let expected: &[(&str, &str, Option<f64>)] = &[
        ("server_stale", "broken", Some(1.0)),
        ("server_stale", "fresh", Some(0.0)),
        ("server_error", "broken", Some(1.0)),
        ("server_error", "fresh", Some(0.0)),
        ("server_error_retryable", "broken", Some(0.0)),
        ("server_error_retryable", "fresh", None), // absent without details
        ("server_tools", "fresh", Some(3.0)),
        ("server_prompts", "fresh", Some(1.0)),
        ("server_consecutive_sync_failures", "broken", Some(1.0)),
        ("server_consecutive_sync_failures", "flaky", Some(0.0)),
        ("syncs_total", "flaky", Some(1.0)),
        ("syncs_total", "fresh", Some(0.0)),
        ("sync_failures_total", "flaky", Some(0.0)),
    ];
    for (family, server, want) in expected {
        let series = format!("cloudflare_mcp_{family}{}", l(server));
        assert_eq!(sample(&m, &series), *want, "{series}");
    }
    assert_eq!(sample(&m, &format!("cloudflare_mcp_sync_retries_total{{account_id=\"{ACC}\",server_id=\"flaky\",reason=\"retryable\"}}")), Some(1.0));
    assert_eq!(sample(&m, &format!("cloudflare_mcp_sync_retries_total{{account_id=\"{ACC}\",server_id=\"limited\",reason=\"rate_limited\"}}")), Some(1.0));
    assert_eq!(sample(&m, &format!("cloudflare_mcp_sync_retries_total{{account_id=\"{ACC}\",server_id=\"wobbly\",reason=\"transient\"}}")), Some(1.0));
    assert_eq!(sample(&m, &format!("cloudflare_mcp_api_requests_total{{account_id=\"{ACC}\",endpoint=\"list\",code=\"200\"}}")), Some(1.0));
    assert_eq!(sample(&m, &format!("cloudflare_mcp_api_requests_total{{account_id=\"{ACC}\",endpoint=\"sync\",code=\"429\"}}")), Some(1.0));
    assert_eq!(sample(&m, &format!("cloudflare_mcp_api_requests_total{{account_id=\"{ACC}\",endpoint=\"sync\",code=\"500\"}}")), Some(1.0));
    assert!(
        m.contains(
            "cloudflare_mcp_api_request_duration_seconds_bucket{endpoint=\"sync\",le=\"0.005\"}"
        ),
        "{m}"
    );
    assert!(
        sample(&m, &format!("cloudflare_mcp_api_ratelimit_remaining{acc}"))
            .is_some_and(|r| r > 900.0 && r < 1000.0)
    );
    // The fake's window is 300 s: the reset lies ahead, within it.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64();
    assert!(
        sample(
            &m,
            &format!("cloudflare_mcp_api_ratelimit_reset_timestamp_seconds{acc}")
        )
        .is_some_and(|t| t > now - 5.0 && t < now + 302.0),
        "{m}"
    );
    assert_eq!(sample(&m, "cloudflare_mcp_interval_seconds"), Some(3600.0));
    assert_eq!(
        sample(&m, "cloudflare_mcp_stale_after_seconds"),
        Some(3.0 * 3600.0),
        "the default stale_after of 3h"
    );
    assert!(sample(&m, "process_start_time_seconds")
        .is_some_and(|t| t > now - 3600.0 && t <= now + 1.0));
    assert!(sample(&m, "process_resident_memory_bytes").is_some_and(|b| b > 1e6));
    assert!(sample(&m, "process_open_fds").is_some_and(|n| n >= 3.0));
    assert!(sample(&m, "process_cpu_seconds_total").is_some_and(|c| c > 0.0));
    assert_eq!(
        sample(
            &m,
            &format!(
                "cloudflare_mcp_build_info{{version=\"{}\"}}",
                env!("CARGO_PKG_VERSION")
            )
        ),
        Some(1.0)
    );
    for secret in [fake::TOKEN, fake::API_KEY] {
        assert!(!m.contains(secret), "no secret in /metrics");
    }

    // A tool of one server changes: the capability change families appear too.
    api.with(|w| {
        if let Some(s) = w.server("fresh") {
            s.set_tools(r#"[{"name":"changed"}]"#);
        }
    });
    if let Some(r) = d.running.as_ref() {
        r.scheduler.cycle(ACC, &Shutdown::new()).await;
    }
    let m = d.metrics_text().await;
    assert_eq!(
        sample(
            &m,
            &format!(
                "cloudflare_mcp_server_capability_changes_total{}",
                l("fresh")
            )
        ),
        Some(1.0)
    );
    // The documented metrics table and the exported families are the same set.
    let table = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/metrics.md"))
        .expect("docs/metrics.md");
    let documented: std::collections::BTreeSet<&str> = table
        .lines()
        .filter(|l| l.starts_with("| `cloudflare_mcp_") || l.starts_with("| `process_"))
        .flat_map(|l| l.split('|').nth(1).unwrap_or("").split('`'))
        .filter(|t| t.starts_with("cloudflare_mcp_") || t.starts_with("process_"))
        // The web configuration's families need --web.config.file (and TLS): the TLS tests
        // read them.
        .filter(|t| !t.starts_with("cloudflare_mcp_web_"))
        // The pin file's need capabilities.pins: the pins tests read them.
        .filter(|t| {
            !t.starts_with("cloudflare_mcp_pins_") && *t != "cloudflare_mcp_server_capability_drift"
        })
        // The portals' need portals.interval: the portals tests read them.
        .filter(|t| !t.starts_with("cloudflare_mcp_portal"))
        .collect();
    let exported: std::collections::BTreeSet<&str> = m
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE ")?.split(' ').next())
        .collect();
    assert_eq!(documented, exported, "docs/metrics.md table vs /metrics");
    d.stop().await;
}

#[tokio::test]
async fn a_removed_server_leaves_metrics_after_a_complete_listing_and_not_after_a_failed_one() {
    let api = fake_with(vec![FakeServer::fresh("stays"), FakeServer::fresh("goes")]).await;
    let d = Daemon::start(&api, Duration::from_millis(300)).await;
    let goes = format!("cloudflare_mcp_server_stale{}", l("goes"));
    d.wait_for("both servers", |m| sample(m, &goes).is_some())
        .await;

    api.with(|w| {
        w.servers().retain(|s| s.id != "goes");
        w.fail_list_page = Some(1);
    });
    let before = api.count(mcp_sync_monitor::testing::cloudflare::Endpoint::List, None);
    let up = format!("cloudflare_mcp_up{{account_id=\"{ACC}\"}}");
    let m = d
        .wait_for("a failed listing", |m| sample(m, &up) == Some(0.0))
        .await;
    assert!(api.count(mcp_sync_monitor::testing::cloudflare::Endpoint::List, None) > before);
    assert!(
        sample(&m, &goes).is_some(),
        "a failed listing removes nothing"
    );
    assert_eq!(
        sample(
            &m,
            &format!("cloudflare_mcp_servers{{account_id=\"{ACC}\"}}")
        ),
        Some(2.0)
    );

    api.with(|w| w.fail_list_page = None);
    let m = d
        .wait_for("a complete listing", |m| sample(m, &up) == Some(1.0))
        .await;
    assert!(
        sample(&m, &goes).is_none(),
        "the removed server left /metrics"
    );
    assert!(!m.contains("server_id=\"goes\""));
    assert!(sample(&m, &format!("cloudflare_mcp_server_stale{}", l("stays"))).is_some());
    d.stop().await;
}

#[tokio::test]
async fn endpoints_answer_as_the_spec_says() {
    let api = fake_with(vec![FakeServer::fresh("a")]).await;
    api.with(|w| w.latency = Duration::from_millis(800));
    let d = Daemon::start(&api, Duration::from_secs(3600)).await;
    let (code, _, _) = get(&format!("{}/readyz", d.base)).await;
    assert_eq!(code, 503, "not ready before the first listing");
    let (code, _, _) = get(&format!("{}/healthz", d.base)).await;
    assert_eq!(code, 200);
    assert!(
        eventually(Duration::from_secs(10), || async {
            get(&format!("{}/readyz", d.base)).await.0 == 200
        })
        .await
    );
    let (code, body, ct) = get(&format!("{}/metrics", d.base)).await;
    assert_eq!(code, 200);
    assert_eq!(
        ct.as_deref(),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    assert!(body.contains("cloudflare_mcp_up"));
    let (code, body, ct) = get(&format!("{}/", d.base)).await;
    assert_eq!(code, 200);
    assert!(ct.is_some_and(|c| c.starts_with("text/html")));
    for link in ["/metrics", "/healthz", "/readyz"] {
        assert!(body.contains(&format!("href=\"{link}\"")), "{body}");
    }
    assert_eq!(get(&format!("{}/nope", d.base)).await.0, 404);
    assert_eq!(get(&format!("{}/metrics/extra", d.base)).await.0, 404);

    let addr = d.base.trim_start_matches("http://").to_owned();
    let code = tokio::task::spawn_blocking(move || {
        bin()
            .args(["healthcheck", "--listen", &addr])
            .output()
            .ok()
            .and_then(|o| o.status.code())
    })
    .await
    .expect("join");
    assert_eq!(code, Some(0), "healthcheck against a live daemon");
    d.stop().await;
    let port = free_port();
    let code = tokio::task::spawn_blocking(move || {
        bin()
            .args(["healthcheck", "--listen", &format!("0.0.0.0:{port}")])
            .output()
            .ok()
            .and_then(|o| o.status.code())
    })
    .await
    .expect("join");
    assert_eq!(code, Some(1), "healthcheck with nothing listening");
}

#[tokio::test]
async fn the_api_unreachable_at_start_keeps_readiness_503_until_it_appears() {
    let port = free_port();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    let placeholder = FakeApi::start(fake::World::new(vec![]))
        .await
        .expect("fake");
    let mut cfg = test_config(&placeholder);
    drop(placeholder);
    cfg.base_url = format!("http://{addr}/client/v4");
    cfg.interval = Duration::from_millis(500);
    cfg.retry.max_elapsed = Duration::from_millis(200);
    let sd = Shutdown::new();
    let running = app::start(cfg, sd.clone())
        .await
        .expect("starts without the API");
    let base = format!("http://{}", running.addr);
    let up = format!("cloudflare_mcp_up{{account_id=\"{ACC}\"}}");
    assert!(
        eventually(Duration::from_secs(10), || async {
            sample(&get(&format!("{base}/metrics")).await.1, &up) == Some(0.0)
        })
        .await
    );
    assert_eq!(get(&format!("{base}/readyz")).await.0, 503);
    assert_eq!(get(&format!("{base}/healthz")).await.0, 200);
    let m = get(&format!("{base}/metrics")).await.1;
    assert!(m.contains("endpoint=\"list\",code=\"error\""), "{m}");
    let _api = FakeApi::start_on(addr, fake::World::new(vec![FakeServer::fresh("late")]))
        .await
        .expect("fake on the port");
    assert!(
        eventually(Duration::from_secs(10), || async {
            get(&format!("{base}/readyz")).await.0 == 200
        })
        .await
    );
    assert_eq!(
        sample(&get(&format!("{base}/metrics")).await.1, &up),
        Some(1.0)
    );
    sd.trigger();
    running.wait().await.expect("stops");
}

#[tokio::test]
async fn demo_serves_hundreds_of_servers_syncs_stale_ones_and_stops_on_sigint() {
    let port = free_port();
    let mut child = Child(
        bin()
            .args(["demo", "--listen", &format!("127.0.0.1:{port}")])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("demo starts"),
    );
    let url = format!("http://127.0.0.1:{port}/metrics");
    let last = poll_metrics(
        &url,
        Duration::from_secs(60),
        "300 servers and syncs",
        |m| {
            let synced: f64 = series(m, "cloudflare_mcp_syncs_total")
                .iter()
                .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
                .sum();
            series(m, "cloudflare_mcp_servers")
                .iter()
                .any(|l| l.ends_with(" 300"))
                && synced >= 10.0
        },
    )
    .await;
    assert!(series(&last, "cloudflare_mcp_server_info").len() == 300);
    child.signal("INT");
    assert_eq!(child.wait_exit(Duration::from_secs(12)).await, Some(0));
    let mut out = String::new();
    if let Some(mut so) = child.0.stdout.take() {
        use std::io::Read;
        let _ = so.read_to_string(&mut out);
    }
    assert!(
        out.contains(&format!("http://127.0.0.1:{port}/metrics")),
        "demo prints what to open: {out}"
    );
}
