#!/usr/bin/env bash
# Supply chain: every dependency against the offline RustSec advisory database
# (../shared/rustsec-advisory-db, or MCP_SYNC_ADVISORY_DB), licences against the allow-list,
# banned crates and sources, with cargo-deny (deny.toml). Then the check itself is checked:
# a copy of the database with a planted advisory against a crate we use must fail it.
set -euo pipefail
cd "$(dirname "$0")/.."

DENY_VERSION=0.20.2
# The snapshot sits beside the project (../shared); a clone elsewhere finds it beside the
# repository it was cloned from.
SNAPSHOT=${MCP_SYNC_ADVISORY_DB:-}
if [ -z "$SNAPSHOT" ]; then
  for root in .. "$(git remote get-url origin 2>/dev/null)/.."; do
    if [ -d "$root/shared/rustsec-advisory-db/crates" ]; then
      SNAPSHOT="$root/shared/rustsec-advisory-db"
      break
    fi
  done
fi
# cargo-deny keeps the database of https://github.com/rustsec/advisory-db in this folder.
DB_DIR=advisory-db-3157b0e258782691

if ! cargo deny --version 2>/dev/null | grep -q " $DENY_VERSION"; then
  cargo install --locked "cargo-deny@$DENY_VERSION"
fi
[ -d "${SNAPSHOT:-}/crates" ] || { echo "no RustSec database: set MCP_SYNC_ADVISORY_DB to a copy of github.com/rustsec/advisory-db" >&2; exit 1; }
date=$(grep -oE '[0-9]{4}-[0-9]{2}-[0-9]{2}' "$SNAPSHOT/SNAPSHOT.md" | head -1 || true)
echo "RustSec advisory database: offline snapshot of ${date:-unknown date} ($SNAPSHOT)"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# A database root holding a copy of `$1` as the git repository cargo-deny reads.
database() {
  local root=$1 from=$2
  mkdir -p "$root"
  cp -r "$from" "$root/$DB_DIR"
  (
    cd "$root/$DB_DIR"
    git init -q
    git add -A
    GIT_AUTHOR_DATE="${date:-2000-01-01}T00:00:00Z" GIT_COMMITTER_DATE="${date:-2000-01-01}T00:00:00Z" \
      git -c user.name=snapshot -c user.email=snapshot@localhost commit -qm "RustSec snapshot"
  )
}

# cargo-deny reads the dependency graph offline: every crate of every target first.
cargo fetch --locked --quiet

database "$work/real" "$SNAPSHOT"
MCP_SYNC_ADVISORY_DBS="$work/real" cargo deny --offline check

planted="$work/planted-src"
cp -r "$SNAPSHOT" "$planted"
mkdir -p "$planted/crates/arc-swap"
cat > "$planted/crates/arc-swap/RUSTSEC-2099-0001.md" <<'ADVISORY'
```toml
[advisory]
id = "RUSTSEC-2099-0001"
package = "arc-swap"
date = "2099-01-01"
title = "Planted by scripts/supply-chain.sh"
description = "Not a real advisory: the check must fail on it."

[versions]
patched = []
```

# Planted by scripts/supply-chain.sh

Not a real advisory: the supply-chain check must fail on it.
ADVISORY
database "$work/planted" "$planted"
if MCP_SYNC_ADVISORY_DBS="$work/planted" cargo deny --offline check advisories >"$work/planted.log" 2>&1; then
  cat "$work/planted.log" >&2
  echo "FAIL: a planted advisory against arc-swap was not caught" >&2
  exit 1
fi
grep -q "RUSTSEC-2099-0001" "$work/planted.log" || { cat "$work/planted.log" >&2; echo "FAIL: the planted advisory is not named" >&2; exit 1; }
echo "a planted advisory (RUSTSEC-2099-0001 against arc-swap) fails the check, as it should"
