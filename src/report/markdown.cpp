// report.md: a Document (document.hpp) as Markdown. What the report says is decided in
// sections.cpp; this file supplies only the markup and its escaping.

#include <algorithm>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <fmt/format.h>

#include "report/document.hpp"
#include "scalelab/parse.hpp"
#include "scalelab/report.hpp"

namespace scalelab {
namespace detail {
namespace {

// Text that Markdown shows as written, inside a table cell or not: `|` would end a cell, `<`
// could open an HTML tag and `&` an entity, `*`, `_` and backticks would start emphasis or
// code, `](` a link, a newline would end the row.
std::string md(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    switch (c) {
      case '\\':
      case '|':
      case '*':
      case '_':
      case '`':
        out += '\\';
        out += c;
        break;
      case ']':
        // "](" and "][" would make what comes before a link; a lone bracket ("[1ms, 2ms]")
        // stays as written.
        out += i + 1 < text.size() && (text[i + 1] == '(' || text[i + 1] == '[') ? "]\\" : "]";
        break;
      case '&':
        out += "&amp;";  // so that a "&lt;" in the text stays as typed
        break;
      case '<':
        out += "&lt;";
        break;
      case '\n':
        out += ' ';
        break;
      case '\r':
        break;
      default:
        out += c;
    }
  }
  return out;
}

// A table row; `escape` false for a header, whose fixed texts hold nothing Markdown would take
// as markup (the lone `*` of "USL peak W*" opens no emphasis) and are kept as written.
std::string row_line(const std::vector<std::string>& cells, bool escape = true) {
  std::string out = "|";
  for (const auto& cell : cells) out += " " + (escape ? md(cell) : cell) + " |";
  return out + "\n";
}

// A list item's text: "lead: text", the lead in bold when strong.
std::string item_text(const ListItem& item) {
  if (item.lead.empty()) return md(item.text);
  return item.strong ? fmt::format("**{}**: {}", md(item.lead), md(item.text))
                     : fmt::format("{}: {}", md(item.lead), md(item.text));
}

// One block as Markdown lines; blocks are separated by a blank line.
std::string block_text(const Block& block) {
  struct Visitor {
    std::string operator()(const Heading& h) const {
      return std::string(static_cast<std::size_t>(h.level), '#') + " " + md(h.text) + "\n";
    }
    std::string operator()(const Paragraph& p) const {
      return (p.lead.empty() ? "" : "**" + md(p.lead) + "** ") + md(p.text) + "\n";
    }
    std::string operator()(const List& list) const {
      std::string out;
      for (const auto& item : list.items) out += "- " + item_text(item) + "\n";
      return out;
    }
    std::string operator()(const Table& table) const {
      // First and last columns are text (left), the others figures (right).
      std::string out = row_line(table.header, false) + "|";
      for (std::size_t i = 0; i < table.header.size(); ++i) {
        out += i == 0 || i + 1 == table.header.size() ? "---|" : "--:|";
      }
      out += "\n";
      for (const auto& row : table.rows) out += row_line(row.cells);
      return out;
    }
    std::string operator()(const Charts&) const { return {}; }  // the tables carry the figures
  };
  return std::visit(Visitor{}, block);
}

}  // namespace

std::string to_markdown(const Document& document) {
  std::string out = "# " + md(document.title) + "\n";
  for (const Block& block : document.blocks) {
    const std::string text = block_text(block);
    if (!text.empty()) out += "\n" + text;
  }
  return out;
}

}  // namespace detail

std::string render_markdown(const AnalysedRun& input) {
  return detail::to_markdown(detail::run_document(input));
}

}  // namespace scalelab
