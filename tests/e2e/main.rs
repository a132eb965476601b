//! End-to-end tests: the daemon, its client and its command line, over real HTTP on
//! 127.0.0.1 against the simulated Cloudflare API, a Prism mock built from Cloudflare's
//! OpenAPI document, a real Prometheus and a real Alertmanager. One test binary keeps link times down.

mod abuse;
mod alerting;
mod capabilities;
mod cli;
mod client;
mod common;
mod daemon;
mod faults;
mod fuzz_regressions;
mod handshakes;
mod http_metrics;
mod load;
mod openmetrics;
mod pins;
mod pipeline;
mod portals;
mod prism;
mod prometheus;
mod scheduler;
mod secrets;
mod soak;
mod status_page;
mod tls;
mod truth;
mod walk;
