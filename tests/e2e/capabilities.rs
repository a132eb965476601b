//! Capability change detection: a server's tool definitions changing between two listings is
//! counted once per change, named in the log; reordering is no change; the first sighting (a
//! restart, a re-created server) is a baseline.

use std::time::Duration;

use mcp_sync_monitor::fake::{self, FakeApi, FakeServer};
use mcp_sync_monitor::testing::scheduler::Scheduler;
use mcp_sync_monitor::testing::shutdown::Shutdown;
use mcp_sync_monitor::testing::state::State;

use crate::common::*;

const TOOLS: &str = r#"[{"name":"search","description":"Search","input_schema":{"type":"object","properties":{"q":{"type":"string"}}}},{"name":"fetch","input_schema":{"type":"object"}}]"#;

fn changes(state: &State, id: &str) -> (u64, bool) {
    let snap = state.read();
    let s = &snap.accounts[fake::ACCOUNT].servers[id];
    (s.capability_changes, s.capabilities_changed_at.is_some())
}

async fn cycle(s: &Scheduler) {
    s.cycle(fake::ACCOUNT, &Shutdown::new()).await;
}

fn set_tools(api: &FakeApi, id: &str, json: &str) {
    api.with(|w| {
        if let Some(s) = w.server(id) {
            s.set_tools(json);
        }
    });
}

#[tokio::test]
async fn a_changed_schema_and_an_added_and_removed_tool_are_each_one_change() {
    let api = fake_with(vec![
        FakeServer::fresh("mcp").with_tools(TOOLS),
        FakeServer::fresh("other").with_tools(TOOLS),
    ])
    .await;
    let (s, state) = scheduler(test_config(&api));
    cycle(&s).await;
    assert_eq!(
        changes(&state, "mcp"),
        (0, false),
        "the first sighting is a baseline"
    );

    // search's input schema changes.
    set_tools(
        &api,
        "mcp",
        &TOOLS.replace(
            r#"{"q":{"type":"string"}}"#,
            r#"{"q":{"type":"string"},"cmd":{"type":"string"}}"#,
        ),
    );
    cycle(&s).await;
    assert_eq!(changes(&state, "mcp"), (1, true));
    cycle(&s).await;
    assert_eq!(changes(&state, "mcp").0, 1, "nothing new: no second change");

    // One tool added and one removed in the same listing: one change.
    set_tools(
        &api,
        "mcp",
        r#"[{"name":"search","description":"Search"},{"name":"exec","input_schema":{}}]"#,
    );
    cycle(&s).await;
    assert_eq!(changes(&state, "mcp").0, 2);
    assert_eq!(
        changes(&state, "other"),
        (0, false),
        "the other server is untouched"
    );
    let m = mcp_sync_monitor::testing::metrics::render(
        &state,
        None,
        mcp_sync_monitor::testing::metrics::Format::Text,
    );
    assert_eq!(
        sample(
            &m,
            &format!(
                "cloudflare_mcp_server_capability_changes_total{{account_id=\"{}\",server_id=\"mcp\"}}",
                fake::ACCOUNT
            )
        ),
        Some(2.0),
        "{m}"
    );
    assert!(m.contains("cloudflare_mcp_server_capabilities_changed_timestamp_seconds{account_id=\"023e105f4ecef8ad9ca31a8372d0c353\",server_id=\"mcp\"}"));
    assert!(!m.contains("cloudflare_mcp_server_capabilities_changed_timestamp_seconds{account_id=\"023e105f4ecef8ad9ca31a8372d0c353\",server_id=\"other\"}"), "absent until it has changed");
}

#[tokio::test]
async fn reordered_tools_and_keys_are_no_change_and_a_restart_or_a_recreated_server_is_a_baseline()
{
    let api = fake_with(vec![FakeServer::fresh("mcp").with_tools(TOOLS)]).await;
    let (s, state) = scheduler(test_config(&api));
    cycle(&s).await;
    let reordered = r#"[ {"input_schema":{"type":"object"},"name":"fetch"},
        {"input_schema":{"properties":{"q":{"type":"string"}},"type":"object"},"description":"Search","name":"search"} ]"#;
    set_tools(&api, "mcp", reordered);
    cycle(&s).await;
    assert_eq!(
        changes(&state, "mcp").0,
        0,
        "reordered tools and keys are the same tools"
    );

    // A restart: a new daemon sees the changed tools for the first time.
    set_tools(&api, "mcp", r#"[{"name":"other"}]"#);
    let (s2, state2) = scheduler(test_config(&api));
    cycle(&s2).await;
    assert_eq!(
        changes(&state2, "mcp").0,
        0,
        "after a restart the first listing is a baseline"
    );

    // Deleted, then re-created with other tools: a baseline again.
    let server = api.with(|w| {
        let servers = w.servers();
        let i = servers.iter().position(|s| s.id == "mcp").expect("there");
        servers.remove(i)
    });
    cycle(&s2).await;
    api.with(|w| {
        w.servers()
            .push(server.with_tools(r#"[{"name":"brand-new"}]"#))
    });
    cycle(&s2).await;
    assert_eq!(
        changes(&state2, "mcp").0,
        0,
        "a re-created server starts from a baseline"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_logs_one_line_per_change_naming_the_tools() {
    let api = fake_with(vec![FakeServer::fresh("mcp").with_tools(TOOLS)]).await;
    let dir = TempDir::new("caps");
    let log = std::fs::File::create(dir.0.join("log")).expect("log");
    let port = free_port();
    let mut child = Child(
        bin()
            .envs(env_for(&api))
            .env("MCP_SYNC_INTERVAL", "200ms")
            .env("MCP_SYNC_LOG_FORMAT", "json")
            .env("RUST_LOG", "info")
            .args(["run", "--listen", &format!("127.0.0.1:{port}")])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::from(log))
            .spawn()
            .expect("daemon"),
    );
    let url = format!("http://127.0.0.1:{port}/metrics");
    let key = format!(
        "cloudflare_mcp_server_capability_changes_total{{account_id=\"{}\",server_id=\"mcp\"}}",
        fake::ACCOUNT
    );
    assert!(
        eventually(Duration::from_secs(20), || async {
            sample(&get(&url).await.1, &key) == Some(0.0)
        })
        .await,
        "the baseline listing"
    );
    set_tools(
        &api,
        "mcp",
        r#"[{"name":"search","description":"Search \u001b[2J everything"},{"name":"exec"}]"#,
    );
    assert!(
        eventually(Duration::from_secs(20), || async {
            sample(&get(&url).await.1, &key) == Some(1.0)
        })
        .await,
        "the change is counted"
    );
    child.signal("TERM");
    assert_eq!(child.wait_exit(Duration::from_secs(10)).await, Some(0));
    let text = std::fs::read_to_string(dir.0.join("log")).expect("log");
    let lines: Vec<serde_json::Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|l: &serde_json::Value| {
            l["message"] == "the server's tool or prompt definitions changed"
        })
        .collect();
    assert_eq!(lines.len(), 1, "one line per change: {text}");
    let l = &lines[0];
    assert_eq!(l["server_id"], "mcp");
    assert_eq!(l["added"], "tool:exec");
    assert_eq!(l["removed"], "tool:fetch");
    assert_eq!(l["changed"], "tool:search");
    assert!(!text.contains('\u{1b}'), "API text is escaped");
}
