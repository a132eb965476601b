//! `healthcheck`: the container's HEALTHCHECK, since the runtime image has no shell or curl.

use std::time::Duration;

use super::Exit;
use crate::config::{self, Env, Flags};

/// GETs `/healthz` on the configured listen address: exit 0 healthy, 1 not, 2 when the
/// listen address itself is invalid.
pub async fn healthcheck(flags: &Flags, env: &Env) -> Exit {
    let addr = match config::listen_address(flags, env) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::ConfigOrAuth;
        }
    };
    let host = match addr.ip() {
        ip if ip.is_unspecified() && ip.is_ipv4() => "127.0.0.1".to_owned(),
        ip if ip.is_unspecified() => "[::1]".to_owned(),
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        ip => ip.to_string(),
    };
    let url = format!("http://{host}:{}/healthz", addr.port());
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("unhealthy: {e}");
            return Exit::Failure;
        }
    };
    match client.get(&url).send().await {
        Ok(r) if r.status().is_success() => {
            println!("healthy: {url}");
            Exit::Success
        }
        Ok(r) => {
            eprintln!("unhealthy: {url} answered {}", r.status());
            Exit::Failure
        }
        Err(e) => {
            eprintln!("unhealthy: {url}: {e}");
            Exit::Failure
        }
    }
}
