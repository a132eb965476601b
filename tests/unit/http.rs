use super::*;

#[test]
fn runbook_headings_are_anchors_and_text_is_escaped() {
    let html =
        runbook_html("# Title\n\n## McpSyncMonitorDown\n\nrun `a <b> & c`\n## What, then?\n");
    assert!(
        html.contains("<b id=\"mcpsyncmonitordown\">## McpSyncMonitorDown</b>"),
        "{html}"
    );
    assert!(
        html.contains("<b id=\"what-then\">## What, then?</b>"),
        "{html}"
    );
    assert!(html.contains("run `a &lt;b&gt; &amp; c`"), "{html}");
}

#[test]
fn every_alert_of_the_rule_file_has_its_section_in_the_served_runbook() {
    let rules = include_str!("../../dashboards/alerts.yaml");
    let html = runbook_html(RUNBOOK);
    let mut alerts = 0;
    for name in rules
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- alert: "))
    {
        alerts += 1;
        let id = format!("id=\"{}\"", name.trim().to_lowercase());
        assert!(html.contains(&id), "no runbook section for {name}");
    }
    assert!(alerts >= 12, "{alerts} alerts found");
}
