//! The command line and the configuration: precedence, validation errors (key and value
//! named, exit 2), `_FILE` secrets, and secrets that never show.

use crate::common::*;

const TOKEN: &str = "cf-token-SUPERSECRET-0123456789";

fn run(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let o = bin()
        .envs(env.iter().copied())
        .args(args)
        .output()
        .expect("runs");
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

const BASE: [(&str, &str); 2] = [
    ("CLOUDFLARE_ACCOUNT_ID", "acc1"),
    ("CLOUDFLARE_API_TOKEN", TOKEN),
];

#[test]
fn check_config_prints_the_configuration_with_secrets_masked() {
    let (code, out, err) = run(&["check-config"], &BASE);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("interval = \"5m\""), "{out}");
    assert!(out.contains("listen = \"0.0.0.0:9878\""), "{out}");
    assert!(out.contains("id = \"acc1\""), "{out}");
    assert!(out.contains("****"), "{out}");
    assert!(
        !out.contains("SUPERSECRET") && !err.contains("SUPERSECRET"),
        "{out}"
    );
}

#[test]
fn precedence_is_flag_then_environment_then_file_then_default() {
    let dir = TempDir::new("prec");
    let file = dir.file(
        "c.toml",
        "interval = \"1m\"\nstale_after = \"4h\"\nlisten = \"127.0.0.1:1111\"\n",
    );
    let f = file.to_str().expect("utf-8 path");
    let (_, out, _) = run(&["check-config", "--config", f], &BASE);
    assert!(
        out.contains("interval = \"1m\"") && out.contains("stale_after = \"4h\""),
        "file over default: {out}"
    );
    let env = [
        BASE[0],
        BASE[1],
        ("MCP_SYNC_INTERVAL", "2m"),
        ("MCP_SYNC_LISTEN", "127.0.0.1:2222"),
    ];
    let (_, out, _) = run(&["check-config", "--config", f], &env);
    assert!(
        out.contains("interval = \"2m\"") && out.contains("127.0.0.1:2222"),
        "env over file: {out}"
    );
    assert!(out.contains("stale_after = \"4h\""), "{out}");
    // Each line says where its value came from.
    assert!(
        out.contains("interval = \"2m\"  # environment variable MCP_SYNC_INTERVAL"),
        "{out}"
    );
    assert!(
        out.contains(&format!("stale_after = \"4h\"  # file {f}")),
        "{out}"
    );
    assert!(out.contains("per_page = 100  # default"), "{out}");
    assert!(out.contains("max_connections = 512  # default"), "{out}");
    let (_, out, _) = run(
        &[
            "check-config",
            "--config",
            f,
            "--interval",
            "3m",
            "--listen",
            "127.0.0.1:3333",
        ],
        &env,
    );
    assert!(
        out.contains("interval = \"3m\"") && out.contains("127.0.0.1:3333"),
        "flag over env: {out}"
    );
    assert!(
        out.contains("interval = \"3m\"  # flag --interval"),
        "{out}"
    );
    let env = [BASE[0], BASE[1], ("MCP_SYNC_CONFIG", f)];
    let (_, out, _) = run(&["check-config"], &env);
    assert!(
        out.contains("interval = \"1m\""),
        "MCP_SYNC_CONFIG names the file: {out}"
    );
}

