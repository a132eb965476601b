//! Renders the published [`Snapshot`] as Prometheus metrics, at scrape time.
//!
//! Nothing is registered ahead of time: every scrape renders a snapshot, so a server that
//! left the account leaves `/metrics` too, and a value the daemon does not know is a missing
//! series, never a fake 0. The Prometheus project's `prometheus-client` crate writes both
//! formats ([`encode`]), in the one the scraper negotiated ([`format_from_accept`]):
//! OpenMetrics 1.0.0 or text 0.0.4, from collectors that read the snapshot and keep no
//! model (the `prometheus` crate's data model cost four times the memory at 10,000
//! servers). The few account-level, request, settings and `process_*` series ([`head`])
//! are rendered for every scrape (request counters move with every API request); the
//! per-server series ([`write_servers`]) change only when a view is published, so one
//! rendering of them serves every scrape of that version, and it goes to its writer as it
//! is made, so memory per scrape stays small whatever the fleet's size.

mod encode;
mod head;
mod negotiate;
mod portals;
mod servers;

use std::fmt;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;

use crate::process::{self, ProcessStats};
use crate::state::Snapshot;
use crate::web::WebStatus;
pub use encode::Format;
pub use negotiate::format_from_accept;

/// The daemon's metric namespace.
const NS: &str = "cloudflare_mcp_";

/// The families rendered for every scrape, from the snapshot it took.
#[derive(Debug)]
struct Head {
    snap: Snapshot,
    web: Option<WebStatus>,
    process: ProcessStats,
}

impl Collector for Head {
    fn encode(&self, mut enc: DescriptorEncoder) -> fmt::Result {
        head::render_process(&mut enc, &self.process)?;
        head::render(&mut enc, &self.snap, self.web)
    }
}

/// The per-server families of a snapshot.
#[derive(Debug)]
struct Servers(Snapshot);

impl Collector for Servers {
    fn encode(&self, mut enc: DescriptorEncoder) -> fmt::Result {
        servers::write(&self.0, &mut enc)?;
        portals::write(&self.0, &mut enc)
    }
}

/// The `process_*` families as this process is now, then the account-level, request,
/// settings, build and web configuration families of `snap`, in `format`.
pub fn head(snap: &Snapshot, web: Option<WebStatus>, format: Format) -> String {
    let mut out = String::with_capacity(16 * 1024);
    let head = Head {
        snap: snap.clone(),
        web,
        process: process::read(),
    };
    // Writing into a String cannot fail.
    let _ = encode::encode(format, head, &mut out);
    out
}

/// Writes the per-server families of `snap` in `format` into `out` as they are made, and
/// then what ends the exposition (these families come last). An error is `out`'s.
pub fn write_servers(snap: &Snapshot, format: Format, out: &mut impl fmt::Write) -> fmt::Result {
    encode::encode(format, Servers(snap.clone()), out)?;
    out.write_str(format.end())
}

/// The whole exposition of the current state, as one string.
#[cfg(any(test, feature = "fake"))]
pub fn render(state: &crate::state::State, web: Option<WebStatus>, format: Format) -> String {
    let snap = state.read();
    let mut text = head(&snap, web, format);
    let _ = write_servers(&snap, format, &mut text);
    text
}

#[cfg(test)]
#[path = "../../tests/unit/metrics.rs"]
mod tests;
