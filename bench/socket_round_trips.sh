#!/usr/bin/env bash
# Issue 14's socket benchmark: round trips per second over loopback at W = 1, 100 and 9000
# concurrent tasks, under async and threads, with both connection modes, side by side in one
# run, ROUNDS times interleaved. Each trial is the socket workload with no server wait
# (--io-wait 0s) and a 64-byte reply, W workers, TASKS_PER_W × W tasks (at least 20000), so a
# trial lasts long enough to time; 9000, not 10k: in one process each connection takes two
# descriptors and this machine's hard RLIMIT_NOFILE is 20000 (scalelab names it past 9978).
# Prints per point the round trips per second (tasks / median wall), the server's CPU seconds
# per 1000 round trips (measured apart from the trial's), and the trial's own CPU use.
#   bench/socket_round_trips.sh [OUT_DIR] [BUILD_DIR] [ROUNDS] [TASKS_PER_W]
set -euo pipefail
out=${1:-bench-out/socket-round-trips}
build=${2:-build}
rounds=${3:-3}
per_w=${4:-10}
py=${PYTHON:-python3}
mkdir -p "$out"
results="$out/figures.txt"
: > "$results"

trial() {  # MODEL W CONNECTION ROUND: 3 trials, one line each into $results
  local dir="$out/$1-$2-$3-$4" tasks=$(($2 * per_w))
  ((tasks < 20000)) && tasks=20000
  rm -rf "$dir"
  "$build/scalelab" run --workload socket --model "$1" --tasks "$tasks" --workers "$2" \
    --io-wait 0s --connection "$3" --repeat 3 --out "$dir" -q > /dev/null
  "$py" - "$dir/results.jsonl" "$1" "$2" "$3" >> "$results" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    d = json.loads(line)
    if d.get("type") == "trial" and not d.get("warmup"):
        assert d["checksum_ok"], d["error"]
        c = d["counters"]
        print(sys.argv[2], sys.argv[3], sys.argv[4], d["tasks"], d["wall_s"], c["server_cpu_s"],
              d["user_s"] + d["sys_s"])
PY
}

for round in $(seq 1 "$rounds"); do
  for w in 1 100 9000; do
    for connection in per-worker per-task; do
      trial async "$w" "$connection" "$round"
      trial threads "$w" "$connection" "$round"
    done
  done
done

"$py" - "$results" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
points = {}
for model, w, connection, tasks, wall, server, cpu in rows:
    points.setdefault((int(w), connection, model), []).append(
        (int(tasks), float(wall), float(server), float(cpu)))
print(f"{'W':>5} {'connection':<11} {'model':<8} {'trials':>6} {'round trips/s':>14} "
      f"{'server CPU ms/1k':>17} {'client CPU ms/1k':>17}")
for (w, connection, model), ts in sorted(points.items()):
    tasks = ts[0][0]
    wall = statistics.median(t[1] for t in ts)
    server = statistics.median(t[2] for t in ts) / tasks * 1e6
    cpu = statistics.median(t[3] for t in ts) / tasks * 1e6
    print(f"{w:>5} {connection:<11} {model:<8} {len(ts):>6} {tasks / wall:>14,.0f} "
          f"{server:>17.1f} {cpu:>17.1f}")
PY
