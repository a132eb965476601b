//! The two exposition formats, written by hand into a `String`: Prometheus text 0.0.4 and
//! OpenMetrics 1.0.0. Every family of `/metrics`, the daemon's and the process's, goes
//! through these few functions, and the formats differ only in what they do: a family's
//! header (OpenMetrics names a counter family without `_total` and states a `# UNIT` where
//! the name ends in one) and the `# EOF` that ends an OpenMetrics exposition. Samples, label
//! escaping and numbers are the same bytes in both, so both carry the same series and values.

use std::fmt::Write as _;
use std::ops::{Deref, DerefMut};

use crate::state::Histogram;

/// Which exposition format a rendering is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Prometheus text 0.0.4.
    Text,
    /// OpenMetrics 1.0.0.
    OpenMetrics,
}

impl Format {
    /// The `Content-Type` of a response in this format (Prometheus 3 refuses a blank one).
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }

    /// What ends an exposition: `# EOF` in OpenMetrics, nothing in text.
    pub fn end(self) -> &'static str {
        match self {
            Format::Text => "",
            Format::OpenMetrics => "# EOF\n",
        }
    }
}

/// Text being written in a format.
pub(super) struct Out {
    text: String,
    format: Format,
}

impl Out {
    pub(super) fn new(format: Format, capacity: usize) -> Self {
        Self {
            text: String::with_capacity(capacity),
            format,
        }
    }

    /// The text written so far, leaving an empty buffer of `capacity` in its place.
    pub(super) fn take(&mut self, capacity: usize) -> String {
        std::mem::replace(&mut self.text, String::with_capacity(capacity))
    }

    pub(super) fn into_text(self) -> String {
        self.text
    }
}

impl Deref for Out {
    type Target = String;
    fn deref(&self) -> &String {
        &self.text
    }
}

impl DerefMut for Out {
    fn deref_mut(&mut self) -> &mut String {
        &mut self.text
    }
}

/// The units OpenMetrics' `# UNIT` states, when a family's name ends in one.
const UNITS: [&str; 2] = ["seconds", "bytes"];

/// `# HELP` and `# TYPE` of one family (and `# UNIT` in OpenMetrics).
pub(super) fn header(out: &mut Out, name: &str, kind: &str, help: &str) {
    match out.format {
        Format::Text => {
            let _ = write!(out.text, "# HELP {name} {help}\n# TYPE {name} {kind}\n");
        }
        Format::OpenMetrics => {
            let family = match kind {
                "counter" => name.strip_suffix("_total").unwrap_or(name),
                _ => name,
            };
            let _ = write!(out.text, "# HELP {family} ");
            escape(&mut out.text, help);
            let _ = write!(out.text, "\n# TYPE {family} {kind}\n");
            if let Some(unit) = UNITS.iter().find(|u| {
                family
                    .strip_suffix(*u)
                    .is_some_and(|rest| rest.ends_with('_'))
            }) {
                let _ = writeln!(out.text, "# UNIT {family} {unit}");
            }
        }
    }
}

/// Escapes `value` as both formats read a label value, and OpenMetrics a help text:
/// `\\`, `\"`, `\n`.
fn escape(out: &mut String, value: &str) {
    if !value.bytes().any(|b| matches!(b, b'\\' | b'"' | b'\n')) {
        out.push_str(value);
        return;
    }
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// `name="value"` with the exposition format's escaping.
pub(super) fn label(out: &mut String, name: &str, value: &str) {
    out.push_str(name);
    out.push_str("=\"");
    escape(out, value);
    out.push('"');
}

/// Labels from pairs, escaped: `a="x",b="y"` (empty for none).
pub(super) fn labels(pairs: &[(&str, &str)]) -> String {
    let mut s = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        label(&mut s, k, v);
    }
    s
}

/// A sample value: integers without a fraction, `NaN`, `+Inf`, `-Inf`.
pub(super) fn number(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        out.push_str(itoa::Buffer::new().format(v as i64));
    } else {
        out.push_str(ryu::Buffer::new().format_finite(v));
    }
}

/// One sample line: `name{labels} value` (no braces without labels; `extra` is a further,
/// already escaped label such as `le="1"`).
pub(super) fn sample(out: &mut String, name: &str, labels: &str, extra: &str, v: f64) {
    out.push_str(name);
    if !labels.is_empty() || !extra.is_empty() {
        out.push('{');
        out.push_str(labels);
        if !labels.is_empty() && !extra.is_empty() {
            out.push(',');
        }
        out.push_str(extra);
        out.push('}');
    }
    out.push(' ');
    number(out, v);
    out.push('\n');
}

