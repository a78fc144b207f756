// libFuzzer target for parse_fraction: any bytes give a finite number in [0, 1] without a sign,
// or a scalelab::Error naming the flag.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_support.hpp"
#include "scalelab/error.hpp"
#include "scalelab/parse.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  constexpr std::string_view flag = "--cpu-fraction";
  const std::string_view text = scalelab::fuzz::as_text(data, size);
  try {
    const double value = scalelab::parse_fraction(text, flag);
    if (!std::isfinite(value) || value < 0 || value > 1) scalelab::fuzz::fail("not in [0, 1]");
    if (std::signbit(value)) scalelab::fuzz::fail("negative zero accepted");
    // Only a plain decimal (with an optional exponent) is a fraction: no letters, no '%', no
    // hex, nothing that from_chars might take for "nan" or "inf".
    for (const char c : text) {
      if (!((c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '-' || c == '+' ||
            c == ' ' || c == '\t')) {
        scalelab::fuzz::fail("accepted a character a number has not:", text);
      }
    }
  } catch (const scalelab::Error& e) {
    scalelab::fuzz::check_error(e, flag);
  }
  return 0;
}
