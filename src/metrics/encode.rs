//! The two exposition formats, written by the Prometheus project's `prometheus-client`
//! crate: OpenMetrics 1.0.0 (`encoding::text`) and Prometheus text 0.0.4
//! (`encoding::prometheus_text`). The daemon keeps no metric model: a [`Collector`] encodes
//! straight from a published snapshot at scrape time, and the crate decides what differs
//! between the formats (a counter family's name, `# UNIT`, HELP escaping). This module
//! holds what every family shares: a family is named by its samples' name (the unit and a
//! counter's `_total` are split off for the crate), a family without a sample is not written
//! at all (an unknown value is a missing series, never a fake 0), counts are integers and
//! everything else a float, and histograms come from the state's buckets.

use std::fmt;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{
    CounterValueEncoder, DescriptorEncoder, EncodeCounterValue, EncodeGaugeValue, EncodeLabelSet,
    EncodeMetric, GaugeValueEncoder, MetricEncoder, NoLabelSet,
};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};

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
            Format::Text => prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
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

/// Encodes what `collector` writes in `format` into `out`, without what ends an exposition
/// (so that encodings can follow one another).
pub(super) fn encode(
    format: Format,
    collector: impl Collector,
    out: &mut impl fmt::Write,
) -> fmt::Result {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(collector));
    match format {
        Format::Text => prometheus_client::encoding::prometheus_text::encode(out, &registry),
        Format::OpenMetrics => prometheus_client::encoding::text::encode_registry(out, &registry),
    }
}

/// A sample's value: a count (written as an integer) or a measurement.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Num {
    Count(u64),
    Real(f64),
}

impl From<bool> for Num {
    fn from(b: bool) -> Self {
        Num::Count(u64::from(b))
    }
}

impl From<u64> for Num {
    fn from(n: u64) -> Self {
        Num::Count(n)
    }
}

impl From<u32> for Num {
    fn from(n: u32) -> Self {
        Num::Count(u64::from(n))
    }
}

impl From<usize> for Num {
    fn from(n: usize) -> Self {
        Num::Count(n as u64)
    }
}

impl From<f64> for Num {
    /// A whole number (bytes, an interval in seconds) is written as an integer, as the Go
    /// client writes it (`5`, not `5.0`); anything else as the float it is.
    fn from(v: f64) -> Self {
        if v >= 0.0 && v.fract() == 0.0 && v < 9.0e15 {
            Num::Count(v as u64)
        } else {
            Num::Real(v)
        }
    }
}

impl EncodeGaugeValue for Num {
    fn encode(&self, encoder: &mut GaugeValueEncoder) -> fmt::Result {
        match *self {
            Num::Count(n) => EncodeGaugeValue::encode(&n, encoder),
            Num::Real(v) => EncodeGaugeValue::encode(&v, encoder),
        }
    }
}

impl EncodeCounterValue for Num {
    fn encode(&self, encoder: &mut CounterValueEncoder) -> fmt::Result {
        match *self {
            Num::Count(n) => EncodeCounterValue::encode(&n, encoder),
            Num::Real(v) => EncodeCounterValue::encode(&v, encoder),
        }
    }
}

static SECONDS: Unit = Unit::Seconds;
static BYTES: Unit = Unit::Bytes;

/// What the crate is told of a family whose samples are named `name`: the name without a
/// counter's `_total` and without its unit, and the unit (`_seconds`, `_bytes`).
fn descriptor(name: &str, kind: MetricType) -> (&str, Option<&'static Unit>) {
    let family = match kind {
        MetricType::Counter => name.strip_suffix("_total").unwrap_or(name),
        _ => name,
    };
    for (suffix, unit) in [("_seconds", &SECONDS), ("_bytes", &BYTES)] {
        if let Some(base) = family.strip_suffix(suffix) {
            return (base, Some(unit));
        }
    }
    (family, None)
}

/// Writes the header of the family whose samples are named `name`.
pub(super) fn open<'a>(
    enc: &'a mut DescriptorEncoder<'_>,
    name: &'a str,
    kind: MetricType,
    help: &str,
) -> Result<MetricEncoder<'a>, fmt::Error> {
    let (base, unit) = descriptor(name, kind);
    enc.encode_descriptor(base, help, unit, kind)
}

/// One sample of an open family of `kind` (gauge or counter).
pub(super) fn sample(
    m: &mut MetricEncoder<'_>,
    kind: MetricType,
    labels: &impl EncodeLabelSet,
    v: Num,
) -> fmt::Result {
    let m = m.encode_family(labels)?;
    match kind {
        MetricType::Counter => ConstCounter::new(v).encode(m),
        _ => ConstGauge::new(v).encode(m),
    }
}

/// A family of plain samples (gauge or counter); nothing at all without a sample.
pub(super) fn family<L: EncodeLabelSet>(
    enc: &mut DescriptorEncoder<'_>,
    name: &str,
    kind: MetricType,
    help: &str,
    samples: impl IntoIterator<Item = (L, Num)>,
) -> fmt::Result {
    let mut samples = samples.into_iter().peekable();
    if samples.peek().is_none() {
        return Ok(());
    }
    let mut m = open(enc, name, kind, help)?;
    for (labels, v) in samples {
        sample(&mut m, kind, &labels, v)?;
    }
    Ok(())
}

