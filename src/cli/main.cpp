// scalelab's entry point: worker mode first (a spawned process worker), then the CLI.

#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "cli/cli.hpp"
#include "scalelab/model.hpp"

int main(int argc, char** argv) {
  if (const auto code = scalelab::maybe_run_worker(argc, argv)) return *code;
  bool hung = false;
  const int code = scalelab::cli::main(argc, argv, std::cout, std::cerr, &hung);
  if (hung) {
    // Leave without static destructors: a hung trial's threads still run its task, and
    // tearing down the registries under them could crash a run whose results are already
    // safe on disk. Everything scalelab writes is closed by now.
    std::cout.flush();
    std::cerr.flush();
    std::fflush(nullptr);
    std::_Exit(code);
  }
  return code;
}
