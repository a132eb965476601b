//! Unit tests of the state.
use super::*;
use crate::cloudflare::Server;

fn listed(id: &str, stale: bool) -> Listed {
    Listed::new(
        Server {
            id: id.into(),
            ..Server::default()
        },
        stale,
    )
}

#[test]
fn a_complete_listing_removes_absent_servers_and_keeps_counters_of_the_rest() {
    let st = State::new(["a"]);
    st.listing_complete(
        "a",
        vec![listed("x", true), listed("y", false)],
        SystemTime::now(),
    );
    st.record_sync(
        "a",
        "x",
        1,
        SyncRecord::Answered {
            outcome: Outcome::Pending,
            status: None,
            last_successful_sync: None,
            last_synced: None,
            stale: None,
            consecutive_failures: 0,
        },
        SystemTime::now(),
    );
    st.listing_complete("a", vec![listed("x", false)], SystemTime::now());
    let r = st.read();
    let a = &r.accounts["a"];
    assert_eq!(a.servers.len(), 1);
    assert_eq!(a.servers["x"].syncs_total, 1);
}

#[test]
fn a_failed_listing_keeps_the_snapshot() {
    let st = State::new(["a"]);
    st.listing_complete("a", vec![listed("x", true)], SystemTime::now());
    st.listing_failed("a", false, "boom".into());
    let r = st.read();
    assert_eq!(r.accounts["a"].servers.len(), 1);
    assert_eq!(r.accounts["a"].up, Some(false));
}

#[test]
fn runaway_values_are_cut() {
    assert_eq!(bounded(Some("abc".into()), 3), "abc");
    assert_eq!(bounded(Some("abcd".into()), 3), "ab…");
    assert_eq!(bounded(None, 3), "");
    assert_eq!(bounded(Some("é".repeat(1000)), 350).chars().count(), 350);
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

#[test]
fn a_sync_answer_never_writes_the_daemons_clock_into_cloudflares_fields() {
    let st = State::new(["a"]);
    let listed_at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let mut l = listed("x", true);
    l.last_successful_sync = Some(listed_at);
    l.last_synced = Some(listed_at);
    st.listing_complete("a", vec![l], SystemTime::now());
    let sent = SystemTime::now();
    st.record_sync("a", "x", 1, answered(Outcome::Pending, None, None), sent);
    {
        let r = st.read();
        let s = &r.accounts["a"].servers["x"];
        assert_eq!(s.info.last_successful_sync, Some(listed_at));
        assert_eq!(s.info.last_synced, Some(listed_at));
        assert!(s.info.stale, "stale until Cloudflare says otherwise");
        let last = s.last_sync.as_ref().expect("recorded");
        assert_eq!((last.at, last.outcome), (sent, Outcome::Pending));
        assert_eq!(s.failures_total, 0);
    }
    st.record_sync(
        "a",
        "x",
        0,
        SyncRecord::Judged {
            outcome: Outcome::NoEffect,
            consecutive_failures: 1,
        },
        SystemTime::UNIX_EPOCH,
    );
    let r = st.read();
    let s = &r.accounts["a"].servers["x"];
    let last = s.last_sync.as_ref().expect("recorded");
    assert_eq!((last.at, last.outcome), (sent, Outcome::NoEffect));
    assert_eq!(last.error.as_deref(), Some(NO_EFFECT));
    assert_eq!((s.failures_total, s.consecutive_failures), (1, 1));
    assert_eq!(s.last_attempts, 1, "a judgement is not an attempt");
}

#[test]
fn a_sync_answer_that_carries_the_timestamp_is_exported_as_sent() {
    let st = State::new(["a"]);
    st.listing_complete("a", vec![listed("x", true)], SystemTime::now());
    let cloudflare = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    st.record_sync(
        "a",
        "x",
        1,
        answered(Outcome::Success, Some(cloudflare), Some(false)),
        SystemTime::now(),
    );
    let r = st.read();
    let s = &r.accounts["a"].servers["x"];
    assert_eq!(s.info.last_successful_sync, Some(cloudflare));
    assert!(!s.info.stale);
    assert_eq!(
        s.last_sync.as_ref().map(|l| l.outcome),
        Some(Outcome::Success)
    );
}
