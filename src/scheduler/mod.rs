//! The sync loop: for each account, every `interval` (±10 % jitter), list → plan → sync
//! → retry → publish into [`State`].
//!
//! Cycles of one account never overlap (one task per account runs them one after
//! another); a cycle that overruns delays the next. Each server is synced at most once per
//! cycle and at most `sync_concurrency` at once, as soon as its page is decoded (the syncs
//! run while later pages are still coming: `pipeline`). Requests of one credential share one
//! [`RateLimiter`]. Every decision is a pure function in [`decide`] (the cycle's plan
//! included); the scheduler's own memory of failure streaks and back-offs is in [`memory`];
//! [`State`] is only written here, never read back. The walk is in `walk`, one sync in
//! `sync`, the one retry loop both use in `retry`. Shutdown is known here and nowhere below:
//! the client and the rate limiter are cancelled by being dropped.

mod confirm;
pub mod decide;
pub mod memory;
mod pipeline;
mod retry;
mod sync;
mod walk;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::task::JoinSet;
use tokio::time::Instant;
use tracing::{debug, error, info, warn};

use crate::cloudflare::capabilities::Change;
use crate::cloudflare::model::sanitize;
use crate::cloudflare::BuildError;
use crate::cloudflare::{Client, ClientOptions, Observer, RateLimiter};
use crate::config::Config;
use crate::shutdown::Shutdown;
use crate::state::{Action, Listed, Outcome, Settings, State};
use decide::Class;
use memory::{Memory, ServerMemory};
use pipeline::{Outbox, Syncs};

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
    clients: HashMap<String, Client>,
    alive: Arc<AtomicBool>,
    pipelined: AtomicBool,
}

/// The scheduler. Cheap to clone.
#[derive(Clone)]
pub struct Scheduler {
    inner: Arc<Inner>,
}

