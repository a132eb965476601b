//! The daemon as a process and the `once` command against the simulated API: a signal during a
//! long wait, exit codes, healing at the request budget, and the log lines.

use std::time::{Duration, Instant};

use mcp_sync_monitor::fake::{self, FakeServer, SyncBehavior};
use mcp_sync_monitor::testing::cloudflare::Endpoint;
use mcp_sync_monitor::testing::shutdown::Shutdown;

use crate::common::*;
use crate::scheduler::stale_fleet_at_budget;

#[tokio::test]
async fn sigterm_during_a_long_retry_wait_exits_0_within_10_seconds() {
    let api = fake_with(vec![FakeServer::stale("slow429").behaving(
        SyncBehavior::RateLimitedThen {
            times: 5,
            retry_after_secs: 120,
        },
    )])
    .await;
    let port = free_port();
    let mut child = Child(
        bin()
            .envs(env_for(&api))
            .args(["run", "--listen", &format!("127.0.0.1:{port}")])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn"),
    );
    assert!(
        eventually(Duration::from_secs(20), || async {
            api.count(Endpoint::Sync, None) >= 1
        })
        .await,
        "the first sync came"
    );
    let sent = Instant::now();
    child.signal("TERM");
    let code = child.wait_exit(Duration::from_secs(12)).await;
    assert_eq!(code, Some(0));
    assert!(
        sent.elapsed() < Duration::from_secs(10),
        "stopped in {:?}",
        sent.elapsed()
    );
    assert_eq!(
        api.count(Endpoint::Sync, None),
        1,
        "no request during the retry-after wait"
    );
}

/// Runs `once` against `api` (off the runtime: the fake runs on it) with extra variables.
pub(crate) async fn once(api: &fake::FakeApi, extra: &[(&str, &str)]) -> (i32, String, String) {
    let env = env_for(api);
    let extra: Vec<(String, String)> = extra
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    tokio::task::spawn_blocking(move || {
        let o = bin()
            .envs(env)
            .envs(extra)
            .arg("once")
            .output()
            .expect("runs");
        (
            o.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    })
    .await
    .expect("join")
}

#[tokio::test]
async fn once_exits_0_when_healthy_1_when_failing_2_on_auth_or_config_errors() {
    let api = fake_with(vec![FakeServer::fresh("fine"), FakeServer::stale("healed")]).await;
    let (code, out, err) = once(&api, &[]).await;
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("healed") && out.contains("success"), "{out}");
    assert!(
        out.contains("SERVER") && out.contains("LAST SUCCESSFUL SYNC"),
        "{out}"
    );

    api.with(|w| {
        w.servers()
            .push(FakeServer::stale("broken").behaving(SyncBehavior::Permanent))
    });
    let (code, out, _) = once(&api, &[]).await;
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("failed"), "{out}");

    let (code, _, err) = once(&api, &[("CLOUDFLARE_API_TOKEN", "revoked")]).await;
    assert_eq!(code, 2, "{err}");

    let (code, _, err) = once(&api, &[("MCP_SYNC_INTERVAL", "soon")]).await;
    assert_eq!(code, 2);
    assert!(err.contains("interval") && err.contains("soon"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_everything_stale_the_daemon_heals_at_its_budget_and_never_sees_a_429() {
    let budget = 30;
    let per = Duration::from_secs(2);
    let windows = 5;
    let n = budget * (windows + 2);
    let (api, mut cfg) = stale_fleet_at_budget(n, budget, per).await;
    cfg.sync_concurrency = 8;
    cfg.retry.max_elapsed = Duration::from_secs(60);
    let (s, _state) = scheduler(cfg);
    let sd = Shutdown::new();
    let cycle = tokio::spawn({
        let sd = sd.clone();
        async move { s.cycle(fake::ACCOUNT, &sd).await }
    });
    tokio::time::sleep(per * (windows as u32 + 1) + Duration::from_millis(200)).await;
    sd.trigger();
    let _ = cycle.await;
    let reqs = api.requests();
    assert!(
        reqs.iter().all(|r| r.status != 429),
        "no 429 from the API enforcing the same limit"
    );
    let first = reqs.first().expect("requests").at;
    // Whole windows after the first (which holds the listing's burst).
    let in_steady = reqs
        .iter()
        .filter(|r| r.at >= first + per && r.at < first + per * (windows as u32 + 1))
        .count();
    let rate = in_steady as f64 / windows as f64;
    eprintln!("healing rate: {rate:.1} requests per {per:?} window at a budget of {budget}");
    assert!(
        rate >= 0.95 * budget as f64 && rate <= budget as f64,
        "{rate} per window, budget {budget}"
    );
}

#[tokio::test]
async fn json_logs_carry_one_line_per_sync_and_escape_api_text() {
    let api = fake_with(vec![
        FakeServer::stale("evil").named("evil\u{1b}[2J\nname"),
        FakeServer::stale("broken").behaving(SyncBehavior::Permanent),
    ])
    .await;
    let (code, _, err) = once(
        &api,
        &[("MCP_SYNC_LOG_FORMAT", "json"), ("RUST_LOG", "info")],
    )
    .await;
    assert_eq!(code, 1, "{err}");
    assert!(
        !err.contains('\u{1b}'),
        "no raw control characters reach the log"
    );
    let lines: Vec<serde_json::Value> = err
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let sync_lines: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| l["server_id"].is_string() && l["attempts"].is_number())
        .collect();
    assert_eq!(sync_lines.len(), 2, "one line per sync: {lines:#?}");
    for l in &sync_lines {
        assert!(
            l["account"].is_string()
                && l["outcome"].is_string()
                && l["duration_ms"].is_number()
                && l["name"].is_string(),
            "{l}"
        );
    }
    let summary = lines
        .iter()
        .find(|l| l["message"] == "cycle complete")
        .expect("a cycle summary line");
    assert_eq!(summary["servers"], 2);
    assert_eq!(summary["stale"], 2);
    assert_eq!(summary["synced"], 1);
    assert_eq!(summary["failed"], 1);
}
