//! The sync loop: for each account, every `interval` (±10 % jitter), list → plan → sync
//! → retry → publish the account's view into [`State`], whole, once per cycle.
//!
//! Cycles of one account never overlap (one task per account runs them one after
//! another); a cycle that overruns delays the next. Each server is synced at most once per
//! cycle and at most `sync_concurrency` at once, as soon as its page is decoded (the syncs
//! run while later pages are still coming: `pipeline`). Requests of one credential share one
//! [`RateLimiter`]. Every decision is a pure function in [`decide`] (the cycle's plan
//! included); the scheduler's own memory of failure streaks and back-offs is in [`memory`];
//! [`State`] is only written here, and read back only for the previous view a new one is
//! built from. The walk is in `walk`, one sync in
//! `sync`, the one retry loop both use in `retry`; the portal listing, on its own task and
//! interval per account, in `portals`. Shutdown is known here and nowhere below:
//! the client and the rate limiter are cancelled by being dropped.

mod confirm;
pub mod decide;
pub mod definitions;
mod listed;
pub mod memory;
mod pipeline;
mod portals;
mod publish;
mod retry;
mod review;
mod sync;
mod walk;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::task::JoinSet;
use tokio::time::Instant;
use tracing::{debug, error, info};

use crate::cloudflare::BuildError;
use crate::cloudflare::{Client, ClientOptions, Observer, RateLimiter};
use crate::config::Config;
use crate::pins::{PinError, PinFile};
use crate::shutdown::Shutdown;
use crate::state::{Action, Outcome, ServerInfo, ServerRecord, Settings, State};
use decide::Class;
use listed::Listed;
use memory::{Memory, ServerMemory};
use pipeline::Syncs;

/// How a listing ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListingOutcome {
    /// Every page came.
    Complete,
    /// Credentials refused (401/403).
    AuthFailed(String),
    /// A page failed after its retries.
    Failed(String),
    /// Shutdown came first.
    Interrupted,
}

/// What one cycle of one account did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CycleReport {
    /// The account this cycle was for.
    pub account: String,
    /// How the listing ended.
    pub listing: ListingOutcome,
    /// Servers in the listing (within the filters).
    pub servers: usize,
    /// Of those, stale before syncing.
    pub stale: usize,
    /// Syncs that succeeded.
    pub synced: usize,
    /// Syncs that failed after their retries, or were found without effect (by their answer,
    /// or this cycle's listing for a sync of an earlier one).
    pub failed: usize,
    /// Stale servers left alone because of their failure back-off.
    pub backed_off: usize,
    /// Stale servers not synced because of `dry_run`.
    pub dry_run: usize,
    /// Stale servers not synced because a sync cannot refresh them.
    pub blocked: usize,
    /// Of the failed, those that answered success without effect.
    pub no_effect: usize,
    /// Whether a sync hit an authentication error (401/403).
    pub auth_failed: bool,
    /// List to publish.
    pub duration: Duration,
}

struct Inner {
    config: Config,
    state: Arc<State>,
    memory: Memory,
    pins: Option<PinFile>,
    clients: HashMap<String, Client>,
    pipelined: AtomicBool,
}

/// What a cycle taught about its servers, in order: applied to the view it publishes.
pub(super) type Records = Vec<(String, ServerRecord)>;

/// How a cycle's listing ended, for the view it publishes.
enum Listing {
    /// Every page came, at this time: the servers within the filters and their actions.
    Complete(Vec<(ServerInfo, Action)>, SystemTime),
    /// The previous snapshot stays; `Some((auth, error))` says the listing failed.
    Kept(Option<(bool, String)>),
}

/// Why the scheduler could not be built.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// An HTTP client could not be built.
    #[error(transparent)]
    Client(#[from] BuildError),
    /// The pin file does not load.
    #[error(transparent)]
    Pins(#[from] PinError),
}

/// Why the scheduler stopped before the shutdown signal.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// An account's loop panicked.
    #[error("the sync loop of account {account} panicked: {message}")]
    Panicked {
        /// The account.
        account: String,
        /// The panic's message.
        message: String,
    },
}

