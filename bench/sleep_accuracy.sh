#!/usr/bin/env bash
# Issue 14, item 3 (and item 2's accuracy target): sleep accuracy at scale, side by side in one
# run, ROUNDS times interleaved. Each trial is N tasks of the io workload, each waiting WAIT
# (default 20 ms), with N workers, so that every task waits at once and the ideal wall is WAIT:
#   - threads at 1000 and 10000 (one thread per task, started before the clock);
#   - async at 100000;
#   - plain threads (bench/thread_sleepers.cpp: N std::threads released by one futex wake, each
#     sleeping) at 1000 and 10000, 5 runs each: what the kernel alone takes to wake N threads and
#     then N timers, which no pool can go below.
# Prints per point the median wall over the trials, its excess over the ideal, and the start
# delays (p50, p99, max: from the clock's start to each task's start) and the task durations'
# p99 (the wait itself, oversleep included), which say whether the excess is start skew or late
# wake-ups.
#   bench/sleep_accuracy.sh [OUT_DIR] [BUILD_DIR] [ROUNDS] [WAIT_MS]
set -euo pipefail
out=${1:-bench-out/sleep-accuracy}
build=${2:-build}
rounds=${3:-3}
wait_ms=${4:-20}
py=${PYTHON:-python3}
mkdir -p "$out"
results="$out/figures.txt"
: > "$results"

trial() {  # MODEL N ROUND: 5 trials of N tasks on N workers, one line each into $results
  local dir="$out/$1-$2-$3"
  rm -rf "$dir"
  "$build/scalelab" run --workload io --model "$1" --tasks "$2" --workers "$2" \
    --io-wait "${wait_ms}ms" --repeat 5 --out "$dir" -q > /dev/null
  "$py" - "$dir/results.jsonl" "$1" "$2" >> "$results" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    d = json.loads(line)
    if d.get("type") == "trial" and not d.get("warmup"):
        assert d["checksum_ok"], d["error"]
        s, t = d["start_delay"], d["task_duration"]
        print(sys.argv[2], sys.argv[3], d["wall_s"], s["p50_s"], s["p99_s"], s["max_s"],
              t["p99_s"])
PY
}

plain() {  # N: 5 runs of bench/thread_sleepers, one line each into $results
  for _ in 1 2 3 4 5; do
    "$build/bench/thread_sleepers" "$1" "$wait_ms" |
      sed -E "s/.*wall_s=([0-9.]+) start_max_s=([0-9.]+).*/plain-threads $1 \1 nan nan \2 nan/" \
      >> "$results"
  done
}

for round in $(seq 1 "$rounds"); do
  trial threads 1000 "$round"
  plain 1000
  trial threads 10000 "$round"
  plain 10000
  trial async 100000 "$round"
done

"$py" - "$results" "$wait_ms" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
ideal = float(sys.argv[2]) / 1e3
points = {}
for r in rows:
    points.setdefault((r[0], int(r[1])), []).append([float(x) for x in r[2:]])
print(f"N tasks x {ideal * 1e3:g} ms on N workers; median of {len(next(iter(points.values())))} trials")
print(f"{'model':<13} {'N':>7} {'wall ms':>8} {'excess':>7} {'limit':>7}  "
      f"{'start p50':>9} {'p99':>6} {'max':>6}  {'wait p99':>8}   (ms)")
for (model, n), trials in points.items():
    med = [statistics.median(col) for col in zip(*trials)]
    wall = med[0]
    limit = {1000: ideal * 1.02 + 0.002, 10000: ideal * 1.10}.get(n, ideal * 1.05 + 0.002)
    print(f"{model:<13} {n:>7} {wall * 1e3:>8.2f} {(wall / ideal - 1) * 100:>6.1f}% "
          f"{limit * 1e3:>7.2f}  {med[1] * 1e3:>9.2f} {med[2] * 1e3:>6.2f} {med[3] * 1e3:>6.2f}"
          f"  {med[4] * 1e3:>8.2f}")
PY
