#!/usr/bin/env bash
# The container image, built from the shipped Dockerfile and run for real with podman.
#
# No registry is reachable here, so the two base images the Dockerfile pulls are replaced,
# through its own build arguments, by stand-ins built from this machine's files:
#   RUNTIME_IMAGE  a stand-in for distroless/cc-debian12:nonroot with what it promises:
#                  glibc, libgcc, CA certificates, the nonroot user 65532, no shell;
#   BINARY_FROM    an image holding the host's `cargo build --release` binary at /out, in place
#                  of the Rust build stage.
# The runtime stage under test (user, HEALTHCHECK, entrypoint, labels) is the shipped one.
#
# Asserts: uid 65532; works with a read-only root filesystem; no shell in the image; the
# image's HEALTHCHECK reports healthy; `demo` serves /metrics to the host; SIGTERM stops it
# with exit 0 within 10 s; a configuration mounted as a file and a token as a _FILE secret
# work. Prints the image size. Needs root, podman, buildah and runc (scripts/test.sh installs
# them).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '  image-test: %s\n' "$*"; }
fail() { printf '  image-test: FAILED: %s\n' "$*" >&2; exit 1; }

work=$(mktemp -d)
# podman on this kind of machine: vfs storage, runc, no default ulimits (see the README).
cat >"$work/containers.conf" <<'EOF'
[containers]
default_ulimits = []
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
cat >"$work/storage.conf" <<'EOF'
[storage]
driver = "vfs"
runroot = "/run/mcp-sync-monitor-image-test"
graphroot = "/var/tmp/mcp-sync-monitor-image-test"
EOF
export CONTAINERS_CONF="$work/containers.conf" CONTAINERS_STORAGE_CONF="$work/storage.conf"
export BUILDAH_FORMAT=docker # the OCI format drops HEALTHCHECK

