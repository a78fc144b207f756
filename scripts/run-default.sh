#!/usr/bin/env bash
# Set up, build (Release) and run the default experiment: the seed's cpu and io workloads under
# serial, threads, processes and async. Extra arguments go to `scalelab`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DSCALELAB_BUILD_TESTS=OFF >/dev/null
cmake --build build -j"$(nproc)" --target scalelab_exe
exec build/scalelab "$@"
