//! The HTTP client for the three calls the daemon makes: list, sync and read.
//!
//! There is deliberately no create, update or delete. Every request first takes a slot from
//! its credential's [`RateLimiter`], carries the credential and a `User-Agent`, is bounded
//! by the configured timeout, and is reported to the caller's [`Observer`] (endpoint,
//! status, duration) so the caller can count it. Answers become typed values or an
//! [`ApiError`] whose variant says what the caller can do about it.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, AUTHORIZATION, RETRY_AFTER};
use tokio::time::Instant;

pub use super::error::ApiError;
use super::model::{self, ListPage, Server, SyncResult};
use super::portals::PortalPage;
use super::ratelimit::{parse_ratelimit, parse_retry_after, RateLimitInfo, RateLimiter};
use super::stream::{Feed, Page, PageDecoder, Wanted};
use crate::secret::Secret;
pub use crate::vocabulary::Endpoint;

/// The largest body read from Cloudflare; anything larger is refused as a decode error.
pub const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// How to authenticate.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum Credentials {
    /// `Authorization: Bearer <token>` (preferred).
    Token(Secret),
    /// The legacy `X-Auth-Email` + `X-Auth-Key` pair.
    Legacy {
        /// The account e-mail.
        email: Secret,
        /// The Global API key.
        key: Secret,
    },
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::Token(_) => f.write_str("Token(****)"),
            Credentials::Legacy { .. } => f.write_str("Legacy { email: ****, key: **** }"),
        }
    }
}

/// What the observer learns about one request.
#[derive(Debug, Clone)]
pub struct RequestRecord<'a> {
    /// The account the request was for.
    pub account_id: &'a str,
    /// Which call.
    pub endpoint: Endpoint,
    /// The HTTP status, or `None` when no answer came (transport error, timeout).
    pub status: Option<u16>,
    /// From sending to the end of the body.
    pub duration: Duration,
    /// The `Ratelimit` header, when sent.
    pub ratelimit: Option<RateLimitInfo>,
}

/// Receives a [`RequestRecord`] for every request sent.
pub type Observer = Arc<dyn Fn(&RequestRecord<'_>) + Send + Sync>;

/// Settings of a [`Client`].
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// E.g. `https://api.cloudflare.com/client/v4`, without a trailing slash.
    pub base_url: String,
    /// Bound on one request, body included.
    pub timeout: Duration,
}

/// A client for one credential. Cheap to clone; clones share the connection pool and budget.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base_url: Arc<str>,
    credentials: Credentials,
    limiter: Arc<RateLimiter>,
    observer: Option<Observer>,
    timeout: Duration,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.base_url)
            .field("credentials", &self.credentials)
            .finish_non_exhaustive()
    }
}

/// The client could not be built (TLS roots, for instance).
#[derive(Debug, thiserror::Error)]
#[error("cannot build the HTTP client: {0}")]
pub struct BuildError(String);

struct Answer {
    status: u16,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    /// The body decoded by `decode`; an undecodable 2xx body is a [`ApiError::Decode`].
    fn decoded<T>(
        &self,
        ep: Endpoint,
        decode: impl FnOnce(&[u8]) -> Result<T, model::DecodeError>,
    ) -> Result<T, ApiError> {
        decode(&self.body).map_err(|e| ApiError::Decode {
            endpoint: ep,
            status: self.status,
            message: e.0,
        })
    }
}

impl<T> model::Envelope<T> {
    /// The result of a successful envelope; `success: false` is [`ApiError::Unsuccessful`].
    pub(crate) fn accepted(self, ep: Endpoint, status: u16) -> Result<Option<T>, ApiError> {
        if self.success {
            Ok(self.result)
        } else {
            Err(ApiError::Unsuccessful {
                endpoint: ep,
                status,
                errors: self.errors,
            })
        }
    }
}

