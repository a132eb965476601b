//! What the daemon publishes, for `metrics`, the HTTP pages and `once` to read.
//!
//! Each account's view ([`AccountView`]: the listing's health, its servers as Cloudflare last
//! reported them with the daemon's own record of each, the account's counters) is built by
//! the scheduler in one piece per cycle and published whole, in one step: a reader takes an
//! `Arc` of the current view and never waits on a lock a cycle holds, and never sees half a
//! cycle. [`State::version`] changes with every publication, so a rendering made from one
//! version serves every reader until the next. What changes with every API request (request
//! counts and durations, the `Ratelimit` header) is a small structure of its own behind a
//! short lock, so a request never throws away the rendering of the servers.
//!
//! The scheduler is the only writer. Per-server counters live with the server: when a server
//! leaves the account its series leave with it; while it stays, its counters only grow.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;

use crate::vocabulary::Endpoint;

mod account;
mod info;
mod portals;
mod server;
mod servers;
pub use account::{AccountView, ServerRecord};
pub use info::{
    bounded, shared, Drift, Review, ServerInfo, MAX_ENUM_CHARS, MAX_ERROR_CHARS,
    MAX_HOSTNAME_CHARS, MAX_NAME_CHARS,
};
pub use portals::{
    member_health, portal_health, AccountPortals, MemberHealth, MemberView, PortalView,
};
#[cfg(test)]
pub use server::LastSync;
pub use server::{
    bounded_text, Action, BlockReason, Outcome, RetryReason, ServerState, SyncRecord, NO_EFFECT,
};
pub use servers::Servers;

/// Upper bounds of the API request duration histogram (seconds): milliseconds to tens of
/// seconds.
pub const REQUEST_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];
/// Upper bounds of the cycle duration histogram (seconds): up to many minutes.
pub const CYCLE_BUCKETS: &[f64] = &[
    0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0,
];

/// A Prometheus-style histogram as plain data.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    /// Upper bounds.
    pub bounds: &'static [f64],
    /// Observations per bucket (not cumulative).
    pub counts: Vec<u64>,
    /// Sum of observations.
    pub sum: f64,
    /// Number of observations.
    pub count: u64,
}

impl Histogram {
    /// An empty histogram over `bounds`.
    pub fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            counts: vec![0; bounds.len()],
            sum: 0.0,
            count: 0,
        }
    }

    /// Adds one observation.
    pub fn observe(&mut self, v: f64) {
        if let Some(i) = self.bounds.iter().position(|b| v <= *b) {
            self.counts[i] += 1;
        }
        self.sum += v;
        self.count += 1;
    }
}

/// The daemon's own settings, published so that alert rules follow the configuration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    /// Time between cycles.
    pub interval: Duration,
    /// Age after which a server's last successful sync is stale.
    pub stale_after: Duration,
    /// Whether syncs are only decided and reported.
    pub dry_run: bool,
}

/// What one account's API requests taught, request by request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RequestCounts {
    /// Requests by endpoint and status (`None`: no answer).
    pub by_code: BTreeMap<(Endpoint, Option<u16>), u64>,
    /// From the last `Ratelimit` header.
    pub ratelimit_remaining: Option<u64>,
    /// When the window of the last `Ratelimit` header resets.
    pub ratelimit_reset: Option<SystemTime>,
}

/// The request counters of every account, and request durations per endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct Requests {
    /// Per account.
    pub accounts: BTreeMap<String, RequestCounts>,
    /// Durations per endpoint.
    pub durations: BTreeMap<Endpoint, Histogram>,
}

impl Default for Requests {
    fn default() -> Self {
        Self {
            accounts: BTreeMap::new(),
            durations: Endpoint::ALL
                .iter()
                .map(|e| (*e, Histogram::new(REQUEST_BUCKETS)))
                .collect(),
        }
    }
}

/// What a reader sees: every account's current view, and a copy of the request counters.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Per account, as last published.
    pub accounts: BTreeMap<String, Arc<AccountView>>,
    /// The request counters, as they were when the snapshot was taken.
    pub requests: Requests,
    /// The settings alert rules compare against (`None` until a scheduler publishes them).
    pub settings: Option<Settings>,
    /// [`State::version`] of these views.
    pub version: u64,
    /// How the pin file last loaded; `None` without one.
    pub pins: Option<PinStatus>,
    /// Per account, the portals as last published (empty views when portals are off).
    pub portals: BTreeMap<String, Arc<AccountPortals>>,
}

/// How the pin file's last load went, for the metrics and the pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PinStatus {
    /// Whether the last attempt loaded.
    pub ok: bool,
    /// When pins were last loaded.
    pub last_success: Option<SystemTime>,
    /// Definitions pinned in the pins in use.
    pub definitions: usize,
    /// Servers with pins.
    pub servers: usize,
}

