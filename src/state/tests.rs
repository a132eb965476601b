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
        SyncRecord::Success { status: None },
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
