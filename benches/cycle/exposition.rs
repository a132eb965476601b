//! `exposition`: the daemon's hand-written exposition writer against the Prometheus
//! project's `prometheus-client` crate (0.26) encoding the same per-server families of the
//! same snapshot at scrape time through a `Collector` (no model kept), in OpenMetrics and
//! in text 0.0.4: CPU per rendering and the bytes written, at 10,000 servers.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use mcp_sync_monitor::testing::metrics::{render, Format};
use mcp_sync_monitor::testing::state::{AccountView, Action, ServerInfo, ServerState, State};

use crate::support::env_usize;

fn state(n: usize) -> Arc<State> {
    let state = Arc::new(State::new(["023e105f4ecef8ad9ca31a8372d0c353"]));
    let now = SystemTime::now();
    let listed = (0..n)
        .map(|i| {
            let s = ServerInfo {
                id: format!("mcp-{i:05}").into(),
                name: format!("MCP server {i}").into(),
                hostname: format!("https://mcp-{i}.example.com/mcp").into(),
                auth_type: "unauthenticated".into(),
                status: Some("ready".into()),
                tools: Some(20),
                prompts: Some(2),
                last_successful_sync: Some(now - Duration::from_secs(600)),
                last_synced: Some(now - Duration::from_secs(600)),
                error_retryable: (i % 100 == 0).then_some(true),
                ..ServerInfo::default()
            };
            (s, Action::None)
        })
        .collect();
    state.publish(
        "023e105f4ecef8ad9ca31a8372d0c353",
        AccountView::default().relisted(listed, now),
    );
    state
}

fn ts(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The per-server families, encoded by prometheus-client from the snapshot at scrape time.
#[derive(Debug)]
struct Servers(Arc<State>);

impl Collector for Servers {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let snap = self.0.read();
        let servers = || {
            snap.accounts
                .iter()
                .flat_map(|(acct, a)| a.servers.iter().map(move |(id, s)| (acct.as_str(), id, s)))
        };
        {
            let mut m = encoder.encode_descriptor(
                "cloudflare_mcp_server_info",
                "Identity of an MCP server (always 1).",
                None,
                MetricType::Gauge,
            )?;
            for (acct, id, s) in servers() {
                let labels = [
                    ("account_id", acct),
                    ("server_id", id),
                    ("name", &*s.info.name),
                    ("hostname", &*s.info.hostname),
                    ("auth_type", &*s.info.auth_type),
                ];
                ConstGauge::new(1i64).encode(m.encode_family(&labels)?)?;
            }
        }
        type Get = fn(&ServerState) -> Option<f64>;
        let gauges: [(&str, Get); 9] = [
            (
                "cloudflare_mcp_server_last_successful_sync_timestamp_seconds",
                |s| s.info.last_successful_sync.map(ts),
            ),
            ("cloudflare_mcp_server_last_synced_timestamp_seconds", |s| {
                s.info.last_synced.map(ts)
            }),
            ("cloudflare_mcp_server_stale", |s| {
                Some(f64::from(u8::from(s.info.stale)))
            }),
            ("cloudflare_mcp_server_error", |s| {
                Some(f64::from(u8::from(s.info.error)))
            }),
            ("cloudflare_mcp_server_error_retryable", |s| {
                s.info.error_retryable.map(|b| f64::from(u8::from(b)))
            }),
            ("cloudflare_mcp_server_tools", |s| {
                s.info.tools.map(f64::from)
            }),
            ("cloudflare_mcp_server_prompts", |s| {
                s.info.prompts.map(f64::from)
            }),
            ("cloudflare_mcp_server_consecutive_sync_failures", |s| {
                Some(f64::from(s.consecutive_failures))
            }),
            (
                "cloudflare_mcp_server_capabilities_changed_timestamp_seconds",
                |s| s.capabilities_changed_at.map(ts),
            ),
        ];
        for (name, get) in gauges {
            if servers().all(|(_, _, s)| get(s).is_none()) {
                continue;
            }
            let mut m =
                encoder.encode_descriptor(name, "A per-server gauge.", None, MetricType::Gauge)?;
            for (acct, id, s) in servers() {
                if let Some(v) = get(s) {
                    let labels = [("account_id", acct), ("server_id", id)];
                    ConstGauge::new(v).encode(m.encode_family(&labels)?)?;
                }
            }
        }
        type Count = fn(&ServerState) -> u64;
        let counters: [(&str, Count); 3] = [
            ("cloudflare_mcp_syncs", |s| s.syncs_total),
            ("cloudflare_mcp_sync_failures", |s| s.failures_total),
            ("cloudflare_mcp_server_capability_changes", |s| {
                s.capability_changes
            }),
        ];
        for (name, get) in counters {
            let mut m = encoder.encode_descriptor(
                name,
                "A per-server counter.",
                None,
                MetricType::Counter,
            )?;
            for (acct, id, s) in servers() {
                let labels = [("account_id", acct), ("server_id", id)];
                ConstCounter::new(get(s)).encode(m.encode_family(&labels)?)?;
            }
        }
        {
            let mut m = encoder.encode_descriptor(
                "cloudflare_mcp_server_status",
                "The server's current status as Cloudflare reports it (always 1).",
                None,
                MetricType::Gauge,
            )?;
            for (acct, id, s) in servers() {
                if let Some(st) = s.info.status.as_deref() {
                    let labels = [("account_id", acct), ("server_id", id), ("status", st)];
                    ConstGauge::new(1i64).encode(m.encode_family(&labels)?)?;
                }
            }
        }
        {
            let mut m = encoder.encode_descriptor(
                "cloudflare_mcp_server_suspicious_definitions",
                "Definitions of the server that break a rule for hidden instructions.",
                None,
                MetricType::Gauge,
            )?;
            const RULES: [&str; 4] = [
                "bidi_controls",
                "instruction_markup",
                "invisible_characters",
                "tag_characters",
            ];
            for (acct, id, s) in servers() {
                for (rule, n) in RULES.iter().zip(s.info.review.suspicious) {
                    let labels = [("account_id", acct), ("server_id", id), ("rule", rule)];
                    ConstGauge::new(i64::from(n)).encode(m.encode_family(&labels)?)?;
                }
            }
        }
        Ok(())
    }
}

