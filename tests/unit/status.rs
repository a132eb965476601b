//! The rows: order, filters, limit, next actions, escaping.
use std::time::{Duration, SystemTime};

use super::*;
use crate::state::LastSync;
use crate::state::{AccountView, ServerInfo, State};

fn server(id: &str, name: &str) -> ServerInfo {
    ServerInfo {
        id: id.into(),
        name: name.into(),
        hostname: format!("https://{id}.example.com/mcp").into(),
        last_successful_sync: Some(SystemTime::now() - Duration::from_secs(600)),
        ..ServerInfo::default()
    }
}

/// An account of one server of each kind, published; returns the state.
fn fleet() -> State {
    let st = State::new(["acc"]);
    let now = SystemTime::now();
    let mut stale = server("stale", "b");
    stale.stale = true;
    let mut manual = server("manual", "c");
    manual.stale = true;
    manual.authentication_status = Some("manual".into());
    let mut broken = server("broken", "d");
    broken.stale = true;
    broken.error = true;
    broken.error_cause = Some("upstream said no".into());
    let listing = vec![
        (server("fresh", "a"), Action::None),
        (stale, Action::Synced),
        (manual, Action::Blocked(BlockReason::ManualOauth)),
        (broken, Action::BackedOff),
        (server("evil", "<img src=x onerror=alert(1)>"), Action::None),
    ];
    let mut view = AccountView::default().relisted(listing, now);
    if let Some(b) = view.servers.get_mut("broken") {
        b.consecutive_failures = 2;
        b.backoff_until = Some(now + Duration::from_secs(600));
        b.last_sync = Some(LastSync {
            at: now,
            outcome: Outcome::Failed,
            error: Some("upstream said no".into()),
        });
    }
    view.next_cycle = Some(now + Duration::from_secs(60));
    st.publish("acc", view);
    st
}

fn ids(s: &Status) -> Vec<&str> {
    s.servers.iter().map(|r| r.id.as_str()).collect()
}

#[test]
fn rows_come_worst_first() {
    let s = status(&fleet().read(), &Filter::default(), SystemTime::now());
    assert_eq!(ids(&s), ["broken", "manual", "stale", "evil", "fresh"]);
    let health: Vec<Health> = s.servers.iter().map(|r| r.health).collect();
    assert_eq!(
        health,
        [
            Health::Failing,
            Health::NeedsPerson,
            Health::Stale,
            Health::Fresh,
            Health::Fresh
        ]
    );
    assert_eq!(
        s.accounts[0].blocked,
        [("manual_oauth", 1), ("sign_in_required", 0)]
    );
    assert_eq!((s.accounts[0].stale, s.accounts[0].failing), (3, 1));
}

#[test]
fn each_row_says_what_happens_next_and_why() {
    let s = status(&fleet().read(), &Filter::default(), SystemTime::now());
    let next = |id: &str| {
        let r = s.servers.iter().find(|r| r.id == id).expect("row");
        (r.next.action, r.next.at.is_some())
    };
    assert_eq!(next("broken"), ("backed_off", true));
    assert_eq!(next("manual"), ("blocked", false));
    assert_eq!(next("stale"), ("sync", true));
    assert_eq!(next("fresh"), ("none", false));
    let broken = &s.servers[0];
    assert_eq!(broken.error.as_deref(), Some("upstream said no"));
    assert_eq!(broken.blocked_reason, None);
    assert_eq!(s.servers[1].blocked_reason, Some("manual_oauth"));
}

#[test]
fn filters_and_the_limit_select_rows_and_count_what_was_left_out() {
    let snap = fleet().read();
    let now = SystemTime::now();
    let problems = Filter {
        problems: true,
        ..Filter::default()
    };
    assert_eq!(
        ids(&status(&snap, &problems, now)),
        ["broken", "manual", "stale"]
    );
    let q = Filter {
        q: Some("STALE.example".into()),
        ..Filter::default()
    };
    assert_eq!(
        ids(&status(&snap, &q, now)),
        ["stale"],
        "hostname, any case"
    );
    let by_name = Filter {
        q: Some("onerror".into()),
        ..Filter::default()
    };
    assert_eq!(ids(&status(&snap, &by_name, now)), ["evil"]);
    let limit = Filter {
        limit: Some(2),
        ..Filter::default()
    };
    let s = status(&snap, &limit, now);
    assert_eq!((ids(&s), s.omitted), (vec!["broken", "manual"], 3));
    let other = Filter {
        account: Some("other".into()),
        ..Filter::default()
    };
    let s = status(&snap, &other, now);
    assert!(s.servers.is_empty() && s.accounts.is_empty());
}

#[test]
fn the_page_escapes_api_text_and_carries_the_nonce() {
    let now = SystemTime::now();
    let s = status(&fleet().read(), &Filter::default(), now);
    let page = html::page(&s, &Filter::default(), now, "n0nce");
    assert!(!page.contains("<img"), "{page}");
    assert!(page.contains("&lt;img src=x onerror=alert(1)&gt;"));
    assert!(page.contains("<style nonce=\"n0nce\">"));
    assert!(page.contains("upstream said no"));
    let hostile = Filter {
        q: Some("\"><script>x</script>".into()),
        ..Filter::default()
    };
    let page = html::page(&s, &hostile, now, "n");
    assert!(!page.contains("<script>"), "the search echoes escaped");
}

#[test]
fn json_times_are_rfc3339_and_absent_values_null() {
    let s = status(&fleet().read(), &Filter::default(), SystemTime::now());
    let v = serde_json::to_value(&s).expect("serializes");
    let fresh = v["servers"]
        .as_array()
        .and_then(|a| a.iter().find(|r| r["id"] == "fresh"))
        .expect("fresh");
    let t = fresh["last_successful_sync"].as_str().expect("a time");
    assert!(humantime::parse_rfc3339(t).is_ok(), "{t}");
    assert!(fresh["last_sync"].is_null());
    assert!(fresh["blocked_reason"].is_null());
    assert_eq!(v["accounts"][0]["listing"], "up");
}

#[test]
fn a_next_cycle_in_the_past_is_due_not_ago() {
    let now = SystemTime::now();
    let past = humantime::format_rfc3339(now - Duration::from_secs(3)).to_string();
    assert_eq!(html::next_cycle(Some(&past), now), "due now (or running)");
    let ahead = humantime::format_rfc3339(now + Duration::from_secs(90)).to_string();
    assert!(html::next_cycle(Some(&ahead), now).starts_with("in 1m"));
    assert_eq!(html::next_cycle(None, now), "—");
}

#[test]
fn hidden_and_control_characters_are_shown_and_markup_escaped() {
    let mut out = String::new();
    maud::Render::render_to(&html::Shown("a\u{202e}b\u{7}<i>\"&"), &mut out);
    assert_eq!(out, "a[U+202E]b\u{fffd}&lt;i&gt;&quot;&amp;");
}
