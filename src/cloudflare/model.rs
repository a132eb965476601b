//! The Cloudflare API's data, decoded leniently.
//!
//! Cloudflare's documentation and its OpenAPI document disagree in places, and fields
//! come and go. Decoding therefore accepts what it can: optional fields may be absent or
//! `null`, unknown fields are ignored, unknown enum values are kept as strings, and both
//! dialects of `error_details` are read. `tools` and `prompts` are counted while they are
//! decoded and never kept. A page is decoded server by server so that one malformed server
//! costs only itself.

use std::fmt;
use std::time::SystemTime;

use serde::de::IgnoredAny;
use serde::Deserialize;

#[cfg(test)]
pub use super::lenient::parse_rfc3339;
use super::lenient::{
    count_seq, lenient_bool, lenient_i64, lenient_string, lenient_struct, lenient_time,
    lenient_u64, null_as_default,
};
pub use crate::definitions::Defs;

/// The v4 envelope around every answer: `errors`, `messages` and `result_info` may be
/// absent or `null`.
#[derive(Debug, Deserialize)]
#[serde(bound(deserialize = "T: Deserialize<'de>"))]
pub struct Envelope<T> {
    /// `success` as sent; absent counts as `false`.
    #[serde(default)]
    pub success: bool,
    /// Cloudflare's error list.
    #[serde(default, deserialize_with = "null_as_default")]
    pub errors: Vec<ApiMessage>,
    /// Cloudflare's message list.
    #[serde(default, deserialize_with = "null_as_default")]
    pub messages: Vec<ApiMessage>,
    /// The payload, absent on most errors.
    #[serde(default)]
    pub result: Option<T>,
    /// Pagination, which the OpenAPI document does not promise.
    #[serde(default)]
    pub result_info: Option<ResultInfo>,
}

/// One entry of `errors` or `messages`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct ApiMessage {
    /// Cloudflare's numeric code (e.g. 971 for the rate limit, 10000 for authentication).
    #[serde(default, deserialize_with = "lenient_i64")]
    pub code: Option<i64>,
    /// The human text, as Cloudflare sent it (escape it before printing).
    #[serde(default, deserialize_with = "lenient_string")]
    pub message: Option<String>,
}

impl fmt::Display for ApiMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.code, &self.message) {
            (Some(c), Some(m)) => write!(f, "{c}: {}", sanitize(m)),
            (Some(c), None) => write!(f, "{c}"),
            (None, Some(m)) => write!(f, "{}", sanitize(m)),
            (None, None) => write!(f, "(no detail)"),
        }
    }
}

/// `result_info` of a list answer. Every field may be missing.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct ResultInfo {
    /// The page this answer is.
    #[serde(default, deserialize_with = "lenient_u64")]
    pub page: Option<u64>,
    /// The page size used.
    #[serde(default, deserialize_with = "lenient_u64")]
    pub per_page: Option<u64>,
    /// Items on this page.
    #[serde(default, deserialize_with = "lenient_u64")]
    pub count: Option<u64>,
    /// Items on all pages.
    #[serde(default, deserialize_with = "lenient_u64")]
    pub total_count: Option<u64>,
    /// Number of pages.
    #[serde(default, deserialize_with = "lenient_u64")]
    pub total_pages: Option<u64>,
}

/// `error_details`, in either dialect: the OpenAPI document's (`cause`, `is_upstream`,
/// `mcp_code`, `retryable`, `status_code`) or the public docs' (`message`, `type`,
/// `http_status_code`, `mcp_error_code`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct ErrorDetails {
    /// The underlying error message.
    #[serde(default, alias = "message", deserialize_with = "lenient_string")]
    pub cause: Option<String>,
    /// True when the MCP server itself answered with an error.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub is_upstream: Option<bool>,
    /// MCP protocol error code.
    #[serde(default, alias = "mcp_error_code", deserialize_with = "lenient_i64")]
    pub mcp_code: Option<i64>,
    /// Whether Cloudflare thinks trying again can help.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub retryable: Option<bool>,
    /// HTTP status the MCP server answered with.
    #[serde(default, alias = "http_status_code", deserialize_with = "lenient_i64")]
    pub status_code: Option<i64>,
    /// The docs' `type` field.
    #[serde(default, rename = "type", deserialize_with = "lenient_string")]
    pub kind: Option<String>,
}

