//! Renders [`State`] as Prometheus metrics, at scrape time.
//!
//! Nothing is registered ahead of time: every scrape builds the metric families from the
//! current state, so a server that left the account leaves `/metrics` too, and a value the
//! daemon does not know is a missing series, never a fake 0. The `prometheus` crate's data
//! model and text encoder produce the exposition format.

use std::time::{SystemTime, UNIX_EPOCH};

use prometheus::proto::{
    Bucket, Counter, Gauge, Histogram as PHistogram, LabelPair, Metric, MetricFamily, MetricType,
};
use prometheus::{Encoder, TextEncoder};

use crate::process::{self, ProcessStats};
use crate::state::{Histogram, ServerState, Snapshot, State};

/// The exposition format's content type (Prometheus 3 refuses a blank one).
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

const NS: &str = "cloudflare_mcp_";

fn ts(t: SystemTime) -> f64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    }
}

fn labels(pairs: &[(&str, &str)]) -> Vec<LabelPair> {
    pairs
        .iter()
        .map(|(k, v)| {
            let mut l = LabelPair::default();
            l.set_name((*k).to_owned());
            l.set_value((*v).to_owned());
            l
        })
        .collect()
}

struct Family {
    mf: MetricFamily,
}

impl Family {
    fn new(name: &str, help: &str, t: MetricType) -> Self {
        Self::named(format!("{NS}{name}"), help, t)
    }

    fn named(name: String, help: &str, t: MetricType) -> Self {
        let mut mf = MetricFamily::default();
        mf.set_name(name);
        mf.set_help(help.to_owned());
        mf.set_field_type(t);
        Self { mf }
    }

    fn gauge(&mut self, l: &[(&str, &str)], v: f64) {
        let mut g = Gauge::default();
        g.set_value(v);
        let mut m = Metric::from_label(labels(l));
        m.set_gauge(g);
        self.mf.mut_metric().push(m);
    }

    fn counter(&mut self, l: &[(&str, &str)], v: f64) {
        let mut c = Counter::default();
        c.set_value(v);
        let mut m = Metric::from_label(labels(l));
        m.set_counter(c);
        self.mf.mut_metric().push(m);
    }

    fn histogram(&mut self, l: &[(&str, &str)], h: &Histogram) {
        let mut ph = PHistogram::default();
        let mut cum = 0;
        let buckets = h
            .bounds
            .iter()
            .zip(&h.counts)
            .map(|(b, c)| {
                cum += c;
                let mut bk = Bucket::default();
                bk.set_upper_bound(*b);
                bk.set_cumulative_count(cum);
                bk
            })
            .collect();
        ph.set_bucket(buckets);
        ph.set_sample_count(h.count);
        ph.set_sample_sum(h.sum);
        let mut m = Metric::from_label(labels(l));
        m.set_histogram(ph);
        self.mf.mut_metric().push(m);
    }
}

