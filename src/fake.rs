//! A simulated Cloudflare MCP servers API, served over real HTTP on 127.0.0.1.
//!
//! It answers list, read and sync the way the OpenAPI extract describes them (v4 envelope,
//! `per_page` default 20 and HTTP 400 above 100, Bearer and legacy auth with 403/10000,
//! 404/7002 for an unknown server, 429/971 with `retry-after`), moves a server's
//! `last_successful_sync`, `last_synced` and `status` on a sync as Cloudflare does, and
//! records every request so tests can assert on the calls. Behaviour per server, faults on
//! every call, latency, a rate limit and list shifting are all switchable while it runs.
//! `demo`, the tests and the benchmark use it; the daemon itself never does.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
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
use crate::shutdown::Shutdown;

/// The token the fake accepts unless told otherwise.
pub const TOKEN: &str = "fake-token-0123456789";
/// The legacy e-mail the fake accepts.
pub const EMAIL: &str = "operator@example.com";
/// The legacy key the fake accepts.
pub const API_KEY: &str = "fake-global-key-0123456789";
/// The account id of single-account scenarios.
pub const ACCOUNT: &str = "023e105f4ecef8ad9ca31a8372d0c353";

/// How a server answers a sync.
#[derive(Debug, Clone, PartialEq)]
pub enum SyncBehavior {
    /// Succeeds.
    Succeed,
    /// Fails with `retryable: true` this many more times, then succeeds.
    RetryableThen(u32),
    /// Always fails with `retryable: false`.
    Permanent,
    /// Always fails with an `error` and no `error_details`.
    FailsWithoutDetails,
    /// Answers HTTP 500 this many more times, then succeeds.
    ServerErrorThen(u32),
    /// Answers HTTP 429 (code 971, `retry-after` seconds) this many more times, then succeeds.
    RateLimitedThen {
        /// Remaining 429s.
        times: u32,
        /// The `retry-after` value.
        retry_after_secs: u64,
    },
    /// Succeeds after this long.
    Slow(Duration),
}

/// One simulated server.
#[derive(Debug, Clone)]
pub struct FakeServer {
    /// Id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Upstream URL.
    pub hostname: String,
    /// `oauth`, `bearer` or `unauthenticated`.
    pub auth_type: String,
    /// `authentication_status`, if any.
    pub authentication_status: Option<String>,
    /// `status`.
    pub status: String,
    /// When a sync last succeeded.
    pub last_successful_sync: Option<SystemTime>,
    /// When a sync last ran.
    pub last_synced: Option<SystemTime>,
    /// Current error.
    pub error: Option<String>,
    /// `error_details.retryable` of the current error (no details when `None`).
    pub error_retryable: Option<bool>,
    /// Number of tools.
    pub tools: usize,
    /// Number of prompts.
    pub prompts: usize,
    /// How it answers a sync.
    pub behavior: SyncBehavior,
    /// Raw JSON sent in place of the server object (to simulate malformed servers).
    pub raw: Option<String>,
}

impl FakeServer {
    /// A healthy server synced `age` ago.
    pub fn synced_ago(id: impl Into<String>, age: Duration) -> Self {
        let id = id.into();
        let at = SystemTime::now().checked_sub(age);
        Self {
            name: format!("Server {id}"),
            hostname: format!("https://{id}.mcp.example.com/mcp"),
            id,
            auth_type: "unauthenticated".into(),
            authentication_status: Some("not_required".into()),
            status: "ready".into(),
            last_successful_sync: at,
            last_synced: at,
            error: None,
            error_retryable: None,
            tools: 3,
            prompts: 1,
            behavior: SyncBehavior::Succeed,
            raw: None,
        }
    }

    /// Synced ten minutes ago.
    pub fn fresh(id: impl Into<String>) -> Self {
        Self::synced_ago(id, Duration::from_secs(600))
    }

    /// Last synced five hours ago (stale under the default 3 h).
    pub fn stale(id: impl Into<String>) -> Self {
        Self::synced_ago(id, Duration::from_secs(5 * 3600))
    }

    /// Never synced.
    pub fn never_synced(id: impl Into<String>) -> Self {
        let mut s = Self::fresh(id);
        s.last_successful_sync = None;
        s.last_synced = None;
        s.status = "waiting".into();
        s
    }

    /// Sets the sync behaviour.
    pub fn behaving(mut self, b: SyncBehavior) -> Self {
        self.behavior = b;
        self
    }

    /// Sets the name.
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    fn fail(&mut self, now: SystemTime, retryable: Option<bool>, msg: &str) {
        self.last_synced = Some(now);
        self.status = "error".into();
        self.error = Some(msg.into());
        self.error_retryable = retryable;
    }

    fn succeed(&mut self, now: SystemTime) {
        self.last_synced = Some(now);
        self.last_successful_sync = Some(now);
        self.status = "ready".into();
        self.error = None;
        self.error_retryable = None;
    }
}

