#!/usr/bin/env bash
# Coverage-guided fuzzing of the parsers facing the network and files, FUZZ_SECONDS (30)
# each, when a nightly toolchain is present (cargo-fuzz needs it); otherwise says so and
# stops with success: the seeds and the crashes found are replayed on stable by
# `cargo test` (tests/e2e/fuzz_regressions.rs). A crash fails the run; its input is left in
# fuzz/artifacts/<target>/ — fix the cause and commit the input to fuzz/regressions/<target>/.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-30}
if ! rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  echo "fuzzing skipped: no nightly toolchain (rustup toolchain install nightly to run it)"
  exit 0
fi
command -v cargo-fuzz >/dev/null 2>&1 || cargo install --locked cargo-fuzz
for target in list_page sync_answer web_config config_file ratelimit_header definitions pin_file; do
  work=$(mktemp -d)
  cp -r "fuzz/corpus/$target/." "$work/"
  echo "fuzz: $target for ${seconds}s"
  status=0
  cargo +nightly fuzz run --fuzz-dir fuzz "$target" "$work" -- \
    -max_total_time="$seconds" -print_final_stats=1 >"$work.log" 2>&1 || status=$?
  grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|==[0-9]+==ERROR|SUMMARY)' "$work.log" || true
  if [ "$status" -ne 0 ]; then
    tail -40 "$work.log" >&2
    echo "fuzz: $target found a crash (fuzz/artifacts/$target/)" >&2
    exit 1
  fi
  rm -f "$work.log"
  rm -rf "$work"
done
