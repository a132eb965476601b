//! The HTTP answers of the simulated API: list, read and sync, each through the same gate
//! (rate limit, auth, unknown account, faults) in Cloudflare's order.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde::Serialize;
use serde_json::json;

use crate::cloudflare::Endpoint;

use super::answers::{list_answer, read_answer, sync_answer};
use super::{lock, Fault, RecordedRequest, Shared, SyncBehavior, World};

pub(super) fn router(world: Shared) -> Router {
    let servers = "/client/v4/accounts/{account}/access/ai-controls/mcp/servers";
    Router::new()
        .route(servers, get(list))
        .route(
            "/client/v4/accounts/{account}/access/ai-controls/mcp/portals",
            get(portals),
        )
        .route(&format!("{servers}/{{id}}"), get(read))
        .route(&format!("{servers}/{{id}}/sync"), post(sync))
        .fallback(|| async { envelope_error(StatusCode::NOT_FOUND, 7000, "No route for that URI") })
        .with_state(world)
}

pub(super) fn envelope_error(status: StatusCode, code: i64, message: &str) -> Response {
    json_response(
        status,
        &json!({"success": false, "errors": [{"code": code, "message": message}], "messages": [], "result": null}),
    )
}

pub(super) fn json_response(status: StatusCode, v: &impl Serialize) -> Response {
    let body = serde_json::to_vec(v).unwrap_or_default();
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r.headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    r
}

/// What the common checks decided before the endpoint's own logic.
enum Gate {
    /// Go on, after this extra delay, adding this `Ratelimit` header.
    Pass(Option<Duration>, Option<HeaderValue>),
    Answer(Response),
}

/// One request as the gate and the answers see it.
pub(super) struct Req {
    pub(super) endpoint: Endpoint,
    pub(super) account: String,
    pub(super) server_id: Option<String>,
    pub(super) page: Option<u32>,
    pub(super) per_page: Option<u32>,
    pub(super) user_agent: Option<String>,
}

pub(super) fn record(w: &mut World, req: &Req, status: u16) {
    if w.record {
        w.requests.push(RecordedRequest {
            at: Instant::now(),
            endpoint: Some(req.endpoint),
            account: req.account.clone(),
            server_id: req.server_id.clone(),
            page: req.page,
            per_page: req.per_page,
            status,
            user_agent: req.user_agent.clone(),
        });
    }
}

fn authorized(w: &World, h: &HeaderMap) -> bool {
    let hv = |n: &str| h.get(n).and_then(|v| v.to_str().ok());
    if let Some(token) = hv("authorization").and_then(|a| a.strip_prefix("Bearer ")) {
        return w.tokens.iter().any(|t| t == token);
    }
    match (hv("x-auth-email"), hv("x-auth-key")) {
        (Some(e), Some(k)) => w.legacy.iter().any(|(le, lk)| le == e && lk == k),
        _ => false,
    }
}

/// Rate limit, auth, unknown account, faults: in Cloudflare's order.
fn gate(w: &mut World, req: &Req, h: &HeaderMap) -> Gate {
    let now = Instant::now();
    let mut ratelimit_header = None;
    if let Some(rl) = w.rate_limit.clone() {
        if let Some(until) = w.locked_until.filter(|u| *u > now) {
            return Gate::Answer(rate_limited(w, req, until - now));
        }
        while w
            .rl_window
            .front()
            .is_some_and(|t| now.duration_since(*t) >= rl.per)
        {
            w.rl_window.pop_front();
        }
        if w.rl_window.len() >= rl.requests {
            w.locked_until = Some(now + rl.lockout);
            return Gate::Answer(rate_limited(w, req, rl.lockout));
        }
        w.rl_window.push_back(now);
        let reset = w
            .rl_window
            .front()
            .map(|t| rl.per.saturating_sub(now.duration_since(*t)));
        let v = format!(
            "\"default\";r={};t={}",
            rl.requests - w.rl_window.len(),
            ceil_secs(reset.unwrap_or(rl.per))
        );
        ratelimit_header = HeaderValue::from_str(&v)
            .ok()
            .filter(|_| w.ratelimit_header);
    }
    if !authorized(w, h) {
        record(w, req, 403);
        return Gate::Answer(envelope_error(
            StatusCode::FORBIDDEN,
            10000,
            "Authentication error",
        ));
    }
    if !w.accounts.contains_key(&req.account) {
        record(w, req, 404);
        return Gate::Answer(envelope_error(
            StatusCode::NOT_FOUND,
            7003,
            "Could not route to /accounts, perhaps your object identifier is invalid?",
        ));
    }
    let mut delay = None;
    if let Some((fault, only)) = w.fault.clone() {
        if only.is_none() || only == Some(req.endpoint) {
            let resp = match fault {
                Fault::Slow(d) => {
                    delay = Some(d);
                    None
                }
                Fault::ServerError => Some(envelope_error(StatusCode::INTERNAL_SERVER_ERROR, 10002, "Internal server error")),
                Fault::Malformed => Some(raw(StatusCode::OK, "application/json", "{\"success\": tru")),
                Fault::Truncated => Some(raw(StatusCode::OK, "application/json", "{\"success\":true,\"errors\":[],\"result\":[{\"id\":\"a\",\"name\":\"cut")),
                Fault::WrongContentType => Some(raw(StatusCode::OK, "text/html", "<html><body>Welcome</body></html>")),
                Fault::HtmlErrorPage => Some(raw(StatusCode::BAD_GATEWAY, "text/html", "<html><head><title>502 Bad Gateway</title></head><body>cloudflare</body></html>")),
            };
            if let Some(r) = resp {
                let status = r.status().as_u16();
                record(w, req, status);
                return Gate::Answer(r);
            }
        }
    }
    Gate::Pass(delay, ratelimit_header)
}