/// A fault applied to every call (or every call of one endpoint).
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// HTTP 500 with a v4 error envelope.
    ServerError,
    /// HTTP 200 with a body that is not JSON.
    Malformed,
    /// HTTP 200 with a JSON body cut in the middle.
    Truncated,
    /// HTTP 200 with `text/html` and an HTML body.
    WrongContentType,
    /// HTTP 502 with an HTML error page.
    HtmlErrorPage,
    /// Answers only after this long.
    Slow(Duration),
}

/// A rate limit the fake enforces, as Cloudflare does.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeRateLimit {
    /// Requests allowed per window.
    pub requests: usize,
    /// The window.
    pub per: Duration,
    /// How long an offender is locked out (Cloudflare: five minutes).
    pub lockout: Duration,
}

/// One request as the fake saw it.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// When it arrived.
    pub at: Instant,
    /// Which call (`None` for an unknown path).
    pub endpoint: Option<Endpoint>,
    /// The account in the path.
    pub account: String,
    /// The server id in the path.
    pub server_id: Option<String>,
    /// `page` query parameter.
    pub page: Option<u32>,
    /// `per_page` query parameter.
    pub per_page: Option<u32>,
    /// The status answered.
    pub status: u16,
    /// The `User-Agent` sent.
    pub user_agent: Option<String>,
}

/// A hook run on an account's servers before a list page is cut (to shift the list while
/// it is walked): gets the page number.
pub type ListHook = Arc<dyn Fn(u32, &mut Vec<FakeServer>) + Send + Sync>;

/// Everything the fake knows. Change it through [`FakeApi::with`].
pub struct World {
    /// Servers per account, in list order.
    pub accounts: BTreeMap<String, Vec<FakeServer>>,
    /// Accepted bearer tokens.
    pub tokens: Vec<String>,
    /// Accepted legacy (email, key) pairs.
    pub legacy: Vec<(String, String)>,
    /// Whether list answers carry `result_info`.
    pub result_info: bool,
    /// Added to every answer.
    pub latency: Duration,
    /// A fault for every call, or for one endpoint's.
    pub fault: Option<(Fault, Option<Endpoint>)>,
    /// This list page answers HTTP 500.
    pub fail_list_page: Option<u32>,
    /// A rate limit to enforce.
    pub rate_limit: Option<FakeRateLimit>,
    /// Whether answers carry the `Ratelimit` header while a rate limit is enforced.
    pub ratelimit_header: bool,
    /// Run before each list page is cut.
    pub list_hook: Option<ListHook>,
    /// Bytes of input schema per tool (to make pages as large as real ones).
    pub tool_schema_bytes: usize,
    /// Every request, in order.
    pub requests: Vec<RecordedRequest>,
    /// Whether to record requests (off for long benchmarks).
    pub record: bool,
    rl_window: VecDeque<Instant>,
    locked_until: Option<Instant>,
    tools_cache: HashMap<(usize, usize), Option<Arc<RawValue>>>,
}

impl World {
    /// One account ([`ACCOUNT`]) with these servers, the default credentials, `result_info` on.
    pub fn new(servers: Vec<FakeServer>) -> Self {
        let mut accounts = BTreeMap::new();
        accounts.insert(ACCOUNT.to_owned(), servers);
        Self {
            accounts,
            tokens: vec![TOKEN.to_owned()],
            legacy: vec![(EMAIL.to_owned(), API_KEY.to_owned())],
            result_info: true,
            latency: Duration::ZERO,
            fault: None,
            fail_list_page: None,
            rate_limit: None,
            ratelimit_header: true,
            list_hook: None,
            tool_schema_bytes: 64,
            requests: Vec::new(),
            record: true,
            rl_window: VecDeque::new(),
            locked_until: None,
            tools_cache: HashMap::new(),
        }
    }

    /// The servers of [`ACCOUNT`].
    pub fn servers(&mut self) -> &mut Vec<FakeServer> {
        self.accounts.entry(ACCOUNT.to_owned()).or_default()
    }

    /// A server of any account.
    pub fn server(&mut self, id: &str) -> Option<&mut FakeServer> {
        self.accounts
            .values_mut()
            .flat_map(|v| v.iter_mut())
            .find(|s| s.id == id)
    }

    fn tools_json(&mut self, n: usize) -> Option<Arc<RawValue>> {
        let bytes = self.tool_schema_bytes;
        self.tools_cache
            .entry((n, bytes))
            .or_insert_with(|| {
                let tools: Vec<Value> = (0..n)
                    .map(|i| {
                        json!({
                            "name": format!("tool_{i}"),
                            "description": "A simulated tool.",
                            "input_schema": {"type": "object", "description": "x".repeat(bytes)},
                        })
                    })
                    .collect();
                serde_json::value::to_raw_value(&tools).ok().map(Arc::from)
            })
            .clone()
    }
}