names=()
cleanup() {
  for n in "${names[@]}"; do podman rm -f -t 0 "$n" >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_http() { # url, seconds
  for _ in $(seq 1 $(($2 * 5))); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.2
  done
  return 1
}

say "release binary"
cargo build --release --locked --bin mcp-sync-monitor
bin=target/release/mcp-sync-monitor

say "stand-in for distroless/cc-debian12:nonroot from this machine's files"
root="$work/standin/rootfs"
mkdir -p "$root/etc/ssl/certs" "$root/home/nonroot" "$root/tmp"
chmod 1777 "$root/tmp"
chown 65532:65532 "$root/home/nonroot"
# glibc and libgcc exactly as the binary links them (ldd), plus the loader.
for lib in $(ldd "$bin" | grep -o '/[^ ]*'); do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done
cp -L /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$root/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' >"$root/etc/group"
printf 'hosts: files dns\n' >"$root/etc/nsswitch.conf"
printf 'FROM scratch\nCOPY rootfs/ /\nUSER 65532:65532\n' >"$work/standin/Containerfile"
buildah bud --quiet -t localhost/standin/distroless-cc-debian12:nonroot "$work/standin" >/dev/null

say "stand-in for the Rust build stage: the host's release binary at /out"
mkdir -p "$work/binary"
cp "$bin" "$work/binary/mcp-sync-monitor"
printf 'FROM scratch\nCOPY mcp-sync-monitor /out/mcp-sync-monitor\n' >"$work/binary/Containerfile"
buildah bud --quiet -t localhost/standin/mcp-sync-monitor-binary:latest "$work/binary" >/dev/null

say "the shipped Dockerfile"
image=localhost/mcp-sync-monitor:image-test
buildah bud --quiet \
  --build-arg RUNTIME_IMAGE=localhost/standin/distroless-cc-debian12:nonroot \
  --build-arg BINARY_FROM=localhost/standin/mcp-sync-monitor-binary:latest \
  -t "$image" -f Dockerfile . >/dev/null
size=$(podman image inspect -f '{{.Size}}' "$image")
say "image size: $size bytes ($((size / 1024 / 1024)) MiB; binary $(($(stat -c %s "$bin") / 1024 / 1024)) MiB)"
[ "$(podman image inspect -f '{{.Config.User}}' "$image")" = "65532:65532" ] || fail "image user is not 65532:65532"
[ -n "$(podman image inspect -f '{{.Config.Healthcheck}}' "$image")" ] || fail "no HEALTHCHECK in the image"

say "no shell in the image"
names+=(mcp-image-files)
podman create --name mcp-image-files "$image" >/dev/null
files=$(podman export mcp-image-files | tar -t)
for sh in bin/sh bin/bash bin/dash bin/ash bin/busybox usr/bin/sh usr/bin/bash; do
  if grep -qx "$sh" <<<"$files"; then fail "$sh is in the image"; fi
done
if podman run --rm --network host --entrypoint /bin/sh "$image" -c true >/dev/null 2>&1; then
  fail "/bin/sh ran in the image"
fi
say "files: $(wc -l <<<"$files"), none of them a shell"

say "demo, read-only root filesystem, host network"
port=$(free_port)
names+=(mcp-image-demo)
podman run -d --name mcp-image-demo --network host --read-only \
  -e MCP_SYNC_LISTEN="127.0.0.1:$port" "$image" demo >/dev/null
wait_http "http://127.0.0.1:$port/readyz" 60 || { podman logs mcp-image-demo; fail "demo never became ready"; }
metrics=$(curl -fsS "http://127.0.0.1:$port/metrics")
grep -q '^cloudflare_mcp_servers{account_id="023e105f4ecef8ad9ca31a8372d0c353"} 300$' <<<"$metrics" \
  || fail "the demo's /metrics does not list 300 servers"
say "/metrics served to the host: $(grep -c '^cloudflare_mcp_' <<<"$metrics") samples"
[ "$(podman inspect -f '{{.HostConfig.ReadonlyRootfs}}' mcp-image-demo)" = true ] || fail "root filesystem not read-only"

pid=$(podman inspect -f '{{.State.Pid}}' mcp-image-demo)
uid=$(awk '/^Uid:/ {print $2}' "/proc/$pid/status")
[ "$uid" = 65532 ] || fail "the process runs as uid $uid"
say "process runs as uid $uid"

podman healthcheck run mcp-image-demo >/dev/null || fail "the image's HEALTHCHECK did not pass"
[ "$(podman inspect -f '{{.State.Health.Status}}' mcp-image-demo)" = healthy ] || fail "health is not 'healthy'"
say "HEALTHCHECK: healthy"

say "a configuration file and a _FILE token, against the demo's simulated API"
api=$(podman logs mcp-image-demo 2>/dev/null | sed -n 's/.*simulated MCP servers at \([^ ]*\).*/\1/p' | head -n 1)
[ -n "$api" ] || fail "the demo did not print its API's address"
port2=$(free_port)
mkdir -p "$work/mounts"
cat >"$work/mounts/config.toml" <<EOF
listen = "127.0.0.1:$port2"
interval = "5s"
[api]
base_url = "$api"
[[accounts]]
id = "023e105f4ecef8ad9ca31a8372d0c353"
api_token_env = "CF_TOKEN"
EOF
printf 'fake-token-0123456789\n' >"$work/mounts/token"
chmod 0444 "$work/mounts/config.toml" "$work/mounts/token"
names+=(mcp-image-run)
podman run -d --name mcp-image-run --network host --read-only \
  -v "$work/mounts/config.toml:/etc/mcp-sync-monitor/config.toml:ro" \
  -v "$work/mounts/token:/run/secrets/cf-token:ro" \
  -e MCP_SYNC_CONFIG=/etc/mcp-sync-monitor/config.toml \
  -e CF_TOKEN_FILE=/run/secrets/cf-token \
  "$image" >/dev/null
wait_http "http://127.0.0.1:$port2/readyz" 60 || { podman logs mcp-image-run; fail "the configured daemon never became ready"; }
m2=$(curl -fsS "http://127.0.0.1:$port2/metrics")
grep -q '^cloudflare_mcp_up{account_id="023e105f4ecef8ad9ca31a8372d0c353"} 1$' <<<"$m2" || fail "cloudflare_mcp_up is not 1"
grep -q '^cloudflare_mcp_interval_seconds 5$' <<<"$m2" || fail "the mounted configuration's interval is not in effect"
if grep -q 'fake-token' <<<"$m2$(podman logs mcp-image-run 2>&1)"; then fail "the token leaked"; fi
say "configured daemon: listed the account with the mounted config and the _FILE token"

say "SIGTERM"
for n in mcp-image-run mcp-image-demo; do
  start=$(date +%s%N)
  podman kill --signal TERM "$n" >/dev/null
  code=$(timeout 15 podman wait "$n") || fail "$n did not stop within 15 s"
  ms=$((($(date +%s%N) - start) / 1000000))
  [ "$code" = 0 ] || fail "$n exited with $code after SIGTERM"
  [ "$ms" -lt 10000 ] || fail "$n took $ms ms to stop"
  say "$n: exit $code, $ms ms after SIGTERM"
done
say "passed"
