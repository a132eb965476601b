//! Portals over real HTTP against the simulated API: membership and each member's health
//! as the server list says it (never the portal's copy), a failed portal listing that keeps
//! the last membership, a portal that leaves `/metrics` with the account, every page of a
//! walk whose API does not honour `per_page`, and a server cycle that is the same in calls
//! when portals are off.

use std::time::Duration;

use mcp_sync_monitor::fake::{self, FakePortal, FakeServer, Fault};
use mcp_sync_monitor::testing::cloudflare::Endpoint;
use mcp_sync_monitor::testing::shutdown::Shutdown;

use crate::common::*;
use crate::http_metrics::Daemon;

const ACC: &str = fake::ACCOUNT;

fn health(portal: &str, h: &str) -> String {
    format!("cloudflare_mcp_portal_servers{{account_id=\"{ACC}\",portal_id=\"{portal}\",health=\"{h}\"}}")
}

fn broken(id: &str) -> FakeServer {
    let mut s = FakeServer::fresh(id);
    s.status = "error".into();
    s.error = Some("upstream answered 500".into());
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn portals_show_membership_and_health_from_the_server_list_and_survive_a_failed_listing() {
    let api = fake_with(vec![
        FakeServer::fresh("ok"),
        broken("broken"),
        FakeServer::needs_sign_in("signin"),
    ])
    .await;
    api.with(|w| {
        let mut a = FakePortal::new("team-a", &["ok", "broken", "gone"]);
        // The portal's copy says every member is ready: the server list says otherwise.
        a.copy_status = Some("ready".into());
        a.members[2].1 = true;
        *w.portals() = vec![
            a,
            FakePortal::new("sales", &["signin"]),
            FakePortal::new("leaving", &["ok"]),
        ];
    });
    let d = Daemon::start_with(&api, |c| {
        c.interval = Duration::from_secs(1);
        c.portals_interval = Some(Duration::from_millis(300));
    })
    .await;
    let m = d
        .wait_for("portal health", |m| {
            sample(m, &health("team-a", "failing")) == Some(1.0)
                && sample(m, &health("sales", "blocked")) == Some(1.0)
        })
        .await;
    assert_eq!(sample(&m, &health("team-a", "fresh")), Some(1.0), "{m}");
    assert_eq!(sample(&m, &health("team-a", "missing")), Some(1.0), "{m}");
    assert_eq!(
        sample(&m, &health("team-a", "stale")),
        Some(0.0),
        "every health from 0: {m}"
    );
    assert_eq!(
        sample(
            &m,
            &format!("cloudflare_mcp_portals_up{{account_id=\"{ACC}\"}}")
        ),
        Some(1.0)
    );
    let member = format!("cloudflare_mcp_portal_server{{account_id=\"{ACC}\",portal_id=\"team-a\",server_id=\"gone\",default_disabled=\"true\",health=\"missing\"}}");
    assert_eq!(sample(&m, &member), Some(1.0), "{m}");
    assert!(m.contains("cloudflare_mcp_portal_info{account_id=\"023e105f4ecef8ad9ca31a8372d0c353\",portal_id=\"sales\",name=\"Portal sales\",hostname=\"sales.mcp.example.com\"} 1"), "{m}");
    assert!(api.count(Endpoint::Portals, None) >= 1);
    // The documented portal families, and no other, are exported.
    let table = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/metrics.md"))
        .expect("docs/metrics.md");
    let documented: std::collections::BTreeSet<&str> = table
        .lines()
        .filter_map(|l| {
            l.strip_prefix("| `cloudflare_mcp_portal")?
                .split('`')
                .next()
        })
        .collect();
    let exported: std::collections::BTreeSet<&str> = m
        .lines()
        .filter_map(|l| {
            l.strip_prefix("# TYPE cloudflare_mcp_portal")?
                .split(' ')
                .next()
        })
        .collect();
    assert_eq!(documented, exported, "docs/metrics.md vs /metrics");

    api.with(|w| w.fault = Some((Fault::ServerError, Some(Endpoint::Portals))));
    let m = d
        .wait_for("portals_up 0", |m| {
            sample(
                m,
                &format!("cloudflare_mcp_portals_up{{account_id=\"{ACC}\"}}"),
            ) == Some(0.0)
        })
        .await;
    assert_eq!(
        sample(&m, &health("team-a", "failing")),
        Some(1.0),
        "the last membership stays: {m}"
    );
    assert_eq!(
        sample(&m, &format!("cloudflare_mcp_up{{account_id=\"{ACC}\"}}")),
        Some(1.0),
        "a failed portal listing never fails the server cycle"
    );

    api.with(|w| {
        w.fault = None;
        w.portals().retain(|p| p.id != "leaving");
    });
    let m = d
        .wait_for("the portal that left", |m| {
            !m.contains("portal_id=\"leaving\"")
        })
        .await;
    assert_eq!(
        sample(
            &m,
            &format!("cloudflare_mcp_portals_up{{account_id=\"{ACC}\"}}")
        ),
        Some(1.0)
    );
    assert!(
        m.contains("cloudflare_mcp_api_requests_total{account_id=\"023e105f4ecef8ad9ca31a8372d0c353\",endpoint=\"portals\",code=\"200\"}"),
        "{m}"
    );
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_portal_page_is_walked_when_the_api_does_not_honour_per_page() {
    let api = fake_with(vec![FakeServer::fresh("s")]).await;
    api.with(|w| {
        *w.portals() = (0..250)
            .map(|i| FakePortal::new(&format!("p{i:03}"), &["s"]))
            .collect();
        w.result_info = false;
        w.page_size = Some(30);
    });
    let mut cfg = test_config(&api);
    cfg.portals_interval = Some(Duration::from_secs(600));
    let (s, state) = scheduler(cfg);
    s.run_once(&Shutdown::new()).await;
    let snap = state.read();
    let portals = &snap.portals[ACC];
    assert_eq!(portals.up, Some(true), "{:?}", portals.last_error);
    assert_eq!(portals.portals.len(), 250);
    let pages = api.count(Endpoint::Portals, None);
    assert!(
        (9..=10).contains(&pages),
        "250 portals in pages of 30 and an empty page: {pages}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_portals_off_the_cycle_makes_the_same_calls_and_none_to_portals() {
    let servers = || vec![FakeServer::fresh("a"), FakeServer::stale("b")];
    let mut calls = Vec::new();
    for on in [false, true] {
        let api = fake_with(servers()).await;
        api.with(|w| *w.portals() = vec![FakePortal::new("p", &["a", "b"])]);
        let mut cfg = test_config(&api);
        cfg.portals_interval = on.then_some(Duration::from_secs(600));
        let (s, _) = scheduler(cfg);
        s.run_once(&Shutdown::new()).await;
        let n = |e| api.count(e, None);
        calls.push((
            [n(Endpoint::List), n(Endpoint::Sync), n(Endpoint::Read)],
            n(Endpoint::Portals),
        ));
    }
    assert_eq!(
        calls[0].0, calls[1].0,
        "the server cycle's calls do not change"
    );
    assert_eq!(calls[0].1, 0, "no portal request when portals are off");
    assert!(calls[1].1 >= 1);
}

const INJECTION: &str = "<img src=x onerror=\"document.title='pwned'\">\u{202e}evil";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_page_shows_portals_worst_first_in_chromium_and_the_json_twin_agrees() {
    let api = fake_with(vec![FakeServer::fresh("ok"), broken("broken")]).await;
    api.with(|w| {
        let mut hostile = FakePortal::new("fine", &["ok"]);
        hostile.name = INJECTION.into();
        *w.portals() = vec![
            hostile,
            FakePortal::new("half", &["ok", "broken"]),
            FakePortal::new("dead", &["broken"]),
        ];
    });
    let d = Daemon::start_with(&api, |c| {
        c.interval = Duration::from_secs(3600);
        c.portals_interval = Some(Duration::from_secs(3600));
    })
    .await;
    d.wait_for("portal health", |m| {
        sample(m, &health("dead", "failing")) == Some(1.0)
    })
    .await;
    let (code, body, _) = get(&format!("{}/api/v1/portals?problems=1", d.base)).await;
    assert_eq!(code, 200);
    let v: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    let ids: Vec<&str> = v["portals"]
        .as_array()
        .expect("portals")
        .iter()
        .filter_map(|p| p["id"].as_str())
        .collect();
    assert_eq!(ids, ["dead", "half"], "worst first, problems only: {body}");
    assert_eq!(v["portals"][0]["state"], "unusable");
    assert_eq!(
        v["portals"][0]["worst"],
        serde_json::json!(["broken", "failing"])
    );
    let (_, all, _) = get(&format!("{}/api/v1/portals?limit=1", d.base)).await;
    let all: serde_json::Value = serde_json::from_str(&all).expect("JSON");
    assert_eq!(
        (
            all["portals"].as_array().map(Vec::len),
            all["omitted"].as_u64()
        ),
        (Some(1), Some(2))
    );
    let servers = get(&format!("{}/api/v1/servers", d.base)).await.1;
    assert!(
        servers.contains("\"portals\":[\"Portal half\",\"Portal dead\"]"),
        "{servers}"
    );

    let Some(dom) = crate::status_page::chromium_dom(&format!("{}/", d.base)).await else {
        d.stop().await;
        return;
    };
    let table = dom
        .split("<table id=\"portals\"")
        .nth(1)
        .and_then(|t| t.split("</table>").next())
        .unwrap_or_else(|| panic!("a portals table: {dom}"));
    let order: Vec<&str> = table
        .split("data-id=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .collect();
    assert_eq!(
        order,
        ["dead", "half", "fine"],
        "the unusable portal first: {table}"
    );
    assert!(
        dom.find("id=\"portals\"") < dom.find("id=\"servers\""),
        "above the servers"
    );
    assert!(
        !table.contains("<img"),
        "the hostile name made no element: {table}"
    );
    assert!(
        table.contains("&lt;img src=x") && table.contains("[U+202E]evil"),
        "{table}"
    );
    assert!(
        dom.contains("<title>mcp-sync-monitor</title>"),
        "no script ran"
    );
    d.stop().await;
}
