#!/usr/bin/env bash
# Issue 13, item 4: what scalelab adds to Python's own executors. The same 1-iteration Python
# task (the seed's loop, one iteration: all dispatch) under scalelab's py-threads, py-processes
# (fork) and py-asyncio, and under bench/python_reference.py's ThreadPoolExecutor,
# ProcessPoolExecutor and asyncio run stand-alone by /usr/bin/python3, back to back, interleaved
# ROUNDS times; prints the median per-task cost of each and their ratio.
#   bench/python_executors.sh [OUT_DIR] [SCALELAB_BINARY] [TASKS] [WORKERS] [ROUNDS]
set -euo pipefail
out=${1:-bench-out/python-executors}
exe=${2:-build/scalelab}
tasks=${3:-10000}
workers=${4:-2}
rounds=${5:-3}
py=${PYTHON:-python3}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
for round in $(seq 1 "$rounds"); do
  rm -rf "$out/scalelab-$round"
  "$exe" run --workload python --cpu-work 1 --model py-threads,py-processes,py-asyncio \
    --start-method fork --tasks "$tasks" --workers "$workers" --repeat 3 --seed "$round" \
    --out "$out/scalelab-$round" -q > /dev/null
  "$py" "$here/python_reference.py" --workload cpu --cpu-work 1 --model threads,processes,async \
    --start-method fork --tasks "$tasks" --workers "$workers" --repeat 3 --seed "$round" \
    --json "$out/python-$round.json" > /dev/null
done
"$py" - "$out" "$rounds" "$tasks" <<'PY'
import json, statistics, sys
out, rounds, tasks = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
pairs = {"threads": "py-threads", "processes": "py-processes", "async": "py-asyncio"}
ours, theirs = {m: [] for m in pairs}, {m: [] for m in pairs}
for r in range(1, rounds + 1):
    for row in json.load(open(f"{out}/scalelab-{r}/results.json"))["summary"]:
        for m, p in pairs.items():
            if row["model"] == p and row["median_s"] is not None:
                ours[m].append(row["median_s"])
    for row in json.load(open(f"{out}/python-{r}.json"))["summary"]:
        if row["model"] in pairs and row["median_wall_s"] is not None:
            theirs[row["model"]].append(row["median_wall_s"])
print(f"{'executor':<22} {'scalelab us/task':>17} {'python us/task':>15} {'ratio':>7}")
for m, p in pairs.items():
    a, b = statistics.median(ours[m]) / tasks * 1e6, statistics.median(theirs[m]) / tasks * 1e6
    print(f"{p + ' / ' + m:<22} {a:>17.2f} {b:>15.2f} {a / b:>6.3f}x")
PY
