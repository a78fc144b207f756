// scalelab's entry point: worker mode first (a spawned process worker), then the CLI.

#include <csignal>
#include <iostream>

#include "cli/cli.hpp"
#include "scalelab/model.hpp"

int main(int argc, char** argv) {
  if (const auto code = scalelab::maybe_run_worker(argc, argv)) return *code;
  return scalelab::cli::main(argc, argv, std::cout, std::cerr);
}
