//! The web configuration with real clients: a real Prometheus scraping over TLS with basic
//! auth, reqwest (rustls) with and without client certificates, plain HTTP against the TLS
//! port, a certificate rotated under the running daemon, the `healthcheck` subcommand and
//! the exit code of a bad file. Certificates are made by the test (rcgen), never committed.

use std::path::PathBuf;
use std::time::Duration;

use mcp_sync_monitor::fake;
use mcp_sync_monitor::testing::app::{self, Running};
use mcp_sync_monitor::testing::shutdown::Shutdown;

use crate::common::*;
use crate::prometheus::Prometheus;

const USER: &str = "prometheus";
const PASSWORD: &str = "correct horse battery staple";

/// A CA, certificates it signed for the server (localhost, 127.0.0.1) and a client, and a
/// client certificate from another CA; all as PEM files in a temporary directory.
struct Pki {
    dir: TempDir,
    ca: rcgen::CertifiedIssuer<'static, rcgen::KeyPair>,
}

impl Pki {
    fn new() -> Self {
        let dir = TempDir::new("pki");
        let ca = test_ca("test CA");
        dir.file("ca.pem", &ca.pem());
        let pki = Self { dir, ca };
        pki.leaf("server", &["localhost", "127.0.0.1"]);
        pki.leaf("client", &["scraper.example"]);
        let rogue = test_ca("rogue CA");
        let (cert, key) = Self::signed(&rogue, &["scraper.example"]);
        pki.dir.file("rogue.pem", &cert);
        pki.dir.file("rogue.key", &key);
        pki
    }

    fn signed(
        ca: &rcgen::CertifiedIssuer<'static, rcgen::KeyPair>,
        names: &[&str],
    ) -> (String, String) {
        let params =
            rcgen::CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .expect("params");
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = params.signed_by(&key, ca).expect("signed");
        (cert.pem(), key.serialize_pem())
    }

    /// Writes `<name>.pem` and `<name>.key` by renaming over them, as Kubernetes swaps a
    /// mounted Secret; returns the certificate's PEM.
    fn leaf(&self, name: &str, names: &[&str]) -> String {
        let (cert, key) = Self::signed(&self.ca, names);
        for (ext, text) in [("pem", &cert), ("key", &key)] {
            let tmp = self.dir.file(&format!(".{name}.{ext}.new"), text);
            std::fs::rename(tmp, self.path(&format!("{name}.{ext}"))).expect("rename");
        }
        cert
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.0.join(name)
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).expect("read")
    }

    /// A web configuration file serving the server certificate, with `extra` lines.
    fn web_config(&self, extra: &str) -> PathBuf {
        let hash = bcrypt::hash(PASSWORD, 4).expect("hash");
        let text = format!(
            "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n{extra}basic_auth_users:\n  {USER}: {hash}\nhttp_server_config:\n  headers:\n    X-Frame-Options: deny\n"
        );
        let tmp = self.dir.file(".web.yml.new", &text);
        let path = self.path("web.yml");
        std::fs::rename(tmp, &path).expect("rename");
        path
    }

    /// A client trusting the CA, with the named client certificate when given.
    fn client(&self, identity: Option<&str>) -> reqwest::Client {
        tls_client(&self.dir.0, identity, true)
    }
}

async fn daemon(api: &fake::FakeApi, web: PathBuf) -> (Running, Shutdown) {
    let mut cfg = test_config(api);
    cfg.interval = Duration::from_secs(3600);
    cfg.web_config_file = Some(web);
    let sd = Shutdown::new();
    (
        app::start(cfg, sd.clone()).await.expect("daemon starts"),
        sd,
    )
}

async fn stop(running: Running, sd: Shutdown) {
    sd.trigger();
    running.wait().await.expect("clean stop");
}

