// libFuzzer target for parse_duration: any bytes give a duration in (0, 24 h] (or exactly 0 when
// zero is allowed) or a scalelab::Error; both modes agree, and format_duration's text of a parsed
// duration parses back to nearly the same duration.

#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "fuzz_support.hpp"
#include "scalelab/error.hpp"
#include "scalelab/parse.hpp"

namespace {

using namespace std::chrono_literals;
using scalelab::fuzz::check_error;
using scalelab::fuzz::fail;

constexpr std::string_view flag = "--io-wait";

std::optional<std::chrono::nanoseconds> parse(std::string_view text, bool allow_zero) {
  try {
    return scalelab::parse_duration(text, flag, allow_zero);
  } catch (const scalelab::Error& e) {
    check_error(e, flag);
    return std::nullopt;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = scalelab::fuzz::as_text(data, size);
  const auto strict = parse(text, false);
  const auto lenient = parse(text, true);
  if (strict && (*strict <= 0ns || *strict > 24h)) fail("duration outside (0, 24h]");
  if (lenient && (*lenient < 0ns || *lenient > 24h)) fail("duration outside [0, 24h]");
  // Allowing zero allows exactly zero more, and changes nothing else.
  if (strict && lenient != strict) fail("allow_zero changed an accepted duration");
  if (!strict && lenient && *lenient != 0ns) fail("allow_zero accepted a nonzero duration");
  if (strict) {
    // format_duration keeps 3 decimals of its unit, so the text it writes may differ from the
    // duration by half a unit in the 4th significant digit: allow 0.1 % and a nanosecond.
    const double seconds = std::chrono::duration<double>(*strict).count();
    const std::string written = scalelab::format_duration(seconds);
    const auto back = parse(written, false);
    if (!back) fail("format_duration wrote what parse_duration rejects:", written);
    const double error = std::fabs(static_cast<double>((*back - *strict).count()));
    if (error > 1 + 1e-3 * static_cast<double>(strict->count())) {
      fail("format_duration round trip drifted:", written);
    }
  }
  return 0;
}
