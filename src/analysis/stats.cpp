// Descriptive statistics, bootstrap intervals, the per-point summary (which trials count,
// speedup, efficiency, ideal speedup, noise and impossible-figure flags), workload profiles,
// and the whole analysis put together.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <numeric>
#include <string>
#include <tuple>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "analysis/points.hpp"
#include "analysis/seeding.hpp"
#include "analysis/wording.hpp"
#include "scalelab/analysis.hpp"
#include "scalelab/parse.hpp"
#include "support/splitmix.hpp"

namespace scalelab {
namespace {

using detail::plain;
using detail::workers_text;

using detail::point_seed;
using detail::SplitMix64;

// The median of `values`, reordering them (nth_element is linear; a bootstrap takes thousands).
double median_in_place(std::vector<double>& values) {
  const std::size_t mid = values.size() / 2;
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(mid), values.end());
  const double upper = values[mid];
  if (values.size() % 2 == 1) return upper;
  const double lower =
      *std::max_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(mid));
  return (lower + upper) / 2;
}

// The median of a resample (with replacement) of `values`, drawn from `rng` into `scratch`.
double resampled_median(std::span<const double> values, SplitMix64& rng,
                        std::vector<double>& scratch) {
  scratch.resize(values.size());
  for (auto& v : scratch) v = values[rng.index(values.size())];
  return median_in_place(scratch);
}

// The 2.5 % and 97.5 % quantiles of the bootstrap replicates: the percentile interval
// (Efron & Tibshirani 1993, §13.3).
Interval percentile_interval(const std::vector<double>& replicates) {
  if (replicates.empty()) return {};
  return {quantile(replicates, 0.025), quantile(replicates, 0.975)};
}

// "CI overlaps 4 workers'" / "CI overlaps 1 worker's": whose interval this one overlaps.
std::string workers_possessive(int workers) {
  return workers == 1 ? "1 worker's" : fmt::format("{} workers'", workers);
}

// The ideal speedup of a non-serial point at `workers` for a workload so profiled.
double ideal_speedup(const WorkloadProfile& profile, int workers, int cores) {
  const double w = workers;
  const double by_cores = std::min(w, static_cast<double>(std::max(cores, 1)));
  // Without a task count (0) the tasks do not limit overlap.
  const double by_tasks = profile.tasks > 0 ? std::min(w, static_cast<double>(profile.tasks)) : w;
  switch (profile.bound) {
    case Boundness::cpu_bound:
      return by_cores;
    case Boundness::wait_bound:
      return by_tasks;
    case Boundness::mixed:
    case Boundness::unmeasured:  // u is an upper bound then, and so is cores / u
      // A run that keeps u cores busy serially can overlap at most cores / u such runs before
      // the CPU saturates; waiting overlaps up to the task count.
      return profile.serial_cpu_util > 0 ? std::min(by_tasks, by_cores / profile.serial_cpu_util)
                                         : by_tasks;
  }
  return by_cores;
}

// Flags `rows[i]` noisy when its CV is above the threshold or when its CI overlaps a
// neighbour's although the medians differ by more than 5 %: the noise then hides a
// difference the medians claim.
void flag_noise(std::vector<SummaryRow>& rows, std::size_t i, const AnalysisOptions& options) {
  auto& row = rows[i];
  // A CV needs two trials; a one-trial "interval" is no interval at all.
  if (row.trials < 2) return;
  if (row.wall.cv > options.noisy_cv) {
    row.noisy = true;
    row.noise_reason =
        fmt::format("CV {:.1f} % > {:.3g} %", row.wall.cv * 100, options.noisy_cv * 100);
    return;
  }
  const auto same_curve = [&](const SummaryRow& other) {
    return other.workload == row.workload && other.model == row.model;
  };
  // The nearest smaller and larger worker counts of the same curve that have an interval.
  const auto neighbour = [&](int step) -> const SummaryRow* {
    for (std::ptrdiff_t j = static_cast<std::ptrdiff_t>(i) + step;
         j >= 0 && j < static_cast<std::ptrdiff_t>(rows.size()) && same_curve(rows[j]); j += step) {
      if (rows[j].trials >= 2) return &rows[j];
    }
    return nullptr;
  };
  for (const SummaryRow* other : {neighbour(-1), neighbour(+1)}) {
    if (other == nullptr || row.wall.median <= 0 || other->wall.median <= 0) continue;
    const double difference = std::max(row.wall.median, other->wall.median) /
                                  std::min(row.wall.median, other->wall.median) -
                              1;
    if (difference > 0.05 && row.wall_ci.overlaps(other->wall_ci)) {
      row.noisy = true;
      row.noise_reason = fmt::format("CI overlaps {} although medians differ by {:.0f} %",
                                     workers_possessive(other->workers), difference * 100);
      return;
    }
  }
}

