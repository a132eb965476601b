//! One server as the daemon publishes it: what Cloudflare last reported ([`ServerInfo`]),
//! and what the daemon itself did (its counters, last action and last sync), with the words
//! they are told in (actions, outcomes, block reasons) and how a sync's record changes them.

use std::time::SystemTime;

use super::info::{bounded, shared, MAX_ENUM_CHARS, MAX_ERROR_CHARS};
use super::ServerInfo;

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
    pub info: ServerInfo,
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
    /// Not synced again before this (its failure back-off), as of the publication.
    pub backoff_until: Option<SystemTime>,
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
        /// What Cloudflare said went wrong (`error_details.cause`, else `error`).
        cause: Option<String>,
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

/// `v` bounded to `max` characters, kept only when not empty.
pub fn bounded_text(v: Option<String>, max: usize) -> Option<Box<str>> {
    v.filter(|t| !t.is_empty())
        .map(|t| bounded(Some(t), max).into_boxed_str())
}

impl ServerState {
    /// Whether the server is failing: the daemon's syncs failed or had no effect, or
    /// Cloudflare reports an error.
    pub fn failing(&self) -> bool {
        self.consecutive_failures > 0
            || self.info.error
            || self
                .last_sync
                .as_ref()
                .is_some_and(|l| matches!(l.outcome, Outcome::NoEffect | Outcome::Failed))
    }

    /// What the end of one sync decision, sent at `at` (the daemon's clock), changes. Only
    /// what Cloudflare's answer carried is written into Cloudflare's fields.
    pub fn apply(&mut self, attempts: u32, record: SyncRecord, at: SystemTime) {
        if !matches!(record, SyncRecord::Judged { .. }) {
            self.last_attempts = attempts;
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
                self.syncs_total += 1;
                self.reported(status, last_successful_sync, last_synced, stale);
                if outcome == Outcome::NoEffect {
                    self.failures_total += 1;
                }
                self.consecutive_failures = consecutive_failures;
                let error = (outcome == Outcome::NoEffect).then(|| NO_EFFECT.to_owned());
                self.last_sync = last(outcome, error);
            }
            SyncRecord::Judged {
                outcome,
                consecutive_failures,
            } => {
                if outcome == Outcome::NoEffect {
                    self.failures_total += 1;
                }
                self.consecutive_failures = consecutive_failures;
                if let Some(l) = &mut self.last_sync {
                    l.outcome = outcome;
                    l.error = (outcome == Outcome::NoEffect).then(|| NO_EFFECT.to_owned());
                }
            }
            SyncRecord::Failure {
                reason,
                status,
                retryable,
                api_error,
                cause,
                rate_limited,
                consecutive_failures,
            } => {
                self.syncs_total += 1;
                self.failures_total += 1;
                self.consecutive_failures = consecutive_failures;
                if api_error {
                    if let Some(st) = status {
                        self.info.status = Some(shared(bounded(Some(st), MAX_ENUM_CHARS)));
                    }
                    self.info.error = true;
                    self.info.error_retryable = retryable;
                    self.info.error_cause = bounded_text(cause, MAX_ERROR_CHARS);
                }
                let outcome = if rate_limited {
                    Outcome::RateLimited
                } else {
                    Outcome::Failed
                };
                self.last_sync = last(outcome, Some(reason));
            }
            SyncRecord::Abandoned => {
                self.last_action = Action::NotReached;
                if attempts > 0 {
                    self.last_sync = last(Outcome::Interrupted, None);
                }
            }
        }
    }

    /// What a sync answer of success carried of Cloudflare's fields (absent ones stay as
    /// listed): its status, no error, and the timestamps with the staleness they imply.
    fn reported(
        &mut self,
        status: Option<String>,
        last_successful_sync: Option<SystemTime>,
        last_synced: Option<SystemTime>,
        stale: Option<bool>,
    ) {
        if let Some(st) = status {
            self.info.status = Some(shared(bounded(Some(st), MAX_ENUM_CHARS)));
        }
        self.info.error = false;
        self.info.error_retryable = None;
        self.info.error_cause = None;
        if last_successful_sync.is_some() {
            self.info.last_successful_sync = last_successful_sync;
        }
        if last_synced.is_some() {
            self.info.last_synced = last_synced;
        }
        if let Some(stale) = stale {
            self.info.stale = stale;
        }
    }

    /// Counts a retry.
    pub fn retried(&mut self, reason: RetryReason) {
        match reason {
            RetryReason::Retryable => self.retries.retryable += 1,
            RetryReason::RateLimited => self.retries.rate_limited += 1,
            RetryReason::Transient => self.retries.transient += 1,
        }
    }
}
