//! Abuse of the endpoints, on the plain and the TLS port, on every route a person or a
//! scraper reaches: a 100 KB header, a 10 KB `Accept`, 10,000 query parameters, invalid UTF-8
//! in path and query, and a slowloris connection. Each is answered or closed, the daemon
//! stays healthy and its memory flat. Raw bytes over TCP (and rustls for the TLS port), since
//! an HTTP client refuses to send most of these.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use mcp_sync_monitor::testing::http::{self, AppState, Limits, Renderings};
use mcp_sync_monitor::testing::shutdown::Shutdown;
use mcp_sync_monitor::testing::state::State;
use mcp_sync_monitor::testing::web::Web;

use crate::common::*;

/// How long a request may go unanswered and unclosed before the test calls it a hang.
const HANG: Duration = Duration::from_secs(10);

const ROUTES: [&str; 5] = ["/", "/api/v1/servers", "/metrics", "/healthz", "/runbook"];

/// A server certificate for localhost and a TLS client trusting it.
fn tls_pair(dir: &TempDir) -> (std::path::PathBuf, TlsConnector) {
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .expect("params")
        .self_signed(&key)
        .expect("cert");
    dir.file("server.pem", &cert.pem());
    dir.file("server.key", &key.serialize_pem());
    let web = dir.file(
        "web.yml",
        "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n",
    );
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.der().clone()).expect("root");
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    (web, TlsConnector::from(Arc::new(config)))
}

/// What became of one raw request.
#[derive(Debug, Clone, PartialEq)]
enum Fate {
    /// Answered with this status.
    Answered(u16),
    /// Closed without an answer.
    Closed,
}

async fn send<S: AsyncRead + AsyncWrite + Unpin>(mut s: S, request: &[u8]) -> Fate {
    // The server may answer (and close) before the whole request is written.
    let _ = s.write_all(request).await;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(HANG, s.read(&mut buf)).await {
            Err(_) => panic!(
                "neither answered nor closed: {:?}",
                String::from_utf8_lossy(&got)
            ),
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => {
                got.extend_from_slice(&buf[..n]);
                if got.windows(4).any(|w| w == b"\r\n\r\n") {
                    break;
                }
            }
        }
    }
    let head = String::from_utf8_lossy(&got);
    match head
        .strip_prefix("HTTP/1.1 ")
        .and_then(|r| r.get(..3)?.parse().ok())
    {
        Some(status) => Fate::Answered(status),
        None => Fate::Closed,
    }
}

/// Sends `request` on a new connection to `port`, over TLS when a connector is given.
async fn raw(port: u16, tls: Option<&TlsConnector>, request: &[u8]) -> Fate {
    let tcp = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    match tls {
        None => send(tcp, request).await,
        Some(c) => {
            let name = ServerName::try_from("localhost").expect("name");
            match c.connect(name, tcp).await {
                Ok(s) => send(s, request).await,
                Err(_) => Fate::Closed,
            }
        }
    }
}

