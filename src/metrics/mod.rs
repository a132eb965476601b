//! Renders the published [`Snapshot`] as Prometheus metrics, at scrape time.
//!
//! Nothing is registered ahead of time: every scrape renders a snapshot, so a server that
//! left the account leaves `/metrics` too, and a value the daemon does not know is a missing
//! series, never a fake 0. There is one exposition path, the hand-written writer in `text`,
//! in the format the scraper negotiated ([`format_from_accept`]): OpenMetrics 1.0.0 or text
//! 0.0.4. The few account-level, request, settings and `process_*` series ([`head`]) are
//! rendered for every scrape (request counters move with every API request); the
//! per-server series ([`write_servers`]) change only when a view is published, so one
//! rendering of them serves every scrape of that version, written in pieces of about
//! `chunk` bytes so that memory per scrape stays small whatever the fleet's size. (The
//! `prometheus` crate's data model cost four times the memory at 10,000 servers. The
//! Prometheus project's `prometheus-client` encodes from a `Collector` with no model kept:
//! `cargo bench --bench cycle -- exposition` puts both on the same 10,000-server snapshot,
//! 9.2–13.1 ms per rendering here against its 9.7–12.8 ms, 3 runs each.)

mod head;
mod negotiate;
mod servers;
mod text;

use crate::process;
use crate::state::Snapshot;
use crate::web::WebStatus;
pub use negotiate::format_from_accept;
pub use text::Format;
use text::Out;

/// The daemon's metric namespace.
const NS: &str = "cloudflare_mcp_";

/// The `process_*` families as this process is now, then the account-level, request,
/// settings, build and web configuration families of `snap`, in `format`.
pub fn head(snap: &Snapshot, web: Option<WebStatus>, format: Format) -> String {
    let mut out = Out::new(format, 16 * 1024);
    head::render_process(&mut out, &process::read());
    head::render(&mut out, snap, web);
    out.into_text()
}

/// Writes the per-server families of `snap` in `format` in pieces of about `chunk` bytes,
/// handing each to `sink`, and then what ends the exposition (these families come last);
/// stops early when `sink` returns `false` (the client went away).
pub fn write_servers(
    snap: &Snapshot,
    format: Format,
    chunk: usize,
    mut sink: impl FnMut(String) -> bool,
) {
    let mut out = Out::new(format, chunk + 4096);
    let mut flush = |out: &mut Out| -> bool {
        if out.len() >= chunk {
            return sink(out.take(chunk + 4096));
        }
        true
    };
    let mut open = true;
    servers::write(snap, &mut out, |o| {
        open = flush(o);
        open
    });
    if open {
        out.push_str(format.end());
        sink(out.into_text());
    }
}

/// The whole exposition of the current state, as one string.
#[cfg(any(test, feature = "fake"))]
pub fn render(state: &crate::state::State, web: Option<WebStatus>, format: Format) -> String {
    let snap = state.read();
    let mut text = head(&snap, web, format);
    write_servers(&snap, format, 1 << 20, |piece| {
        text.push_str(&piece);
        true
    });
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{AccountView, Action, ServerInfo, State};
    use std::time::SystemTime;

    #[test]
    fn unknown_values_are_absent_and_removed_servers_leave() {
        let st = State::new(["acc"]);
        let text = render(&st, None, Format::Text);
        assert!(!text.contains("cloudflare_mcp_up{"), "{text}");
        assert!(!text.contains("cloudflare_mcp_servers{"), "{text}");
        let server = ServerInfo {
            id: "s1".into(),
            name: "One \"quoted\"".into(),
            stale: true,
            ..ServerInfo::default()
        };
        let now = SystemTime::now();
        let view = AccountView::default().relisted(vec![(server, Action::None)], now);
        st.publish("acc", view.clone());
        let text = render(&st, None, Format::Text);
        assert!(
            text.contains("cloudflare_mcp_servers{account_id=\"acc\"} 1"),
            "{text}"
        );
        assert!(text.contains("name=\"One \\\"quoted\\\"\""), "{text}");
        assert!(
            !text.contains("server_last_successful_sync_timestamp_seconds{"),
            "{text}"
        );
        assert!(!text.contains("server_tools{"), "{text}");
        st.publish("acc", view.relisted(vec![], now));
        assert!(!render(&st, None, Format::Text).contains("server_id=\"s1\""));
    }
}
