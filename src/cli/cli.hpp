#pragma once
// The scalelab command line, callable in-process so tests can drive it.

#include <ostream>

namespace scalelab::cli {

/// Runs `scalelab ARGS…`: output to `out` (tables, lists) and `err` (progress, errors).
/// Returns the exit code: 0 ok, 1 a trial failed or hung, 2 bad input, 130/143 stopped by
/// SIGINT/SIGTERM. `hung`, when given, is set when a hung trial left threads running: the
/// process should then exit without running static destructors.
int main(int argc, const char* const* argv, std::ostream& out, std::ostream& err,
         bool* hung = nullptr);

}  // namespace scalelab::cli
