use super::*;
use crate::state::{AccountView, Action, ServerInfo, State};
use std::time::SystemTime;

#[test]
fn unknown_values_are_absent_and_removed_servers_leave() {
    let st = State::new(["acc"]);
    let text = render(&st, None, Format::Text);
    assert!(!text.contains("cloudflare_mcp_up{"), "{text}");
    assert!(!text.contains("cloudflare_mcp_servers{"), "{text}");
    let server = ServerInfo {
        id: "s1".into(),
        name: "One \"quoted\"".into(),
        stale: true,
        ..ServerInfo::default()
    };
    let now = SystemTime::now();
    let view = AccountView::default().relisted(vec![(server, Action::None)], now);
    st.publish("acc", view.clone());
    let text = render(&st, None, Format::Text);
    assert!(
        text.contains("cloudflare_mcp_servers{account_id=\"acc\"} 1"),
        "{text}"
    );
    assert!(text.contains("name=\"One \\\"quoted\\\"\""), "{text}");
    assert!(
        !text.contains("server_last_successful_sync_timestamp_seconds{"),
        "{text}"
    );
    assert!(!text.contains("server_tools{"), "{text}");
    st.publish("acc", view.relisted(vec![], now));
    assert!(!render(&st, None, Format::Text).contains("server_id=\"s1\""));
}

/// `prometheus-client` writes OpenMetrics HELP as it is given: a help text must be valid
/// unescaped (no `\\`, `"` or line break). Checked in a rendering with most families and
/// in the per-server tables whole.
#[test]
fn every_family_has_a_help_text_openmetrics_reads_unescaped() {
    use crate::state::{PinStatus, Settings};
    use crate::vocabulary::Endpoint;
    use std::time::Duration;
    let st = State::new(["acc"]);
    let now = SystemTime::now();
    let server = ServerInfo {
        id: "s1".into(),
        status: Some("ready".into()),
        authentication_status: Some("required".into()),
        last_successful_sync: Some(now),
        last_synced: Some(now),
        error_retryable: Some(true),
        tools: Some(1),
        prompts: Some(1),
        ..ServerInfo::default()
    };
    st.publish(
        "acc",
        AccountView::default().relisted(vec![(server, Action::None)], now),
    );
    st.record_request(
        "acc",
        Endpoint::Sync,
        Some(200),
        Duration::from_millis(3),
        None,
    );
    st.publish_pins(Some(PinStatus {
        ok: true,
        last_success: Some(now),
        definitions: 1,
        servers: 1,
    }));
    st.publish_settings(Settings {
        interval: Duration::from_secs(60),
        stale_after: Duration::from_secs(600),
        dry_run: false,
    });
    let web = WebStatus {
        ok: true,
        last_success: Some(now),
        handshake_failures: Some(Default::default()),
    };
    let om = render(&st, Some(web), Format::OpenMetrics);
    let mut helps: Vec<&str> = om.lines().filter(|l| l.starts_with("# HELP ")).collect();
    assert!(helps.len() >= 38, "{om}");
    helps.extend(servers::helps().map(|h| -> &str { h }));
    for help in helps {
        assert!(!help.contains(['\\', '"', '\n']), "{help}");
    }
}
