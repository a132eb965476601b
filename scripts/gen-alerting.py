#!/usr/bin/env python3
"""Everything alerting is generated from the one rule file, dashboards/alerts.yaml.

    python3 scripts/gen-alerting.py                      # regenerate the files below
    python3 scripts/gen-alerting.py --check              # exit 1 if any is out of date (CI)
    python3 scripts/gen-alerting.py --runbook-base URL   # point every runbook_url at URL

Writes:
  deploy/kubernetes/prometheusrule.yaml   the Prometheus Operator's PrometheusRule
  dashboards/grafana-alert-rules.yaml     the same alerts as Grafana-managed alert rules, in
                                          Grafana's file-provisioning format

--runbook-base rewrites the base of every runbook_url in the rule file and its promtool tests
(one base for every alert; the default is the runbook the daemon itself serves at /runbook).
--check also checks that every alert links to a section of docs/runbook.md under one base.
"""
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "dashboards/alerts.yaml"
RULE_TESTS = ROOT / "tests/rules/alerts_test.yaml"
RUNBOOK = ROOT / "docs/runbook.md"
PROMETHEUS_RULE = ROOT / "deploy/kubernetes/prometheusrule.yaml"
GRAFANA_RULES = ROOT / "dashboards/grafana-alert-rules.yaml"

HEADER = "# Generated from dashboards/alerts.yaml by scripts/gen-alerting.py: do not edit.\n"

# Grafana has no absent(): an alert that must fire when its series are missing queries them
# unfiltered, compares in a math expression, and says what "no data" means.
GRAFANA_OVERRIDES = {
    "McpSyncMonitorDown": {
        "expr": 'up{job=~".*mcp-sync-monitor.*"}',
        "condition": "$A == 0",
        "noDataState": "Alerting",
    },
}
# Annotations that need Prometheus's `query` template function, which Grafana lacks.
PROMETHEUS_ONLY_ANNOTATIONS = {"stale_servers", "servers"}


class Dumper(yaml.SafeDumper):
    """Multi-line strings (expressions) as `|` blocks, as they are written in the rule file."""


Dumper.add_representer(
    str,
    lambda d, s: d.represent_scalar("tag:yaml.org,2002:str", s, style="|" if "\n" in s else None),
)


def dump(doc):
    return yaml.dump(doc, Dumper=Dumper, sort_keys=False, width=1000, allow_unicode=True)


def alerts(rules):
    for g in rules["groups"]:
        for r in g["rules"]:
            if "alert" in r:
                yield r


def prometheus_rule(rules):
    doc = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": "mcp-sync-monitor",
            "labels": {"app.kubernetes.io/name": "mcp-sync-monitor"},
        },
        "spec": {"groups": rules["groups"]},
    }
    return HEADER + dump(doc)


def seconds(d):
    m = re.fullmatch(r"(\d+)([smh])", d)
    if not m:
        raise SystemExit(f"cannot read duration {d!r}")
    return int(m[1]) * {"s": 1, "m": 60, "h": 3600}[m[2]]


def recorded(rules):
    """The recording rules by name."""
    return {r["record"]: r["expr"].strip() for g in rules["groups"] for r in g["rules"] if "record" in r}


def inline(expr, records):
    """`expr` with every recording rule it names replaced by the rule's own expression (Grafana
    evaluates no recording rule). A name used with a selector or a range cannot be inlined."""
    while True:
        new = expr
        for name, body in records.items():
            if re.search(re.escape(name) + r"\s*[{\[]", new):
                raise SystemExit(f"{name} is used with a selector or range; Grafana cannot inline it")
            new = re.sub(re.escape(name) + r"(?![\w:])", lambda _: f"({body})", new)
        if new == expr:
            return expr
        expr = new


