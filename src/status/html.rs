//! The status page: the rows of [`super::status`] as one HTML page, rendered by the daemon
//! with no external assets and no script (it refreshes itself with a `<meta>` tag), so it
//! reads the same in any browser, a terminal browser or `curl`. It is a `maud` template,
//! which escapes every value it writes unless told otherwise (nothing here tells it
//! otherwise), so text that came from the API or an upstream server cannot become markup.
//! What a person could not see is shown: control characters as `U+FFFD`, invisible and
//! bidirectional ones as `[U+202E]` ([`Shown`]). The page's one inline style carries the
//! nonce its `Content-Security-Policy` names.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use maud::{html, Markup, PreEscaped, Render, DOCTYPE};

use super::{AccountRow, Filter, Health, ServerRow, Status};

/// Text shown as a person should see it: control characters replaced, invisible and
/// bidirectional ones spelled out; maud escapes the result.
pub(super) struct Shown<'a>(pub(super) &'a str);

impl Render for Shown<'_> {
    fn render_to(&self, buffer: &mut String) {
        let mut out = maud::Escaper::new(buffer);
        for c in self.0.chars() {
            let _ = match c {
                c if c.is_control() => out.write_char('\u{fffd}'),
                c if crate::definitions::hidden(c).is_some() => {
                    write!(out, "[U+{:04X}]", c as u32)
                }
                c => out.write_char(c),
            };
        }
    }
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
        return rfc.to_owned();
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

/// When the next cycle starts, for a person: a time in the past means the cycle is due or
/// running, never "0s ago".
pub(super) fn next_cycle(at: Option<&str>, now: SystemTime) -> String {
    match at.map(|t| (t, humantime::parse_rfc3339(t))) {
        None => "—".into(),
        Some((_, Ok(t))) if t <= now => "due now (or running)".into(),
        Some((t, _)) => when(t, now),
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
    let more = filter.limit.unwrap_or(0).saturating_mul(2).max(1000);
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta http-equiv="refresh" content="30";
                title { "mcp-sync-monitor" }
                style nonce=(nonce) { (PreEscaped(STYLE)) }
            }
            body {
                h1 { "mcp-sync-monitor " small { (env!("CARGO_PKG_VERSION")) } }
                p {
                    a href="/metrics" { "/metrics" } " · "
                    a href="/healthz" { "/healthz" } " · "
                    a href="/readyz" { "/readyz" } " · "
                    a href="/runbook" { "/runbook" } " · "
                    a href={ "/api/v1/servers" (query(filter, None)) } { "this page as JSON" } " · "
                    a href={ "/api/v1/portals" (query(filter, None)) } { "its portals as JSON" }
                }
                (accounts(&status.accounts, now))
                (form(filter))
                @if !status.portals.portals.is_empty() || status.portals.listings.values().any(|l| *l != "off") {
                    (portals(&status.portals))
                }
                (servers(&status.servers, now))
                @if status.omitted > 0 {
                    p id="omitted" {
                        (status.omitted) " more servers match and are not shown (the worst come first). "
                        a href={ "/" (query(filter, Some(more))) } { "Show up to " (more) } "."
                    }
                }
            }
        }
    };
    let mut out = page.into_string();
    out.push('\n');
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

fn accounts(rows: &[AccountRow], now: SystemTime) -> Markup {
    html! {
        h2 { "Accounts" }
        table id="accounts" {
            tr {
                th { "Account" } th { "Listing" } th { "Last complete listing" } th { "Servers" }
                th { "Stale" } th { "Blocked" } th { "Failing" }
                th { "Requests left (Ratelimit)" } th { "Next cycle" }
            }
            @for a in rows {
                @let blocked: Vec<String> = a.blocked.iter().map(|(r, n)| format!("{n} {r}")).collect();
                tr {
                    td { code { (Shown(&a.id)) } }
                    td {
                        @match &a.error {
                            Some(e) if a.listing == "down" => { "down: " (Shown(e)) }
                            _ => { (a.listing) }
                        }
                    }
                    td { (a.last_complete_listing.as_deref().map_or_else(|| "never".into(), |t| when(t, now))) }
                    td { (a.servers) }
                    td { (a.stale) }
                    td { (blocked.join(", ")) }
                    td { (a.failing) }
                    td { (a.ratelimit_remaining.map_or_else(|| "unknown".into(), |r| r.to_string())) }
                    td { (next_cycle(a.next_cycle.as_deref(), now)) }
                }
            }
        }
    }
}

