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
#[path = "../../tests/unit/metrics/encode.rs"]
mod tests;
