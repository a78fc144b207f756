#!/usr/bin/env bash
# Set up, build everything with warnings as errors, and run the whole test suite (the "release"
# preset of CMakePresets.json: RelWithDebInfo in build-test/).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release -j"$(nproc)"
ctest --preset release -j"$(nproc)"
