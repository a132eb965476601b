#!/usr/bin/env bash
# Builds the container image and checks it where a Docker engine is available:
# the HEALTHCHECK turns healthy, /metrics is served in demo mode, the process is not root.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! docker info >/dev/null 2>&1; then
  echo "docker-smoke: no Docker engine here (docker info failed); skipped"
  exit 0
fi
tag=mcp-sync-monitor:smoke
name=mcp-sync-monitor-smoke-$$
docker build -t "$tag" .
trap 'docker rm -f "$name" >/dev/null 2>&1 || true' EXIT
docker run -d --name "$name" -p 127.0.0.1::9878 "$tag" demo >/dev/null
port=$(docker port "$name" 9878/tcp | head -n 1 | sed 's/.*://')
for _ in $(seq 1 60); do
  health=$(docker inspect -f '{{.State.Health.Status}}' "$name")
  [ "$health" = healthy ] && break
  sleep 2
done
echo "health: $health"
[ "$health" = healthy ]
curl -fsS "http://127.0.0.1:$port/metrics" | grep -E '^cloudflare_mcp_servers\{' 
user=$(docker inspect -f '{{.Config.User}}' "$tag")
echo "user: $user"
[ "$user" != "" ] && [ "$user" != "root" ] && [ "$user" != "0" ] && [ "${user%%:*}" != "0" ]
echo "docker-smoke: passed"
