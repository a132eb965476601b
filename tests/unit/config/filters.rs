use super::*;

#[test]
fn glob_patterns() {
    let m = |p: &str, t: &str| Globs::new([p]).any_match(t);
    assert!(m("prod-*", "prod-api"));
    assert!(m("*-api", "prod-api"));
    assert!(m("p?od*", "prod"));
    assert!(!m("prod-*", "staging-api"));
    assert!(m("*", ""));
    assert!(!m("a", ""));
    assert!(m("é?", "éa"), "characters, not bytes");
}

#[test]
fn filters_apply_to_id_and_name() {
    let env = [
        ("CLOUDFLARE_ACCOUNT_ID", "acc1"),
        ("CLOUDFLARE_API_TOKEN", "t"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let mut c = super::super::load(&Default::default(), &env).expect("valid");
    c.include = Globs::new(["prod-*"]);
    c.exclude = Globs::new(["*legacy*"]);
    assert!(c.wants("prod-1", "x"));
    assert!(c.wants("x1", "prod-crm"));
    assert!(!c.wants("prod-legacy", "x"));
    assert!(!c.wants("dev-1", "Dev"));
}
