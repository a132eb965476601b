use super::*;
use crate::cloudflare::DEFAULT_BASE_URL;
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
    assert_eq!(c.base_url, DEFAULT_BASE_URL);
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
