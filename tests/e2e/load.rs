//! `/metrics` under load: concurrent scrapes share one complete rendering, gzip when asked,
//! a stalled reader blocks nobody and is disconnected, and connections over the limit get
//! 503 instead of taking the daemon down.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use mcp_sync_monitor::testing::http::{self, AppState, Limits, Renderings};
use mcp_sync_monitor::testing::shutdown::Shutdown;
use mcp_sync_monitor::testing::state::{AccountView, Action, ServerInfo, State};

use crate::common::*;
use crate::openmetrics::PROMETHEUS_3_ACCEPT;

/// A state of `n` servers with long names (so that a body is megabytes), served by the real
/// HTTP server within `limits`.
async fn server(n: usize, limits: Limits) -> (String, Shutdown) {
    let state = Arc::new(State::new(["acc"]));
    let listed = (0..n)
        .map(|i| {
            let s = ServerInfo {
                id: format!("s{i:05}").into(),
                name: format!("server {i} {}", "x".repeat(200)).into(),
                hostname: format!("https://mcp-{i}.example.com/mcp").into(),
                tools: Some(20),
                last_successful_sync: Some(std::time::SystemTime::now()),
                ..ServerInfo::default()
            };
            (s, Action::None)
        })
        .collect();
    let now = std::time::SystemTime::now();
    state.publish("acc", AccountView::default().relisted(listed, now));
    let app = AppState {
        state,
        renderings: Arc::new(Renderings::default()),
        web: None,
    };
    let listener = http::bind("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let sd = Shutdown::new();
    tokio::spawn(http::serve_with(listener, app, sd.clone(), limits));
    (format!("http://{addr}"), sd)
}

/// The body without the `process_*` families, which change between two scrapes.
fn without_process(body: &str) -> String {
    body.lines()
        .filter(|l| !l.contains("process_"))
        .map(|l| format!("{l}\n"))
        .collect()
}

pub(crate) async fn scrape(url: &str, gzip: bool) -> (u16, Option<String>, Vec<u8>) {
    scrape_as(url, gzip, None).await
}

/// A scrape with an `Accept` header (e.g. Prometheus 3's, which asks for OpenMetrics).
async fn scrape_as(url: &str, gzip: bool, accept: Option<&str>) -> (u16, Option<String>, Vec<u8>) {
    let mut req = reqwest::Client::new().get(url);
    if let Some(a) = accept {
        req = req.header("accept", a);
    }
    if gzip {
        req = req.header("accept-encoding", "gzip");
    }
    let r = req.send().await.expect("scrape");
    let status = r.status().as_u16();
    let enc = r
        .headers()
        .get("content-encoding")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (status, enc, r.bytes().await.expect("body").to_vec())
}

pub(crate) fn gunzip(bytes: &[u8]) -> String {
    let mut out = String::new();
    flate2::read::MultiGzDecoder::new(bytes)
        .read_to_string(&mut out)
        .expect("valid gzip");
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_scrapes_get_the_same_complete_body_plain_or_gzip() {
    let (base, sd) = server(2_000, Limits::default()).await;
    let url = format!("{base}/metrics");
    // Four kinds, four of each, at once: text or OpenMetrics, plain or gzip.
    let kind = |i: usize| (i % 2 == 1, (i / 2) % 2 == 1);
    let mut set = tokio::task::JoinSet::new();
    for i in 0..16 {
        let url = url.clone();
        let (gzip, om) = kind(i);
        let accept = om.then_some(PROMETHEUS_3_ACCEPT);
        set.spawn(async move { (i, scrape_as(&url, gzip, accept).await) });
    }
    let mut bodies: Vec<(usize, _)> = Vec::new();
    while let Some(r) = set.join_next().await {
        bodies.push(r.expect("scrape task"));
    }
    bodies.sort_by_key(|(i, _)| *i);
    let mut texts = [Vec::new(), Vec::new()];
    for (i, (status, enc, body)) in bodies {
        assert_eq!(status, 200);
        let (gzip, om) = kind(i);
        let text = if gzip {
            assert_eq!(enc.as_deref(), Some("gzip"), "asked for gzip");
            gunzip(&body)
        } else {
            assert_eq!(enc, None, "plain when gzip was not asked for");
            String::from_utf8(body).expect("utf-8")
        };
        assert!(
            text.contains("process_start_time_seconds"),
            "process families in every body"
        );
        assert_eq!(text.ends_with("# EOF\n"), om, "# EOF ends OpenMetrics only");
        texts[usize::from(om)].push(without_process(&text));
    }
    for texts in &texts {
        assert_eq!(
            texts[0].matches("cloudflare_mcp_server_info{").count(),
            2_000,
            "complete"
        );
        assert!(
            texts.iter().all(|t| *t == texts[0]),
            "every scrape of a format saw the same rendering"
        );
    }
    // gzip is worth it.
    let (_, _, plain) = scrape(&url, false).await;
    let (_, _, gz) = scrape(&url, true).await;
    assert!(
        gz.len() * 8 <= plain.len(),
        "gzip {} vs plain {}",
        gz.len(),
        plain.len()
    );
    if let Some(checked) = promtool_check_metrics(&gunzip(&gz)) {
        assert_eq!(checked, Ok(()), "promtool check metrics on the gzip body");
    }
    sd.trigger();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_reader_blocks_no_other_scrape_and_is_disconnected() {
    let limits = Limits {
        write_timeout: Duration::from_secs(1),
        ..Limits::default()
    };
    let (base, sd) = server(10_000, limits).await;
    let addr = base.trim_start_matches("http://").to_owned();
    // A client that asks for megabytes and never reads them.
    let mut stalled = TcpStream::connect(&addr).expect("connect");
    stalled
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("request");
    let mut stalled_om = TcpStream::connect(&addr).expect("connect");
    stalled_om
        .write_all(
            b"GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: application/openmetrics-text\r\n\r\n",
        )
        .expect("request");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (status, _, body) = scrape(&format!("{base}/metrics"), false).await;
    assert_eq!(status, 200, "another scrape completes meanwhile");
    assert!(String::from_utf8_lossy(&body).ends_with('\n'));
    // The stalled client is cut off once it has left the response unread for a second: what
    // it reads now ends before the whole body.
    stalled
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    tokio::time::sleep(Duration::from_secs(2)).await;
    for mut s in [stalled, stalled_om] {
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let mut got = Vec::new();
        let _ = s.read_to_end(&mut got);
        assert!(
            got.len() < body.len(),
            "disconnected after {} of {} bytes",
            got.len(),
            body.len()
        );
    }
    sd.trigger();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_limit_get_503_and_the_server_stays_up() {
    let limits = Limits {
        max_connections: 4,
        header_timeout: Duration::from_secs(30),
        ..Limits::default()
    };
    let (base, sd) = server(10, limits).await;
    let addr = base.trim_start_matches("http://").to_owned();
    let idle: Vec<TcpStream> = (0..4)
        .map(|_| TcpStream::connect(&addr).expect("connect"))
        .collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (status, _, body) = scrape(&format!("{base}/metrics"), false).await;
    assert_eq!(status, 503, "{}", String::from_utf8_lossy(&body));
    drop(idle);
    let ok = eventually(Duration::from_secs(10), || async {
        scrape(&format!("{base}/metrics"), false).await.0 == 200
    })
    .await;
    assert!(ok, "served again once the idle connections closed");
    sd.trigger();
}
