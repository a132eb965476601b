//! mcp-sync-monitor keeps the MCP servers of Cloudflare accounts synced and tells
//! Prometheus how healthy each server's sync is.
//!
//! # Layout
//!
//! Data flows one way: Cloudflare → [`scheduler`] → [`state`] → [`metrics`] → [`http`].
//!
//! - [`config`]: load the file, merge it with the environment and the flags (each key
//!   declared once), validate; accounts, credentials, filters.
//! - [`cloudflare`]: the HTTP client (list, sync, read — nothing else), the lenient API
//!   models, the pagination rule, the per-credential rate limiter, and the fingerprints of
//!   tool and prompt definitions (made while a page is decoded, compared by the scheduler). It knows nothing of the
//!   state, the metrics or shutdown: its caller records what happened and cancels it by
//!   dropping it.
//! - [`scheduler`]: the cycle — walk the pages, plan, sync, retry, back off — and its own
//!   memory of failure streaks and back-offs. Its decisions are pure functions in
//!   `scheduler::decide`.
//! - [`state`]: what the daemon publishes. The scheduler writes it; `metrics`, `http` and
//!   `once` read it; nothing reads it back to decide.
//! - [`metrics`]: renders the state, and [`process`]'s figures, for Prometheus at scrape
//!   time.
//! - [`http`]: the axum routes. A scrape never calls the API and never waits on a cycle.
//! - [`app`]: starts the state, the scheduler and the HTTP server on one shutdown signal.
//! - [`commands`]: `run`, `once`, `demo`, `check-config`, `healthcheck` and their one exit
//!   code type; `main.rs` only parses the command line and calls one of them.
//! - [`telemetry`] (logging), [`secret`] (values that never print), [`shutdown`] (the stop
//!   signal), [`allocator`] (glibc's settings, and giving a listing's freed pages back).
//! - `fake` (cargo feature `fake`, on by default): the simulated Cloudflare API behind
//!   `demo`, the tests and the benchmark; the daemon's own path never reaches it.

pub mod allocator;
pub mod app;
pub mod cloudflare;
pub mod commands;
pub mod config;
#[cfg(feature = "fake")]
pub mod fake;
pub mod http;
pub mod metrics;
pub mod process;
pub mod scheduler;
pub mod secret;
pub mod shutdown;
pub mod state;
pub mod telemetry;
