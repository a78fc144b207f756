#pragma once
// The scalelab command line, callable in-process so tests can drive it.

#include <ostream>

namespace scalelab::cli {

/// Runs `scalelab ARGS…`: output to `out` (tables, lists) and `err` (progress, errors).
/// Returns the exit code: 0 ok, 1 a trial failed, 2 bad input.
int main(int argc, const char* const* argv, std::ostream& out, std::ostream& err);

}  // namespace scalelab::cli
