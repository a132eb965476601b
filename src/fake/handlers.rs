//! The HTTP answers of the simulated API: list, read and sync, each through the same gate
//! (rate limit, auth, unknown account, faults) in Cloudflare's order.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime};

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};

use crate::cloudflare::Endpoint;

use super::{lock, FakeServer, Fault, RecordedRequest, Shared, SyncBehavior, World};

pub(super) fn router(world: Shared) -> Router {
    let servers = "/client/v4/accounts/{account}/access/ai-controls/mcp/servers";
    Router::new()
        .route(servers, get(list))
        .route(&format!("{servers}/{{id}}"), get(read))
        .route(&format!("{servers}/{{id}}/sync"), post(sync))
        .fallback(|| async { envelope_error(StatusCode::NOT_FOUND, 7000, "No route for that URI") })
        .with_state(world)
}

fn envelope_error(status: StatusCode, code: i64, message: &str) -> Response {
    json_response(
        status,
        &json!({"success": false, "errors": [{"code": code, "message": message}], "messages": [], "result": null}),
    )
}

fn json_response(status: StatusCode, v: &impl Serialize) -> Response {
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

struct Req {
    endpoint: Endpoint,
    account: String,
    server_id: Option<String>,
    page: Option<u32>,
    per_page: Option<u32>,
    user_agent: Option<String>,
}

fn record(w: &mut World, req: &Req, status: u16) {
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

fn raw(status: StatusCode, ctype: &'static str, body: &'static str) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r.headers_mut()
        .insert("content-type", HeaderValue::from_static(ctype));
    r
}

fn rate_limited(w: &mut World, req: &Req, wait: Duration) -> Response {
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

fn ceil_secs(d: Duration) -> u64 {
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
    let page_raw = q.get("page").map(String::as_str);
    let per_raw = q.get("per_page").map(String::as_str);
    let page = page_raw.map_or(Some(1), |p| p.parse::<u32>().ok());
    let per_page = per_raw.map_or(Some(20), |p| p.parse::<u32>().ok());
    let req = Req {
        endpoint: Endpoint::List,
        account,
        server_id: None,
        page,
        per_page,
        user_agent: user_agent(&headers),
    };
    handle(&world, req, &headers, |w, req| {
        list_answer(w, req, page, per_page)
    })
    .await
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

fn list_answer(w: &mut World, req: &Req, page: Option<u32>, per_page: Option<u32>) -> Response {
    let (page, per_page) = match (page, per_page) {
        (Some(p), Some(pp)) if p >= 1 && (1..=100).contains(&pp) => (p, pp),
        _ => {
            record(w, req, 400);
            return envelope_error(
                StatusCode::BAD_REQUEST,
                10001,
                "page must be >= 1 and per_page between 1 and 100",
            );
        }
    };
    if w.fail_list_page == Some(page) {
        record(w, req, 500);
        return envelope_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            10002,
            "Internal server error",
        );
    }
    let hook = w.list_hook.clone();
    let with_info = w.result_info;
    let Some(servers) = w.accounts.get_mut(&req.account) else {
        return envelope_error(StatusCode::NOT_FOUND, 7003, "Could not route");
    };
    if let Some(h) = hook {
        h(page, servers);
    }
    let total = servers.len();
    let start = ((page - 1) as usize)
        .saturating_mul(per_page as usize)
        .min(total);
    let end = start.saturating_add(per_page as usize).min(total);
    let chunk: Vec<FakeServer> = servers[start..end].to_vec();
    let mut body = String::with_capacity(chunk.len() * 512 + 256);
    body.push_str("{\"success\":true,\"errors\":[],\"messages\":[],\"result\":[");
    for (i, s) in chunk.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        let tools = w.tools_json(s.tools);
        body.push_str(&server_json(s, tools.as_deref()));
    }
    body.push(']');
    if with_info {
        let pages = total.div_ceil(per_page as usize);
        body.push_str(&format!(
            ",\"result_info\":{{\"page\":{page},\"per_page\":{per_page},\"count\":{},\"total_count\":{total},\"total_pages\":{pages}}}",
            chunk.len()
        ));
    }
    body.push('}');
    record(w, req, 200);
    let mut r = Response::new(Body::from(body));
    r.headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    r
}

fn ts(t: Option<SystemTime>) -> Value {
    t.map_or(Value::Null, |t| {
        Value::String(humantime::format_rfc3339_millis(t).to_string())
    })
}

fn server_json(s: &FakeServer, tools: Option<&RawValue>) -> String {
    if let Some(raw) = &s.raw {
        return raw.clone();
    }
    #[derive(Serialize)]
    struct Out<'a> {
        id: &'a str,
        name: &'a str,
        hostname: &'a str,
        auth_type: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        authentication_status: Option<&'a str>,
        status: &'a str,
        created_at: &'static str,
        created_by: &'static str,
        modified_at: &'static str,
        modified_by: &'static str,
        description: &'static str,
        last_successful_sync: Value,
        last_synced: Value,
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        error_details: Option<Value>,
        is_shared_oauth_callback_enabled: bool,
        secure_web_gateway: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        tools: Option<&'a RawValue>,
        prompts: Vec<Value>,
        updated_tools: [Value; 0],
        updated_prompts: [Value; 0],
    }
    let out = Out {
        id: &s.id,
        name: &s.name,
        hostname: &s.hostname,
        auth_type: &s.auth_type,
        authentication_status: s.authentication_status.as_deref(),
        status: &s.status,
        created_at: "2026-01-05T10:00:00.000Z",
        created_by: "admin@example.com",
        modified_at: "2026-01-05T10:00:00.000Z",
        modified_by: "admin@example.com",
        description: "A simulated MCP server",
        last_successful_sync: ts(s.last_successful_sync),
        last_synced: ts(s.last_synced),
        error: s.error.as_deref(),
        error_details: error_details(s),
        is_shared_oauth_callback_enabled: false,
        secure_web_gateway: false,
        tools,
        prompts: (0..s.prompts)
            .map(|i| json!({"name": format!("prompt_{i}")}))
            .collect(),
        updated_tools: [],
        updated_prompts: [],
    };
    serde_json::to_string(&out).unwrap_or_else(|_| "{}".into())
}

