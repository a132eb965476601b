//! Long runs: `soak` (servers coming and going for thousands of cycles) and `heal` (the
//! sync rate held at the request budget).

use std::time::{Duration, Instant};

use mcp_sync_monitor::fake::{self, FakeApi, FakeRateLimit, FakeServer, World};

use crate::support::*;

pub async fn soak() {
    let cycles = env_usize("SOAK_CYCLES", 2000) as f64;
    let n = env_usize("SOAK_SERVERS", 200);
    let mut world = World::new(fake::uniform_fleet(n, 5, 100));
    world.record = false;
    let api = FakeApi::start(world).await.expect("fake");
    let port = free_port();
    let dir = std::env::temp_dir().join(format!("mcp-soak-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let cfg = dir.join("c.toml");
    let _ = std::fs::write(&cfg, "[rate_limit]\nrequests = 1000000\nper = \"1s\"\n");
    let daemon = spawn_daemon(
        &api,
        port,
        "10ms",
        &[("MCP_SYNC_CONFIG", cfg.to_str().unwrap_or(""))],
    );
    wait_cycles(port, 20.0, Duration::from_secs(60)).await;
    let rss_start = daemon.status_kib("VmRSS:");
    let started = Instant::now();
    let mut next_id = n;
    let key = format!(
        "cloudflare_mcp_cycle_duration_seconds_count{{account_id=\"{}\"}} ",
        fake::ACCOUNT
    );
    loop {
        api.with(|w| w.churn(format!("new-{next_id}")));
        next_id += 1;
        let m = scrape(port).await;
        if value(&m, &key).is_some_and(|c| c >= cycles) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // One more complete cycle with the servers as they are now.
    let expected: std::collections::BTreeSet<String> =
        api.with(|w| w.servers().iter().map(|s| s.id.clone()).collect());
    let m = scrape(port).await;
    let c0 = value(&m, &key).unwrap_or(0.0);
    wait_cycles(port, c0 + 2.0, Duration::from_secs(30)).await;
    let m = scrape(port).await;
    let got: std::collections::BTreeSet<String> = m
        .lines()
        .filter(|l| l.starts_with("cloudflare_mcp_server_stale{"))
        .filter_map(|l| {
            l.split("server_id=\"")
                .nth(1)?
                .split('"')
                .next()
                .map(str::to_owned)
        })
        .collect();
    let rss_end = daemon.status_kib("VmRSS:");
    println!(
        "soak: {cycles} cycles in {:.0} s, servers added and removed {} times",
        started.elapsed().as_secs_f64(),
        next_id - n
    );
    println!("| RSS at start | {:.1} MiB |", rss_start as f64 / 1024.0);
    println!("| RSS at end | {:.1} MiB |", rss_end as f64 / 1024.0);
    println!(
        "| /metrics holds exactly the current servers | {} ({} series) |",
        got == expected,
        got.len()
    );
}

pub async fn heal() {
    let budget = env_usize("HEAL_BUDGET", 60);
    let per = Duration::from_secs(env_usize("HEAL_PER_S", 5) as u64);
    let windows = env_usize("HEAL_WINDOWS", 6);
    let n = budget * (windows + 2);
    let mut world = World::new(
        (0..n)
            .map(|i| FakeServer::stale(format!("s{i:05}")))
            .collect(),
    );
    world.rate_limit = Some(FakeRateLimit {
        requests: budget,
        per,
        lockout: Duration::from_secs(300),
    });
    let api = FakeApi::start(world).await.expect("fake");
    let port = free_port();
    let per_s = format!("{}s", per.as_secs());
    let dir = std::env::temp_dir().join(format!("mcp-heal-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let cfg = dir.join("c.toml");
    let _ = std::fs::write(
        &cfg,
        format!("sync_concurrency = 8\n[rate_limit]\nrequests = {budget}\nper = \"{per_s}\"\n"),
    );
    let _daemon = spawn_daemon(
        &api,
        port,
        "1h",
        &[("MCP_SYNC_CONFIG", cfg.to_str().unwrap_or(""))],
    );
    tokio::time::sleep(per * (windows as u32 + 1)).await;
    let reqs = api.requests();
    let first = reqs.first().map(|r| r.at).unwrap_or_else(Instant::now);
    let steady: Vec<_> = reqs.iter().filter(|r| r.at >= first + per).collect();
    let rate = steady
        .iter()
        .filter(|r| r.at < first + per * (windows as u32))
        .count() as f64
        / (windows - 1) as f64;
    let r429 = reqs.iter().filter(|r| r.status == 429).count();
    println!("heal: budget {budget} per {per_s}, {n} stale servers");
    println!(
        "| requests per window (steady state) | {rate:.1} ({:.1} % of the budget) |",
        100.0 * rate / budget as f64
    );
    println!("| HTTP 429 received | {r429} |");
    let _ = std::fs::remove_dir_all(&dir);
}
