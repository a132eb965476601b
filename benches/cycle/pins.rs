//! `pins`: the cost of tool pinning at 10,000 servers × 20 tools with object-heavy schemas
//! (20 properties each): the first cycle's CPU and peak RSS without a pin file, with one that
//! approves everything, and with one that approves nothing (every definition drifts); the
//! time and peak RSS of `pins export`; the pin file's size and what its tables hold.
//!
//!     cargo bench --bench cycle -- pins

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mcp_sync_monitor::fake::{self, FakeApi, World};
use mcp_sync_monitor::testing::cloudflare::Endpoint;

use crate::support::*;

pub async fn pins() {
    let n = env_usize("BENCH_SERVERS", 10_000);
    let mut world = World::new(fake::uniform_fleet(n, 20, 10));
    world.latency = Duration::from_millis(50);
    world.tool_schema_bytes = 1024;
    world.tool_schema_properties = 20;
    let api = FakeApi::start(world).await.expect("fake");
    let dir = std::env::temp_dir().join(format!("mcp-bench-pins-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let pins = dir.join("pins.json");
    let empty = dir.join("empty.json");
    std::fs::write(
        &empty,
        r#"{"version":1,"hash":"sha256","canonical_form":1,"accounts":{}}"#,
    )
    .expect("write");

    let (took, peak, text) = export(&api).await;
    std::fs::write(&pins, &text).expect("write");
    let set = mcp_sync_monitor::testing::pins::load(&pins).expect("the pins load");
    println!(
        "pins export: {:.2} s, peak RSS {:.1} MiB; file {:.1} MB, {} definitions of {} servers; tables hold {:.1} MiB ({:.0} bytes per definition)",
        took.as_secs_f64(),
        peak as f64 / 1024.0,
        text.len() as f64 / 1e6,
        set.definitions(),
        set.servers(),
        set.size() as f64 / 1048576.0,
        set.size() as f64 / set.definitions().max(1) as f64
    );
    drop(set);
    println!("| pin file | first cycle | CPU to its end | peak RSS |");
    println!("|---|---|---|---|");
    let rounds = env_usize("PINS_ROUNDS", 3);
    // Each run starts from the same fleet: the servers the last run synced are stale again.
    let initial: Vec<_> = api.with(|w| {
        w.servers()
            .iter()
            .map(|s| (s.last_successful_sync, s.last_synced))
            .collect()
    });
    for _ in 0..rounds {
        for (what, file) in [
            ("none", None),
            ("approves all", Some(&pins)),
            ("approves none", Some(&empty)),
        ] {
            api.with(|w| {
                for (s, (a, b)) in w.servers().iter_mut().zip(&initial) {
                    (s.last_successful_sync, s.last_synced) = (*a, *b);
                }
            });
            let (took, cpu, peak) = first_cycle(&api, file.map(|p| p.to_str().unwrap_or(""))).await;
            println!(
                "| {what} | {:.2} s | {cpu:.2} s | {:.1} MiB |",
                took.as_secs_f64(),
                peak as f64 / 1024.0
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `pins export` of the whole fleet: its time, peak RSS (KiB) and output.
async fn export(api: &FakeApi) -> (Duration, u64, String) {
    let exe = std::env::var("BENCH_DAEMON")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_mcp-sync-monitor").to_owned());
    let base = api.base_url();
    tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let child = Command::new("/usr/bin/time")
            .args(["-f", "%M", &exe, "pins", "export"])
            .env_clear()
            .env("CLOUDFLARE_ACCOUNT_ID", fake::ACCOUNT)
            .env("CLOUDFLARE_API_TOKEN", fake::TOKEN)
            .env("CLOUDFLARE_BASE_URL", base)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .expect("pins export runs (needs /usr/bin/time)");
        let took = started.elapsed();
        assert!(
            child.status.success(),
            "{}",
            String::from_utf8_lossy(&child.stderr)
        );
        let peak = String::from_utf8_lossy(&child.stderr)
            .lines()
            .last()
            .and_then(|l| l.trim().parse().ok())
            .unwrap_or(0);
        (
            took,
            peak,
            String::from_utf8_lossy(&child.stdout).into_owned(),
        )
    })
    .await
    .expect("join")
}

/// The daemon's first cycle (to the end of its syncs) with or without a pin file: its
/// duration, CPU seconds and peak RSS (KiB).
async fn first_cycle(api: &FakeApi, pins: Option<&str>) -> (Duration, f64, u64) {
    let syncs = api.count(Endpoint::Sync, None);
    let stale = stale_count(api);
    let port = free_port();
    let env: Vec<(&str, &str)> = pins
        .map(|p| ("MCP_SYNC_CAPABILITIES_PINS", p))
        .into_iter()
        .collect();
    let started = Instant::now();
    let daemon = spawn_daemon(api, port, "5m", &env);
    let deadline = Instant::now() + Duration::from_secs(180);
    while api.count(Endpoint::Sync, None) < syncs + stale {
        assert!(
            Instant::now() < deadline,
            "the first cycle did not sync every stale server"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let took = started.elapsed();
    (took, daemon.cpu_seconds(), daemon.status_kib("VmHWM:"))
}
