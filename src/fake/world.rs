//! What the simulated account holds: its servers and how each behaves on a sync, faults,
//! latency, a rate limit, list shifting, and the log of every request.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use serde_json::value::RawValue;
use serde_json::{json, Value};

use crate::cloudflare::Endpoint;

use super::{ACCOUNT, API_KEY, EMAIL, TOKEN};

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
    /// Answers success and changes nothing, as Cloudflare does for a server with manual
    /// OAuth credentials (its capabilities refresh only when a user authorizes again).
    NoEffect,
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
    /// The tool definitions as raw JSON, in place of `tools` generated ones.
    pub tool_defs: Option<Arc<RawValue>>,
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
            tool_defs: None,
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

    /// User-managed OAuth (`authentication_status: manual`) before any user authorized it:
    /// `waiting`, never synced, and its syncs answer success without effect.
    pub fn manual_oauth(id: impl Into<String>) -> Self {
        let mut s = Self::never_synced(id).behaving(SyncBehavior::NoEffect);
        s.auth_type = "oauth".into();
        s.authentication_status = Some("manual".into());
        s
    }

    /// An OAuth server whose administrator must authenticate (`authentication_status:
    /// required`), stale, its syncs failing.
    pub fn needs_sign_in(id: impl Into<String>) -> Self {
        let mut s = Self::stale(id).behaving(SyncBehavior::Permanent);
        s.auth_type = "oauth".into();
        s.authentication_status = Some("required".into());
        s
    }

    /// A user completes the upstream OAuth of this server at `now`: its capabilities are
    /// captured, as the first authorization of a manual-OAuth server does.
    pub fn authorize(&mut self, now: SystemTime) {
        self.succeed(now);
        if self.authentication_status.as_deref() == Some("manual") {
            self.behavior = SyncBehavior::NoEffect;
        }
    }

    /// Sets the sync behaviour.
    pub fn behaving(mut self, b: SyncBehavior) -> Self {
        self.behavior = b;
        self
    }

    /// Gives it these tool definitions (a JSON array), as Cloudflare would list them.
    pub fn with_tools(mut self, json: &str) -> Self {
        self.set_tools(json);
        self
    }

    /// Replaces its tool definitions (a JSON array; invalid JSON leaves them as they were).
    pub fn set_tools(&mut self, json: &str) {
        if let Ok(raw) = RawValue::from_string(json.to_owned()) {
            self.tools =
                serde_json::from_str::<Vec<serde::de::IgnoredAny>>(json).map_or(0, |v| v.len());
            self.tool_defs = Some(Arc::from(raw));
        }
    }

    /// Sets the name.
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    pub(super) fn fail(&mut self, now: SystemTime, retryable: Option<bool>, msg: &str) {
        self.last_synced = Some(now);
        self.status = "error".into();
        self.error = Some(msg.into());
        self.error_retryable = retryable;
    }

    pub(super) fn succeed(&mut self, now: SystemTime) {
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
    /// Portals per account, in list order.
    pub portals: BTreeMap<String, Vec<super::FakePortal>>,
    /// Accepted bearer tokens.
    pub tokens: Vec<String>,
    /// Accepted legacy (email, key) pairs.
    pub legacy: Vec<(String, String)>,
    /// Whether list answers carry `result_info`.
    pub result_info: bool,
    /// Added to every answer.
    pub latency: Duration,
    /// Added to every sync: Cloudflare's sync is synchronous and connects to the upstream MCP
    /// server, so a real one takes seconds.
    pub sync_latency: Duration,
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
    /// Serve this many servers per page whatever `per_page` asks (an API that does not
    /// honour it).
    pub page_size: Option<u32>,
    /// Answer page 1 whatever page is asked (an API that ignores the page number).
    pub ignore_page: bool,
    /// Whether a sync answer carries the server's `last_successful_sync` and `last_synced`
    /// (the OpenAPI extract promises only `status`, `error` and `error_details`).
    pub sync_answer_timestamps: bool,
    /// Bytes of input schema per tool (to make pages as large as real ones).
    pub tool_schema_bytes: usize,
    /// Properties of each tool's input schema, each a small object with a short description
    /// (0: one long description instead): the object-heavy JSON real schemas are made of.
    pub tool_schema_properties: usize,
    /// Every request, in order.
    pub requests: Vec<RecordedRequest>,
    /// Whether to record requests (off for long benchmarks).
    pub record: bool,
    pub(super) rl_window: VecDeque<Instant>,
    pub(super) locked_until: Option<Instant>,
    pub(super) tools_cache: HashMap<(usize, usize, usize), Option<Arc<RawValue>>>,
}

