//! The Prometheus text exposition format (0.0.4), written by hand into a `String`: one
//! family header, samples with escaped labels, histograms. Every family of `/metrics`, the
//! daemon's and the process's, goes through these few functions.

use std::fmt::Write as _;

use crate::state::Histogram;

/// `# HELP` and `# TYPE` of one family.
pub(super) fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = write!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n");
}

/// `name="value"` with the exposition format's escaping.
pub(super) fn label(out: &mut String, name: &str, value: &str) {
    out.push_str(name);
    out.push_str("=\"");
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
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
        let _ = write!(out, "{}", v as i64);
    } else {
        let _ = write!(out, "{v}");
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
    out: &mut String,
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
    out: &mut String,
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
        assert_eq!(s, "1 0.005 100000000000000000000 NaN +Inf -3 ");
    }

    #[test]
    fn a_histogram_has_cumulative_buckets_inf_sum_and_count() {
        let mut h = Histogram::new(&[0.1, 1.0]);
        for v in [0.05, 0.5, 0.7, 3.0] {
            h.observe(v);
        }
        let mut out = String::new();
        histograms(&mut out, "d", "help", [(labels(&[("e", "x")]), &h)]);
        assert_eq!(
            out,
            "# HELP d help\n# TYPE d histogram\n\
             d_bucket{e=\"x\",le=\"0.1\"} 1\nd_bucket{e=\"x\",le=\"1\"} 3\n\
             d_bucket{e=\"x\",le=\"+Inf\"} 4\nd_sum{e=\"x\"} 4.25\nd_count{e=\"x\"} 4\n"
        );
        let mut none = String::new();
        family(&mut none, "g", "gauge", "h", std::iter::empty());
        assert!(none.is_empty(), "no sample, no family");
    }
}
