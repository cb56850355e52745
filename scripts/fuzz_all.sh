#!/usr/bin/env bash
# Run every fuzz target for SECONDS each (default 600), one after another,
# and print one line per target: runs, corpus size, crashes. A crash leaves
# its input in fuzz/artifacts/<target>/: copy it to fuzz/regressions/<target>/
# (replayed by the ordinary tests) and fix the cause. See docs/reliability.md.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
SECONDS_EACH=${1:-600}
JOBS=${FUZZ_JOBS:-1}
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1
targets=$(cargo fuzz list)
cargo fuzz build -O
status=0
for t in $targets; do
  mkdir -p "corpus/$t"
  log=$(mktemp)
  if cargo fuzz run -O "$t" -- -max_total_time="$SECONDS_EACH" -jobs="$JOBS" -workers="$JOBS" >"$log" 2>&1; then
    result=ok
  else
    result=CRASH; status=1
  fi
  runs=$(grep -oE '#[0-9]+' "$log" | tail -1 | tr -d '#')
  echo "fuzz: $t seconds=$SECONDS_EACH runs=${runs:-?} corpus=$(ls "corpus/$t" | wc -l) result=$result"
  [ "$result" = ok ] || tail -40 "$log"
  rm -f "$log"
done
exit $status
