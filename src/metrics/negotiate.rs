//! Which exposition format a scraper asked for, from its `Accept` header, as Prometheus'
//! own `expfmt.Negotiate` decides it: the media ranges in order of their q-value (the
//! header's order among equals), the first that names a format the daemon writes decides;
//! `q=0` refuses a range. OpenMetrics is `application/openmetrics-text` of version 1.0.0,
//! 0.0.1 or none (both are answered as 1.0.0); text is `text/plain` of any version (a
//! version 1.0.0 is answered as 0.0.4, which it reads). `*/*`, no header and anything else
//! get text.

use super::Format;

/// The format to answer a scrape whose `Accept` header is `accept`.
pub fn format_from_accept(accept: Option<&str>) -> Format {
    let Some(accept) = accept else {
        return Format::Text;
    };
    let mut ranges: Vec<(f32, usize, Option<Format>)> = accept
        .split(',')
        .enumerate()
        .filter_map(|(i, range)| {
            let (format, q) = media_range(range);
            (q > 0.0).then_some((q, i, format))
        })
        .collect();
    ranges.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    ranges
        .into_iter()
        .find_map(|(_, _, format)| format)
        .unwrap_or(Format::Text)
}

/// The format one media range names (if any) and its q-value (1 when absent or unreadable).
fn media_range(range: &str) -> (Option<Format>, f32) {
    let mut parts = range.split(';').map(str::trim);
    let kind = parts.next().unwrap_or("");
    let (mut version, mut q) = (None, 1.0f32);
    for p in parts {
        let Some((k, v)) = p.split_once('=') else {
            continue;
        };
        let v = v.trim().trim_matches('"');
        if k.trim().eq_ignore_ascii_case("version") {
            version = Some(v);
        } else if k.trim().eq_ignore_ascii_case("q") {
            q = v
                .parse()
                .ok()
                .filter(|q: &f32| q.is_finite())
                .unwrap_or(1.0);
        }
    }
    let format = if kind.eq_ignore_ascii_case("application/openmetrics-text") {
        matches!(version, None | Some("1.0.0" | "0.0.1")).then_some(Format::OpenMetrics)
    } else if kind.eq_ignore_ascii_case("text/plain") {
        Some(Format::Text)
    } else {
        None
    };
    (format, q)
}

#[cfg(test)]
#[path = "../../tests/unit/metrics/negotiate.rs"]
mod tests;
