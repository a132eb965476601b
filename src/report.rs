//! The table `once` prints, and its exit code.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use crate::cloudflare::model::sanitize;
use crate::scheduler::{CycleReport, ListingOutcome};
use crate::state::{Outcome, Snapshot};

/// Exit code: everything healthy.
pub const HEALTHY: i32 = 0;
/// Exit code: a server is still stale or failing, or a listing failed.
pub const UNHEALTHY: i32 = 1;
/// Exit code: configuration or authentication error.
pub const CONFIG_OR_AUTH: i32 = 2;

/// `once`'s exit code from the cycle reports and the state after them.
pub fn exit_code(reports: &[CycleReport], snap: &Snapshot) -> i32 {
    if reports
        .iter()
        .any(|r| r.auth_failed || matches!(r.listing, ListingOutcome::AuthFailed(_)))
    {
        return CONFIG_OR_AUTH;
    }
    let listing_failed = reports
        .iter()
        .any(|r| r.listing != ListingOutcome::Complete);
    let unhealthy = snap
        .accounts
        .values()
        .flat_map(|a| a.servers.values())
        .any(|s| s.stale || s.consecutive_failures > 0);
    if listing_failed || unhealthy {
        UNHEALTHY
    } else {
        HEALTHY
    }
}

fn age(now: SystemTime, t: Option<SystemTime>) -> String {
    match t {
        None => "never".into(),
        Some(t) => match now.duration_since(t) {
            Ok(d) => humantime::format_duration(Duration::from_secs(d.as_secs())).to_string(),
            Err(_) => "in the future".into(),
        },
    }
}

fn cell(s: &str, width: usize) -> String {
    let s = sanitize(s);
    if s.chars().count() > width {
        let cut: String = s.chars().take(width.saturating_sub(1)).collect();
        format!("{cut}…")
    } else {
        s
    }
}

/// The table: one row per server, then one line per account.
pub fn table(reports: &[CycleReport], snap: &Snapshot, now: SystemTime) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<34} {:<24} {:<20} {:<5} {:<20} {:<8} OUTCOME",
        "SERVER", "NAME", "LAST SUCCESSFUL SYNC", "STALE", "ACTION", "ATTEMPTS"
    );
    for (acct, a) in &snap.accounts {
        for (id, s) in &a.servers {
            let outcome = match &s.last_outcome {
                _ if s.last_attempts == 0 && s.last_action != crate::state::Action::Synced => {
                    "-".to_owned()
                }
                Some(Outcome::Success) => "success".into(),
                Some(Outcome::Failed(why)) => format!("failed: {why}"),
                None => "-".into(),
            };
            let _ = writeln!(
                out,
                "{:<34} {:<24} {:<20} {:<5} {:<20} {:<8} {}",
                cell(&format!("{acct}/{id}"), 34)
                    .chars()
                    .rev()
                    .take(34)
                    .collect::<String>()
                    .chars()
                    .rev()
                    .collect::<String>(),
                cell(&s.name, 24),
                age(now, s.last_successful_sync),
                if s.stale { "yes" } else { "no" },
                s.last_action.as_str(),
                s.last_attempts,
                cell(&outcome, 120),
            );
        }
    }
    for r in reports {
        let listing = match &r.listing {
            ListingOutcome::Complete => "complete".to_owned(),
            ListingOutcome::AuthFailed(e) => format!("AUTH FAILED: {e}"),
            ListingOutcome::Failed(e) => format!("FAILED: {e}"),
            ListingOutcome::Interrupted => "interrupted".into(),
        };
        let _ = writeln!(
            out,
            "account {}: listing {listing}; {} servers, {} stale, {} synced, {} failed, {} backed off, {} dry run, {:.1}s",
            r.account, r.servers, r.stale, r.synced, r.failed, r.backed_off, r.dry_run, r.duration.as_secs_f64()
        );
    }
    out
}
