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
# The secrets are git-ignored; an operator makes them with make-secrets.sh before applying.
rm -rf "$work/kubernetes/secrets"
CLOUDFLARE_API_TOKEN=test-token bash deploy/kubernetes/make-secrets.sh "$work/kubernetes/secrets" >/dev/null
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
secrets = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Secret"}
need(set(secrets) == {"mcp-sync-monitor-credentials", "mcp-sync-monitor-tls", "mcp-sync-monitor-web", "mcp-sync-monitor-scrape"}, f"Secret names not stable (rotation would restart): {sorted(secrets)}")
need(secrets["mcp-sync-monitor-credentials"]["data"].get("api-token") == "dGVzdC10b2tlbg==", "the Secret does not hold the token file")
svc = next(d for d in docs if d["kind"] == "Service")
need(svc["spec"].get("publishNotReadyAddresses") is True, "a not-ready pod would not be scraped")
sm = next(d for d in docs if d["kind"] == "ServiceMonitor")
need(all(svc["metadata"]["labels"].get(k) == v for k, v in sm["spec"]["selector"]["matchLabels"].items()), "the ServiceMonitor does not select the Service")
need({e["port"] for e in sm["spec"]["endpoints"]} <= {p["name"] for p in svc["spec"]["ports"]}, "the ServiceMonitor names a port the Service lacks")
for kind in ("ServiceMonitor", "PrometheusRule"):
    d = next(x for x in docs if x["kind"] == kind)
    need("release" in d["metadata"]["labels"], f"{kind} has no release label for kube-prometheus-stack")
# TLS and basic auth: the ServiceMonitor brings both, the probes too, the files are mounted.
import base64, os
def secret_ref(name, key):
    return name in secrets and key in secrets[name].get("data", {})
for e in sm["spec"]["endpoints"]:
    need(e.get("scheme") == "https", "the ServiceMonitor does not scrape over https")
    ca = e.get("tlsConfig", {}).get("ca", {}).get("secret", {})
    need(secret_ref(ca.get("name"), ca.get("key")), f"tlsConfig.ca names no existing Secret key: {ca}")
    ba = e.get("basicAuth", {})
    for part in ("username", "password"):
        ref = ba.get(part, {})
        need(secret_ref(ref.get("name"), ref.get("key")), f"basicAuth.{part} names no existing Secret key: {ref}")
c = pod["containers"][0]
env = {v["name"]: v for v in c.get("env", [])}
for probe, args in (("livenessProbe", ["healthcheck"]), ("readinessProbe", ["healthcheck", "--ready"])):
    need(c.get(probe, {}).get("exec", {}).get("command", [None])[1:] == args, f"{probe} is not `mcp-sync-monitor {' '.join(args)}`")
mounts = {m["mountPath"]: vols[m["name"]] for m in c["volumeMounts"]}
def mounted(path):
    d, f = os.path.split(path)
    v = mounts.get(d, {}).get("secret")
    if not v: return None
    items = {i["path"]: i["key"] for i in v.get("items", [])} or {k: k for k in secrets[v["secretName"]]["data"]}
    return (v["secretName"], items.get(f))
web_file = env.get("MCP_SYNC_WEB_CONFIG_FILE", {}).get("value", "")
need(mounted(web_file) == ("mcp-sync-monitor-web", "web-config.yml"), f"MCP_SYNC_WEB_CONFIG_FILE {web_file} is not the mounted web configuration")
web_cfg = yaml.safe_load(base64.b64decode(secrets["mcp-sync-monitor-web"]["data"]["web-config.yml"]))
tls = web_cfg["tls_server_config"]
need(mounted(tls["cert_file"]) == ("mcp-sync-monitor-tls", "tls.crt") and mounted(tls["key_file"]) == ("mcp-sync-monitor-tls", "tls.key"), f"the web configuration's certificate and key are not the mounted TLS Secret: {tls}")
need(mounted(env.get("MCP_SYNC_HEALTHCHECK_PASSWORD_FILE", {}).get("value", "")) == ("mcp-sync-monitor-scrape", "password"), "the probes' password file is not the scrape Secret's password")
# The files the pod would see, for the run below (paths as mounted, rebased into the work dir).
run = os.path.join(os.path.dirname(sys.argv[2]), "run")
os.makedirs(run, exist_ok=True)
for name, key in (("tls.crt", "tls.crt"), ("tls.key", "tls.key"), ("ca.crt", "ca.crt")):
    open(os.path.join(run, name), "wb").write(base64.b64decode(secrets["mcp-sync-monitor-tls"]["data"][key]))