/// The message of a task's panic.
pub fn panic_message(e: tokio::task::JoinError) -> String {
    match e.try_into_panic() {
        Ok(p) => p
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(no message)".into()),
        Err(e) => e.to_string(),
    }
}

/// The scheduler. Cheap to clone.
#[derive(Clone)]
pub struct Scheduler {
    inner: Arc<Inner>,
}

impl Scheduler {
    /// Builds one client (and one budget) per credential, shared by the accounts using it,
    /// and loads the pin file.
    pub fn new(config: Config, state: Arc<State>) -> Result<Self, SetupError> {
        let pins = config.pins.as_ref().map(PinFile::open).transpose()?;
        if let Some(p) = &pins {
            state.publish_pins(Some(p.status()));
        }
        state.publish_settings(Settings {
            interval: config.interval,
            stale_after: config.stale_after,
            dry_run: config.dry_run,
        });
        let observer: Observer = {
            let state = state.clone();
            Arc::new(move |r| {
                let reset = r
                    .ratelimit
                    .map(|i| (i.remaining, SystemTime::now() + i.reset));
                state.record_request(r.account_id, r.endpoint, r.status, r.duration, reset)
            })
        };
        let mut by_credential: Vec<(crate::cloudflare::Credentials, Client)> = Vec::new();
        let mut clients = HashMap::new();
        for a in &config.accounts {
            let existing = by_credential
                .iter()
                .find(|(c, _)| *c == a.credentials)
                .map(|(_, cl)| cl.clone());
            let client = match existing {
                Some(c) => c,
                None => {
                    let limiter = Arc::new(RateLimiter::new(
                        config.rate_limit.requests,
                        config.rate_limit.per,
                    ));
                    let c = Client::new(
                        ClientOptions {
                            base_url: config.base_url.clone(),
                            timeout: config.request_timeout,
                        },
                        a.credentials.clone(),
                        limiter,
                        Some(observer.clone()),
                    )?;
                    by_credential.push((a.credentials.clone(), c.clone()));
                    c
                }
            };
            clients.insert(a.id.clone(), client);
        }
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                state,
                memory: Memory::default(),
                pins,
                clients,
                pipelined: AtomicBool::new(true),
            }),
        })
    }

    /// What the scheduler remembers of a server (failure streak, back-off).
    #[cfg(any(test, feature = "fake"))]
    pub fn remembered(&self, account: &str, id: &str) -> ServerMemory {
        self.inner.memory.get(account, id)
    }

    /// Whether syncs start as soon as their page is decoded (the default) or only after the
    /// whole listing (for comparisons in tests and the benchmark).
    #[cfg(any(test, feature = "fake"))]
    pub fn set_pipelined(&self, on: bool) {
        self.inner.pipelined.store(on, Ordering::SeqCst);
    }

    /// Runs cycles for every account until `shutdown`; the state says whether it runs. An
    /// account loop that panics stops the daemon (the shutdown is triggered) and is the
    /// error returned.
    pub async fn run(self, shutdown: Shutdown) -> Result<(), RunError> {
        struct Dead(Arc<State>);
        impl Drop for Dead {
            fn drop(&mut self) {
                self.0.set_scheduler_alive(false);
            }
        }
        let _guard = Dead(self.inner.state.clone());
        self.inner.state.set_scheduler_alive(true);
        let mut tasks = JoinSet::new();
        for account in self.inner.clients.keys().cloned() {
            let (me, sd, a) = (self.clone(), shutdown.clone(), account.clone());
            let named = format!("{account} (portals)");
            tasks.spawn(async move {
                let r = tokio::spawn(async move { me.portal_loop(a, sd).await }).await;
                r.map_err(|e| (named, e))
            });
            let me = self.clone();
            let sd = shutdown.clone();
            tasks.spawn(async move {
                let a = account.clone();
                let r = tokio::spawn(async move { me.account_loop(account, sd).await }).await;
                r.map_err(|e| (a, e))
            });
        }
        let mut failed = None;
        while let Some(res) = tasks.join_next().await {
            if let Ok(Err((account, e))) = res {
                let message = panic_message(e);
                error!(account = %account, panic = %message, "an account's sync loop panicked; stopping the daemon");
                shutdown.trigger();
                failed.get_or_insert(RunError::Panicked { account, message });
            }
        }
        failed.map_or(Ok(()), Err)
    }

    async fn account_loop(&self, account: String, shutdown: Shutdown) {
        let interval = self.inner.config.interval;
        while !shutdown.is_triggered() {
            let started = Instant::now();
            let jitter = fastrand::f64() * 2.0 - 1.0;
            self.cycle_then(&account, &shutdown, Some(jitter)).await;
            let delay = decide::next_cycle_delay(interval, started.elapsed(), jitter);
            if !shutdown.sleep(delay).await {
                break;
            }
        }
        debug!(account = %account, "account loop stopped");
    }

    /// One cycle for every account, at once; the reports in account order.
    pub async fn run_once(&self, shutdown: &Shutdown) -> Vec<CycleReport> {
        let mut tasks = JoinSet::new();
        for (i, a) in self.inner.config.accounts.iter().enumerate() {
            let me = self.clone();
            let sd = shutdown.clone();
            let id = a.id.clone();
            tasks.spawn(async move {
                let (report, ()) = tokio::join!(me.cycle(&id, &sd), me.portals_once(&id, &sd));
                (i, report)
            });
        }
        let mut out = Vec::new();
        while let Some(r) = tasks.join_next().await {
            match r {
                Ok(v) => out.push(v),
                Err(e) => error!(error = %e, "a cycle ended unexpectedly"),
            }
        }
        out.sort_by_key(|(i, _)| *i);
        out.into_iter().map(|(_, r)| r).collect()
    }

    /// One cycle of one account: list, plan, sync, publish.
    pub async fn cycle(&self, account: &str, shutdown: &Shutdown) -> CycleReport {
        self.cycle_then(account, shutdown, None).await
    }

    /// One cycle; with the jitter of the next one's delay, the view says when it starts.
    async fn cycle_then(
        &self,
        account: &str,
        shutdown: &Shutdown,
        jitter: Option<f64>,
    ) -> CycleReport {
        let started = Instant::now();
        let mut report = CycleReport::new(account);
        let Some(client) = self.inner.clients.get(account).cloned() else {
            report.listing = ListingOutcome::Failed("unknown account".into());
            return report;
        };
        let (listing, records) = self
            .list_and_sync(client, account, shutdown, &mut report)
            .await;
        report.duration = started.elapsed();
        let next = jitter.map(|r| {
            let interval = self.inner.config.interval;
            SystemTime::now() + decide::next_cycle_delay(interval, report.duration, r)
        });
        self.publish(account, listing, records, &report, next);
        if report.listing == ListingOutcome::Complete {
            info!(
                account,
                servers = report.servers,
                stale = report.stale,
                synced = report.synced,
                failed = report.failed,
                backed_off = report.backed_off,
                dry_run = report.dry_run,
                blocked = report.blocked,
                no_effect = report.no_effect,
                duration_ms = report.duration.as_millis() as u64,
                "cycle complete"
            );
        }
        report
    }

    /// Lists the account and syncs its stale servers: each as soon as its page is decoded
    /// when pipelined, all after the listing otherwise; the same plan decides either way.
    /// Returns how the listing ended and what the cycle taught.
    async fn list_and_sync(
        &self,
        client: Client,
        account: &str,
        shutdown: &Shutdown,
        report: &mut CycleReport,
    ) -> (Listing, Records) {
        let cfg = &self.inner.config;
        self.pin(account);
        let mut basis = Basis {
            memory: self.inner.memory.of(account),
            wall: SystemTime::now(),
            now: Instant::now(),
        };
        let pipelined = self.inner.pipelined.load(Ordering::SeqCst);
        let mut syncs = Syncs::new(self, client.clone(), account, shutdown);
        let mut records = Vec::new();
        let mut judged_no_effect = 0;
        // Each server is decided once, as its page arrives: stale or not, and what the cycle
        // does with it (pipelined, a sync starts at once).
        let mut on_page = |items: &mut [Listed]| {
            for l in items.iter_mut() {
                if !cfg.wants(&l.info.id, &l.info.name) {
                    continue;
                }
                let judged = self.judge_pending(account, &l.info, &mut basis, &mut records);
                judged_no_effect += usize::from(judged == Some(Outcome::NoEffect));
                let (stale, action) =
                    decide::judge(&l.info, &basis.memory, basis.wall, basis.now, cfg);
                (l.info.stale, l.action) = (stale, Some(action));
                if pipelined && action == Action::Synced {
                    syncs.queue(&l.info.id, &l.info.name, l.info.last_successful_sync);
                }
            }
        };
        let listing = self.list(&client, account, shutdown, &mut on_page).await;
        report.no_effect += judged_no_effect;
        report.failed += judged_no_effect;
        let listing = match listing {
            Ok(listed) => {
                self.inner.state.mark_listed(account);
                let (to_sync, listed) = self.plan(account, listed, &mut records, report);
                for (id, name, before) in to_sync {
                    syncs.queue(&id, &name, before);
                }
                self.first_listing(account, listed, &mut records)
            }
            Err(f) => {
                syncs.cancel(f.class == Class::Auth);
                let (outcome, failure) = self.listing_failed(account, f);
                report.listing = outcome;
                Listing::Kept(failure)
            }
        };
        records.extend(syncs.finish(report).await);
        (listing, records)
    }
}

