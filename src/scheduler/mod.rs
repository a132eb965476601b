//! The sync loop: for each account, every `interval` (±10 % jitter), list → decide → sync
//! → retry → publish into [`State`].
//!
//! Cycles of one account never overlap (one task per account runs them one after
//! another); a cycle that overruns delays the next. Each server is synced at most once per
//! cycle and at most `sync_concurrency` at once. Requests of one credential share one
//! [`RateLimiter`]. Every decision is a pure function in [`decide`]; this module only does
//! the I/O and the bookkeeping.

pub mod decide;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use backon::{BackoffBuilder, ExponentialBuilder};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tracing::{debug, error, info, warn};

use crate::cloudflare::model::sanitize;
use crate::cloudflare::pagination::{next_page, total_pages, Listing};
use crate::cloudflare::BuildError;
use crate::cloudflare::{
    ApiError, Client, ClientOptions, Observer, RateLimiter, ResultInfo, SyncResult,
};
use crate::config::Config;
use crate::shutdown::Shutdown;
use crate::state::{Action, Listed, Settings, State, SyncRecord};
use decide::{classify_list_error, classify_sync, is_stale, retry_wait, Class};

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
    /// The account.
    pub account: String,
    /// How the listing ended.
    pub listing: ListingOutcome,
    /// Servers in the listing (within the filters).
    pub servers: usize,
    /// Of those, stale before syncing.
    pub stale: usize,
    /// Syncs that succeeded.
    pub synced: usize,
    /// Syncs that failed after their retries.
    pub failed: usize,
    /// Stale servers left alone because of their failure back-off.
    pub backed_off: usize,
    /// Stale servers not synced because of `dry_run`.
    pub dry_run: usize,
    /// Whether a sync hit an authentication error (401/403).
    pub auth_failed: bool,
    /// List to publish.
    pub duration: Duration,
}

#[derive(Debug)]
enum SyncEnd {
    Success,
    Failed,
    Gone,
    Auth,
    Interrupted,
}

struct Inner {
    config: Config,
    state: Arc<State>,
    clients: HashMap<String, Client>,
    alive: Arc<AtomicBool>,
}

/// The scheduler. Cheap to clone.
#[derive(Clone)]
pub struct Scheduler {
    inner: Arc<Inner>,
}

/// One list page, reduced to what the state keeps.
struct Page {
    items: Vec<Listed>,
    raw_count: usize,
    result_info: Option<ResultInfo>,
    skipped: usize,
}

