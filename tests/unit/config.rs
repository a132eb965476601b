use super::*;
use crate::secret::Secret;

fn env(pairs: &[(&str, &str)]) -> Env {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn base_env() -> Env {
    env(&[
        ("CLOUDFLARE_ACCOUNT_ID", "acc1"),
        ("CLOUDFLARE_API_TOKEN", "tok-secret-1"),
    ])
}

#[test]
fn defaults_match_the_spec() {
    let c = load(&Flags::default(), &base_env()).expect("valid");
    assert_eq!(c.listen.to_string(), "0.0.0.0:9878");
    assert_eq!(c.interval, Duration::from_secs(300));
    assert_eq!(c.stale_after, Duration::from_secs(3 * 3600));
    assert!(!c.dry_run);
    assert_eq!((c.sync_concurrency, c.per_page), (4, 100));
    assert_eq!(c.request_timeout, Duration::from_secs(30));
    assert_eq!(c.retry.initial_interval, Duration::from_secs(1));
    assert_eq!(c.retry.multiplier, 2.0);
    assert_eq!(c.retry.max_interval, Duration::from_secs(60));
    assert_eq!(c.retry.max_elapsed, Duration::from_secs(300));
    assert_eq!(c.failure_backoff_max, Duration::from_secs(6 * 3600));
    assert_eq!(
        c.rate_limit,
        RateLimitConfig {
            requests: 600,
            per: Duration::from_secs(300)
        }
    );
    assert_eq!(c.base_url, "https://api.cloudflare.com/client/v4");
    assert_eq!(c.log_format, LogFormat::Text);
    assert_eq!(
        c.accounts[0].credentials,
        Credentials::Token(Secret::new("tok-secret-1"))
    );
}

#[test]
fn zero_duration_is_refused_naming_key_and_value() {
    let mut e = base_env();
    e.insert("MCP_SYNC_INTERVAL".into(), "0s".into());
    let err = load(&Flags::default(), &e).expect_err("zero");
    let msg = err.to_string();
    assert!(
        msg.contains("`interval`") && msg.contains("\"0s\"") && msg.contains("MCP_SYNC_INTERVAL"),
        "{msg}"
    );
}

#[test]
fn dry_run_follows_the_precedence_and_a_flag_can_turn_it_off() {
    let mut e = base_env();
    e.insert("MCP_SYNC_DRY_RUN".into(), "true".into());
    assert!(load(&Flags::default(), &e).expect("valid").dry_run);
    let off = Flags {
        dry_run: Some("false".into()),
        ..Flags::default()
    };
    assert!(
        !load(&off, &e).expect("valid").dry_run,
        "--dry-run=false wins over the environment"
    );
    let bad = Flags {
        dry_run: Some("perhaps".into()),
        ..Flags::default()
    };
    let msg = load(&bad, &e).expect_err("refused").to_string();
    assert!(
        msg.contains("dry_run") && msg.contains("perhaps") && msg.contains("--dry-run"),
        "{msg}"
    );
}

#[test]
fn the_readme_table_matches_the_key_table() {
    let readme = include_str!("../../README.md");
    let rows: Vec<&str> = readme.lines().filter(|l| l.starts_with("| `")).collect();
    for key in merge::KEYS {
        let short = key.name.rsplit('.').next().unwrap_or(key.name);
        let row = rows
            .iter()
            .find(|r| r.starts_with(&format!("| `{}`", key.name)))
            .or_else(|| {
                rows.iter().find(|r| {
                    let first = r.split('|').nth(1).unwrap_or("");
                    first.contains(&format!("/ `{short}`"))
                        || first.contains(&format!("/ `{}`", key.name))
                })
            })
            .unwrap_or_else(|| panic!("README has no row for `{}`", key.name));
        let cells: Vec<&str> = row.split('|').skip(1).collect();
        let flag = key.flag.map(|f| format!("`{f}`"));
        assert!(
            flag.as_ref()
                .map_or(cells[1].trim().is_empty(), |f| cells[1].contains(f)),
            "README's flag for `{}`: {row}",
            key.name
        );
        let env = key.env.map(|e| format!("`{e}`"));
        assert!(
            env.as_ref()
                .map_or(cells[2].trim().is_empty(), |e| cells[2].contains(e)),
            "README's variable for `{}`: {row}",
            key.name
        );
        let default = key.default.split(" (").next().unwrap_or(key.default);
        assert!(
            cells[3].contains(default),
            "README's default for `{}` is not {default}: {row}",
            key.name
        );
    }
}

#[test]
fn portals_interval_zero_turns_portals_off_and_garbage_is_refused() {
    let c = load(&Flags::default(), &base_env()).expect("valid");
    assert_eq!(c.portals_interval, Some(Duration::from_secs(600)));
    for off in ["0", "0s"] {
        let mut e = base_env();
        e.insert("MCP_SYNC_PORTALS_INTERVAL".into(), off.into());
        assert_eq!(
            load(&Flags::default(), &e).expect("valid").portals_interval,
            None
        );
    }
    let flags = Flags {
        portals_interval: Some("often".into()),
        ..Flags::default()
    };
    let msg = load(&flags, &base_env()).expect_err("refused").to_string();
    assert!(
        msg.contains("`portals.interval`")
            && msg.contains("often")
            && msg.contains("--portals.interval"),
        "{msg}"
    );
}

#[test]
fn the_file_refuses_a_value_of_the_wrong_shape_naming_the_key_and_the_file() {
    let path = std::path::Path::new("/etc/mcp/config.toml");
    let cases = [
        ("interval = [1]", "`interval`"),
        ("[retry]\nmax_elapsed = { a = 1 }", "`retry.max_elapsed`"),
        ("include = [\"a\", \" \"]", "`include`"),
        ("exclude = \"a\"", "`exclude`"),
        ("[[accounts]]\nid = \"a\"\ntoken = \"x\"", "token"),
    ];
    for (text, words) in cases {
        let msg = load_text(path, text, &base_env())
            .expect_err(text)
            .to_string();
        assert!(
            msg.contains(words) && msg.contains("/etc/mcp/config.toml"),
            "{msg}"
        );
    }
    let c = load_text(path, "per_page = 10\ndry_run = true", &base_env()).expect("valid");
    assert_eq!((c.per_page, c.dry_run), (10, true));
}