// How a sentence names a baseline row: "serial", "threads at 1 worker".
std::string baseline_name(const SummaryRow& base) {
  return base.model == "serial" ? std::string("serial")
                                : fmt::format("{} at {}", base.model, workers_text(base.workers));
}

// How far a CI bound may pass the ideal and still count as reaching it. The CI covers the
// spread between repeats, not what differs systematically between the baseline and the point
// (another thread or process, its memory placement, the clock speed it got): on the 2-core
// development VM processes and async at 1 worker ran 1-2 % faster than serial, with CIs clear
// of 1x. 3 % leaves that alone and flags what cannot be (2.42x on 2 cores is 21 % above).
constexpr double kRounding = 0.03;

// Why a speedup (or efficiency) can be above what the point could reach, from the figures:
// a noisy or disturbed baseline inflates every speedup over it; else the baseline simply ran
// slower than the point's workers did, which the CPU time (CPU-bound work) or the model's own
// 1-worker point shows.
std::string speed_cause(const SummaryRow& row, const SummaryRow& base, const SummaryRow* one_worker,
                        const WorkloadProfile* profile, const AnalysisOptions& options) {
  const std::string name = baseline_name(base);
  std::vector<std::string> causes;
  if (base.trials >= 2 && base.wall.cv > options.noisy_cv) {
    causes.push_back(fmt::format("baseline noise ({}'s CV is {:.1f} %)", name, base.wall.cv * 100));
  }
  std::vector<std::string> disturbed;
  if (base.disturbed_used > 0) {
    disturbed.push_back(
        fmt::format("{} of {}'s {} trials", base.disturbed_used, name, base.trials));
  }
  if (row.disturbed_used > 0) {
    disturbed.push_back(
        fmt::format("{} of this point's {} trials", row.disturbed_used, row.trials));
  }
  if (!disturbed.empty()) {
    causes.push_back(
        fmt::format("disturbed trials ({} were disturbed)", fmt::join(disturbed, " and ")));
  }
  if (!causes.empty()) return fmt::format("{}", fmt::join(causes, " or "));

  const std::string head = "the baseline ran slower than this point's workers could";
  const double base_cpu = base.cpu_util * base.wall.median;
  const double row_cpu = row.cpu_util * row.wall.median;
  if (profile != nullptr && profile->bound != Boundness::wait_bound && row_cpu > 0 &&
      row_cpu < base_cpu) {
    return fmt::format("{} ({} used {} of CPU for the tasks, this point {})", head, name,
                       format_duration(base_cpu), format_duration(row_cpu));
  }
  if (one_worker != nullptr && one_worker != &base && one_worker != &row &&
      one_worker->wall.median < base.wall.median) {
    return fmt::format("{} ({}'s median {} against {}'s {})", head, name,
                       format_duration(base.wall.median), baseline_name(*one_worker),
                       format_duration(one_worker->wall.median));
  }
  return fmt::format("{} ({}'s median {} is more than {}× this point's {})", head, name,
                     format_duration(base.wall.median), plain(row.ideal),
                     format_duration(row.wall.median));
}

