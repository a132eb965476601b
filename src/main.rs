//! The command line: parse, load the configuration, and hand over to the library.

use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use clap::{Parser, Subcommand};

use mcp_sync_monitor::config::{self, Flags};
use mcp_sync_monitor::shutdown::{self, Shutdown};
use mcp_sync_monitor::{app, demo, report, telemetry};

/// Keeps the MCP servers of Cloudflare accounts synced and tells Prometheus how healthy
/// each server's sync is.
#[derive(Parser, Debug)]
#[command(name = "mcp-sync-monitor", version, about, long_about = None)]
struct Cli {
    /// Configuration file (TOML). Also MCP_SYNC_CONFIG.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<std::path::PathBuf>,
    /// Address of the HTTP endpoints [env: MCP_SYNC_LISTEN] [default: 0.0.0.0:9878]
    #[arg(long, global = true, value_name = "ADDR")]
    listen: Option<String>,
    /// Time between cycles, e.g. 5m [env: MCP_SYNC_INTERVAL] [default: 5m]
    #[arg(long, global = true, value_name = "DURATION")]
    interval: Option<String>,
    /// A server not synced successfully for this long is stale [env: MCP_SYNC_STALE_AFTER] [default: 3h]
    #[arg(long, global = true, value_name = "DURATION")]
    stale_after: Option<String>,
    /// Decide and report, but never sync [env: MCP_SYNC_DRY_RUN]
    #[arg(long, global = true)]
    dry_run: bool,
    /// Log format: text or json [env: MCP_SYNC_LOG_FORMAT] [default: text]
    #[arg(long, global = true, value_name = "FORMAT")]
    log_format: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the daemon (the default).
    Run,
    /// Run one cycle, print a table, exit 0 (healthy), 1 (stale or failing) or 2 (config/auth).
    Once,
    /// Run against a built-in simulated Cloudflare API; no account needed.
    Demo,
    /// Load and validate the configuration, print it with secrets masked.
    CheckConfig,
    /// GET /healthz on the configured listen address; exit 0 if healthy.
    Healthcheck,
}

/// One glibc malloc arena instead of one per thread: the daemon allocates little and
/// rarely, and per-thread arenas kept a quarter of its peak memory as fragmentation
/// (measured by the benchmark). `MALLOC_ARENA_MAX` in the environment still wins.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn tune_allocator() {
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only sets an allocator parameter; it is called before any other
        // thread exists and its failure (a zero return) is harmless.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 1);
        }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn tune_allocator() {}

fn main() -> ExitCode {
    tune_allocator();
    let cli = Cli::parse();
    let flags = Flags {
        config: cli.config,
        listen: cli.listen,
        interval: cli.interval,
        stale_after: cli.stale_after,
        dry_run: cli.dry_run,
        log_format: cli.log_format,
    };
    let env = config::process_env();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let code = runtime.block_on(async move {
        match cli.command.unwrap_or(Command::Run) {
            Command::Run => run(&flags, &env).await,
            Command::Once => once(&flags, &env).await,
            Command::Demo => run_demo(&flags, &env).await,
            Command::CheckConfig => check_config(&flags, &env),
            Command::Healthcheck => healthcheck(&flags, &env).await,
        }
    });
    runtime.shutdown_timeout(Duration::from_secs(1));
    ExitCode::from(code)
}

fn load(flags: &Flags, env: &config::Env) -> Result<config::Config, u8> {
    config::load(flags, env).map_err(|e| {
        eprintln!("error: {e}");
        2
    })
}

/// Loads the configuration, starts logging and listens for SIGTERM/SIGINT.
fn prepare(flags: &Flags, env: &config::Env) -> Result<(config::Config, Shutdown), u8> {
    let cfg = load(flags, env)?;
    telemetry::init(cfg.log_format);
    let sd = Shutdown::new();
    tokio::spawn(shutdown::on_signals(sd.clone()));
    Ok((cfg, sd))
}

async fn run(flags: &Flags, env: &config::Env) -> u8 {
    let (cfg, sd) = match prepare(flags, env) {
        Ok(v) => v,
        Err(code) => return code,
    };
    match app::run(cfg, sd).await {
        Ok(()) => 0,
        Err(e) => {
            tracing::error!(error = %e, "mcp-sync-monitor failed");
            eprintln!("error: {e}");
            1
        }
    }
}

async fn once(flags: &Flags, env: &config::Env) -> u8 {
    let (cfg, sd) = match prepare(flags, env) {
        Ok(v) => v,
        Err(code) => return code,
    };
    let state = std::sync::Arc::new(mcp_sync_monitor::state::State::new(
        cfg.accounts.iter().map(|a| a.id.as_str()),
    ));
    let scheduler = match mcp_sync_monitor::scheduler::Scheduler::new(cfg, state.clone()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return 1;
        }
    };
    let reports = scheduler.run_once(&sd).await;
    let snap = state.read();
    print!("{}", report::table(&reports, &snap, SystemTime::now()));
    report::exit_code(&reports, &snap) as u8
}

async fn run_demo(flags: &Flags, env: &config::Env) -> u8 {
    let api = match demo::start_fake().await {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: cannot start the simulated Cloudflare API: {e}");
            return 1;
        }
    };
    let cfg = match demo::config(flags, env, &api) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    telemetry::init(cfg.log_format);
    let sd = Shutdown::new();
    tokio::spawn(shutdown::on_signals(sd.clone()));
    let running = match app::start(cfg, sd).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return 1;
        }
    };
    let port = running.addr.port();
    println!(
        "mcp-sync-monitor demo: {} simulated MCP servers at {}",
        demo::FLEET,
        api.base_url()
    );
    println!("  metrics:   http://127.0.0.1:{port}/metrics");
    println!("  health:    http://127.0.0.1:{port}/healthz  ready: http://127.0.0.1:{port}/readyz");
    println!("  index:     http://127.0.0.1:{port}/");
    println!("Press Ctrl-C to stop.");
    match running.wait().await {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}

fn check_config(flags: &Flags, env: &config::Env) -> u8 {
    match load(flags, env) {
        Ok(cfg) => {
            println!(
                "# configuration is valid; secrets are masked\n{}",
                cfg.render()
            );
            0
        }
        Err(code) => code,
    }
}

async fn healthcheck(flags: &Flags, env: &config::Env) -> u8 {
    let addr = match config::listen_address(flags, env) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let host = match addr.ip() {
        ip if ip.is_unspecified() && ip.is_ipv4() => "127.0.0.1".to_owned(),
        ip if ip.is_unspecified() => "[::1]".to_owned(),
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        ip => ip.to_string(),
    };
    let url = format!("http://{host}:{}/healthz", addr.port());
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("unhealthy: {e}");
            return 1;
        }
    };
    match client.get(&url).send().await {
        Ok(r) if r.status().is_success() => {
            println!("healthy: {url}");
            0
        }
        Ok(r) => {
            eprintln!("unhealthy: {url} answered {}", r.status());
            1
        }
        Err(e) => {
            eprintln!("unhealthy: {url}: {e}");
            1
        }
    }
}
