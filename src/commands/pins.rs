//! `pins export` and `pins diff`: one listing of every account, written as a pin file, or
//! compared with the configured one (a CI or cron gate: exit 1 on drift).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use super::Exit;
use crate::cloudflare::model::sanitize;
use crate::config::{Env, Flags, Globs};
use crate::definitions::stable::StableTable;
use crate::pins::{self, PinSet};
use crate::scheduler::definitions::{Listed, NotListed};
use crate::scheduler::Scheduler;
use crate::state::State;

/// What a listing found, per account.
type Found = BTreeMap<String, Result<BTreeMap<String, Listed>, NotListed>>;

/// Lists every account once, nothing synced: the servers matching `servers` (id or name
/// globs; all when empty). With `pinned`, the configured pin file is loaded first (a missing
/// or bad one ends the command before any request).
async fn list(
    flags: &Flags,
    env: &Env,
    servers: &[String],
    pinned: bool,
) -> Result<(Found, Option<PinSet>), Exit> {
    let (mut cfg, sd) = super::prepare(flags, env)?;
    cfg.dry_run = true;
    let pins = match (pinned, cfg.pins.take()) {
        (false, _) => None,
        (true, None) => {
            eprintln!("error: no pin file to compare with: set capabilities.pins (--capabilities.pins, MCP_SYNC_CAPABILITIES_PINS)");
            return Err(Exit::ConfigOrAuth);
        }
        (true, Some(path)) => Some(pins::load(&path).map_err(|e| {
            eprintln!("error: {e}");
            Exit::ConfigOrAuth
        })?),
    };
    let state = Arc::new(State::new(cfg.accounts.iter().map(|a| a.id.as_str())));
    let scheduler = Scheduler::new(cfg, state).map_err(|e| {
        eprintln!("error: {e}");
        Exit::ConfigOrAuth
    })?;
    let mut found = scheduler.definitions(&sd).await;
    let globs = Globs::new(servers.iter().cloned());
    if !globs.0.is_empty() {
        for servers in found.values_mut().flatten() {
            servers.retain(|id, s| globs.any_match(id) || globs.any_match(&s.name));
        }
    }
    // Nothing can be said of an account that was not listed whole: exit 2, not 1 (drift).
    let mut complete = true;
    for (account, r) in &found {
        if let Err(e) = r {
            let why = if e.auth { " (credentials refused)" } else { "" };
            eprintln!(
                "error: account {account}: cannot list its servers{why}: {}",
                sanitize(&e.message)
            );
            complete = false;
        }
    }
    if complete {
        Ok((found, pins))
    } else {
        Err(Exit::ConfigOrAuth)
    }
}

/// `pins export`: prints the pin file of the current definitions.
pub async fn export(flags: &Flags, env: &Env, servers: &[String]) -> Exit {
    let found = match list(flags, env, servers, false).await {
        Ok((found, _)) => found,
        Err(exit) => return exit,
    };
    let accounts: BTreeMap<String, BTreeMap<String, StableTable>> = found
        .into_iter()
        .map(|(a, r)| {
            let servers = r
                .unwrap_or_default()
                .into_iter()
                .map(|(id, s)| (id, s.definitions))
                .collect();
            (a, servers)
        })
        .collect();
    let mut out = std::io::stdout().lock();
    match pins::write(&accounts, &mut out) {
        Ok(()) => Exit::Success,
        Err(e) => {
            eprintln!("error: cannot write the pin file: {e}");
            Exit::Failure
        }
    }
}

/// `pins diff`: prints what drifts from the configured pin file; exit 1 when anything does.
pub async fn diff(flags: &Flags, env: &Env, servers: &[String]) -> Exit {
    let (found, pinned) = match list(flags, env, servers, true).await {
        Ok((found, Some(pinned))) => (found, pinned),
        Ok((_, None)) => return Exit::ConfigOrAuth,
        Err(exit) => return exit,
    };
    let globs = Globs::new(servers.iter().cloned());
    let (text, drifting) = report(&found, &pinned, &globs);
    print!("{text}");
    if drifting > 0 {
        Exit::Failure
    } else {
        Exit::Success
    }
}

/// The diff of every listed server against `pinned`, and how many servers drift. Servers
/// pinned but no longer listed drift too (every definition removed), unless `globs` leaves
/// them out.
pub fn report(found: &Found, pinned: &PinSet, globs: &Globs) -> (String, usize) {
    let mut out = String::new();
    let mut drifting = 0;
    let mut servers = 0;
    for (account, r) in found {
        let Ok(listed) = r else { continue };
        for (id, s) in listed {
            servers += 1;
            let change = pins::drift(&s.definitions, pinned.get(account, id));
            if change.is_empty() {
                continue;
            }
            drifting += 1;
            let _ = writeln!(
                out,
                "account {account} server {} ({}): {} added, {} changed, {} removed",
                sanitize(id),
                sanitize(&s.name),
                change.added.len(),
                change.changed.len(),
                change.removed.len()
            );
            for (mark, names) in [
                ("+", &change.added),
                ("~", &change.changed),
                ("-", &change.removed),
            ] {
                for n in names {
                    let _ = writeln!(out, "  {mark} {}", sanitize(n));
                }
            }
        }
        for id in pinned.servers_of(account) {
            let wanted = globs.0.is_empty() || globs.any_match(id);
            if listed.contains_key(id) || !wanted {
                continue;
            }
            drifting += 1;
            let _ = writeln!(
                out,
                "account {account} server {}: pinned, no longer listed",
                sanitize(id)
            );
        }
    }
    let _ = writeln!(
        out,
        "{drifting} of {servers} servers drift from their pins{}",
        if drifting > 0 {
            "; review, then approve with `mcp-sync-monitor pins export`"
        } else {
            ""
        }
    );
    (out, drifting)
}