fn error_details(s: &FakeServer) -> Option<Value> {
    let retryable = s.error_retryable?;
    s.error.as_ref()?;
    Some(json!({
        "cause": s.error,
        "is_upstream": true,
        "mcp_code": -32000,
        "retryable": retryable,
        "status_code": if retryable { 503 } else { 400 },
    }))
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

fn read_answer(w: &mut World, req: &Req, id: &str) -> Response {
    let found = w
        .accounts
        .get(&req.account)
        .and_then(|v| v.iter().find(|s| s.id == id))
        .cloned();
    let Some(s) = found else {
        record(w, req, 404);
        return envelope_error(StatusCode::NOT_FOUND, 7002, "Not Found");
    };
    let tools = w.tools_json(s.tools);
    let body = format!(
        "{{\"success\":true,\"errors\":[],\"messages\":[],\"result\":{}}}",
        server_json(&s, tools.as_deref())
    );
    record(w, req, 200);
    raw_owned(StatusCode::OK, body)
}

fn raw_owned(status: StatusCode, body: String) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r.headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    r
}

async fn sync(
    State(world): State<Shared>,
    Path((account, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let slow = lock(&world).server(&id).and_then(|s| match s.behavior {
        SyncBehavior::Slow(d) => Some(d),
        _ => None,
    });
    if let Some(d) = slow {
        tokio::time::sleep(d).await;
    }
    let req = server_req(Endpoint::Sync, account, &id, &headers);
    handle(&world, req, &headers, |w, req| sync_answer(w, req, &id)).await
}

fn sync_answer(w: &mut World, req: &Req, id: &str) -> Response {
    let now = SystemTime::now();
    let Some(s) = w
        .accounts
        .get_mut(&req.account)
        .and_then(|v| v.iter_mut().find(|s| s.id == id))
    else {
        record(w, req, 404);
        return envelope_error(StatusCode::NOT_FOUND, 7002, "Not Found");
    };
    enum Outcome {
        Ok,
        Fail(Option<bool>),
        Http500,
        Http429(u64),
    }
    let outcome = match &mut s.behavior {
        SyncBehavior::Succeed | SyncBehavior::Slow(_) => Outcome::Ok,
        SyncBehavior::RetryableThen(k) if *k > 0 => {
            *k -= 1;
            Outcome::Fail(Some(true))
        }
        SyncBehavior::RetryableThen(_) => Outcome::Ok,
        SyncBehavior::Permanent => Outcome::Fail(Some(false)),
        SyncBehavior::FailsWithoutDetails => Outcome::Fail(None),
        SyncBehavior::ServerErrorThen(k) if *k > 0 => {
            *k -= 1;
            Outcome::Http500
        }
        SyncBehavior::ServerErrorThen(_) => Outcome::Ok,
        SyncBehavior::RateLimitedThen {
            times,
            retry_after_secs,
        } if *times > 0 => {
            *times -= 1;
            Outcome::Http429(*retry_after_secs)
        }
        SyncBehavior::RateLimitedThen { .. } => Outcome::Ok,
    };
    let resp = match outcome {
        Outcome::Ok => {
            s.succeed(now);
            Some(json!({"success": true, "errors": [], "messages": [],
                "result": {"status": s.status}}))
        }
        Outcome::Fail(retryable) => {
            let msg = if retryable == Some(true) {
                "upstream MCP server timed out"
            } else {
                "upstream MCP server answered the capabilities request with an invalid response"
            };
            s.fail(now, retryable, msg);
            Some(json!({"success": true, "errors": [], "messages": [],
                "result": {"status": s.status, "error": s.error, "error_details": error_details(s)}}))
        }
        Outcome::Http500 | Outcome::Http429(_) => None,
    };
    match (resp, outcome) {
        (Some(v), _) => {
            record(w, req, 200);
            json_response(StatusCode::OK, &v)
        }
        (None, Outcome::Http429(secs)) => {
            let mut r = rate_limited(w, req, Duration::from_secs(secs));
            if secs == 0 {
                r.headers_mut().remove("retry-after");
            }
            r
        }
        (None, _) => {
            record(w, req, 500);
            envelope_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                10002,
                "Internal server error",
            )
        }
    }
}