/// A running fake. Dropping it stops the server.
pub struct FakeApi {
    world: Arc<Mutex<World>>,
    addr: SocketAddr,
    stop: Shutdown,
}

impl Drop for FakeApi {
    fn drop(&mut self) {
        self.stop.trigger();
    }
}

impl FakeApi {
    /// Serves `world` on an ephemeral port of 127.0.0.1.
    pub async fn start(world: World) -> std::io::Result<Self> {
        Self::start_on(
            "127.0.0.1:0".parse().unwrap_or_else(|_| unreachable!()),
            world,
        )
        .await
    }

    /// Serves `world` on `addr`.
    pub async fn start_on(addr: SocketAddr, world: World) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let world = Arc::new(Mutex::new(world));
        let stop = Shutdown::new();
        let app = router(world.clone());
        let s = stop.clone();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move { s.wait().await })
                .await;
        });
        Ok(Self { world, addr, stop })
    }

    /// The base URL to give the client (`http://127.0.0.1:PORT/client/v4`).
    pub fn base_url(&self) -> String {
        format!("http://{}/client/v4", self.addr)
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Runs `f` on the world (to change it or read it).
    pub fn with<R>(&self, f: impl FnOnce(&mut World) -> R) -> R {
        f(&mut lock(&self.world))
    }

    /// A copy of the recorded requests.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.world).requests.clone()
    }

    /// Requests of `endpoint` (for one server when `server_id` is given).
    pub fn count(&self, endpoint: Endpoint, server_id: Option<&str>) -> usize {
        lock(&self.world)
            .requests
            .iter()
            .filter(|r| r.endpoint == Some(endpoint))
            .filter(|r| server_id.is_none() || r.server_id.as_deref() == server_id)
            .count()
    }

    /// Forgets the recorded requests.
    pub fn clear_requests(&self) {
        lock(&self.world).requests.clear();
    }

    /// Stops serving.
    pub fn stop(&self) {
        self.stop.trigger();
    }
}

fn lock(w: &Mutex<World>) -> MutexGuard<'_, World> {
    w.lock().unwrap_or_else(|e| e.into_inner())
}

type Shared = Arc<Mutex<World>>;

fn router(world: Shared) -> Router {
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

/// A realistic mixed fleet of `n` servers for `demo`: mostly fresh (synced up to
/// `fresh_max_age` ago, so they turn stale over time), some stale, some never synced, some
/// flaky (retryable failures), some permanently failing, a few answering 429 and a few
/// OAuth servers that need a person to sign in again.
pub fn mixed_fleet(n: usize, fresh_max_age: Duration) -> Vec<FakeServer> {
    let max_age = fresh_max_age.as_secs().max(2);
    let mut rng = fastrand::Rng::with_seed(7);
    (0..n)
        .map(|i| {
            let id = format!("mcp-{i:04}");
            let roll = rng.u32(0..100);
            let mut s = match roll {
                0..=59 => FakeServer::synced_ago(&id, Duration::from_secs(rng.u64(1..max_age))),
                60..=74 => FakeServer::stale(&id),
                75..=79 => FakeServer::never_synced(&id),
                80..=87 => {
                    FakeServer::stale(&id).behaving(SyncBehavior::RetryableThen(rng.u32(1..3)))
                }
                88..=93 => {
                    let mut s = FakeServer::stale(&id).behaving(SyncBehavior::Permanent);
                    s.fail(
                        SystemTime::now(),
                        Some(false),
                        "upstream MCP server rejected the connection",
                    );
                    s
                }
                94..=96 => FakeServer::stale(&id).behaving(SyncBehavior::RateLimitedThen {
                    times: 1,
                    retry_after_secs: 1,
                }),
                _ => {
                    let mut s = FakeServer::stale(&id).behaving(SyncBehavior::Permanent);
                    s.auth_type = "oauth".into();
                    s.authentication_status = Some("required".into());
                    s
                }
            };
            s.name = format!(
                "{} {}",
                ["crm", "search", "billing", "docs", "tickets", "wiki"][i % 6],
                i
            );
            s.tools = rng.usize(0..25);
            s.prompts = rng.usize(0..4);
            s
        })
        .collect()
}

/// A uniform fleet for the benchmark: `n` servers with `tools` tools each, of which
/// `stale_per_mille`/1000 are stale and the rest fresh.
pub fn uniform_fleet(n: usize, tools: usize, stale_per_mille: usize) -> Vec<FakeServer> {
    (0..n)
        .map(|i| {
            let id = format!("srv-{i:06}");
            let mut s = if stale_per_mille > 0 && i % (1000 / stale_per_mille.max(1)).max(1) == 0 {
                FakeServer::stale(id)
            } else {
                FakeServer::fresh(id)
            };
            s.tools = tools;
            s
        })
        .collect()
}
