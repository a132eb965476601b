//! Ready-made fleets: a realistic mix for `demo`, and uniform ones for the benchmark.

use std::time::{Duration, SystemTime};

use super::{FakeServer, SyncBehavior};

/// The demo's mix: mostly fresh, then stale, never synced, flaky (retryable errors),
/// failing, rate-limited and sign-in-required servers, and, at fixed places so a newcomer
/// finds them, one of each kind a sync cannot refresh or does not refresh:
/// [`MANUAL_OAUTH`], [`SIGN_IN`] and [`FUTILE`].
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
            match s.id.as_str() {
                MANUAL_OAUTH => FakeServer::manual_oauth(&s.id).named(s.name),
                SIGN_IN => FakeServer::needs_sign_in(&s.id).named(s.name),
                FUTILE => FakeServer::stale(&s.id)
                    .behaving(SyncBehavior::NoEffect)
                    .named(s.name),
                _ => s,
            }
        })
        .collect()
}

/// The demo's manual-OAuth server: `waiting`, never synced, blocked (`manual_oauth`).
pub const MANUAL_OAUTH: &str = "mcp-0001";
/// The demo's server whose administrator must sign in: blocked (`sign_in_required`).
pub const SIGN_IN: &str = "mcp-0002";
/// The demo's server whose syncs answer success and change nothing (`no_effect`).
pub const FUTILE: &str = "mcp-0003";

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
