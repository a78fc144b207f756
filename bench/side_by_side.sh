#!/usr/bin/env bash
# The seed's experiment twice, back to back on one machine: scalelab (C++) and the Python
# reference, with the same workloads, sizes, worker counts and seed; then the per-task dispatch
# cost of each model (noop) in both. Writes everything into OUT_DIR (default bench-out/).
#   bench/side_by_side.sh [OUT_DIR] [SCALELAB_BINARY]
set -euo pipefail
out=${1:-bench-out}
exe=${2:-build/scalelab}
py=${PYTHON:-python3}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$out"
{
  echo "# machine"
  uname -a
  grep -m1 'model name' /proc/cpuinfo || true
  echo "logical cores: $(nproc)"
  "$py" --version
} > "$out/machine.txt" 2>&1
"$exe" run --seed 1 --out "$out/scalelab-default" -q > "$out/scalelab-default.txt"
"$py" "$here/python_reference.py" --seed 1 --json "$out/python-default.json" > "$out/python-default.txt"
"$exe" run --workload noop --model serial,threads,processes,async --tasks 10000 --workers 1,2 \
  --repeat 5 --seed 1 --out "$out/scalelab-noop" -q > "$out/scalelab-noop.txt"
"$py" "$here/python_reference.py" --workload noop --model serial,threads,processes,async \
  --tasks 10000 --workers 1,2 --repeat 5 --seed 1 > "$out/python-noop.txt"
echo "wrote $out/"
