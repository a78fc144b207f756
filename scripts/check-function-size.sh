#!/usr/bin/env bash
# No function in src/ over 60 lines, its comments and blank lines included (clang-tidy's
# readability-function-size over every source file and the headers of src/ and include/), unless
# it says why with `// NOLINT(readability-function-size): the reason` on its first line. Reads
# the compile commands of a configured build (default build-test/, the release preset's).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-test}
if [ ! -f "$build/compile_commands.json" ]; then
  echo "check-function-size: no $build/compile_commands.json; configure the build first" >&2
  exit 2
fi
tidy=$(command -v clang-tidy-14 || command -v clang-tidy || true)
if [ -z "$tidy" ]; then
  echo "check-function-size: clang-tidy is not installed (scripts/setup.sh test installs it)" >&2
  exit 2
fi
# The build's precompiled headers are g++'s, which clang-tidy cannot read: it gets the compile
# commands without them (each file then parses its headers itself, as clang-tidy needs anyway).
commands=$(mktemp -d)
trap 'rm -rf "$commands"' EXIT
python3 - "$build/compile_commands.json" "$commands/compile_commands.json" <<'PY'
import json, re, sys
entries = json.load(open(sys.argv[1]))
for e in entries:
    e["command"] = re.sub(r" -include \S+cmake_pch\.hxx| -Winvalid-pch", "", e["command"])
json.dump(entries, open(sys.argv[2], "w"))
PY
# Asio's coroutines are behind feature tests that clang 14 with libstdc++ does not pass.
report=$(ls src/*/*.cpp | xargs -P"$(nproc)" -n6 "$tidy" -p "$commands" --quiet \
  --extra-arg=-DASIO_HAS_CO_AWAIT=1 --extra-arg=-DASIO_HAS_STD_COROUTINE=1 \
  --header-filter="$PWD/(src|include)/.*" --checks='-*,readability-function-size' \
  --config='{CheckOptions: [{key: readability-function-size.LineThreshold, value: 60}]}' \
  2>/dev/null | grep -E -A1 "(warning|error):" | sort -u || true)
if [ -n "$report" ]; then
  echo "$report"
  echo "check-function-size: split the functions above, or say on their first line why not" >&2
  exit 1
fi
echo "check-function-size: every function in src/ is at most 60 lines"