impl World {
    /// One account ([`ACCOUNT`]) with these servers, the default credentials, `result_info` on.
    pub fn new(servers: Vec<FakeServer>) -> Self {
        let mut accounts = BTreeMap::new();
        accounts.insert(ACCOUNT.to_owned(), servers);
        Self {
            accounts,
            portals: BTreeMap::new(),
            tokens: vec![TOKEN.to_owned()],
            legacy: vec![(EMAIL.to_owned(), API_KEY.to_owned())],
            result_info: true,
            page_size: None,
            ignore_page: false,
            latency: Duration::ZERO,
            sync_latency: Duration::ZERO,
            fault: None,
            fail_list_page: None,
            rate_limit: None,
            ratelimit_header: true,
            list_hook: None,
            sync_answer_timestamps: false,
            tool_schema_bytes: 64,
            tool_schema_properties: 0,
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

    /// The portals of [`ACCOUNT`].
    pub fn portals(&mut self) -> &mut Vec<super::FakePortal> {
        self.portals.entry(ACCOUNT.to_owned()).or_default()
    }

    /// Churn, as an account sees it over time: one server of [`ACCOUNT`], chosen at random,
    /// leaves and a new stale one, `new_id`, arrives.
    pub fn churn(&mut self, new_id: String) {
        let servers = self.servers();
        if !servers.is_empty() {
            servers.remove(fastrand::usize(..servers.len()));
        }
        servers.push(FakeServer::stale(new_id));
    }

    /// A server of any account.
    pub fn server(&mut self, id: &str) -> Option<&mut FakeServer> {
        self.accounts
            .values_mut()
            .flat_map(|v| v.iter_mut())
            .find(|s| s.id == id)
    }

    pub(super) fn tools_json(&mut self, n: usize) -> Option<Arc<RawValue>> {
        let (bytes, properties) = (self.tool_schema_bytes, self.tool_schema_properties);
        self.tools_cache
            .entry((n, bytes, properties))
            .or_insert_with(|| {
                let tools: Vec<Value> = (0..n)
                    .map(|i| {
                        json!({
                            "name": format!("tool_{i}"),
                            "description": "A simulated tool.",
                            "input_schema": schema(i, bytes, properties),
                        })
                    })
                    .collect();
                serde_json::value::to_raw_value(&tools).ok().map(Arc::from)
            })
            .clone()
    }
}

/// The input schema of tool `i`: one long description of `bytes`, or `properties` small
/// property objects.
fn schema(i: usize, bytes: usize, properties: usize) -> Value {
    if properties == 0 {
        return json!({"type": "object", "description": "x".repeat(bytes)});
    }
    let props: serde_json::Map<String, Value> = (0..properties)
        .map(|j| {
            let p = json!({
                "type": "string",
                "description": format!("Parameter {j} of tool {i}, in a few words."),
                "minLength": 1,
                "maxLength": 256,
            });
            (format!("param_{j}"), p)
        })
        .collect();
    let required: Vec<String> = (0..properties.min(3))
        .map(|j| format!("param_{j}"))
        .collect();
    json!({"type": "object", "properties": props, "required": required, "additionalProperties": false})
}