/// A family of plain samples (gauge or counter); nothing at all without a sample, so an
/// unknown value is a missing series, never a fake 0.
pub(super) fn family(
    out: &mut Out,
    name: &str,
    kind: &str,
    help: &str,
    samples: impl IntoIterator<Item = (String, f64)>,
) {
    let mut samples = samples.into_iter().peekable();
    if samples.peek().is_none() {
        return;
    }
    header(out, name, kind, help);
    for (l, v) in samples {
        sample(out, name, &l, "", v);
    }
}

/// A histogram family: cumulative buckets, `+Inf`, `_sum`, `_count` per label set.
pub(super) fn histograms<'a>(
    out: &mut Out,
    name: &str,
    help: &str,
    series: impl IntoIterator<Item = (String, &'a Histogram)>,
) {
    let mut series = series.into_iter().peekable();
    if series.peek().is_none() {
        return;
    }
    header(out, name, "histogram", help);
    let (bucket, sum, count) = (
        format!("{name}_bucket"),
        format!("{name}_sum"),
        format!("{name}_count"),
    );
    for (l, h) in series {
        let mut cumulative = 0;
        for (bound, n) in h.bounds.iter().zip(&h.counts) {
            cumulative += n;
            let mut le = String::from("le=\"");
            number(&mut le, *bound);
            le.push('"');
            sample(out, &bucket, &l, &le, cumulative as f64);
        }
        sample(out, &bucket, &l, "le=\"+Inf\"", h.count as f64);
        sample(out, &sum, &l, "", h.sum);
        sample(out, &count, &l, "", h.count as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_escaped_and_numbers_formatted_as_prometheus_reads_them() {
        assert_eq!(
            labels(&[("a", "x\"y\\z\nw"), ("b", "")]),
            "a=\"x\\\"y\\\\z\\nw\",b=\"\""
        );
        let mut s = String::new();
        for v in [1.0, 0.005, 1e20, f64::NAN, f64::INFINITY, -3.0] {
            number(&mut s, v);
            s.push(' ');
        }
        assert_eq!(s, "1 0.005 1e20 NaN +Inf -3 ");
    }

    #[test]
    fn a_histogram_has_cumulative_buckets_inf_sum_and_count() {
        let mut h = Histogram::new(&[0.1, 1.0]);
        for v in [0.05, 0.5, 0.7, 3.0] {
            h.observe(v);
        }
        let mut out = Out::new(Format::Text, 0);
        histograms(&mut out, "d", "help", [(labels(&[("e", "x")]), &h)]);
        assert_eq!(
            *out,
            "# HELP d help\n# TYPE d histogram\n\
             d_bucket{e=\"x\",le=\"0.1\"} 1\nd_bucket{e=\"x\",le=\"1\"} 3\n\
             d_bucket{e=\"x\",le=\"+Inf\"} 4\nd_sum{e=\"x\"} 4.25\nd_count{e=\"x\"} 4\n"
        );
        let mut none = Out::new(Format::OpenMetrics, 0);
        family(&mut none, "g", "gauge", "h", std::iter::empty());
        assert!(none.is_empty(), "no sample, no family");
    }

    #[test]
    fn openmetrics_names_counter_families_without_total_and_states_units() {
        let mut out = Out::new(Format::OpenMetrics, 0);
        let one = || [(String::new(), 1.0)];
        family(&mut out, "a_seconds_total", "counter", "x \"y\"", one());
        family(&mut out, "b_timestamp_seconds", "gauge", "h", one());
        family(&mut out, "c_bytes", "gauge", "h", one());
        family(&mut out, "d_fds", "gauge", "h", one());
        family(&mut out, "nonseconds", "gauge", "h", one());
        assert_eq!(
            *out,
            "# HELP a_seconds x \\\"y\\\"\n# TYPE a_seconds counter\n# UNIT a_seconds seconds\na_seconds_total 1\n\
             # HELP b_timestamp_seconds h\n# TYPE b_timestamp_seconds gauge\n# UNIT b_timestamp_seconds seconds\nb_timestamp_seconds 1\n\
             # HELP c_bytes h\n# TYPE c_bytes gauge\n# UNIT c_bytes bytes\nc_bytes 1\n\
             # HELP d_fds h\n# TYPE d_fds gauge\nd_fds 1\n\
             # HELP nonseconds h\n# TYPE nonseconds gauge\nnonseconds 1\n"
        );
        let mut text = Out::new(Format::Text, 0);
        family(&mut text, "a_seconds_total", "counter", "h", one());
        assert_eq!(
            *text,
            "# HELP a_seconds_total h\n# TYPE a_seconds_total counter\na_seconds_total 1\n"
        );
    }
}
