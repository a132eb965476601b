//! The bodies of the simulated API's answers to list, read and sync, built from the
//! world as Cloudflare's OpenAPI document shapes them.

use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};

use super::handlers::{envelope_error, json_response, rate_limited, record, Req};
use super::{FakeServer, SyncBehavior, World};

/// `page` and `per_page` as Cloudflare checks them: `None` (answer [`bad_paging`]) outside
/// 1.. and 1..=100.
pub(super) fn paging(page: Option<u32>, per_page: Option<u32>) -> Option<(u32, u32)> {
    let (p, pp) = (page?, per_page?);
    (p >= 1 && (1..=100).contains(&pp)).then_some((p, pp))
}

pub(super) fn bad_paging(w: &mut World, req: &Req) -> Response {
    record(w, req, 400);
    envelope_error(
        StatusCode::BAD_REQUEST,
        10001,
        "page must be >= 1 and per_page between 1 and 100",
    )
}

pub(super) fn list_answer(
    w: &mut World,
    req: &Req,
    page: Option<u32>,
    per_page: Option<u32>,
) -> Response {
    let Some((page, per_page)) = paging(page, per_page) else {
        return bad_paging(w, req);
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
    let per_page = w.page_size.unwrap_or(per_page).max(1);
    let page = if w.ignore_page { 1 } else { page };
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
        let tools = s.tool_defs.clone().or_else(|| w.tools_json(s.tools));
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

pub(super) fn ts(t: Option<SystemTime>) -> Value {
    t.map_or(Value::Null, |t| {
        Value::String(humantime::format_rfc3339_millis(t).to_string())
    })
}

pub(super) fn server_json(s: &FakeServer, tools: Option<&RawValue>) -> String {
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

pub(super) fn error_details(s: &FakeServer) -> Option<Value> {
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

pub(super) fn read_answer(w: &mut World, req: &Req, id: &str) -> Response {
    let found = w
        .accounts
        .get(&req.account)
        .and_then(|v| v.iter().find(|s| s.id == id))
        .cloned();
    let Some(s) = found else {
        record(w, req, 404);
        return envelope_error(StatusCode::NOT_FOUND, 7002, "Not Found");
    };
    let tools = s.tool_defs.clone().or_else(|| w.tools_json(s.tools));
    let body = format!(
        "{{\"success\":true,\"errors\":[],\"messages\":[],\"result\":{}}}",
        server_json(&s, tools.as_deref())
    );
    record(w, req, 200);
    raw_owned(StatusCode::OK, body)
}

pub(super) fn raw_owned(status: StatusCode, body: String) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r.headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    r
}

pub(super) fn sync_answer(w: &mut World, req: &Req, id: &str) -> Response {
    let now = SystemTime::now();
    let w_sync_answer_timestamps = w.sync_answer_timestamps;
    let Some(s) = w
        .accounts
        .get_mut(&req.account)
        .and_then(|v| v.iter_mut().find(|s| s.id == id))
    else {
        record(w, req, 404);
        return envelope_error(StatusCode::NOT_FOUND, 7002, "Not Found");
    };
    let outcome = next_outcome(&mut s.behavior);
    let carry = w_sync_answer_timestamps;
    let result = |s: &FakeServer| {
        let mut r = json!({"status": s.status});
        if carry {
            r["last_successful_sync"] = ts(s.last_successful_sync);
            r["last_synced"] = ts(s.last_synced);
        }
        json!({"success": true, "errors": [], "messages": [], "result": r})
    };
    let resp = match outcome {
        Outcome::Ok => {
            s.succeed(now);
            Some(result(s))
        }
        Outcome::Unchanged => Some(result(s)),
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

/// What a sync of a server answers, by its behaviour (counting down the ones that change).
enum Outcome {
    Ok,
    Unchanged,
    Fail(Option<bool>),
    Http500,
    Http429(u64),
}

fn next_outcome(behavior: &mut SyncBehavior) -> Outcome {
    match behavior {
        SyncBehavior::Succeed | SyncBehavior::Slow(_) => Outcome::Ok,
        SyncBehavior::NoEffect => Outcome::Unchanged,
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
    }
}
