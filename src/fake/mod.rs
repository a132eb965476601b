//! A simulated Cloudflare MCP servers API, served over real HTTP on 127.0.0.1.
//!
//! It answers list, read and sync the way the OpenAPI extract describes them (v4 envelope,
//! `per_page` default 20 and HTTP 400 above 100, Bearer and legacy auth with 403/10000,
//! 404/7002 for an unknown server, 429/971 with `retry-after`), moves a server's
//! `last_successful_sync`, `last_synced` and `status` on a sync as Cloudflare does, and
//! records every request so tests can assert on the calls. Behaviour per server, faults on
//! every call, latency, a rate limit and list shifting are all switchable while it runs.
//! `demo`, the tests and the benchmark use it; the daemon itself never does.
//!
//! Layout: `world` (what the simulated account holds and how each server behaves),
//! `handlers` (the HTTP answers, in Cloudflare's order: rate limit, auth, faults), `fleets`
//! (ready-made sets of servers). Compiled only with the `fake` feature (on by default, for
//! `demo`, the tests and the benchmark); the daemon's own code path never reaches it.

mod answers;
mod fleets;
mod handlers;
mod portals;
mod world;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::cloudflare::Endpoint;
use crate::shutdown::Shutdown;

pub use fleets::{mixed_fleet, uniform_fleet, FUTILE, MANUAL_OAUTH, SIGN_IN};
pub use portals::FakePortal;
pub use world::{FakeRateLimit, FakeServer, Fault, ListHook, RecordedRequest, SyncBehavior, World};

/// The token the fake accepts unless told otherwise.
pub const TOKEN: &str = "fake-token-0123456789";
/// The legacy e-mail the fake accepts.
pub const EMAIL: &str = "operator@example.com";
/// The legacy key the fake accepts.
pub const API_KEY: &str = "fake-global-key-0123456789";
/// The account id of single-account scenarios.
pub const ACCOUNT: &str = "023e105f4ecef8ad9ca31a8372d0c353";
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
        let app = handlers::router(world.clone());
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

pub(crate) fn lock(w: &Mutex<World>) -> MutexGuard<'_, World> {
    w.lock().unwrap_or_else(|e| e.into_inner())
}

pub(crate) type Shared = Arc<Mutex<World>>;
