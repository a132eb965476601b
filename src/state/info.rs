//! What the state keeps of a server as Cloudflare reports it, bounded so that a runaway
//! field cannot bloat every scrape.

use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use crate::vocabulary::Rule;

/// Longest name kept (Cloudflare's schema allows 350); longer ones are cut, so that a
/// runaway value cannot bloat every scrape.
pub const MAX_NAME_CHARS: usize = 350;
/// Longest hostname kept.
pub const MAX_HOSTNAME_CHARS: usize = 2048;
/// Longest error cause kept.
pub const MAX_ERROR_CHARS: usize = 512;
/// Longest `status`, `authentication_status` or `auth_type` kept.
pub const MAX_ENUM_CHARS: usize = 64;

/// The value, cut to `max` characters (an ellipsis marks the cut); "" when absent.
pub fn bounded(v: Option<String>, max: usize) -> String {
    match v {
        None => String::new(),
        Some(s) if s.chars().count() <= max => s,
        Some(s) => {
            let mut cut: String = s.chars().take(max.saturating_sub(1)).collect();
            cut.push('…');
            cut
        }
    }
}

/// Distinct values shared, at most this many (more are simply not shared).
const MAX_SHARED: usize = 64;

/// The value of an enum-like field (`status`, `auth_type`, `authentication_status`), shared
/// with every server that has the same one: an account has thousands of servers and a
/// handful of such values.
pub fn shared(v: String) -> Arc<str> {
    static VALUES: Mutex<Vec<Arc<str>>> = Mutex::new(Vec::new());
    let mut values = VALUES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(a) = values.iter().find(|a| ***a == *v) {
        return a.clone();
    }
    let a: Arc<str> = v.into();
    if values.len() < MAX_SHARED {
        values.push(a.clone());
    }
    a
}

/// What the state keeps of a server as Cloudflare last reported it, with the scheduler's
/// staleness verdict. Made page by page while a listing is walked, so the full API objects
/// of a large account are never all in memory at once.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ServerInfo {
    /// Server id.
    pub id: Box<str>,
    /// Name, bounded to [`MAX_NAME_CHARS`].
    pub name: Box<str>,
    /// Hostname, bounded to [`MAX_HOSTNAME_CHARS`].
    pub hostname: Box<str>,
    /// Auth type, bounded (shared: see [`shared`]).
    pub auth_type: Arc<str>,
    /// `status`, bounded, shared.
    pub status: Option<Arc<str>>,
    /// `authentication_status`, bounded, shared.
    pub authentication_status: Option<Arc<str>>,
    /// Last successful sync.
    pub last_successful_sync: Option<SystemTime>,
    /// Last sync.
    pub last_synced: Option<SystemTime>,
    /// Whether an `error` is reported.
    pub error: bool,
    /// `error_details.retryable`.
    pub error_retryable: Option<bool>,
    /// What Cloudflare says went wrong (`error_details.cause`, else `error`), bounded to
    /// [`MAX_ERROR_CHARS`]; raw API text, to be escaped wherever it is shown.
    pub error_cause: Option<Box<str>>,
    /// Tool count (a page holds fewer than 2^32 of anything).
    pub tools: Option<u32>,
    /// Prompt count.
    pub prompts: Option<u32>,
    /// Whether it is stale.
    pub stale: bool,
    /// The scheduler's review of its tool and prompt definitions.
    pub review: Review,
}

/// What the review of a server's definitions found: drift from its pins (when pins are
/// configured) and definitions that break a rule for hidden instructions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Review {
    /// Against the pins; `None` without a pin file.
    pub drift: Option<Drift>,
    /// Definitions breaking each rule, in the order of [`Rule::ALL`].
    pub suspicious: [u32; Rule::ALL.len()],
}

/// Definitions that differ from a server's pins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Drift {
    /// Not pinned.
    pub added: u32,
    /// Pinned with another fingerprint.
    pub changed: u32,
    /// Pinned, no longer listed.
    pub removed: u32,
}

impl Drift {
    /// Every definition that drifts.
    pub fn total(&self) -> u32 {
        self.added
            .saturating_add(self.changed)
            .saturating_add(self.removed)
    }
}

impl Review {
    /// Definitions flagged by any rule (a definition breaking two rules counts twice).
    pub fn suspicious_total(&self) -> u32 {
        self.suspicious.iter().fold(0, |a, c| a.saturating_add(*c))
    }

    /// Whether a person should look: drift, or a suspicious definition.
    pub fn is_problem(&self) -> bool {
        self.drift.is_some_and(|d| d.total() > 0) || self.suspicious_total() > 0
    }
}