/// Builds the account-level, settings and `process_*` metric families (few series) with the
/// `prometheus` crate's data model. Families without a series are left out.
pub fn gather(snap: &Snapshot) -> Vec<MetricFamily> {
    use MetricType::{COUNTER, GAUGE, HISTOGRAM};

    let mut up = Family::new(
        "up",
        "1 when the last listing of the account completed, 0 when it failed.",
        GAUGE,
    );
    let mut servers = Family::new(
        "servers",
        "MCP servers in the last complete listing (within the include/exclude filters).",
        GAUGE,
    );
    let mut stale = Family::new(
        "servers_stale",
        "Of the servers in the last complete listing, those that are stale.",
        GAUGE,
    );
    let mut last_list = Family::new(
        "last_list_success_timestamp_seconds",
        "Unix time at the end of the last complete listing.",
        GAUGE,
    );
    let mut cycle = Family::new(
        "cycle_duration_seconds",
        "Duration of one cycle, list to publish.",
        HISTOGRAM,
    );
    let mut requests = Family::new(
        "api_requests_total",
        "Cloudflare API requests by endpoint and HTTP status (error: no answer).",
        COUNTER,
    );
    let mut durations = Family::new(
        "api_request_duration_seconds",
        "Duration of Cloudflare API requests, body included.",
        HISTOGRAM,
    );
    let mut remaining = Family::new(
        "api_ratelimit_remaining",
        "Requests remaining per the last Ratelimit header; absent if never seen.",
        GAUGE,
    );
    let mut reset = Family::new(
        "api_ratelimit_reset_timestamp_seconds",
        "Unix time at which the window of the last Ratelimit header resets; absent if never seen.",
        GAUGE,
    );
    let mut build = Family::new(
        "build_info",
        "Version of mcp-sync-monitor (always 1).",
        GAUGE,
    );
    let mut interval = Family::new(
        "interval_seconds",
        "The configured time between cycles (for alert rules).",
        GAUGE,
    );
    let mut stale_after = Family::new(
        "stale_after_seconds",
        "The configured age after which a server is stale (for alert rules).",
        GAUGE,
    );
    if let Some(s) = snap.settings {
        interval.gauge(&[], s.interval.as_secs_f64());
        stale_after.gauge(&[], s.stale_after.as_secs_f64());
    }

    for (acct, a) in &snap.accounts {
        let al = [("account_id", acct.as_str())];
        if let Some(u) = a.up {
            up.gauge(&al, flag(u));
        }
        if a.listed {
            servers.gauge(&al, a.servers.len() as f64);
            stale.gauge(&al, a.stale_count() as f64);
        }
        if let Some(t) = a.last_list_success {
            last_list.gauge(&al, ts(t));
        }
        cycle.histogram(&al, &a.cycle_duration);
        if let Some(r) = a.ratelimit_remaining {
            remaining.gauge(&al, r as f64);
        }
        if let Some(t) = a.ratelimit_reset {
            reset.gauge(&al, ts(t));
        }
        for ((ep, code), n) in &a.api_requests {
            let code = code.map_or_else(|| "error".to_owned(), |c| c.to_string());
            requests.counter(
                &[
                    ("account_id", acct),
                    ("endpoint", ep.as_str()),
                    ("code", &code),
                ],
                *n as f64,
            );
        }
    }
    for (ep, h) in &snap.request_durations {
        durations.histogram(&[("endpoint", ep.as_str())], h);
    }
    build.gauge(&[("version", env!("CARGO_PKG_VERSION"))], 1.0);

    [
        up,
        servers,
        stale,
        last_list,
        cycle,
        requests,
        durations,
        remaining,
        reset,
        build,
        interval,
        stale_after,
    ]
    .into_iter()
    .chain(process_families(&process::read()))
    .map(|f| f.mf)
    .filter(|mf| !mf.get_metric().is_empty())
    .collect()
}

/// The standard `process_*` families, without the daemon's namespace.
fn process_families(p: &ProcessStats) -> Vec<Family> {
    use MetricType::{COUNTER, GAUGE};
    let one = |name: &str, help: &str, t, v: Option<f64>| {
        let mut f = Family::named(format!("process_{name}"), help, t);
        if let Some(v) = v {
            match t {
                COUNTER => f.counter(&[], v),
                _ => f.gauge(&[], v),
            }
        }
        f
    };
    vec![
        one(
            "cpu_seconds_total",
            "Total user and system CPU time spent in seconds.",
            COUNTER,
            p.cpu_seconds,
        ),
        one(
            "resident_memory_bytes",
            "Resident memory size in bytes.",
            GAUGE,
            p.resident_bytes,
        ),
        one(
            "virtual_memory_bytes",
            "Virtual memory size in bytes.",
            GAUGE,
            p.virtual_bytes,
        ),
        one(
            "open_fds",
            "Number of open file descriptors.",
            GAUGE,
            p.open_fds,
        ),
        one(
            "max_fds",
            "Maximum number of open file descriptors.",
            GAUGE,
            p.max_fds,
        ),
        one(
            "start_time_seconds",
            "Start time of the process since unix epoch in seconds.",
            GAUGE,
            p.start_time_seconds,
        ),
    ]
}

fn flag(b: bool) -> f64 {
    if b {
        1.0
    } else {
        0.0
    }
}

/// The per-server families: name, type, help, and how to read the value (`None`: no series).
type ServerValue = fn(&ServerState) -> Option<f64>;