#[test]
fn every_validation_error_names_the_key_and_value_and_exits_2() {
    let dir = TempDir::new("invalid");
    // (file content, extra env, words the message must contain)
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a [&'a str]);
    let cases: &[Case] = &[
        (
            "",
            &[("MCP_SYNC_INTERVAL", "often")],
            &["interval", "often"],
        ),
        ("stale_after = \"0s\"", &[], &["stale_after", "0s"]),
        (
            "request_timeout = \"ten\"",
            &[],
            &["request_timeout", "ten"],
        ),
        (
            "[retry]\nmax_elapsed = \"0m\"",
            &[],
            &["retry.max_elapsed", "0m"],
        ),
        (
            "[rate_limit]\nper = \"sometimes\"",
            &[],
            &["rate_limit.per", "sometimes"],
        ),
        (
            "[rate_limit]\nrequests = 0",
            &[],
            &["rate_limit.requests", "0"],
        ),
        ("per_page = 0", &[], &["per_page", "0"]),
        ("per_page = 101", &[], &["per_page", "101"]),
        ("sync_concurrency = 0", &[], &["sync_concurrency", "0"]),
        (
            "[api]\nbase_url = \"ftp://example.com\"",
            &[],
            &["api.base_url", "ftp://example.com"],
        ),
        (
            "",
            &[("CLOUDFLARE_BASE_URL", "example.com/v4")],
            &["api.base_url", "example.com/v4"],
        ),
        (
            "",
            &[("MCP_SYNC_LISTEN", "everywhere")],
            &["listen", "everywhere"],
        ),
        (
            "",
            &[("MCP_SYNC_LOG_FORMAT", "xml")],
            &["log.format", "xml"],
        ),
        ("", &[("MCP_SYNC_DRY_RUN", "maybe")], &["dry_run", "maybe"]),
        ("intervall = \"5m\"", &[], &["intervall"]),
        ("[retry]\nmultiplyer = 2.0", &[], &["multiplyer"]),
    ];
    for (i, (content, env, words)) in cases.iter().enumerate() {
        let file = dir.file(&format!("c{i}.toml"), content);
        let mut e: Vec<(&str, &str)> = BASE.to_vec();
        e.extend_from_slice(env);
        let (code, out, err) = run(
            &["check-config", "--config", file.to_str().expect("utf-8")],
            &e,
        );
        assert_eq!(
            code, 2,
            "case {i} ({content:?}, {env:?}) must be refused: {out}{err}"
        );
        for w in *words {
            assert!(err.contains(w), "case {i}: the message names {w:?}: {err}");
        }
        assert!(!err.contains("SUPERSECRET"), "case {i}: {err}");
    }
}

#[test]
fn missing_accounts_and_credentials_are_refused() {
    let (code, _, err) = run(&["check-config"], &[("CLOUDFLARE_API_TOKEN", TOKEN)]);
    assert_eq!(code, 2);
    assert!(
        err.contains("no account") && err.contains("CLOUDFLARE_ACCOUNT_ID"),
        "{err}"
    );
    let (code, _, err) = run(&["check-config"], &[("CLOUDFLARE_ACCOUNT_ID", "acc1")]);
    assert_eq!(code, 2);
    assert!(
        err.contains("acc1") && err.contains("CLOUDFLARE_API_TOKEN"),
        "{err}"
    );
    let (code, _, err) = run(
        &["check-config"],
        &[
            ("CLOUDFLARE_ACCOUNT_ID", "acc1"),
            ("CLOUDFLARE_EMAIL", "me@example.com"),
        ],
    );
    assert_eq!(code, 2);
    assert!(err.contains("CLOUDFLARE_API_KEY"), "{err}");
    assert!(!err.contains("me@example.com"), "{err}");
    let (code, _, err) = run(
        &["check-config"],
        &[
            ("CLOUDFLARE_ACCOUNT_ID", "acc/../1"),
            ("CLOUDFLARE_API_TOKEN", TOKEN),
        ],
    );
    assert_eq!(code, 2);
    assert!(err.contains("acc/../1"), "{err}");
}

#[test]
fn secrets_can_come_from_files_and_an_unreadable_file_is_refused() {
    let dir = TempDir::new("secrets");
    let tok = dir.file("token", &format!("{TOKEN}\n"));
    let (code, out, err) = run(
        &["check-config"],
        &[
            ("CLOUDFLARE_ACCOUNT_ID", "acc1"),
            ("CLOUDFLARE_API_TOKEN_FILE", tok.to_str().expect("utf-8")),
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("CLOUDFLARE_API_TOKEN") && !out.contains("SUPERSECRET"),
        "{out}"
    );

    let email = dir.file("email", "me@example.com");
    let key = dir.file("key", "KEY-SUPERSECRET");
    let (code, out, err) = run(
        &["check-config"],
        &[
            ("CLOUDFLARE_ACCOUNT_ID", "acc1"),
            ("CLOUDFLARE_EMAIL_FILE", email.to_str().expect("utf-8")),
            ("CLOUDFLARE_API_KEY_FILE", key.to_str().expect("utf-8")),
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("CLOUDFLARE_EMAIL + CLOUDFLARE_API_KEY"),
        "{out}"
    );
    assert!(
        !out.contains("SUPERSECRET") && !out.contains("me@example.com"),
        "{out}"
    );

    let missing = dir.0.join("nope");
    let (code, _, err) = run(
        &["check-config"],
        &[
            ("CLOUDFLARE_ACCOUNT_ID", "acc1"),
            (
                "CLOUDFLARE_API_TOKEN_FILE",
                missing.to_str().expect("utf-8"),
            ),
        ],
    );
    assert_eq!(code, 2);
    assert!(
        err.contains("CLOUDFLARE_API_TOKEN_FILE") && err.contains("nope"),
        "{err}"
    );
}

#[test]
fn several_accounts_each_with_their_own_credentials() {
    let dir = TempDir::new("accounts");
    let file = dir.file(
        "c.toml",
        "[[accounts]]\nid = \"prod\"\napi_token_env = \"CF_TOKEN_PROD\"\n\n[[accounts]]\nid = \"legacy\"\nemail_env = \"CF_MAIL\"\napi_key_env = \"CF_KEY\"\n",
    );
    let env = [
        ("CF_TOKEN_PROD", "prod-SUPERSECRET"),
        ("CF_MAIL", "ops@example.com"),
        ("CF_KEY", "key-SUPERSECRET"),
    ];
    let (code, out, err) = run(
        &["check-config", "--config", file.to_str().expect("utf-8")],
        &env,
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("id = \"prod\"") && out.contains("CF_TOKEN_PROD"),
        "{out}"
    );
    assert!(
        out.contains("id = \"legacy\"") && out.contains("CF_MAIL + CF_KEY"),
        "{out}"
    );
    assert!(!out.contains("SUPERSECRET"), "{out}");
    let (code, _, err) = run(
        &["check-config", "--config", file.to_str().expect("utf-8")],
        &env[1..],
    );
    assert_eq!(code, 2);
    assert!(
        err.contains("prod") && err.contains("CF_TOKEN_PROD"),
        "{err}"
    );
}

#[test]
fn accounts_in_the_file_and_cloudflare_account_id_together_are_refused_as_ambiguous() {
    let dir = TempDir::new("ambiguous");
    let file = dir.file("c.toml", "[[accounts]]\nid = \"prod\"\n");
    let (code, out, err) = run(
        &["check-config", "--config", file.to_str().expect("utf-8")],
        &BASE,
    );
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains("CLOUDFLARE_ACCOUNT_ID")
            && err.contains("[[accounts]]")
            && err.contains("acc1"),
        "the message names both: {err}"
    );
}

#[test]
fn dry_run_takes_a_value_and_false_turns_off_the_file_and_environment() {
    let dir = TempDir::new("dry");
    let file = dir.file("c.toml", "dry_run = true\n");
    let f = file.to_str().expect("utf-8");
    let (_, out, _) = run(&["check-config", "--config", f], &BASE);
    assert!(out.contains("dry_run = true"), "{out}");
    let (_, out, err) = run(&["check-config", "--config", f, "--dry-run=false"], &BASE);
    assert!(out.contains("dry_run = false"), "{out}{err}");
    let env = [BASE[0], BASE[1], ("MCP_SYNC_DRY_RUN", "true")];
    let (_, out, _) = run(&["--dry-run=false", "check-config"], &env);
    assert!(
        out.contains("dry_run = false"),
        "flag over environment: {out}"
    );
    let (_, out, _) = run(&["--dry-run", "check-config"], &BASE);
    assert!(
        out.contains("dry_run = true"),
        "a bare --dry-run still means true: {out}"
    );
    let (code, _, err) = run(&["check-config", "--dry-run=sometimes"], &BASE);
    assert_eq!(code, 2);
    assert!(
        err.contains("dry_run") && err.contains("sometimes"),
        "{err}"
    );
}

#[test]
fn the_configuration_debug_dump_masks_secrets() {
    let env: mcp_sync_monitor::config::Env = BASE
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let cfg = mcp_sync_monitor::config::load(&Default::default(), &env).expect("valid");
    let dump = format!(
        "{cfg:?} {cfg:#?} {}",
        mcp_sync_monitor::commands::render(&cfg)
    );
    assert!(!dump.contains("SUPERSECRET"), "{dump}");
}

#[test]
fn the_example_configuration_file_is_valid() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/config/mcp-sync-monitor.toml");
    let env = [("CF_TOKEN_PROD", "t1"), ("CF_TOKEN_STAGING", "t2")];
    let (code, out, err) = run(&["check-config", "--config", example], &env);
    assert_eq!(code, 0, "{out}{err}");
}

#[test]
fn help_and_version() {
    let (code, out, _) = run(&["--version"], &[]);
    assert_eq!(code, 0);
    assert!(out.contains(env!("CARGO_PKG_VERSION")));
    let (code, out, _) = run(&["--help"], &[]);
    assert_eq!(code, 0);
    for cmd in ["run", "once", "demo", "check-config", "healthcheck"] {
        assert!(out.contains(cmd), "{out}");
    }
}