fn portals(p: &super::portals::Portals) -> Markup {
    let down: Vec<&str> = p
        .listings
        .iter()
        .filter(|(_, l)| **l == "down")
        .map(|(a, _)| a.as_str())
        .collect();
    html! {
        h2 { "Portals, worst first" }
        @if !down.is_empty() {
            p class="failing" { "The last portal listing failed for " (Shown(&down.join(", "))) "; the last membership is shown." }
        }
        table id="portals" {
            tr {
                th { "Portal" } th { "Hostname" } th { "Servers by health" }
                th { "Unusable of enabled" } th { "Worst server" }
            }
            @for r in &p.portals {
                @let class = ["failing", "needs_person", "fresh"][r.state as usize];
                tr class=(class) data-id=(Shown(&r.id)) {
                    td { b { (r.state.as_str()) } " " (Shown(&r.name)) br; small { code { (Shown(&r.id)) } } }
                    td { (Shown(&r.hostname)) }
                    td { (r.counts()) }
                    td { (r.unusable) " of " (r.enabled) }
                    td {
                        @if let Some((id, h)) = &r.worst { code { (Shown(id)) } " " (h) } @else { "—" }
                    }
                }
            }
        }
        @if p.omitted > 0 {
            p { (p.omitted) " more portals match and are not shown." }
        }
    }
}

fn form(filter: &Filter) -> Markup {
    html! {
        form method="get" action="/" {
            label { "Search id, name or hostname " input name="q" value=(Shown(filter.q.as_deref().unwrap_or(""))); }
            " "
            label { input type="checkbox" name="problems" value="1" checked[filter.problems]; " problems only" }
            @if let Some(a) = &filter.account {
                input type="hidden" name="account" value=(Shown(a));
            }
            " "
            button { "Filter" }
        }
    }
}

fn servers(rows: &[ServerRow], now: SystemTime) -> Markup {
    let opt = |v: Option<u32>| v.map_or_else(|| "—".into(), |n| n.to_string());
    let ago = |t: Option<&str>, none: &str| t.map_or_else(|| none.to_owned(), |t| when(t, now));
    html! {
        h2 { "Servers, worst first" }
        table id="servers" {
            tr {
                th { "Health" } th { "Server" } th { "Cloudflare status" } th { "Authentication" }
                th { "Last successful sync (Cloudflare)" } th { "Last sync (daemon)" }
                th { "Failures in a row" } th { "Next" } th { "Tools" } th { "Prompts" }
                th { "Capabilities changed" } th { "Drift from pins" } th { "Suspicious definitions" }
                th { "Portals" }
            }
            @for r in rows {
                tr class=(class(r.health)) data-id=(Shown(&r.id)) {
                    td { (r.health.as_str()) }
                    td { code { (Shown(&r.id)) } br; (Shown(&r.name)) br; small { (Shown(&r.hostname)) } }
                    td {
                        (Shown(r.status.as_deref().unwrap_or("—")))
                        @if let Some(e) = &r.error { br; small class="cause" { (Shown(e)) } }
                    }
                    td { (Shown(r.authentication_status.as_deref().unwrap_or("—"))) }
                    td { (ago(r.last_successful_sync.as_deref(), "never")) }
                    td {
                        @match &r.last_sync {
                            None => { "—" }
                            Some(l) => {
                                (Shown(l.outcome)) " " (when(&l.at, now))
                                @if let Some(e) = &l.error { br; small { (Shown(e)) } }
                            }
                        }
                    }
                    td { (r.consecutive_failures) }
                    td {
                        b { (r.next.action) }
                        @if let Some(t) = &r.next.at { " " (when(t, now)) }
                        br; small { (Shown(&r.next.why)) }
                    }
                    td { (opt(r.tools)) }
                    td { (opt(r.prompts)) }
                    td { (ago(r.capabilities_changed_at.as_deref(), "—")) }
                    td class="drift" { (drift(r)) }
                    td class="suspicious" { (suspicious(r)) }
                    td class="portals" { (Shown(&r.portals.join(", "))) }
                }
            }
        }
    }
}

fn class(h: Health) -> &'static str {
    match h {
        Health::Failing => "failing",
        Health::NeedsPerson => "needs_person",
        Health::Stale => "stale",
        Health::Fresh => "fresh",
    }
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
