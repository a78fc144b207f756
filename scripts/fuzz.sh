#!/usr/bin/env bash
# Builds the libFuzzer targets (the "fuzz" build preset: those targets of the "asan" configure
# preset's tree, build-asan-ci/, clang with ASan + UBSan) and runs each for SECONDS (default 60),
# as many at a time as there are cores. Each starts from its committed seeds in
# fuzz/corpus/<name>/; what it finds goes to a scratch folder, never into the repository.
# Prints each target's final libFuzzer line ("#<inputs tried> DONE cov: … exec/s: …"); fails if
# any target crashes, leaks, trips a sanitizer or breaks one of its invariants, and then keeps the
# input that did it under build-asan-ci/crashes/<name>/.
#   scripts/fuzz.sh [SECONDS [NAME…]]     NAME: duration count fraction workers name_list records
#                                         experiment
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
[ $# -gt 0 ] && shift
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(duration count fraction workers name_list records experiment)
scripts/setup.sh
cmake --preset asan >/dev/null
cmake --build --preset fuzz -j"$(nproc)"
build=build-asan-ci

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
fuzz_one() {
  local name=$1 dir=$scratch/$1
  local options=(-max_total_time="$seconds" -print_final_stats=1 -timeout=10
                 -artifact_prefix="$dir/")
  [ -f "fuzz/dict/$name.dict" ] && options+=(-dict="fuzz/dict/$name.dict")
  # A results file has many lines; libFuzzer's default cap (the largest seed) is too small to grow
  # one.
  [ "$name" = records ] && options+=(-max_len=16384)
  mkdir -p "$dir/found"
  # The first folder receives new inputs; the committed seeds are only read.
  "$build/fuzz/fuzz_$name" "${options[@]}" "$dir/found" "fuzz/corpus/$name" >"$dir/log" 2>&1
}

# Run as many at a time as there are cores, and note each one's exit status.
jobs_max=$(nproc)
for name in "${names[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do wait -n || true; done
  (
    rc=0
    fuzz_one "$name" || rc=$?
    echo "$rc" >"$scratch/$name.rc"
  ) &
done
wait

failed=0
for name in "${names[@]}"; do
  rc=$(cat "$scratch/$name.rc" 2>/dev/null || echo 1)
  stats=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$scratch/$name/log" | tail -1 || true)
  if [ "$rc" -eq 0 ]; then
    echo "fuzz_$name: ${stats:-no DONE line}"
  else
    failed=1
    echo "fuzz_$name: FAILED (exit $rc)"
    tail -n 60 "$scratch/$name/log"
    mkdir -p "$build/crashes/$name"
    for input in "$scratch/$name"/crash-* "$scratch/$name"/leak-* "$scratch/$name"/timeout-* \
                 "$scratch/$name"/oom-*; do
      [ -f "$input" ] || continue
      cp "$input" "$build/crashes/$name/"
      echo "input kept as $build/crashes/$name/$(basename "$input"); its first bytes:"
      head -c 512 "$input" | od -c | head -n 16
      echo "replay: $build/fuzz/fuzz_$name $build/crashes/$name/$(basename "$input")"
    done
  fi
done
exit "$failed"
