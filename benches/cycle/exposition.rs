//! `exposition`: one whole rendering of `/metrics` (the daemon's collectors, encoded by
//! `prometheus-client`) from a 10,000-server snapshot, in OpenMetrics and in text 0.0.4:
//! time per rendering, the bytes written and the samples.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use mcp_sync_monitor::testing::metrics::{render, Format};
use mcp_sync_monitor::testing::state::{AccountView, Action, ServerInfo, State};

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
    println!("exposition: {n} servers, median of {rounds} renderings each");
    println!("| format | ms per rendering | MiB | samples |");
    println!("|---|---|---|---|");
    for (name, format) in [
        ("OpenMetrics", Format::OpenMetrics),
        ("text 0.0.4", Format::Text),
    ] {
        let (t, bytes, samples) = timed(rounds, || render(&st, None, format));
        let mut line = String::new();
        let _ = write!(
            line,
            "| {name} | {:.1} | {:.2} | {samples} |",
            t.as_secs_f64() * 1000.0,
            bytes as f64 / (1024.0 * 1024.0)
        );
        println!("{line}");
    }
}
