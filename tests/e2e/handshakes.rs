//! Refused TLS handshakes say why: one warning per cause per minute at most, a counter per
//! reason on `/metrics`, over real TLS on 127.0.0.1 against the daemon's binary, with
//! certificates made by the test (rcgen; openssl for the X.509 v1 one, as operators make it).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::common::*;

/// A CA and what it signed, as PEM files in `dir`.
struct Certs {
    dir: TempDir,
    ca: rcgen::CertifiedIssuer<'static, rcgen::KeyPair>,
}

impl Certs {
    fn new() -> Self {
        let dir = TempDir::new("handshakes");
        let ca = test_ca("test CA");
        dir.file("ca.pem", &ca.pem());
        dir.file("ca.key", &ca.key().serialize_pem());
        let certs = Self { dir, ca };
        certs.leaf("server", &["localhost"], false);
        certs.leaf("client", &["scraper.example"], false);
        certs.leaf("intruder", &["intruder.example"], false);
        certs.leaf("expired", &["scraper.example"], true);
        let rogue = Self {
            dir: TempDir::new("rogue"),
            ca: test_ca("rogue CA"),
        };
        rogue.leaf("client", &["scraper.example"], false);
        for ext in ["pem", "key"] {
            let text = rogue.read(&format!("client.{ext}"));
            certs.dir.file(&format!("rogue.{ext}"), &text);
        }
        certs
    }

    fn leaf(&self, name: &str, names: &[&str], expired: bool) {
        let mut params =
            rcgen::CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .expect("params");
        if expired {
            params.not_before = rcgen::date_time_ymd(2001, 1, 1);
            params.not_after = rcgen::date_time_ymd(2002, 1, 1);
        }
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = params.signed_by(&key, &self.ca).expect("signed");
        self.dir.file(&format!("{name}.pem"), &cert.pem());
        self.dir.file(&format!("{name}.key"), &key.serialize_pem());
    }

    /// An X.509 v1 client certificate signed by the CA, made as `openssl x509 -req` without
    /// an extensions file makes it; `false` when openssl is missing and skipping is allowed.
    fn v1(&self) -> bool {
        let Some(openssl) = external_tool("openssl") else {
            return false;
        };
        let run = |args: &[&str]| {
            let o = Command::new(&openssl)
                .args(args)
                .current_dir(&self.dir.0)
                .output()
                .expect("openssl runs");
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        };
        run(&[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "v1.key",
            "-subj",
            "/CN=scraper.example",
            "-out",
            "v1.csr",
        ]);
        run(&[
            "x509",
            "-req",
            "-in",
            "v1.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "v1.pem",
            "-days",
            "1",
        ]);
        true
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.0.join(name)).expect("read")
    }

    /// A client trusting the CA, with the named client certificate when given.
    fn client(&self, identity: Option<&str>) -> reqwest::Client {
        tls_client(&self.dir.0, identity, false)
    }
}

