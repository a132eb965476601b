//! `load`: `/metrics` under 1 to 64 concurrent scrapers, plain and gzip.

use std::time::Duration;

use mcp_sync_monitor::fake::{self, FakeApi, World};

use crate::support::*;

/// RSS and scrape latency of `/metrics` at 10,000 servers with 1, 8, 32 and 64 concurrent
/// scrapers, plain and gzip: 4 bursts of P requests, P at a time, per row.
pub async fn load() {
    let n = env_usize("BENCH_SERVERS", 10_000);
    let mut world = World::new(fake::uniform_fleet(n, 20, 10));
    world.tool_schema_bytes = 1024;
    world.record = false;
    let api = FakeApi::start(world).await.expect("fake");
    let port = free_port();
    let daemon = spawn_daemon(&api, port, "1h", &[]);
    wait_cycles(port, 1.0, Duration::from_secs(120)).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle = daemon.status_kib("VmRSS:");
    println!(
        "load: {n} servers; idle RSS {:.1} MiB (after the first cycle and a scrape)",
        idle as f64 / 1024.0
    );
    println!("| encoding | concurrent scrapers | p50 | p99 | peak RSS | RSS 1 s after | bytes per scrape |");
    println!("|---|---|---|---|---|---|---|");
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/metrics");
    let pid = daemon.0.id();
    for gzip in [false, true] {
        for p in [1usize, 8, 32, 64] {
            let peak = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
            let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
            let sampler = {
                let (peak, stop) = (peak.clone(), stop.clone());
                tokio::spawn(async move {
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        let kib = rss_kib_of(pid);
                        peak.fetch_max(kib, std::sync::atomic::Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                })
            };
            let mut latencies = Vec::new();
            let mut bytes = 0;
            for _ in 0..4 {
                let mut set = tokio::task::JoinSet::new();
                for _ in 0..p {
                    let (client, url) = (client.clone(), url.clone());
                    set.spawn(async move { timed_scrape(&client, &url, gzip).await });
                }
                while let Some(r) = set.join_next().await {
                    let (d, len) = r.expect("task");
                    latencies.push(d);
                    bytes = len;
                }
            }
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            let _ = sampler.await;
            tokio::time::sleep(Duration::from_secs(1)).await;
            let after = daemon.status_kib("VmRSS:");
            latencies.sort();
            let pct = |q: f64| latencies[((latencies.len() - 1) as f64 * q).round() as usize];
            println!(
                "| {} | {p} | {:.1} ms | {:.1} ms | {:.1} MiB | {:.1} MiB | {:.2} MiB |",
                if gzip { "gzip" } else { "plain" },
                pct(0.5).as_secs_f64() * 1e3,
                pct(0.99).as_secs_f64() * 1e3,
                peak.load(std::sync::atomic::Ordering::Relaxed) as f64 / 1024.0,
                after as f64 / 1024.0,
                bytes as f64 / 1024.0 / 1024.0,
            );
        }
    }
}
