#!/usr/bin/env python3
"""Builds deploy/kubernetes/prometheusrule.yaml from dashboards/alerts.yaml.

With --check, exits 1 when the committed file differs from what the rule file gives
(the test command runs it so the two never drift apart).
"""
import sys
from pathlib import Path

import yaml

root = Path(__file__).resolve().parent.parent
rules = yaml.safe_load((root / "dashboards/alerts.yaml").read_text())
doc = {
    "apiVersion": "monitoring.coreos.com/v1",
    "kind": "PrometheusRule",
    "metadata": {"name": "mcp-sync-monitor", "labels": {"app.kubernetes.io/name": "mcp-sync-monitor"}},
    "spec": {"groups": rules["groups"]},
}
text = "# Generated from dashboards/alerts.yaml by scripts/gen-prometheusrule.py: do not edit.\n" + yaml.safe_dump(
    doc, sort_keys=False, width=1000
)
out = root / "deploy/kubernetes/prometheusrule.yaml"
if "--check" in sys.argv:
    if not out.exists() or out.read_text() != text:
        print(f"{out} is out of date: run python3 scripts/gen-prometheusrule.py", file=sys.stderr)
        sys.exit(1)
    print(f"{out.relative_to(root)} matches dashboards/alerts.yaml")
else:
    out.write_text(text)
    print(f"wrote {out.relative_to(root)}")
