//! Puts the daemon together: state, scheduler and HTTP server, started on one shutdown
//! signal and stopped within ten seconds of it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::cloudflare::BuildError;
use crate::config::Config;
use crate::http::{self, AppState};
use crate::scheduler::Scheduler;
use crate::shutdown::Shutdown;
use crate::state::State;

/// How long in-flight work may take after the stop signal.
pub const GRACE: Duration = Duration::from_secs(10);

/// Why the daemon could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The HTTP client could not be built.
    #[error(transparent)]
    Client(#[from] BuildError),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address that could not be bound.
        addr: SocketAddr,
        /// The OS's reason.
        source: std::io::Error,
    },
    /// The web configuration cannot be used.
    #[error(transparent)]
    WebConfig(#[from] http::web::WebConfigError),
    /// The HTTP server failed.
    #[error("the HTTP server failed: {0}")]
    Serve(std::io::Error),
}

/// A started daemon.
pub struct Running {
    /// Where the HTTP endpoints listen (the real port when 0 was asked for).
    pub addr: SocketAddr,
    /// Whether the endpoints speak TLS (a web configuration with `tls_server_config`).
    pub tls: bool,
    /// The daemon's state.
    pub state: Arc<State>,
    /// The scheduler (e.g. to run a cycle by hand in tests).
    pub scheduler: Scheduler,
    http: JoinHandle<std::io::Result<()>>,
    sched: JoinHandle<()>,
    shutdown: Shutdown,
}

/// Starts the HTTP server and the scheduler.
pub async fn start(config: Config, shutdown: Shutdown) -> Result<Running, AppError> {
    let state = Arc::new(State::new(config.accounts.iter().map(|a| a.id.as_str())));
    let web = match &config.web_config_file {
        Some(path) => Some(Arc::new(
            http::web::Web::load(path)?.report_to(state.clone()),
        )),
        None => None,
    };
    let scheduler = Scheduler::new(config.clone(), state.clone())?;
    let listener = http::bind(config.listen)
        .await
        .map_err(|source| AppError::Bind {
            addr: config.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| AppError::Bind {
        addr: config.listen,
        source,
    })?;
    let app = AppState {
        state: state.clone(),
        scheduler_alive: scheduler.liveness(),
        renderings: Arc::default(),
        web: web.clone(),
    };
    let http = tokio::spawn(http::serve(listener, app, shutdown.clone()));
    let sched = tokio::spawn(scheduler.clone().run(shutdown.clone()));
    info!(
        listen = %addr,
        tls = web.as_ref().is_some_and(|w| w.tls()),
        basic_auth = web.as_ref().is_some_and(|w| !w.current().users.is_empty()),
        accounts = config.accounts.len(),
        interval = %humantime::format_duration(config.interval),
        stale_after = %humantime::format_duration(config.stale_after),
        dry_run = config.dry_run,
        "mcp-sync-monitor started"
    );
    Ok(Running {
        addr,
        tls: web.as_ref().is_some_and(|w| w.tls()),
        state,
        scheduler,
        http,
        sched,
        shutdown,
    })
}

impl Running {
    /// Waits for the stop signal (or an HTTP server failure), then gives in-flight work
    /// [`GRACE`] to finish.
    pub async fn wait(mut self) -> Result<(), AppError> {
        let early = tokio::select! {
            _ = self.shutdown.wait() => None,
            r = &mut self.http => Some(r),
        };
        self.shutdown.trigger();
        let stop = async {
            let http = match early {
                Some(r) => r,
                None => (&mut self.http).await,
            };
            let _ = (&mut self.sched).await;
            http
        };
        match tokio::time::timeout(GRACE, stop).await {
            Ok(Ok(Ok(()))) => {
                info!("stopped");
                Ok(())
            }
            Ok(Ok(Err(e))) => Err(AppError::Serve(e)),
            Ok(Err(_)) => Ok(()),
            Err(_) => {
                warn!(
                    "in-flight work did not finish within {}s; abandoning it",
                    GRACE.as_secs()
                );
                self.http.abort();
                self.sched.abort();
                Ok(())
            }
        }
    }
}

/// Runs the daemon until `shutdown`.
pub async fn run(config: Config, shutdown: Shutdown) -> Result<(), AppError> {
    start(config, shutdown).await?.wait().await
}
