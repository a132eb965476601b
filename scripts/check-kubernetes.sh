#!/usr/bin/env bash
# Renders the kustomization in deploy/kubernetes as an operator would apply it and validates
# every object: the core ones with kubernetes-validate --strict (Kubernetes 1.32 schemas), the
# ServiceMonitor and PrometheusRule against the Prometheus Operator's CRD schemas
# (@kubernetes-models/prometheus-operator), the pod against the "restricted" Pod Security
# profile, and the rendered configuration with the daemon's own check-config.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '  kubernetes: %s\n' "$*"; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r deploy/kubernetes "$work/"
# The token file is git-ignored; an operator writes it before applying.
mkdir -p "$work/kubernetes/secrets"
printf 'test-token' >"$work/kubernetes/secrets/api-token"
kubectl kustomize "$work/kubernetes" >"$work/rendered.yaml"
say "kubectl kustomize: $(grep -c '^kind:' "$work/rendered.yaml") objects"

status=0
python3 -m kubernetes_validate --strict --quiet -k 1.32.0 "$work/rendered.yaml" >"$work/validate.log" 2>&1 || status=$?
# The two CRD kinds have no built-in schema; they are checked against theirs below.
problems=$(grep -v "Couldn't find schema for kind \(ServiceMonitor\|PrometheusRule\)" "$work/validate.log" || true)
if [ -n "$problems" ]; then printf '%s\n' "$problems"; say "kubernetes-validate failed (exit $status)"; exit 1; fi
say "kubernetes-validate --strict: core objects valid"

# CRD objects against the Prometheus Operator's schemas (cached under target/).
models=target/k8s-models
if [ ! -d "$models/node_modules/@kubernetes-models/prometheus-operator" ]; then
  mkdir -p "$models"
  (cd "$models" && npm install --no-save --no-audit --no-fund --silent \
    @kubernetes-models/prometheus-operator@4 js-yaml@4 >/dev/null)
fi
NODE_PATH="$PWD/$models/node_modules" node - "$work/rendered.yaml" <<'JS'
const fs = require("fs");
const yaml = require("js-yaml");
const kinds = {
  ServiceMonitor: require("@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor").ServiceMonitor,
  PrometheusRule: require("@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule").PrometheusRule,
};
let n = 0;
for (const doc of yaml.loadAll(fs.readFileSync(process.argv[2], "utf8"))) {
  const K = doc && kinds[doc.kind];
  if (!K) continue;
  new K(doc).validate(); // throws with the path of the first violation
  n++;
}
if (n !== 2) { console.error(`expected a ServiceMonitor and a PrometheusRule, validated ${n}`); process.exit(1); }
console.log(`  kubernetes: ServiceMonitor and PrometheusRule valid against the CRD schemas`);
JS

python3 - "$work/rendered.yaml" "$work/config.toml" <<'PY'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
by = {(d["kind"], d["metadata"]["name"]): d for d in docs}
fail = []
def need(cond, msg):
    if not cond: fail.append(msg)

# Pod Security Standards, "restricted" (https://kubernetes.io/docs/concepts/security/pod-security-standards/).
dep = next(d for d in docs if d["kind"] == "Deployment")
pod = dep["spec"]["template"]["spec"]
psc = pod.get("securityContext", {})
need(not any(pod.get(k) for k in ("hostNetwork", "hostPID", "hostIPC")), "host namespaces")
allowed_volumes = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"}
for v in pod.get("volumes", []):
    kinds = set(v) - {"name"}
    need(kinds <= allowed_volumes, f"volume {v['name']} of type {kinds - allowed_volumes}")
for c in pod.get("containers", []) + pod.get("initContainers", []):
    sc = c.get("securityContext", {})
    name = c["name"]
    need(not sc.get("privileged"), f"{name}: privileged")
    need(sc.get("allowPrivilegeEscalation") is False, f"{name}: allowPrivilegeEscalation must be false")
    need(sc.get("runAsNonRoot", psc.get("runAsNonRoot")) is True, f"{name}: runAsNonRoot must be true")
    need(sc.get("runAsUser", psc.get("runAsUser", 1)) != 0, f"{name}: runAsUser 0")
    prof = sc.get("seccompProfile", psc.get("seccompProfile", {})).get("type")
    need(prof in ("RuntimeDefault", "Localhost"), f"{name}: seccompProfile {prof}")
    caps = sc.get("capabilities", {})
    need("ALL" in caps.get("drop", []), f"{name}: capabilities must drop ALL")
    need(set(caps.get("add", [])) <= {"NET_BIND_SERVICE"}, f"{name}: adds {caps.get('add')}")
    need(not any(p.get("hostPort") for p in c.get("ports", [])), f"{name}: hostPort")
ns = next(d for d in docs if d["kind"] == "Namespace")
need(ns["metadata"]["labels"].get("pod-security.kubernetes.io/enforce") == "restricted", "namespace does not enforce restricted")

# What an operator relies on.
cms = [d for d in docs if d["kind"] == "ConfigMap"]
need(len(cms) == 1 and cms[0]["metadata"]["name"].startswith("mcp-sync-monitor-config-"), "the ConfigMap name carries no content hash")
vols = {v["name"]: v for v in pod["volumes"]}
need(vols["config"]["configMap"]["name"] == cms[0]["metadata"]["name"], "the pod does not mount the hashed ConfigMap (no roll on change)")
secrets = [d for d in docs if d["kind"] == "Secret"]
need(len(secrets) == 1 and secrets[0]["metadata"]["name"] == "mcp-sync-monitor-credentials", "the Secret's name is not stable (rotation would restart)")
need(secrets[0]["data"].get("api-token") == "dGVzdC10b2tlbg==", "the Secret does not hold the token file")
svc = next(d for d in docs if d["kind"] == "Service")
need(svc["spec"].get("publishNotReadyAddresses") is True, "a not-ready pod would not be scraped")
sm = next(d for d in docs if d["kind"] == "ServiceMonitor")
need(all(svc["metadata"]["labels"].get(k) == v for k, v in sm["spec"]["selector"]["matchLabels"].items()), "the ServiceMonitor does not select the Service")
need({e["port"] for e in sm["spec"]["endpoints"]} <= {p["name"] for p in svc["spec"]["ports"]}, "the ServiceMonitor names a port the Service lacks")
for kind in ("ServiceMonitor", "PrometheusRule"):
    d = next(x for x in docs if x["kind"] == kind)
    need("release" in d["metadata"]["labels"], f"{kind} has no release label for kube-prometheus-stack")
need(all(d["metadata"].get("namespace") == "mcp-sync-monitor" for d in docs if d["kind"] != "Namespace"), "an object outside the namespace")
need(any(d["kind"] == "NetworkPolicy" for d in docs), "no NetworkPolicy")
open(sys.argv[2], "w").write(cms[0]["data"]["config.toml"])
if fail:
    print("  kubernetes: FAILED:\n    " + "\n    ".join(fail)); sys.exit(1)
print("  kubernetes: pod meets the restricted Pod Security profile; config hash, stable Secret, scraped when not ready, release labels")
PY

# The configuration as the pod reads it, checked by the daemon itself.
CLOUDFLARE_API_TOKEN=test-token cargo run --release --locked -q -- check-config --config "$work/config.toml" >"$work/check.txt"
grep -c '^\[\[accounts\]\]' "$work/check.txt" | grep -qx 2 || { cat "$work/check.txt"; say "check-config did not show two accounts"; exit 1; }
say "check-config accepts the ConfigMap's config.toml (two accounts)"
