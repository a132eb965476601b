#!/usr/bin/env bash
# Writes what the kustomization's Secrets are made from, into deploy/kubernetes/secrets/
# (git-ignored), for an operator without their own PKI:
#   api-token        the Cloudflare API token, from $CLOUDFLARE_API_TOKEN
#   ca.crt           a CA made here (give it to Prometheus: the ServiceMonitor reads it)
#   tls.crt, tls.key the daemon's certificate for the Service's DNS names, signed by it
#   scrape-password  a random password for Prometheus's basic auth (and the probes)
#   web-config.yml   the web configuration: TLS from the mounted Secret, the bcrypt hash
# Also used for docker-compose.tls.yml (the certificate names the compose service too).
# Existing files are kept (run it again to fill in what is missing). With cert-manager or your
# own CA, write ca.crt/tls.crt/tls.key yourself first. Needs openssl and htpasswd
# (apache2-utils).
set -euo pipefail
dir="${1:-$(dirname "$0")/secrets}"
namespace="${NAMESPACE:-mcp-sync-monitor}"
mkdir -p "$dir"
chmod 700 "$dir"
cd "$dir"
umask 077

if [ ! -s api-token ]; then
  if [ -n "${CLOUDFLARE_API_TOKEN:-}" ]; then
    printf %s "$CLOUDFLARE_API_TOKEN" >api-token
  else
    echo "note: CLOUDFLARE_API_TOKEN is not set; write $dir/api-token yourself (the demo needs none)" >&2
  fi
fi

if [ ! -s tls.crt ] || [ ! -s tls.key ] || [ ! -s ca.crt ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
    -subj "/CN=mcp-sync-monitor CA" -keyout ca.key -out ca.crt 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -subj "/CN=mcp-sync-monitor" -keyout tls.key -out tls.csr 2>/dev/null
  sans="DNS:mcp-sync-monitor,DNS:mcp-sync-monitor.$namespace,DNS:mcp-sync-monitor.$namespace.svc,DNS:localhost,IP:127.0.0.1"
  openssl x509 -req -in tls.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 825 \
    -extfile <(printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "$sans") \
    -out tls.crt 2>/dev/null
  rm -f tls.csr ca.srl
  echo "made a CA (ca.key: keep it safe or delete it) and a certificate for $sans"
fi

if [ ! -s scrape-password ]; then
  openssl rand -hex 24 | tr -d '\n' >scrape-password
fi

if [ ! -s web-config.yml ]; then
  hash=$(htpasswd -niBC 10 prometheus <scrape-password | cut -d: -f2-)
  cat >web-config.yml <<YAML
# The exporter-toolkit web configuration of mcp-sync-monitor (see config/web-config.yml).
tls_server_config:
  cert_file: /var/run/secrets/mcp-sync-monitor/tls/tls.crt
  key_file: /var/run/secrets/mcp-sync-monitor/tls/tls.key
http_server_config:
  headers:
    X-Content-Type-Options: nosniff
    X-Frame-Options: deny
basic_auth_users:
  prometheus: $hash
YAML
fi
echo "secrets in $dir: $(ls | tr '\n' ' ')"