impl Scheduler {
    /// Reloads the pin file if it changed, and starts the account's reviews against it
    /// (the memory judges which servers need a close look against its generation).
    fn pin(&self, account: &str) {
        let (pins, generation) = match &self.inner.pins {
            Some(f) => {
                let (p, g) = f.current();
                self.inner.state.publish_pins(Some(f.status()));
                (Some(p), g)
            }
            None => (None, 0),
        };
        self.inner.memory.review_against(account, pins, generation);
    }
}

impl CycleReport {
    /// A report of a cycle of `account` that has done nothing yet.
    pub fn new(account: &str) -> Self {
        Self {
            account: account.to_owned(),
            listing: ListingOutcome::Complete,
            servers: 0,
            stale: 0,
            synced: 0,
            failed: 0,
            backed_off: 0,
            dry_run: 0,
            blocked: 0,
            no_effect: 0,
            auth_failed: false,
            duration: Duration::ZERO,
        }
    }
}

impl Scheduler {
    /// The listing for the view the cycle publishes at its end; but an account's first
    /// listing is published at once (with what the cycle taught so far), so that a daemon
    /// that says it is ready has data to show while the first syncs run. Later cycles
    /// publish once, at their end.
    fn first_listing(
        &self,
        account: &str,
        listed: Vec<(ServerInfo, Action)>,
        records: &mut Records,
    ) -> Listing {
        let at = SystemTime::now();
        let state = &self.inner.state;
        let Some(old) = state.account(account).filter(|v| !v.listed) else {
            return Listing::Complete(listed, at);
        };
        let mut view = old.relisted(listed, at);
        drop(old);
        for (id, r) in records.drain(..) {
            view.apply(&id, r);
        }
        state.publish(account, view);
        Listing::Kept(None)
    }
}

/// What a cycle decides from: the scheduler's memory and the clock at its start, the same
/// for each page as it arrives and for the plan of the whole listing.
pub(super) struct Basis {
    pub(super) memory: HashMap<String, ServerMemory>,
    pub(super) wall: SystemTime,
    pub(super) now: Instant,
}
