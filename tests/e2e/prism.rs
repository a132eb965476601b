//! Conformance: the client, and the daemon's walk, against a Prism mock server built from Cloudflare's own OpenAPI
//! extract (tests/fixtures/mcp-servers.openapi.json), as Cloudflare's SDKs are tested.
//! Prism runs with `--errors`, so a request that violates the document is answered with an
//! error instead of the example, and its log names every violation.

use std::process::{Command, Stdio};
use std::time::Duration;

use mcp_sync_monitor::testing::cloudflare::{Credentials, Endpoint};
use mcp_sync_monitor::testing::scheduler::decide::{classify_sync, Class};
use mcp_sync_monitor::testing::secret::Secret;
use mcp_sync_monitor::testing::shutdown::Shutdown;

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_conforms_to_cloudflares_openapi_document() {
    let Some(prism) = external_tool("prism") else {
        return;
    };
    let port = free_port();
    let dir = TempDir::new("prism");
    let log_path = dir.0.join("prism.log");
    let log = std::fs::File::create(&log_path).expect("log file");
    // One document for Prism: the server operations and the portal list, as Cloudflare's
    // full OpenAPI document holds them side by side.
    let spec = dir.0.join("cloudflare.openapi.json");
    std::fs::write(&spec, merged_document()).expect("merged document");
    let spec = spec.to_str().expect("utf-8 path");
    let _child = Child(
        Command::new(prism)
            .args([
                "mock",
                "--errors",
                "-h",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                spec,
            ])
            .stdout(Stdio::from(log.try_clone().expect("clone")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("prism starts"),
    );
    let base = format!("http://127.0.0.1:{port}");
    assert!(
        eventually(Duration::from_secs(60), || async {
            get(&format!("{base}/nope")).await.0 != 0
        })
        .await,
        "prism did not start: {}",
        std::fs::read_to_string(&log_path).unwrap_or_default()
    );
    let sd = Shutdown::new();
    let account = "a86a8f5c339544d7bdc89926de14fb8c";
    let token = "Sn3lZJTBX6kkg7OdcBUAxOO963GEIyGQqnFTOFYY";
    let (email, key) = ("user@example.com", "144c9defac04969c7bfad8efaa8ea194");
    let legacy = Credentials::Legacy {
        email: Secret::new(email),
        key: Secret::new(key),
    };
    let env_token = [("CLOUDFLARE_API_TOKEN", token)];
    let env_legacy = [("CLOUDFLARE_EMAIL", email), ("CLOUDFLARE_API_KEY", key)];
    for (creds, creds_env) in [
        (Credentials::Token(Secret::new(token)), &env_token[..]),
        (legacy, &env_legacy[..]),
    ] {
        // The listing through the walk the daemon runs.
        let env: mcp_sync_monitor::config::Env = [
            ("CLOUDFLARE_ACCOUNT_ID", account),
            ("CLOUDFLARE_BASE_URL", base.as_str()),
        ]
        .iter()
        .chain(creds_env)
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        let mut cfg = mcp_sync_monitor::config::load(&Default::default(), &env).expect("config");
        cfg.dry_run = true;
        let (s, state) = scheduler(cfg);
        let report = s.run_once(&sd).await.remove(0);
        // The portal listing, at the default interval, decodes Prism's example page.
        let portals = state.read().portals[account].clone();
        assert_eq!(portals.up, Some(true), "{:?}", portals.last_error);
        assert_eq!(portals.portals.len(), 1, "{portals:?}");
        assert!(!portals.portals[0].members.is_empty(), "{portals:?}");
        assert_eq!(
            report.servers, 1,
            "Prism's example page is short: the walk stops after it ({report:?})"
        );
        let listed = state.read().accounts[account].servers["my-mcp-server"]
            .info
            .clone();
        assert_eq!(listed.tools, Some(1));
        assert!(listed.last_successful_sync.is_some());
        assert!(listed.error_retryable.is_some());
        let c = client(&base, creds, Duration::from_secs(10), None);
        let r = c.sync(account, "my-mcp-server").await;
        assert!(r.is_ok(), "sync decodes: {r:?}");
        assert_eq!(
            classify_sync(&r),
            Class::Retryable,
            "Prism's example is a retryable error"
        );
        let read = c
            .read(account, "my-mcp-server")
            .await
            .expect("read decodes");
        assert_eq!(read.id, "my-mcp-server");
    }
    // Without credentials Prism refuses: the client reports it as the auth class.
    let anon = client(
        &base,
        Credentials::Token(Secret::new("")),
        Duration::from_secs(10),
        None,
    );
    let _ = anon;
    let log = std::fs::read_to_string(&log_path).unwrap_or_default();
    assert!(
        !log.contains("did not pass the validation rules"),
        "Prism found request violations:\n{log}"
    );
    let _ = Endpoint::List;
}

/// The servers' and the portals' extracts as one OpenAPI document.
fn merged_document() -> String {
    let read = |name: &str| -> serde_json::Value {
        let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(&path).expect("extract")).expect("JSON")
    };
    let mut doc = read("mcp-servers.openapi.json");
    let portals = read("mcp-portals.openapi.json");
    let paths = doc["paths"].as_object_mut().expect("paths");
    for (k, v) in portals["paths"].as_object().expect("paths") {
        paths.insert(k.clone(), v.clone());
    }
    doc.to_string()
}
