// libFuzzer target for parse_name_list: any bytes give non-empty, trimmed, distinct names without
// commas or control characters, each found in the input, or a scalelab::Error naming the flag.

#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.hpp"
#include "scalelab/error.hpp"
#include "scalelab/parse.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using scalelab::fuzz::fail;
  constexpr std::string_view flag = "--model";
  const std::string_view text = scalelab::fuzz::as_text(data, size);
  try {
    const std::vector<std::string> names = scalelab::parse_name_list(text, flag);
    if (names.empty()) fail("accepted an empty list");
    std::set<std::string_view> seen;
    for (const std::string& name : names) {
      if (name.empty()) fail("an empty name");
      if (name.front() == ' ' || name.front() == '\t' || name.back() == ' ' ||
          name.back() == '\t') {
        fail("an untrimmed name:", name);
      }
      for (const char c : name) {
        if (c == ',' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
          fail("a comma or control character in a name:", name);
        }
      }
      if (!seen.insert(name).second) fail("a duplicate name:", name);
      if (text.find(name) == std::string_view::npos) fail("a name not in the input:", name);
    }
  } catch (const scalelab::Error& e) {
    scalelab::fuzz::check_error(e, flag);
  }
  return 0;
}
