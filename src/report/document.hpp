#pragma once
// The section model every report is built as: a title and a list of blocks (headings,
// paragraphs, lists, tables, charts) holding plain text. sections.cpp builds a run's document
// and granularity_report.cpp a granularity sweep's; markdown.cpp and html.cpp each turn any
// document into their markup, and supply only that markup and its escaping. So the two reports
// cannot drift apart: there is one place that decides what a report says.

#include <string>
#include <variant>
#include <vector>

#include "scalelab/report.hpp"

namespace scalelab::detail {

struct Heading {
  int level = 2;  ///< 2 for a section, 3 for a subsection (the title is level 1)
  std::string text;
};

/// A paragraph; `lead`, when set, is a sentence shown in bold before the text.
struct Paragraph {
  std::string text;
  std::string lead;
  std::string css;  ///< the HTML class ("interrupted"); Markdown has none
};

/// One list item: "lead: text", the lead in bold when `strong` ("**cpu**: …"), or just text.
struct ListItem {
  std::string lead;
  std::string text;
  bool strong = false;
};

struct List {
  std::vector<ListItem> items;
  std::string css;  ///< the HTML class ("warnings")
};

struct TableRow {
  std::vector<std::string> cells;
  std::string css;  ///< the HTML row class: "failed", "impossible", "noisy" or none
};

/// A table whose first and last columns are text and the others figures: left- and
/// right-aligned respectively in both dialects.
struct Table {
  std::vector<std::string> header;
  std::vector<TableRow> rows;
};

/// Charts shown side by side: drawn by the HTML dialect (inline SVG), left out of Markdown,
/// whose tables carry the same figures.
struct Charts {
  std::vector<Chart> charts;
};

using Block = std::variant<Heading, Paragraph, List, Table, Charts>;

struct Document {
  std::string title;
  std::vector<Block> blocks;
};

/// A list item "label: value".
inline ListItem item(std::string label, std::string value) {
  return {std::move(label), std::move(value), false};
}

/// The bold line a report of an interrupted run opens its Run section with.
inline Paragraph interrupted_paragraph(const RecordFacts& facts) {
  return {"The figures below use the trials on record.",
          "Interrupted: " + std::to_string(facts.recorded_trials) + " of " +
              std::to_string(facts.planned_trials) + " planned trials recorded.",
          "interrupted"};
}

/// A chart on a log2 x axis, without series yet.
inline Chart log_chart(std::string title, std::string x_label, std::string y_label) {
  Chart c;
  c.title = std::move(title);
  c.x_label = std::move(x_label);
  c.y_label = std::move(y_label);
  return c;
}

/// The sections every report has: the machine the trials ran on, and the warnings.
void environment_section(Document& doc, const nlohmann::json& environment);
void warnings_section(Document& doc, const std::vector<std::string>& warnings);

/// The report of one analysed run: run, environment, warnings, per workload its table,
/// charts and fits, then the conclusions.
Document run_document(const AnalysedRun& run);

std::string to_markdown(const Document& document);
std::string to_html(const Document& document);

}  // namespace scalelab::detail
