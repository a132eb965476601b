//! What faces Prometheus, checked by the real thing: `promtool check metrics` on a real
//! /metrics, and a real Prometheus server scraping the daemon and answering PromQL.

use std::time::Duration;

use mcp_sync_monitor::fake;

use crate::common::*;
use crate::http_metrics::{every_kind, first_cycle_done, Daemon};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promtool_accepts_the_metrics_of_a_daemon_with_every_kind_of_server() {
    let api = fake_with(every_kind()).await;
    let d = Daemon::start(&api, Duration::from_secs(3600)).await;
    let m = d.wait_for("the first cycle", first_cycle_done).await;
    if let Some(checked) = promtool_check_metrics(&m) {
        assert_eq!(checked, Ok(()), "promtool check metrics");
    }
    d.stop().await;
}

/// A real Prometheus scraping `target` every second.
pub struct Prometheus {
    pub base: String,
    _service: Service,
}

impl Prometheus {
    pub async fn start(target: &str, rule_files: &[&str]) -> Option<Self> {
        Self::start_with(target, rule_files, "").await
    }

    /// As [`Self::start`], with `extra` appended to the configuration (e.g. `alerting:`).
    pub async fn start_with(target: &str, rule_files: &[&str], extra: &str) -> Option<Self> {
        let job = format!(
            "  - job_name: mcp-sync-monitor\n    static_configs:\n      - targets: ['{target}']\n"
        );
        Self::start_scraping(rule_files, &job, extra).await
    }

