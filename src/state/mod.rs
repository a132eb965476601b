//! What the daemon knows about each account and each server.
//!
//! The scheduler is the only writer; `metrics` and `once` read. Every write is a short,
//! synchronous critical section (never held across an `.await`), so a scrape never waits on
//! a cycle. Per-server counters live with the server: when a server leaves the account, its
//! series leave with it; while it stays, its counters only grow.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, SystemTime};

use crate::cloudflare::pagination::Anomaly;
use crate::cloudflare::{Endpoint, RequestRecord};

mod listed;
mod servers;
pub use listed::{bounded, shared, Listed, MAX_ENUM_CHARS, MAX_HOSTNAME_CHARS, MAX_NAME_CHARS};
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

/// Retry counters by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Retries {
    /// `error_details.retryable == true`.
    pub retryable: u64,
    /// HTTP 429.
    pub rate_limited: u64,
    /// 5xx, timeouts, connection errors.
    pub transient: u64,
}

/// Why a retry happened (the metric's `reason` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryReason {
    /// The API said the error is retryable.
    Retryable,
    /// HTTP 429.
    RateLimited,
    /// 5xx, timeout, connection error.
    Transient,
}

impl RetryReason {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            RetryReason::Retryable => "retryable",
            RetryReason::RateLimited => "rate_limited",
            RetryReason::Transient => "transient",
        }
    }
}

/// Why a stale server is not synced: a sync cannot refresh it (Cloudflare's documentation
/// of MCP server portals, "Limitations"; `docs/design.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BlockReason {
    /// `authentication_status: manual`: user-managed OAuth. The tools and prompts captured at
    /// a user's first authorization are kept; background and manual syncs do not refresh them.
    ManualOauth,
    /// `authentication_status: required`: an administrator must authenticate before
    /// capabilities can be synced.
    SignInRequired,
}

impl BlockReason {
    /// Every reason, in label order.
    pub const ALL: [BlockReason; 2] = [BlockReason::ManualOauth, BlockReason::SignInRequired];

    /// The metric's `reason` label.
    pub fn as_str(self) -> &'static str {
        match self {
            BlockReason::ManualOauth => "manual_oauth",
            BlockReason::SignInRequired => "sign_in_required",
        }
    }

    /// What a person reads: the reason and what fixes it.
    pub fn describe(self) -> &'static str {
        match self {
            BlockReason::ManualOauth => "manual OAuth: a user must re-authorize",
            BlockReason::SignInRequired => {
                "sign-in required: an administrator must re-authenticate"
            }
        }
    }
}

/// What the last cycle did with a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Action {
    /// Fresh: nothing to do.
    #[default]
    None,
    /// A sync was sent.
    Synced,
    /// Stale, but `dry_run` is set.
    WouldSync,
    /// Stale, but in its failure back-off.
    BackedOff,
    /// Stale, and a sync cannot refresh it: not synced.
    Blocked(BlockReason),
    /// Stale, but the cycle stopped first (auth failure or shutdown).
    NotReached,
}

impl Action {
    /// For tables and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::None => "none",
            Action::Synced => "sync",
            Action::WouldSync => "would sync (dry run)",
            Action::BackedOff => "backed off",
            Action::Blocked(BlockReason::ManualOauth) => "blocked: manual_oauth",
            Action::Blocked(BlockReason::SignInRequired) => "blocked: sign_in_required",
            Action::NotReached => "not reached",
        }
    }

    /// The reason a stale server is not synced, when it is blocked.
    pub fn blocked(self) -> Option<BlockReason> {
        match self {
            Action::Blocked(r) => Some(r),
            _ => None,
        }
    }
}

/// How the daemon's last sync of a server ended (the `outcome` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Answered success, and Cloudflare's `last_successful_sync` advanced.
    Success,
    /// Answered success, but Cloudflare's `last_successful_sync` did not advance: a failure.
    NoEffect,
    /// Answered success; the next listing says whether it took effect.
    Pending,
    /// Failed after its retries.
    Failed,
    /// Still rate-limited (HTTP 429) when its retries ran out.
    RateLimited,
    /// Stopped before an outcome (authentication failure of the account, or shutdown).
    Interrupted,
}

impl Outcome {
    /// Every outcome, in label order.
    pub const ALL: [Outcome; 6] = [
        Outcome::Success,
        Outcome::NoEffect,
        Outcome::Pending,
        Outcome::Failed,
        Outcome::RateLimited,
        Outcome::Interrupted,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::NoEffect => "no_effect",
            Outcome::Pending => "pending",
            Outcome::Failed => "failed",
            Outcome::RateLimited => "rate_limited",
            Outcome::Interrupted => "interrupted",
        }
    }
}

