//! The default mode: the first complete cycle at 10,000 servers, then scrapes and idle CPU.

use std::time::{Duration, Instant};

use mcp_sync_monitor::fake::{self, FakeApi, World};
use mcp_sync_monitor::testing::cloudflare::Endpoint;

use crate::support::*;

pub async fn main_bench() {
    let n = env_usize("BENCH_SERVERS", 10_000);
    let tools = env_usize("BENCH_TOOLS", 20);
    let latency = env_usize("BENCH_LATENCY_MS", 50);
    let mut world = World::new(fake::uniform_fleet(n, tools, 10));
    world.latency = Duration::from_millis(latency as u64);
    world.tool_schema_bytes = 1024;
    let api = FakeApi::start(world).await.expect("fake");
    let stale = stale_count(&api);
    let port = free_port();
    let started = Instant::now();
    let later = env_usize("BENCH_LATER_CYCLES", 0);
    let interval = if later > 0 { "2s" } else { "5m" };
    let daemon = spawn_daemon(&api, port, interval, &[]);
    // The end of the first cycle's syncs, seen from the fake: no scrape disturbs the
    // daemon's memory before its peak for the cycle is read.
    let deadline = Instant::now() + Duration::from_secs(120);
    while api.count(Endpoint::Sync, None) < stale {
        assert!(
            Instant::now() < deadline,
            "the first cycle did not sync every stale server"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let hwm_after_cycle = daemon.status_kib("VmHWM:");
    if std::env::var_os("BENCH_TIMELINE").is_some() {
        api.with(|w| {
            let t0 = w.requests.first().map(|r| r.at);
            for r in &w.requests {
                let ms = t0
                    .map(|t| r.at.duration_since(t).as_secs_f64() * 1000.0)
                    .unwrap_or(0.0);
                println!(
                    "TL {ms:8.1} {:?} {:?} {:?}",
                    r.endpoint, r.page, r.server_id
                );
            }
        });
    }
    if std::env::var_os("BENCH_FIRST_CYCLE_ONLY").is_some() {
        // For a heap profiler wrapping the daemon (BENCH_DAEMON): stop before any scrape.
        println!(
            "first cycle's syncs done; peak RSS {:.1} MiB",
            hwm_after_cycle as f64 / 1024.0
        );
        if later > 0 {
            let pages = api.count(Endpoint::List, None);
            while api.count(Endpoint::List, None) < pages * (later + 1) {
                assert!(Instant::now() < deadline, "the later cycles did not list");
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            // The last listing is fetched; its publication follows within milliseconds.
            tokio::time::sleep(Duration::from_millis(500)).await;
            println!(
                "{later} later cycles done; peak RSS {:.1} MiB",
                daemon.status_kib("VmHWM:") as f64 / 1024.0
            );
        }
        if let Ok(path) = std::env::var("BENCH_SMAPS") {
            let smaps = std::fs::read_to_string(format!("/proc/{}/smaps", daemon.0.id()));
            let _ = std::fs::write(path, smaps.unwrap_or_default());
        }
        return;
    }
    let m = wait_cycles(port, 1.0, Duration::from_secs(120)).await;
    let first_cycle_wall = started.elapsed();
    let cycle_sum = value(
        &m,
        &format!(
            "cloudflare_mcp_cycle_duration_seconds_sum{{account_id=\"{}\"}} ",
            fake::ACCOUNT
        ),
    )
    .unwrap_or(f64::NAN);
    let lists = api.count(Endpoint::List, None);
    let syncs = api.count(Endpoint::Sync, None);
    let reads = api.count(Endpoint::Read, None);
    let cpu_after_cycle = daemon.cpu_seconds();

    // 20 scrapes as Prometheus makes them (OpenMetrics, gzip), then 20 plain text ones as
    // curl asks for them; BENCH_PLAIN_FIRST=1 turns the order round, so that each kind's
    // peak can be read on its own.
    let client = reqwest::Client::new();
    let plain_first = std::env::var_os("BENCH_PLAIN_FIRST").is_some();
    let mut scrapes = Vec::new();
    for gzip in [!plain_first, plain_first] {
        let (mut times, size) = timed_scrapes(&client, port, gzip, 20).await;
        times.sort();
        scrapes.push((gzip, times, size, daemon.status_kib("VmHWM:")));
    }
    let kind = |gzip: bool| {
        if gzip {
            "as Prometheus (OpenMetrics, gzip)"
        } else {
            "plain text"
        }
    };
    // The status page and its JSON, as a person and a script ask for them.
    let pages = [
        ("/ (status page, default 500 rows)", "/"),
        ("/?limit=10000 (status page, every row)", "/?limit=10000"),
        ("/api/v1/servers?limit=50", "/api/v1/servers?limit=50"),
        ("/api/v1/servers (all rows)", "/api/v1/servers"),
    ];
    let mut page_rows = Vec::new();
    for (what, path) in pages {
        let url = format!("http://127.0.0.1:{port}{path}");
        let cpu = daemon.cpu_seconds();
        let mut took = Vec::new();
        let mut len = 0;
        for _ in 0..10 {
            let (t, l) = timed_scrape(&client, &url, false).await;
            took.push(t);
            len = l;
        }
        took.sort();
        let cpu_each = (daemon.cpu_seconds() - cpu) / 10.0;
        page_rows.push((what, len, took[took.len() / 2], cpu_each));
    }
    let mut metrics_cpu = Vec::new();
    for gzip in [true, false] {
        let cpu = daemon.cpu_seconds();
        for _ in 0..10 {
            timed_scrape(&client, &format!("http://127.0.0.1:{port}/metrics"), gzip).await;
        }
        metrics_cpu.push((gzip, (daemon.cpu_seconds() - cpu) / 10.0));
    }
    let cpu_before_idle = daemon.cpu_seconds();
    tokio::time::sleep(Duration::from_secs(10)).await;
    let idle_cpu = daemon.cpu_seconds() - cpu_before_idle;
    let page_bytes = first_page(&api).await.len();

    println!("mcp-sync-monitor benchmark: {n} servers, {tools} tools each ({} KiB per page of 100), {latency} ms API latency, {stale} stale", page_bytes / 1024);
    println!("| measure | value |");
    println!("|---|---|");
    println!("| first complete cycle (cycle histogram sum) | {cycle_sum:.2} s |");
    println!(
        "| first complete cycle (from process start, wall) | {:.2} s |",
        first_cycle_wall.as_secs_f64()
    );
    println!("| API requests | {lists} list (⌈{n}/100⌉ = {}), {syncs} sync ({stale} stale), {reads} read |", n.div_ceil(100));
    println!(
        "| peak RSS (VmHWM) through the first cycle | {:.1} MiB |",
        hwm_after_cycle as f64 / 1024.0
    );
    for (i, (gzip, _, _, hwm)) in scrapes.iter().enumerate() {
        let more = if i == 0 { "" } else { "more " };
        println!(
            "| peak RSS (VmHWM) after 20 {more}scrapes of /metrics, {} | {:.1} MiB |",
            kind(*gzip),
            *hwm as f64 / 1024.0
        );
    }
    println!("| CPU to the end of the first cycle | {cpu_after_cycle:.2} s |");
    scrapes.sort_by_key(|(gzip, ..)| !*gzip);
    for (gzip, times, size, _) in &scrapes {
        println!(
            "| /metrics {}: body, median and max of 20 | {:.2} MiB, {:.1} ms, {:.1} ms |",
            kind(*gzip),
            *size as f64 / (1024.0 * 1024.0),
            times[times.len() / 2].as_secs_f64() * 1000.0,
            times[times.len() - 1].as_secs_f64() * 1000.0
        );
    }
    println!(
        "| /metrics lines | {} |",
        scrape(port).await.lines().count()
    );
    println!("| idle CPU between cycles (10 s window) | {idle_cpu:.2} s |");
    for (gzip, cpu) in metrics_cpu {
        println!(
            "| /metrics {}, daemon CPU per scrape (10 in a row; rendered once per version) | {:.1} ms |",
            kind(gzip),
            cpu * 1000.0
        );
    }
    for (what, len, median, cpu) in page_rows {
        println!(
            "| {what}: size, median of 10, daemon CPU each | {:.2} MiB, {:.1} ms, {:.1} ms |",
            len as f64 / (1024.0 * 1024.0),
            median.as_secs_f64() * 1000.0,
            cpu * 1000.0
        );
    }
}
