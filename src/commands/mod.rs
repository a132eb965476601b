//! The subcommands behind the command line: `run`, `once`, `demo`, `check-config`,
//! `healthcheck`, `pins export` / `pins diff`, and the one exit-code type they all answer with. `main.rs` only parses
//! the command line and calls one of these.

mod check_config;
#[cfg(feature = "fake")]
pub mod demo;
mod healthcheck;
mod once;
pub mod pins;

use std::process::ExitCode;

use crate::app;
use crate::config::{self, Config, Env, Flags};
use crate::shutdown::{self, Shutdown};
use crate::telemetry;

pub use check_config::{check_config, render};
pub use healthcheck::{healthcheck, Probe};
pub use once::{exit_code, once, table, Output};

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: done, or everything healthy.
    Success = 0,
    /// 1: unhealthy (a server still stale or failing, a listing failed), or a runtime
    /// error.
    Failure = 1,
    /// 2: the configuration is invalid or the credentials were refused.
    ConfigOrAuth = 2,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> Self {
        ExitCode::from(e as u8)
    }
}

/// Loads the configuration, starts logging and listens for SIGTERM/SIGINT.
fn prepare(flags: &Flags, env: &Env) -> Result<(Config, Shutdown), Exit> {
    let cfg = config::load(flags, env).map_err(|e| {
        eprintln!("error: {e}");
        Exit::ConfigOrAuth
    })?;
    telemetry::init(cfg.log_format);
    let sd = Shutdown::new();
    tokio::spawn(shutdown::on_signals(sd.clone()));
    Ok((cfg, sd))
}

/// The daemon, until SIGTERM/SIGINT and a graceful stop.
pub async fn run(flags: &Flags, env: &Env) -> Exit {
    let (cfg, sd) = match prepare(flags, env) {
        Ok(v) => v,
        Err(exit) => return exit,
    };
    match app::run(cfg, sd).await {
        Ok(()) => Exit::Success,
        Err(e @ (app::AppError::WebConfig(_) | app::AppError::Pins(_))) => {
            eprintln!("error: {e}");
            Exit::ConfigOrAuth
        }
        Err(e) => {
            tracing::error!(error = %e, "mcp-sync-monitor failed");
            eprintln!("error: {e}");
            Exit::Failure
        }
    }
}

/// Without the `fake` feature there is no simulated API, so no `demo`.
#[cfg(not(feature = "fake"))]
pub mod demo {
    use super::Exit;
    use crate::config::{Env, Flags};

    /// Says that this build has no demo.
    pub async fn demo(_flags: &Flags, _env: &Env) -> Exit {
        eprintln!("error: this build has no demo (it was built without the `fake` feature)");
        Exit::Failure
    }
}
