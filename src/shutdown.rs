//! The one shutdown signal every long wait listens to.
//!
//! SIGTERM/SIGINT (or a test) triggers it once; the scheduler, the rate limiter's waits,
//! retry sleeps and the HTTP server all select on it, so nothing sleeps through a stop.

use std::future::Future;
use std::time::Duration;

use tokio::sync::watch;

/// A cloneable handle to a once-only stop signal.
#[derive(Clone, Debug)]
pub struct Shutdown {
    rx: watch::Receiver<bool>,
    tx: std::sync::Arc<watch::Sender<bool>>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Self::new()
    }
}

impl Shutdown {
    /// A signal that has not fired.
    pub fn new() -> Self {
        let (tx, rx) = watch::channel(false);
        Self {
            rx,
            tx: std::sync::Arc::new(tx),
        }
    }

    /// Fires the signal; every waiter wakes.
    pub fn trigger(&self) {
        self.tx.send_replace(true);
    }

    /// Whether the signal has fired.
    pub fn is_triggered(&self) -> bool {
        *self.rx.borrow()
    }

    /// Resolves once the signal has fired.
    pub async fn wait(&self) {
        let mut rx = self.rx.clone();
        // An error means every sender is gone, which only happens at the end: treat as fired.
        let _ = rx.wait_for(|v| *v).await;
    }

    /// Sleeps for `d` unless the signal fires first; returns `false` when interrupted.
    pub async fn sleep(&self, d: Duration) -> bool {
        tokio::select! {
            _ = tokio::time::sleep(d) => true,
            _ = self.wait() => false,
        }
    }

    /// Runs `fut` unless the signal fires first.
    pub async fn run<F: Future>(&self, fut: F) -> Option<F::Output> {
        tokio::select! {
            v = fut => Some(v),
            _ = self.wait() => None,
        }
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
