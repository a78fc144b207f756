#!/usr/bin/env bash
# Builds and runs the whole test suite under a sanitizer preset of CMakePresets.json:
#   scripts/ci-sanitizers.sh asan   AddressSanitizer + UndefinedBehaviorSanitizer (build-asan-ci/)
#   scripts/ci-sanitizers.sh tsan   ThreadSanitizer (build-tsan-ci/)
# Any report fails the test that made it, so a clean run is a passing one.
set -euo pipefail
cd "$(dirname "$0")/.."
preset=${1:-}
case "$preset" in
  asan | tsan) ;;
  *) echo "usage: scripts/ci-sanitizers.sh asan|tsan" >&2; exit 2 ;;
esac
scripts/setup.sh
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" -j"$(nproc)"
run=()
if [ "$preset" = tsan ]; then
  # TSan maps its shadow memory at fixed addresses that assume at most 28 bits of mmap
  # randomisation; on a kernel that uses more (Ubuntu's 6.5+ default is 32) every test dies with
  # "unexpected memory mapping". Without ASLR the layout fits; setarch's setting is inherited by
  # ctest's children, so it covers every test and every process they fork.
  if [ "$(cat /proc/sys/vm/mmap_rnd_bits 2>/dev/null || echo 0)" -gt 28 ]; then
    run=(setarch "$(uname -m)" -R)
  fi
fi
"${run[@]}" ctest --preset "$preset" -j"$(nproc)"
