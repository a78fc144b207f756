#!/usr/bin/env bash
# Issue 14, item 2: the async model at scale, side by side in one run with plain Asio coroutines
# (bench/asio_sleepers.cpp: one co_spawn and one steady_timer each) and Python's asyncio
# (asyncio.gather of N asyncio.sleep), ROUNDS times interleaved:
#   - N tasks (default 1M) all sleeping WAIT (default 1 s) at once: wall, and bytes of peak RSS
#     per task above the same program's peak with one task;
#   - sleep accuracy: 100k async tasks of 20 ms, wall against the ideal.
#   bench/high_concurrency.sh [OUT_DIR] [BUILD_DIR] [TASKS] [ROUNDS]
# scalelab's figure is its trial's own max_rss_kib (the peak over the batch, in the process that
# ran it); the others' is ru_maxrss of their whole process. Each baseline is the same program
# with one task, so what is left is what the tasks cost.
set -euo pipefail
out=${1:-bench-out/high-concurrency}
build=${2:-build}
tasks=${3:-1000000}
rounds=${4:-3}
py=${PYTHON:-python3}
mkdir -p "$out"
results="$out/figures.txt"
: > "$results"

scalelab_trial() {  # TASKS WAIT REPEAT NAME -> "wall_s max_rss_kib" per trial, one per line
  rm -rf "$out/$4"
  "$build/scalelab" run --workload io --model async --tasks "$1" --workers "$1" --io-wait "$2" \
    --repeat "$3" --no-warmup --out "$out/$4" -q > /dev/null
  "$py" -c '
import json, sys
for line in open(sys.argv[1]):
    d = json.loads(line)
    if d.get("type") == "trial" and not d.get("warmup"):
        assert d["checksum_ok"], d["error"]
        print(d["wall_s"], d["max_rss_kib"])' "$out/$4/results.jsonl"
}

asyncio_sleepers() {  # TASKS WAIT_S -> "wall_s max_rss_kib"
  "$py" - "$1" "$2" <<'PY'
import asyncio, resource, sys, time
n, wait = int(sys.argv[1]), float(sys.argv[2])
async def one(i):
    await asyncio.sleep(wait)
    return 0x9E3779B97F4A7C15 ^ i
async def main():
    return await asyncio.gather(*(one(i) for i in range(n)))
t0 = time.perf_counter()
done = asyncio.run(main())
wall = time.perf_counter() - t0
assert all(v == 0x9E3779B97F4A7C15 ^ i for i, v in enumerate(done))
print(wall, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
PY
}

asio_plain() {  # TASKS WAIT_MS -> "wall_s max_rss_kib"
  "$build/bench/asio_sleepers" "$1" "$2" | sed -E 's/.*wall_s=([0-9.]+) max_rss_kib=([0-9]+).*/\1 \2/'
}

for round in $(seq 1 "$rounds"); do
  read -r _ base_ours < <(scalelab_trial 1 1s 1 base-$round)
  read -r wall_ours rss_ours < <(scalelab_trial "$tasks" 1s 1 big-$round)
  read -r _ base_asio < <(asio_plain 1 1000)
  read -r wall_asio rss_asio < <(asio_plain "$tasks" 1000)
  read -r _ base_py < <(asyncio_sleepers 1 1)
  read -r wall_py rss_py < <(asyncio_sleepers "$tasks" 1)
  echo "round $round scalelab-async $wall_ours $rss_ours $base_ours" >> "$results"
  echo "round $round asio-plain $wall_asio $rss_asio $base_asio" >> "$results"
  echo "round $round asyncio $wall_py $rss_py $base_py" >> "$results"
  scalelab_trial 100000 20ms 5 accuracy-$round | sed "s/^/accuracy $round /" >> "$results"
done

"$py" - "$results" "$tasks" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
tasks = int(sys.argv[2])
by = {}
for r in rows:
    if r[0] == "round":
        by.setdefault(r[2], []).append((float(r[3]), int(r[4]), int(r[5])))
print(f"{tasks} tasks x 1 s, all at once; median of {len(by['asyncio'])} rounds")
print(f"{'runner':<16} {'wall s':>8} {'B/task':>8}   (peak RSS above the 1-task baseline)")
for name in ("scalelab-async", "asio-plain", "asyncio"):
    walls = [w for w, _, _ in by[name]]
    per = [(rss - base) * 1024 / tasks for _, rss, base in by[name]]
    print(f"{name:<16} {statistics.median(walls):8.3f} {statistics.median(per):8.0f}")
acc = [float(r[2]) for r in rows if r[0] == "accuracy"]
print(f"100k async tasks x 20 ms: median wall {statistics.median(acc)*1e3:.2f} ms over {len(acc)} "
      f"trials (min {min(acc)*1e3:.2f}, max {max(acc)*1e3:.2f}); target <= 23.00 ms")
PY
