//! `/metrics` in OpenMetrics 1.0.0, negotiated as Prometheus negotiates it: the answer a
//! strict OpenMetrics parser accepts, with the same series and values as the text answer,
//! plain or gzip, and what a real Prometheus with its default negotiation makes of it.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::time::Duration;

use crate::common::*;
use crate::http_metrics::{every_kind, first_cycle_done, Daemon};
use crate::prometheus::Prometheus;

/// Prometheus 3's default `Accept` header.
pub const PROMETHEUS_3_ACCEPT: &str = "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
const TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A scrape with these headers: content type and the body, inflated when gzip was asked.
async fn scrape(url: &str, accept: Option<&str>, gzip: bool) -> (String, String) {
    let client = reqwest::Client::new();
    let mut req = client.get(url);
    if let Some(a) = accept {
        req = req.header("accept", a);
    }
    if gzip {
        req = req.header("accept-encoding", "gzip");
    }
    let r = req.send().await.expect("scrape");
    assert_eq!(r.status(), 200);
    let header = |name| {
        r.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let (ct, ce) = (header("content-type"), header("content-encoding"));
    let body = r.bytes().await.expect("body");
    let text = if gzip {
        assert_eq!(ce, "gzip");
        let mut s = String::new();
        flate2::read::MultiGzDecoder::new(&body[..])
            .read_to_string(&mut s)
            .expect("gzip");
        s
    } else {
        assert_eq!(ce, "");
        String::from_utf8(body.to_vec()).expect("UTF-8")
    };
    (ct, text)
}

/// Every sample line as series → value (comments left out).
fn samples(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            Some((series_key(series), value.to_owned()))
        })
        .collect()
}

/// A series as Prometheus identifies it: its name and its labels sorted by name, with a
/// bucket's `le` read as a number (OpenMetrics writes `1.0` where text writes `1`, and the
/// formats order a bucket's labels differently).
fn series_key(series: &str) -> String {
    let Some((name, rest)) = series.split_once('{') else {
        return series.to_owned();
    };
    let body = rest.strip_suffix('}').unwrap_or(rest);
    let mut labels = Vec::new();
    let mut chars = body.chars().peekable();
    while chars.peek().is_some() {
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        assert_eq!(chars.next(), Some('"'), "a quoted value in {series}");
        let mut value = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\\' => value.extend([c, chars.next().unwrap_or(' ')]),
                '"' => break,
                c => value.push(c),
            }
        }
        if key == "le" {
            if let Ok(v) = value.parse::<f64>() {
                value = format!("{v}");
            }
        }
        labels.push(format!("{}=\"{value}\"", key.trim_start_matches(',')));
        if chars.peek() == Some(&',') {
            chars.next();
        }
    }
    labels.sort();
    format!("{name}{{{}}}", labels.join(","))
}

/// The number of samples `prometheus_client`'s strict OpenMetrics parser reads in `text`,
/// or its error; `None` when it is missing and skipping is allowed.
fn strict_parse(text: &str) -> Option<Result<usize, String>> {
    use std::io::Write as _;
    let python = external_tool("python3")?;
    let script = "import sys\n\
        try:\n    from prometheus_client.openmetrics.parser import text_string_to_metric_families\n\
        except ImportError:\n    sys.exit(3)\n\
        families = list(text_string_to_metric_families(sys.stdin.read()))\n\
        print(sum(len(f.samples) for f in families))\n";
    let mut child = std::process::Command::new(python)
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(text.as_bytes()).expect("write");
    drop(stdin);
    let out = child.wait_with_output().expect("python3 ends");
    if out.status.code() == Some(3) {
        if std::env::var("MCP_SYNC_SKIP_EXTERNAL").as_deref() == Ok("1") {
            return None;
        }
        panic!("prometheus_client is not installed: the README's test command installs it");
    }
    Some(if out.status.success() {
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .map_err(|e| format!("{e}"))
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_3_gets_strict_openmetrics_with_the_series_and_values_of_the_text_answer() {
    let api = fake_with(every_kind()).await;
    let d = Daemon::start(&api, Duration::from_secs(3600)).await;
    d.wait_for("the first cycle", first_cycle_done).await;
    let url = format!("{}/metrics", d.base);
    let (ct, text) = scrape(&url, None, false).await;
    assert_eq!(ct, TEXT, "no Accept header: text");
    assert!(!text.contains("# EOF") && !text.contains("# UNIT"));
    let (ct, om) = scrape(&url, Some(PROMETHEUS_3_ACCEPT), false).await;
    assert_eq!(ct, OPENMETRICS);
    let (ct, om_gzip) = scrape(&url, Some(PROMETHEUS_3_ACCEPT), true).await;
    assert_eq!(ct, OPENMETRICS);
    assert!(om.ends_with("# EOF\n") && om_gzip.ends_with("# EOF\n"));
    assert_eq!(om.matches("# EOF").count(), 1);
    assert!(om.contains("# TYPE cloudflare_mcp_syncs counter\n"), "{om}");
    assert!(om.contains("# TYPE process_cpu_seconds counter\n# UNIT process_cpu_seconds seconds\n"));
    assert!(
        om.contains("\ncloudflare_mcp_syncs_total{"),
        "samples keep _total"
    );

    // The same series and values sample by sample (process_* move between scrapes: their
    // series are compared, not their values).
    let (t, o, g) = (samples(&text), samples(&om), samples(&om_gzip));
    let keys = |m: &BTreeMap<String, String>| m.keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&t), keys(&o), "the same series");
    assert_eq!(keys(&o), keys(&g), "gzip or not");
    let fixed = |m: &BTreeMap<String, String>| {
        m.iter()
            .filter(|(k, _)| !k.starts_with("process_"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(fixed(&t), fixed(&o), "the same values");
    assert_eq!(fixed(&o), fixed(&g));
    assert!(t.len() > 100, "{}", t.len());

    if let Some(parsed) = strict_parse(&om) {
        assert_eq!(parsed, Ok(o.len()), "the strict parser reads every sample");
    }
    if let Some(parsed) = strict_parse(&text) {
        assert!(
            parsed.is_err(),
            "text is not OpenMetrics (no # EOF): the parser is strict"
        );
    }
    if let Some(checked) = promtool_check_metrics(&text) {
        assert_eq!(checked, Ok(()), "promtool check metrics on text");
    }
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_prometheus_negotiating_as_it_does_scrapes_every_sample() {
    let api = fake_with(every_kind()).await;
    let d = Daemon::start(&api, Duration::from_secs(3600)).await;
    d.wait_for("the first cycle", first_cycle_done).await;
    let (_, text) = scrape(&format!("{}/metrics", d.base), None, false).await;
    let expected = samples(&text).len() as f64;
    let target = d.base.trim_start_matches("http://").to_owned();
    let Some(p) = Prometheus::start(&target, &[]).await else {
        return;
    };
    let q = "scrape_samples_scraped{job=\"mcp-sync-monitor\"}";
    let scraped = eventually(Duration::from_secs(30), || async {
        p.value("up{job=\"mcp-sync-monitor\"}").await == Some(1.0) && p.value(q).await.is_some()
    })
    .await;
    assert!(scraped, "Prometheus never scraped the daemon successfully");
    assert_eq!(
        p.value(q).await,
        Some(expected),
        "as many samples as the text scrape"
    );
    assert_eq!(
        p.value("count(cloudflare_mcp_syncs_total)").await,
        Some(
            samples(&text)
                .keys()
                .filter(|k| k.starts_with("cloudflare_mcp_syncs_total{"))
                .count() as f64
        ),
        "counters keep their _total name in Prometheus"
    );
    d.stop().await;
}
