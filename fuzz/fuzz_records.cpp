// libFuzzer target for parse_records, which reads a results.jsonl that someone hands to
// `scalelab report`: any bytes give a run with a header and well-formed trials, or a
// scalelab::Error. A JSON library exception escaping, a crash, undefined behaviour or a leak is a
// bug.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_support.hpp"
#include "scalelab/error.hpp"
#include "scalelab/records.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using scalelab::fuzz::fail;
  const std::string source = "fuzz/results.jsonl";
  try {
    const scalelab::RecordedRun run =
        scalelab::parse_records(scalelab::fuzz::as_text(data, size), source);
    if (!run.header.spec.is_object()) fail("the header's spec is not an object");
    if (!run.header.environment.is_object()) fail("the header's environment is not an object");
    if (!run.header.workload_specs.is_array()) fail("the header's workload_specs is not a list");
    for (const scalelab::Trial& trial : run.trials) {
      if (!trial.point.is_object()) fail("a trial's point is not an object");
      if (trial.workers < 1) fail("a trial with fewer than one worker");
      if (!(trial.wall_s >= 0) || !std::isfinite(trial.wall_s)) fail("a trial's wall_s");
    }
  } catch (const scalelab::Error& e) {
    // Messages name the file rather than a flag.
    scalelab::fuzz::check_error(e, source);
  }
  return 0;
}
