//! Puts the daemon together: state, scheduler and HTTP server, started on one shutdown
//! signal and stopped within ten seconds of it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tracing::{error, info, warn};

use crate::cloudflare::BuildError;
use crate::config::Config;
use crate::http::{self, AppState};
use crate::scheduler::{RunError, Scheduler, SetupError};
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
    /// The pin file does not load.
    #[error(transparent)]
    Pins(#[from] crate::pins::PinError),
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
    WebConfig(#[from] crate::web::WebConfigError),
    /// The HTTP server failed.
    #[error("the HTTP server failed: {0}")]
    Serve(std::io::Error),
    /// The scheduler stopped with an error (an account's loop panicked).
    #[error(transparent)]
    Scheduler(#[from] RunError),
    /// A task panicked.
    #[error("the {task} panicked: {message}")]
    Panicked {
        /// Which task.
        task: &'static str,
        /// The panic's message.
        message: String,
    },
}

/// A started daemon.
#[cfg_attr(not(feature = "fake"), allow(dead_code))]
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
    sched: JoinHandle<Result<(), RunError>>,
    shutdown: Shutdown,
}

/// Starts the HTTP server and the scheduler.
pub async fn start(config: Config, shutdown: Shutdown) -> Result<Running, AppError> {
    let state = Arc::new(State::new(config.accounts.iter().map(|a| a.id.as_str())));
    let web = match &config.web_config_file {
        Some(path) => Some(Arc::new(crate::web::Web::load(path)?)),
        None => None,
    };
    let scheduler = Scheduler::new(config.clone(), state.clone()).map_err(|e| match e {
        SetupError::Client(e) => AppError::Client(e),
        SetupError::Pins(e) => AppError::Pins(e),
    })?;
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
        renderings: Arc::default(),
        web: web.clone(),
    };
    let limits = http::Limits {
        max_connections: config.max_connections,
        ..http::Limits::default()
    };
    let http = tokio::spawn(http::serve_with(listener, app, shutdown.clone(), limits));
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
    /// Waits for the stop signal, or for the HTTP server or the scheduler to end first (a
    /// failure, or a panic), then gives in-flight work [`GRACE`] to finish. A failure or a
    /// panic of either is the error returned, so the process exits non-zero and a
    /// supervisor restarts it.
    pub async fn wait(self) -> Result<(), AppError> {
        supervise(self.http, self.sched, self.shutdown).await
    }
}

/// How a task of the daemon ended.
fn ended<T>(task: &'static str, r: Result<T, tokio::task::JoinError>) -> Result<T, AppError> {
    r.map_err(|e| {
        let message = crate::scheduler::panic_message(e);
        error!(task, panic = %message, "a task of the daemon panicked; stopping");
        AppError::Panicked { task, message }
    })
}

/// Runs until `shutdown` or until either task ends, then stops both within [`GRACE`]; the
/// first failure or panic is the result.
async fn supervise(
    mut http: JoinHandle<std::io::Result<()>>,
    mut sched: JoinHandle<Result<(), RunError>>,
    shutdown: Shutdown,
) -> Result<(), AppError> {
    let mut http_done = None;
    let mut sched_done = None;
    tokio::select! {
        _ = shutdown.wait() => {}
        r = &mut http => http_done = Some(r),
        r = &mut sched => sched_done = Some(r),
    }
    shutdown.trigger();
    let stop = async {
        let h = match http_done {
            Some(r) => r,
            None => (&mut http).await,
        };
        let s = match sched_done {
            Some(r) => r,
            None => (&mut sched).await,
        };
        (h, s)
    };
    match tokio::time::timeout(GRACE, stop).await {
        Ok((h, s)) => {
            let h = ended("HTTP server", h).and_then(|r| r.map_err(AppError::Serve));
            let s = ended("scheduler", s).and_then(|r| r.map_err(AppError::from));
            h.and(s)?;
            info!("stopped");
            Ok(())
        }
        Err(_) => {
            warn!(
                "in-flight work did not finish within {}s; abandoning it",
                GRACE.as_secs()
            );
            http.abort();
            sched.abort();
            Ok(())
        }
    }
}

/// Runs the daemon until `shutdown`.
pub async fn run(config: Config, shutdown: Shutdown) -> Result<(), AppError> {
    start(config, shutdown).await?.wait().await
}

#[cfg(test)]
#[path = "../tests/unit/app.rs"]
mod tests;
