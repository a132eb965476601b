//! A cycle's syncs, pipelined with its listing: a stale server is queued as soon as its page
//! is decoded and synced while later pages are still coming, within the same
//! `sync_concurrency`, the same budget and the same per-server rules (once per cycle; the
//! plan's back-off, dry run and filters decide, from the memory and clock the cycle started
//! with).
//!
//! Each sync returns what it taught as records about its server; the cycle applies them to
//! the view it publishes, after the listing (read before the syncs), so a listing never
//! overwrites what a sync taught. A listing that fails keeps the previous snapshot: the syncs
//! already made count as made (their records go to the previous snapshot's servers), the
//! ones not yet started are not made.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tracing::error;

use super::sync::SyncEnd;
use super::{CycleReport, Records, Scheduler};
use crate::cloudflare::Client;
use crate::shutdown::Shutdown;
use crate::state::{ServerRecord, SyncRecord};

/// What one sync needs from its cycle.
pub(super) struct SyncRun {
    pub(super) client: Client,
    pub(super) account: String,
    /// Set by a 401/403: syncs not started are abandoned, running ones stop retrying.
    pub(super) stop: AtomicBool,
    /// Set when the listing failed: syncs not started are not made.
    cancelled: AtomicBool,
    pub(super) shutdown: Shutdown,
}

/// The syncs of one cycle.
pub(super) struct Syncs {
    scheduler: Scheduler,
    run: Arc<SyncRun>,
    permits: Arc<Semaphore>,
    queued: HashSet<String>,
    tasks: JoinSet<(SyncEnd, Records)>,
}

/// The record of a sync stopped before its first request.
fn abandoned(id: &str) -> Records {
    let record = ServerRecord::Sync {
        attempts: 0,
        record: SyncRecord::Abandoned,
        at: SystemTime::now(),
    };
    vec![(id.to_owned(), record)]
}

impl Syncs {
    pub(super) fn new(scheduler: &Scheduler, client: Client, account: &str, sd: &Shutdown) -> Self {
        let permits = Arc::new(Semaphore::new(scheduler.inner.config.sync_concurrency));
        Self {
            scheduler: scheduler.clone(),
            run: Arc::new(SyncRun {
                client,
                account: account.to_owned(),
                stop: AtomicBool::new(false),
                cancelled: AtomicBool::new(false),
                shutdown: sd.clone(),
            }),
            permits,
            queued: HashSet::new(),
            tasks: JoinSet::new(),
        }
    }

    /// Queues a sync of `id`, unless this cycle already has; `before` is Cloudflare's
    /// `last_successful_sync` that the sync is judged against.
    pub(super) fn queue(&mut self, id: &str, name: &str, before: Option<SystemTime>) {
        if !self.queued.insert(id.to_owned()) {
            return;
        }
        let (me, run, permits) = (
            self.scheduler.clone(),
            self.run.clone(),
            self.permits.clone(),
        );
        let (id, name) = (id.to_owned(), name.to_owned());
        self.tasks.spawn(async move {
            let permit = run.shutdown.run(permits.acquire_owned()).await;
            match permit {
                Some(Ok(_permit)) if run.cancelled.load(Ordering::SeqCst) => {
                    (SyncEnd::NotMade, Vec::new())
                }
                Some(Ok(_)) if run.stop.load(Ordering::SeqCst) => (SyncEnd::Auth, abandoned(&id)),
                Some(Ok(_permit)) => me.sync_one(&run, &id, &name, before).await,
                _ => (SyncEnd::Interrupted, abandoned(&id)),
            }
        });
    }

    /// Syncs not started yet will not be made (the listing failed); an authentication
    /// failure also stops the running ones' retries.
    pub(super) fn cancel(&self, auth: bool) {
        self.run.cancelled.store(true, Ordering::SeqCst);
        if auth {
            self.run.stop.store(true, Ordering::SeqCst);
        }
    }

    /// Waits for every sync, counts them into `report`, and hands over what they taught.
    pub(super) async fn finish(mut self, report: &mut CycleReport) -> Records {
        let mut records = Vec::new();
        while let Some(r) = self.tasks.join_next().await {
            match r {
                Ok((end, taught)) => {
                    records.extend(taught);
                    match end {
                        SyncEnd::Success => report.synced += 1,
                        SyncEnd::Failed => report.failed += 1,
                        SyncEnd::NoEffect => {
                            report.failed += 1;
                            report.no_effect += 1;
                        }
                        SyncEnd::Auth => report.auth_failed = true,
                        SyncEnd::Gone | SyncEnd::Interrupted | SyncEnd::NotMade => {}
                    }
                }
                Err(e) => {
                    error!(account = %self.run.account, error = %e, "a sync task ended unexpectedly")
                }
            }
        }
        records
    }
}