// Flags the figures of `row` that cannot be true: a speedup above its ideal or an efficiency
// above 100 % even at the low end of the CI, and CPU use above the usable cores by more than
// the measurement grain. `base` is the row its speedup is measured against (null: none).
void flag_impossible(SummaryRow& row, const SummaryRow* base, const SummaryRow* one_worker,
                     const WorkloadProfile* profile, const AnalysisOptions& options) {
  if (row.trials == 0) return;
  if (base != nullptr && base != &row && row.speedup && row.speedup_ci) {
    const bool speedup = row.speedup_ci->low > row.ideal * (1 + kRounding);
    const bool efficiency =
        row.efficiency && row.efficiency_ci && row.efficiency_ci->low > 1 + kRounding;
    if (speedup || efficiency) {
      const std::string cause = speed_cause(row, *base, one_worker, profile, options);
      if (speedup) {
        row.impossible.push_back(
            {"speedup",
             fmt::format("speedup {:.2f}× above the ideal {}× (95 % CI {:.2f}×–{:.2f}×)",
                         *row.speedup, plain(row.ideal), row.speedup_ci->low, row.speedup_ci->high),
             cause});
      }
      if (efficiency) {
        row.impossible.push_back(
            {"efficiency",
             fmt::format("efficiency {:.0f} % above 100 % (95 % CI {:.0f}–{:.0f} %)",
                         *row.efficiency * 100, row.efficiency_ci->low * 100,
                         row.efficiency_ci->high * 100),
             cause});
      }
    }
  }
  const int cores = std::max(options.cores, 1);
  if (row.cpu_util > cores * (1 + options.cpu_tolerance)) {
    row.impossible.push_back(
        {"cpu_util", fmt::format("CPU use {:.2f} cores above the {} usable", row.cpu_util, cores),
         fmt::format("a measurement window ({:.2f} cores busy on average over {} trials: CPU "
                     "time counted over more than the interval it is divided by)",
                     row.cpu_util, format_duration(row.wall.median))});
  }
}

}  // namespace

Stats describe(std::span<const double> values) {
  Stats s;
  s.n = values.size();
  if (s.n == 0) return s;
  std::vector<double> sorted(values.begin(), values.end());
  std::sort(sorted.begin(), sorted.end());
  s.min = sorted.front();
  s.max = sorted.back();
  const std::size_t mid = s.n / 2;
  s.median = s.n % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  s.mean = std::accumulate(sorted.begin(), sorted.end(), 0.0) / static_cast<double>(s.n);
  if (s.n > 1) {
    double squares = 0;
    for (double v : sorted) squares += (v - s.mean) * (v - s.mean);
    s.stddev = std::sqrt(squares / static_cast<double>(s.n - 1));
  }
  s.cv = s.mean != 0 ? s.stddev / s.mean : 0;
  s.p90 = quantile(sorted, 0.9);
  return s;
}

double quantile(std::span<const double> values, double p) {
  if (values.empty()) return 0;
  std::vector<double> sorted(values.begin(), values.end());
  std::sort(sorted.begin(), sorted.end());
  // Hyndman & Fan (1996) type 7: h = (n − 1) p, interpolating between x[⌊h⌋] and x[⌊h⌋ + 1].
  const double h = (static_cast<double>(sorted.size()) - 1) * std::clamp(p, 0.0, 1.0);
  const auto below = static_cast<std::size_t>(std::floor(h));
  if (below + 1 >= sorted.size()) return sorted.back();
  return sorted[below] + (h - static_cast<double>(below)) * (sorted[below + 1] - sorted[below]);
}

Interval bootstrap_median_ci(std::span<const double> values, std::uint64_t seed, int resamples) {
  if (values.empty()) return {};
  if (values.size() == 1) return {values[0], values[0]};
  SplitMix64 rng(seed);
  std::vector<double> scratch, medians;
  medians.reserve(static_cast<std::size_t>(std::max(resamples, 0)));
  for (int r = 0; r < resamples; ++r) medians.push_back(resampled_median(values, rng, scratch));
  if (medians.empty()) {
    const double median = describe(values).median;
    return {median, median};
  }
  return percentile_interval(medians);
}