/// The daemon's own record of its last sync of a server (its clock, not Cloudflare's).
#[derive(Debug, Clone, PartialEq)]
pub struct LastSync {
    /// When the daemon sent it.
    pub at: SystemTime,
    /// How it ended.
    pub outcome: Outcome,
    /// Why it failed, safe to print.
    pub error: Option<String>,
}

/// Everything known about one server.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ServerState {
    /// What the last listing said (updated by syncs until the next listing).
    pub info: Listed,
    /// Failed syncs in a row.
    pub consecutive_failures: u32,
    /// Syncs triggered.
    pub syncs_total: u64,
    /// Syncs that failed after their retries.
    pub failures_total: u64,
    /// Retries by reason.
    pub retries: Retries,
    /// What the last cycle did.
    pub last_action: Action,
    /// The daemon's last sync of it.
    pub last_sync: Option<LastSync>,
    /// Requests of the last sync.
    pub last_attempts: u32,
    /// Changes of its tool or prompt definitions seen between two listings.
    pub capability_changes: u64,
    /// When the last of those was seen.
    pub capabilities_changed_at: Option<SystemTime>,
}

/// Everything known about one account.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountState {
    /// Whether the last listing completed (`None` before the first attempt).
    pub up: Option<bool>,
    /// Whether a listing has ever completed.
    pub listed: bool,
    /// Whether the last attempt failed on authentication.
    pub auth_failed: bool,
    /// The last listing error, for `once` and logs.
    pub last_error: Option<String>,
    /// End of the last complete listing.
    pub last_list_success: Option<SystemTime>,
    /// From the last `Ratelimit` header.
    pub ratelimit_remaining: Option<u64>,
    /// When the window of the last `Ratelimit` header resets.
    pub ratelimit_reset: Option<SystemTime>,
    /// The servers of the last complete listing (within the filters).
    pub servers: Servers,
    /// Cycle durations.
    pub cycle_duration: Histogram,
    /// Requests by endpoint and status (`None`: no answer).
    pub api_requests: BTreeMap<(Endpoint, Option<u16>), u64>,
    /// Walk anomalies by kind.
    pub walk_anomalies: BTreeMap<Anomaly, u64>,
}

impl Default for AccountState {
    fn default() -> Self {
        Self {
            up: None,
            listed: false,
            auth_failed: false,
            last_error: None,
            last_list_success: None,
            ratelimit_remaining: None,
            ratelimit_reset: None,
            servers: Servers::default(),
            cycle_duration: Histogram::new(CYCLE_BUCKETS),
            api_requests: BTreeMap::new(),
            walk_anomalies: BTreeMap::new(),
        }
    }
}

impl AccountState {
    /// Stale servers.
    pub fn stale_count(&self) -> usize {
        self.servers.values().filter(|s| s.info.stale).count()
    }
}

/// Everything the daemon publishes: per account, and API request durations per endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// Per account.
    pub accounts: BTreeMap<String, AccountState>,
    /// API request durations per endpoint.
    pub request_durations: BTreeMap<Endpoint, Histogram>,
    /// The settings alert rules compare against (`None` until a scheduler publishes them).
    pub settings: Option<Settings>,
    /// The web configuration's last load, when there is a web configuration.
    pub web_config: Option<WebConfigLoad>,
}

/// How the web configuration's last (re)load went.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WebConfigLoad {
    /// Whether the last attempt loaded (false: the last good version keeps serving).
    pub ok: bool,
    /// When a version last loaded.
    pub last_success: Option<SystemTime>,
}

/// The daemon's own settings, published so that alert rules follow the configuration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    /// Time between cycles.
    pub interval: Duration,
    /// Age after which a server's last successful sync is stale.
    pub stale_after: Duration,
}

/// What the end of one sync decision taught.
#[derive(Debug, Clone, PartialEq)]
pub enum SyncRecord {
    /// Answered success. Cloudflare's fields as the answer carried them (absent: not
    /// carried, the listing's value stays); `outcome` is the scheduler's judgement of the
    /// effect: `Success`, `NoEffect`, or `Pending` until the next listing.
    Answered {
        /// The judgement.
        outcome: Outcome,
        /// `result.status`.
        status: Option<String>,
        /// `result.last_successful_sync`, when carried.
        last_successful_sync: Option<SystemTime>,
        /// `result.last_synced`, when carried.
        last_synced: Option<SystemTime>,
        /// Staleness from the carried `last_successful_sync` (`None`: not carried).
        stale: Option<bool>,
        /// Failed syncs in a row after this one (the scheduler keeps the count).
        consecutive_failures: u32,
    },
    /// A pending sync judged by the next listing: `Success` or `NoEffect`.
    Judged {
        /// The judgement.
        outcome: Outcome,
        /// Failed syncs in a row after it.
        consecutive_failures: u32,
    },
    /// Failed after its retries.
    Failure {
        /// Why.
        reason: String,
        /// `result.status`, when a result came.
        status: Option<String>,
        /// `error_details.retryable`, when sent.
        retryable: Option<bool>,
        /// Whether Cloudflare reported a server error (vs. a request failure).
        api_error: bool,
        /// Still HTTP 429 when the retries ran out.
        rate_limited: bool,
        /// Failed syncs in a row, this one included (the scheduler keeps the count).
        consecutive_failures: u32,
    },
    /// Stopped before an outcome (authentication failure or shutdown): not a server failure.
    Abandoned,
}

