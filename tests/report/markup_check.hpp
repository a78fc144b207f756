#pragma once
// A small, strict markup checker for the reporters' tests: every tag closed in order, every
// attribute value double-quoted, no bare `<` or `&` in text. Strict on purpose: browsers
// forgive broken markup silently, so a reporter bug would otherwise only show as a chart that
// looks a little wrong. HTML's void elements (<meta>, <br>, …), <!doctype> and comments are
// understood; the contents of <style> are skipped.

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <string>
#include <string_view>
#include <vector>

namespace scalelab::testing {

/// Passes when `text` is well-formed in the sense above; a failure names the first problem and
/// its byte offset.
inline ::testing::AssertionResult well_formed(std::string_view text) {
  static constexpr std::string_view void_elements[] = {"meta", "br", "hr", "img", "input", "link"};
  const auto fail = [&](std::size_t at, const std::string& why) {
    return ::testing::AssertionFailure()
           << why << " at byte " << at << ": «"
           << std::string(text.substr(at > 40 ? at - 40 : 0, 80)) << "»";
  };
  const auto name_char = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == ':' || c == '_';
  };
  std::vector<std::string> open;
  std::size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (c == '&') {
      const std::size_t semi = text.find(';', i);
      if (semi == std::string_view::npos || semi - i > 10) return fail(i, "bare '&'");
      const std::string_view entity = text.substr(i + 1, semi - i - 1);
      const bool ok = entity == "amp" || entity == "lt" || entity == "gt" || entity == "quot" ||
                      (entity.size() > 1 && entity[0] == '#' &&
                       std::all_of(entity.begin() + 1, entity.end(), [](char d) {
                         return std::isdigit(static_cast<unsigned char>(d));
                       }));
      if (!ok) return fail(i, "unknown entity");
      i = semi + 1;
      continue;
    }
    if (c == '>') return fail(i, "bare '>'");
    if (c != '<') {
      ++i;
      continue;
    }
    if (text.substr(i, 4) == "<!--") {
      const std::size_t end = text.find("-->", i);
      if (end == std::string_view::npos) return fail(i, "unclosed comment");
      i = end + 3;
      continue;
    }
    if (text.substr(i, 2) == "<!") {
      const std::size_t end = text.find('>', i);
      if (end == std::string_view::npos) return fail(i, "unclosed declaration");
      i = end + 1;
      continue;
    }
    const bool closing = i + 1 < text.size() && text[i + 1] == '/';
    std::size_t j = i + (closing ? 2 : 1);
    const std::size_t name_start = j;
    while (j < text.size() && name_char(text[j])) ++j;
    const std::string name(text.substr(name_start, j - name_start));
    if (name.empty()) return fail(i, "bare '<'");
    if (closing) {
      if (j >= text.size() || text[j] != '>') return fail(i, "malformed closing tag");
      if (open.empty() || open.back() != name) {
        return fail(i, "closing </" + name + "> but open is <" +
                           (open.empty() ? std::string("nothing") : open.back()) + ">");
      }
      open.pop_back();
      i = j + 1;
      continue;
    }
    // Attributes: name="value", separated by spaces; then '>' or '/>'.
    bool self_closing = false;
    while (true) {
      while (j < text.size() && text[j] == ' ') ++j;
      if (j >= text.size()) return fail(i, "unclosed tag <" + name + ">");
      if (text[j] == '>') {
        ++j;
        break;
      }
      if (text.substr(j, 2) == "/>") {
        self_closing = true;
        j += 2;
        break;
      }
      const std::size_t attr_start = j;
      while (j < text.size() && name_char(text[j])) ++j;
      if (j == attr_start) return fail(j, "malformed attribute in <" + name + ">");
      if (j + 1 >= text.size() || text[j] != '=' || text[j + 1] != '"') {
        return fail(j, "attribute without a double-quoted value in <" + name + ">");
      }
      const std::size_t value_end = text.find('"', j + 2);
      if (value_end == std::string_view::npos) return fail(j, "unterminated attribute value");
      const std::string_view value = text.substr(j + 2, value_end - j - 2);
      if (value.find('<') != std::string_view::npos) return fail(j, "'<' in attribute value");
      j = value_end + 1;
    }
    const bool is_void = std::find(std::begin(void_elements), std::end(void_elements), name) !=
                         std::end(void_elements);
    if (!self_closing && !is_void) open.push_back(name);
    i = j;
    if (name == "style" && !self_closing) {
      const std::size_t end = text.find("</style>", i);
      if (end == std::string_view::npos) return fail(i, "unclosed <style>");
      i = end;
    }
  }
  if (!open.empty()) return ::testing::AssertionFailure() << "unclosed <" << open.back() << ">";
  return ::testing::AssertionSuccess();
}

/// How many times `needle` occurs in `haystack` (non-overlapping).
inline std::size_t count_of(std::string_view haystack, std::string_view needle) {
  std::size_t n = 0;
  for (std::size_t at = haystack.find(needle); at != std::string_view::npos;
       at = haystack.find(needle, at + needle.size())) {
    ++n;
  }
  return n;
}

}  // namespace scalelab::testing
