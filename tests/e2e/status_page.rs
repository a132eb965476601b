//! The status page and its JSON twin, over real HTTP against the simulated API: worst first,
//! filters, the limit, Cloudflare's cause shown, each blocked reason shown, hostile names
//! rendered as text (checked in a real headless Chromium), and `once --output json` saying the
//! same as `/api/v1/servers`.

use std::time::Duration;

use mcp_sync_monitor::fake::{self, FakeApi, FakeServer, SyncBehavior};
use mcp_sync_monitor::testing::shutdown::Shutdown;
use serde_json::Value;

use crate::common::*;
use crate::http_metrics::Daemon;

const INJECTION: &str =
    "<img src=x onerror=\"document.title='pwned'\"><script>document.title='pwned'</script>";

/// A fresh server, one failing with a cause, a manual-OAuth one, one needing sign-in, one
/// that failed in the first cycle (backed off in the second), and one named with HTML.
fn fleet() -> Vec<FakeServer> {
    vec![
        FakeServer::fresh("fresh"),
        FakeServer::stale("backed-off").behaving(SyncBehavior::Permanent),
        FakeServer::manual_oauth("manual"),
        FakeServer::needs_sign_in("sign-in"),
        FakeServer::fresh("hostile").named(INJECTION),
    ]
}

/// The daemon after two cycles: `backed-off` failed in the first and is backed off in the
/// second, where `failing` (added between them) fails with Cloudflare's cause.
async fn two_cycles() -> (FakeApi, Daemon) {
    let api = fake_with(fleet()).await;
    let d = Daemon::start(&api, Duration::from_secs(3600)).await;
    d.wait_for("the first cycle", crate::http_metrics::first_cycle_done)
        .await;
    api.with(|w| {
        w.servers()
            .push(FakeServer::stale("failing").behaving(SyncBehavior::Permanent))
    });
    if let Some(r) = d.running.as_ref() {
        r.scheduler.cycle(fake::ACCOUNT, &Shutdown::new()).await;
    }
    (api, d)
}

async fn json(url: &str) -> Value {
    let (code, body, _) = get(url).await;
    assert_eq!(code, 200, "{body}");
    serde_json::from_str(&body).expect("JSON")
}

