//! mcp-sync-monitor keeps the MCP servers of Cloudflare accounts synced and tells
//! Prometheus how healthy each server's sync is.
//!
//! # Layout
//!
//! Data flows one way: Cloudflare → [`scheduler`] → [`state`] (a published snapshot) →
//! [`metrics`] and the pages → [`http`].
//!
//! - [`config`]: load the file, merge it with the environment and the flags (each key
//!   declared once), validate; accounts, credentials, filters.
//! - [`cloudflare`]: the HTTP client (list, sync, read, the portal list — nothing else), the lenient API
//!   models, the pagination rule, the per-credential rate limiter and the page decoder. It
//!   knows nothing of the state, the metrics or shutdown: its caller records what happened
//!   and cancels it by dropping it.
//! - [`definitions`]: the tool and prompt definitions a server carries: fast keyed
//!   fingerprints for change detection, the canonical form and SHA-256 for pins, the rules
//!   for hidden instructions, the per-server tables. It imports nothing of the daemon; the
//!   page decoder calls it through one door (its `mod.rs`).
//! - [`scheduler`]: the cycle — walk the pages, plan, sync, retry, back off, judge each sync
//!   by its effect — and its own memory of failure streaks, back-offs and fingerprints. Its
//!   decisions are pure functions in `scheduler::decide`. It builds each account's view and
//!   publishes it whole, once per cycle; the portal listing runs beside it on its own
//!   interval and publishes each account's portals the same way.
//! - [`state`]: what the daemon publishes: one view per account and its portals, swapped
//!   whole (readers take
//!   an `Arc`, never a lock a cycle holds), and the request counters beside it. It imports
//!   nothing of `cloudflare`; the label words both use are in [`vocabulary`].
//! - [`metrics`]: renders a snapshot, and [`process`]'s figures, for Prometheus at scrape
//!   time.
//! - [`pins`]: the pin file of approved definition fingerprints (read into compact tables,
//!   written sorted, reloaded when it changes) and what drifts from it; the scheduler judges
//!   each server against it, `pins export` / `pins diff` write and compare it.
//! - [`web`]: the web configuration (TLS, users, headers, rate limit, reloads) that `http`
//!   applies and `metrics` reports on.
//! - [`status`]: the status of every server and portal for a person, worst first, from one
//!   snapshot: the rows of the status page, its JSON and `once`'s table.
//! - [`http`]: the axum routes. A scrape or a page view never calls the API and never waits
//!   on a cycle.
//! - [`app`]: starts the state, the scheduler and the HTTP server on one shutdown signal,
//!   and turns a failure or a panic of either into the error the process exits with.
//! - [`commands`]: `run`, `once`, `demo`, `check-config`, `healthcheck`, `pins` and their one exit
//!   code type; `main.rs` only parses the command line and calls one of them.
//! - [`telemetry`] (logging), [`secret`] (values that never print), [`shutdown`] (the stop
//!   signal), [`allocator`] (glibc's settings, and giving freed pages back).
//! - `fake` (cargo feature `fake`, on by default): the simulated Cloudflare API behind
//!   `demo`, the tests and the benchmark; the daemon's own path never reaches it.
//!
//! Every module is private to the crate but the doors `main.rs` uses ([`commands`],
//! [`config`], [`allocator`]); the integration tests and the benchmark reach the rest through
//! [`testing`], behind the same feature as `fake`.

pub mod allocator;
mod app;
mod cloudflare;
pub mod commands;
pub mod config;
mod definitions;
#[cfg(feature = "fake")]
pub mod fake;
mod http;
mod metrics;
mod pins;
mod process;
mod scheduler;
mod secret;
mod shutdown;
mod state;
mod status;
mod telemetry;
#[cfg(feature = "fake")]
pub mod testing;
mod vocabulary;
mod web;