const SERVER_FAMILIES: &[(&str, &str, &str, ServerValue)] = &[
    (
        "server_last_successful_sync_timestamp_seconds",
        "gauge",
        "Unix time of the server's last successful sync; absent if never.",
        |s| s.info.last_successful_sync.map(ts),
    ),
    (
        "server_last_synced_timestamp_seconds",
        "gauge",
        "Unix time of the server's last sync attempt; absent if never.",
        |s| s.info.last_synced.map(ts),
    ),
    (
        "server_stale",
        "gauge",
        "1 when the server is stale, 0 when fresh.",
        |s| Some(flag(s.info.stale)),
    ),
    (
        "server_error",
        "gauge",
        "1 when Cloudflare reports an error for the server.",
        |s| Some(flag(s.info.error)),
    ),
    (
        "server_error_retryable",
        "gauge",
        "1 when the server's error is retryable per error_details; absent without details.",
        |s| s.info.error_retryable.map(flag),
    ),
    (
        "server_tools",
        "gauge",
        "Number of tools the server exposes.",
        |s| s.info.tools.map(|n| n as f64),
    ),
    (
        "server_prompts",
        "gauge",
        "Number of prompts the server exposes.",
        |s| s.info.prompts.map(|n| n as f64),
    ),
    (
        "server_consecutive_sync_failures",
        "gauge",
        "Syncs of the server that failed in a row; resets on success.",
        |s| Some(f64::from(s.consecutive_failures)),
    ),
    (
        "syncs_total",
        "counter",
        "Syncs triggered (one per decision, however many retries).",
        |s| Some(s.syncs_total as f64),
    ),
    (
        "sync_failures_total",
        "counter",
        "Syncs that failed after their retries.",
        |s| Some(s.failures_total as f64),
    ),
];

/// One server as a scrape sees it: its labels, escaped once, and its values.
struct Row {
    /// `account_id="…",server_id="…"`
    labels: String,
    /// `name="…",hostname="…",auth_type="…"`
    info: String,
    status: Option<String>,
    auth_status: Option<String>,
    values: [Option<f64>; SERVER_FAMILIES.len()],
    retries: [u64; 3],
}

const RETRY_REASONS: [&str; 3] = ["retryable", "rate_limited", "transient"];

/// A consistent copy of everything one scrape renders, taken under the state's read lock
/// in one go and rendered after it is released, so a scrape holds the lock for
/// milliseconds however slowly its client reads.
pub struct Scrape {
    head: Vec<MetricFamily>,
    rows: Vec<Row>,
}

/// Copies what a scrape renders out of the state.
pub fn snapshot(state: &State) -> Scrape {
    let snap = state.read();
    let head = gather(&snap);
    let mut rows = Vec::with_capacity(snap.accounts.values().map(|a| a.servers.len()).sum());
    for (acct, a) in &snap.accounts {
        for (id, s) in &a.servers {
            let mut labels = String::with_capacity(acct.len() + id.len() + 28);
            label(&mut labels, "account_id", acct);
            labels.push(',');
            label(&mut labels, "server_id", id);
            let mut info = String::with_capacity(s.info.name.len() + s.info.hostname.len() + 40);
            label(&mut info, "name", &s.info.name);
            info.push(',');
            label(&mut info, "hostname", &s.info.hostname);
            info.push(',');
            label(&mut info, "auth_type", &s.info.auth_type);
            let mut values = [None; SERVER_FAMILIES.len()];
            for (v, (_, _, _, get)) in values.iter_mut().zip(SERVER_FAMILIES) {
                *v = get(s);
            }
            rows.push(Row {
                labels,
                info,
                status: s.info.status.clone(),
                auth_status: s.info.authentication_status.clone(),
                values,
                retries: [
                    s.retries.retryable,
                    s.retries.rate_limited,
                    s.retries.transient,
                ],
            });
        }
    }
    Scrape { head, rows }
}