/// The published state: one view per account, swapped whole.
#[derive(Debug)]
pub struct State {
    accounts: BTreeMap<String, ArcSwap<AccountView>>,
    /// Per account, whether a listing has completed: readiness, known before the cycle's
    /// syncs end and its view is published.
    listed: BTreeMap<String, AtomicBool>,
    requests: Mutex<Requests>,
    settings: OnceLock<Settings>,
    version: AtomicU64,
    scheduler_alive: AtomicBool,
    pins: Mutex<Option<PinStatus>>,
    portals: BTreeMap<String, ArcSwap<AccountPortals>>,
}

impl State {
    /// State for these accounts, nothing known yet.
    pub fn new<'a>(accounts: impl IntoIterator<Item = &'a str>) -> Self {
        let ids: Vec<&str> = accounts.into_iter().collect();
        Self {
            accounts: ids
                .iter()
                .map(|a| {
                    (
                        (*a).to_owned(),
                        ArcSwap::from_pointee(AccountView::default()),
                    )
                })
                .collect(),
            listed: ids
                .iter()
                .map(|a| ((*a).to_owned(), AtomicBool::new(false)))
                .collect(),
            requests: Mutex::default(),
            settings: OnceLock::new(),
            version: AtomicU64::new(0),
            scheduler_alive: AtomicBool::new(true),
            pins: Mutex::new(None),
            portals: ids
                .iter()
                .map(|a| ((*a).to_owned(), ArcSwap::default()))
                .collect(),
        }
    }

    /// Changes with every publication of a view.
    pub fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }

    /// The current view of every account, and the request counters.
    pub fn read(&self) -> Snapshot {
        let version = self.version();
        Snapshot {
            accounts: self
                .accounts
                .iter()
                .map(|(id, v)| (id.clone(), v.load_full()))
                .collect(),
            requests: self.requests().clone(),
            settings: self.settings.get().copied(),
            version,
            pins: *self.pins.lock().unwrap_or_else(|e| e.into_inner()),
            portals: self
                .portals
                .iter()
                .map(|(id, v)| (id.clone(), v.load_full()))
                .collect(),
        }
    }

    /// The current view of one account.
    pub fn account(&self, account: &str) -> Option<Arc<AccountView>> {
        self.accounts.get(account).map(|v| v.load_full())
    }

    /// Publishes a new view of `account`, whole: readers see it from now on.
    pub fn publish(&self, account: &str, view: AccountView) {
        if let Some(slot) = self.accounts.get(account) {
            if view.listed {
                self.mark_listed(account);
            }
            slot.store(Arc::new(view));
            self.version.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// Publishes the portals of `account`, whole.
    pub fn publish_portals(&self, account: &str, portals: AccountPortals) {
        if let Some(slot) = self.portals.get(account) {
            slot.store(Arc::new(portals));
            self.version.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// Publishes how the pin file last loaded.
    pub fn publish_pins(&self, status: Option<PinStatus>) {
        *self.pins.lock().unwrap_or_else(|e| e.into_inner()) = status;
    }

    /// Publishes the settings that alert rules compare against (the first publication
    /// stands).
    pub fn publish_settings(&self, settings: Settings) {
        let _ = self.settings.set(settings);
    }

    /// Whether every account has completed one listing.
    pub fn ready(&self) -> bool {
        self.listed.values().all(|l| l.load(Ordering::SeqCst))
    }

    /// A listing of `account` completed (its view follows at the end of the cycle).
    pub fn mark_listed(&self, account: &str) {
        if let Some(l) = self.listed.get(account) {
            l.store(true, Ordering::SeqCst);
        }
    }

    /// The scheduler says whether it runs.
    pub fn set_scheduler_alive(&self, alive: bool) {
        self.scheduler_alive.store(alive, Ordering::SeqCst);
    }

    /// Whether the scheduler runs.
    pub fn scheduler_alive(&self) -> bool {
        self.scheduler_alive.load(Ordering::SeqCst)
    }

    fn requests(&self) -> std::sync::MutexGuard<'_, Requests> {
        self.requests.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts one API request: its account, call, HTTP status (`None`: no answer), duration,
    /// and the `Ratelimit` header's remaining count and reset, when sent.
    pub fn record_request(
        &self,
        account: &str,
        endpoint: Endpoint,
        status: Option<u16>,
        duration: Duration,
        ratelimit: Option<(u64, SystemTime)>,
    ) {
        let mut r = self.requests();
        if let Some(h) = r.durations.get_mut(&endpoint) {
            h.observe(duration.as_secs_f64());
        }
        let a = r.accounts.entry(account.to_owned()).or_default();
        *a.by_code.entry((endpoint, status)).or_default() += 1;
        if let Some((remaining, reset)) = ratelimit {
            a.ratelimit_remaining = Some(remaining);
            a.ratelimit_reset = Some(reset);
        }
    }
}

#[cfg(test)]
#[path = "../../tests/unit/state.rs"]
mod tests;