    /// A Prometheus with these `scrape_configs` entries (YAML list items, indented by two).
    pub async fn start_scraping(rule_files: &[&str], jobs: &str, extra: &str) -> Option<Self> {
        let rules = rule_files
            .iter()
            .map(|r| format!("  - {r}\n"))
            .collect::<String>();
        let cfg = format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n{rules}scrape_configs:\n{jobs}{extra}"
        );
        let service = Service::start(
            "prometheus",
            |dir, port| {
                let cfg_path = dir.file("prometheus.yml", &cfg);
                vec![
                    format!("--config.file={}", cfg_path.display()),
                    format!("--storage.tsdb.path={}", dir.0.join("data").display()),
                    format!("--web.listen-address=127.0.0.1:{port}"),
                ]
            },
            "/-/ready",
        )
        .await?;
        Some(Self {
            base: service.base.clone(),
            _service: service,
        })
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
    // Sync answers carry Cloudflare's timestamps, so one cycle shows their effect.
    api.with(|w| w.sync_answer_timestamps = true);
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

/// The metric names an expression reads (recorded names, with a colon, excluded).
fn metric_names(expr: &str) -> Vec<String> {
    let mut out = metric_names_with(expr, "cloudflare_mcp_");
    out.extend(metric_names_with(expr, "process_"));
    out
}

fn metric_names_with(expr: &str, prefix: &str) -> Vec<String> {
    let mut out = Vec::new();
    let b = expr.as_bytes();
    let mut i = 0;
    while let Some(pos) = expr[i..].find(prefix) {
        let start = i + pos;
        let mut end = start;
        while end < b.len() && (b[end].is_ascii_alphanumeric() || b[end] == b'_' || b[end] == b':')
        {
            end += 1;
        }
        let name = &expr[start..end];
        let before_ok = start == 0
            || !(b[start - 1].is_ascii_alphanumeric()
                || b[start - 1] == b'_'
                || b[start - 1] == b':');
        if before_ok && !name.contains(':') {
            out.push(name.to_owned());
        }
        i = end;
    }
    out
}

/// A `query_result` variable's options as Grafana makes them: each series of the instant
/// query becomes the line `name{k="v",…} value timestamp_ms` (labels in the answer's order,
/// values unescaped); a regex with named groups `text` and `value` picks both from it, and a
/// line it does not match gives no option.
fn grafana_options(regex: &str, result: &[serde_json::Value]) -> Vec<(String, String)> {
    let pattern = regex
        .strip_prefix('/')
        .and_then(|r| r.rsplit_once('/'))
        .map_or(regex, |(body, _flags)| body);
    let re = regex::Regex::new(pattern).expect("the variable's regex compiles");
    result
        .iter()
        .filter_map(|series| {
            let metric = series["metric"].as_object()?;
            let labels: Vec<String> = metric
                .iter()
                .filter(|(k, _)| k.as_str() != "__name__")
                .map(|(k, v)| format!("{k}=\"{}\"", v.as_str().unwrap_or_default()))
                .collect();
            let line = format!(
                "{}{{{}}} {} {}",
                metric
                    .get("__name__")
                    .and_then(|n| n.as_str())
                    .unwrap_or(""),
                labels.join(","),
                series["value"][1].as_str().unwrap_or(""),
                series["value"][0].as_f64().unwrap_or(0.0) * 1000.0
            );
            if pattern.is_empty() {
                return Some((line.clone(), line));
            }
            let c = re.captures(&line)?;
            let text = c.name("text").or(c.name("value"))?.as_str().to_owned();
            let value = c
                .name("value")
                .map_or(text.clone(), |m| m.as_str().to_owned());
            Some((text, value))
        })
        .collect()
}

fn substitute(expr: &str) -> String {
    expr.replace("$__rate_interval", "1m")
        .replace("$account_id", ".*")
        .replace("$server", ".*")
        .replace("$portal", ".*")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_dashboard_and_rule_expression_runs_against_the_demo_fleet() {
    use mcp_sync_monitor::commands::demo;
    use mcp_sync_monitor::{config, testing::app};
    let api = demo::start_fake().await.expect("demo fake");
    // A web configuration (headers only, plain HTTP), so that its series exist too.
    let dir = TempDir::new("demo-web");
    let web = dir.file(
        "web.yml",
        "http_server_config:\n  headers:\n    X-Frame-Options: deny\n",
    );
    let flags = config::Flags {
        listen: Some("127.0.0.1:0".into()),
        web_config_file: Some(web.display().to_string()),
        ..Default::default()
    };
    let env: config::Env = [("MCP_SYNC_INTERVAL".to_owned(), "2s".to_owned())]
        .into_iter()
        .collect();
    let cfg = demo::config(&flags, &env, &api).expect("demo config");
    let cfg = demo::with_pins(cfg).await.expect("demo pins");
    let sd = mcp_sync_monitor::testing::shutdown::Shutdown::new();
    let running = app::start(cfg, sd.clone()).await.expect("daemon");
    let target = running.addr.to_string();
    let rules = concat!(env!("CARGO_MANIFEST_DIR"), "/dashboards/alerts.yaml");
    let Some(p) = Prometheus::start(&target, &[rules]).await else {
        return;
    };

    // Enough scrapes for rate() over 1m and a few cycles for the cycle histogram.
    let ok = eventually(Duration::from_secs(60), || async {
        p.query("rate(cloudflare_mcp_cycle_duration_seconds_count[1m]) > 0")
            .await
            .is_ok_and(|r| !r.is_empty())
            && p.query("cloudflare_mcp_sync_retries_total")
                .await
                .is_ok_and(|r| !r.is_empty())
    })
    .await;
    assert!(ok, "Prometheus never saw a few cycles of the demo");

    // The dashboard: every target and every variable query.
    let dash: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/dashboards/mcp-sync-monitor.json"
        ))
        .expect("dashboard"),
    )
    .expect("dashboard is JSON");
    let mut exprs: Vec<(String, String)> = Vec::new();
    for panel in dash["panels"].as_array().expect("panels") {
        assert!(
            panel["description"].as_str().is_some_and(|d| !d.is_empty()),
            "panel {} has a description",
            panel["title"]
        );
        for t in panel["targets"].as_array().expect("targets") {
            exprs.push((
                panel["title"].as_str().unwrap_or("?").to_owned(),
                t["expr"].as_str().expect("expr").to_owned(),
            ));
        }
    }
    for v in dash["templating"]["list"].as_array().expect("variables") {
        if let Some(q) = v["query"]["query"].as_str() {
            if let Some(inner) = q
                .strip_prefix("query_result(")
                .and_then(|q| q.strip_suffix(')'))
            {
                exprs.push((format!("variable {}", v["name"]), inner.to_owned()));
                continue;
            }
            // label_values(selector, label) → group by (label) (selector)
            let inner = q.trim_start_matches("label_values(").trim_end_matches(')');
            let (sel, label) = inner
                .rsplit_once(',')
                .expect("label_values(selector, label)");
            exprs.push((
                format!("variable {}", v["name"]),
                format!("group by ({}) ({})", label.trim(), sel.trim()),
            ));
        }
    }
    assert!(exprs.len() >= 15);
    for (title, expr) in &exprs {
        let q = substitute(expr);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        let (has_data, last) = loop {
            let r = p.query(&q).await;
            if r.as_ref().is_ok_and(|v| !v.is_empty()) {
                break (true, r);
            }
            if tokio::time::Instant::now() >= deadline {
                break (false, r);
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        };
        assert!(
            has_data,
            "dashboard panel {title:?}: {q} returned no data: {last:?}"
        );
    }

    // Each query variable's regex, applied as Grafana applies it: to the `query_result` lines
    // Grafana builds from Prometheus's answer (labels in the order Prometheus returns them).
    for v in dash["templating"]["list"].as_array().expect("variables") {
        let Some(inner) = v["query"]["query"]
            .as_str()
            .and_then(|q| q.strip_prefix("query_result("))
            .and_then(|q| q.strip_suffix(')'))
        else {
            continue;
        };
        let result = p.query(&substitute(inner)).await.expect("variable query");
        let options = grafana_options(v["regex"].as_str().unwrap_or(""), &result);
        assert_eq!(
            options.len(),
            result.len(),
            "variable {}: every series gives an option",
            v["name"]
        );
        if v["name"] == "server" {
            for (series, (text, value)) in result.iter().zip(&options) {
                assert_eq!(
                    Some(text.as_str()),
                    series["metric"]["name"].as_str(),
                    "{series}"
                );
                assert_eq!(Some(value.as_str()), series["metric"]["server_id"].as_str());
            }
            assert!(options.iter().any(|(t, _)| t == "wiki 299"), "{options:?}");
        }
    }

    // The rules: all loaded and evaluated without error, each expression runs, every
    // recording rule produces data, and every metric they read exists.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let (healthy, groups) = loop {
        let body = get(&format!("{}/api/v1/rules", p.base)).await.1;
        let groups = serde_json::from_str::<serde_json::Value>(&body)
            .map(|v| v["data"]["groups"].clone())
            .unwrap_or_default();
        let rules: Vec<&serde_json::Value> = groups
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|g| g["rules"].as_array().into_iter().flatten())
            .collect();
        if rules.len() >= 12 && rules.iter().all(|r| r["health"] == "ok") {
            break (true, groups);
        }
        if tokio::time::Instant::now() >= deadline {
            break (false, groups);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert!(healthy, "rules did not all evaluate cleanly: {groups:#}");
    // The demo's sales portal serves one server, which needs a sign-in: it is unusable, and
    // its page is pending from the daemon's own series; the engineers' portal is not.
    let pending = eventually(Duration::from_secs(30), || async {
        p.query(r#"ALERTS{alertname="McpPortalUnusable", portal_id="sales", name="Sales tools"}"#)
            .await
            .is_ok_and(|v| v.len() == 1)
    })
    .await;
    assert!(
        pending,
        "McpPortalUnusable is not pending for the demo's sales portal"
    );
    let engineering = p
        .query(r#"ALERTS{alertname="McpPortalUnusable", portal_id="engineering"}"#)
        .await;
    assert!(engineering.is_ok_and(|v| v.is_empty()));
    for g in groups.as_array().expect("groups") {
        for r in g["rules"].as_array().expect("rules") {
            let query = r["query"].as_str().expect("query");
            let res = p.query(query).await;
            assert!(res.is_ok(), "rule {}: {query}: {res:?}", r["name"]);
            if r["type"] == "recording" {
                let name = r["name"].as_str().expect("name");
                assert!(
                    p.query(name).await.is_ok_and(|v| !v.is_empty()),
                    "recording rule {name} produced no data"
                );
            }
            for m in metric_names(query) {
                let present = p
                    .query(&format!("count({m})"))
                    .await
                    .is_ok_and(|v| !v.is_empty());
                assert!(
                    present,
                    "rule {} reads {m}, which the daemon does not export on the demo fleet",
                    r["name"]
                );
            }
        }
    }
    for (_, expr) in &exprs {
        for m in metric_names(expr) {
            assert!(
                p.query(&format!("count({m})"))
                    .await
                    .is_ok_and(|v| !v.is_empty()),
                "dashboard reads {m}, which is not exported"
            );
        }
    }
    sd.trigger();
    running.wait().await.expect("stops");
}
