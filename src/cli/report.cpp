// `scalelab report` and `scalelab compare`: saved runs analysed again.

#include <sched.h>
#include <unistd.h>

#include <pthread.h>

#include <sched.h>
#include <unistd.h>

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <stop_token>
#include <thread>

#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include "scalelab/scalelab.hpp"
#include "support/json_field.hpp"

#include "cli/commands.hpp"

namespace scalelab::cli {
namespace fs = std::filesystem;

void print_conclusions(std::ostream& out, const std::vector<Conclusion>& conclusions) {
  if (conclusions.empty()) return;
  out << "\nConclusions\n";
  for (const auto& c : conclusions) {
    // A scan's conclusion says which point (or which values of the other axes) it is about.
    const std::string at = point_text(c.point);
    out << "  - " << (at.empty() ? "" : fmt::format("[{}] ", at)) << c.text << "\n";
  }
}

namespace {

// What `report` says on stderr before its tables: the warnings, and an interrupted run.
void print_facts(std::ostream& err, const RecordFacts& facts, const char* what) {
  for (const auto& w : facts.warnings) err << "warning: " << w << "\n";
  if (facts.interrupted) {
    err << fmt::format("note: the {} was interrupted: {} of {} planned trials are on record\n",
                       what, facts.recorded_trials, facts.planned_trials);
  }
}

// `scalelab report` of a granularity sweep's records.
int granularity_report(const RecordedRun& recorded, const fs::path& dir, bool quiet,
                       std::ostream& out, std::ostream& err) {
  const AnalysedGranularity report = analyze_granularity(recorded);
  write_reports(dir, report);
  if (!quiet) print_facts(err, report, "sweep");
  out << granularity_verdict(report.result) << "\n";
  if (!quiet) err << fmt::format("\nwrote {}/report.md, report.html\n", dir.string());
  return 0;
}

}  // namespace

// `scalelab report RESULTS [--out DIR]`: the analysis and reports of a saved run.
int report_command(const std::string& results, const std::string& out_dir, bool quiet,
                   std::ostream& out, std::ostream& err) {
  const fs::path source(results);
  const RecordedRun recorded = read_records(source);
  std::error_code ec;
  fs::path dir = out_dir.empty() ? (fs::is_directory(source, ec) ? source : source.parent_path())
                                 : fs::path(out_dir);
  if (dir.empty()) dir = ".";
  if (recorded.header.kind != "sweep" && recorded.header.kind != "granularity") {
    throw Error(fmt::format("{}: records of a '{}' run, which this scalelab does not know", results,
                            recorded.header.kind));
  }
  fs::create_directories(dir, ec);
  if (ec) throw Error(fmt::format("--out: cannot create '{}': {}", dir.string(), ec.message()));
  if (recorded.header.kind == "granularity") {
    return granularity_report(recorded, dir, quiet, out, err);
  }
  const AnalysedRun report = analyze_run(recorded);
  write_reports(dir, report);
  if (!quiet) print_facts(err, report, "run");
  print_console_tables(out, report.analysis.rows);
  print_conclusions(out, report.analysis.conclusions);
  if (!quiet) err << fmt::format("\nwrote {}/report.md, report.html\n", dir.string());
  return 0;
}

// `scalelab compare A B`: two saved runs side by side.
int compare_command(const std::string& a, const std::string& b, std::ostream& out,
                    std::ostream& err) {
  const RecordedRun run_a = read_records(a);
  const RecordedRun run_b = read_records(b);
  for (const auto& [name, run] : {std::pair{&a, &run_a}, std::pair{&b, &run_b}}) {
    if (run->header.kind != "sweep") {
      throw Error(
          fmt::format("compare: '{}' holds a {} run; compare takes two runs of "
                      "scalelab run",
                      *name, run->header.kind));
    }
  }
  for (const auto* run : {&run_a, &run_b}) {
    for (const auto& w : run->warnings) err << "warning: " << w << "\n";
  }
  // Differences that make a comparison unfair are worth a line before the verdicts.
  const auto differs = [&](nlohmann::json RunHeader::*section, const char* key) {
    const auto& xa = detail::field(run_a.header.*section, key);
    const auto& yb = detail::field(run_b.header.*section, key);
    if (xa != yb) err << fmt::format("note: {} differs: {} vs {}\n", key, xa.dump(), yb.dump());
  };
  // The task count and every plug-in parameter (the task sizes, start method, …): the fields
  // of the spec as recorded.
  differs(&RunHeader::spec, "tasks");
  for (const auto& declared : declared_params())
    differs(&RunHeader::spec, declared.param.key().c_str());
  for (const char* key : {"cpu_model", "usable_cores", "build_type", "runtimes"}) {
    differs(&RunHeader::environment, key);
  }
  const auto rows = compare_runs(run_a.trials, run_b.trials);
  if (rows.empty()) {
    out << "no (workload, model, workers) point was measured in both runs\n";
    return 0;
  }
  print_comparison(out, rows, a, b);
  return 0;
}

}  // namespace scalelab::cli