Interval bootstrap_ratio_ci(std::span<const double> numerator, std::span<const double> denominator,
                            std::uint64_t seed, int resamples) {
  if (numerator.empty() || denominator.empty()) return {};
  SplitMix64 rng(seed);
  std::vector<double> scratch, ratios;
  ratios.reserve(static_cast<std::size_t>(std::max(resamples, 0)));
  for (int r = 0; r < resamples; ++r) {
    const double top = resampled_median(numerator, rng, scratch);
    const double bottom = resampled_median(denominator, rng, scratch);
    // A zero median (no time measured) has no ratio; such replicates are left out.
    if (bottom != 0) ratios.push_back(top / bottom);
  }
  if (ratios.empty()) {
    const double bottom = describe(denominator).median;
    if (bottom == 0) return {};
    const double ratio = describe(numerator).median / bottom;
    return {ratio, ratio};
  }
  return percentile_interval(ratios);
}

const char* to_string(Boundness b) {
  switch (b) {
    case Boundness::cpu_bound:
      return "CPU-bound";
    case Boundness::wait_bound:
      return "wait-bound";
    case Boundness::mixed:
      return "mixed";
    case Boundness::unmeasured:
      return "bound not measured";
  }
  return "mixed";
}

std::vector<const Trial*> trials_in_figures(const std::vector<const Trial*>& point_records) {
  // Per planned repeat, the index (into point_records) of the attempt its figures use.
  std::map<int, std::size_t> chosen;
  for (std::size_t i = 0; i < point_records.size(); ++i) {
    const Trial& t = *point_records[i];
    if (t.warmup() || t.failed()) continue;
    const auto [it, fresh] = chosen.try_emplace(t.repeat, i);
    if (fresh) continue;
    const Trial& current = *point_records[it->second];
    // Undisturbed beats disturbed; between equals the later attempt wins (a rerun was made
    // because an earlier attempt was disturbed), and at the same attempt the later record.
    const bool better =
        t.disturbed != current.disturbed ? !t.disturbed : t.attempt >= current.attempt;
    if (better) it->second = i;
  }
  std::vector<std::size_t> picked;
  bool any_undisturbed = false;
  for (const auto& [repeat, i] : chosen) {
    picked.push_back(i);
    if (!point_records[i]->disturbed) any_undisturbed = true;
  }
  // A disturbed trial measured another process as much as this one: left out while the point
  // has any trial that was not.
  if (any_undisturbed) {
    std::erase_if(picked, [&](std::size_t i) { return point_records[i]->disturbed; });
  }
  std::sort(picked.begin(), picked.end());
  std::vector<const Trial*> used;
  used.reserve(picked.size());
  for (const std::size_t i : picked) used.push_back(point_records[i]);
  return used;
}

namespace {

// One point's row from its counted records: the figures of trials_in_figures(records).
SummaryRow point_row(const detail::PointKey& key, const std::vector<const Trial*>& records,
                     const AnalysisOptions& options) {
  SummaryRow row;
  row.workload = std::get<3>(key);
  row.model = std::get<4>(key);
  row.workers = std::get<2>(key);
  row.tasks = records.front()->tasks;
  row.records = records.size();
  for (const Trial* t : records) {
    if (t->failed()) ++row.failed;
    if (t->disturbed) ++row.disturbed;
  }
  std::vector<double> util, startup;
  std::map<std::string, std::vector<double>> counters;
  for (const Trial* t : trials_in_figures(records)) {
    row.wall_samples.push_back(t->wall_s);
    util.push_back(t->cpu_util());
    startup.push_back(t->startup_s);
    if (t->disturbed) ++row.disturbed_used;
    for (const auto& [name, value] : t->counters) counters[name].push_back(value);
    row.task_duration.merge(t->task_duration);
    row.start_delay.merge(t->start_delay);
  }
  row.trials = row.wall_samples.size();
  row.wall = describe(row.wall_samples);
  row.wall_ci = bootstrap_median_ci(
      row.wall_samples, point_seed(options.seed, "wall", row.workload, row.model, row.workers),
      options.resamples);
  row.cpu_util = describe(util).median;
  row.startup_s = describe(startup).median;
  // A counter a model reports in only some trials is the median of those that have it.
  for (const auto& [name, values] : counters) row.counters[name] = describe(values).median;
  return row;
}

constexpr std::size_t kNone = static_cast<std::size_t>(-1);

// Each row's baseline (serial for the workload; without it, the same model at 1 worker) and
// its own model's 1-worker row, as indices (kNone: none), since the impossible-figure check
// reads them again.
struct Baselines {
  std::vector<std::size_t> base, one_worker;
};

Baselines find_baselines(const std::vector<SummaryRow>& rows) {
  Baselines b{std::vector<std::size_t>(rows.size(), kNone),
              std::vector<std::size_t>(rows.size(), kNone)};
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto& row = rows[i];
    std::size_t base = kNone;
    for (std::size_t j = 0; j < rows.size() && base == kNone; ++j) {
      if (rows[j].workload == row.workload && rows[j].trials > 0 && rows[j].model == "serial") {
        base = j;
      }
    }
    for (std::size_t j = 0; j < rows.size(); ++j) {
      const auto& other = rows[j];
      if (other.workload == row.workload && other.model == row.model && other.workers == 1 &&
          other.trials > 0) {
        b.one_worker[i] = j;
      }
    }
    if (base == kNone) base = b.one_worker[i];
    if (base == kNone || row.trials == 0 || row.wall.median <= 0) continue;
    b.base[i] = base;
  }
  return b;
}

