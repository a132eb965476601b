//! The scheduler's decisions, as pure functions: what does this cycle do with each server,
//! is it stale, what does this answer mean, how long to wait. The loop only calls them.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use super::memory::{ServerMemory, WalkMemory};
use crate::cloudflare::{ApiError, SyncResult};
use crate::config::Config;
use crate::state::{Action, BlockReason, Outcome, RetryReason, ServerInfo};

/// One server of a listing (within the filters): whether it is stale, and what the cycle
/// does with it (nothing, sync, leave alone in its failure back-off, leave alone because a
/// sync cannot refresh it, or only say it: dry run). Asked once per server per cycle, as its
/// page arrives, with the memory and clock the cycle started with.
pub fn judge(
    l: &ServerInfo,
    memory: &HashMap<String, ServerMemory>,
    wall: SystemTime,
    now: Instant,
    cfg: &Config,
) -> (bool, Action) {
    let stale = is_stale(
        l.last_successful_sync,
        l.status.as_deref(),
        wall,
        cfg.stale_after,
    );
    let backed_off = memory
        .get(&*l.id)
        .and_then(|m| m.backoff_until)
        .is_some_and(|until| !backoff_expired(now, until, cfg.interval));
    let blocked = blocked_reason(l.authentication_status.as_deref());
    let action = match (stale, backed_off, cfg.dry_run) {
        (false, _, _) => Action::None,
        (true, _, _) if blocked.is_some() => blocked.map_or(Action::None, Action::Blocked),
        (true, true, _) => Action::BackedOff,
        (true, false, true) => Action::WouldSync,
        (true, false, false) => Action::Synced,
    };
    (stale, action)
}

/// Why a sync cannot refresh a server with this `authentication_status`: `manual` (user-managed
/// OAuth: syncs answer success and change nothing) or `required` (an administrator must
/// authenticate first). Every other value, `stale` included, leaves the server syncable: its
/// syncs are judged by their effect and back off when they have none.
pub fn blocked_reason(authentication_status: Option<&str>) -> Option<BlockReason> {
    match authentication_status {
        Some("manual") => Some(BlockReason::ManualOauth),
        Some("required") => Some(BlockReason::SignInRequired),
        _ => None,
    }
}

/// Whether Cloudflare's `last_successful_sync` moved forward from `before` to `after`: the
/// only proof that a sync took effect. Both are Cloudflare's, so the daemon's clock (and
/// its skew) plays no part.
pub fn advanced(before: Option<SystemTime>, after: Option<SystemTime>) -> bool {
    match (before, after) {
        (_, None) => false,
        (None, Some(_)) => true,
        (Some(b), Some(a)) => a > b,
    }
}

/// The verdict on a sync that answered success: `Success` when the answer carries a
/// `last_successful_sync` newer than `before`, `NoEffect` when it carries one that is not,
/// `Pending` when it carries none (the next listing judges it, with [`advanced`]).
pub fn answered(before: Option<SystemTime>, carried: Option<SystemTime>) -> Outcome {
    match carried {
        None => Outcome::Pending,
        Some(_) if advanced(before, carried) => Outcome::Success,
        Some(_) => Outcome::NoEffect,
    }
}

/// How often a short last page is proven by fetching the page after it.
pub const PROOF_EVERY: Duration = Duration::from_secs(3600);

/// Whether this walk proves a short last page: on the account's first walk and then every
/// [`PROOF_EVERY`], unless the account is already walked until an empty page.
pub fn proof_due(walk: WalkMemory, now: Instant) -> bool {
    !walk.until_empty
        && walk
            .proven_at
            .is_none_or(|at| now.saturating_duration_since(at) >= PROOF_EVERY)
}

/// Stale when the last successful sync is missing or older than
/// `stale_after`, or when Cloudflare itself says `status: stale`. A timestamp in the
/// future (clock skew) counts as fresh.
pub fn is_stale(
    last_successful_sync: Option<SystemTime>,
    status: Option<&str>,
    now: SystemTime,
    stale_after: Duration,
) -> bool {
    if status == Some("stale") {
        return true;
    }
    match last_successful_sync {
        None => true,
        Some(t) => now.duration_since(t).is_ok_and(|age| age > stale_after),
    }
}

