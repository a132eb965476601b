use super::*;

fn header(user: &str, password: &str) -> Vec<u8> {
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {token}").into_bytes()
}

#[test]
fn basic_credentials_are_parsed_strictly() {
    assert_eq!(
        basic_credentials(b"basic cHJvbTpzM2NyZXQ6eA=="),
        Some(("prom".into(), "s3cret:x".into()))
    );
    assert_eq!(basic_credentials(b"Bearer cHJvbTpzM2NyZXQ="), None);
    assert_eq!(basic_credentials(b"Basic !!!"), None);
    assert_eq!(basic_credentials(b"Basic bm9jb2xvbg=="), None);
}

#[test]
fn the_decoy_is_a_hash_of_a_fixed_cost_that_matches_nothing() {
    let d = decoy(7);
    let parts: bcrypt::HashParts = d.parse().expect("a well-formed hash");
    assert_eq!(parts.get_cost(), 7);
    assert!(!bcrypt::verify("", &d).expect("verifiable"));
    let users = Users::new(vec![
        ("a".into(), bcrypt::hash("x", 4).expect("hash")),
        ("b".into(), "$2y$18$".to_owned() + &".".repeat(53)),
    ]);
    assert!(
        users.decoy.starts_with("$2b$10$"),
        "not the dearest: {}",
        users.decoy
    );
}

#[tokio::test]
async fn right_password_passes_wrong_password_unknown_user_and_no_header_do_not() {
    // htpasswd -B writes $2y$ hashes.
    let hash = bcrypt::hash("s3cret", 4)
        .expect("hash")
        .replacen("$2b$", "$2y$", 1);
    let users = Users::new(vec![("prometheus".into(), hash)]);
    let check = |h: Option<Vec<u8>>| {
        let users = &users;
        async move { users.check(h.as_deref(), None).await }
    };
    assert_eq!(
        check(Some(header("prometheus", "s3cret"))).await,
        Verdict::Allowed
    );
    assert_eq!(
        check(Some(header("prometheus", "s3cret"))).await,
        Verdict::Allowed,
        "cached"
    );
    assert_eq!(
        check(Some(header("prometheus", "wrong"))).await,
        Verdict::Refused
    );
    assert_eq!(
        check(Some(header("nobody", "s3cret"))).await,
        Verdict::Refused
    );
    assert_eq!(check(None).await, Verdict::Refused);
    assert_eq!(users.cache.lock().expect("lock").len(), 3);
    assert!(!format!("{users:?}").contains("$2"), "{users:?}");
}

#[tokio::test]
async fn an_address_that_guesses_too_often_is_limited_and_another_is_not() {
    let users = Users::new(vec![("p".into(), bcrypt::hash("right", 4).expect("hash"))]);
    let (a, b): (IpAddr, IpAddr) = (
        "10.0.0.1".parse().expect("ip"),
        "10.0.0.2".parse().expect("ip"),
    );
    for i in 0..ATTEMPTS_BURST {
        let guess = header("p", &format!("guess-{i}"));
        assert_eq!(users.check(Some(&guess), Some(a)).await, Verdict::Refused);
    }
    let another = header("p", "guess-again");
    assert_eq!(users.check(Some(&another), Some(a)).await, Verdict::Limited);
    assert_eq!(
        users.check(Some(&header("p", "guess-0")), Some(a)).await,
        Verdict::Refused,
        "a cached verdict costs nothing and is not limited"
    );
    assert_eq!(
        users.check(Some(&header("p", "right")), Some(b)).await,
        Verdict::Allowed
    );
}

#[tokio::test]
async fn an_address_has_two_verifications_under_way_and_the_same_credentials_share_one() {
    let users = Users::new(vec![("p".into(), bcrypt::hash("right", 4).expect("hash"))]);
    let (a, b): (IpAddr, IpAddr) = (
        "10.0.0.1".parse().expect("ip"),
        "10.0.0.2".parse().expect("ip"),
    );
    let (one, two) = ([1; 32], [2; 32]);
    let (lock, first) = users.in_progress(one);
    assert!(first);
    let (same, again) = users.in_progress(one);
    assert!(
        !again && Arc::ptr_eq(&lock, &same),
        "the same credentials wait for one"
    );
    assert!(users.may_start(a) && users.may_start(a));
    assert!(
        !users.may_start(a),
        "a third at once from one address is limited"
    );
    assert!(users.may_start(b), "another address is not");
    let h = header("p", "g");
    let limited = users.check(Some(&h), Some(a)).await;
    assert_eq!(limited, Verdict::Limited);
    assert!(
        !users.may_start(a),
        "a limited attempt gives back no turn it did not take"
    );
    drop(Entry {
        users: &users,
        key: one,
        peer: Some(a),
    });
    assert!(users.may_start(a), "one ended: one more may start");
    assert!(users.in_progress(one).1, "forgotten when it ended");
    for (key, peer) in [(one, a), (two, a), (two, b)] {
        drop(Entry {
            users: &users,
            key,
            peer: Some(peer),
        });
    }
    assert!(users.pending.lock().expect("lock").is_empty());
    assert!(users.in_flight.lock().expect("lock").is_empty());
}
