//! What every mode shares: the daemon as a child process, its memory and CPU read from
//! `/proc`, and scrapes of its `/metrics`.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mcp_sync_monitor::fake::{self, FakeApi};

pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

pub struct Proc(pub Child);

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
    pub fn status_kib(&self, field: &str) -> u64 {
        let s =
            std::fs::read_to_string(format!("/proc/{}/status", self.0.id())).unwrap_or_default();
        s.lines()
            .find(|l| l.starts_with(field))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }

    /// User + system CPU seconds (clock ticks of 1/100 s).
    pub fn cpu_seconds(&self) -> f64 {
        let s = std::fs::read_to_string(format!("/proc/{}/stat", self.0.id())).unwrap_or_default();
        let after = s.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
        let f: Vec<&str> = after.split_whitespace().collect();
        let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        (ticks(11) + ticks(12)) / 100.0
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(19999)
}

/// The release daemon against `api`, with the token, base URL, interval and `env`; the
/// account comes from `env` (a variable or a configuration file).
pub fn spawn_with_env(api: &FakeApi, port: u16, interval: &str, env: &[(&str, &str)]) -> Proc {
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
pub fn spawn_daemon(api: &FakeApi, port: u16, interval: &str, extra: &[(&str, &str)]) -> Proc {
    let mut env = vec![("CLOUDFLARE_ACCOUNT_ID", fake::ACCOUNT)];
    env.extend_from_slice(extra);
    spawn_with_env(api, port, interval, &env)
}

/// `n` scrapes one after another: their durations and the size of the last body.
pub async fn timed_scrapes(
    client: &reqwest::Client,
    port: u16,
    gzip: bool,
    n: usize,
) -> (Vec<Duration>, usize) {
    let (mut times, mut size) = (Vec::with_capacity(n), 0);
    let url = format!("http://127.0.0.1:{port}/metrics");
    for _ in 0..n {
        let (took, len) = timed_scrape(client, &url, gzip).await;
        times.push(took);
        size = len;
    }
    (times, size)
}

/// Prometheus 3's default `Accept` header (it prefers OpenMetrics).
pub const PROMETHEUS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";

/// A scrape as Prometheus makes it (its `Accept` header, gzip), decompressed.
pub async fn scrape(port: u16) -> String {
    use std::io::Read as _;
    let r = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .header("accept", PROMETHEUS_ACCEPT)
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

pub fn value(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(prefix)?.trim().parse().ok())
}

pub async fn wait_cycles(port: u16, n: f64, timeout: Duration) -> String {
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

/// The daemon with the accounts `ids` in a configuration file, one token for all.
pub fn spawn_with_accounts(api: &FakeApi, port: u16, interval: &str, ids: &[String]) -> Proc {
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

pub fn rss_kib_of(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// One scrape of `url`, as Prometheus makes it (`gzip`: its `Accept` header and gzip) or
/// plain text as `curl` asks for it: how long it took and the size of the body.
pub async fn timed_scrape(client: &reqwest::Client, url: &str, gzip: bool) -> (Duration, usize) {
    let mut req = client.get(url);
    if gzip {
        req = req
            .header("accept", PROMETHEUS_ACCEPT)
            .header("accept-encoding", "gzip");
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
}

/// The first list page of the fake's default account, 100 servers, as the daemon receives it.
pub async fn first_page(api: &FakeApi) -> Vec<u8> {
    reqwest::Client::new()
        .get(format!(
            "{}/accounts/{}/access/ai-controls/mcp/servers?page=1&per_page=100",
            api.base_url(),
            fake::ACCOUNT
        ))
        .bearer_auth(fake::TOKEN)
        .send()
        .await
        .expect("page")
        .bytes()
        .await
        .expect("page body")
        .to_vec()
}

/// Servers of the fake whose last successful sync is older than the default `stale_after`.
pub fn stale_count(api: &FakeApi) -> usize {
    api.with(|w| {
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
    })
}
