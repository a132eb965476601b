//! Alert delivery for real: the daemon on a scenario that must page (credentials refused),
//! a real Prometheus evaluating the shipped rule file, and a real Alertmanager with the
//! shipped configuration delivering to a webhook on 127.0.0.1. The page arrives once, with its
//! labels and runbook link; the listing alert the same cause raises is inhibited.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::Uri;
use mcp_sync_monitor::fake;
use serde_json::Value;

use crate::common::*;
use crate::http_metrics::Daemon;
use crate::prometheus::Prometheus;

/// Every notification the webhook received: (receiver path, payload).
type Inbox = Arc<Mutex<Vec<(String, Value)>>>;

async fn webhook() -> (String, Inbox) {
    let inbox: Inbox = Arc::default();
    let sink = inbox.clone();
    let app = axum::Router::new().fallback(move |uri: Uri, body: String| {
        let sink = sink.clone();
        async move {
            let v = serde_json::from_str(&body).unwrap_or(Value::Null);
            sink.lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((uri.path().to_owned(), v));
            "ok"
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind webhook");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (base, inbox)
}

/// The firing alerts of one name in every notification so far: (receiver path, alert).
fn firing(inbox: &Inbox, name: &str) -> Vec<(String, Value)> {
    inbox
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .flat_map(|(path, n)| {
            n["alerts"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter(|a| a["labels"]["alertname"] == name && a["status"] == "firing")
                .map(|a| (path.clone(), a))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// A real Alertmanager with the shipped configuration, its receivers pointed at `hook` and
/// its group wait shortened so that the test does not wait 30 s.
struct Alertmanager(Service);

impl Alertmanager {
    async fn start(hook: &str) -> Option<Self> {
        let shipped = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/deploy/alertmanager/alertmanager.yml"
        ))
        .expect("shipped alertmanager.yml");
        assert!(shipped.contains("http://127.0.0.1:5001/") && shipped.contains("group_wait: 30s"));
        let cfg = shipped
            .replace("http://127.0.0.1:5001", hook)
            .replace("group_wait: 30s", "group_wait: 1s")
            .replace("group_interval: 5m", "group_interval: 1s");
        let service = Service::start(
            "prometheus-alertmanager",
            |dir, port| {
                let cfg_path = dir.file("alertmanager.yml", &cfg);
                vec![
                    format!("--config.file={}", cfg_path.display()),
                    format!("--storage.path={}", dir.0.join("data").display()),
                    format!("--web.listen-address=127.0.0.1:{port}"),
                    "--cluster.listen-address=".into(),
                ]
            },
            "/-/ready",
        )
        .await?;
        Some(Self(service))
    }

    /// The alerts Alertmanager holds (active, silenced and inhibited).
    async fn alerts(&self) -> Vec<Value> {
        let body = get(&format!("{}/api/v2/alerts", self.0.base)).await.1;
        serde_json::from_str::<Value>(&body)
            .ok()
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_credentials_page_once_through_alertmanager_and_the_listing_alert_is_inhibited() {
    let api = fake_with(vec![fake::FakeServer::stale("s1")]).await;
    api.with(|w| w.tokens.clear());
    let d = Daemon::start(&api, Duration::from_secs(1)).await;
    let (hook, inbox) = webhook().await;
    let Some(am) = Alertmanager::start(&hook).await else {
        return;
    };
    // The shipped rules, with every `for:` cut to 0 s so that the test does not wait minutes.
    let rules = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/dashboards/alerts.yaml"
    ))
    .expect("rule file");
    let fast: String = rules
        .lines()
        .map(|l| match l.trim_start().strip_prefix("for: ") {
            Some(_) => format!("{}for: 0s\n", &l[..l.len() - l.trim_start().len()]),
            None => format!("{l}\n"),
        })
        .collect();
    let dir = TempDir::new("rules");
    let rules_path = dir.file("alerts.yaml", &fast);
    let am_addr = am.0.base.trim_start_matches("http://");
    let alerting = format!(
        "alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['{am_addr}']\n"
    );
    let target = d.base.trim_start_matches("http://").to_owned();
    let Some(_prom) = Prometheus::start_with(
        &target,
        &[rules_path.to_str().expect("utf-8 path")],
        &alerting,
    )
    .await
    else {
        return;
    };

    let paged = eventually(Duration::from_secs(90), || async {
        !firing(&inbox, "McpSyncCredentialsRejected").is_empty()
    })
    .await;
    assert!(
        paged,
        "no page for refused credentials: {:?}",
        inbox.lock().map(|v| v.clone())
    );

    // The same cause also makes the listing alert fire; Alertmanager holds it, inhibited.
    let inhibited = eventually(Duration::from_secs(60), || async {
        am.alerts().await.iter().any(|a| {
            a["labels"]["alertname"] == "McpSyncListingFailing"
                && a["status"]["state"] == "suppressed"
                && a["status"]["inhibitedBy"]
                    .as_array()
                    .is_some_and(|i| !i.is_empty())
        })
    })
    .await;
    assert!(
        inhibited,
        "McpSyncListingFailing never reached Alertmanager inhibited: {:#?}",
        am.alerts().await
    );

    // Several group intervals (1 s each) later: still exactly one page and nothing else.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let pages = firing(&inbox, "McpSyncCredentialsRejected");
    assert_eq!(pages.len(), 1, "one cause, one page: {pages:#?}");
    let (receiver, alert) = &pages[0];
    assert_eq!(receiver, "/pager");
    assert_eq!(alert["labels"]["severity"], "critical");
    assert_eq!(alert["labels"]["account_id"], fake::ACCOUNT);
    assert_eq!(alert["labels"]["job"], "mcp-sync-monitor");
    assert!(
        alert["annotations"]["runbook_url"]
            .as_str()
            .is_some_and(|u| u.ends_with("#mcpsynccredentialsrejected")),
        "{alert:#}"
    );
    assert!(firing(&inbox, "McpSyncListingFailing").is_empty());
    let others: Vec<String> = inbox
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .flat_map(|(_, n)| n["alerts"].as_array().cloned().unwrap_or_default())
        .filter_map(|a| a["labels"]["alertname"].as_str().map(str::to_owned))
        .filter(|n| n != "McpSyncCredentialsRejected")
        .collect();
    assert!(
        others.is_empty(),
        "only the page was delivered, got {others:?}"
    );

    // The link in the page works: the daemon serves that runbook section.
    let (status, page, _) = get(&format!("{}/runbook", d.base)).await;
    assert_eq!(status, 200);
    assert!(page.contains("id=\"mcpsynccredentialsrejected\""));
    d.stop().await;
}
