//! `once`: one cycle for every account, then a table of every server and an exit code.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::Exit;
use crate::cloudflare::model::sanitize;
use crate::config::{Env, Flags};
use crate::scheduler::{CycleReport, ListingOutcome, Scheduler, SetupError};
use crate::state::{Action, Snapshot, State};
use crate::status;

/// What `once` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Output {
    /// A table for a person, worst first, then one summary line per account.
    #[default]
    Table,
    /// The JSON of `/api/v1/servers` (`accounts`, `servers`), for `jq`.
    Json,
}

/// Runs one cycle for every account, prints the table (or the JSON), and says how it went.
pub async fn once(flags: &Flags, env: &Env, output: Output) -> Exit {
    let (cfg, sd) = match super::prepare(flags, env) {
        Ok(v) => v,
        Err(exit) => return exit,
    };
    let state = Arc::new(State::new(cfg.accounts.iter().map(|a| a.id.as_str())));
    let scheduler = match Scheduler::new(cfg, state.clone()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return match e {
                SetupError::Pins(_) => Exit::ConfigOrAuth,
                SetupError::Client(_) => Exit::Failure,
            };
        }
    };
    let mut reports = scheduler.run_once(&sd).await;
    // No later listing comes to judge the syncs that answered success: a read of each does.
    scheduler.confirm_by_read(&sd, &mut reports).await;
    let snap = state.read();
    let now = SystemTime::now();
    match output {
        Output::Table => print!("{}", table(&reports, &snap, now)),
        Output::Json => {
            let rows = status::status(&snap, &status::Filter::default(), now);
            match serde_json::to_string_pretty(&rows) {
                Ok(j) => println!("{j}"),
                Err(e) => eprintln!("error: {e}"),
            }
        }
    }
    exit_code(&reports, &snap)
}

/// `once`'s exit code from the cycle reports and the state after them: configuration or
/// authentication error, a syncable server still stale or failing (or a listing failed), or
/// healthy. A blocked server alone is not a failure: a rerun cannot change it.
pub fn exit_code(reports: &[CycleReport], snap: &Snapshot) -> Exit {
    if reports
        .iter()
        .any(|r| r.auth_failed || matches!(r.listing, ListingOutcome::AuthFailed(_)))
    {
        return Exit::ConfigOrAuth;
    }
    let listing_failed = reports
        .iter()
        .any(|r| r.listing != ListingOutcome::Complete);
    let unhealthy = snap
        .accounts
        .values()
        .flat_map(|a| a.servers.values())
        .any(|s| (s.info.stale && s.last_action.blocked().is_none()) || s.consecutive_failures > 0);
    if listing_failed || unhealthy {
        Exit::Failure
    } else {
        Exit::Success
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

/// The table: one row per server, worst first (as the status page), then one line per
/// account.
pub fn table(reports: &[CycleReport], snap: &Snapshot, now: SystemTime) -> String {
    let mut out = String::new();
    for (acct, a) in &snap.accounts {
        let only = status::Filter {
            account: Some(acct.clone()),
            ..status::Filter::default()
        };
        let order = status::status(snap, &only, now).servers;
        let _ = writeln!(out, "account {acct}");
        let _ = writeln!(
            out,
            "  {:<32} {:<24} {:<20} {:<5} {:<20} {:<8} {:<12} {:<12} OUTCOME",
            "SERVER",
            "NAME",
            "LAST SUCCESSFUL SYNC",
            "STALE",
            "ACTION",
            "ATTEMPTS",
            "DRIFT",
            "SUSPICIOUS"
        );
        for (row, id, s) in order
            .iter()
            .filter_map(|r| Some((r, r.id.as_str(), a.servers.get(&r.id)?)))
        {
            let outcome = match &s.last_sync {
                _ if s.last_action != Action::Synced => "-".to_owned(),
                Some(l) => match &l.error {
                    Some(why) => format!("{}: {why}", l.outcome.as_str()),
                    None => l.outcome.as_str().to_owned(),
                },
                None => "-".into(),
            };
            let _ = writeln!(
                out,
                "  {:<32} {:<24} {:<20} {:<5} {:<20} {:<8} {:<12} {:<12} {}",
                cell(id, 32),
                cell(&s.info.name, 24),
                age(now, s.info.last_successful_sync),
                if s.info.stale { "yes" } else { "no" },
                s.last_action.as_str(),
                s.last_attempts,
                status::html::drift(row),
                status::html::suspicious(row),
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
            "account {}: listing {listing}; {} servers, {} stale, {} synced, {} failed ({} without effect), {} backed off, {} blocked, {} dry run, {:.1}s",
            r.account, r.servers, r.stale, r.synced, r.failed, r.no_effect, r.backed_off, r.blocked, r.dry_run, r.duration.as_secs_f64()
        );
    }
    portal_lines(&mut out, snap);
    out
}

/// One line per portal, worst first, after the servers; and a portal listing that failed.
fn portal_lines(out: &mut String, snap: &Snapshot) {
    let p = status::portals::portals(snap, &status::Filter::default());
    for (account, listing) in &p.listings {
        if *listing == "down" {
            let why = snap.portals.get(account).and_then(|p| p.last_error.clone());
            let _ = writeln!(
                out,
                "account {account}: portal listing FAILED: {}",
                sanitize(&why.unwrap_or_default())
            );
        }
    }
    for r in &p.portals {
        let worst = r
            .worst
            .as_ref()
            .map(|(id, h)| format!("; worst {} ({h})", sanitize(id)));
        let _ = writeln!(
            out,
            "portal {} ({}, {}): {}; {} of {} enabled servers unusable; {}{}",
            sanitize(&r.id),
            sanitize(&r.name),
            sanitize(&r.hostname),
            r.state.as_str(),
            r.unusable,
            r.enabled,
            r.counts(),
            worst.unwrap_or_default(),
        );
    }
}

#[cfg(test)]
#[path = "../../tests/unit/commands/once.rs"]
mod tests;
