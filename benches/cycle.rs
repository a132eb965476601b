//! The benchmark: the daemon (the release binary, as its own process) against the
//! simulated Cloudflare API, at a size far beyond a typical account.
//!
//!     cargo bench --bench cycle                      # 10,000 servers
//!     BENCH_SERVERS=2000 cargo bench --bench cycle   # another size
//!     cargo bench --bench cycle -- soak              # 2,000 cycles with servers coming and going
//!     cargo bench --bench cycle -- heal              # sync rate at the request budget
//!     cargo bench --bench cycle -- load              # /metrics with 1-64 concurrent scrapers
//!     cargo bench --bench cycle -- slow-syncs        # syncs of 2 s, and an account beside
//!     cargo bench --bench cycle -- accounts          # 100 accounts x 100 servers, one token
//!
//! `BENCH_DAEMON=<wrapper>` runs the daemon through a wrapper (a heap profiler, say), and
//! `BENCH_FIRST_CYCLE_ONLY=1` stops the default mode after the first cycle's syncs;
//! `BENCH_LATER_CYCLES=k` then lets k more cycles run (2 s apart) and prints the peak RSS
//! through them, when the previous listing and the new one are both held.
//! `BENCH_TIMELINE=1` prints, after the first cycle, when the simulated API answered each
//! request (ms from the first answer): where the cycle's time goes, round by round.
//!
//! Defaults: 20 tools per server with input schemas (a page is megabytes), 50 ms API
//! latency, 1 % stale. It prints time to the first complete cycle, API requests by kind,
//! peak RSS, CPU seconds, /metrics render time (median and max of 20 scrapes) and size,
//! and idle CPU between cycles.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mcp_sync_monitor::cloudflare::Endpoint;
use mcp_sync_monitor::fake::{self, FakeApi, FakeRateLimit, FakeServer, World};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        // A graceful stop first (SIGTERM), so profilers wrapping the daemon can write out.
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.0.id().to_string())
            .status();
        for _ in 0..200 {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Proc {
    fn status_kib(&self, field: &str) -> u64 {
        let s =
            std::fs::read_to_string(format!("/proc/{}/status", self.0.id())).unwrap_or_default();
        s.lines()
            .find(|l| l.starts_with(field))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }

    /// User + system CPU seconds (clock ticks of 1/100 s).
    fn cpu_seconds(&self) -> f64 {
        let s = std::fs::read_to_string(format!("/proc/{}/stat", self.0.id())).unwrap_or_default();
        let after = s.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
        let f: Vec<&str> = after.split_whitespace().collect();
        let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        (ticks(11) + ticks(12)) / 100.0
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(19999)
}

/// The release daemon against `api`, with the token, base URL, interval and `env`; the
/// account comes from `env` (a variable or a configuration file).
fn spawn_with_env(api: &FakeApi, port: u16, interval: &str, env: &[(&str, &str)]) -> Proc {
    let exe = std::env::var("BENCH_DAEMON")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_mcp-sync-monitor").to_owned());
    let child = Command::new(exe)
        .env_clear()
        .env("CLOUDFLARE_API_TOKEN", fake::TOKEN)
        .env("CLOUDFLARE_BASE_URL", api.base_url())
        .env("MCP_SYNC_INTERVAL", interval)
        .env("RUST_LOG", "warn")
        .envs(std::env::vars().filter(|(k, _)| k.starts_with("MALLOC_")))
        .envs(env.iter().copied())
        .args(["run", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the daemon starts");
    Proc(child)
}

/// The daemon on the fake's default account.
fn spawn_daemon(api: &FakeApi, port: u16, interval: &str, extra: &[(&str, &str)]) -> Proc {
    let mut env = vec![("CLOUDFLARE_ACCOUNT_ID", fake::ACCOUNT)];
    env.extend_from_slice(extra);
    spawn_with_env(api, port, interval, &env)
}

/// `n` scrapes one after another: their durations and the size of the last body.
async fn timed_scrapes(
    client: &reqwest::Client,
    port: u16,
    gzip: bool,
    n: usize,
) -> (Vec<Duration>, usize) {
    let (mut times, mut size) = (Vec::with_capacity(n), 0);
    for _ in 0..n {
        let mut req = client.get(format!("http://127.0.0.1:{port}/metrics"));
        if gzip {
            req = req.header("accept-encoding", "gzip");
        }
        let t = Instant::now();
        let body = req
            .send()
            .await
            .expect("scrape")
            .bytes()
            .await
            .expect("body");
        times.push(t.elapsed());
        size = body.len();
    }
    (times, size)
}

/// A scrape as Prometheus makes it (gzip), decompressed.
async fn scrape(port: u16) -> String {
    use std::io::Read as _;
    let r = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .header("accept-encoding", "gzip")
        .send()
        .await;
    let Ok(r) = r else {
        return String::new();
    };
    let body = r.bytes().await.unwrap_or_default();
    let mut text = String::new();
    let _ = flate2::read::MultiGzDecoder::new(&body[..]).read_to_string(&mut text);
    text
}

fn value(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(prefix)?.trim().parse().ok())
}

async fn wait_cycles(port: u16, n: f64, timeout: Duration) -> String {
    let key = format!(
        "cloudflare_mcp_cycle_duration_seconds_count{{account_id=\"{}\"}} ",
        fake::ACCOUNT
    );
    let deadline = Instant::now() + timeout;
    loop {
        let m = scrape(port).await;
        if value(&m, &key).is_some_and(|c| c >= n) {
            return m;
        }
        assert!(
            Instant::now() < deadline,
            "no {n} cycles within {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn main_bench() {
    let n = env_usize("BENCH_SERVERS", 10_000);
    let tools = env_usize("BENCH_TOOLS", 20);
    let latency = env_usize("BENCH_LATENCY_MS", 50);
    let mut world = World::new(fake::uniform_fleet(n, tools, 10));
    world.latency = Duration::from_millis(latency as u64);
    world.tool_schema_bytes = 1024;
    let api = FakeApi::start(world).await.expect("fake");
    let stale = api.with(|w| {
        let now = std::time::SystemTime::now();
        w.servers()
            .iter()
            .filter(|s| {
                s.last_successful_sync.is_some_and(|t| {
                    now.duration_since(t)
                        .is_ok_and(|a| a > Duration::from_secs(3 * 3600))
                })
            })
            .count()
    });
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

    // 20 scrapes as Prometheus makes them (gzip) first, then 20 plain ones.
    let client = reqwest::Client::new();
    let (_, gzip_bytes) = timed_scrapes(&client, port, true, 20).await;
    let hwm_after_gzip = daemon.status_kib("VmHWM:");
    let (mut times, size) = timed_scrapes(&client, port, false, 20).await;
    times.sort();
    let cpu_before_idle = daemon.cpu_seconds();
    tokio::time::sleep(Duration::from_secs(10)).await;
    let idle_cpu = daemon.cpu_seconds() - cpu_before_idle;
    let page_bytes = {
        let c = reqwest::Client::new();
        let r = c
            .get(format!(
                "{}/accounts/{}/access/ai-controls/mcp/servers?page=1&per_page=100",
                api.base_url(),
                fake::ACCOUNT
            ))
            .bearer_auth(fake::TOKEN)
            .send()
            .await
            .expect("page");
        r.bytes().await.map(|b| b.len()).unwrap_or(0)
    };

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
    println!(
        "| peak RSS (VmHWM) after 20 gzip scrapes of /metrics (as Prometheus scrapes) | {:.1} MiB |",
        hwm_after_gzip as f64 / 1024.0
    );
    println!(
        "| peak RSS (VmHWM) after 20 more, plain | {:.1} MiB |",
        daemon.status_kib("VmHWM:") as f64 / 1024.0
    );
    println!("| CPU to the end of the first cycle | {cpu_after_cycle:.2} s |");
    println!(
        "| /metrics gzip body | {:.2} MiB |",
        gzip_bytes as f64 / (1024.0 * 1024.0)
    );
    println!(
        "| /metrics plain scrape, median of 20 | {:.1} ms |",
        times[times.len() / 2].as_secs_f64() * 1000.0
    );
    println!(
        "| /metrics plain scrape, max of 20 | {:.1} ms |",
        times[times.len() - 1].as_secs_f64() * 1000.0
    );
    println!(
        "| /metrics size | {:.1} MiB ({} lines) |",
        size as f64 / (1024.0 * 1024.0),
        scrape(port).await.lines().count()
    );
    println!("| idle CPU between cycles (10 s window) | {idle_cpu:.2} s |");
}

async fn soak() {
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

async fn heal() {
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

/// The daemon with the accounts `ids` in a configuration file, one token for all.
fn spawn_with_accounts(api: &FakeApi, port: u16, interval: &str, ids: &[String]) -> Proc {
    let dir = std::env::temp_dir().join(format!("mcp-bench-accounts-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let cfg = dir.join("config.toml");
    let body: String = ids
        .iter()
        .map(|id| format!("[[accounts]]\nid = \"{id}\"\n"))
        .collect();
    std::fs::write(&cfg, body).expect("config");
    let cfg = cfg.to_string_lossy().into_owned();
    spawn_with_env(api, port, interval, &[("MCP_SYNC_CONFIG", &cfg)])
}

/// Realistic syncs: every sync takes `BENCH_SYNC_LATENCY_MS` (2,000) as Cloudflare's do, 1 % of
/// 10,000 servers stale, and a second account of 1,000 fresh servers beside it. The cycle
/// should take about ⌈stale / sync_concurrency⌉ × 2 s; scrapes stay fast and fresh during it;
/// the other account is not held up.
async fn slow_syncs() {
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
async fn many_accounts() {
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

/// RSS and scrape latency of `/metrics` at 10,000 servers with 1, 8, 32 and 64 concurrent
/// scrapers, plain and gzip: 4 bursts of P requests, P at a time, per row.
async fn load() {
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
                    set.spawn(async move {
                        let mut req = client.get(&url);
                        if gzip {
                            req = req.header("accept-encoding", "gzip");
                        }
                        let t = Instant::now();
                        let body = req
                            .send()
                            .await
                            .expect("scrape")
                            .bytes()
                            .await
                            .expect("body");
                        (t.elapsed(), body.len())
                    });
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

fn rss_kib_of(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let args: Vec<String> = std::env::args().collect();
    rt.block_on(async {
        if args.iter().any(|a| a == "soak") {
            soak().await;
        } else if args.iter().any(|a| a == "heal") {
            heal().await;
        } else if args.iter().any(|a| a == "load") {
            load().await;
        } else if args.iter().any(|a| a == "slow-syncs") {
            slow_syncs().await;
        } else if args.iter().any(|a| a == "accounts") {
            many_accounts().await;
        } else {
            main_bench().await;
        }
    });
}