def grafana_rule(r, title, records):
    o = GRAFANA_OVERRIDES.get(r["alert"], {})
    expr = inline(o.get("expr", r["expr"].strip()), records)
    # Prometheus's expression is already a filter: every series it returns is firing.
    condition = o.get("condition", "is_number($A) || is_nan($A) || is_inf($A)")
    lookback = max(600, 2 * max((seconds(w) for w in re.findall(r"\[(\d+[smh])\]", expr)), default=0))
    annotations = {
        k: v.replace("$value", "$values.A.Value")
        for k, v in r.get("annotations", {}).items()
        if k not in PROMETHEUS_ONLY_ANNOTATIONS
    }
    uid = "mcp-" + re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    return {
        "uid": uid[:40],
        "title": title,
        "condition": "C",
        "data": [
            {
                "refId": "A",
                "relativeTimeRange": {"from": lookback, "to": 0},
                "datasourceUid": "${PROMETHEUS_DS_UID}",
                "model": {"refId": "A", "expr": expr, "instant": True, "range": False},
            },
            {
                "refId": "C",
                "relativeTimeRange": {"from": 0, "to": 0},
                "datasourceUid": "__expr__",
                "model": {"refId": "C", "type": "math", "expression": condition},
            },
        ],
        "noDataState": o.get("noDataState", "OK"),
        "execErrState": "Error",
        "for": r.get("for", "0s"),
        # Grafana names the alert after the rule's title, which must be unique: the warning and
        # critical twins of one Prometheus alert get two titles, so the Prometheus name is kept
        # in a label for routing and silences that match it.
        "labels": {**r.get("labels", {}), "prometheus_alertname": r["alert"]},
        "annotations": annotations,
        "isPaused": False,
    }


def grafana_rules(rules):
    names = [r["alert"] for r in alerts(rules)]
    rs = []
    for r in alerts(rules):
        title = r["alert"]
        if names.count(title) > 1:
            title = f"{title} {r['labels']['severity']}"
        rs.append(grafana_rule(r, title, recorded(rules)))
    doc = {
        "apiVersion": 1,
        "groups": [
            {
                "orgId": 1,
                "name": "mcp-sync-monitor",
                "folder": "mcp-sync-monitor",
                "interval": "1m",
                "rules": rs,
            }
        ],
    }
    return (
        HEADER
        + "# Grafana-managed alert rules (file provisioning): put this file in Grafana's\n"
        + "# provisioning/alerting/ directory and set PROMETHEUS_DS_UID in Grafana's environment to\n"
        + "# the UID of your Prometheus data source. Grafana has no inhibition: see the README.\n"
        + dump(doc)
    )


def runbook_base(rules):
    bases = {r["annotations"]["runbook_url"].split("#", 1)[0] for r in alerts(rules)}
    if len(bases) != 1:
        raise SystemExit(f"runbook_url must share one base; found {sorted(bases)}")
    return bases.pop()


def check_runbook_links(rules):
    anchors = {
        re.sub(r"[^a-z0-9_-]", "", l[3:].strip().lower().replace(" ", "-"))
        for l in RUNBOOK.read_text().splitlines()
        if l.startswith("## ")
    }
    bad = []
    for r in alerts(rules):
        url = r["annotations"].get("runbook_url", "")
        anchor = url.split("#", 1)[1] if "#" in url else ""
        if anchor != r["alert"].lower() or anchor not in anchors:
            bad.append(f"{r['alert']}: {url!r}")
    if bad:
        raise SystemExit("runbook links without a section in docs/runbook.md:\n  " + "\n  ".join(bad))


def main(argv):
    if "--runbook-base" in argv:
        new = argv[argv.index("--runbook-base") + 1].rstrip("#")
        old = runbook_base(yaml.safe_load(RULES.read_text()))
        for f in (RULES, RULE_TESTS):
            f.write_text(f.read_text().replace(old + "#", new + "#"))
        print(f"runbook base: {old} -> {new}")
    rules = yaml.safe_load(RULES.read_text())
    runbook_base(rules)
    check_runbook_links(rules)
    outputs = {PROMETHEUS_RULE: prometheus_rule(rules), GRAFANA_RULES: grafana_rules(rules)}
    stale = []
    for path, text in outputs.items():
        if "--check" in argv:
            if not path.exists() or path.read_text() != text:
                stale.append(str(path.relative_to(ROOT)))
        else:
            path.write_text(text)
            print(f"wrote {path.relative_to(ROOT)}")
    if stale:
        print(f"out of date: {', '.join(stale)}: run python3 scripts/gen-alerting.py", file=sys.stderr)
        return 1
    if "--check" in argv:
        print(f"{', '.join(str(p.relative_to(ROOT)) for p in outputs)} match dashboards/alerts.yaml; every alert links to its runbook section")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