/// The JSON log lines of `log` whose message starts with `prefix`.
fn lines(log: &Path, prefix: &str) -> Vec<serde_json::Value> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|l| l["message"].as_str().is_some_and(|m| m.starts_with(prefix)))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_handshakes_are_counted_by_reason_and_each_cause_is_said_once_a_minute() {
    let certs = Certs::new();
    let v1 = certs.v1();
    let web = certs.dir.file(
        "web.yml",
        "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.pem\n  client_allowed_sans: [scraper.example]\n",
    );
    let api = fake_with(mcp_sync_monitor::fake::uniform_fleet(1, 2, 0)).await;
    let log = certs.dir.0.join("log");
    let port = free_port();
    let _daemon = Child(
        bin()
            .envs(env_for(&api))
            .env("MCP_SYNC_INTERVAL", "1h")
            .env("MCP_SYNC_LOG_FORMAT", "json")
            .args(["run", "--listen", &format!("127.0.0.1:{port}")])
            .arg("--web.config.file")
            .arg(&web)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::from(
                std::fs::File::create(&log).expect("log"),
            ))
            .spawn()
            .expect("daemon"),
    );
    let base = format!("https://localhost:{port}");
    let good = certs.client(Some("client"));
    let up = eventually(Duration::from_secs(20), || async {
        good.get(format!("{base}/healthz")).send().await.is_ok()
    })
    .await;
    assert!(up, "the daemon serves TLS");

    let refused = vec![
        ("no_certificate", certs.client(None)),
        ("expired", certs.client(Some("expired"))),
        ("san_not_allowed", certs.client(Some("intruder"))),
        ("unknown_ca", certs.client(Some("rogue"))),
    ];
    for (why, client) in &refused {
        let r = client.get(format!("{base}/healthz")).send().await;
        assert!(r.is_err(), "{why}: the handshake is refused, got {r:?}");
    }
    let mut expected: Vec<&str> = refused.iter().map(|(why, _)| *why).collect();
    if v1 {
        // rustls will not even present a v1 certificate; openssl, as operators use it, does.
        Command::new(external_tool("openssl").expect("openssl"))
            .args(["s_client", "-connect", &format!("127.0.0.1:{port}")])
            .args([
                "-servername",
                "localhost",
                "-cert",
                "v1.pem",
                "-key",
                "v1.key",
            ])
            .current_dir(&certs.dir.0)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("openssl s_client");
        expected.push("x509_v1");
    }
    // A flood: 1,000 clients that do not speak TLS, 50 at a time, while /healthz is asked.
    let flood = tokio::spawn(async move {
        for _ in 0..20 {
            let mut set = tokio::task::JoinSet::new();
            for _ in 0..50 {
                set.spawn(async move {
                    use tokio::io::{AsyncReadExt, AsyncWriteExt};
                    if let Ok(mut s) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
                        let _ = s
                            .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
                            .await;
                        let mut sink = Vec::new();
                        let _ = s.read_to_end(&mut sink).await;
                    }
                });
            }
            while set.join_next().await.is_some() {}
        }
    });
    let healthz = good.get(format!("{base}/healthz")).send().await;
    assert_eq!(
        healthz.map(|r| r.status().as_u16()).ok(),
        Some(200),
        "healthy amid the flood"
    );
    flood.await.expect("flood");

    let metrics = good
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("scrape")
        .text()
        .await
        .expect("body");
    let count = |reason: &str| {
        sample(
            &metrics,
            &format!("cloudflare_mcp_web_tls_handshake_failures_total{{reason=\"{reason}\"}}"),
        )
    };
    for why in &expected {
        assert!(count(why).is_some_and(|n| n >= 1.0), "{why}: {metrics}");
    }
    assert!(
        count("not_tls").is_some_and(|n| n >= 1000.0),
        "{:?}",
        count("not_tls")
    );
    assert_eq!(count("not_yet_valid"), Some(0.0), "every reason from 0");

    let said = lines(&log, "TLS handshake refused");
    let reasons: Vec<&str> = said.iter().filter_map(|l| l["reason"].as_str()).collect();
    for (why, _) in &refused {
        assert_eq!(
            reasons.iter().filter(|r| *r == why).count(),
            1,
            "{why}: {reasons:?}"
        );
    }
    assert_eq!(
        reasons.iter().filter(|r| **r == "not_tls").count(),
        1,
        "1,000 refusals of one cause within a minute: one line"
    );
    assert!(said.len() <= 11, "bounded: {said:?}");
    if v1 {
        let l = said
            .iter()
            .find(|l| l["reason"] == "x509_v1")
            .expect("the v1 line");
        let advice = l["message"].as_str().unwrap_or_default();
        assert!(advice.contains("reissue it with v3 extensions"), "{l}");
    }
    assert!(said.iter().all(|l| l["peer"]
        .as_str()
        .is_some_and(|p| p.starts_with("127.0.0.1:"))));
}
