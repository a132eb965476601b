//! One retry loop for every request the scheduler makes, list pages and syncs alike:
//! exponential back-off with jitter from `backon`, `retry-after` honoured, bounded by
//! `retry.max_elapsed` (all in [`decide::retry_wait`]), and given up at shutdown.

use std::future::Future;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use tokio::time::Instant;

use super::decide::{self, Class};
use crate::config::RetryConfig;
use crate::shutdown::Shutdown;

/// How a request and its retries ended.
#[derive(Debug)]
pub enum Ended<T> {
    /// An answer the caller acts on: a final class, or a retryable one whose retries ran out.
    Answered {
        /// The last answer.
        result: T,
        /// Its class.
        class: Class,
        /// Requests made.
        attempts: u32,
    },
    /// Shutdown, or the caller's `before_retry` said stop, before an answer it acts on.
    Stopped {
        /// Requests made.
        attempts: u32,
    },
}

fn backoff(r: &RetryConfig) -> backon::ExponentialBackoff {
    ExponentialBuilder::default()
        .with_min_delay(r.initial_interval)
        .with_factor(r.multiplier as f32)
        .with_max_delay(r.max_interval)
        .with_jitter()
        .without_max_times()
        .build()
}

/// Runs `attempt` until its answer, classified by `classify`, is final or its retries run
/// out. Before each retry, `before_retry` sees the answer, its class and the wait; it returns
/// `false` to stop (e.g. another request of the cycle hit an authentication error).
pub async fn retrying<T, Fut>(
    cfg: &RetryConfig,
    shutdown: &Shutdown,
    mut attempt: impl FnMut() -> Fut,
    classify: impl Fn(&T) -> Class,
    mut before_retry: impl FnMut(&T, Class, Duration) -> bool,
) -> Ended<T>
where
    Fut: Future<Output = T>,
{
    let started = Instant::now();
    let mut delays = backoff(cfg);
    let mut attempts = 0u32;
    loop {
        attempts += 1;
        let Some(result) = shutdown.run(attempt()).await else {
            return Ended::Stopped { attempts };
        };
        let class = classify(&result);
        let wait = decide::retry_wait(
            class,
            delays.next(),
            started.elapsed(),
            cfg.max_interval,
            cfg.max_elapsed,
        );
        let Some(wait) = wait else {
            return Ended::Answered {
                result,
                class,
                attempts,
            };
        };
        if !before_retry(&result, class, wait) || !shutdown.sleep(wait).await {
            return Ended::Stopped { attempts };
        }
    }
}

#[cfg(test)]
#[path = "../../tests/unit/scheduler/retry.rs"]
mod tests;
