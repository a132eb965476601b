//! One sync decision: the first request and its retries, what the scheduler remembers of
//! the outcome (failure streak, back-off), and the records of what it taught, for the view
//! its cycle publishes.

use std::sync::atomic::Ordering;
use std::time::SystemTime;

use tokio::time::Instant;
use tracing::{debug, error, info, warn};

use super::decide::{self, classify_sync, Class};
use super::pipeline::SyncRun;
use super::retry::{retrying, Ended};
use super::{Records, Scheduler};
use crate::cloudflare::model::sanitize;
use crate::cloudflare::{ApiError, SyncResult};
use crate::state::{Outcome, ServerRecord, SyncRecord, NO_EFFECT};

/// How one sync decision ended, for the cycle's report.
#[derive(Debug)]
pub(super) enum SyncEnd {
    /// Answered success: confirmed, or awaiting the next listing's judgement.
    Success,
    /// Answered success with a `last_successful_sync` that did not advance.
    NoEffect,
    Failed,
    Gone,
    Auth,
    Interrupted,
    /// Not started: the cycle's listing failed first.
    NotMade,
}

impl Scheduler {
    /// Syncs one server with its retries; the run's `stop` is set (and obeyed) when an
    /// authentication error ends the account's cycle. Returns how it ended and the records
    /// of what it taught.
    pub(super) async fn sync_one(
        &self,
        run: &SyncRun,
        id: &str,
        name: &str,
        before: Option<SystemTime>,
    ) -> (SyncEnd, Records) {
        let cfg = &self.inner.config;
        let account = run.account.as_str();
        let mut records: Records = Vec::new();
        let mut out = |r: ServerRecord| records.push((id.to_owned(), r));
        let started = Instant::now();
        let sent = SystemTime::now();
        let end = retrying(
            &cfg.retry,
            &run.shutdown,
            || run.client.sync(account, id),
            classify_sync,
            |r, class, wait| {
                if let Some(reason) = class.retry_reason() {
                    out(ServerRecord::Retry(reason));
                }
                debug!(account, server_id = %id, error = %describe(r), wait_ms = wait.as_millis() as u64, "sync failed; retrying");
                !run.stop.load(Ordering::SeqCst)
            },
        )
        .await;
        let (r, class, attempts) = match end {
            Ended::Answered {
                result,
                class,
                attempts,
            } => (result, class, attempts),
            Ended::Stopped { attempts } => {
                out(abandoned(attempts, sent));
                return (SyncEnd::Interrupted, records);
            }
        };
        let elapsed = started.elapsed();
        let end = match class {
            Class::Success => {
                let answer = r.unwrap_or_default();
                let (end, record) =
                    self.answered(run, id, name, attempts, answer, before, sent, elapsed);
                out(record);
                end
            }
            Class::Gone => {
                self.inner.memory.retain(account, |k| k != id);
                out(ServerRecord::Gone);
                warn!(account, server_id = %id, name = ?name, attempts, outcome = "gone", "the server no longer exists (404); forgetting it");
                SyncEnd::Gone
            }
            Class::Auth => {
                run.stop.store(true, Ordering::SeqCst);
                out(abandoned(attempts, sent));
                error!(account, server_id = %id, error = %describe(&r), "Cloudflare refused the credentials for a sync; stopping this account's cycle");
                SyncEnd::Auth
            }
            _ => {
                let rate_limited = matches!(class, Class::RateLimited(_));
                let failed = Failed {
                    attempts,
                    sent,
                    elapsed,
                    rate_limited,
                };
                out(self.sync_failed(run, id, name, failed, &r));
                SyncEnd::Failed
            }
        };
        (end, records)
    }

