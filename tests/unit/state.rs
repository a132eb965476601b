//! Unit tests of the state.
use super::*;

fn info(id: &str, stale: bool) -> ServerInfo {
    ServerInfo {
        id: id.into(),
        stale,
        ..ServerInfo::default()
    }
}

fn listing(servers: &[(&str, bool)]) -> Vec<(ServerInfo, Action)> {
    servers
        .iter()
        .map(|(id, stale)| (info(id, *stale), Action::None))
        .collect()
}

fn answered(outcome: Outcome, lss: Option<SystemTime>, stale: Option<bool>) -> SyncRecord {
    SyncRecord::Answered {
        outcome,
        status: Some("ready".into()),
        last_successful_sync: lss,
        last_synced: lss,
        stale,
        consecutive_failures: u32::from(outcome == Outcome::NoEffect),
    }
}

fn sync(record: SyncRecord, at: SystemTime) -> ServerRecord {
    ServerRecord::Sync {
        attempts: 1,
        record,
        at,
    }
}

#[test]
fn a_complete_listing_removes_absent_servers_and_keeps_counters_of_the_rest() {
    let now = SystemTime::now();
    let mut v = AccountView::default().relisted(listing(&[("x", true), ("y", false)]), now);
    v.apply("x", sync(answered(Outcome::Pending, None, None), now));
    let v = v.relisted(listing(&[("x", false)]), now);
    assert_eq!(v.servers.len(), 1);
    assert_eq!(v.servers["x"].syncs_total, 1);
    assert_eq!(v.up, Some(true));
}

#[test]
fn a_failed_listing_keeps_the_snapshot() {
    let v = AccountView::default().relisted(listing(&[("x", true)]), SystemTime::now());
    let failed = v.listing_failed(Some((false, "boom".into())));
    assert_eq!(failed.servers.len(), 1);
    assert_eq!(failed.up, Some(false));
    assert_eq!(failed.last_error.as_deref(), Some("boom"));
    let interrupted = v.listing_failed(None);
    assert_eq!(
        interrupted.up,
        Some(true),
        "shutdown is not a failed listing"
    );
}

#[test]
fn runaway_values_are_cut() {
    assert_eq!(bounded(Some("abc".into()), 3), "abc");
    assert_eq!(bounded(Some("abcd".into()), 3), "ab…");
    assert_eq!(bounded(None, 3), "");
    assert_eq!(bounded(Some("é".repeat(1000)), 350).chars().count(), 350);
    assert_eq!(bounded_text(Some(String::new()), 3), None);
}

#[test]
fn histogram_buckets_observations() {
    let mut h = Histogram::new(&[1.0, 2.0]);
    h.observe(0.5);
    h.observe(1.5);
    h.observe(9.0);
    assert_eq!(h.counts, vec![1, 1]);
    assert_eq!(h.count, 3);
    assert_eq!(h.sum, 11.0);
}

#[test]
fn a_sync_answer_never_writes_the_daemons_clock_into_cloudflares_fields() {
    let listed_at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let mut x = info("x", true);
    x.last_successful_sync = Some(listed_at);
    x.last_synced = Some(listed_at);
    let mut v = AccountView::default().relisted(vec![(x, Action::Synced)], SystemTime::now());
    let sent = SystemTime::now();
    v.apply("x", sync(answered(Outcome::Pending, None, None), sent));
    {
        let s = &v.servers["x"];
        assert_eq!(s.info.last_successful_sync, Some(listed_at));
        assert_eq!(s.info.last_synced, Some(listed_at));
        assert!(s.info.stale, "stale until Cloudflare says otherwise");
        let last = s.last_sync.as_ref().expect("recorded");
        assert_eq!((last.at, last.outcome), (sent, Outcome::Pending));
        assert_eq!(s.failures_total, 0);
    }
    let judged = SyncRecord::Judged {
        outcome: Outcome::NoEffect,
        consecutive_failures: 1,
    };
    v.apply(
        "x",
        ServerRecord::Sync {
            attempts: 0,
            record: judged,
            at: SystemTime::UNIX_EPOCH,
        },
    );
    let s = &v.servers["x"];
    let last = s.last_sync.as_ref().expect("recorded");
    assert_eq!((last.at, last.outcome), (sent, Outcome::NoEffect));
    assert_eq!(last.error.as_deref(), Some(NO_EFFECT));
    assert_eq!((s.failures_total, s.consecutive_failures), (1, 1));
    assert_eq!(s.last_attempts, 1, "a judgement is not an attempt");
}

#[test]
fn a_sync_answer_that_carries_the_timestamp_is_exported_as_sent() {
    let mut v = AccountView::default().relisted(listing(&[("x", true)]), SystemTime::now());
    let cloudflare = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let record = answered(Outcome::Success, Some(cloudflare), Some(false));
    v.apply("x", sync(record, SystemTime::now()));
    let s = &v.servers["x"];
    assert_eq!(s.info.last_successful_sync, Some(cloudflare));
    assert!(!s.info.stale);
    assert_eq!(
        s.last_sync.as_ref().map(|l| l.outcome),
        Some(Outcome::Success)
    );
}

#[test]
fn a_view_is_published_whole_and_a_reader_keeps_the_one_it_took() {
    let st = State::new(["a", "b"]);
    assert_eq!(st.version(), 0);
    let before = st.read();
    let v = AccountView::default().relisted(listing(&[("x", true)]), SystemTime::now());
    st.publish("a", v);
    assert_eq!(st.version(), 1, "one publication, one version");
    assert!(
        before.accounts["a"].servers.is_empty(),
        "the reader's view is unchanged"
    );
    assert_eq!(st.read().accounts["a"].servers.len(), 1);
    assert!(!st.ready(), "b has not listed yet");
    st.record_request(
        "a",
        Endpoint::Sync,
        Some(200),
        Duration::from_millis(5),
        None,
    );
    assert_eq!(
        st.version(),
        1,
        "a request does not change the published views"
    );
    let counts = &st.read().requests.accounts["a"];
    assert_eq!(counts.by_code[&(Endpoint::Sync, Some(200))], 1);
    st.publish("unknown", AccountView::default());
    assert_eq!(st.version(), 1, "only configured accounts are published");
}