fn request(target: &[u8], headers: &[u8]) -> Vec<u8> {
    let mut r = b"GET ".to_vec();
    r.extend_from_slice(target);
    r.extend_from_slice(b" HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    r.extend_from_slice(headers);
    r.extend_from_slice(b"\r\n");
    r
}

/// The abusive requests of one route, each with what it should get.
fn abuses(route: &str) -> Vec<(String, Vec<u8>, Vec<Fate>)> {
    let big_header = format!("X-Padding: {}\r\n", "a".repeat(100 * 1024));
    let big_accept = format!(
        "Accept: {}text/plain\r\n",
        "application/x-nothing;q=0.1, ".repeat(10 * 1024 / 30)
    );
    let params = "q=&".repeat(10_000);
    let ok_or_refused = || {
        vec![
            Fate::Answered(200),
            Fate::Answered(400),
            Fate::Answered(404),
        ]
    };
    let refused = || {
        vec![
            Fate::Answered(400),
            Fate::Answered(404),
            Fate::Answered(414),
            Fate::Answered(431),
            Fate::Closed,
        ]
    };
    let r = route.as_bytes();
    let mut invalid_path = r.to_vec();
    invalid_path.extend_from_slice(b"\xff\xfe");
    let mut invalid_query = r.to_vec();
    invalid_query.extend_from_slice(b"?q=\xff\xfe&account=%ff%fe");
    vec![
        (
            "100 KB header".into(),
            request(r, big_header.as_bytes()),
            [ok_or_refused(), refused()].concat(),
        ),
        (
            "10 KB Accept".into(),
            request(r, big_accept.as_bytes()),
            vec![Fate::Answered(200)],
        ),
        (
            "10,000 query parameters".into(),
            request(format!("{route}?{params}").as_bytes(), b""),
            [ok_or_refused(), refused()].concat(),
        ),
        (
            "invalid UTF-8 in the path".into(),
            request(&invalid_path, b""),
            refused(),
        ),
        (
            "invalid UTF-8 in the query".into(),
            request(&invalid_query, b""),
            [ok_or_refused(), refused()].concat(),
        ),
    ]
}

/// A server on its own with short limits (so that a slowloris is cut off soon), over TLS
/// when `web` is given.
async fn server(web: Option<&std::path::Path>) -> (u16, Shutdown) {
    let state = Arc::new(State::new(["acc"]));
    let app = AppState {
        state,
        renderings: Arc::new(Renderings::default()),
        web: web.map(|p| Arc::new(Web::load(p).expect("web configuration"))),
    };
    let listener = http::bind("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let sd = Shutdown::new();
    let limits = Limits {
        header_timeout: Duration::from_secs(1),
        ..Limits::default()
    };
    tokio::spawn(http::serve_with(listener, app, sd.clone(), limits));
    (port, sd)
}

/// The daemon's binary against the simulated API, on a free port, with `web` when given;
/// the port and the child.
async fn daemon(
    api: &mcp_sync_monitor::fake::FakeApi,
    web: Option<&std::path::Path>,
) -> (u16, Child) {
    let port = free_port();
    let mut cmd = bin();
    cmd.envs(env_for(api))
        .env("MCP_SYNC_INTERVAL", "1h")
        .args(["run", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    if let Some(w) = web {
        cmd.arg("--web.config.file").arg(w);
    }
    let child = Child(cmd.spawn().expect("daemon"));
    (port, child)
}

/// The peak resident memory of a process, in KiB.
fn peak_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abusive_requests_are_answered_or_closed_on_both_ports_and_every_route() {
    let dir = TempDir::new("abuse");
    let (web, connector) = tls_pair(&dir);
    let api = fake_with(mcp_sync_monitor::fake::uniform_fleet(50, 5, 5)).await;
    for (web, tls) in [(None, None), (Some(web.as_path()), Some(&connector))] {
        let (port, child) = daemon(&api, web).await;
        let ready = eventually(Duration::from_secs(20), || async {
            raw_ready(port, tls).await
        })
        .await;
        assert!(ready, "the daemon listed its account");
        // One of each first, so that what is allocated once (a rendering, TLS sessions)
        // is in the baseline.
        for route in ROUTES {
            let _ = raw(port, tls, &request(route.as_bytes(), b"")).await;
        }
        let before = peak_kib(child.0.id());
        for _ in 0..3 {
            for route in ROUTES {
                for (what, req, allowed) in abuses(route) {
                    let asked = Instant::now();
                    let fate = raw(port, tls, &req).await;
                    assert!(
                        allowed.contains(&fate),
                        "{what} on {route} (TLS: {}): {fate:?}",
                        tls.is_some()
                    );
                    eprintln!(
                        "{what} on {route} (TLS: {}): {fate:?} after {:?}",
                        tls.is_some(),
                        asked.elapsed()
                    );
                }
            }
        }
        let healthz = raw(port, tls, &request(b"/healthz", b"")).await;
        assert_eq!(healthz, Fate::Answered(200), "still healthy");
        let after = peak_kib(child.0.id());
        eprintln!("peak RSS {before} KiB before the abuse, {after} KiB after");
        assert!(
            after <= before + 8 * 1024,
            "memory flat: peak {before} KiB before, {after} KiB after 75 abusive requests"
        );
    }
}

/// Whether `/readyz` answers 200.
async fn raw_ready(port: u16, tls: Option<&TlsConnector>) -> bool {
    match TcpStream::connect(("127.0.0.1", port)).await {
        Ok(_) => raw(port, tls, &request(b"/readyz", b"")).await == Fate::Answered(200),
        Err(_) => false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slowloris_is_cut_off_and_blocks_no_one_on_either_port() {
    let dir = TempDir::new("slowloris");
    let (web, connector) = tls_pair(&dir);
    let (plain, sd_plain) = server(None).await;
    let (tls, sd_tls) = server(Some(&web)).await;
    for (port, tls) in [(plain, None), (tls, Some(&connector))] {
        // A header byte now and then, never the end of the headers.
        let drip = async {
            let tcp = TcpStream::connect(("127.0.0.1", port))
                .await
                .expect("connect");
            let mut s: Box<dyn AsyncReadWrite> = match tls {
                None => Box::new(tcp),
                Some(c) => Box::new(
                    c.connect(ServerName::try_from("localhost").expect("name"), tcp)
                        .await
                        .expect("handshake"),
                ),
            };
            let _ = s.write_all(b"GET /metrics HTTP/1.1\r\nX-Slow: ").await;
            let started = Instant::now();
            for _ in 0..100 {
                if s.write_all(b"a").await.is_err() || s.flush().await.is_err() {
                    break;
                }
                let mut b = [0u8; 256];
                if let Ok(Ok(0)) =
                    tokio::time::timeout(Duration::from_millis(200), s.read(&mut b)).await
                {
                    break;
                }
            }
            started.elapsed()
        };
        let other = async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            raw(port, tls, &request(b"/healthz", b"")).await
        };
        let (dripped, healthz) = tokio::join!(drip, other);
        assert_eq!(
            healthz,
            Fate::Answered(200),
            "answered while the slowloris drips"
        );
        assert!(
            dripped < Duration::from_secs(20),
            "cut off by the header time limit, not by the client giving up ({dripped:?})"
        );
        eprintln!(
            "slowloris (TLS: {}) cut off after {dripped:?}",
            tls.is_some()
        );
    }
    sd_plain.trigger();
    sd_tls.trigger();
}

trait AsyncReadWrite: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> AsyncReadWrite for T {}
