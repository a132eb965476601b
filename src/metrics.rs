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

use crate::state::{Histogram, State};

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
        let mut mf = MetricFamily::default();
        mf.set_name(format!("{NS}{name}"));
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

/// Builds every metric family from the state. Families without a series are left out.
pub fn gather(state: &State) -> Vec<MetricFamily> {
    use MetricType::{COUNTER, GAUGE, HISTOGRAM};
    let snap = state.read();

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
    let mut info = Family::new(
        "server_info",
        "Identity of an MCP server (always 1).",
        GAUGE,
    );
    let mut status = Family::new(
        "server_status",
        "The server's current status as Cloudflare reports it (always 1).",
        GAUGE,
    );
    let mut auth_status = Family::new("server_authentication_status", "The server's authentication_status (always 1); required or stale needs a person to sign in again.", GAUGE);
    let mut last_success = Family::new(
        "server_last_successful_sync_timestamp_seconds",
        "Unix time of the server's last successful sync; absent if never.",
        GAUGE,
    );
    let mut last_synced = Family::new(
        "server_last_synced_timestamp_seconds",
        "Unix time of the server's last sync attempt; absent if never.",
        GAUGE,
    );
    let mut server_stale = Family::new(
        "server_stale",
        "1 when the server is stale, 0 when fresh.",
        GAUGE,
    );
    let mut server_error = Family::new(
        "server_error",
        "1 when Cloudflare reports an error for the server.",
        GAUGE,
    );
    let mut retryable = Family::new(
        "server_error_retryable",
        "1 when the server's error is retryable per error_details; absent without details.",
        GAUGE,
    );
    let mut tools = Family::new("server_tools", "Number of tools the server exposes.", GAUGE);
    let mut prompts = Family::new(
        "server_prompts",
        "Number of prompts the server exposes.",
        GAUGE,
    );
    let mut consecutive = Family::new(
        "server_consecutive_sync_failures",
        "Syncs of the server that failed in a row; resets on success.",
        GAUGE,
    );
    let mut syncs = Family::new(
        "syncs_total",
        "Syncs triggered (one per decision, however many retries).",
        COUNTER,
    );
    let mut failures = Family::new(
        "sync_failures_total",
        "Syncs that failed after their retries.",
        COUNTER,
    );
    let mut retries = Family::new(
        "sync_retries_total",
        "Sync retries by reason: retryable, rate_limited, transient.",
        COUNTER,
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
    let mut build = Family::new(
        "build_info",
        "Version of mcp-sync-monitor (always 1).",
        GAUGE,
    );

    let flag = |b: bool| if b { 1.0 } else { 0.0 };
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
        for (id, s) in &a.servers {
            let l = [("account_id", acct.as_str()), ("server_id", id.as_str())];
            info.gauge(
                &[
                    ("account_id", acct),
                    ("server_id", id),
                    ("name", &s.name),
                    ("hostname", &s.hostname),
                    ("auth_type", &s.auth_type),
                ],
                1.0,
            );
            if let Some(st) = &s.status {
                status.gauge(
                    &[("account_id", acct), ("server_id", id), ("status", st)],
                    1.0,
                );
            }
            if let Some(st) = &s.authentication_status {
                auth_status.gauge(
                    &[("account_id", acct), ("server_id", id), ("status", st)],
                    1.0,
                );
            }
            if let Some(t) = s.last_successful_sync {
                last_success.gauge(&l, ts(t));
            }
            if let Some(t) = s.last_synced {
                last_synced.gauge(&l, ts(t));
            }
            server_stale.gauge(&l, flag(s.stale));
            server_error.gauge(&l, flag(s.error));
            if let Some(r) = s.error_retryable {
                retryable.gauge(&l, flag(r));
            }
            if let Some(n) = s.tools {
                tools.gauge(&l, n as f64);
            }
            if let Some(n) = s.prompts {
                prompts.gauge(&l, n as f64);
            }
            consecutive.gauge(&l, f64::from(s.consecutive_failures));
            syncs.counter(&l, s.syncs_total as f64);
            failures.counter(&l, s.failures_total as f64);
            for (reason, n) in [
                ("retryable", s.retries.retryable),
                ("rate_limited", s.retries.rate_limited),
                ("transient", s.retries.transient),
            ] {
                if n > 0 {
                    retries.counter(
                        &[("account_id", acct), ("server_id", id), ("reason", reason)],
                        n as f64,
                    );
                }
            }
        }
    }
    for (ep, h) in &snap.request_durations {
        durations.histogram(&[("endpoint", ep.as_str())], h);
    }
    build.gauge(&[("version", env!("CARGO_PKG_VERSION"))], 1.0);
    drop(snap);

    [
        up,
        servers,
        stale,
        last_list,
        cycle,
        info,
        status,
        auth_status,
        last_success,
        last_synced,
        server_stale,
        server_error,
        retryable,
        tools,
        prompts,
        consecutive,
        syncs,
        failures,
        retries,
        requests,
        durations,
        remaining,
        build,
    ]
    .into_iter()
    .map(|f| f.mf)
    .filter(|mf| !mf.get_metric().is_empty())
    .collect()
}

/// The text exposition of the current state.
pub fn render(state: &State) -> String {
    let families = gather(state);
    let mut buf = Vec::with_capacity(64 * 1024);
    // Encoding our own well-formed families cannot fail; an error would leave a partial
    // body, which Prometheus reports as a failed scrape.
    if let Err(e) = TextEncoder::new().encode(&families, &mut buf) {
        tracing::error!(error = %e, "could not encode metrics");
    }
    String::from_utf8(buf).unwrap_or_default()
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
        st.listing_complete(
            "acc",
            vec![Listed {
                server,
                stale: true,
            }],
            SystemTime::now(),
        );
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
