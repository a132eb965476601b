use super::*;

#[test]
fn failures_grow_the_backoff_and_a_success_resets_it() {
    let m = Memory::default();
    let t0 = Instant::now();
    let step = |n: u32| Duration::from_secs(u64::from(n) * 10);
    assert_eq!(m.failed("a", "s", t0, step), (1, Duration::from_secs(10)));
    assert_eq!(m.failed("a", "s", t0, step), (2, Duration::from_secs(20)));
    assert_eq!(
        m.get("a", "s").backoff_until,
        Some(t0 + Duration::from_secs(20))
    );
    assert_eq!(
        m.get("b", "s"),
        ServerMemory::default(),
        "accounts are apart"
    );
    m.succeeded("a", "s");
    assert_eq!(m.get("a", "s"), ServerMemory::default());
}

#[test]
fn the_ids_gone_since_the_last_complete_listing_are_the_vanished_ones() {
    let m = Memory::default();
    let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<HashSet<_>>();
    assert!(
        m.vanished("a", &ids(&["x"]), 20).is_empty(),
        "nothing known yet"
    );
    m.set_known("a", &ids(&["b", "", "a", "gone", "c\u{0}d", "also-gone"]));
    let mut gone = m.vanished("a", &ids(&["a", "b", "", "c\u{0}d", "new"]), 20);
    gone.sort();
    assert_eq!(gone, ["also-gone", "gone"]);
    assert_eq!(m.vanished("a", &ids(&[]), 2).len(), 2, "at most `max`");
    assert!(m.vanished("other", &ids(&[]), 20).is_empty());
}

#[test]
fn only_fingerprints_equal_to_the_remembered_ones_are_dropped() {
    use crate::definitions::Defs;
    let fp = |hash: u64| {
        let defs = Defs {
            items: vec![(Some("t".into()), hash)],
            ..Defs::default()
        };
        Capabilities::new(Some(&defs), None)
    };
    let m = Memory::default();
    let mut none = [Some(fp(1))];
    m.drop_unchanged_capabilities("a", none.iter_mut().map(|c| ("s", c)));
    assert!(none[0].is_some(), "nothing remembered yet");
    assert_eq!(m.capabilities_changed("a", "same", fp(1)), None);
    assert_eq!(m.capabilities_changed("a", "changed", fp(1)), None);
    let mut now = [Some(fp(1)), Some(fp(2)), Some(fp(1)), None];
    let ids = ["same", "changed", "new", "unknown"];
    m.drop_unchanged_capabilities("a", ids.into_iter().zip(now.iter_mut()));
    assert_eq!(now, [None, Some(fp(2)), Some(fp(1)), None]);
    let mut other = [Some(fp(1))];
    m.drop_unchanged_capabilities("b", other.iter_mut().map(|c| ("same", c)));
    assert!(other[0].is_some(), "accounts are apart");
}

#[test]
fn a_blocked_reason_is_reported_only_when_it_changes() {
    use crate::state::BlockReason::{ManualOauth, SignInRequired};
    let m = Memory::default();
    assert_eq!(m.set_blocked("a", "s", None), None, "never blocked");
    assert_eq!(m.set_blocked("a", "s", Some(ManualOauth)), Some(None));
    assert_eq!(m.set_blocked("a", "s", Some(ManualOauth)), None, "no news");
    assert_eq!(
        m.set_blocked("a", "s", Some(SignInRequired)),
        Some(Some(ManualOauth))
    );
    assert_eq!(m.set_blocked("a", "s", None), Some(Some(SignInRequired)));
    assert_eq!(m.set_blocked("a", "s", None), None);
}

#[test]
fn a_pending_sync_is_taken_once() {
    let m = Memory::default();
    assert_eq!(m.await_effect("a", "s", None), 0);
    assert_eq!(m.pending("a"), ["s"]);
    assert_eq!(m.take_pending("a", "s"), Some(Pending { before: None }));
    assert_eq!(m.take_pending("a", "s"), None);
    assert!(m.pending("a").is_empty());
}

#[test]
fn servers_that_left_are_forgotten() {
    let m = Memory::default();
    let t0 = Instant::now();
    m.failed("a", "stays", t0, |_| Duration::from_secs(1));
    m.failed("a", "left", t0, |_| Duration::from_secs(1));
    m.retain("a", |id| id == "stays");
    assert_eq!(m.of("a").len(), 1);
    assert_eq!(m.get("a", "stays").failures, 1);
}