// Speedup and efficiency against the baseline, with their bootstrap CIs.
void set_speedup(SummaryRow& row, const SummaryRow& b, bool is_baseline,
                 const AnalysisOptions& options) {
  row.baseline = b.model == "serial" ? "serial" : b.model + "@1";
  row.speedup = b.wall.median / row.wall.median;
  row.efficiency = *row.speedup / row.workers;
  // The baseline against itself is 1 by definition, with no uncertainty to resample.
  row.speedup_ci =
      is_baseline ? Interval{1, 1}
                  : bootstrap_ratio_ci(
                        b.wall_samples, row.wall_samples,
                        point_seed(options.seed, "speedup", row.workload, row.model, row.workers),
                        options.resamples);
  row.efficiency_ci =
      Interval{row.speedup_ci->low / row.workers, row.speedup_ci->high / row.workers};
}

}  // namespace

std::vector<SummaryRow> summarize(const std::vector<Trial>& trials,
                                  const std::vector<std::string>& workload_order,
                                  const std::vector<std::string>& model_order,
                                  const AnalysisOptions& options) {
  // Names missing from the given orders go after them, in the order they first appear.
  detail::PointOrder order(workload_order, model_order);
  for (const auto& t : trials) order.add(t);
  // Every counted record of each point, in record order.
  std::map<detail::PointKey, std::vector<const Trial*>> groups;
  for (const auto& t : trials) {
    if (!t.warmup()) groups[order.key(t)].push_back(&t);
  }
  std::vector<SummaryRow> rows;
  for (const auto& [key, records] : groups) rows.push_back(point_row(key, records, options));
  const Baselines baselines = find_baselines(rows);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (baselines.base[i] != kNone) {
      set_speedup(rows[i], rows[baselines.base[i]], baselines.base[i] == i, options);
    }
  }
  // The ideal needs each workload's profile, which needs the rows' CPU utilisation first.
  const auto profiles = profile_workloads(rows, options);
  const auto profile_of = [&](const SummaryRow& row) -> const WorkloadProfile* {
    const auto it = std::find_if(profiles.begin(), profiles.end(),
                                 [&](const auto& p) { return p.workload == row.workload; });
    return it == profiles.end() ? nullptr : &*it;
  };
  for (auto& row : rows) {
    if (row.model == "serial") continue;
    if (const WorkloadProfile* profile = profile_of(row)) {
      row.ideal = ideal_speedup(*profile, row.workers, options.cores);
    }
  }
  for (std::size_t i = 0; i < rows.size(); ++i) flag_noise(rows, i, options);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto row_at = [&](std::size_t j) { return j == kNone ? nullptr : &rows[j]; };
    flag_impossible(rows[i], row_at(baselines.base[i]), row_at(baselines.one_worker[i]),
                    profile_of(rows[i]), options);
  }
  return rows;
}

