//! mcp-sync-monitor keeps the MCP servers of Cloudflare accounts synced and tells
//! Prometheus how healthy each server's sync is.
//!
//! Data flows one way: [`cloudflare`] → [`scheduler`] → [`state`] → [`metrics`] → [`http`].
//! [`config`] feeds the scheduler, [`telemetry`] sets up logging, and [`fake`] is the
//! simulated Cloudflare API that powers `demo`, the tests and the benchmark.

pub mod app;
pub mod cloudflare;
pub mod commands;
pub mod config;
pub mod fake;
pub mod http;
pub mod metrics;
pub mod process;
pub mod scheduler;
pub mod secret;
pub mod shutdown;
pub mod state;
pub mod telemetry;