/// The classes of the retry table (docs/design.md, "What one cycle does", step 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// 2xx, no `result.error`.
    Success,
    /// `error_details.retryable == true`.
    Retryable,
    /// HTTP 429, with its `retry-after`.
    RateLimited(Option<Duration>),
    /// 5xx, timeout, connection error, unreadable answer.
    Transient,
    /// `retryable == false`, an error without details, other 4xx.
    Permanent,
    /// 401/403: stop the account's cycle.
    Auth,
    /// 404: forget the server.
    Gone,
    /// Shutdown came first.
    Interrupted,
}

impl Class {
    /// The retry reason, for classes that are retried.
    pub fn retry_reason(self) -> Option<RetryReason> {
        match self {
            Class::Retryable => Some(RetryReason::Retryable),
            Class::RateLimited(_) => Some(RetryReason::RateLimited),
            Class::Transient => Some(RetryReason::Transient),
            _ => None,
        }
    }
}

/// Classifies a failed request (any call).
pub fn classify_error(e: &ApiError) -> Class {
    match e {
        ApiError::RateLimited { retry_after, .. } => Class::RateLimited(*retry_after),
        ApiError::Transport { .. } | ApiError::Timeout { .. } | ApiError::Decode { .. } => {
            Class::Transient
        }
        ApiError::Unsuccessful { .. } => Class::Permanent,
        ApiError::Status { status, .. } => match status {
            401 | 403 => Class::Auth,
            404 => Class::Gone,
            500..=599 => Class::Transient,
            _ => Class::Permanent,
        },
    }
}

/// Classifies the answer to a sync (the retry table of docs/design.md).
pub fn classify_sync(r: &Result<SyncResult, ApiError>) -> Class {
    match r {
        Err(e) => classify_error(e),
        Ok(res) if res.error.as_deref().is_some_and(|e| !e.is_empty()) => {
            match res.error_details.as_ref().and_then(|d| d.retryable) {
                Some(true) => Class::Retryable,
                _ => Class::Permanent,
            }
        }
        Ok(_) => Class::Success,
    }
}

/// Classifies a failed list request: a 404 on the list is a wrong account, not a gone
/// server, so it is permanent.
pub fn classify_list_error(e: &ApiError) -> Class {
    match classify_error(e) {
        Class::Gone => Class::Permanent,
        c => c,
    }
}

/// How long to wait before the next attempt, or `None` to stop retrying.
///
/// `backoff` is the next exponential wait (from `backon`); `retry-after` overrides it for a
/// 429; no wait is longer than `max_interval` except a `retry-after`; and no retry starts
/// after `max_elapsed` since the first attempt.
pub fn retry_wait(
    class: Class,
    backoff: Option<Duration>,
    elapsed: Duration,
    max_interval: Duration,
    max_elapsed: Duration,
) -> Option<Duration> {
    let wait = match class {
        Class::RateLimited(Some(ra)) => ra.max(backoff.unwrap_or_default().min(max_interval)),
        Class::RateLimited(None) | Class::Retryable | Class::Transient => {
            backoff?.min(max_interval)
        }
        _ => return None,
    };
    (elapsed + wait <= max_elapsed).then_some(wait)
}

/// The failure back-off across cycles: a server that failed `failures` times in a row is left alone for
/// `interval`, doubling per failure, at most `max`.
pub fn failure_backoff(interval: Duration, failures: u32, max: Duration) -> Duration {
    let doublings = failures.saturating_sub(1).min(32);
    interval.saturating_mul(1u32 << doublings.min(31)).min(max)
}

/// Whether a back-off ending at `until` has expired for a cycle starting at `now`. A
/// back-off that ends within this cycle's jitter (a fifth of `interval`) counts as expired,
/// so that a server failing once is tried again on the next cycle, not the one after.
pub fn backoff_expired(now: Instant, until: Instant, interval: Duration) -> bool {
    until <= now + interval / 5
}

/// The wait before the next cycle: `interval` with a jitter of up to ±10 % (`r` in
/// [-1, 1]), minus the time the cycle took; zero when it overran.
pub fn next_cycle_delay(interval: Duration, elapsed: Duration, r: f64) -> Duration {
    let factor = 1.0 + 0.1 * r.clamp(-1.0, 1.0);
    interval.mul_f64(factor).saturating_sub(elapsed)
}

#[cfg(test)]
#[path = "../../../tests/unit/scheduler/decide.rs"]
mod tests;
