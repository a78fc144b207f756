#pragma once
// What every fuzz target checks besides "no crash": a parser of user input either returns a
// value or throws scalelab::Error whose message names the flag and stays one short line.
// Anything else (another exception type, a crash, undefined behaviour, a leak) is a bug, which
// libFuzzer reports with the input that caused it.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "scalelab/error.hpp"

namespace scalelab::fuzz {

/// The fuzzer's bytes as the text a user typed (embedded NULs and all).
inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

/// Stops the run as a crash, so that libFuzzer saves the input: a broken invariant is a bug just
/// like a sanitizer report.
[[noreturn]] inline void fail(std::string_view what, std::string_view detail = {}) {
  std::fprintf(stderr, "invariant broken: %.*s %.*s\n", static_cast<int>(what.size()), what.data(),
               static_cast<int>(detail.size()), detail.data());
  std::abort();
}

/// Checks what the CLI will print for this Error: one line that names the flag and does not
/// echo a huge input whole (parse.hpp quotes at most 64 bytes of it).
inline void check_error(const scalelab::Error& error, std::string_view flag) {
  const std::string_view message = error.what();
  if (message.find(flag) == std::string_view::npos) fail("message does not name", flag);
  for (const char c : message) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) fail("control character in", message);
  }
  if (message.size() > 512) fail("message too long:", message.substr(0, 512));
}

}  // namespace scalelab::fuzz
