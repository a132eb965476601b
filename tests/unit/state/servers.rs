use super::*;

fn listed(id: &str) -> (ServerInfo, Action) {
    let info = ServerInfo {
        id: id.into(),
        ..ServerInfo::default()
    };
    (info, Action::None)
}

#[test]
fn relisted_servers_are_sorted_keep_their_counters_and_lose_the_gone() {
    let mut old = Servers::relisted(vec![listed("b"), listed("gone")], &Servers::default());
    if let Some(s) = old.get_mut("b") {
        s.syncs_total = 7;
        s.last_attempts = 3;
    }
    let mut c = listed("c");
    c.1 = Action::Synced;
    let now = Servers::relisted(vec![c, listed("b"), listed("a"), listed("c")], &old);
    let ids: Vec<&str> = now.keys().collect();
    assert_eq!(ids, ["a", "b", "c"]);
    assert_eq!(now["b"].syncs_total, 7);
    assert_eq!(now["b"].last_attempts, 0, "a new cycle's attempts");
    assert_eq!(now["a"].syncs_total, 0);
    assert!(now.get("gone").is_none());
    assert_eq!(old.len(), 2, "the old view is left as readers hold it");
}

#[test]
fn every_server_keeps_its_counters_whatever_the_listing_order() {
    let ids: Vec<String> = (0..3000).map(|i| format!("s{i:04}")).collect();
    let mut old = Servers::relisted(
        ids.iter().map(|id| listed(id)).collect(),
        &Servers::default(),
    );
    for (i, id) in ids.iter().enumerate() {
        if let Some(s) = old.get_mut(id) {
            s.syncs_total = i as u64;
        }
    }
    let mut shuffled = ids.clone();
    shuffled.reverse();
    shuffled.rotate_left(1234);
    let now = Servers::relisted(shuffled.iter().map(|id| listed(id)).collect(), &old);
    assert!(ids
        .iter()
        .enumerate()
        .all(|(i, id)| now.get(id).map(|s| s.syncs_total) == Some(i as u64)));
}

#[test]
fn a_removed_server_is_not_found_and_the_rest_are() {
    let mut s = Servers::relisted(
        (0..50).map(|i| listed(&format!("s{i:02}"))).collect(),
        &Servers::default(),
    );
    assert!(s.remove("s17").is_some());
    assert!(s.remove("s17").is_none());
    assert_eq!(s.len(), 49);
    assert!((0..50)
        .filter(|i| *i != 17)
        .all(|i| s.get(&format!("s{i:02}")).is_some()));
}

proptest::proptest! {
    #[test]
    fn relisting_is_the_listing_with_the_old_counters(
        old_ids in proptest::collection::btree_set(0u32..80, 0..60),
        new_ids in proptest::collection::btree_set(0u32..80, 0..60),
        rotate in 0usize..60,
    ) {
        let name = |i: &u32| format!("s{i:02}");
        let mut old = Servers::relisted(
            old_ids.iter().map(|i| listed(&name(i))).collect(),
            &Servers::default(),
        );
        for i in &old_ids {
            if let Some(s) = old.get_mut(&name(i)) {
                s.syncs_total = u64::from(*i) + 1;
            }
        }
        let mut order: Vec<u32> = new_ids.iter().copied().collect();
        if !order.is_empty() {
            let by = rotate % order.len();
            order.rotate_left(by);
        }
        let now = Servers::relisted(order.iter().map(|i| listed(&name(i))).collect(), &old);
        let expected: Vec<(String, u64)> = new_ids
            .iter()
            .map(|i| (name(i), if old_ids.contains(i) { u64::from(*i) + 1 } else { 0 }))
            .collect();
        let got: Vec<(String, u64)> =
            now.iter().map(|(id, s)| (id.to_owned(), s.syncs_total)).collect();
        proptest::prop_assert_eq!(got, expected);
    }
}
