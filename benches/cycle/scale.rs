//! Wide runs: `slow-syncs` (syncs of seconds, an account beside) and `accounts` (100
//! accounts on one token).

use std::time::{Duration, Instant};

use mcp_sync_monitor::fake::{self, FakeApi, FakeServer, World};

use crate::support::*;

/// Realistic syncs: every sync takes `BENCH_SYNC_LATENCY_MS` (2,000) as Cloudflare's do, 1 % of
/// 10,000 servers stale, and a second account of 1,000 fresh servers beside it. The cycle
/// should take about ⌈stale / sync_concurrency⌉ × 2 s; scrapes stay fast and fresh during it;
/// the other account is not held up.
pub async fn slow_syncs() {
    let n = env_usize("BENCH_SERVERS", 10_000);
    let latency = Duration::from_millis(env_usize("BENCH_SYNC_LATENCY_MS", 2_000) as u64);
    let mut world = World::new(fake::uniform_fleet(n, 5, 10));
    world.sync_latency = latency;
    world.record = false;
    let other = "bench-other".to_owned();
    world.accounts.insert(
        other.clone(),
        (0..1_000)
            .map(|i| FakeServer::fresh(format!("o{i}")))
            .collect(),
    );
    let api = FakeApi::start(world).await.expect("fake");
    let stale = n / 100;
    let port = free_port();
    let started = Instant::now();
    let _daemon = spawn_with_accounts(&api, port, "1h", &[fake::ACCOUNT.to_owned(), other.clone()]);
    let (mut lat, mut other_listed, mut synced_seen) = (Vec::new(), None, Vec::new());
    let count_key = format!(
        "cloudflare_mcp_cycle_duration_seconds_count{{account_id=\"{}\"}} ",
        fake::ACCOUNT
    );
    let other_key =
        format!("cloudflare_mcp_last_list_success_timestamp_seconds{{account_id=\"{other}\"}} ");
    let cycle = loop {
        let t = Instant::now();
        let m = scrape(port).await;
        lat.push(t.elapsed());
        if other_listed.is_none() && value(&m, &other_key).is_some() {
            other_listed = Some(started.elapsed());
        }
        let synced: f64 = m
            .lines()
            .filter(|l| l.starts_with("cloudflare_mcp_syncs_total{"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum();
        synced_seen.push(synced);
        if value(&m, &count_key).is_some_and(|c| c >= 1.0) {
            break started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "no cycle within 10 minutes"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    lat.sort();
    let conc = 4;
    println!(
        "slow-syncs: {n} servers, {stale} stale, syncs of {:.1} s, sync_concurrency {conc}",
        latency.as_secs_f64()
    );
    println!("| measure | value |");
    println!("|---|---|");
    println!("| first complete cycle (wall, from start) | {:.1} s (⌈{stale}/{conc}⌉ × {:.1} s = {:.1} s) |", cycle.as_secs_f64(), latency.as_secs_f64(), (stale.div_ceil(conc) as f64) * latency.as_secs_f64());
    println!(
        "| other account's first complete listing | {:.2} s after start |",
        other_listed.map_or(f64::NAN, |d| d.as_secs_f64())
    );
    println!(
        "| scrapes during the cycle | {} (gzip), p50 {:.1} ms, p99 {:.1} ms |",
        lat.len(),
        lat[lat.len() / 2].as_secs_f64() * 1e3,
        lat[(lat.len() - 1) * 99 / 100].as_secs_f64() * 1e3
    );
    println!("| syncs seen by scrapes while the cycle ran | {} distinct values (fresh during the cycle) |", { let mut v = synced_seen.clone(); v.dedup(); v.len() });
}

/// Many accounts on one token: 100 accounts of 100 servers sharing one credential and one
/// budget; the spread of the time to each account's first complete listing.
pub async fn many_accounts() {
    let accounts = env_usize("BENCH_ACCOUNTS", 100);
    let per = env_usize("BENCH_SERVERS_PER_ACCOUNT", 100);
    let mut world = World::new(Vec::new());
    world.latency = Duration::from_millis(env_usize("BENCH_LATENCY_MS", 50) as u64);
    world.record = false;
    let ids: Vec<String> = (0..accounts).map(|i| format!("acct{i:03}")).collect();
    for id in &ids {
        let fleet = fake::uniform_fleet(per, 5, 10)
            .into_iter()
            .map(|mut s| {
                s.id = format!("{id}-{}", s.id);
                s
            })
            .collect();
        world.accounts.insert(id.clone(), fleet);
    }
    let api = FakeApi::start(world).await.expect("fake");
    let port = free_port();
    let started = std::time::SystemTime::now();
    let _daemon = spawn_with_accounts(&api, port, "1h", &ids);
    let deadline = Instant::now() + Duration::from_secs(300);
    let times: Vec<f64> = loop {
        let m = scrape(port).await;
        let got: Vec<f64> = ids
            .iter()
            .filter_map(|id| value(&m, &format!("cloudflare_mcp_last_list_success_timestamp_seconds{{account_id=\"{id}\"}} ")))
            .collect();
        if got.len() == ids.len() {
            break got;
        }
        assert!(
            Instant::now() < deadline,
            "not every account listed within 5 minutes"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let start = started
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default();
    let mut rel: Vec<f64> = times.iter().map(|t| t - start).collect();
    rel.sort_by(f64::total_cmp);
    println!("accounts: {accounts} accounts x {per} servers, one token and one budget");
    println!("| time to first complete listing | seconds after start |");
    println!("|---|---|");
    println!("| first account | {:.2} |", rel[0]);
    println!("| median account | {:.2} |", rel[rel.len() / 2]);
    println!("| last account | {:.2} |", rel[rel.len() - 1]);
}
