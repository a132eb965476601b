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
mod tests {
    use super::*;

    fn cfg() -> RetryConfig {
        RetryConfig {
            initial_interval: Duration::from_millis(10),
            multiplier: 2.0,
            max_interval: Duration::from_millis(40),
            max_elapsed: Duration::from_secs(600),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn retries_a_transient_answer_until_it_succeeds() {
        let mut answers = vec![Class::Transient, Class::Transient, Class::Success].into_iter();
        let mut seen = Vec::new();
        let end = retrying(
            &cfg(),
            &Shutdown::new(),
            || std::future::ready(answers.next().unwrap_or(Class::Success)),
            |c| *c,
            |_, c, _| {
                seen.push(c);
                true
            },
        )
        .await;
        assert!(
            matches!(
                end,
                Ended::Answered {
                    class: Class::Success,
                    attempts: 3,
                    ..
                }
            ),
            "{end:?}"
        );
        assert_eq!(seen, [Class::Transient, Class::Transient]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_final_class_is_not_retried_and_a_stop_is_obeyed() {
        let end = retrying(
            &cfg(),
            &Shutdown::new(),
            || std::future::ready(Class::Permanent),
            |c| *c,
            |_, _, _| true,
        )
        .await;
        assert!(matches!(
            end,
            Ended::Answered {
                class: Class::Permanent,
                attempts: 1,
                ..
            }
        ));
        let end = retrying(
            &cfg(),
            &Shutdown::new(),
            || std::future::ready(Class::Retryable),
            |c| *c,
            |_, _, _| false,
        )
        .await;
        assert!(matches!(end, Ended::Stopped { attempts: 1 }));
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_stops_the_wait_for_a_retry_after() {
        let sd = Shutdown::new();
        let trigger = sd.clone();
        let end = retrying(
            &cfg(),
            &sd,
            || std::future::ready(Class::RateLimited(Some(Duration::from_secs(120)))),
            |c| *c,
            |_, _, wait| {
                assert_eq!(wait, Duration::from_secs(120), "retry-after is obeyed");
                trigger.trigger();
                true
            },
        )
        .await;
        assert!(matches!(end, Ended::Stopped { attempts: 1 }));
    }
}
