//! A server of a list page as the scheduler takes it: what the state keeps of it
//! ([`ServerInfo`], Cloudflare's values, bounded), and the fingerprint of its tool and prompt
//! definitions on its way to the scheduler's memory (never published).

use crate::cloudflare::pagination::Keyed;
use crate::cloudflare::Server;
use crate::definitions::fingerprint::suspicious_of;
use crate::definitions::rules::Suspicious;
use crate::definitions::table::Capabilities;
use crate::definitions::Defs;
use crate::definitions::Inspected;
use crate::state::{
    bounded, bounded_text, shared, Action, ServerInfo, MAX_ENUM_CHARS, MAX_ERROR_CHARS,
    MAX_HOSTNAME_CHARS, MAX_NAME_CHARS,
};

/// One listed server.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Listed {
    /// What is published of it.
    pub info: ServerInfo,
    /// Its definitions' fingerprint; `None` when unknown, or when the walk found it equal to
    /// the one remembered.
    pub capabilities: Option<Capabilities>,
    /// What the cycle does with it, decided once as its page arrives; `None` outside the
    /// include/exclude filters.
    pub action: Option<Action>,
    /// The digest of its definitions' fingerprints ([`digest`](crate::definitions::digest)).
    pub digest: u64,
    /// The close look at its definitions, when the decoder took one (boxed, like the
    /// next: a listing holds 10,000 of these, nearly all `None`).
    pub inspected: Option<Box<Inspected>>,
    /// Its definitions that break a rule for hidden instructions (from the fast pass), when
    /// any does.
    pub suspicious: Option<Box<Suspicious>>,
}

impl Listed {
    /// Keeps what the daemon needs of `server`.
    pub fn new(server: Server) -> Self {
        let digest = crate::definitions::digest(server.tools.as_ref(), server.prompts.as_ref());
        let suspicious = Some(suspicious_of(
            server.tools.as_ref(),
            server.prompts.as_ref(),
        ))
        .filter(|s| !s.is_empty())
        .map(Box::new);
        let capabilities = (server.tools.is_some() || server.prompts.is_some())
            .then(|| Capabilities::new(server.tools.as_ref(), server.prompts.as_ref()));
        let error = server.error.filter(|e| !e.is_empty());
        let details = server.error_details;
        let cause = details
            .as_ref()
            .and_then(|d| d.cause.clone())
            .or_else(|| error.clone());
        let info = ServerInfo {
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
            error: error.is_some(),
            error_retryable: details.and_then(|d| d.retryable),
            error_cause: error.and(bounded_text(cause, MAX_ERROR_CHARS)),
            tools: server.tools.as_ref().map(count),
            prompts: server.prompts.as_ref().map(count),
            stale: false,
            review: Default::default(),
        };
        Self {
            info,
            capabilities,
            action: None,
            digest,
            inspected: server.inspected.map(Box::new),
            suspicious,
        }
    }
}

fn count(d: &Defs) -> u32 {
    u32::try_from(d.count()).unwrap_or(u32::MAX)
}

impl Keyed for Listed {
    fn key(&self) -> &str {
        &self.info.id
    }
}
