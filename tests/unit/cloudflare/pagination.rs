use super::*;

fn facts(page: u32, raw: usize, fresh: usize) -> PageFacts {
    PageFacts {
        page,
        per_page: 100,
        raw,
        fresh,
        total_pages: None,
        count_changed: false,
        prev_short: false,
        until_empty: false,
        proof_due: false,
        cap: DEFAULT_PAGE_CAP,
    }
}

#[test]
fn total_pages_decides_when_present() {
    let f = |page, total| PageFacts {
        total_pages: Some(total),
        ..facts(page, 100, 100)
    };
    assert_eq!(walk_step(&f(1, 3)).0, Step::Next(2));
    assert_eq!(walk_step(&f(3, 3)).0, Step::Done { proven: true });
    assert_eq!(walk_step(&f(1, 1)).0, Step::Done { proven: true });
    let empty = PageFacts {
        total_pages: Some(0),
        ..facts(1, 0, 0)
    };
    assert_eq!(walk_step(&empty).0, Step::Done { proven: true });
}

#[test]
fn a_short_page_ends_the_walk_unless_a_proof_is_due() {
    assert_eq!(walk_step(&facts(1, 100, 100)).0, Step::Next(2));
    assert_eq!(walk_step(&facts(2, 99, 99)).0, Step::Done { proven: false });
    assert_eq!(walk_step(&facts(2, 0, 0)).0, Step::Done { proven: true });
    let due = PageFacts {
        proof_due: true,
        ..facts(2, 99, 99)
    };
    assert_eq!(
        walk_step(&due),
        (Step::Next(3), None),
        "the page after is fetched"
    );
}

#[test]
fn a_short_page_followed_by_new_servers_means_per_page_is_not_honoured() {
    let after_short = PageFacts {
        prev_short: true,
        ..facts(2, 20, 20)
    };
    assert_eq!(
        walk_step(&after_short),
        (Step::Next(3), Some(Anomaly::PageSizeNotHonoured)),
        "the walk goes on, now until an empty page"
    );
    let until_empty = PageFacts {
        until_empty: true,
        prev_short: true,
        ..facts(3, 5, 5)
    };
    assert_eq!(walk_step(&until_empty), (Step::Next(4), None));
    assert_eq!(
        walk_step(&PageFacts {
            until_empty: true,
            ..facts(4, 0, 0)
        })
        .0,
        Step::Done { proven: true }
    );
}

#[test]
fn a_walk_always_ends() {
    assert_eq!(
        walk_step(&facts(2, 100, 0)).0,
        Step::Incomplete(Anomaly::RepeatedPage),
        "a full page of servers already seen"
    );
    let clamped = PageFacts {
        prev_short: true,
        ..facts(2, 1, 0)
    };
    assert_eq!(
        walk_step(&clamped).0,
        Step::Done { proven: true },
        "Prism repeats its short page"
    );
    let capped = PageFacts {
        cap: 5,
        ..facts(5, 100, 100)
    };
    assert_eq!(
        walk_step(&capped).0,
        Step::Incomplete(Anomaly::PageCapReached)
    );
    let changed = PageFacts {
        count_changed: true,
        ..facts(2, 100, 100)
    };
    assert_eq!(
        walk_step(&changed).0,
        Step::Incomplete(Anomaly::ListChanged)
    );
    assert_eq!(page_cap(Some(250), 100), 5);
    assert_eq!(page_cap(None, 100), DEFAULT_PAGE_CAP);
}

#[test]
fn listing_keeps_the_first_sighting_of_an_id() {
    let s = |id: &str| Server {
        id: id.into(),
        ..Server::default()
    };
    let mut l = Listing::default();
    assert_eq!(l.add(vec![s("a"), s("b")], 0), 2);
    assert_eq!(l.add(vec![s("b"), s("c")], 1), 1);
    let ids: Vec<_> = l.servers.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["a", "b", "c"]);
    assert_eq!((l.duplicates, l.skipped), (1, 1));
}
