//! `healthcheck`: the container's HEALTHCHECK (and a Kubernetes exec probe), since the
//! runtime image has no shell or curl. It reads the same web configuration as the daemon,
//! so it speaks TLS when the daemon does, trusting exactly the certificate the daemon
//! serves, and brings the credentials the configuration asks for:
//! `MCP_SYNC_HEALTHCHECK_USERNAME` and `MCP_SYNC_HEALTHCHECK_PASSWORD` (or `_FILE`) for
//! basic authentication, `MCP_SYNC_HEALTHCHECK_CERT_FILE` and `MCP_SYNC_HEALTHCHECK_KEY_FILE`
//! for a client certificate.

use std::net::SocketAddr;
use std::time::Duration;

use super::Exit;
use crate::config::{self, Env, Flags};
use crate::web::{self, client};

/// Which endpoint to ask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    /// `/healthz`: the daemon runs (liveness).
    Health,
    /// `/readyz`: every account listed once (readiness).
    Ready,
}

/// GETs `/healthz` (or `/readyz`) on the configured listen address: exit 0 healthy, 1 not,
/// 2 when the configuration or the probe's own credentials are unusable.
pub async fn healthcheck(flags: &Flags, env: &Env, probe: Probe) -> Exit {
    let prepared = match prepare(flags, env) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::ConfigOrAuth;
        }
    };
    let (client, url, auth) = prepared;
    let path = match probe {
        Probe::Health => "healthz",
        Probe::Ready => "readyz",
    };
    let url = format!("{url}/{path}");
    let mut request = client.get(&url);
    if let Some((user, password)) = auth {
        request = request.basic_auth(user, Some(password));
    }
    match request.send().await {
        Ok(r) if r.status().is_success() => {
            println!("healthy: {url}");
            Exit::Success
        }
        Ok(r) => {
            eprintln!("unhealthy: {url} answered {}", r.status());
            Exit::Failure
        }
        Err(e) => {
            eprintln!("unhealthy: {url}: {}", error_chain(&e));
            Exit::Failure
        }
    }
}

type Prepared = (reqwest::Client, String, Option<(String, String)>);

fn prepare(flags: &Flags, env: &Env) -> Result<Prepared, String> {
    let (addr, web_file) = config::endpoint(flags, env).map_err(|e| e.to_string())?;
    let web = match web_file {
        Some(p) => Some(web::Web::load(&p).map_err(|e| e.to_string())?),
        None => None,
    };
    let spec = web
        .as_ref()
        .map(|w| w.current().spec.clone())
        .unwrap_or_default();
    let mut builder = reqwest::Client::builder().timeout(Duration::from_secs(5));
    let scheme = match &spec.tls {
        Some(tls) => {
            let cfg =
                client::probe_config(tls, identity(env)?).map_err(|(k, r)| format!("{k}: {r}"))?;
            builder = builder.use_preconfigured_tls(cfg);
            "https"
        }
        None => "http",
    };
    let auth = if spec.users.is_empty() {
        None
    } else {
        Some(credentials(env)?)
    };
    let client = builder.build().map_err(|e| e.to_string())?;
    Ok((client, format!("{scheme}://{}", host(addr)), auth))
}

fn host(addr: SocketAddr) -> String {
    let host = match addr.ip() {
        ip if ip.is_unspecified() && ip.is_ipv4() => "127.0.0.1".to_owned(),
        ip if ip.is_unspecified() => "[::1]".to_owned(),
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        ip => ip.to_string(),
    };
    format!("{host}:{}", addr.port())
}

/// `NAME`, or the content of the file `NAME_FILE` names.
fn var(env: &Env, name: &str) -> Result<Option<String>, String> {
    if let Some(v) = env.get(name).filter(|v| !v.is_empty()) {
        return Ok(Some(v.clone()));
    }
    let file = format!("{name}_FILE");
    match env.get(&file).filter(|v| !v.is_empty()) {
        Some(path) => std::fs::read_to_string(path)
            .map(|s| Some(s.trim_end_matches(['\r', '\n']).to_owned()))
            .map_err(|e| format!("{file}: cannot read {path}: {e}")),
        None => Ok(None),
    }
}

fn credentials(env: &Env) -> Result<(String, String), String> {
    let user = var(env, "MCP_SYNC_HEALTHCHECK_USERNAME")?;
    let password = var(env, "MCP_SYNC_HEALTHCHECK_PASSWORD")?;
    match (user, password) {
        (Some(u), Some(p)) => Ok((u, p)),
        _ => Err("the web configuration asks for basic authentication: set MCP_SYNC_HEALTHCHECK_USERNAME and MCP_SYNC_HEALTHCHECK_PASSWORD (or MCP_SYNC_HEALTHCHECK_PASSWORD_FILE)".into()),
    }
}

fn identity(env: &Env) -> Result<Option<client::Identity>, String> {
    let cert = env
        .get("MCP_SYNC_HEALTHCHECK_CERT_FILE")
        .filter(|v| !v.is_empty());
    let key = env
        .get("MCP_SYNC_HEALTHCHECK_KEY_FILE")
        .filter(|v| !v.is_empty());
    match (cert, key) {
        (None, None) => Ok(None),
        (Some(c), Some(k)) => {
            let chain = web::certificates(
                &web::Pem::File(c.into()),
                ("cert", "MCP_SYNC_HEALTHCHECK_CERT_FILE"),
            )
            .map_err(|(_, r)| format!("MCP_SYNC_HEALTHCHECK_CERT_FILE: {r}"))?;
            let key = web::private_key(&web::Pem::File(k.into()))
                .map_err(|(_, r)| format!("MCP_SYNC_HEALTHCHECK_KEY_FILE: {r}"))?;
            Ok(Some((chain, key)))
        }
        _ => Err(
            "set both MCP_SYNC_HEALTHCHECK_CERT_FILE and MCP_SYNC_HEALTHCHECK_KEY_FILE, or neither"
                .into(),
        ),
    }
}

/// An error with its causes (reqwest's own message alone hides the TLS reason).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
