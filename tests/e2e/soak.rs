//! Soak: many cycles at a short interval with servers added and removed all the while.
//! Memory stays flat and /metrics holds exactly the current servers. CI runs a shorter soak
//! (SOAK_CYCLES, default 300); `cargo bench --bench cycle -- soak` runs the full 2,000.

use std::collections::BTreeSet;
use std::time::Duration;

use mcp_sync_monitor::fake::{self, FakeServer};

use crate::common::*;

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_cycles_with_churn_keep_memory_flat_and_metrics_exact() {
    let cycles: f64 = std::env::var("SOAK_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300.0);
    let api = fake_with(
        (0..150)
            .map(|i| FakeServer::fresh(format!("s{i:04}")))
            .collect(),
    )
    .await;
    api.with(|w| w.record = false);
    let port = free_port();
    // A budget that does not slow this test down: the soak is about memory and series.
    let dir = TempDir::new("soak");
    let cfg = dir.file("c.toml", "[rate_limit]\nrequests = 1000000\nper = \"1s\"\n");
    let child = Child(
        bin()
            .envs(env_for(&api))
            .env("MCP_SYNC_CONFIG", &cfg)
            .env("MCP_SYNC_INTERVAL", "10ms")
            .args(["run", "--listen", &format!("127.0.0.1:{port}")])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("daemon"),
    );
    let url = format!("http://127.0.0.1:{port}/metrics");
    let key = format!(
        "cloudflare_mcp_cycle_duration_seconds_count{{account_id=\"{}\"}}",
        fake::ACCOUNT
    );
    let count = |m: &str| sample(m, &key).unwrap_or(0.0);
    crate::http_metrics::poll_metrics(&url, Duration::from_secs(30), "warm-up cycles", |m| {
        count(m) >= 30.0
    })
    .await;
    let rss_start = rss_kib(child.0.id());
    let mut next = 0u32;
    loop {
        api.with(|w| w.churn(format!("new-{next}")));
        next += 1;
        if count(&get(&url).await.1) >= cycles {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let expected: BTreeSet<String> =
        api.with(|w| w.servers().iter().map(|s| s.id.clone()).collect());
    let now = count(&get(&url).await.1);
    let m =
        crate::http_metrics::poll_metrics(&url, Duration::from_secs(30), "two more cycles", |m| {
            count(m) >= now + 2.0
        })
        .await;
    let got: BTreeSet<String> = server_ids(&m, "cloudflare_mcp_server_stale")
        .into_iter()
        .collect();
    let rss_end = rss_kib(child.0.id());
    eprintln!("soak: {cycles} cycles, {next} churns, RSS {rss_start} KiB → {rss_end} KiB");
    assert_eq!(got, expected, "/metrics holds exactly the current servers");
    assert!(
        rss_start > 0 && rss_end < rss_start + 8 * 1024,
        "memory grew from {rss_start} KiB to {rss_end} KiB"
    );
}