open(os.path.join(run, "password"), "wb").write(base64.b64decode(secrets["mcp-sync-monitor-scrape"]["data"]["password"]))
tls["cert_file"], tls["key_file"] = os.path.join(run, "tls.crt"), os.path.join(run, "tls.key")
yaml.safe_dump(web_cfg, open(os.path.join(run, "web-config.yml"), "w"))
open(os.path.join(run, "server-name"), "w").write(e["tlsConfig"]["serverName"])
need(all(d["metadata"].get("namespace") == "mcp-sync-monitor" for d in docs if d["kind"] != "Namespace"), "an object outside the namespace")
need(any(d["kind"] == "NetworkPolicy" for d in docs), "no NetworkPolicy")
open(sys.argv[2], "w").write(cms[0]["data"]["config.toml"])
if fail:
    print("  kubernetes: FAILED:\n    " + "\n    ".join(fail)); sys.exit(1)
print("  kubernetes: pod meets the restricted Pod Security profile; config hash, stable Secrets, scraped when not ready, release labels; https + basicAuth scrape, exec probes, web configuration and certificate mounted")
PY

# The configuration as the pod reads it, checked by the daemon itself.
CLOUDFLARE_API_TOKEN=test-token cargo run --release --locked -q -- check-config --config "$work/config.toml" >"$work/check.txt"
grep -c '^\[\[accounts\]\]' "$work/check.txt" | grep -qx 2 || { cat "$work/check.txt"; say "check-config did not show two accounts"; exit 1; }
say "check-config accepts the ConfigMap's config.toml (two accounts)"

# The web configuration and certificate as rendered, served for real: the daemon (demo) with
# them, its exec probe as the pod runs it, and a scrape as the ServiceMonitor makes it (CA,
# server name, basic auth).
run="$work/run"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
bin=target/release/mcp-sync-monitor
MCP_SYNC_WEB_CONFIG_FILE="$run/web-config.yml" "$bin" demo --listen "127.0.0.1:$port" >"$work/demo.log" 2>&1 &
demo=$!
trap 'kill $demo 2>/dev/null; rm -rf "$work"' EXIT
probe() {
  MCP_SYNC_WEB_CONFIG_FILE="$run/web-config.yml" MCP_SYNC_HEALTHCHECK_USERNAME=prometheus \
    MCP_SYNC_HEALTHCHECK_PASSWORD_FILE="$run/password" "$bin" healthcheck --listen "127.0.0.1:$port" "$@"
}
for _ in $(seq 100); do probe --ready >/dev/null 2>&1 && break; sleep 0.1; done
probe >/dev/null || { cat "$work/demo.log"; say "the liveness probe failed against the rendered web configuration"; exit 1; }
probe --ready >/dev/null || { cat "$work/demo.log"; say "the readiness probe failed"; exit 1; }
python3 - "$run" "$port" <<'PY'
import base64, http.client, socket, ssl, sys
run, port = sys.argv[1], int(sys.argv[2])
name = open(f"{run}/server-name").read()
ctx = ssl.create_default_context(cafile=f"{run}/ca.crt")
def scrape(password):
    raw = socket.create_connection(("127.0.0.1", port), timeout=5)
    conn = http.client.HTTPSConnection(name, port, context=ctx)
    conn.sock = ctx.wrap_socket(raw, server_hostname=name)
    auth = base64.b64encode(f"prometheus:{password}".encode()).decode()
    conn.request("GET", "/metrics", headers={"Authorization": f"Basic {auth}"})
    r = conn.getresponse()
    return r.status, r.read().decode()
status, body = scrape(open(f"{run}/password").read())
assert status == 200 and "cloudflare_mcp_up" in body, (status, body[:200])
status, _ = scrape("wrong")
assert status == 401, status
print(f"  kubernetes: the rendered certificate verifies as {name} with the Secret's CA; basic auth 200 / wrong password 401")
PY
say "the rendered web configuration serves: exec probes pass (healthcheck, healthcheck --ready)"
