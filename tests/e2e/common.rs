//! Helpers shared by the end-to-end tests.

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use mcp_sync_monitor::config::{self, Config, Env, Flags};
use mcp_sync_monitor::fake::{self, FakeApi, FakeServer, World};
use mcp_sync_monitor::testing::cloudflare::{
    Client, ClientOptions, Credentials, Observer, RateLimiter,
};
use mcp_sync_monitor::testing::scheduler::Scheduler;
use mcp_sync_monitor::testing::secret::Secret;
use mcp_sync_monitor::testing::state::State;

/// The binary under test.
pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mcp-sync-monitor"));
    c.env_clear();
    if let Ok(p) = std::env::var("PATH") {
        c.env("PATH", p);
    }
    c.env("RUST_LOG", "warn");
    c
}

/// The environment that points the daemon at `api` with the default token.
pub fn env_for(api: &FakeApi) -> Env {
    [
        ("CLOUDFLARE_ACCOUNT_ID", fake::ACCOUNT.to_owned()),
        ("CLOUDFLARE_API_TOKEN", fake::TOKEN.to_owned()),
        ("CLOUDFLARE_BASE_URL", api.base_url()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// A configuration against `api`, tuned for tests: port 0, quick retries, short timeout.
pub fn test_config(api: &FakeApi) -> Config {
    let mut c =
        config::load(&Flags::default(), &env_for(api)).expect("test configuration is valid");
    c.listen = "127.0.0.1:0".parse().expect("address");
    c.retry.initial_interval = Duration::from_millis(20);
    c.retry.max_interval = Duration::from_millis(100);
    c.retry.max_elapsed = Duration::from_secs(5);
    c.request_timeout = Duration::from_secs(5);
    // Portal listings are turned on by the tests about them.
    c.portals_interval = None;
    c
}

/// A started simulated API with these servers.
pub async fn fake_with(servers: Vec<FakeServer>) -> FakeApi {
    FakeApi::start(World::new(servers))
        .await
        .expect("fake API starts")
}

/// A scheduler and its state, not running: tests drive cycles by hand.
pub fn scheduler(cfg: Config) -> (Scheduler, Arc<State>) {
    let state = Arc::new(State::new(cfg.accounts.iter().map(|a| a.id.as_str())));
    let s = Scheduler::new(cfg, state.clone()).expect("scheduler builds");
    (s, state)
}

/// A client for `base_url` with `creds`, a generous budget and an optional observer.
pub fn client(
    base_url: &str,
    creds: Credentials,
    timeout: Duration,
    observer: Option<Observer>,
) -> Client {
    Client::new(
        ClientOptions {
            base_url: base_url.to_owned(),
            timeout,
        },
        creds,
        Arc::new(RateLimiter::new(1000, Duration::from_secs(1))),
        observer,
    )
    .expect("client builds")
}

/// The fake's bearer token as credentials.
pub fn token() -> Credentials {
    Credentials::Token(Secret::new(fake::TOKEN))
}

/// Polls `cond` every 50 ms until it holds or `timeout` passes; returns whether it held.
pub async fn eventually<F, Fut>(timeout: Duration, mut cond: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if cond().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// GET a URL; status and body.
pub async fn get(url: &str) -> (u16, String, Option<String>) {
    match reqwest::get(url).await {
        Ok(r) => {
            let status = r.status().as_u16();
            let ct = r
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            (status, r.text().await.unwrap_or_default(), ct)
        }
        Err(_) => (0, String::new(), None),
    }
}

/// The value of the sample `name{labels}` (labels exactly as rendered), if present.
pub fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| {
            l.strip_prefix(series)
                .and_then(|rest| rest.strip_prefix(' '))
        })
        .and_then(|v| v.trim().parse().ok())
}

/// Every sample line whose metric name is `name` (not its suffixed relatives).
pub fn series<'a>(text: &'a str, name: &str) -> Vec<&'a str> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|r| r.starts_with('{') || r.starts_with(' '))
        })
        .collect()
}

/// The `server_id` label of every sample of `name`, in order (duplicates kept).
pub fn server_ids(text: &str, name: &str) -> Vec<String> {
    series(text, name)
        .iter()
        .filter_map(|l| l.split("server_id=\"").nth(1)?.split('"').next())
        .map(str::to_owned)
        .collect()
}

/// A free port on 127.0.0.1 (bound then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a: SocketAddr| a.port())
        .expect("a free port")
}

