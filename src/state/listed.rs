//! What the state keeps of a listed server, bounded so that a runaway field cannot bloat
//! every scrape.

use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use crate::cloudflare::capabilities::Capabilities;
use crate::cloudflare::fingerprint::Defs;
use crate::cloudflare::Server;

/// Longest name kept (Cloudflare's schema allows 350); longer ones are cut, so that a
/// runaway value cannot bloat every scrape.
pub const MAX_NAME_CHARS: usize = 350;
/// Longest hostname kept.
pub const MAX_HOSTNAME_CHARS: usize = 2048;
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

/// What the state keeps of a listed server, with the scheduler's staleness verdict. Made
/// page by page while a listing is walked, so the full API objects of a large account are
/// never all in memory at once.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Listed {
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
    /// Tool count (a page holds fewer than 2^32 of anything).
    pub tools: Option<u32>,
    /// Prompt count.
    pub prompts: Option<u32>,
    /// The fingerprint of the tool and prompt definitions, on its way from the page to the
    /// scheduler's memory (the state never keeps it); `None` when unknown, or when the walk
    /// found it equal to the one remembered.
    pub capabilities: Option<Capabilities>,
    /// Whether it is stale.
    pub stale: bool,
}

impl Listed {
    /// Keeps what the state needs of `server`.
    pub fn new(server: Server, stale: bool) -> Self {
        Self {
            id: server.id.into(),
            name: bounded(server.name, MAX_NAME_CHARS).into(),
            hostname: bounded(server.hostname, MAX_HOSTNAME_CHARS).into(),
            auth_type: shared(bounded(server.auth_type, MAX_ENUM_CHARS)),
            status: server
                .status
                .map(|v| shared(bounded(Some(v), MAX_ENUM_CHARS))),
            authentication_status: server
                .authentication_status
                .map(|v| shared(bounded(Some(v), MAX_ENUM_CHARS))),
            last_successful_sync: server.last_successful_sync,
            last_synced: server.last_synced,
            error: server.error.as_deref().is_some_and(|e| !e.is_empty()),
            error_retryable: server.error_details.and_then(|d| d.retryable),
            tools: server.tools.as_ref().map(count),
            prompts: server.prompts.as_ref().map(count),
            capabilities: (server.tools.is_some() || server.prompts.is_some())
                .then(|| Capabilities::new(server.tools.as_ref(), server.prompts.as_ref())),
            stale,
        }
    }
}

fn count(d: &Defs) -> u32 {
    u32::try_from(d.count()).unwrap_or(u32::MAX)
}

impl crate::cloudflare::pagination::Keyed for Listed {
    fn key(&self) -> &str {
        &self.id
    }
}