/// `auth_config_summary`: only what is safe and useful is kept.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct AuthConfigSummary {
    /// `dcr` or `manual`, kept as sent.
    #[serde(default, deserialize_with = "lenient_string")]
    pub auth_mode: Option<String>,
    /// Whether a client secret is configured (never the secret).
    #[serde(default, deserialize_with = "lenient_bool")]
    pub has_client_secret: Option<bool>,
}

/// One MCP server as listed or read. Only `id` is truly required; the rest degrades to
/// "unknown" rather than losing the server.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Server {
    /// The server id (1 to 32 characters in Cloudflare's schema).
    pub id: String,
    /// Display name.
    #[serde(default, deserialize_with = "lenient_string")]
    pub name: Option<String>,
    /// URL of the upstream MCP endpoint.
    #[serde(default, deserialize_with = "lenient_string")]
    pub hostname: Option<String>,
    /// `oauth`, `bearer`, `unauthenticated`, or a value not known yet.
    #[serde(default, deserialize_with = "lenient_string")]
    pub auth_type: Option<String>,
    /// `not_required`, `required`, `connected`, `stale`, `manual`, or a new value.
    #[serde(default, deserialize_with = "lenient_string")]
    pub authentication_status: Option<String>,
    /// Safe subset of the OAuth configuration.
    #[serde(default, deserialize_with = "lenient_struct")]
    pub auth_config_summary: Option<AuthConfigSummary>,
    /// `waiting`, `ready`, `stale`, `error`, or a new value.
    #[serde(default, deserialize_with = "lenient_string")]
    pub status: Option<String>,
    /// Free text.
    #[serde(default, deserialize_with = "lenient_string")]
    pub description: Option<String>,
    /// The last sync's error, if any.
    #[serde(default, deserialize_with = "lenient_string")]
    pub error: Option<String>,
    /// Structured detail of `error`.
    #[serde(default, deserialize_with = "lenient_struct")]
    pub error_details: Option<ErrorDetails>,
    /// Creation time.
    #[serde(default, deserialize_with = "lenient_time")]
    pub created_at: Option<SystemTime>,
    /// Creator.
    #[serde(default, deserialize_with = "lenient_string")]
    pub created_by: Option<String>,
    /// Last modification time.
    #[serde(default, deserialize_with = "lenient_time")]
    pub modified_at: Option<SystemTime>,
    /// Last modifier.
    #[serde(default, deserialize_with = "lenient_string")]
    pub modified_by: Option<String>,
    /// Shared OAuth callback switch.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub is_shared_oauth_callback_enabled: Option<bool>,
    /// Secure Web Gateway routing switch.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub secure_web_gateway: Option<bool>,
    /// When a sync last succeeded; `None` when never or unparsable.
    #[serde(default, deserialize_with = "lenient_time")]
    pub last_successful_sync: Option<SystemTime>,
    /// When a sync last ran.
    #[serde(default, deserialize_with = "lenient_time")]
    pub last_synced: Option<SystemTime>,
    /// The tools' names and definition hashes (the definitions themselves are hashed while
    /// decoding and never kept).
    #[serde(default, deserialize_with = "crate::definitions::defs")]
    pub tools: Option<Defs>,
    /// The prompts' names and definition hashes.
    #[serde(default, deserialize_with = "crate::definitions::defs")]
    pub prompts: Option<Defs>,
    /// A closer look at its definitions, when the decoder was asked for one
    /// ([`Wanted`](super::stream::Wanted)).
    #[serde(skip)]
    pub inspected: Option<crate::definitions::Inspected>,
    /// Number of tool overrides.
    #[serde(default, deserialize_with = "count_seq")]
    pub updated_tools: Option<u64>,
    /// Number of prompt overrides.
    #[serde(default, deserialize_with = "count_seq")]
    pub updated_prompts: Option<u64>,
}

