#!/usr/bin/env bash
# Runs the cargo-fuzz targets in fuzz/ for a bounded time each, one after another.
#
#   infra/fuzz.sh                          every target, 300 s each (the long run, ~25 min)
#   infra/fuzz.sh 20                       every target, 20 s each (the smoke: infra/test.sh fuzz)
#   infra/fuzz.sh 600 csv_import forms     those targets, 600 s each
#
# Targets (fuzz/fuzz_targets/, each runs one check of `myna::fuzzing`): my_number, era_date,
# image_sniff, csv_import, forms.
#
# Stable Rust is enough: RUSTC_BOOTSTRAP=1 lets cargo-fuzz pass the nightly flags it needs.
# The instrumented build goes to ${CARGO_TARGET_DIR:-target}/fuzz, so the normal build stays
# warm. No sanitizer by default (the product forbids `unsafe`; FUZZ_SANITIZER=address turns
# AddressSanitizer on). The committed seeds in fuzz/corpus/<target> are only read; what a run
# learns goes to <target dir>/corpus/<target> and is kept for the next run. A crash is saved
# in fuzz/artifacts/<target>/ (git-ignored) and makes the script fail after the other
# targets ran; replay it with `cargo fuzz run -s none <target> <file>` (in fuzz/) and turn it
# into a `…_regression_…` unit test of the module that was wrong.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

seconds="${1:-300}"
shift || true
all_targets=(my_number era_date image_sniff csv_import forms)
if [ "$#" -gt 0 ]; then targets=("$@"); else targets=("${all_targets[@]}"); fi
case "$seconds" in '' | *[!0-9]*) echo "usage: infra/fuzz.sh [seconds-per-target] [target…]" >&2; exit 2 ;; esac

target_dir="${CARGO_TARGET_DIR:-target}/fuzz"
case "$target_dir" in /*) ;; *) target_dir="$root/$target_dir" ;; esac
sanitizer="${FUZZ_SANITIZER:-none}"
export RUSTC_BOOTSTRAP=1

if ! command -v cargo-fuzz >/dev/null 2>&1; then
  echo "== installing cargo-fuzz (cargo install cargo-fuzz --locked)"
  cargo install cargo-fuzz --locked
fi

cd fuzz
echo "== building the fuzz targets (sanitizer: $sanitizer; into $target_dir)"
cargo fuzz build -s "$sanitizer" --target-dir "$target_dir"

failed=()
summary=()
for t in "${targets[@]}"; do
  [ -f "fuzz_targets/$t.rs" ] || { echo "no such fuzz target: $t (have: ${all_targets[*]})" >&2; exit 2; }
  work="$target_dir/corpus/$t"
  log="$target_dir/logs/$t.log"
  mkdir -p "$work" "corpus/$t" "$(dirname "$log")"
  echo "== fuzzing $t for ${seconds}s (log: $log)"
  status=0
  cargo fuzz run -s "$sanitizer" --target-dir "$target_dir" "$t" "$work" "corpus/$t" -- \
    -max_total_time="$seconds" -timeout=10 -print_final_stats=1 >"$log" 2>&1 || status=$?
  runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
  summary+=("$t: ${runs:-?} executions in ${seconds}s, corpus $(find "$work" -type f | wc -l) inputs")
  if [ "$status" -ne 0 ]; then
    failed+=("$t")
    echo "!! $t failed (exit $status); the end of its log:" >&2
    tail -n 40 "$log" >&2
  fi
done

echo "== fuzzing summary"
printf '   %s\n' "${summary[@]}"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "crashes or errors in: ${failed[*]} (inputs in fuzz/artifacts/<target>/)" >&2
  exit 1
fi
