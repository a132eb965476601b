//! The one shutdown signal every long wait listens to: a `tokio-util` cancellation token.
//!
//! SIGTERM/SIGINT (or a test) triggers it once; the scheduler, the rate limiter's waits,
//! retry sleeps and the HTTP server all select on it, so nothing sleeps through a stop.

use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// A cloneable handle to a once-only stop signal.
#[derive(Clone, Debug, Default)]
pub struct Shutdown(CancellationToken);

impl Shutdown {
    /// A signal that has not fired.
    pub fn new() -> Self {
        Self::default()
    }

    /// Fires the signal; every waiter wakes.
    pub fn trigger(&self) {
        self.0.cancel();
    }

    /// Whether the signal has fired.
    pub fn is_triggered(&self) -> bool {
        self.0.is_cancelled()
    }

    /// Resolves once the signal has fired.
    pub async fn wait(&self) {
        self.0.cancelled().await;
    }

    /// Sleeps for `d` unless the signal fires first; returns `false` when interrupted.
    pub async fn sleep(&self, d: Duration) -> bool {
        self.run(tokio::time::sleep(d)).await.is_some()
    }

    /// Runs `fut` unless the signal fires first.
    pub async fn run<F: Future>(&self, fut: F) -> Option<F::Output> {
        self.0.run_until_cancelled(fut).await
    }
}

/// Waits for SIGTERM or SIGINT (Ctrl-C), then fires `shutdown`.
pub async fn on_signals(shutdown: Shutdown) {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("stop signal received, shutting down");
    shutdown.trigger();
}
