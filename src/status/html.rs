//! The status page: the rows of [`super::status`] as one HTML page, rendered by the daemon
//! with no external assets and no script (it refreshes itself with a `<meta>` tag), so it
//! reads the same in any browser, a terminal browser or `curl`. Every piece of text that came
//! from the API or an upstream server is escaped; the page's one inline style carries the
//! nonce its `Content-Security-Policy` names.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use super::{AccountRow, Filter, Health, ServerRow, Status};

/// `s` escaped for HTML text and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => out.push('\u{fffd}'),
            c if crate::definitions::hidden(c).is_some() => {
                let _ = write!(out, "[U+{:04X}]", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// `s` escaped for a URL's query string.
fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

/// How long ago (or how far ahead) an RFC 3339 time of a row is, for a person.
fn when(rfc: &str, now: SystemTime) -> String {
    let Ok(t) = humantime::parse_rfc3339(rfc) else {
        return escape(rfc);
    };
    let round = |d: Duration| {
        let s = d.as_secs();
        let d = if s >= 3600 { s - s % 60 } else { s };
        humantime::format_duration(Duration::from_secs(d)).to_string()
    };
    match now.duration_since(t) {
        Ok(d) => format!("{} ago", round(d)),
        Err(e) => format!("in {}", round(e.duration())),
    }
}

const STYLE: &str = "body{font:14px system-ui,sans-serif;margin:1em;color:#222}\
table{border-collapse:collapse;margin:.5em 0 1.5em}\
th,td{border-bottom:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}\
th{background:#f4f4f4}small{color:#666}\
.failing{background:#fde2e1}.needs_person{background:#fff1d6}.stale{background:#fdfbd8}\
code{font-size:12px}form{margin:.5em 0}";

/// The page for `status`, with `filter` in its form and links, rendered at `now`.
pub fn page(status: &Status, filter: &Filter, now: SystemTime, nonce: &str) -> String {
    let mut out = String::with_capacity(4096 + status.servers.len() * 700);
    let _ = write!(
        out,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta http-equiv=\"refresh\" content=\"30\"><title>mcp-sync-monitor</title>\
<style nonce=\"{nonce}\">{STYLE}</style></head><body>\
<h1>mcp-sync-monitor <small>{}</small></h1>\
<p><a href=\"/metrics\">/metrics</a> · <a href=\"/healthz\">/healthz</a> · \
<a href=\"/readyz\">/readyz</a> · <a href=\"/runbook\">/runbook</a> · \
<a href=\"{}\">this page as JSON</a></p>",
        env!("CARGO_PKG_VERSION"),
        escape(&format!("/api/v1/servers{}", query(filter, None))),
    );
    accounts(&mut out, &status.accounts, now);
    form(&mut out, filter);
    servers(&mut out, &status.servers, now);
    if status.omitted > 0 {
        let more = filter.limit.unwrap_or(0).saturating_mul(2).max(1000);
        let _ = write!(
            out,
            "<p id=\"omitted\">{} more servers match and are not shown (the worst come first). \
<a href=\"{}\">Show up to {more}</a>.</p>",
            status.omitted,
            escape(&format!("/{}", query(filter, Some(more)))),
        );
    }
    out.push_str("</body></html>\n");
    out
}

/// The query string of `filter`, with another limit.
fn query(filter: &Filter, limit: Option<usize>) -> String {
    let mut parts = Vec::new();
    if let Some(a) = &filter.account {
        parts.push(format!("account={}", query_escape(a)));
    }
    if let Some(q) = filter.q.as_deref().filter(|q| !q.is_empty()) {
        parts.push(format!("q={}", query_escape(q)));
    }
    if filter.problems {
        parts.push("problems=1".into());
    }
    if let Some(l) = limit {
        parts.push(format!("limit={l}"));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}

fn accounts(out: &mut String, rows: &[AccountRow], now: SystemTime) {
    out.push_str(
        "<h2>Accounts</h2><table id=\"accounts\"><tr><th>Account</th><th>Listing</th>\
<th>Last complete listing</th><th>Servers</th><th>Stale</th><th>Blocked</th><th>Failing</th>\
<th>Requests left (Ratelimit)</th><th>Next cycle</th></tr>",
    );
    for a in rows {
        let blocked: Vec<String> = a.blocked.iter().map(|(r, n)| format!("{n} {r}")).collect();
        let listing = match &a.error {
            Some(e) if a.listing == "down" => format!("down: {}", escape(e)),
            _ => a.listing.to_owned(),
        };
        let _ = write!(
            out,
            "<tr><td><code>{}</code></td><td>{listing}</td><td>{}</td><td>{}</td><td>{}</td>\
<td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&a.id),
            a.last_complete_listing
                .as_deref()
                .map_or_else(|| "never".into(), |t| when(t, now)),
            a.servers,
            a.stale,
            blocked.join(", "),
            a.failing,
            a.ratelimit_remaining
                .map_or_else(|| "unknown".into(), |r| r.to_string()),
            a.next_cycle
                .as_deref()
                .map_or_else(|| "—".into(), |t| when(t, now)),
        );
    }
    out.push_str("</table>");
}

fn form(out: &mut String, filter: &Filter) {
    let _ = write!(
        out,
        "<form method=\"get\" action=\"/\"><label>Search id, name or hostname \
<input name=\"q\" value=\"{}\"></label> <label><input type=\"checkbox\" name=\"problems\" \
value=\"1\"{}> problems only</label>{} <button>Filter</button></form>",
        escape(filter.q.as_deref().unwrap_or("")),
        if filter.problems { " checked" } else { "" },
        filter
            .account
            .as_deref()
            .map_or_else(String::new, |a| format!(
                "<input type=\"hidden\" name=\"account\" value=\"{}\">",
                escape(a)
            )),
    );
}

fn servers(out: &mut String, rows: &[ServerRow], now: SystemTime) {
    out.push_str(
        "<h2>Servers, worst first</h2><table id=\"servers\"><tr><th>Health</th><th>Server</th>\
<th>Cloudflare status</th><th>Authentication</th><th>Last successful sync (Cloudflare)</th>\
<th>Last sync (daemon)</th><th>Failures in a row</th><th>Next</th><th>Tools</th>\
<th>Prompts</th><th>Capabilities changed</th><th>Drift from pins</th>\
<th>Suspicious definitions</th></tr>",
    );
    for r in rows {
        let class = match r.health {
            Health::Failing => "failing",
            Health::NeedsPerson => "needs_person",
            Health::Stale => "stale",
            Health::Fresh => "fresh",
        };
        let last = r.last_sync.as_ref().map_or_else(
            || "—".to_owned(),
            |l| {
                let error = l
                    .error
                    .as_deref()
                    .map_or_else(String::new, |e| format!("<br><small>{}</small>", escape(e)));
                format!("{} {}{error}", escape(l.outcome), when(&l.at, now))
            },
        );
        let cf_error = r.error.as_deref().map_or_else(String::new, |e| {
            format!("<br><small class=\"cause\">{}</small>", escape(e))
        });
        let next_at = r
            .next
            .at
            .as_deref()
            .map_or_else(String::new, |t| format!(" {}", when(t, now)));
        let opt = |v: Option<u32>| v.map_or_else(|| "—".into(), |n| n.to_string());
        let _ = write!(
            out,
            "<tr class=\"{class}\" data-id=\"{}\"><td>{}</td><td><code>{}</code><br>{}<br>\
<small>{}</small></td><td>{}{cf_error}</td><td>{}</td><td>{}</td><td>{last}</td><td>{}</td>\
<td><b>{}</b>{next_at}<br><small>{}</small></td><td>{}</td><td>{}</td><td>{}</td>\
<td class=\"drift\">{}</td><td class=\"suspicious\">{}</td></tr>",
            escape(&r.id),
            r.health.as_str(),
            escape(&r.id),
            escape(&r.name),
            escape(&r.hostname),
            escape(r.status.as_deref().unwrap_or("—")),
            escape(r.authentication_status.as_deref().unwrap_or("—")),
            r.last_successful_sync
                .as_deref()
                .map_or_else(|| "never".into(), |t| when(t, now)),
            r.consecutive_failures,
            r.next.action,
            escape(&r.next.why),
            opt(r.tools),
            opt(r.prompts),
            r.capabilities_changed_at
                .as_deref()
                .map_or_else(|| "—".into(), |t| when(t, now)),
            drift(r),
            suspicious(r),
        );
    }
    out.push_str("</table>");
}

/// The drift cell: "—" without pins, "none", or the counts that are not zero.
pub fn drift(r: &ServerRow) -> String {
    let Some(d) = r.drift else {
        return "—".into();
    };
    let parts: Vec<String> = [
        ("added", d.added),
        ("changed", d.changed),
        ("removed", d.removed),
    ]
    .iter()
    .filter(|(_, n)| *n > 0)
    .map(|(k, n)| format!("{n} {k}"))
    .collect();
    if parts.is_empty() {
        "none".into()
    } else {
        parts.join(", ")
    }
}

/// The suspicious cell: "none", or the counts of the rules broken.
pub fn suspicious(r: &ServerRow) -> String {
    let parts: Vec<String> = r
        .suspicious
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(k, n)| format!("{n} {k}"))
        .collect();
    if parts.is_empty() {
        "none".into()
    } else {
        parts.join(", ")
    }
}
