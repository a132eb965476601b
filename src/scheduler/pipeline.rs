//! A cycle's syncs, pipelined with its listing: a stale server is queued as soon as its page
//! is decoded and synced while later pages are still coming, within the same
//! `sync_concurrency`, the same budget and the same per-server rules (once per cycle; the
//! plan's back-off, dry run and filters decide, from the memory and clock the cycle started
//! with).
//!
//! What a sync teaches is published through an [`Outbox`]: held until the cycle's listing is
//! published (so that the listing, read before the sync, does not overwrite it), then
//! written straight into the state. A listing that fails keeps the previous snapshot: the
//! syncs already made count as made (their records go to the previous snapshot's servers),
//! the ones not yet started are not made.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tracing::error;

use super::sync::SyncEnd;
use super::{CycleReport, Scheduler};
use crate::cloudflare::Client;
use crate::shutdown::Shutdown;
use crate::state::State;

type Write = Box<dyn FnOnce(&State) + Send>;

/// A write about one server: given the state, the account and the server's id.
pub(super) type ServerWrite = Box<dyn FnOnce(&State, &str, &str) + Send>;

/// Where a cycle's syncs write: buffered until the listing is published, then direct.
#[derive(Default)]
pub(super) struct Outbox {
    inner: Mutex<(bool, Vec<Write>)>,
}

impl Outbox {
    /// Writes `f` into `state` now if the listing is published, else once it is.
    pub(super) fn write(&self, state: &State, f: impl FnOnce(&State) + Send + 'static) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if inner.0 {
            f(state);
        } else {
            inner.1.push(Box::new(f));
        }
    }

    /// [`Self::write`] of something about server `id` of `account`.
    pub(super) fn write_server(&self, state: &State, account: &str, id: &str, f: ServerWrite) {
        let (a, i) = (account.to_owned(), id.to_owned());
        self.write(state, move |s| f(s, &a, &i));
    }

    /// Runs `publish` (the listing), then what was held, in order; later writes go direct.
    pub(super) fn open(&self, state: &State, publish: impl FnOnce(&State)) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        publish(state);
        for f in inner.1.drain(..) {
            f(state);
        }
        inner.0 = true;
    }
}

/// What one sync needs from its cycle.
pub(super) struct SyncRun {
    pub(super) client: Client,
    pub(super) account: String,
    /// Set by a 401/403: syncs not started are abandoned, running ones stop retrying.
    pub(super) stop: AtomicBool,
    /// Set when the listing failed: syncs not started are not made.
    cancelled: AtomicBool,
    pub(super) outbox: Outbox,
    pub(super) shutdown: Shutdown,
}

/// The syncs of one cycle.
pub(super) struct Syncs {
    scheduler: Scheduler,
    run: Arc<SyncRun>,
    permits: Arc<Semaphore>,
    queued: HashSet<String>,
    tasks: JoinSet<SyncEnd>,
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
                outbox: Outbox::default(),
                shutdown: sd.clone(),
            }),
            permits,
            queued: HashSet::new(),
            tasks: JoinSet::new(),
        }
    }

    /// The outbox the listing is published through.
    pub(super) fn outbox(&self) -> &Outbox {
        &self.run.outbox
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
            let state = &me.inner.state;
            match permit {
                Some(Ok(_permit)) if run.cancelled.load(Ordering::SeqCst) => SyncEnd::NotMade,
                Some(Ok(_)) if run.stop.load(Ordering::SeqCst) => {
                    let abandon: ServerWrite =
                        Box::new(|s, a, i| s.abandon(a, i, 0, SystemTime::now()));
                    run.outbox.write_server(state, &run.account, &id, abandon);
                    SyncEnd::Auth
                }
                Some(Ok(_permit)) => me.sync_one(&run, &id, &name, before).await,
                _ => {
                    let abandon: ServerWrite =
                        Box::new(|s, a, i| s.abandon(a, i, 0, SystemTime::now()));
                    run.outbox.write_server(state, &run.account, &id, abandon);
                    SyncEnd::Interrupted
                }
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

    /// Waits for every sync and counts them into `report`.
    pub(super) async fn finish(mut self, report: &mut CycleReport) {
        while let Some(r) = self.tasks.join_next().await {
            match r {
                Ok(SyncEnd::Success) => report.synced += 1,
                Ok(SyncEnd::Failed) => report.failed += 1,
                Ok(SyncEnd::NoEffect) => {
                    report.failed += 1;
                    report.no_effect += 1;
                }
                Ok(SyncEnd::Auth) => report.auth_failed = true,
                Ok(SyncEnd::Gone | SyncEnd::Interrupted | SyncEnd::NotMade) => {}
                Err(e) => {
                    error!(account = %self.run.account, error = %e, "a sync task ended unexpectedly")
                }
            }
        }
    }
}
