// The main() of every test binary. It registers the test fixtures first and then acts as a
// scalelab worker when a processes pool with the spawn start method execs it.

#include <gtest/gtest.h>

#include "support/fixtures.hpp"

int main(int argc, char** argv) {
  scalelab::testing::register_fixtures();
  if (const auto code = scalelab::maybe_run_worker(argc, argv)) return *code;
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