/// Finds an external tool the test command installs. Missing: the test fails, unless
/// `MCP_SYNC_SKIP_EXTERNAL=1` asks to skip it (then `None`).
pub fn external_tool(name: &str) -> Option<PathBuf> {
    let candidates = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join(name))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let local = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("node_modules/.bin")
        .join(name);
    if let Some(p) = candidates.into_iter().chain([local]).find(|p| p.is_file()) {
        return Some(p);
    }
    if std::env::var("MCP_SYNC_SKIP_EXTERNAL").as_deref() == Ok("1") {
        eprintln!("skipping: {name} is not installed (MCP_SYNC_SKIP_EXTERNAL=1)");
        return None;
    }
    panic!("{name} is not installed: run the README's test command (bash scripts/test.sh), which installs it, or set MCP_SYNC_SKIP_EXTERNAL=1 to skip");
}

/// A temporary directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(format!(
            "mcp-sync-test-{tag}-{}-{}",
            std::process::id(),
            fastrand::u64(..)
        ));
        std::fs::create_dir_all(&p).expect("temp dir");
        Self(p)
    }

    pub fn file(&self, name: &str, content: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, content).expect("write temp file");
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A child process killed on drop.
pub struct Child(pub std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Child {
    /// Sends a signal by name (TERM, INT).
    pub fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.0.id().to_string())
            .status();
        assert!(
            status.map(|s| s.success()).unwrap_or(false),
            "kill -{sig} failed"
        );
    }

    /// Waits up to `timeout` for the exit code.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Ok(Some(st)) = self.0.try_wait() {
                return st.code();
            }
            if tokio::time::Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// An external server the test command installs (Prometheus, Alertmanager): started on a
/// free port of 127.0.0.1 with its log in a temporary directory, and waited for until
/// `ready_path` answers 200. `None` when the tool is missing and skipping is allowed.
pub struct Service {
    pub base: String,
    pub dir: TempDir,
    _child: Child,
}

impl Service {
    /// Starts `tool` with the arguments `args` makes from its directory and port.
    pub async fn start(
        tool: &str,
        args: impl FnOnce(&TempDir, u16) -> Vec<String>,
        ready_path: &str,
    ) -> Option<Self> {
        let bin = external_tool(tool)?;
        let dir = TempDir::new(tool);
        let port = free_port();
        let log = std::fs::File::create(dir.0.join("log")).expect("log file");
        let child = Command::new(bin)
            .args(args(&dir, port))
            .stdout(std::process::Stdio::from(log.try_clone().expect("clone")))
            .stderr(std::process::Stdio::from(log))
            .spawn()
            .unwrap_or_else(|e| panic!("{tool} starts: {e}"));
        let s = Self {
            base: format!("http://127.0.0.1:{port}"),
            dir,
            _child: Child(child),
        };
        let ready = eventually(Duration::from_secs(60), || async {
            get(&format!("{}{ready_path}", s.base)).await.0 == 200
        })
        .await;
        assert!(ready, "{tool} did not become ready: {}", s.log());
        Some(s)
    }

    /// What it has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.0.join("log")).unwrap_or_default()
    }
}

/// `promtool check metrics` on `text`: `Err` with promtool's words when it refuses it; `None`
/// when promtool is missing and skipping is allowed.
pub fn promtool_check_metrics(text: &str) -> Option<Result<(), String>> {
    use std::io::Write as _;
    let promtool = external_tool("promtool")?;
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("promtool ends");
    Some(if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    })
}

/// A TLS client trusting `dir/ca.pem`, presenting `dir/<identity>.pem` and `.key` when given
/// (`tls_info`: the peer's certificate is kept for the test to look at).
pub fn tls_client(
    dir: &std::path::Path,
    identity: Option<&str>,
    tls_info: bool,
) -> reqwest::Client {
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).expect("read");
    let ca = reqwest::Certificate::from_pem(read("ca.pem").as_bytes()).expect("CA");
    let mut b = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(ca)
        .tls_info(tls_info)
        .timeout(Duration::from_secs(5));
    if let Some(name) = identity {
        let pem = format!(
            "{}{}",
            read(&format!("{name}.pem")),
            read(&format!("{name}.key"))
        );
        b = b.identity(reqwest::Identity::from_pem(pem.as_bytes()).expect("identity"));
    }
    b.build().expect("client")
}

/// A certificate authority named `name`, made for a test.
pub fn test_ca(name: &str) -> rcgen::CertifiedIssuer<'static, rcgen::KeyPair> {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    let key = rcgen::KeyPair::generate().expect("key");
    rcgen::CertifiedIssuer::self_signed(params, key).expect("CA")
}
