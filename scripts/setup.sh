#!/usr/bin/env bash
# Installs what scalelab needs from Debian's packages, if it is missing. Safe to run again: it
# installs nothing when everything is there.
#   scripts/setup.sh build   building and running scalelab (scripts/run-default.sh)
#   scripts/setup.sh test    that, and the tests, sanitizers and fuzzers (the default)
set -euo pipefail
mode=${1:-test}
case "$mode" in
  build | test) ;;
  *) echo "usage: scripts/setup.sh [build|test]" >&2; exit 2 ;;
esac
# The build: compilers, libraries (toml++ for experiment files, oneTBB for the tbb model; the
# openmp model uses g++'s own libgomp), CPython for the python workload.
packages=(g++ cmake make pkg-config libasio-dev libcli11-dev libfmt-dev nlohmann-json3-dev
          libtomlplusplus-dev libtbb-dev python3 libpython3-dev)
if [ "$mode" = test ]; then
  # The tests and the micro-benchmarks.
  packages+=(libgtest-dev libbenchmark-dev)
  # CI's fuzzing (scripts/fuzz.sh): clang, and libFuzzer with clang's sanitizer runtimes, which
  # clang only recommends (so --no-install-recommends would leave them out); llvm for
  # llvm-symbolizer, which turns the addresses in sanitizer reports into file:line.
  packages+=(clang libclang-rt-14-dev llvm)
  # clang's OpenMP runtime, for the openmp model in the ASan build (clang).
  packages+=(libomp-dev)
  # CI's function-size check (scripts/check-function-size.sh).
  packages+=(clang-tidy)
  # The HTML report's test renders the page in a headless browser.
  packages+=(chromium)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo_cmd apt-get update -qq
  $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
