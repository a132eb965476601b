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
if [ "${#missing_apt[@]}" -gt 0 ]; then
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi
if ! command -v prism >/dev/null 2>&1 && [ ! -x node_modules/.bin/prism ]; then
  npm install -g --no-audit --no-fund @stoplight/prism-cli@5 >/dev/null 2>&1 \
    || npm install --no-save --no-audit --no-fund @stoplight/prism-cli@5 >/dev/null
fi
promtool --version | head -n 1
prism --version 2>/dev/null || node_modules/.bin/prism --version

say "cargo fmt --check"
cargo fmt --all -- --check

say "cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets --locked -- -D warnings

say "cargo test"
cargo test --locked --all-targets

say "all checks passed"