fn ids(v: &Value) -> Vec<String> {
    v["servers"]
        .as_array()
        .expect("servers")
        .iter()
        .map(|r| r["id"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn row<'a>(v: &'a Value, id: &str) -> &'a Value {
    v["servers"]
        .as_array()
        .and_then(|a| a.iter().find(|r| r["id"] == id))
        .expect("a row")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_json_twin_lists_every_server_worst_first_with_its_filters() {
    let (api, d) = two_cycles().await;
    let all = json(&format!("{}/api/v1/servers", d.base)).await;
    assert_eq!(
        ids(&all),
        [
            "backed-off",
            "failing",
            "manual",
            "sign-in",
            "fresh",
            "hostile"
        ]
    );
    let failing = row(&all, "failing");
    assert_eq!(failing["health"], "failing");
    assert_eq!(failing["last_sync"]["outcome"], "failed");
    assert!(
        failing["error"]
            .as_str()
            .is_some_and(|e| e.contains("invalid response")),
        "Cloudflare's cause: {failing}"
    );
    assert_eq!(row(&all, "backed-off")["next"]["action"], "backed_off");
    assert!(row(&all, "backed-off")["next"]["at"].is_string());
    assert_eq!(row(&all, "manual")["blocked_reason"], "manual_oauth");
    assert_eq!(row(&all, "sign-in")["blocked_reason"], "sign_in_required");
    assert!(row(&all, "fresh")["blocked_reason"].is_null());
    assert_eq!(
        row(&all, "hostile")["name"],
        INJECTION,
        "JSON carries the text as text"
    );
    for r in all["servers"].as_array().expect("rows") {
        for t in [
            &r["last_successful_sync"],
            &r["last_sync"]["at"],
            &r["next"]["at"],
        ] {
            if let Some(t) = t.as_str() {
                assert!(humantime::parse_rfc3339(t).is_ok(), "RFC 3339: {t}");
            }
        }
    }
    let acc = &all["accounts"][0];
    assert_eq!(
        (acc["listing"].as_str(), acc["servers"].as_u64()),
        (Some("up"), Some(6))
    );
    assert_eq!(
        acc["blocked"],
        serde_json::json!([["manual_oauth", 1], ["sign_in_required", 1]])
    );

    let base = format!("{}/api/v1/servers", d.base);
    let problems = json(&format!("{base}?problems=1")).await;
    assert_eq!(
        ids(&problems),
        ["backed-off", "failing", "manual", "sign-in"]
    );
    assert_eq!(ids(&json(&format!("{base}?q=SIGN")).await), ["sign-in"]);
    let limited = json(&format!("{base}?limit=2")).await;
    assert_eq!(
        (ids(&limited).len(), limited["omitted"].as_u64()),
        (2, Some(4))
    );
    assert!(ids(&json(&format!("{base}?account=nope")).await).is_empty());
    assert_eq!(get(&format!("{base}?limit=lots")).await.0, 400);
    let before = api.requests().len();
    json(&base).await;
    assert_eq!(api.requests().len(), before, "a view never calls the API");
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_renders_the_page_worst_first_and_the_hostile_name_as_text() {
    if chromium().is_none() {
        return;
    }
    let (_api, d) = two_cycles().await;
    let (code, body, _) = get(&format!("{}/", d.base)).await;
    assert_eq!(code, 200);
    let headers = reqwest::get(format!("{}/", d.base)).await.expect("page");
    let csp = headers
        .headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(csp.contains("script-src 'none'"), "{csp}");
    assert_eq!(
        headers
            .headers()
            .get("x-content-type-options")
            .and_then(|v| v.to_str().ok()),
        Some("nosniff")
    );
    drop(body);
    let dom = chromium_dom(&format!("{}/", d.base))
        .await
        .expect("chromium");
    assert!(
        dom.contains("<table id=\"servers\""),
        "the page rendered: {dom}"
    );
    let order: Vec<&str> = dom
        .split("data-id=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .collect();
    assert_eq!(
        order,
        [
            "backed-off",
            "failing",
            "manual",
            "sign-in",
            "fresh",
            "hostile"
        ],
        "worst first (failing ones by their streak, then id)"
    );
    assert!(
        dom.contains("invalid response"),
        "Cloudflare's cause is shown"
    );
    assert!(
        dom.contains("manual OAuth: a user must re-authorize"),
        "{dom}"
    );
    assert!(dom.contains("sign-in required: an administrator must re-authenticate"));
    assert!(dom.contains("backed off after 1 failed syncs in a row"));
    assert!(!dom.contains("<img"), "the hostile name made no element");
    assert!(!dom.contains("<script"), "and no script");
    assert!(
        dom.contains("<title>mcp-sync-monitor</title>"),
        "no script ran (it would have changed the title): {dom}"
    );
    assert!(dom.contains("&lt;img src=x"), "it shows as text");
    d.stop().await;
}

/// Headless Chromium, when installed (the test command installs it; skipping is allowed as
/// for the other external tools).
pub(crate) fn chromium() -> Option<std::path::PathBuf> {
    ["chromium", "chromium-browser"]
        .iter()
        .find_map(|c| which(c))
        .or_else(|| external_tool("chromium"))
}

/// The DOM headless Chromium builds from the page at `url`; `None` without Chromium.
pub(crate) async fn chromium_dom(url: &str) -> Option<String> {
    let chromium = chromium()?;
    let url = url.to_owned();
    let dom = tokio::task::spawn_blocking(move || {
        let out = std::process::Command::new(chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--virtual-time-budget=2000",
                "--dump-dom",
                &url,
            ])
            .output()
            .expect("chromium runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    })
    .await
    .expect("join");
    Some(dom)
}

fn which(name: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_prints_the_same_rows_as_the_json_twin_worst_first() {
    let api = fake_with(fleet()).await;
    api.with(|w| w.sync_answer_timestamps = true);
    let twin = fake_with(fleet()).await;
    twin.with(|w| w.sync_answer_timestamps = true);
    let d = Daemon::start(&twin, Duration::from_secs(3600)).await;
    d.wait_for("the first cycle", crate::http_metrics::first_cycle_done)
        .await;
    let served = json(&format!("{}/api/v1/servers", d.base)).await;
    d.stop().await;

    let env = env_for(&api);
    let out = tokio::task::spawn_blocking(move || {
        bin()
            .envs(env)
            .args(["once", "--output", "json"])
            .output()
            .expect("runs")
    })
    .await
    .expect("join");
    assert_eq!(out.status.code(), Some(1), "a failing server: exit 1");
    let printed: Value = serde_json::from_slice(&out.stdout).expect("once prints JSON");
    // The same rows, times aside (two runs, two clocks; `once` plans no next cycle).
    let strip = |v: &Value| {
        let mut v = v.clone();
        for r in v["servers"].as_array_mut().into_iter().flatten() {
            for k in ["last_successful_sync", "capabilities_changed_at"] {
                r[k] = Value::Null;
            }
            r["last_sync"]["at"] = Value::Null;
            r["next"]["at"] = Value::Null;
        }
        for a in v["accounts"].as_array_mut().into_iter().flatten() {
            a["last_complete_listing"] = Value::Null;
            a["next_cycle"] = Value::Null;
            a["ratelimit_remaining"] = Value::Null;
        }
        v
    };
    assert_eq!(strip(&printed), strip(&served));
    assert_eq!(ids(&printed)[0], "backed-off", "worst first");

    let env = env_for(&api);
    let table = tokio::task::spawn_blocking(move || bin().envs(env).arg("once").output())
        .await
        .expect("join")
        .expect("runs");
    let text = String::from_utf8_lossy(&table.stdout);
    let at = |id: &str| text.find(&format!("  {id} ")).unwrap_or(usize::MAX);
    assert!(
        at("backed-off") < at("manual") && at("manual") < at("fresh"),
        "{text}"
    );
    assert!(text
        .trim_end()
        .lines()
        .last()
        .is_some_and(|l| l.starts_with("account ")));
}
