//! `-- portals`: the cost of the portal listing. 10,000 servers (20 tools each) and 1,000
//! portals of 10 servers each, whose members carry full copies of their servers' tools as
//! Cloudflare sends them; the daemon with portals off and on, in turn (`BENCH_ROUNDS`
//! each). Printed per run: the first cycle (histogram sum), CPU and peak RSS once both the
//! first cycle's syncs and the portal listing are done, portal requests, and the size of
//! /metrics.

use std::time::{Duration, Instant};

use mcp_sync_monitor::fake::{self, FakeApi, FakePortal, World};
use mcp_sync_monitor::testing::cloudflare::Endpoint;

use crate::support::*;

pub async fn portals() {
    let n = env_usize("BENCH_SERVERS", 10_000);
    let portals = env_usize("BENCH_PORTALS", 1_000);
    let members = env_usize("BENCH_MEMBERS", 10);
    let rounds = env_usize("BENCH_ROUNDS", 3);
    println!("portals benchmark: {n} servers (20 tools), {portals} portals x {members} members");
    println!("| portals | first cycle | CPU | peak RSS | portal requests | /metrics lines |");
    println!("|---|---|---|---|---|---|");
    for _ in 0..rounds {
        for on in [false, true] {
            run(n, portals, members, on).await;
        }
    }
}

async fn run(n: usize, portals: usize, members: usize, on: bool) {
    let mut world = World::new(fake::uniform_fleet(n, 20, 10));
    world.latency = Duration::from_millis(50);
    world.tool_schema_bytes = 1024;
    world.record = true;
    *world.portals() = (0..portals)
        .map(|p| {
            let ids: Vec<String> = (0..members)
                .map(|m| format!("srv-{:06}", (p * members + m) % n))
                .collect();
            let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
            FakePortal::new(&format!("portal-{p:04}"), &ids)
        })
        .collect();
    let api = FakeApi::start(world).await.expect("fake");
    let stale = stale_count(&api);
    let port = free_port();
    let interval = if on { "10m" } else { "0" };
    let daemon = spawn_daemon(&api, port, "5m", &[("MCP_SYNC_PORTALS_INTERVAL", interval)]);
    let deadline = Instant::now() + Duration::from_secs(180);
    let pages = if on { portals.div_ceil(100).max(1) } else { 0 };
    while api.count(Endpoint::Sync, None) < stale || api.count(Endpoint::Portals, None) < pages {
        assert!(
            Instant::now() < deadline,
            "the first cycle or the portal listing did not end"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // The last portal page is fetched; its publication follows within milliseconds.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let hwm = daemon.status_kib("VmHWM:");
    let cpu = daemon.cpu_seconds();
    let m = wait_cycles(port, 1.0, Duration::from_secs(120)).await;
    let cycle = value(
        &m,
        &format!(
            "cloudflare_mcp_cycle_duration_seconds_sum{{account_id=\"{}\"}} ",
            fake::ACCOUNT
        ),
    )
    .unwrap_or(f64::NAN);
    println!(
        "| {} | {cycle:.2} s | {cpu:.2} s | {:.1} MiB | {} | {} |",
        if on { "on" } else { "off" },
        hwm as f64 / 1024.0,
        api.count(Endpoint::Portals, None),
        m.lines().count()
    );
    if on {
        let url = format!(
            "{}/accounts/{}/access/ai-controls/mcp/portals?page=1&per_page=100",
            api.base_url(),
            fake::ACCOUNT
        );
        let body = reqwest::Client::new()
            .get(url)
            .bearer_auth(fake::TOKEN)
            .send()
            .await
            .expect("page");
        let bytes = body.bytes().await.expect("body").len();
        println!(
            "(one portal page of 100: {:.1} MiB)",
            bytes as f64 / (1024.0 * 1024.0)
        );
    }
}