/// A histogram family (`_sum`, `_count`, cumulative buckets up to `+Inf` per label set);
/// nothing at all without a series.
pub(super) fn histograms<'h, L: EncodeLabelSet>(
    enc: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    series: impl IntoIterator<Item = (L, &'h Histogram)>,
) -> fmt::Result {
    let mut series = series.into_iter().peekable();
    if series.peek().is_none() {
        return Ok(());
    }
    let mut m = open(enc, name, MetricType::Histogram, help)?;
    let mut buckets = Vec::new();
    for (labels, h) in series {
        buckets.clear();
        buckets.extend(h.bounds.iter().copied().zip(h.counts.iter().copied()));
        let within: u64 = h.counts.iter().sum();
        buckets.push((f64::INFINITY, h.count.saturating_sub(within)));
        m.encode_family(&labels)?
            .encode_histogram::<NoLabelSet>(h.sum, h.count, &buckets, None)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A collector of one test's families.
    struct Families(fn(&mut DescriptorEncoder<'_>) -> fmt::Result);

    impl fmt::Debug for Families {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("Families")
        }
    }

    impl Collector for Families {
        fn encode(&self, mut enc: DescriptorEncoder) -> fmt::Result {
            (self.0)(&mut enc)
        }
    }

    fn render(format: Format, f: fn(&mut DescriptorEncoder<'_>) -> fmt::Result) -> String {
        let mut out = String::new();
        encode(format, Families(f), &mut out).expect("a String takes any text");
        out
    }

    #[test]
    fn label_values_are_escaped_and_whole_numbers_written_as_integers() {
        let text = render(Format::Text, |enc| {
            let samples = [
                ([("a", "x\"y\\z\nw"), ("b", "")], Num::from(1u64)),
                ([("a", "v"), ("b", "w")], Num::from(0.005)),
                ([("a", "u"), ("b", "w")], Num::from(5.0)),
                ([("a", "t"), ("b", "w")], Num::from(-2.0)),
            ];
            family(enc, "g", MetricType::Gauge, "help", samples)
        });
        assert_eq!(
            text,
            "# HELP g help\n# TYPE g gauge\ng{a=\"x\\\"y\\\\z\\nw\",b=\"\"} 1\ng{a=\"v\",b=\"w\"} 0.005\ng{a=\"u\",b=\"w\"} 5\ng{a=\"t\",b=\"w\"} -2.0\n"
        );
    }

    #[test]
    fn a_histogram_has_cumulative_buckets_to_inf_sum_and_count() {
        let text = render(Format::Text, |enc| {
            let mut h = Histogram::new(&[0.1, 1.0]);
            for v in [0.05, 0.5, 0.7, 3.0] {
                h.observe(v);
            }
            histograms(enc, "d_seconds", "help", [([("e", "x")], &h)])
        });
        assert_eq!(
            text,
            "# HELP d_seconds help\n# TYPE d_seconds histogram\n\
             d_seconds_bucket{e=\"x\",le=\"0.1\"} 1\nd_seconds_bucket{e=\"x\",le=\"1\"} 3\n\
             d_seconds_bucket{e=\"x\",le=\"+Inf\"} 4\n\
             d_seconds_sum{e=\"x\"} 4.25\nd_seconds_count{e=\"x\"} 4\n"
        );
        let none = render(Format::OpenMetrics, |enc| {
            family(
                enc,
                "g",
                MetricType::Gauge,
                "h",
                std::iter::empty::<([(&str, &str); 0], Num)>(),
            )
        });
        assert!(none.is_empty(), "no sample, no family: {none}");
    }

    #[test]
    fn openmetrics_names_counter_families_without_total_and_states_units() {
        fn families(enc: &mut DescriptorEncoder<'_>) -> fmt::Result {
            let one = || [([("k", "v")], Num::from(1u64))];
            family(enc, "a_seconds_total", MetricType::Counter, "x", one())?;
            family(enc, "b_timestamp_seconds", MetricType::Gauge, "h", one())?;
            family(enc, "c_bytes", MetricType::Gauge, "h", one())?;
            family(enc, "d_fds", MetricType::Gauge, "h", one())
        }
        assert_eq!(
            render(Format::OpenMetrics, families),
            "# HELP a_seconds x\n# TYPE a_seconds counter\n# UNIT a_seconds seconds\na_seconds_total{k=\"v\"} 1\n\
             # HELP b_timestamp_seconds h\n# TYPE b_timestamp_seconds gauge\n# UNIT b_timestamp_seconds seconds\nb_timestamp_seconds{k=\"v\"} 1\n\
             # HELP c_bytes h\n# TYPE c_bytes gauge\n# UNIT c_bytes bytes\nc_bytes{k=\"v\"} 1\n\
             # HELP d_fds h\n# TYPE d_fds gauge\nd_fds{k=\"v\"} 1\n"
        );
        let text = render(Format::Text, families);
        assert!(
            text.starts_with(
                "# HELP a_seconds_total x\n# TYPE a_seconds_total counter\na_seconds_total{k=\"v\"} 1\n"
            ),
            "{text}"
        );
        assert!(!text.contains("# UNIT"), "{text}");
    }
}
