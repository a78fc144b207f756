// libFuzzer target for parse_count, checked against a second, plain implementation: the text,
// trimmed of spaces and tabs, is accepted exactly when it is all ASCII digits whose value lies in
// [min, max], and then parses to that value.

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string_view>

#include "fuzz_support.hpp"
#include "scalelab/error.hpp"
#include "scalelab/parse.hpp"

namespace {

using scalelab::fuzz::check_error;
using scalelab::fuzz::fail;

// The value of `text` if it is a count that fits int64 and nothing else, by the definition in
// parse.hpp rather than by the code in parse.cpp.
std::optional<std::int64_t> expected_value(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  if (text.empty()) return std::nullopt;
  std::int64_t value = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    const int digit = c - '0';
    if (value > (std::numeric_limits<std::int64_t>::max() - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  return value;
}

void check(std::string_view text, std::string_view flag, std::int64_t min, std::int64_t max) {
  const auto expected = expected_value(text);
  const bool in_range = expected && *expected >= min && *expected <= max;
  try {
    const std::int64_t value = scalelab::parse_count(text, flag, min, max);
    if (!in_range) fail("accepted a count that is not one, or out of range, for", flag);
    if (value != *expected) fail("parsed to another value than typed, for", flag);
  } catch (const scalelab::Error& e) {
    check_error(e, flag);
    if (in_range) fail("rejected a valid count for", flag);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = scalelab::fuzz::as_text(data, size);
  // The ranges the CLI uses: --tasks, and --seed's whole int64 range.
  check(text, "--tasks", 1, 10'000'000);
  check(text, "--seed", 0, std::numeric_limits<std::int64_t>::max());
  return 0;
}