/// The `result` of a sync call.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct SyncResult {
    /// Set when the sync failed.
    #[serde(default, deserialize_with = "lenient_string")]
    pub error: Option<String>,
    /// Detail of `error`.
    #[serde(default, deserialize_with = "lenient_struct")]
    pub error_details: Option<ErrorDetails>,
    /// The server's status after the sync.
    #[serde(default, deserialize_with = "lenient_string")]
    pub status: Option<String>,
    /// The server's `last_successful_sync` after the sync, when the answer carries it (the
    /// OpenAPI extract does not promise it).
    #[serde(default, deserialize_with = "lenient_time")]
    pub last_successful_sync: Option<SystemTime>,
    /// The server's `last_synced` after the sync, when carried.
    #[serde(default, deserialize_with = "lenient_time")]
    pub last_synced: Option<SystemTime>,
}

/// A server object of a page that could not be decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct SkippedServer {
    /// Position in the page, from 0.
    pub index: usize,
    /// Its `id`, when one could be read.
    pub id: Option<String>,
    /// What was wrong.
    pub reason: String,
}

/// One decoded page of the list call.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListPage {
    /// The servers that decoded.
    pub servers: Vec<Server>,
    /// The ones that did not.
    pub skipped: Vec<SkippedServer>,
    /// Items on the page as sent, decoded or not.
    pub raw_count: usize,
    /// `result_info`, if sent.
    pub result_info: Option<ResultInfo>,
}

/// Why a body could not be decoded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct DecodeError(pub String);

/// Decodes a list page held whole (the client decodes as the bytes arrive, with the same
/// [`PageDecoder`](super::stream::PageDecoder)). The envelope must parse; each server object
/// is decoded on its own, and one that fails is reported in `skipped` instead of failing the
/// page.
#[cfg(test)]
pub fn decode_list_page(body: &[u8]) -> Result<(Envelope<()>, ListPage), DecodeError> {
    let mut d = super::stream::PageDecoder::new();
    d.feed(body);
    d.finish()
}

/// Decodes the server object at `index` of a page from its JSON (its definitions hashed as
/// serde_json crosses them). When `wanted` says so, its definitions get a closer look from
/// the same bytes.
pub(super) fn decode_server(
    index: usize,
    json: &[u8],
    wanted: Option<&super::stream::Wanted>,
) -> Result<Server, SkippedServer> {
    // UTF-8 is checked once for the whole object, not string by string.
    let decoded = std::str::from_utf8(json)
        .map_err(|e| e.to_string())
        .and_then(|text| serde_json::from_str::<Server>(text).map_err(|e| e.to_string()));
    match decoded {
        Ok(mut s) if !s.id.is_empty() => {
            if let Some(wanted) = wanted {
                let digest = crate::definitions::digest(s.tools.as_ref(), s.prompts.as_ref());
                if wanted(&s.id, digest) {
                    s.inspected = crate::definitions::inspect(json);
                }
            }
            Ok(s)
        }
        Ok(_) => Err(SkippedServer {
            index,
            id: None,
            reason: "empty id".into(),
        }),
        Err(reason) => Err(SkippedServer {
            index,
            id: std::str::from_utf8(json).ok().and_then(peek_id),
            reason,
        }),
    }
}

/// Decodes any envelope whose result is `T` (sync, read).
pub fn decode_envelope<T: for<'de> Deserialize<'de>>(
    body: &[u8],
) -> Result<Envelope<T>, DecodeError> {
    serde_json::from_slice(body).map_err(|e| DecodeError(e.to_string()))
}

/// Decodes only the envelope's error fields (for non-2xx answers whose result is unknown).
pub fn decode_errors(body: &[u8]) -> Option<Envelope<IgnoredAny>> {
    serde_json::from_slice(body).ok()
}

fn peek_id(raw: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Peek {
        id: String,
    }
    serde_json::from_str::<Peek>(raw)
        .ok()
        .map(|p| sanitize(&p.id))
}

/// Makes text that came from the network safe to print: control characters, and the
/// invisible and bidirectional ones (`definitions::hidden`), are escaped, and the result is cut
/// to 512 characters.
pub fn sanitize(s: &str) -> String {
    const MAX: usize = 512;
    let mut out = String::with_capacity(s.len().min(MAX + 8));
    for (n, c) in s.chars().enumerate() {
        if n == MAX {
            out.push('…');
            break;
        }
        if c.is_control() || crate::definitions::hidden(c).is_some() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
#[path = "../../tests/unit/cloudflare/model.rs"]
mod tests;
