//! `check-config`: load and validate the configuration and print it as TOML, with every
//! secret masked and each credential's source named.

use std::time::Duration;

use super::Exit;
use crate::cloudflare::Credentials;
use crate::config::{self, Config, Env, Flags, Globs, LogFormat};
use crate::web::Web;

/// Prints the effective configuration (exit 0), or the error naming the key (exit 2).
pub fn check_config(flags: &Flags, env: &Env) -> Exit {
    match config::load(flags, env) {
        Ok(cfg) => {
            let web = match cfg.web_config_file.as_deref().map(Web::load).transpose() {
                Ok(web) => web,
                Err(e) => {
                    eprintln!("error: {e}");
                    return Exit::ConfigOrAuth;
                }
            };
            let pins = match cfg.pins.as_deref().map(crate::pins::load).transpose() {
                Ok(p) => p,
                Err(e) => {
                    eprintln!("error: {e}");
                    return Exit::ConfigOrAuth;
                }
            };
            let pins = match (&cfg.pins, pins) {
                (Some(path), Some(p)) => format!(
                    "\n[capabilities]\npins = {:?}\n# {} servers, {} definitions pinned ({}, canonical form {})\n",
                    path.display().to_string(),
                    p.servers(),
                    p.definitions(),
                    crate::definitions::stable::HASH,
                    crate::definitions::stable::CANONICAL_VERSION
                ),
                _ => "\n[capabilities]\n# pins: none (no drift is reported)\n".into(),
            };
            println!(
                "# configuration is valid; secrets are masked\n{}{}{pins}",
                render(&cfg),
                render_web(&cfg, web.as_ref())
            );
            Exit::Success
        }
        Err(e) => {
            eprintln!("error: {e}");
            Exit::ConfigOrAuth
        }
    }
}

/// The effective configuration as TOML-like text, secrets masked (for `check-config`).
pub fn render(cfg: &Config) -> String {
    let d = |d: Duration| format!("{:?}", humantime::format_duration(d).to_string());
    let list = |g: &Globs| {
        format!(
            "[{}]",
            (g.0.iter())
                .map(|p| format!("{:?}", p.to_string()))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let mut s = String::new();
    let mut section = String::new();
    // Each line says where its value came from: `# default`, `# flag --interval`…
    let mut line = |k: &str, v: String| {
        if let Some(name) = k.strip_prefix("\n[").and_then(|r| r.split(']').next()) {
            section = name.trim_matches('[').to_owned();
        }
        let leaf = k.rsplit('\n').next().unwrap_or(k);
        let key = if section.is_empty() {
            leaf.to_owned()
        } else {
            format!("{section}.{leaf}")
        };
        s.push_str(k);
        s.push_str(" = ");
        s.push_str(&v);
        if let Some(origin) = cfg.origins.get(key.as_str()) {
            s.push_str("  # ");
            s.push_str(origin);
        }
        s.push('\n');
    };
    line("listen", format!("{:?}", cfg.listen.to_string()));
    line("interval", d(cfg.interval));
    line("stale_after", d(cfg.stale_after));
    line("dry_run", cfg.dry_run.to_string());
    line("sync_concurrency", cfg.sync_concurrency.to_string());
    line("list_concurrency", cfg.list_concurrency.to_string());
    line("per_page", cfg.per_page.to_string());
    line("request_timeout", d(cfg.request_timeout));
    line("failure_backoff_max", d(cfg.failure_backoff_max));
    line("include", list(&cfg.include));
    line("exclude", list(&cfg.exclude));
    line("\n[retry]\ninitial_interval", d(cfg.retry.initial_interval));
    line("multiplier", cfg.retry.multiplier.to_string());
    line("max_interval", d(cfg.retry.max_interval));
    line("max_elapsed", d(cfg.retry.max_elapsed));
    line(
        "\n[rate_limit]\nrequests",
        cfg.rate_limit.requests.to_string(),
    );
    line("per", d(cfg.rate_limit.per));
    line("\n[api]\nbase_url", format!("{:?}", cfg.base_url));
    line(
        "\n[log]\nformat",
        format!(
            "{:?}",
            if cfg.log_format == LogFormat::Json {
                "json"
            } else {
                "text"
            }
        ),
    );
    line(
        "\n[portals]\ninterval",
        cfg.portals_interval.map_or("\"0\"".into(), d),
    );
    for a in &cfg.accounts {
        let cred = match &a.credentials {
            Credentials::Token(t) => {
                format!("api token from {} = \"{t}\"", a.credential_source)
            }
            Credentials::Legacy { email, key } => {
                format!(
                    "email + API key from {} = \"{email}\" / \"{key}\"",
                    a.credential_source
                )
            }
        };
        line("\n[[accounts]]\nid", format!("{:?}", a.id));
        line("# credentials", cred);
    }
    s
}

/// What the web configuration turns on (never a key, a password or a hash).
fn render_web(cfg: &Config, web: Option<&Web>) -> String {
    let origin = cfg
        .origins
        .get("web.max_connections")
        .map(|o| format!("  # {o}"));
    let section = format!(
        "\n[web]\nmax_connections = {}{}\n",
        cfg.max_connections,
        origin.unwrap_or_default()
    );
    let Some(web) = web else {
        return section;
    };
    let loaded = web.current();
    let spec = &loaded.spec;
    let tls = match &spec.tls {
        Some(t) => format!(
            "on (client certificates: {}{})",
            t.client_auth.as_str(),
            if t.allowed_sans.is_empty() {
                String::new()
            } else {
                format!(", allowed SANs {:?}", t.allowed_sans)
            }
        ),
        None => "off".into(),
    };
    let users: Vec<&str> = loaded.users.names().collect();
    format!(
        "{section}config_file = {:?}\n# tls = {tls}\n# basic_auth_users = {users:?}\n# headers = {:?}\n# rate_limit = {}\n",
        web.path().display().to_string(),
        spec.headers.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
        spec.rate
            .map(|r| format!(
                "one request per {}, bursts of {}",
                humantime::format_duration(r.interval),
                r.burst
            ))
            .unwrap_or_else(|| "off".into()),
    )
}