pub(super) fn raw(status: StatusCode, ctype: &'static str, body: &'static str) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r.headers_mut()
        .insert("content-type", HeaderValue::from_static(ctype));
    r
}

pub(super) fn rate_limited(w: &mut World, req: &Req, wait: Duration) -> Response {
    record(w, req, 429);
    let mut r = envelope_error(
        StatusCode::TOO_MANY_REQUESTS,
        971,
        "Please wait and consider throttling your request speed",
    );
    let secs = ceil_secs(wait);
    if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
        r.headers_mut().insert("retry-after", v);
    }
    r
}

pub(super) fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

fn user_agent(h: &HeaderMap) -> Option<String> {
    h.get("user-agent")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

async fn sleep_latency(world: &Shared, extra: Option<Duration>) {
    let latency = lock(world).latency;
    let total = latency + extra.unwrap_or_default();
    if !total.is_zero() {
        tokio::time::sleep(total).await;
    }
}

async fn list(
    State(world): State<Shared>,
    Path(account): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let req = page_req(Endpoint::List, account, &q, &headers);
    handle(&world, req, &headers, |w, req| {
        list_answer(w, req, req.page, req.per_page)
    })
    .await
}

async fn portals(
    State(world): State<Shared>,
    Path(account): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let req = page_req(Endpoint::Portals, account, &q, &headers);
    handle(&world, req, &headers, |w, req| {
        super::portals::portals_answer(w, req, req.page, req.per_page)
    })
    .await
}

/// A request for a page (`page` 1 and `per_page` 20 unless given, as Cloudflare's).
fn page_req(
    endpoint: Endpoint,
    account: String,
    q: &HashMap<String, String>,
    h: &HeaderMap,
) -> Req {
    let number = |k: &str, default| q.get(k).map_or(Some(default), |v| v.parse::<u32>().ok());
    Req {
        endpoint,
        account,
        server_id: None,
        page: number("page", 1),
        per_page: number("per_page", 20),
        user_agent: user_agent(h),
    }
}

/// The common path of every endpoint: rate limit, auth and faults ([`gate`]), latency
/// (plus any extra delay the endpoint asks for), then the endpoint's own answer with the
/// `Ratelimit` header.
async fn handle(
    world: &Shared,
    req: Req,
    headers: &HeaderMap,
    answer: impl FnOnce(&mut World, &Req) -> Response,
) -> Response {
    let (delay, rl) = {
        let mut w = lock(world);
        match gate(&mut w, &req, headers) {
            Gate::Answer(r) => return r,
            Gate::Pass(d, rl) => (d, rl),
        }
    };
    sleep_latency(world, delay).await;
    with_ratelimit(answer(&mut lock(world), &req), rl)
}

fn with_ratelimit(mut r: Response, rl: Option<HeaderValue>) -> Response {
    if let Some(v) = rl {
        r.headers_mut().insert("ratelimit", v);
    }
    r
}

async fn read(
    State(world): State<Shared>,
    Path((account, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let req = server_req(Endpoint::Read, account, &id, &headers);
    handle(&world, req, &headers, |w, req| read_answer(w, req, &id)).await
}

fn server_req(endpoint: Endpoint, account: String, id: &str, headers: &HeaderMap) -> Req {
    Req {
        endpoint,
        account,
        server_id: Some(id.to_owned()),
        page: None,
        per_page: None,
        user_agent: user_agent(headers),
    }
}

async fn sync(
    State(world): State<Shared>,
    Path((account, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let slow = {
        let mut w = lock(&world);
        let own = w.server(&id).and_then(|s| match s.behavior {
            SyncBehavior::Slow(d) => Some(d),
            _ => None,
        });
        own.unwrap_or_default() + w.sync_latency
    };
    if !slow.is_zero() {
        tokio::time::sleep(slow).await;
    }
    let req = server_req(Endpoint::Sync, account, &id, &headers);
    handle(&world, req, &headers, |w, req| sync_answer(w, req, &id)).await
}