    /// A sync that answered success, judged by what the answer carries: confirmed, without
    /// effect (a failure in every respect), or left to the next listing.
    #[allow(clippy::too_many_arguments)]
    fn answered(
        &self,
        run: &SyncRun,
        id: &str,
        name: &str,
        attempts: u32,
        answer: SyncResult,
        before: Option<SystemTime>,
        sent: SystemTime,
        elapsed: std::time::Duration,
    ) -> (SyncEnd, ServerRecord) {
        let (cfg, account) = (&self.inner.config, run.account.as_str());
        let memory = &self.inner.memory;
        let outcome = decide::answered(before, answer.last_successful_sync);
        let consecutive_failures = match outcome {
            Outcome::Success => {
                memory.succeeded(account, id);
                0
            }
            Outcome::NoEffect => {
                let (n, backoff) = memory.failed(account, id, Instant::now(), |n| {
                    decide::failure_backoff(cfg.interval, n, cfg.failure_backoff_max)
                });
                warn!(account, server_id = %id, name = ?name, attempts, outcome = "no_effect", consecutive_failures = n, backoff_s = backoff.as_secs(), "{NO_EFFECT}");
                n
            }
            _ => memory.await_effect(account, id, before),
        };
        let stale = answer.last_successful_sync.map(|t| {
            decide::is_stale(
                Some(t),
                answer.status.as_deref(),
                SystemTime::now(),
                cfg.stale_after,
            )
        });
        let record = SyncRecord::Answered {
            outcome,
            status: answer.status,
            last_successful_sync: answer.last_successful_sync,
            last_synced: answer.last_synced,
            stale,
            consecutive_failures,
        };
        let record = ServerRecord::Sync {
            attempts,
            record,
            at: sent,
        };
        if outcome == Outcome::NoEffect {
            return (SyncEnd::NoEffect, record);
        }
        info!(account, server_id = %id, name = ?name, attempts, outcome = outcome.as_str(), duration_ms = elapsed.as_millis() as u64, "synced");
        (SyncEnd::Success, record)
    }

    /// A sync that failed after its retries: the streak grows, the server backs off, and
    /// what Cloudflare said is recorded.
    fn sync_failed(
        &self,
        run: &SyncRun,
        id: &str,
        name: &str,
        f: Failed,
        r: &Result<SyncResult, ApiError>,
    ) -> ServerRecord {
        let Failed {
            attempts,
            sent,
            elapsed,
            rate_limited,
        } = f;
        let (cfg, account) = (&self.inner.config, run.account.as_str());
        let (failures, backoff) = self.inner.memory.failed(account, id, Instant::now(), |n| {
            decide::failure_backoff(cfg.interval, n, cfg.failure_backoff_max)
        });
        let reason = describe(r);
        let (status, retryable, api_error, cause) = match r {
            Ok(res) => (
                res.status.clone(),
                res.error_details.as_ref().and_then(|d| d.retryable),
                true,
                res.error_details
                    .as_ref()
                    .and_then(|d| d.cause.clone())
                    .or_else(|| res.error.clone()),
            ),
            Err(_) => (None, None, false, None),
        };
        let record = SyncRecord::Failure {
            reason: reason.clone(),
            status,
            retryable,
            api_error,
            cause,
            rate_limited,
            consecutive_failures: failures,
        };
        let outcome = if rate_limited {
            "rate_limited"
        } else {
            "failed"
        };
        warn!(account, server_id = %id, name = ?name, attempts, outcome, error = %reason, consecutive_failures = failures, backoff_s = backoff.as_secs(), duration_ms = elapsed.as_millis() as u64, "sync failed");
        ServerRecord::Sync {
            attempts,
            record,
            at: sent,
        }
    }
}

/// The record of a sync stopped after `attempts` requests, the first sent at `sent`.
fn abandoned(attempts: u32, sent: SystemTime) -> ServerRecord {
    ServerRecord::Sync {
        attempts,
        record: SyncRecord::Abandoned,
        at: sent,
    }
}

/// How a failed sync went, for its record.
struct Failed {
    attempts: u32,
    sent: SystemTime,
    elapsed: std::time::Duration,
    rate_limited: bool,
}

/// A one-line reason for a sync outcome, safe to print.
fn describe(r: &Result<SyncResult, ApiError>) -> String {
    match r {
        Ok(res) => {
            let mut s = sanitize(res.error.as_deref().unwrap_or("no error"));
            if let Some(d) = &res.error_details {
                if let Some(c) = d
                    .cause
                    .as_deref()
                    .filter(|c| Some(*c) != res.error.as_deref())
                {
                    s.push_str(": ");
                    s.push_str(&sanitize(c));
                }
                if let Some(r) = d.retryable {
                    s.push_str(if r {
                        " (retryable)"
                    } else {
                        " (not retryable)"
                    });
                }
            }
            s
        }
        Err(e) => e.to_string(),
    }
}
