use super::*;

const PROMETHEUS_3: &str = "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";
const PROMETHEUS_2: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

#[test]
fn the_negotiation_table() {
    use Format::{OpenMetrics as Om, Text};
    let cases: &[(Option<&str>, Format)] = &[
        (Some(PROMETHEUS_3), Om),
        (Some(PROMETHEUS_2), Om),
        (Some("text/plain"), Text),
        (Some("text/plain;version=0.0.4"), Text),
        (Some("text/plain;version=1.0.0;escaping=allow-utf-8"), Text),
        (Some("*/*"), Text),
        (None, Text),
        (Some(""), Text),
        (Some("application/json"), Text),
        (Some("application/openmetrics-text"), Om),
        (Some("Application/OpenMetrics-Text; Version=\"1.0.0\""), Om),
        (Some("application/openmetrics-text;version=2.0.0"), Text),
        (Some("application/openmetrics-text;q=0,text/plain"), Text),
        (Some("application/openmetrics-text;q=0"), Text),
        (
            Some("text/plain;q=0.5,application/openmetrics-text;q=0.6"),
            Om,
        ),
        (
            Some("text/plain;q=0.7,application/openmetrics-text;q=0.6"),
            Text,
        ),
        (Some("text/plain,application/openmetrics-text"), Text),
        (Some("application/openmetrics-text,text/plain"), Om),
        (Some("text/plain;q=0,*/*"), Text),
        (Some("application/openmetrics-text;q=nonsense"), Om),
    ];
    for (accept, want) in cases {
        assert_eq!(format_from_accept(*accept), *want, "{accept:?}");
    }
}