impl Client {
    /// A client sending with `credentials` under `limiter`'s budget.
    pub fn new(
        options: ClientOptions,
        credentials: Credentials,
        limiter: Arc<RateLimiter>,
        observer: Option<Observer>,
    ) -> Result<Self, BuildError> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("mcp-sync-monitor/", env!("CARGO_PKG_VERSION")))
            .timeout(options.timeout)
            .connect_timeout(options.timeout.min(Duration::from_secs(10)))
            .pool_idle_timeout(Duration::from_secs(50))
            .build()
            .map_err(|e| BuildError(error_chain(&e)))?;
        Ok(Self {
            http,
            base_url: options.base_url.trim_end_matches('/').into(),
            credentials,
            limiter,
            observer,
            timeout: options.timeout,
        })
    }

    fn servers_url(&self, account_id: &str) -> String {
        format!(
            "{}/accounts/{}/access/ai-controls/mcp/servers",
            self.base_url,
            encode_segment(account_id)
        )
    }

    fn server_url(&self, account_id: &str, server_id: &str) -> String {
        format!(
            "{}/{}",
            self.servers_url(account_id),
            encode_segment(server_id)
        )
    }

    /// Lists one page; the servers `wanted` picks get a closer look at their definitions.
    pub async fn list_page(
        &self,
        account_id: &str,
        page: u32,
        per_page: u32,
        wanted: Option<Wanted>,
    ) -> Result<ListPage, ApiError> {
        let url = format!(
            "{}?page={page}&per_page={per_page}",
            self.servers_url(account_id)
        );
        self.page(
            account_id,
            Endpoint::List,
            url,
            PageDecoder::inspecting(wanted),
        )
        .await
    }

    /// Lists one page of the account's portals (membership only).
    pub async fn list_portals_page(
        &self,
        account_id: &str,
        page: u32,
        per_page: u32,
    ) -> Result<PortalPage, ApiError> {
        let url = format!(
            "{}/accounts/{}/access/ai-controls/mcp/portals?page={page}&per_page={per_page}",
            self.base_url,
            encode_segment(account_id)
        );
        self.page(account_id, Endpoint::Portals, url, PageDecoder::default())
            .await
    }

    /// One page of a listing, decoded by `decoder` as it arrives.
    async fn page<P: Page + Send>(
        &self,
        account_id: &str,
        ep: Endpoint,
        url: String,
        mut decoder: PageDecoder<P>,
    ) -> Result<P, ApiError> {
        let answer = self
            .send(account_id, ep, self.http.get(url), Some(&mut decoder))
            .await?;
        let (env, page) = decoder.finish().map_err(|e| ApiError::Decode {
            endpoint: ep,
            status: answer.status,
            message: e.0,
        })?;
        env.accepted(ep, answer.status)?;
        Ok(page)
    }

    /// Triggers a sync of one server and returns its outcome. A 2xx answer with
    /// `result.error` set is returned as `Ok`: the caller decides what it means.
    pub async fn sync(&self, account_id: &str, server_id: &str) -> Result<SyncResult, ApiError> {
        let url = format!("{}/sync", self.server_url(account_id, server_id));
        self.call(account_id, Endpoint::Sync, self.http.post(url))
            .await
    }

    /// Reads one server.
    pub async fn read(&self, account_id: &str, server_id: &str) -> Result<Server, ApiError> {
        let url = self.server_url(account_id, server_id);
        self.call(account_id, Endpoint::Read, self.http.get(url))
            .await
    }

    async fn call<T: for<'de> serde::Deserialize<'de>>(
        &self,
        account_id: &str,
        ep: Endpoint,
        req: reqwest::RequestBuilder,
    ) -> Result<T, ApiError> {
        let answer = self.send(account_id, ep, req, None).await?;
        let env = answer.decoded(ep, model::decode_envelope::<T>)?;
        let status = answer.status;
        env.accepted(ep, status)?.ok_or_else(|| ApiError::Decode {
            endpoint: ep,
            status,
            message: "the answer has no result".into(),
        })
    }

    /// Waits for budget, sends, reads the body (a 2xx one into `decoder` as it arrives, when
    /// given), reports the request, and turns every non-2xx answer into an error.
    async fn send(
        &self,
        account_id: &str,
        ep: Endpoint,
        req: reqwest::RequestBuilder,
        decoder: Option<&mut dyn Feed>,
    ) -> Result<Answer, ApiError> {
        self.limiter.acquire().await;
        let req = self.authenticate(req);
        let started = Instant::now();
        let result = self.exchange(ep, req, decoder).await;
        let (status, ratelimit) = match &result {
            Ok(a) => (
                Some(a.status),
                header_str(&a.headers, "ratelimit").and_then(parse_ratelimit),
            ),
            Err(_) => (None, None),
        };
        if let Some(obs) = &self.observer {
            obs(&RequestRecord {
                account_id,
                endpoint: ep,
                status,
                duration: started.elapsed(),
                ratelimit,
            });
        }
        if let Some(info) = ratelimit {
            self.limiter.observe(info).await;
        }
        let answer = result?;
        if (200..300).contains(&answer.status) {
            return Ok(answer);
        }
        let errors = model::decode_errors(&answer.body)
            .map(|e| e.errors)
            .unwrap_or_default();
        if answer.status == 429 {
            let retry_after =
                header_str(&answer.headers, RETRY_AFTER.as_str()).and_then(parse_retry_after);
            if let Some(d) = retry_after {
                self.limiter.pause_for(d).await;
            }
            return Err(ApiError::RateLimited {
                endpoint: ep,
                retry_after,
                errors,
            });
        }
        Err(ApiError::Status {
            endpoint: ep,
            status: answer.status,
            errors,
        })
    }

    fn authenticate(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.credentials {
            Credentials::Token(t) => req.header(AUTHORIZATION, format!("Bearer {}", t.expose())),
            Credentials::Legacy { email, key } => req
                .header("X-Auth-Email", &*email.expose())
                .header("X-Auth-Key", &*key.expose()),
        }
    }

    async fn exchange(
        &self,
        ep: Endpoint,
        req: reqwest::RequestBuilder,
        decoder: Option<&mut dyn Feed>,
    ) -> Result<Answer, ApiError> {
        let map = |e: reqwest::Error| {
            if e.is_timeout() {
                ApiError::Timeout {
                    endpoint: ep,
                    after: self.timeout,
                }
            } else {
                ApiError::Transport {
                    endpoint: ep,
                    message: error_chain(&e),
                }
            }
        };
        let mut resp = req.send().await.map_err(map)?;
        let status = resp.status().as_u16();
        let headers = std::mem::take(resp.headers_mut());
        // A 2xx list page goes to its decoder as it arrives; any other body is small and
        // read whole (its error envelope).
        let mut decoder = decoder.filter(|_| (200..300).contains(&status));
        let expected = match decoder {
            Some(_) => 0,
            None => resp
                .content_length()
                .unwrap_or(0)
                .min(MAX_BODY_BYTES as u64),
        };
        let mut body = Vec::with_capacity(usize::try_from(expected).unwrap_or(0));
        let mut read = 0usize;
        while let Some(chunk) = resp.chunk().await.map_err(|e| {
            if e.is_timeout() {
                ApiError::Timeout {
                    endpoint: ep,
                    after: self.timeout,
                }
            } else {
                ApiError::Decode {
                    endpoint: ep,
                    status,
                    message: format!("the body could not be read: {}", error_chain(&e)),
                }
            }
        })? {
            read += chunk.len();
            if read > MAX_BODY_BYTES {
                return Err(ApiError::Decode {
                    endpoint: ep,
                    status,
                    message: format!("the body is larger than {MAX_BODY_BYTES} bytes"),
                });
            }
            match decoder.as_deref_mut() {
                Some(d) => d.feed(&chunk),
                None => body.extend_from_slice(&chunk),
            }
        }
        Ok(Answer {
            status,
            headers,
            body,
        })
    }
}

fn header_str<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// The error and its causes, joined, without the URL's query.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let text = c.to_string();
        if !s.contains(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        cur = c.source();
    }
    s
}

/// Percent-encodes a path segment (ids come from the API and configuration).
fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
#[path = "../../tests/unit/cloudflare/client.rs"]
mod tests;
