#!/usr/bin/env bash
# Set up, build (Release) and run the default experiment: the seed's cpu, io and python
# workloads under serial, threads, processes, async and gil. Extra arguments go to `scalelab`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh build  # only what building and running need: no test or browser packages
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DSCALELAB_BUILD_TESTS=OFF \
  -DSCALELAB_BUILD_BENCH=OFF >/dev/null
cmake --build build -j"$(nproc)" --target scalelab_exe
exec build/scalelab "$@"