/// The warning a sync without effect is logged and shown with.
pub const NO_EFFECT: &str = "sync answered success but last_successful_sync did not advance";

/// The published state behind a lock: the scheduler writes it, readers copy out briefly.
#[derive(Debug)]
pub struct State {
    inner: RwLock<Snapshot>,
    /// Bumped by every write, so that readers can tell an unchanged state (one rendering of
    /// `/metrics` serves every scrape until it changes).
    version: AtomicU64,
}

impl State {
    /// State for these accounts, nothing known yet.
    pub fn new<'a>(accounts: impl IntoIterator<Item = &'a str>) -> Self {
        let accounts = accounts
            .into_iter()
            .map(|a| (a.to_owned(), AccountState::default()))
            .collect();
        let request_durations = Endpoint::ALL
            .iter()
            .map(|e| (*e, Histogram::new(REQUEST_BUCKETS)))
            .collect();
        Self {
            inner: RwLock::new(Snapshot {
                accounts,
                request_durations,
                settings: None,
                web_config: None,
            }),
            version: AtomicU64::new(0),
        }
    }

    /// Changes with every write.
    pub fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }

    /// Read access (metrics, reports). Hold it briefly.
    pub fn read(&self) -> RwLockReadGuard<'_, Snapshot> {
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Snapshot> {
        let guard = self.inner.write().unwrap_or_else(|e| e.into_inner());
        self.version.fetch_add(1, Ordering::AcqRel);
        guard
    }

    fn with_account<R>(&self, account: &str, f: impl FnOnce(&mut AccountState) -> R) -> R {
        let mut w = self.write();
        f(w.accounts.entry(account.to_owned()).or_default())
    }

    fn with_server(&self, account: &str, id: &str, f: impl FnOnce(&mut ServerState)) {
        self.with_account(account, |a| {
            if let Some(s) = a.servers.get_mut(id) {
                f(s);
            }
        });
    }

    /// Publishes the settings that alert rules compare against.
    pub fn publish_settings(&self, settings: Settings) {
        self.write().settings = Some(settings);
    }

    /// Records a (re)load of the web configuration.
    pub fn web_config_loaded(&self, ok: bool, at: SystemTime) {
        let mut w = self.write();
        let last_success = w.web_config.and_then(|c| c.last_success);
        w.web_config = Some(WebConfigLoad {
            ok,
            last_success: if ok { Some(at) } else { last_success },
        });
    }

    /// Whether every account has completed one listing.
    pub fn ready(&self) -> bool {
        self.read().accounts.values().all(|a| a.listed)
    }

    /// Counts one API request.
    pub fn record_request(&self, r: &RequestRecord<'_>) {
        let mut w = self.write();
        if let Some(h) = w.request_durations.get_mut(&r.endpoint) {
            h.observe(r.duration.as_secs_f64());
        }
        let a = w.accounts.entry(r.account_id.to_owned()).or_default();
        *a.api_requests.entry((r.endpoint, r.status)).or_default() += 1;
        if let Some(info) = r.ratelimit {
            a.ratelimit_remaining = Some(info.remaining);
            a.ratelimit_reset = Some(SystemTime::now() + info.reset);
        }
    }

    /// Counts a change of a server's tool or prompt definitions.
    pub fn record_capability_change(&self, account: &str, id: &str, at: SystemTime) {
        self.with_server(account, id, |s| {
            s.capability_changes += 1;
            s.capabilities_changed_at = Some(at);
        });
    }

    /// Counts a walk anomaly.
    pub fn record_walk_anomaly(&self, account: &str, kind: Anomaly) {
        self.with_account(account, |a| *a.walk_anomalies.entry(kind).or_default() += 1);
    }

    /// A listing failed: the previous snapshot stays, `up` goes to 0, nothing is removed.
    pub fn listing_failed(&self, account: &str, auth: bool, error: String) {
        self.with_account(account, |a| {
            a.up = Some(false);
            a.auth_failed = auth;
            a.last_error = Some(error);
        });
    }

    /// A listing completed: servers absent from it are forgotten, the others updated.
    pub fn listing_complete(&self, account: &str, listed: Vec<Listed>, at: SystemTime) {
        self.with_account(account, |a| {
            let old = std::mem::take(&mut a.servers);
            a.servers = Servers::relisted(listed, old, |s| {
                s.last_action = Action::None;
                s.last_attempts = 0;
            });
            a.up = Some(true);
            a.listed = true;
            a.auth_failed = false;
            a.last_error = None;
            a.last_list_success = Some(at);
        });
    }

    /// What a read of one server said (Cloudflare's fields); the daemon's own records stay.
    pub fn reread(&self, account: &str, listed: Listed) {
        let id = listed.id.clone();
        self.with_server(account, &id, |s| s.info = listed);
    }

    /// Notes what the cycle decided for a server.
    pub fn set_action(&self, account: &str, id: &str, action: Action) {
        self.with_server(account, id, |s| s.last_action = action);
    }

    /// Counts a retry.
    pub fn record_retry(&self, account: &str, id: &str, reason: RetryReason) {
        self.with_server(account, id, |s| match reason {
            RetryReason::Retryable => s.retries.retryable += 1,
            RetryReason::RateLimited => s.retries.rate_limited += 1,
            RetryReason::Transient => s.retries.transient += 1,
        });
    }

    /// Records the end of one sync decision, sent at `at` (the daemon's clock). Only what
    /// Cloudflare's answer carried is written into Cloudflare's fields.
    pub fn record_sync(
        &self,
        account: &str,
        id: &str,
        attempts: u32,
        record: SyncRecord,
        at: SystemTime,
    ) {
        self.with_server(account, id, |s| {
            if !matches!(record, SyncRecord::Judged { .. }) {
                s.last_attempts = attempts;
            }
            let last = |outcome, error: Option<String>| Some(LastSync { at, outcome, error });
            match record {
                SyncRecord::Answered {
                    outcome,
                    status,
                    last_successful_sync,
                    last_synced,
                    stale,
                    consecutive_failures,
                } => {
                    s.syncs_total += 1;
                    if let Some(st) = status {
                        s.info.status = Some(shared(bounded(Some(st), MAX_ENUM_CHARS)));
                    }
                    s.info.error = false;
                    s.info.error_retryable = None;
                    if last_successful_sync.is_some() {
                        s.info.last_successful_sync = last_successful_sync;
                    }
                    if last_synced.is_some() {
                        s.info.last_synced = last_synced;
                    }
                    if let Some(stale) = stale {
                        s.info.stale = stale;
                    }
                    if outcome == Outcome::NoEffect {
                        s.failures_total += 1;
                    }
                    s.consecutive_failures = consecutive_failures;
                    let error = (outcome == Outcome::NoEffect).then(|| NO_EFFECT.to_owned());
                    s.last_sync = last(outcome, error);
                }
                SyncRecord::Judged {
                    outcome,
                    consecutive_failures,
                } => {
                    if outcome == Outcome::NoEffect {
                        s.failures_total += 1;
                    }
                    s.consecutive_failures = consecutive_failures;
                    if let Some(l) = &mut s.last_sync {
                        l.outcome = outcome;
                        l.error = (outcome == Outcome::NoEffect).then(|| NO_EFFECT.to_owned());
                    }
                }
                SyncRecord::Failure {
                    reason,
                    status,
                    retryable,
                    api_error,
                    rate_limited,
                    consecutive_failures,
                } => {
                    s.syncs_total += 1;
                    s.failures_total += 1;
                    s.consecutive_failures = consecutive_failures;
                    if api_error {
                        if let Some(st) = status {
                            s.info.status = Some(shared(bounded(Some(st), MAX_ENUM_CHARS)));
                        }
                        s.info.error = true;
                        s.info.error_retryable = retryable;
                    }
                    let outcome = if rate_limited {
                        Outcome::RateLimited
                    } else {
                        Outcome::Failed
                    };
                    s.last_sync = last(outcome, Some(reason));
                }
                SyncRecord::Abandoned => {
                    s.last_action = Action::NotReached;
                    if attempts > 0 {
                        s.last_sync = last(Outcome::Interrupted, None);
                    }
                }
            }
        });
    }

    /// Notes that a sync was stopped before an outcome (authentication failure or shutdown).
    pub fn abandon(&self, account: &str, id: &str, attempts: u32, sent: SystemTime) {
        self.record_sync(account, id, attempts, SyncRecord::Abandoned, sent);
    }

    /// Forgets a server the API no longer knows (404 on sync).
    pub fn forget(&self, account: &str, id: &str) {
        self.with_account(account, |a| {
            a.servers.remove(id);
        });
    }

    /// Observes one cycle's duration.
    pub fn cycle_done(&self, account: &str, d: Duration) {
        self.with_account(account, |a| a.cycle_duration.observe(d.as_secs_f64()));
    }
}

#[cfg(test)]
mod tests;
