// report.html: a Document (document.hpp) as one self-contained page: the content of
// report.md, and its charts as inline SVG. What the report says is decided in sections.cpp;
// this file supplies only the markup, its style and its escaping.
//
// Self-contained means the page works from a USB stick on a plane: inline <style>, inline
// <svg>, no scripts, no fonts, and no "http://" or "https://" anywhere in it.

#include <string>
#include <variant>
#include <vector>

#include <fmt/format.h>

#include "report/document.hpp"
#include "report/text.hpp"
#include "scalelab/parse.hpp"
#include "scalelab/report.hpp"

namespace scalelab {
namespace detail {
namespace {

constexpr const char* style =
    R"(body{font-family:sans-serif;color:#222;max-width:1180px;margin:1.5em auto;padding:0 1em;line-height:1.4}
h1{font-size:1.7em}h2{margin-top:1.8em;border-bottom:1px solid #ddd;padding-bottom:.2em}
table{border-collapse:collapse;margin:.8em 0;font-size:.9em;display:block;overflow-x:auto}
th,td{border:1px solid #ccc;padding:.25em .55em;text-align:right;white-space:nowrap}
th{background:#f2f2f2}td.text,th.text{text-align:left;white-space:normal}
tr.noisy td{background:#fff6e0}tr.failed td{background:#fde8e8}
tr.impossible td{background:#fbdada}tr.impossible td.text{font-weight:bold}
.interrupted{background:#fde8e8;border:1px solid #d55e00;padding:.5em .8em}
.warnings li{color:#8a4b00}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(480px,1fr));gap:8px}
.charts svg{width:100%;height:auto;border:1px solid #eee}
)";

// One table row; the first and last cells are text (left-aligned), the rest figures.
std::string row_html(const std::vector<std::string>& cells, const char* tag,
                     const std::string& row_class = "") {
  std::string out = row_class.empty() ? "<tr>" : fmt::format("<tr class=\"{}\">", row_class);
  for (std::size_t i = 0; i < cells.size(); ++i) {
    const bool text = i == 0 || i + 1 == cells.size();
    out +=
        fmt::format("<{0}{1}>{2}</{0}>", tag, text ? " class=\"text\"" : "", xml_escape(cells[i]));
  }
  return out + "</tr>\n";
}

std::string class_attribute(const std::string& css) {
  return css.empty() ? "" : fmt::format(" class=\"{}\"", css);
}

// One block as HTML.
std::string block_html(const Block& block) {
  struct Visitor {
    std::string operator()(const Heading& h) const {
      return fmt::format("<h{0}>{1}</h{0}>\n", h.level, xml_escape(h.text));
    }
    std::string operator()(const Paragraph& p) const {
      return fmt::format("<p{}>{}{}</p>\n", class_attribute(p.css),
                         p.lead.empty() ? "" : "<strong>" + xml_escape(p.lead) + "</strong> ",
                         xml_escape(p.text));
    }
    std::string operator()(const List& list) const {
      std::string out = fmt::format("<ul{}>\n", class_attribute(list.css));
      for (const auto& item : list.items) {
        if (item.lead.empty()) {
          out += fmt::format("<li>{}</li>\n", xml_escape(item.text));
        } else if (item.strong) {
          out += fmt::format("<li><strong>{}</strong>: {}</li>\n", xml_escape(item.lead),
                             xml_escape(item.text));
        } else {
          out += fmt::format("<li>{}: {}</li>\n", xml_escape(item.lead), xml_escape(item.text));
        }
      }
      return out + "</ul>\n";
    }
    std::string operator()(const Table& table) const {
      std::string out = "<table>\n" + row_html(table.header, "th");
      for (const auto& row : table.rows) out += row_html(row.cells, "td", row.css);
      return out + "</table>\n";
    }
    std::string operator()(const Charts& charts) const {
      std::string out = "<div class=\"charts\">\n";
      for (const Chart& chart : charts.charts) out += render_svg(chart);
      return out + "</div>\n";
    }
  };
  return std::visit(Visitor{}, block);
}

}  // namespace

std::string to_html(const Document& document) {
  std::string out = fmt::format(
      "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      "<title>{0}</title>\n<style>\n{1}</style>\n</head>\n<body>\n<h1>{0}</h1>\n",
      xml_escape(document.title), style);
  for (const Block& block : document.blocks) out += block_html(block);
  out += "</body>\n</html>\n";
  return out;
}

}  // namespace detail

std::string render_html(const AnalysedRun& input) {
  return detail::to_html(detail::run_document(input));
}

}  // namespace scalelab