/// Status and body of an authenticated GET, or the error with its causes.
async fn fetch(
    client: &reqwest::Client,
    url: &str,
    password: Option<&str>,
) -> Result<(u16, String), String> {
    let mut rq = client.get(url);
    if let Some(p) = password {
        rq = rq.basic_auth(USER, Some(p));
    }
    match rq.send().await {
        Ok(r) => Ok((r.status().as_u16(), r.text().await.unwrap_or_default())),
        Err(e) => {
            let mut s = e.to_string();
            let mut src = std::error::Error::source(&e);
            while let Some(c) = src {
                s.push_str(&format!(": {c}"));
                src = c.source();
            }
            Err(s)
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_over_tls_with_basic_auth_and_a_wrong_password_is_down() {
    let pki = Pki::new();
    let api = fake_with(fake::uniform_fleet(3, 2, 0)).await;
    let (running, sd) = daemon(&api, pki.web_config("")).await;
    let target = format!("127.0.0.1:{}", running.addr.port());
    let ca = pki.path("ca.pem");
    let job = |name: &str, password: &str| {
        format!(
            "  - job_name: {name}\n    scheme: https\n    tls_config:\n      ca_file: {}\n    basic_auth:\n      username: {USER}\n      password: '{password}'\n    static_configs:\n      - targets: ['{target}']\n",
            ca.display()
        )
    };
    let jobs = format!("{}{}", job("good", PASSWORD), job("bad", "wrong"));
    let Some(prom) = Prometheus::start_scraping(&[], &jobs, "").await else {
        return stop(running, sd).await;
    };
    let scraped = eventually(Duration::from_secs(30), || async {
        prom.value("up{job=\"good\"}").await == Some(1.0)
            && prom.value("up{job=\"bad\"}").await == Some(0.0)
            && prom.value("cloudflare_mcp_servers{job=\"good\"}").await == Some(3.0)
    })
    .await;
    assert!(scraped, "good up 1 with the daemon's series, bad up 0");
    let targets = reqwest::get(format!("{}/api/v1/targets", prom.base))
        .await
        .expect("targets")
        .text()
        .await
        .expect("body");
    let v: serde_json::Value = serde_json::from_str(&targets).expect("JSON");
    let bad = v["data"]["activeTargets"]
        .as_array()
        .and_then(|a| a.iter().find(|t| t["labels"]["job"] == "bad"))
        .expect("the bad target");
    assert!(
        bad["lastError"].as_str().is_some_and(|e| e.contains("401")),
        "Prometheus reports the 401: {bad}"
    );
    stop(running, sd).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_auth_answers_401_with_a_challenge_and_headers_go_on_every_answer() {
    let pki = Pki::new();
    let api = fake_with(fake::uniform_fleet(1, 2, 0)).await;
    let (running, sd) = daemon(&api, pki.web_config("")).await;
    let url = format!("https://localhost:{}/metrics", running.addr.port());
    let client = pki.client(None);
    for password in [None, Some("wrong"), Some("")] {
        let r = {
            let mut rq = client.get(&url);
            if let Some(p) = password {
                rq = rq.basic_auth(USER, Some(p));
            }
            rq.send().await.expect("answered")
        };
        assert_eq!(r.status().as_u16(), 401, "{password:?}");
        let challenge = r
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok());
        assert!(
            challenge.is_some_and(|c| c.starts_with("Basic ")),
            "{challenge:?}"
        );
        assert_eq!(
            r.headers().get("x-frame-options").map(|v| v.as_bytes()),
            Some(&b"deny"[..])
        );
        assert!(!r
            .text()
            .await
            .unwrap_or_default()
            .contains("cloudflare_mcp"));
    }
    let unknown = client
        .get(&url)
        .basic_auth("root", Some(PASSWORD))
        .send()
        .await
        .expect("answered");
    assert_eq!(
        unknown.status().as_u16(),
        401,
        "an unknown user with a known password"
    );
    let (status, body) = fetch(&client, &url, Some(PASSWORD))
        .await
        .expect("answered");
    assert_eq!(status, 200);
    assert!(
        body.contains("cloudflare_mcp_web_config_last_reload_successful 1"),
        "{body}"
    );
    stop(running, sd).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn require_and_verify_client_cert_turns_away_clients_without_a_cert_from_the_ca() {
    let pki = Pki::new();
    let api = fake_with(fake::uniform_fleet(1, 2, 0)).await;
    let web = pki
        .web_config("  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.pem\n");
    let (running, sd) = daemon(&api, web).await;
    let url = format!("https://localhost:{}/healthz", running.addr.port());
    let none = fetch(&pki.client(None), &url, Some(PASSWORD)).await;
    assert!(
        none.is_err(),
        "no certificate: the handshake fails, got {none:?}"
    );
    let rogue = fetch(&pki.client(Some("rogue")), &url, Some(PASSWORD)).await;
    assert!(
        rogue.is_err(),
        "a certificate of another CA: refused, got {rogue:?}"
    );
    let good = fetch(&pki.client(Some("client")), &url, Some(PASSWORD)).await;
    assert_eq!(
        good.map(|(s, _)| s),
        Ok(200),
        "a certificate signed by the CA"
    );
    let plain = fetch(
        &reqwest::Client::new(),
        &url.replace("https://", "http://"),
        Some(PASSWORD),
    )
    .await;
    assert!(
        plain.is_err(),
        "plain HTTP to the TLS port gets no HTTP answer: {plain:?}"
    );
    stop(running, sd).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_certificate_serves_the_next_connection_and_a_broken_file_keeps_the_last_good() {
    let pki = Pki::new();
    let api = fake_with(fake::uniform_fleet(1, 2, 0)).await;
    let (running, sd) = daemon(&api, pki.web_config("")).await;
    let url = format!("https://localhost:{}/metrics", running.addr.port());
    let first = pki.read("server.pem");
    assert_eq!(
        peer_cert(&pki, &url).await,
        Some(der(&first)),
        "the first certificate is served"
    );
    let second = pki.leaf("server", &["localhost", "127.0.0.1"]);
    assert_ne!(first, second);
    assert_eq!(
        peer_cert(&pki, &url).await,
        Some(der(&second)),
        "the rotated certificate is served"
    );

    std::fs::write(
        pki.path("web.yml"),
        "tls_server_config:\n  cert_file: server.pem\n  key_file: missing.key\n",
    )
    .expect("write");
    let (status, body) = fetch(&pki.client(None), &url, Some(PASSWORD))
        .await
        .expect("still served");
    assert_eq!(
        status, 200,
        "the last good configuration (and its users) keeps serving"
    );
    assert!(
        body.contains("cloudflare_mcp_web_config_last_reload_successful 0"),
        "{body}"
    );
    assert!(body.contains("cloudflare_mcp_web_config_last_reload_success_timestamp_seconds "));
    pki.web_config("");
    let (_, body) = fetch(&pki.client(None), &url, Some(PASSWORD))
        .await
        .expect("served");
    assert!(
        body.contains("cloudflare_mcp_web_config_last_reload_successful 1"),
        "{body}"
    );
    stop(running, sd).await;
}

/// The DER of the first certificate in `pem`.
fn der(pem: &str) -> Vec<u8> {
    use rustls_pki_types::pem::PemObject as _;
    rustls_pki_types::CertificateDer::from_pem_slice(pem.as_bytes())
        .expect("PEM")
        .to_vec()
}

/// The certificate the server presents to a new connection.
async fn peer_cert(pki: &Pki, url: &str) -> Option<Vec<u8>> {
    let r = pki
        .client(None)
        .get(url)
        .basic_auth(USER, Some(PASSWORD))
        .send()
        .await
        .ok()?;
    r.extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|i| i.peer_certificate())
        .map(<[u8]>::to_vec)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthcheck_speaks_tls_with_the_probe_credentials_and_a_bad_file_exits_2() {
    let pki = Pki::new();
    let api = fake_with(fake::uniform_fleet(1, 2, 0)).await;
    let web = pki
        .web_config("  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.pem\n");
    let (running, sd) = daemon(&api, web.clone()).await;
    let listen = running.addr.to_string();
    let probe = |password: Option<&str>, cert: bool| {
        let mut c = bin();
        c.args(["healthcheck", "--listen", &listen, "--web.config.file"])
            .arg(&web);
        c.env("MCP_SYNC_HEALTHCHECK_USERNAME", USER);
        if let Some(p) = password {
            c.env(
                "MCP_SYNC_HEALTHCHECK_PASSWORD_FILE",
                pki.dir.file("probe-password", p),
            );
        }
        if cert {
            c.env("MCP_SYNC_HEALTHCHECK_CERT_FILE", pki.path("client.pem"));
            c.env("MCP_SYNC_HEALTHCHECK_KEY_FILE", pki.path("client.key"));
        }
        let out = c.output().expect("runs");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (code, out) = probe(Some(PASSWORD), true);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("healthy: https://127.0.0.1:"), "{out}");
    let (code, out) = probe(Some("wrong"), true);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("401") && !out.contains("wrong"), "{out}");
    let (code, out) = probe(Some(PASSWORD), false);
    assert_eq!(code, Some(1), "no client certificate: {out}");
    let (code, out) = probe(None, true);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("MCP_SYNC_HEALTHCHECK_PASSWORD"), "{out}");
    stop(running, sd).await;

    let bad = pki.dir.file("bad.yml", "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n  min_version: TLS11\n");
    let out = bin()
        .args(["run", "--listen", "127.0.0.1:0", "--web.config.file"])
        .arg(&bad)
        .envs(env_for(&api))
        .output()
        .expect("runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&bad.display().to_string()) && err.contains("tls_server_config.min_version"),
        "names the file and the key: {err}"
    );
}

/// A client trusting the test CA that connects from `from` (another loopback address is
/// another client address to the daemon).
fn client_from(pki: &Pki, from: &str) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(pki.read("ca.pem").as_bytes()).expect("CA");
    reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(ca)
        .local_address(from.parse::<std::net::IpAddr>().expect("address"))
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_hundred_concurrent_logins_are_served_and_a_flood_of_guesses_costs_others_nothing() {
    let pki = Pki::new();
    let api = fake_with(fake::uniform_fleet(1, 2, 0)).await;
    let mut cfg = test_config(&api);
    cfg.interval = Duration::from_secs(3600);
    cfg.web_config_file = Some(pki.web_config(""));
    let sd = Shutdown::new();
    let running = app::start(cfg, sd.clone()).await.expect("daemon starts");
    let url = format!("https://localhost:{}/healthz", running.addr.port());
    let client = pki.client(None);
    let login = |client: reqwest::Client, user: String, password: String| {
        let url = url.clone();
        async move {
            let r = client
                .get(&url)
                .basic_auth(user, Some(password))
                .send()
                .await;
            r.map(|r| r.status().as_u16()).unwrap_or(0)
        }
    };
    // exporter-toolkit's TestBasicAuthCache: one login of each, then 150 + 150 at once.
    let (right, wrong) = (PASSWORD.to_owned(), format!("{PASSWORD}4"));
    assert_eq!(login(client.clone(), USER.into(), right.clone()).await, 200);
    assert_eq!(login(client.clone(), USER.into(), wrong.clone()).await, 401);
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..150 {
        let (r, w) = (right.clone(), wrong.clone());
        set.spawn(login(client.clone(), USER.into(), r).then_expect(200));
        set.spawn(login(client.clone(), USER.into(), w).then_expect(401));
    }
    let mut answers = Vec::new();
    while let Some(a) = set.join_next().await {
        answers.push(a.expect("task"));
    }
    assert_eq!(answers.len(), 300);
    assert!(answers.iter().all(|(got, want)| got == want), "{answers:?}");

    // Guesses flooding from one address (20 unknown users at once), and an unknown user
    // from another address meanwhile: the flood is shed, the other is answered 401.
    let flood = client_from(&pki, "127.0.0.1");
    let mut set = tokio::task::JoinSet::new();
    for i in 0..20 {
        set.spawn(login(flood.clone(), format!("guess-{i}"), "x".into()));
    }
    let other = tokio::spawn({
        let asked = std::time::Instant::now();
        let answer = login(client_from(&pki, "127.0.0.2"), "nobody".into(), "x".into());
        async move {
            let status = answer.await;
            eprintln!(
                "unknown user from another address amid the flood: {status} after {:?}",
                asked.elapsed()
            );
            status
        }
    });
    let mut flooded = Vec::new();
    while let Some(a) = set.join_next().await {
        flooded.push(a.expect("task"));
    }
    assert_eq!(
        other.await.expect("task"),
        401,
        "another address is not limited"
    );
    assert!(
        flooded.iter().all(|s| [401, 429].contains(s)),
        "{flooded:?}"
    );
    assert!(
        flooded.iter().filter(|s| **s == 429).count() >= 10,
        "at most the allowance of one address is verified: {flooded:?}"
    );
    stop(running, sd).await;
}

/// A login's status beside the status it should have.
trait ThenExpect: std::future::Future<Output = u16> + Sized {
    fn then_expect(self, want: u16) -> impl std::future::Future<Output = (u16, u16)> {
        async move { (self.await, want) }
    }
}

impl<F: std::future::Future<Output = u16>> ThenExpect for F {}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exporter_toolkit_parity_self_signed_clients_system_roots_and_p521() {
    let pki = Pki::new();
    // The toolkit's client_selfsigned.pem: a self-signed CA:TRUE certificate, listed as its
    // own client CA.
    let mut params =
        rcgen::CertificateParams::new(vec!["selfsigned.example".to_string()]).expect("params");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = params.self_signed(&key).expect("self-signed");
    pki.dir.file("selfsigned.pem", &cert.pem());
    pki.dir.file("selfsigned.key", &key.serialize_pem());
    let api = fake_with(fake::uniform_fleet(1, 2, 0)).await;

    let web = pki.web_config(
        "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: selfsigned.pem\n",
    );
    let (running, sd) = daemon(&api, web).await;
    let url = format!("https://localhost:{}/healthz", running.addr.port());
    let pinned = fetch(&pki.client(Some("selfsigned")), &url, Some(PASSWORD)).await;
    assert_eq!(
        pinned.map(|(s, _)| s),
        Ok(200),
        "the pinned self-signed client"
    );
    let other = fetch(&pki.client(Some("client")), &url, Some(PASSWORD)).await;
    assert!(
        other.is_err(),
        "a certificate the file does not vouch for: {other:?}"
    );
    stop(running, sd).await;

    // No client_ca_file: verified against the system roots, as Go does; with
    // VerifyClientCertIfGiven a client without a certificate is served.
    let web = pki.web_config("  client_auth_type: VerifyClientCertIfGiven\n");
    let (running, sd) = daemon(&api, web).await;
    let url = format!("https://localhost:{}/healthz", running.addr.port());
    let none = fetch(&pki.client(None), &url, Some(PASSWORD)).await;
    assert_eq!(
        none.map(|(s, _)| s),
        Ok(200),
        "no certificate, none required"
    );
    let ours = fetch(&pki.client(Some("client")), &url, Some(PASSWORD)).await;
    assert!(ours.is_err(), "the test CA is no system root: {ours:?}");
    stop(running, sd).await;

    // A preference list naming P-521 (rustls with ring has none) serves the others.
    let web = pki.web_config("  curve_preferences: [CurveP521, X25519]\n");
    let (running, sd) = daemon(&api, web).await;
    let url = format!("https://localhost:{}/healthz", running.addr.port());
    let served = fetch(&pki.client(None), &url, Some(PASSWORD)).await;
    assert_eq!(served.map(|(s, _)| s), Ok(200));
    stop(running, sd).await;
}
