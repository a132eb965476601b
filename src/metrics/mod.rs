//! Renders [`State`] as Prometheus metrics, at scrape time.
//!
//! Nothing is registered ahead of time: every scrape renders the current state, so a server
//! that left the account leaves `/metrics` too, and a value the daemon does not know is a
//! missing series, never a fake 0. There is one exposition path, the hand-written text
//! format writer in `text`: the few account-level, settings and `process_*` series (`head`)
//! are rendered under the state's read lock; the per-server series (`servers`) are copied
//! out as compact rows and written after the lock is released, in pieces of about `chunk`
//! bytes, so that memory per scrape stays small whatever the fleet's size. (The
//! `prometheus` crate's data model cost four times the memory at 10,000 servers; its output
//! and ours are checked the same way: `promtool check metrics` and a real Prometheus.)

mod head;
mod servers;
mod text;

use crate::process;
use crate::state::State;

/// The exposition format's content type (Prometheus 3 refuses a blank one).
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The daemon's metric namespace.
const NS: &str = "cloudflare_mcp_";

/// A consistent copy of everything one scrape renders.
pub struct Scrape {
    head: String,
    rows: Vec<servers::Row>,
}

/// Copies what a scrape renders of the state out of it, in one short read lock. The
/// `process_*` families are not in it: they change by the second, so [`process_text`]
/// renders them for each scrape.
pub fn snapshot(state: &State) -> Scrape {
    let snap = state.read();
    let mut head = String::with_capacity(16 * 1024);
    head::render(&mut head, &snap);
    Scrape {
        head,
        rows: servers::rows(&snap),
    }
}

/// The `process_*` families, as this process is now.
pub fn process_text() -> String {
    let mut out = String::with_capacity(1024);
    head::render_process(&mut out, &process::read());
    out
}

/// Writes the exposition of `scrape` in pieces of about `chunk` bytes, handing each to
/// `sink`; stops early when `sink` returns `false` (the client went away).
pub fn write(scrape: &Scrape, chunk: usize, mut sink: impl FnMut(String) -> bool) {
    let mut out = String::with_capacity(scrape.head.len() + chunk + 4096);
    out.push_str(&scrape.head);
    let mut flush = |out: &mut String| -> bool {
        if out.len() >= chunk {
            let full = std::mem::replace(out, String::with_capacity(chunk + 4096));
            return sink(full);
        }
        true
    };
    let mut open = true;
    servers::write(&scrape.rows, &mut out, |o| {
        open = flush(o);
        open
    });
    if open && !out.is_empty() {
        sink(out);
    }
}

/// The whole exposition of the current state, process families included, as one string.
pub fn render(state: &State) -> String {
    let scrape = snapshot(state);
    let mut text = process_text();
    write(&scrape, 1 << 20, |piece| {
        text.push_str(&piece);
        true
    });
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloudflare::Server;
    use crate::state::Listed;
    use std::time::SystemTime;

    #[test]
    fn unknown_values_are_absent_and_removed_servers_leave() {
        let st = State::new(["acc"]);
        let text = render(&st);
        assert!(!text.contains("cloudflare_mcp_up{"), "{text}");
        assert!(!text.contains("cloudflare_mcp_servers{"), "{text}");
        let server = Server {
            id: "s1".into(),
            name: Some("One \"quoted\"".into()),
            ..Server::default()
        };
        st.listing_complete("acc", vec![Listed::new(server, true)], SystemTime::now());
        let text = render(&st);
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
        st.listing_complete("acc", vec![], SystemTime::now());
        assert!(!render(&st).contains("server_id=\"s1\""));
    }
}
