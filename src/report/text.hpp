#pragma once
// Escaping text for the markup reporters: report.html (html.cpp) and the inline SVG charts
// (svg.cpp) put user-supplied names and messages into the same XML-style markup.

#include <string>
#include <string_view>

namespace scalelab::detail {

/// `text` safe in HTML or SVG, as element content and inside a quoted attribute alike.
inline std::string xml_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace scalelab::detail