/// Why a listing stopped early.
struct ListFailure {
    class: Class,
    message: String,
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
                clients,
                alive: Arc::new(AtomicBool::new(true)),
            }),
        })
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

    /// One cycle of one account.
    pub async fn cycle(&self, account: &str, shutdown: &Shutdown) -> CycleReport {
        let cfg = &self.inner.config;
        let state = &self.inner.state;
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
            auth_failed: false,
            duration: Duration::ZERO,
        };
        let Some(client) = self.inner.clients.get(account).cloned() else {
            report.listing = ListingOutcome::Failed("unknown account".into());
            return report;
        };

        // 1. List.
        match self.list(&client, account, shutdown).await {
            Ok(listing) => {
                report.servers = listing.servers.len();
                state.listing_complete(account, listing.servers, SystemTime::now());
            }
            Err(f) => {
                let auth = f.class == Class::Auth;
                report.listing = match f.class {
                    Class::Auth => ListingOutcome::AuthFailed(f.message.clone()),
                    Class::Interrupted => ListingOutcome::Interrupted,
                    _ => ListingOutcome::Failed(f.message.clone()),
                };
                if f.class != Class::Interrupted {
                    state.listing_failed(account, auth, f.message.clone());
                    if auth {
                        error!(account, error = %f.message, "Cloudflare refused the credentials; this account's cycle stops until the next interval. Check the API token's permissions (MCP Portals Read + Write).");
                    } else {
                        warn!(account, error = %f.message, "listing failed; keeping the previous snapshot");
                    }
                }
                report.duration = started.elapsed();
                state.cycle_done(account, report.duration);
                return report;
            }
        }

        // 2. Decide.
        let now = Instant::now();
        let backoffs = state.backoffs(account);
        let stale: Vec<(String, String)> = {
            let snap = state.read();
            snap.accounts
                .get(account)
                .map(|a| {
                    a.servers
                        .iter()
                        .filter(|(_, s)| s.info.stale)
                        .map(|(id, s)| (id.clone(), s.info.name.clone()))
                        .collect()
                })
                .unwrap_or_default()
        };
        report.stale = stale.len();
        let mut to_sync = Vec::new();
        for (id, name) in stale {
            let action = if backoffs
                .get(&id)
                .is_some_and(|u| !decide::backoff_expired(now, *u, cfg.interval))
            {
                report.backed_off += 1;
                Action::BackedOff
            } else if cfg.dry_run {
                report.dry_run += 1;
                info!(account, server_id = %id, name = ?name, "stale; would sync (dry run)");
                Action::WouldSync
            } else {
                to_sync.push((id.clone(), name));
                Action::Synced
            };
            state.set_action(account, &id, action);
        }

        // 3-5. Sync with retries, at most sync_concurrency at once.
        let sem = Arc::new(Semaphore::new(cfg.sync_concurrency));
        let stop = Arc::new(AtomicBool::new(false));
        let mut tasks = JoinSet::new();
        for (id, name) in to_sync {
            let me = self.clone();
            let (sem, stop, sd, client) =
                (sem.clone(), stop.clone(), shutdown.clone(), client.clone());
            let account = account.to_owned();
            tasks.spawn(async move {
                let permit = sd.run(sem.acquire_owned()).await;
                let end = match permit {
                    Some(Ok(_)) if stop.load(Ordering::SeqCst) => SyncEnd::Auth,
                    Some(Ok(_permit)) => {
                        return me.sync_one(&client, &account, &id, &name, &stop, &sd).await
                    }
                    _ => SyncEnd::Interrupted,
                };
                me.inner.state.abandon(&account, &id, 0);
                end
            });
        }
        while let Some(r) = tasks.join_next().await {
            match r {
                Ok(SyncEnd::Success) => report.synced += 1,
                Ok(SyncEnd::Failed) => report.failed += 1,
                Ok(SyncEnd::Auth) => report.auth_failed = true,
                Ok(SyncEnd::Gone | SyncEnd::Interrupted) => {}
                Err(e) => error!(account, error = %e, "a sync task ended unexpectedly"),
            }
        }
        if report.auth_failed {
            state.listing_failed(account, true, "sync refused with 401/403".into());
        }

        // 6. Publish.
        report.duration = started.elapsed();
        state.cycle_done(account, report.duration);
        info!(
            account,
            servers = report.servers,
            stale = report.stale,
            synced = report.synced,
            failed = report.failed,
            backed_off = report.backed_off,
            dry_run = report.dry_run,
            duration_ms = report.duration.as_millis() as u64,
            "cycle complete"
        );
        report
    }

    fn backoff(&self) -> backon::ExponentialBackoff {
        let r = &self.inner.config.retry;
        ExponentialBuilder::default()
            .with_min_delay(r.initial_interval)
            .with_factor(r.multiplier as f32)
            .with_max_delay(r.max_interval)
            .with_jitter()
            .without_max_times()
            .build()
    }

    /// Lists every page. Once the first page says how many there are, the rest are fetched
    /// `list_concurrency` at a time; without `result_info` the walk is sequential.
    async fn list(
        &self,
        client: &Client,
        account: &str,
        shutdown: &Shutdown,
    ) -> Result<Listing<Listed>, ListFailure> {
        let per_page = self.inner.config.per_page;
        let mut listing = Listing::default();
        let first = self.list_page(client, account, 1, shutdown).await?;
        if let Some(total) = total_pages(first.result_info.as_ref()).filter(|t| *t > 1) {
            listing.add(first.items, first.skipped);
            let sem = Arc::new(Semaphore::new(self.inner.config.list_concurrency));
            let mut tasks = JoinSet::new();
            for page in 2..=total {
                let (me, client, sem, sd) =
                    (self.clone(), client.clone(), sem.clone(), shutdown.clone());
                let account = account.to_owned();
                tasks.spawn(async move {
                    let _permit = sem.acquire_owned().await;
                    (page, me.list_page(&client, &account, page, &sd).await)
                });
            }
            let mut pages: Vec<(u32, Page)> = Vec::with_capacity(total as usize);
            let mut failure = None;
            while let Some(r) = tasks.join_next().await {
                match r {
                    Ok((n, Ok(p))) => pages.push((n, p)),
                    Ok((_, Err(f))) => {
                        if failure.is_none() {
                            tasks.abort_all();
                            failure = Some(f);
                        }
                    }
                    Err(e) if e.is_cancelled() => {}
                    Err(e) => {
                        failure.get_or_insert(ListFailure {
                            class: Class::Permanent,
                            message: e.to_string(),
                        });
                    }
                }
            }
            if let Some(f) = failure {
                return Err(f);
            }
            pages.sort_by_key(|(n, _)| *n);
            for (_, p) in pages {
                listing.add(p.items, p.skipped);
            }
            return Ok(listing);
        }
        let mut page = 1;
        let mut current = first;
        loop {
            let next = next_page(
                page,
                per_page,
                current.raw_count,
                current.result_info.as_ref(),
            );
            listing.add(current.items, current.skipped);
            match next {
                Some(n) => {
                    page = n;
                    current = self.list_page(client, account, page, shutdown).await?;
                }
                None => return Ok(listing),
            }
        }
    }

    /// One page, with retries on 429, 5xx and transport errors, reduced at once to what the
    /// state keeps of each server within the filters.
    async fn list_page(
        &self,
        client: &Client,
        account: &str,
        page: u32,
        shutdown: &Shutdown,
    ) -> Result<Page, ListFailure> {
        let cfg = &self.inner.config;
        let started = Instant::now();
        let mut backoff = self.backoff();
        loop {
            let err = match client
                .list_page(account, page, cfg.per_page, shutdown)
                .await
            {
                Ok(p) => {
                    for s in &p.skipped {
                        warn!(account, page, index = s.index, server_id = ?s.id, reason = %sanitize(&s.reason), "skipping a malformed server object; the rest of the page is kept");
                    }
                    let now = SystemTime::now();
                    let items = p
                        .servers
                        .into_iter()
                        .filter(|s| cfg.wants(&s.id, s.name.as_deref().unwrap_or("")))
                        .map(|s| {
                            let stale = is_stale(
                                s.last_successful_sync,
                                s.status.as_deref(),
                                now,
                                cfg.stale_after,
                            );
                            Listed::new(s, stale)
                        })
                        .collect();
                    return Ok(Page {
                        items,
                        raw_count: p.raw_count,
                        result_info: p.result_info,
                        skipped: p.skipped.len(),
                    });
                }
                Err(e) => e,
            };
            let class = classify_list_error(&err);
            let wait = retry_wait(
                class,
                backoff.next(),
                started.elapsed(),
                cfg.retry.max_interval,
                cfg.retry.max_elapsed,
            );
            match wait {
                Some(w) => {
                    debug!(account, page, error = %err, wait_ms = w.as_millis() as u64, "list page failed; retrying");
                    if !shutdown.sleep(w).await {
                        return Err(ListFailure {
                            class: Class::Interrupted,
                            message: "shutting down".into(),
                        });
                    }
                }
                None => {
                    return Err(ListFailure {
                        class,
                        message: err.to_string(),
                    })
                }
            }
        }
    }

    /// One sync decision: the first attempt and its retries, then the bookkeeping.
    async fn sync_one(
        &self,
        client: &Client,
        account: &str,
        id: &str,
        name: &str,
        stop: &AtomicBool,
        shutdown: &Shutdown,
    ) -> SyncEnd {
        let cfg = &self.inner.config;
        let state = &self.inner.state;
        let started = Instant::now();
        let mut backoff = self.backoff();
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            let r = client.sync(account, id, shutdown).await;
            let class = classify_sync(&r);
            let elapsed = started.elapsed();
            match class {
                Class::Success => {
                    let status = r.ok().and_then(|s| s.status);
                    state.record_sync(
                        account,
                        id,
                        attempts,
                        SyncRecord::Success { status },
                        SystemTime::now(),
                    );
                    info!(account, server_id = %id, name = ?name, attempts, outcome = "success", duration_ms = elapsed.as_millis() as u64, "synced");
                    return SyncEnd::Success;
                }
                Class::Gone => {
                    state.forget(account, id);
                    warn!(account, server_id = %id, name = ?name, attempts, outcome = "gone", "the server no longer exists (404); forgetting it");
                    return SyncEnd::Gone;
                }
                Class::Auth => {
                    stop.store(true, Ordering::SeqCst);
                    state.abandon(account, id, attempts);
                    error!(account, server_id = %id, error = %describe(&r), "Cloudflare refused the credentials for a sync; stopping this account's cycle");
                    return SyncEnd::Auth;
                }
                Class::Interrupted => {
                    state.abandon(account, id, attempts);
                    return SyncEnd::Interrupted;
                }
                _ => {}
            }
            if let Some(wait) = retry_wait(
                class,
                backoff.next(),
                elapsed,
                cfg.retry.max_interval,
                cfg.retry.max_elapsed,
            ) {
                if let Some(reason) = class.retry_reason() {
                    state.record_retry(account, id, reason);
                }
                debug!(account, server_id = %id, attempts, error = %describe(&r), wait_ms = wait.as_millis() as u64, "sync failed; retrying");
                if !shutdown.sleep(wait).await || stop.load(Ordering::SeqCst) {
                    state.abandon(account, id, attempts);
                    return SyncEnd::Interrupted;
                }
                continue;
            }
            let failures = state.consecutive_failures(account, id).saturating_add(1);
            let backoff_for =
                decide::failure_backoff(cfg.interval, failures, cfg.failure_backoff_max);
            let reason = describe(&r);
            let (status, retryable, api_error) = match &r {
                Ok(res) => (
                    res.status.clone(),
                    res.error_details.as_ref().and_then(|d| d.retryable),
                    true,
                ),
                Err(_) => (None, None, false),
            };
            state.record_sync(
                account,
                id,
                attempts,
                SyncRecord::Failure {
                    reason: reason.clone(),
                    status,
                    retryable,
                    api_error,
                    backoff_until: Instant::now() + backoff_for,
                },
                SystemTime::now(),
            );
            warn!(account, server_id = %id, name = ?name, attempts, outcome = "failed", error = %reason, consecutive_failures = failures, backoff_s = backoff_for.as_secs(), duration_ms = elapsed.as_millis() as u64, "sync failed");
            return SyncEnd::Failed;
        }
    }
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
