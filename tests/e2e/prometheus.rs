//! What faces Prometheus, checked by the real thing: `promtool check metrics` on a real
//! /metrics, and a real Prometheus server scraping the daemon and answering PromQL.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use mcp_sync_monitor::fake;

use crate::common::*;
use crate::http_metrics::{every_kind, first_cycle_done, Daemon};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promtool_accepts_the_metrics_of_a_daemon_with_every_kind_of_server() {
    let Some(promtool) = external_tool("promtool") else {
        return;
    };
    let api = fake_with(every_kind()).await;
    let d = Daemon::start(&api, Duration::from_secs(3600)).await;
    let m = d.wait_for("the first cycle", first_cycle_done).await;
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(m.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("promtool ends");
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    d.stop().await;
}

/// A real Prometheus scraping `target` every second.
pub struct Prometheus {
    pub base: String,
    _child: Child,
    _dir: TempDir,
}

impl Prometheus {
    pub async fn start(target: &str, rule_files: &[&str]) -> Option<Self> {
        let bin = external_tool("prometheus")?;
        let dir = TempDir::new("prom");
        let rules = rule_files
            .iter()
            .map(|r| format!("  - {r}\n"))
            .collect::<String>();
        let cfg = format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n{rules}scrape_configs:\n  - job_name: mcp-sync-monitor\n    static_configs:\n      - targets: ['{target}']\n"
        );
        let cfg_path = dir.file("prometheus.yml", &cfg);
        let port = free_port();
        let log = std::fs::File::create(dir.0.join("prometheus.log")).expect("log");
        let child = Command::new(bin)
            .arg(format!("--config.file={}", cfg_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.0.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::from(log.try_clone().expect("clone")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("prometheus starts");
        let p = Self {
            base: format!("http://127.0.0.1:{port}"),
            _child: Child(child),
            _dir: dir,
        };
        let ready = eventually(Duration::from_secs(60), || async {
            get(&format!("{}/-/ready", p.base)).await.0 == 200
        })
        .await;
        assert!(
            ready,
            "prometheus did not become ready: {}",
            std::fs::read_to_string(p._dir.0.join("prometheus.log")).unwrap_or_default()
        );
        Some(p)
    }

    /// Runs an instant query; the result vector (empty on no data) or the error text.
    pub async fn query(&self, q: &str) -> Result<Vec<serde_json::Value>, String> {
        let url = reqwest::Url::parse_with_params(
            &format!("{}/api/v1/query", self.base),
            &[("query", q)],
        )
        .map_err(|e| e.to_string())?;
        let r = reqwest::get(url).await.map_err(|e| e.to_string())?;
        let v: serde_json::Value =
            serde_json::from_str(&r.text().await.map_err(|e| e.to_string())?)
                .map_err(|e| e.to_string())?;
        if v["status"] != "success" {
            return Err(format!("{q}: {v}"));
        }
        Ok(v["data"]["result"].as_array().cloned().unwrap_or_default())
    }

    /// The single value of a query returning one sample.
    pub async fn value(&self, q: &str) -> Option<f64> {
        let r = self.query(q).await.ok()?;
        r.first()?["value"][1].as_str()?.parse().ok()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_prometheus_scrapes_the_daemon_and_promql_returns_the_expected_numbers() {
    let api = fake_with(every_kind()).await;
    let d = Daemon::start(&api, Duration::from_secs(3600)).await;
    d.wait_for("the first cycle", first_cycle_done).await;
    let target = d.base.trim_start_matches("http://").to_owned();
    let Some(p) = Prometheus::start(&target, &[]).await else {
        return;
    };
    let acc = fake::ACCOUNT;
    let ok = eventually(Duration::from_secs(30), || async {
        p.value("cloudflare_mcp_servers").await.is_some()
    })
    .await;
    assert!(ok, "Prometheus never scraped the daemon");
    assert_eq!(
        p.value(&format!("cloudflare_mcp_servers{{account_id=\"{acc}\"}}"))
            .await,
        Some(8.0)
    );
    assert_eq!(
        p.value(&format!(
            "cloudflare_mcp_servers_stale{{account_id=\"{acc}\"}}"
        ))
        .await,
        Some(2.0)
    );
    assert_eq!(
        p.value("up{job=\"mcp-sync-monitor\"}").await,
        Some(1.0),
        "the scrape itself succeeds"
    );
    assert_eq!(
        p.value("cloudflare_mcp_sync_failures_total{server_id=\"broken\"}")
            .await,
        Some(1.0)
    );
    let age = p.value("time() - cloudflare_mcp_server_last_successful_sync_timestamp_seconds{server_id=\"fresh\"}").await;
    assert!(
        age.is_some_and(|a| (590.0..700.0).contains(&a)),
        "fresh was synced 10 minutes ago: {age:?}"
    );
    let stale_3h = p
        .query("time() - cloudflare_mcp_server_last_successful_sync_timestamp_seconds > 3 * 3600")
        .await
        .expect("query");
    let ids: Vec<&str> = stale_3h
        .iter()
        .filter_map(|r| r["metric"]["server_id"].as_str())
        .collect();
    assert!(
        ids.contains(&"broken") && ids.contains(&"oauth-required") && !ids.contains(&"fresh"),
        "{ids:?}"
    );
    d.stop().await;
}
