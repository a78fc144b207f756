// `scalelab granularity`: the smallest task size a model still runs efficiently.

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

// `scalelab granularity --model M`: the smallest task size at which M still reaches the
// threshold efficiency at W = cores.
int granularity_command(const GranularityArgs& a, std::ostream& out, std::ostream& err) {
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
  const ParamValues given = parse_typed(a.params, a.params_given);
  check_taken(given, {}, {"serial", options.model});
  options.model_options.params = with_defaults(
      params_only(params_of(declared_params(), {}, {"serial", options.model})), given);
  if (a.out_given && a.out.empty()) throw Error("--out: empty; give a file name");
  validate(options);

  const int workers = options.workers > 0 ? options.workers : usable_cores();
  if (!a.quiet) {
    err << fmt::format(
        "scalelab {}: granularity of {} at {} workers on {}: {} task sizes, {} trials each of "
        "serial and {}\n",
        version(), options.model, workers, options.workload, options.sizes.size(), options.repeat,
        options.model);
  }
  out << fmt::format("{:>9} {:>8} {:>11} {:>11} {:>8} {:>11} {:>20}\n", "task", "tasks", "serial",
                     options.model, "speedup", "efficiency", "95 % CI");
  const auto on_point = [&](const GranularityPoint& p) {
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
  };
  const GranularityResult result = run_granularity(options, on_point);

  // The verdict, with the figures it rests on.
  const auto& points = result.points;
  const int threshold_pct = static_cast<int>(std::lround(result.threshold * 100));
  if (!result.smallest_efficient_task_s) {
    out << fmt::format(
        "\n{} at {} workers: even {} tasks did not reach {} % efficiency; overhead dominates at "
        "every size tried\n",
        result.model, result.workers,
        points.empty() ? "the largest" : format_duration(points.front().task_s), threshold_pct);
  } else {
    const double edge = *result.smallest_efficient_task_s;
    const auto below = std::find_if(points.begin(), points.end(),
                                    [&](const GranularityPoint& p) { return p.task_s < edge; });
    const auto at = std::find_if(points.begin(), points.end(),
                                 [&](const GranularityPoint& p) { return p.task_s == edge; });
    if (below == points.end()) {
      out << fmt::format(
          "\n{} at {} workers: every size down to {} reached {} % efficiency ({:.0f} % there); "
          "the edge is below the sizes tried\n",
          result.model, result.workers, format_duration(edge), threshold_pct, at->efficiency * 100);
    } else {
      out << fmt::format(
          "\n{} at {} workers: tasks down to {} reach {} % efficiency ({:.0f} %); at {} it fell "
          "to {} — below about {} overhead dominates\n",
          result.model, result.workers, format_duration(edge), threshold_pct, at->efficiency * 100,
          format_duration(below->task_s),
          below->failed() ? std::string("a failure")
                          : fmt::format("{:.0f} %", below->efficiency * 100),
          format_duration(edge));
    }
  }
  if (a.out_given) {
    write_file_atomically(a.out, to_json(result).dump(2) + "\n");
    if (!a.quiet) err << fmt::format("wrote {}\n", a.out);
  }
  const bool any_failed = std::any_of(points.begin(), points.end(),
                                      [](const GranularityPoint& p) { return p.failed(); });
  return any_failed ? 1 : 0;
}

}  // namespace scalelab::cli
