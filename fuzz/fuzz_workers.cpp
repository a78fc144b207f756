// libFuzzer target for parse_workers: any bytes give a non-empty, strictly increasing list of
// worker counts within [1, max_workers], or a scalelab::Error naming the flag. Run with the CLI's
// maximum and with int's, where a range's doubling could overflow.

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string_view>
#include <vector>

#include "fuzz_support.hpp"
#include "scalelab/error.hpp"
#include "scalelab/parse.hpp"

namespace {

using scalelab::fuzz::fail;

void check(std::string_view text, int max_workers) {
  constexpr std::string_view flag = "--workers";
  try {
    const std::vector<int> workers = scalelab::parse_workers(text, flag, max_workers);
    if (workers.empty()) fail("accepted an empty list");
    if (workers.front() < 1 || workers.back() > max_workers) fail("a count out of [1, max]");
    for (std::size_t i = 1; i < workers.size(); ++i) {
      if (workers[i - 1] >= workers[i]) fail("not sorted, or a duplicate");
    }
    // Each item adds at most one count per power of two: 32 for an int range.
    std::size_t items = 1;
    for (const char c : text) items += c == ',';
    if (workers.size() > items * 32) fail("more counts than the items can give");
  } catch (const scalelab::Error& e) {
    scalelab::fuzz::check_error(e, flag);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = scalelab::fuzz::as_text(data, size);
  check(text, 65536);  // the CLI's kMaxWorkers
  check(text, std::numeric_limits<int>::max());
  return 0;
}
