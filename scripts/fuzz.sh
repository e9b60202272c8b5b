#!/usr/bin/env bash
# Runs every cargo-fuzz target for RUNS executions (default 10 million), growing the corpus
# under fuzz/corpus/<target>, then minimises it (cargo fuzz cmin). Crashes land in
# fuzz/artifacts/<target>/. Needs cargo-fuzz (`cargo install cargo-fuzz`); a stable toolchain
# works with RUSTC_BOOTSTRAP=1, as below.
#
#   scripts/fuzz.sh [TARGET…]
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
runs=${RUNS:-10000000}
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(signing_request operation_contents request_body key_file)
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t"
  RUSTC_BOOTSTRAP=1 cargo fuzz run -s none "$t" "corpus/$t" -- \
    -runs="$runs" -max_len=4096 -print_final_stats=1 2>&1 | tee "target/fuzz-$t.log" \
    | grep -E '^(Done|stat::number_of_executed_units|stat::new_units_added)|SUMMARY' || true
  RUSTC_BOOTSTRAP=1 cargo fuzz cmin -s none "$t" "corpus/$t" >/dev/null 2>&1
  echo "$t: $(ls "corpus/$t" | wc -l) corpus inputs, $(find "artifacts/$t" -type f 2>/dev/null | wc -l) crashes"
done