/// Writes the exposition of `scrape` in pieces of about `chunk` bytes, handing each to
/// `sink`; stops early when `sink` returns `false` (the client went away).
pub fn write(scrape: &Scrape, chunk: usize, mut sink: impl FnMut(String) -> bool) {
    let mut buf = Vec::with_capacity(16 * 1024);
    // Encoding our own well-formed families cannot fail; an error would leave a partial
    // body, which Prometheus reports as a failed scrape.
    if let Err(e) = TextEncoder::new().encode(&scrape.head, &mut buf) {
        tracing::error!(error = %e, "could not encode metrics");
    }
    let mut out = String::from_utf8(buf).unwrap_or_default();
    out.reserve(chunk);
    let mut flush = |out: &mut String, force: bool| -> bool {
        if out.len() >= chunk || (force && !out.is_empty()) {
            let full = std::mem::replace(out, String::with_capacity(chunk + 4096));
            return sink(full);
        }
        true
    };
    let rows = &scrape.rows;
    if !rows.is_empty() {
        header(
            &mut out,
            "server_info",
            "gauge",
            "Identity of an MCP server (always 1).",
        );
        for r in rows {
            sample_start(&mut out, "server_info", &r.labels);
            out.push(',');
            out.push_str(&r.info);
            out.push_str("} 1\n");
            if !flush(&mut out, false) {
                return;
            }
        }
    }
    for (name, help, pick) in [
        ("server_status", "The server's current status as Cloudflare reports it (always 1).", (|r: &Row| r.status.as_deref()) as fn(&Row) -> Option<&str>),
        ("server_authentication_status", "The server's authentication_status (always 1); required or stale needs a person to sign in again.", |r: &Row| r.auth_status.as_deref()),
    ] {
        if rows.iter().all(|r| pick(r).is_none()) {
            continue;
        }
        header(&mut out, name, "gauge", help);
        for r in rows {
            if let Some(v) = pick(r) {
                sample_start(&mut out, name, &r.labels);
                out.push(',');
                label(&mut out, "status", v);
                out.push_str("} 1\n");
                if !flush(&mut out, false) {
                    return;
                }
            }
        }
    }
    for (i, (name, kind, help, _)) in SERVER_FAMILIES.iter().enumerate() {
        if rows.iter().all(|r| r.values[i].is_none()) {
            continue;
        }
        header(&mut out, name, kind, help);
        for r in rows {
            if let Some(v) = r.values[i] {
                sample_start(&mut out, name, &r.labels);
                out.push_str("} ");
                number(&mut out, v);
                out.push('\n');
                if !flush(&mut out, false) {
                    return;
                }
            }
        }
    }
    if rows.iter().any(|r| r.retries.iter().any(|n| *n > 0)) {
        header(
            &mut out,
            "sync_retries_total",
            "counter",
            "Sync retries by reason: retryable, rate_limited, transient.",
        );
        for r in rows {
            for (reason, n) in RETRY_REASONS.iter().zip(r.retries) {
                if n > 0 {
                    sample_start(&mut out, "sync_retries_total", &r.labels);
                    out.push_str(",reason=\"");
                    out.push_str(reason);
                    out.push_str("\"} ");
                    number(&mut out, n as f64);
                    out.push('\n');
                }
            }
            if !flush(&mut out, false) {
                return;
            }
        }
    }
    flush(&mut out, true);
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    out.push_str("# HELP ");
    out.push_str(NS);
    out.push_str(name);
    out.push(' ');
    out.push_str(help);
    out.push_str("\n# TYPE ");
    out.push_str(NS);
    out.push_str(name);
    out.push(' ');
    out.push_str(kind);
    out.push('\n');
}

fn sample_start(out: &mut String, name: &str, labels: &str) {
    out.push_str(NS);
    out.push_str(name);
    out.push('{');
    out.push_str(labels);
}

/// `name="value"` with the exposition format's escaping.
fn label(out: &mut String, name: &str, value: &str) {
    out.push_str(name);
    out.push_str("=\"");
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
}

fn number(out: &mut String, v: f64) {
    use std::fmt::Write as _;
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        let _ = write!(out, "{}", v as i64);
    } else {
        let _ = write!(out, "{v}");
    }
}

/// The whole exposition of the current state as one string (tests and small states; the
/// HTTP handler streams [`write`]'s pieces instead).
pub fn render(state: &State) -> String {
    let scrape = snapshot(state);
    let mut text = String::new();
    write(&scrape, 1 << 20, |piece| {
        text.push_str(&piece);
        true
    });
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloudflare::Server;
    use crate::state::Listed;

    #[test]
    fn unknown_values_are_absent_and_removed_servers_leave() {
        let st = State::new(["acc"]);
        let text = render(&st);
        assert!(!text.contains("cloudflare_mcp_up{"), "{text}");
        assert!(!text.contains("cloudflare_mcp_servers{"), "{text}");
        let server = Server {
            id: "s1".into(),
            name: Some("One \"quoted\"".into()),
            ..Server::default()
        };
        st.listing_complete("acc", vec![Listed::new(server, true)], SystemTime::now());
        let text = render(&st);
        assert!(
            text.contains("cloudflare_mcp_servers{account_id=\"acc\"} 1"),
            "{text}"
        );
        assert!(text.contains("name=\"One \\\"quoted\\\"\""), "{text}");
        assert!(
            !text.contains("server_last_successful_sync_timestamp_seconds{"),
            "{text}"
        );
        assert!(!text.contains("server_tools{"), "{text}");
        st.listing_complete("acc", vec![], SystemTime::now());
        assert!(!render(&st).contains("server_id=\"s1\""));
    }
}
