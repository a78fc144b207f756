// `scalelab granularity`: the smallest task size a model still runs efficiently, run into a
// results folder like any run (records, resume, report).

#include <algorithm>
#include <filesystem>
#include <limits>
#include <string>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "cli/console.hpp"
#include "cli/signals.hpp"
#include "scalelab/scalelab.hpp"

namespace scalelab::cli {
namespace fs = std::filesystem;
namespace {

GranularityOptions make_options(const GranularityArgs& a) {
  GranularityOptions options;
  options.model = a.model;
  options.workload = a.workload;
  if (a.workers_given) {
    options.workers = static_cast<int>(parse_count(a.workers, "--workers", 1, kMaxWorkers));
  }
  if (a.sizes_given) {
    options.sizes.clear();
    for (const auto& size : parse_name_list(a.sizes, "--sizes")) {
      options.sizes.push_back(parse_duration(size, "--sizes"));
    }
  }
  options.repeat = static_cast<int>(parse_count(a.repeat, "--repeat", 1, 10000));
  options.min_batch = parse_duration(a.min_batch, "--min-batch");
  options.threshold = parse_fraction(a.threshold, "--threshold");
  options.seed = static_cast<std::uint64_t>(
      parse_count(a.seed, "--seed", 0, std::numeric_limits<std::int64_t>::max()));
  options.warmup = !a.no_warmup;
  options.rerun_disturbed =
      static_cast<int>(parse_count(a.rerun_disturbed, "--rerun-disturbed", 0, 100));
  const ParamValues given = parse_typed(a.params, a.params_given);
  check_taken(given, {}, {"serial", options.model});
  options.model_options.params = with_defaults(
      params_only(params_of(declared_params(), {}, {"serial", options.model})), given);
  validate(options);
  return options;
}

// The table's header, then a row per size as the session finishes it.
void print_header(std::ostream& out, const std::string& model) {
  out << fmt::format("{:>9} {:>8} {:>11} {:>11} {:>8} {:>11} {:>20}\n", "task", "tasks", "serial",
                     model, "speedup", "efficiency", "95 % CI");
}

void print_point(std::ostream& out, const GranularityPoint& p) {
  if (p.failed()) {
    out << fmt::format("{:>9} {:>8}  failed: {}\n", format_duration(p.task_s), p.tasks, p.error);
  } else {
    out << fmt::format(
        "{:>9} {:>8} {:>11} {:>11} {:>7.2f}x {:>10.0f}% {:>20}\n", format_duration(p.task_s),
        p.tasks, format_duration(p.serial.median), format_duration(p.parallel.median), p.speedup,
        p.efficiency * 100,
        fmt::format("[{:.0f}%, {:.0f}%]", p.efficiency_ci.low * 100, p.efficiency_ci.high * 100));
  }
  out << std::flush;
}

// A failed size fails the command, as a failed trial fails a run.
int with_points_checked(int code, const GranularitySession& g) {
  const auto& points = g.analysis.result.points;
  const bool any_failed = std::any_of(points.begin(), points.end(),
                                      [](const GranularityPoint& p) { return p.failed(); });
  return code == 0 && any_failed ? 1 : code;
}

}  // namespace

// `scalelab granularity --model M`: the smallest task size at which M still reaches the
// threshold efficiency at W = cores.
int granularity_command(const GranularityArgs& a, std::ostream& out, std::ostream& err,
                        bool* hung) {
  const GranularityOptions options = make_options(a);
  if (a.out_given && fs::path(a.out).extension() == ".json") {
    throw Error(fmt::format(
        "--out: '{}': granularity writes a results folder (results.jsonl, results.json, "
        "report.md, report.html) like run; give a folder name",
        a.out));
  }
  const fs::path dir = choose_out_dir(a.out, a.out_given, a.force);
  SignalWatch signals;
  Console console(signals, "granularity", !a.quiet, err);
  const int workers = options.workers > 0 ? options.workers : usable_cores();
  const auto start_line = [&](const SessionStart& s) {
    return fmt::format(
        "scalelab {}: granularity of {} at {} workers on {}: {} task sizes, {} trials each of "
        "serial and {}, {}; results in {}",
        version(), options.model, workers, options.workload, options.sizes.size(), options.repeat,
        options.model, estimate_text(s.estimate), s.folder.string());
  };
  print_header(out, options.model);
  const GranularitySession g = run_granularity_session(options, dir, console.observer(start_line),
                                                       [&](const auto& p) { print_point(out, p); });
  const int code = console.conclude(g.session, hung, [&] {
    out << "\n" << granularity_verdict(g.analysis.result) << "\n";
  });
  return with_points_checked(code, g);
}

// `scalelab granularity --resume DIR`: the trials of an interrupted sweep not on record yet.
int granularity_resume_command(const std::string& folder, bool chatty, std::ostream& out,
                               std::ostream& err, bool* hung) {
  check_resume_folder(folder, "sweep");
  SignalWatch signals;
  Console console(signals, "granularity", chatty, err);
  // What can be refused is refused before anything runs; later errors are not the flag's.
  std::string model;
  try {
    const RecordedRun recorded = read_records(folder);
    if (recorded.header.kind != "granularity") {
      throw Error(fmt::format("'{}' holds a {} run; continue it with scalelab run --resume", folder,
                              recorded.header.kind));
    }
    model = granularity_options_from_json(recorded.header.spec).model;
  } catch (const Error& e) {
    throw Error(fmt::format("--resume: {}", e.what()));
  }
  print_header(out, model);
  const GranularitySession g = resume_granularity_session(
      folder, console.observer(), [&](const auto& p) { print_point(out, p); });
  const int code = console.conclude(g.session, hung, [&] {
    out << "\n" << granularity_verdict(g.analysis.result) << "\n";
  });
  return with_points_checked(code, g);
}

}  // namespace scalelab::cli
