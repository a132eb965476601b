//! The command line: parse, load the configuration, and hand over to the library.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

use mcp_sync_monitor::commands::{self, Exit, Probe};
use mcp_sync_monitor::config::{self, Flags};

/// Keeps the MCP servers of Cloudflare accounts synced and tells Prometheus how healthy
/// each server's sync is.
#[derive(Parser, Debug)]
#[command(name = "mcp-sync-monitor", version, about, long_about = None)]
struct Cli {
    #[command(flatten)]
    flags: Flags,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the daemon (the default).
    Run,
    /// Run one cycle, print a table, exit 0 (healthy), 1 (a syncable server stale or
    /// failing) or 2 (config/auth). Servers a sync cannot refresh (manual OAuth, sign-in
    /// required) are shown with their reason and alone do not exit 1: a rerun cannot change them.
    Once {
        /// `table` (worst first, for a person) or `json` (the rows of /api/v1/servers).
        #[arg(long, value_enum, default_value_t = commands::Output::Table)]
        output: commands::Output,
    },
    /// Run against a built-in simulated Cloudflare API; no account needed.
    Demo,
    /// Load and validate the configuration, print it with secrets masked.
    CheckConfig,
    /// Pins of every server's tool and prompt definitions: `export` prints a pin file from
    /// one listing, `diff` compares one listing with capabilities.pins (exit 1 on drift).
    Pins {
        #[command(subcommand)]
        command: PinsCommand,
    },
    /// GET /healthz (or /readyz) on the configured listen address; exit 0 if healthy.
    Healthcheck {
        /// Ask /readyz (every account listed once) instead of /healthz.
        #[arg(long)]
        ready: bool,
    },
}

#[derive(Subcommand, Debug)]
enum PinsCommand {
    /// List every account once (nothing synced) and print the pin file of the current
    /// definitions: `pins export > pins.json`, review, commit.
    Export {
        /// Only servers whose id or name matches (glob; repeatable).
        #[arg(long = "server", value_name = "GLOB")]
        servers: Vec<String>,
    },
    /// List every account once and print what drifts from capabilities.pins; exit 0 none,
    /// 1 drift, 2 configuration, credentials or a listing that did not complete.
    Diff {
        /// Only servers whose id or name matches (glob; repeatable).
        #[arg(long = "server", value_name = "GLOB")]
        servers: Vec<String>,
    },
}

fn main() -> ExitCode {
    mcp_sync_monitor::allocator::tune();
    let cli = Cli::parse();
    // The process environment; a variable that is not valid UTF-8 is no configuration's.
    let env: config::Env = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return Exit::Failure.into();
        }
    };
    let flags = &cli.flags;
    let exit = runtime.block_on(async {
        match cli.command.unwrap_or(Command::Run) {
            Command::Run => commands::run(flags, &env).await,
            Command::Once { output } => commands::once(flags, &env, output).await,
            Command::Demo => commands::demo::demo(flags, &env).await,
            Command::CheckConfig => commands::check_config(flags, &env),
            Command::Pins {
                command: PinsCommand::Export { servers },
            } => commands::pins::export(flags, &env, &servers).await,
            Command::Pins {
                command: PinsCommand::Diff { servers },
            } => commands::pins::diff(flags, &env, &servers).await,
            Command::Healthcheck { ready } => {
                let probe = if ready { Probe::Ready } else { Probe::Health };
                commands::healthcheck(flags, &env, probe).await
            }
        }
    });
    runtime.shutdown_timeout(Duration::from_secs(1));
    exit.into()
}
