// scalelab's entry point: worker mode first (a spawned process worker), then the CLI.

#include "scalelab/cli.hpp"

int main(int argc, char** argv) {
  return scalelab::cli::run(argc, argv);
}