std::string impossible_text(const SummaryRow& row) {
  std::string out;
  // Figures that share a cause (a speedup and its efficiency) are named together.
  for (std::size_t first = 0; first < row.impossible.size();) {
    std::size_t end = first + 1;
    while (end < row.impossible.size() && row.impossible[end].cause == row.impossible[first].cause)
      ++end;
    std::vector<std::string> reasons;
    for (std::size_t i = first; i < end; ++i) reasons.push_back(row.impossible[i].reason);
    if (!out.empty()) out += "; also ";
    out += fmt::format("{}; likely cause: {}", fmt::join(reasons, " and "),
                       row.impossible[first].cause);
    first = end;
  }
  return out;
}

std::vector<WorkloadProfile> profile_workloads(const std::vector<SummaryRow>& rows,
                                               const AnalysisOptions& options) {
  std::vector<std::string> order;
  for (const auto& row : rows) {
    if (std::find(order.begin(), order.end(), row.workload) == order.end()) {
      order.push_back(row.workload);
    }
  }
  std::vector<WorkloadProfile> profiles;
  for (const auto& workload : order) {
    // The baseline as summarize chooses it: serial, else the first model's 1-worker row; else
    // (--workers tasks) the least busy row at the fewest workers, whose CPU includes the least
    // of a model's own cost of running them. A row whose every trial failed measured nothing
    // and is passed over.
    const SummaryRow* serial = nullptr;
    const SummaryRow* one_worker = nullptr;
    const SummaryRow* fewest = nullptr;
    const SummaryRow* any = nullptr;
    for (const auto& row : rows) {
      if (row.workload != workload) continue;
      if (any == nullptr) any = &row;
      if (row.trials == 0) continue;
      if (serial == nullptr && row.model == "serial") serial = &row;
      if (one_worker == nullptr && row.workers == 1) one_worker = &row;
      if (fewest == nullptr || row.workers < fewest->workers ||
          (row.workers == fewest->workers && row.cpu_util < fewest->cpu_util)) {
        fewest = &row;
      }
    }
    const SummaryRow* base = serial ? serial : one_worker ? one_worker : fewest ? fewest : any;
    WorkloadProfile profile;
    profile.workload = workload;
    profile.serial_cpu_util = base->cpu_util;
    profile.tasks = base->tasks;
    profile.baseline_model = base->model;
    profile.baseline_workers = base->workers;
    if (profile.serial_cpu_util <= options.wait_bound_util) {
      profile.bound = Boundness::wait_bound;  // even with the model's own cost in it
    } else if (base->model != "serial" && base->workers > 1) {
      profile.bound = Boundness::unmeasured;
    } else if (profile.serial_cpu_util >= options.cpu_bound_util) {
      profile.bound = Boundness::cpu_bound;
    } else {
      profile.bound = Boundness::mixed;
    }
    profiles.push_back(profile);
  }
  return profiles;
}

Analysis analyze(const std::vector<Trial>& trials, const std::vector<std::string>& workload_order,
                 const std::vector<std::string>& model_order, const AnalysisOptions& options) {
  Analysis analysis;
  analysis.cores = options.cores;
  analysis.rows = summarize(trials, workload_order, model_order, options);
  analysis.workloads = profile_workloads(analysis.rows, options);
  // Rows are grouped by workload then model, so each curve is one run of consecutive rows.
  for (std::size_t first = 0; first < analysis.rows.size();) {
    std::size_t end = first;
    std::vector<int> workers;
    std::vector<double> speedups;
    for (; end < analysis.rows.size() &&
           analysis.rows[end].workload == analysis.rows[first].workload &&
           analysis.rows[end].model == analysis.rows[first].model;
         ++end) {
      if (analysis.rows[end].speedup) {
        workers.push_back(analysis.rows[end].workers);
        speedups.push_back(*analysis.rows[end].speedup);
      }
    }
    if (analysis.rows[first].model != "serial" && !speedups.empty()) {
      ScalingFit fit = fit_scaling(workers, speedups);
      fit.workload = analysis.rows[first].workload;
      fit.model = analysis.rows[first].model;
      analysis.fits.push_back(std::move(fit));
    }
    first = end;
  }
  analysis.conclusions = write_conclusions(analysis);
  // The seed's comparison of the two worlds comes first: it is the run's headline.
  if ((analysis.seed = seed_table(analysis.rows))) {
    auto seed = seed_sentences(*analysis.seed);
    analysis.conclusions.insert(analysis.conclusions.begin(), seed.begin(), seed.end());
  }
  return analysis;
}

