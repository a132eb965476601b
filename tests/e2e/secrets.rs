//! Credentials given as files (`*_FILE`, container secrets) are read again when the file
//! changes: a rotated Kubernetes Secret takes effect at the next request, without a restart.
//! The web configuration's passwords and hashes never reach the log.

use std::time::Duration;

use mcp_sync_monitor::fake::FakeServer;
use mcp_sync_monitor::testing::cloudflare::Endpoint;
use mcp_sync_monitor::{config, fake, testing::app};

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_token_file_takes_effect_at_the_next_request_without_a_restart() {
    const NEW_TOKEN: &str = "rotated-token-9876543210";
    let api = fake_with(vec![fake::FakeServer::fresh("s1")]).await;
    let dir = TempDir::new("secret");
    let token = dir.file("api-token", &format!("{}\n", fake::TOKEN));
    let mut env = env_for(&api);
    env.remove("CLOUDFLARE_API_TOKEN");
    env.insert(
        "CLOUDFLARE_API_TOKEN_FILE".into(),
        token.display().to_string(),
    );
    let mut cfg = config::load(&config::Flags::default(), &env).expect("config");
    cfg.listen = "127.0.0.1:0".parse().expect("addr");
    cfg.interval = Duration::from_millis(200);
    let sd = mcp_sync_monitor::testing::shutdown::Shutdown::new();
    let running = app::start(cfg, sd.clone()).await.expect("daemon");
    assert!(
        eventually(Duration::from_secs(10), || async {
            api.count(Endpoint::List, None) >= 2
        })
        .await
    );

    // Rotate as Kubernetes does (a new file renamed over the old one) while the API accepts
    // both tokens, then revoke the old one.
    api.with(|w| w.tokens.push(NEW_TOKEN.to_owned()));
    let next = dir.file("api-token.new", NEW_TOKEN);
    std::fs::rename(&next, &token).expect("rotate");
    let before = api.count(Endpoint::List, None);
    assert!(
        eventually(Duration::from_secs(10), || async {
            api.count(Endpoint::List, None) > before
        })
        .await
    );
    api.with(|w| w.tokens.retain(|t| t == NEW_TOKEN));
    let revoked_at = api.count(Endpoint::List, None);
    assert!(
        eventually(Duration::from_secs(10), || async {
            api.count(Endpoint::List, None) >= revoked_at + 3
        })
        .await,
        "the daemon kept listing after the old token was revoked"
    );
    let refused = api.requests().iter().filter(|r| r.status == 403).count();
    assert_eq!(
        refused, 0,
        "every request after the rotation used the new token"
    );
    let m = get(&format!("http://{}/metrics", running.addr)).await.1;
    assert_eq!(
        sample(
            &m,
            &format!("cloudflare_mcp_up{{account_id=\"{}\"}}", fake::ACCOUNT)
        ),
        Some(1.0)
    );
    assert!(!m.contains(NEW_TOKEN) && !m.contains(fake::TOKEN));
    sd.trigger();
    running.wait().await.expect("stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_password_or_hash_reaches_the_log_even_at_debug() {
    let api = fake_with(vec![FakeServer::fresh("mcp")]).await;
    let dir = TempDir::new("web-secrets");
    let password = "hunter2-correct-horse";
    let hash = bcrypt::hash(password, 4).expect("hash");
    let web = dir.file(
        "web.yml",
        &format!("basic_auth_users:\n  prometheus: {hash}\n"),
    );
    let log = std::fs::File::create(dir.0.join("log")).expect("log");
    let port = free_port();
    let _child = Child(
        bin()
            .envs(env_for(&api))
            .env("RUST_LOG", "debug")
            .env("MCP_SYNC_WEB_CONFIG_FILE", &web)
            .args(["run", "--listen", &format!("127.0.0.1:{port}")])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::from(log))
            .spawn()
            .expect("daemon"),
    );
    let url = format!("http://127.0.0.1:{port}/metrics");
    let client = reqwest::Client::new();
    let status = |user: &'static str, pw: &'static str| {
        let rq = client.get(&url).basic_auth(user, Some(pw));
        async move { rq.send().await.map(|r| r.status().as_u16()).unwrap_or(0) }
    };
    assert!(
        eventually(Duration::from_secs(20), || async {
            status("prometheus", password).await == 200
        })
        .await,
        "the right password is let in"
    );
    assert_eq!(status("prometheus", "wrong-guess-7").await, 401);
    assert_eq!(status("admin", password).await, 401);
    // A broken hash: the reload fails, is logged, and the last good users keep working.
    let broken = "$2y$10$not-a-whole-hash";
    std::fs::write(&web, format!("basic_auth_users:\n  prometheus: {broken}\n")).expect("write");
    assert_eq!(status("prometheus", password).await, 200);
    let text = || std::fs::read_to_string(dir.0.join("log")).unwrap_or_default();
    assert!(
        eventually(Duration::from_secs(10), || async {
            text().contains("web configuration not reloaded")
        })
        .await,
        "the failed reload is logged: {}",
        text()
    );
    let log = text();
    for secret in [password, "wrong-guess-7", hash.as_str(), broken, &hash[7..]] {
        assert!(
            !log.contains(secret),
            "{secret:?} leaked into the log:\n{log}"
        );
    }
    assert!(
        log.contains("basic_auth_users.prometheus"),
        "names the key: {log}"
    );
}
