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