impl Scheduler {
    /// Builds one client (and one budget) per credential, shared by the accounts using it.
    pub fn new(config: Config, state: Arc<State>) -> Result<Self, BuildError> {
        state.publish_settings(Settings {
            interval: config.interval,
            stale_after: config.stale_after,
        });
        let observer: Observer = {
            let state = state.clone();
            Arc::new(move |r| state.record_request(r))
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
                clients,
                alive: Arc::new(AtomicBool::new(true)),
                pipelined: AtomicBool::new(true),
            }),
        })
    }

    /// What the scheduler remembers of a server (failure streak, back-off).
    pub fn remembered(&self, account: &str, id: &str) -> ServerMemory {
        self.inner.memory.get(account, id)
    }

    /// Whether syncs start as soon as their page is decoded (the default) or only after the
    /// whole listing (for comparisons in tests and the benchmark).
    pub fn set_pipelined(&self, on: bool) {
        self.inner.pipelined.store(on, Ordering::SeqCst);
    }

    /// True while [`Scheduler::run`] has not ended.
    pub fn liveness(&self) -> Arc<AtomicBool> {
        self.inner.alive.clone()
    }

    /// Runs cycles for every account until `shutdown`.
    pub async fn run(self, shutdown: Shutdown) {
        struct Dead(Arc<AtomicBool>);
        impl Drop for Dead {
            fn drop(&mut self) {
                self.0.store(false, Ordering::SeqCst);
            }
        }
        let _guard = Dead(self.inner.alive.clone());
        let mut tasks = JoinSet::new();
        for account in self.inner.clients.keys().cloned() {
            let me = self.clone();
            let sd = shutdown.clone();
            tasks.spawn(async move { me.account_loop(account, sd).await });
        }
        while let Some(res) = tasks.join_next().await {
            if let Err(e) = res {
                error!(error = %e, "an account loop ended unexpectedly");
            }
        }
    }

    async fn account_loop(&self, account: String, shutdown: Shutdown) {
        let interval = self.inner.config.interval;
        while !shutdown.is_triggered() {
            let started = Instant::now();
            self.cycle(&account, &shutdown).await;
            let delay =
                decide::next_cycle_delay(interval, started.elapsed(), fastrand::f64() * 2.0 - 1.0);
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
            tasks.spawn(async move { (i, me.cycle(&id, &sd).await) });
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
        let started = Instant::now();
        let mut report = CycleReport {
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
        };
        match self.inner.clients.get(account).cloned() {
            None => report.listing = ListingOutcome::Failed("unknown account".into()),
            Some(client) => {
                self.list_and_sync(client, account, shutdown, &mut report)
                    .await
            }
        }
        report.duration = started.elapsed();
        self.inner.state.cycle_done(account, report.duration);
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
    async fn list_and_sync(
        &self,
        client: Client,
        account: &str,
        shutdown: &Shutdown,
        report: &mut CycleReport,
    ) {
        let cfg = &self.inner.config;
        let mut basis = Basis {
            memory: self.inner.memory.of(account),
            wall: SystemTime::now(),
            now: Instant::now(),
        };
        let pipelined = self.inner.pipelined.load(Ordering::SeqCst);
        let mut syncs = Syncs::new(self, client.clone(), account, shutdown);
        let mut judged_no_effect = 0;
        let mut on_page = |items: &[Listed]| {
            for l in items.iter().filter(|l| cfg.wants(&l.id, &l.name)) {
                let judged = self.judge_pending(account, l, &mut basis, syncs.outbox());
                judged_no_effect += usize::from(judged == Some(Outcome::NoEffect));
                if pipelined
                    && decide::judge(l, &basis.memory, basis.wall, basis.now, cfg).1
                        == Action::Synced
                {
                    syncs.queue(&l.id, &l.name, l.last_successful_sync);
                }
            }
        };
        let listing = self.list(&client, account, shutdown, &mut on_page).await;
        report.no_effect += judged_no_effect;
        report.failed += judged_no_effect;
        match listing {
            Ok(listed) => {
                let to_sync =
                    self.plan_and_publish(account, listed, &basis, syncs.outbox(), report);
                for (id, name, before) in to_sync {
                    syncs.queue(&id, &name, before);
                }
            }
            Err(f) => {
                syncs.cancel(f.class == Class::Auth);
                syncs.outbox().open(&self.inner.state, |_| {});
                report.listing = self.listing_failed(account, f);
            }
        }
        syncs.finish(report).await;
        if report.auth_failed {
            self.inner
                .state
                .listing_failed(account, true, "sync refused with 401/403".into());
        }
    }

    /// Plans the cycle from the complete listing and the cycle's basis, publishes the
    /// listing with its verdicts (then what syncs already taught, through `outbox`), and
    /// returns the servers to sync.
    fn plan_and_publish(
        &self,
        account: &str,
        listed: Vec<Listed>,
        basis: &Basis,
        outbox: &Outbox,
        report: &mut CycleReport,
    ) -> Vec<(String, String, Option<SystemTime>)> {
        let (cfg, memory) = (&self.inner.config, &self.inner.memory);
        let plan = decide::plan(listed, &basis.memory, basis.wall, basis.now, cfg);
        // Servers that left the listing leave the memory (their back-off and fingerprint):
        // one that comes back under the same id starts from a baseline.
        let ids: HashSet<&str> = plan.listed.iter().map(|l| &*l.id).collect();
        memory.retain(account, |id| ids.contains(id));
        drop(ids);
        let mut plan = plan;
        let changes: Vec<(String, String, Change)> = plan
            .listed
            .iter_mut()
            .filter_map(|l| {
                let caps = l.capabilities.take()?;
                let change = memory.capabilities_changed(account, &l.id, caps)?;
                Some((l.id.to_string(), l.name.to_string(), change))
            })
            .collect();
        report.servers = plan.listed.len();
        let mut to_sync = Vec::new();
        let mut actions = Vec::new();
        for (l, action) in plan.listed.iter().zip(&plan.actions) {
            report.stale += usize::from(l.stale);
            self.note_blocked(account, l, action.blocked());
            match action {
                Action::Synced => {
                    to_sync.push((l.id.to_string(), l.name.to_string(), l.last_successful_sync))
                }
                Action::Blocked(_) => report.blocked += 1,
                Action::BackedOff => report.backed_off += 1,
                Action::WouldSync => {
                    report.dry_run += 1;
                    info!(account, server_id = %l.id, name = ?l.name, "stale; would sync (dry run)");
                }
                Action::None | Action::NotReached => {}
            }
            if *action != Action::None {
                actions.push((l.id.clone(), *action));
            }
        }
        outbox.open(&self.inner.state, |state| {
            state.listing_complete(account, plan.listed, SystemTime::now());
            for (id, action) in actions {
                state.set_action(account, &id, action);
            }
        });
        // The previous listing is gone: its pages go back too, not kept for the next one.
        crate::allocator::release_free();
        for (id, name, change) in changes {
            self.inner
                .state
                .record_capability_change(account, &id, SystemTime::now());
            let list = |v: &[String]| v.iter().map(|n| sanitize(n)).collect::<Vec<_>>().join(", ");
            warn!(
                account,
                server_id = %id,
                name = ?name,
                added = %list(&change.added),
                removed = %list(&change.removed),
                changed = %list(&change.changed),
                "the server's tool or prompt definitions changed"
            );
        }
        to_sync
    }

    /// A listing that did not complete: the previous snapshot stays (SPEC §3 step 1).
    fn listing_failed(&self, account: &str, f: walk::ListFailure) -> ListingOutcome {
        if f.class == Class::Interrupted {
            return ListingOutcome::Interrupted;
        }
        let auth = f.class == Class::Auth;
        self.inner
            .state
            .listing_failed(account, auth, f.message.clone());
        if auth {
            error!(account, error = %f.message, "Cloudflare refused the credentials; this account's cycle stops until the next interval. Check the API token's permissions (MCP Portals Read + Write).");
            ListingOutcome::AuthFailed(f.message)
        } else {
            warn!(account, error = %f.message, "listing failed; keeping the previous snapshot");
            ListingOutcome::Failed(f.message)
        }
    }
}

/// What a cycle decides from: the scheduler's memory and the clock at its start, the same
/// for each page as it arrives and for the plan of the whole listing.
pub(super) struct Basis {
    pub(super) memory: HashMap<String, ServerMemory>,
    pub(super) wall: SystemTime,
    pub(super) now: Instant,
}
