#pragma once
/// \file cli.hpp
/// The scalelab command line as a function (library scalelab::cli). A program that registers
/// its own models or workloads and then calls this is scalelab with them: their parameters
/// become flags, in --help and `list` (examples/custom_workload.cpp, custom_model.cpp).

#include <ostream>

namespace scalelab::cli {

/// Runs `scalelab ARGS…`: output to `out` (tables, lists) and `err` (progress, errors).
/// Returns the exit code: 0 ok, 1 a trial failed or hung, 2 bad input, 130/143 stopped by
/// SIGINT/SIGTERM. `hung`, when given, is set when a hung trial left threads running: the
/// process should then exit without running static destructors.
int main(int argc, const char* const* argv, std::ostream& out, std::ostream& err,
         bool* hung = nullptr);

/// The whole of a scalelab program's main(), after it has registered its plug-ins: a spawned
/// process worker's work when this process is one (maybe_run_worker), else the command line
/// on std::cout and std::cerr. After a hung trial it leaves without static destructors (the
/// trial's threads still run its task; everything scalelab writes is closed by then), so call
/// it as `return scalelab::cli::run(argc, argv);`.
int run(int argc, char** argv);

}  // namespace scalelab::cli