nlohmann::json to_json(const SummaryRow& row) {
  const auto optional = [](const std::optional<double>& v) {
    return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
  };
  const auto interval = [](const std::optional<Interval>& v) {
    return v ? nlohmann::json::array({v->low, v->high}) : nlohmann::json(nullptr);
  };
  const bool any = row.trials > 0;
  const auto if_any = [any](double v) { return any ? nlohmann::json(v) : nlohmann::json(nullptr); };
  nlohmann::json counters = nlohmann::json::object();
  for (const auto& [name, value] : row.counters) counters[name] = value;
  nlohmann::json impossible = nlohmann::json::array();
  for (const auto& f : row.impossible) {
    impossible.push_back({{"figure", f.figure}, {"reason", f.reason}, {"cause", f.cause}});
  }
  return {
      {"workload", row.workload},
      {"point", row.point},
      {"model", row.model},
      {"workers", row.workers},
      {"tasks", row.tasks},
      {"trials", row.trials},
      {"failed", row.failed},
      {"records", row.records},
      {"disturbed", row.disturbed},
      {"disturbed_used", row.disturbed_used},
      {"median_s", if_any(row.wall.median)},
      {"mean_s", if_any(row.wall.mean)},
      {"min_s", if_any(row.wall.min)},
      {"max_s", if_any(row.wall.max)},
      {"p90_s", if_any(row.wall.p90)},
      {"stddev_s", if_any(row.wall.stddev)},
      {"cv", if_any(row.wall.cv)},
      {"ci_low_s", if_any(row.wall_ci.low)},
      {"ci_high_s", if_any(row.wall_ci.high)},
      {"speedup", optional(row.speedup)},
      {"speedup_ci", interval(row.speedup_ci)},
      {"efficiency", optional(row.efficiency)},
      {"efficiency_ci", interval(row.efficiency_ci)},
      {"ideal", row.ideal},
      {"baseline", row.baseline.empty() ? nlohmann::json(nullptr) : nlohmann::json(row.baseline)},
      {"cpu_util", if_any(row.cpu_util)},
      {"startup_s", if_any(row.startup_s)},
      {"counters", counters},
      {"task_duration", row.task_duration.to_json()},
      {"start_delay", row.start_delay.to_json()},
      {"noisy", row.noisy},
      {"noise_reason", row.noisy ? nlohmann::json(row.noise_reason) : nlohmann::json(nullptr)},
      {"impossible", row.is_impossible()},
      {"impossible_figures", impossible},
  };
}

nlohmann::json to_json(const ScalingFit& fit) {
  nlohmann::json json = {
      {"workload", fit.workload},
      {"point", fit.point},
      {"model", fit.model},
      {"points", fit.points},
      {"refused", fit.fitted() ? nlohmann::json(nullptr) : nlohmann::json(fit.refused)},
      {"amdahl", nullptr},
      {"usl", nullptr},
  };
  if (fit.fitted()) {
    json["amdahl"] = {{"serial_fraction", fit.amdahl_serial_fraction}, {"r2", fit.amdahl_r2}};
    json["usl"] = {
        {"sigma", fit.usl_sigma},
        {"kappa", fit.usl_kappa},
        {"lambda", fit.usl_lambda},
        {"r2", fit.usl_r2},
        {"peak_workers",
         fit.usl_peak_workers ? nlohmann::json(*fit.usl_peak_workers) : nlohmann::json(nullptr)},
    };
  }
  return json;
}

}  // namespace scalelab