/// CPU time per call of `f` (the median of `rounds`), and the bytes of its last result.
fn timed(rounds: usize, mut f: impl FnMut() -> String) -> (Duration, usize, usize) {
    let mut took = Vec::with_capacity(rounds);
    let mut last = String::new();
    for _ in 0..rounds {
        let t = Instant::now();
        last = f();
        took.push(t.elapsed());
    }
    took.sort();
    let samples = last.lines().filter(|l| !l.starts_with('#')).count();
    (took[took.len() / 2], last.len(), samples)
}

pub fn exposition() {
    let n = env_usize("BENCH_SERVERS", 10_000);
    let rounds = env_usize("EXPOSITION_ROUNDS", 20);
    let st = state(n);
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Servers(st.clone())));
    println!("exposition: {n} servers, median of {rounds} renderings each");
    println!("| writer | format | ms per rendering | MiB | samples |");
    println!("|---|---|---|---|---|");
    let rows = [
        (
            "the daemon's",
            "OpenMetrics",
            timed(rounds, || render(&st, None, Format::OpenMetrics)),
        ),
        (
            "the daemon's",
            "text 0.0.4",
            timed(rounds, || render(&st, None, Format::Text)),
        ),
        (
            "prometheus-client 0.26",
            "OpenMetrics",
            timed(rounds, || {
                let mut out = String::with_capacity(16 << 20);
                let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
                out
            }),
        ),
        (
            "prometheus-client 0.26",
            "text 0.0.4",
            timed(rounds, || {
                let mut out = String::with_capacity(16 << 20);
                let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &registry);
                out
            }),
        ),
    ];
    for (writer, format, (t, bytes, samples)) in rows {
        let mut line = String::new();
        let _ = write!(
            line,
            "| {writer} | {format} | {:.1} | {:.2} | {samples} |",
            t.as_secs_f64() * 1000.0,
            bytes as f64 / (1024.0 * 1024.0)
        );
        println!("{line}");
    }
}
