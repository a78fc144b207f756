// Conclusions written from an Analysis: a few rules over its medians, speedups and their 95 %
// CIs, in the spirit of the seed's hand-written ones. Every sentence carries the figures it
// rests on, so a reader can check it against the table, and it says only what these rows show.
//
// Order (deterministic): per workload, in the profiles' order (then any workload only the rows
// name), the rules in order a, b/e, c, d, g, i, h; then the run-wide rule f.
//
// An impossible figure (SummaryRow::impossible) is never stated as a result: every sentence
// that quotes one says so and why, and rule h names the impossible points no sentence quoted.

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "analysis/wording.hpp"
#include "scalelab/analysis.hpp"

namespace scalelab {
namespace {

using detail::percent;
using detail::plain;
using detail::times;
using detail::workers_text;

// A gain counts only when the whole 95 % CI of the speedup lies above 1.2×: below that, pool
// start-up, scheduling and a noisy machine can explain the difference from serial.
constexpr double kGain = 1.2;
// A USL fit explaining less than this share of the variance gets no sentence of its own.
constexpr double kMinFitR2 = 0.8;
// Two models whose speedups differ by less than this are practically equal, whatever the CIs
// say: a 0.2 % edge is within what a different pool start or a cache line decides.
constexpr double kPracticallyEqual = 0.01;
// Rule h names at most this many impossible points of a workload one by one; the tables flag
// them all.
constexpr std::size_t kImpossibleNamed = 3;

// "faster by 90 %", "faster by 2.5 %": a small difference that is significant should not read
// as "0 %".
std::string relative_percent(double fraction) {
  const double p = fraction * 100;
  return p < 9.95 ? fmt::format("{:.1f} %", p) : fmt::format("{:.0f} %", p);
}

// The rows whose impossible figures a sentence has already named, so that rule h names only
// the rest.
using Mentioned = std::vector<const SummaryRow*>;

// "; threads at 2 workers is impossible: speedup 2.50× …" for a row a sentence quotes, empty when
// its figures are possible; remembers the mention.
std::string impossible_clause(const SummaryRow& row, Mentioned& mentioned) {
  if (!row.is_impossible()) return "";
  if (std::find(mentioned.begin(), mentioned.end(), &row) == mentioned.end())
    mentioned.push_back(&row);
  return fmt::format("; {} at {} is impossible: {}", row.model, workers_text(row.workers),
                     impossible_text(row));
}

// " against threads at 1 worker" for a speedup not measured against serial.
std::string against(const SummaryRow& row) {
  if (row.baseline.empty() || row.baseline == "serial") return "";
  std::string model = row.baseline;
  if (model.size() > 2 && model.ends_with("@1")) model.resize(model.size() - 2);
  // The baseline itself is 1× by definition, against nothing else.
  if (model == row.model && row.workers == 1) return "";
  return fmt::format(" against {} at 1 worker", model);
}

// The speedup CI a rule reads. A CI that is missing or not positive (no resamples were made)
// falls back to the estimate alone, so such an analysis still gets its conclusions, judged on
// the estimates; one that misses its own estimate is widened to include it, so that a rule
// never calls a difference significant because an interval excluded the very figure it states.
Interval speedup_ci(const SummaryRow& row) {
  const double s = *row.speedup;
  if (!row.speedup_ci || !(row.speedup_ci->high > 0) || row.speedup_ci->high < row.speedup_ci->low)
    return {s, s};
  return {std::min(row.speedup_ci->low, s), std::max(row.speedup_ci->high, s)};
}

double efficiency_of(const SummaryRow& row) {
  return row.efficiency ? *row.efficiency : *row.speedup / std::max(row.workers, 1);
}

// One (workload, model) speedup curve: its rows that have a speedup, by worker count.
struct Curve {
  std::string model;
  std::vector<const SummaryRow*> points;

  // The highest speedup; at a tie the fewer workers, which reach it more cheaply. A figure
  // that cannot be true is no one's best while the curve has a possible one.
  const SummaryRow* best() const {
    const SummaryRow* top = nullptr;
    for (const auto* p : points) {
      if (!top || (top->is_impossible() && !p->is_impossible()) ||
          (p->is_impossible() == top->is_impossible() && *p->speedup > *top->speedup))
        top = p;
    }
    return top;
  }
  const SummaryRow* at(int workers) const {
    for (const auto* p : points) {
      if (p->workers == workers) return p;
    }
    return nullptr;
  }
  int max_workers() const { return points.empty() ? 0 : points.back()->workers; }
};

// Everything the rules read about one workload.
struct WorkloadView {
  std::string name;
  const WorkloadProfile* profile = nullptr;
  std::vector<const SummaryRow*> rows;  // all of them, failed points included
  std::vector<Curve> curves;            // models other than serial, in row order
};

std::vector<WorkloadView> group(const Analysis& analysis) {
  std::vector<WorkloadView> views;
  const auto view_of = [&](const std::string& name) -> WorkloadView& {
    for (auto& v : views) {
      if (v.name == name) return v;
    }
    views.push_back({name, nullptr, {}, {}});
    return views.back();
  };
  for (const auto& profile : analysis.workloads) view_of(profile.workload).profile = &profile;
  for (const auto& row : analysis.rows) {
    WorkloadView& view = view_of(row.workload);
    view.rows.push_back(&row);
    // serial is the baseline every other model is measured against, not a curve of its own.
    if (row.model == "serial" || !row.speedup) continue;
    auto it = std::find_if(view.curves.begin(), view.curves.end(),
                           [&](const Curve& c) { return c.model == row.model; });
    if (it == view.curves.end()) {
      view.curves.push_back({row.model, {}});
      it = std::prev(view.curves.end());
    }
    it->points.push_back(&row);
  }
  for (auto& view : views) {
    for (auto& curve : view.curves) {
      std::stable_sort(curve.points.begin(), curve.points.end(),
                       [](const auto* a, const auto* b) { return a->workers < b->workers; });
    }
  }
  return views;
}

// Rule a: what bounds the workload, from the CPU its baseline kept busy per second of wall,
// naming that baseline when it is not a serial run.
std::string bound_sentence(const WorkloadView& view) {
  const WorkloadProfile& p = *view.profile;
  // Many workers and no run with one: the CPU counts the model's own cost of running them
  // (10000 threads' scheduling), so only a low figure says something about the task.
  if (p.bound == Boundness::unmeasured) {
    return fmt::format(
        "{} kept {:.2f} cores busy under its least busy model ({} at {}), with no serial or "
        "1-worker run: that includes the model's own cost of running {} workers, so how much the "
        "task itself computes is not measured; add serial to --model to tell.",
        view.name, p.serial_cpu_util, p.baseline_model, workers_text(p.baseline_workers),
        p.baseline_workers);
  }
  const std::string many = p.baseline_workers > 1 ? ", its own cost of running them included" : "";
  const std::string baseline =
      p.baseline_model == "serial"
          ? std::string("its serial run")
          : fmt::format("with no serial run, its baseline ({} at {})", p.baseline_model,
                        workers_text(p.baseline_workers));
  const std::string head = fmt::format("{} is {}: {} kept {:.2f} cores busy{}", view.name,
                                       to_string(p.bound), baseline, p.serial_cpu_util, many);
  switch (p.bound) {
    case Boundness::cpu_bound:
      return head + ".";
    case Boundness::wait_bound:
      return head + ", so workers can overlap the waiting.";
    case Boundness::mixed:
      return head + ", so it computes part of the time and waits the rest.";
    case Boundness::unmeasured:
      break;  // said above
  }
  return head + ".";
}

// Why a curve did not rise, from the data: the machine's ideal, the lock's hand-overs, the
// event loop, the cores that were busy; else no reason is claimed.
std::string no_gain_reason(const Curve& curve, Boundness bound, int cores) {
  double top_ideal = 0;
  for (const auto* p : curve.points) top_ideal = std::max(top_ideal, p->ideal);
  if (top_ideal <= kGain) {
    if (bound == Boundness::cpu_bound) {
      return fmt::format("with {} usable core{} the ideal is {}×", cores, cores == 1 ? "" : "s",
                         plain(top_ideal));
    }
    return fmt::format("the ideal speedup here is only {}×", plain(top_ideal));
  }
  const SummaryRow* most_switches = nullptr;
  for (const auto* p : curve.points) {
    const auto it = p->counters.find("gil_switches");
    if (it == p->counters.end() || !(it->second > 0)) continue;
    if (!most_switches || it->second > most_switches->counters.at("gil_switches"))
      most_switches = p;
  }
  if (most_switches) {
    return fmt::format("the lock serialises CPU work ({:.0f} lock hand-overs per trial at {})",
                       most_switches->counters.at("gil_switches"),
                       workers_text(most_switches->workers));
  }
  const SummaryRow& widest = *curve.points.back();
  if (curve.model == "async" && bound == Boundness::cpu_bound) {
    return fmt::format("one event loop runs CPU work one task at a time ({:.2f} cores busy at {})",
                       widest.cpu_util, workers_text(widest.workers));
  }
  if (bound != Boundness::wait_bound && widest.cpu_util <= kGain) {
    return fmt::format("only {:.2f} cores were busy at {}, so the CPU work ran one task at a time",
                       widest.cpu_util, workers_text(widest.workers));
  }
  return "no gain from more workers";
}

// Rules b and e: per model, the best speedup it reached significantly (CI low above 1.2×), or,
// when none did, the best it stayed at and why. A wait-bound workload's gain is the waiting
// overlapped (rule e), so its sentence names the ideal it approached.
void scaling_sentences(const WorkloadView& view, int cores, Mentioned& mentioned,
                       std::vector<Conclusion>& out) {
  const Boundness bound = view.profile ? view.profile->bound : Boundness::cpu_bound;
  const std::string head =
      view.profile ? fmt::format("{} ({})", view.name, to_string(bound)) : view.name;
  for (const auto& curve : view.curves) {
    // A model that ran at 1 worker only says nothing about more workers.
    if (curve.max_workers() < 2) continue;
    // The best significant gain, a possible figure before any impossible one (as best()).
    const SummaryRow* reached = nullptr;
    for (const auto* p : curve.points) {
      if (speedup_ci(*p).low <= kGain) continue;
      if (!reached || (reached->is_impossible() && !p->is_impossible()) ||
          (p->is_impossible() == reached->is_impossible() && *p->speedup > *reached->speedup))
        reached = p;
    }
    if (reached) {
      const std::string verb =
          bound == Boundness::wait_bound ? "overlapped the waiting:" : "reached";
      out.push_back({view.name, fmt::format("{}: {} {} {} at {}{} (efficiency {}, ideal {}×){}.",
                                            head, curve.model, verb, times(*reached->speedup),
                                            workers_text(reached->workers), against(*reached),
                                            percent(efficiency_of(*reached)), plain(reached->ideal),
                                            impossible_clause(*reached, mentioned))});
      continue;
    }
    const SummaryRow& best = *curve.best();
    out.push_back(
        {view.name,
         fmt::format("{}: {} stayed at {} (best, at {}{}) — {}{}.", head, curve.model,
                     times(*best.speedup), workers_text(best.workers), against(best),
                     no_gain_reason(curve, bound, cores), impossible_clause(best, mentioned))});
  }
}

// Rule c: each model against the best one (highest speedup anywhere on its curve), at the
// largest worker count (2 or more) both ran. CIs that overlap, or speedups less than 1 % apart:
// practically equal; else the faster one and by how much. Only speedups over the same
// baseline are compared.
void comparison_sentences(const WorkloadView& view, Mentioned& mentioned,
                          std::vector<Conclusion>& out) {
  const Curve* leader = nullptr;
  for (const auto& curve : view.curves) {
    if (curve.max_workers() < 2) continue;
    if (!leader || *curve.best()->speedup > *leader->best()->speedup) leader = &curve;
  }
  if (!leader) return;
  for (const auto& curve : view.curves) {
    if (&curve == leader) continue;
    const SummaryRow* a = nullptr;
    const SummaryRow* b = nullptr;
    for (auto it = curve.points.rbegin(); it != curve.points.rend() && !a; ++it) {
      if ((*it)->workers < 2) break;
      if (const SummaryRow* mine = leader->at((*it)->workers)) {
        a = mine;
        b = *it;
      }
    }
    if (!a || a->baseline != b->baseline) continue;
    const std::string where = fmt::format("{} at {}", view.name, workers_text(a->workers));
    const double low = std::min(*a->speedup, *b->speedup);
    const double high = std::max(*a->speedup, *b->speedup);
    const bool overlap = speedup_ci(*a).overlaps(speedup_ci(*b));
    if (overlap || !(low > 0) || high / low - 1 < kPracticallyEqual) {
      const std::string why = overlap || !(low > 0) ? std::string("95 % CIs overlap")
                                                    : fmt::format("{} apart, under 1 %",
                                                                  relative_percent(high / low - 1));
      std::string text =
          fmt::format("{}: {} {} and {} {} — practically equal ({})", where, a->model,
                      times(*a->speedup), b->model, times(*b->speedup), why);
      text += impossible_clause(*a, mentioned);
      text += impossible_clause(*b, mentioned);
      out.push_back({view.name, text + "."});
      continue;
    }
    if (*b->speedup > *a->speedup) std::swap(a, b);
    // "faster by 1094 %" reads badly: past twice as fast, say how many times.
    const double ratio = *a->speedup / *b->speedup;
    const std::string by = ratio >= 2 ? fmt::format("{:.1f} times as fast", ratio)
                                      : "faster by " + relative_percent(ratio - 1);
    std::string text = fmt::format("{}: {} {} vs {} {}: {} {}", where, a->model, times(*a->speedup),
                                   b->model, times(*b->speedup), a->model, by);
    text += impossible_clause(*a, mentioned);
    text += impossible_clause(*b, mentioned);
    out.push_back({view.name, text + "."});
  }
}

// Rule d: a curve that rose (a significant gain, as in rule b), peaked before its last worker
// count and then fell significantly (CIs apart); a curve that never rose is rule b's "stayed".
// And the USL fit's peak where one was fitted. A refused fit says nothing here: the
// report shows the refusal.
void peak_sentences(const WorkloadView& view, const Analysis& analysis, Mentioned& mentioned,
                    std::vector<Conclusion>& out) {
  const Boundness bound = view.profile ? view.profile->bound : Boundness::cpu_bound;
  for (const auto& curve : view.curves) {
    const SummaryRow* peak = curve.best();
    const SummaryRow* last = curve.points.empty() ? nullptr : curve.points.back();
    if (peak && last && peak->workers < last->workers && speedup_ci(*peak).low > kGain &&
        speedup_ci(*last).high < speedup_ci(*peak).low) {
      // Oversubscription is only the cause to name when workers outnumber cores and compete
      // for them, which waiting tasks do not.
      const std::string why =
          bound != Boundness::wait_bound && last->workers > analysis.cores
              ? fmt::format("more workers than the {} cores only add overhead", analysis.cores)
              : "the overhead of more workers ends the curve";
      std::string text =
          fmt::format("{} on {} peaked at {} ({}); at {} it fell to {} — {}", curve.model,
                      view.name, workers_text(peak->workers), times(*peak->speedup),
                      workers_text(last->workers), times(*last->speedup), why);
      text += impossible_clause(*peak, mentioned);
      text += impossible_clause(*last, mentioned);
      out.push_back({view.name, text + "."});
    }
    for (const auto& fit : analysis.fits) {
      // A peak is only worth a sentence for a curve that rose and a fit that describes it: a
      // flat curve (gil, async on CPU work) fits USL with σ near 1 and a meaningless "peak",
      // and a fit with a low R² explains little of what was measured.
      if (fit.workload != view.name || fit.model != curve.model || !fit.fitted() ||
          !fit.usl_peak_workers || fit.usl_r2 < kMinFitR2 || !peak ||
          speedup_ci(*peak).low <= kGain) {
        continue;
      }
      const double w_star = *fit.usl_peak_workers;
      // A peak past the measured range is the fit's extrapolation, and the sentence says so.
      const std::string beyond =
          last && w_star > last->workers
              ? fmt::format(", beyond the {} measured", workers_text(last->workers))
              : "";
      out.push_back({view.name, fmt::format("USL fit for {} on {}: σ = {:.2g}, κ = {:.2g}, peak "
                                            "near {:.0f} workers{} (R² {:.2f}).",
                                            curve.model, view.name, fit.usl_sigma, fit.usl_kappa,
                                            w_star, beyond, fit.usl_r2)});
    }
  }
}

// Rule g: failed trials, per (workload, model), with the worker counts they failed at.
void failure_sentences(const WorkloadView& view, std::vector<Conclusion>& out) {
  std::vector<std::string> models;
  for (const auto* row : view.rows) {
    if (row->failed > 0 && std::find(models.begin(), models.end(), row->model) == models.end())
      models.push_back(row->model);
  }
  for (const auto& model : models) {
    std::size_t failed = 0;
    std::vector<std::string> at, empty;
    for (const auto* row : view.rows) {
      if (row->model != model || row->failed == 0) continue;
      failed += row->failed;
      at.push_back(std::to_string(row->workers));
      if (row->trials == 0) empty.push_back(std::to_string(row->workers));
    }
    std::string text = fmt::format(
        "{} trial{} of {} on {} failed (at {} {}); the figures exclude "
        "{}",
        failed, failed == 1 ? "" : "s", model, view.name, fmt::join(at, ", "),
        at.size() == 1 && at[0] == "1" ? "worker" : "workers", failed == 1 ? "it" : "them");
    if (!empty.empty()) {
      text +=
          fmt::format(", and at {} {} no trial succeeded, so {} no figures", fmt::join(empty, ", "),
                      empty.size() == 1 && empty[0] == "1" ? "worker" : "workers",
                      empty.size() == 1 ? "that point has" : "those points have");
    }
    out.push_back({view.name, text + "."});
  }
}

// Rule i: how many of the workload's trials were disturbed (another process took the CPUs),
// and the points whose figures had to use them because no undisturbed trial ran there.
void disturbed_sentence(const WorkloadView& view, std::vector<Conclusion>& out) {
  std::size_t disturbed = 0, records = 0;
  std::vector<std::string> used;
  for (const auto* row : view.rows) {
    disturbed += row->disturbed;
    records += row->records;
    if (row->disturbed_used > 0) {
      used.push_back(fmt::format("{} at {} ({} of {})", row->model, workers_text(row->workers),
                                 row->disturbed_used, row->trials));
    }
  }
  if (disturbed == 0) return;
  const bool one = disturbed == 1;
  std::string text = fmt::format(
      "{} of the {} trials of {} on record {} disturbed (another process took the CPUs {} "
      "needed)",
      disturbed, records, view.name, one ? "was" : "were", one ? "it" : "they");
  if (used.empty()) {
    text += fmt::format("; the figures leave {} out.", one ? "it" : "them");
  } else {
    text += fmt::format("; the figures leave {} out except where no undisturbed trial ran: {}.",
                        one ? "it" : "them", fmt::join(used, ", "));
  }
  out.push_back({view.name, text});
}

// Whether a workload's own server (the socket workload's, whose CPU time the trials record
// apart as server_cpu_s) could have set the pace: its thread's busiest point, as a share of the
// wall time. Above 80 % the server, not the model, may be what that point measured.
void server_sentence(const WorkloadView& view, std::vector<Conclusion>& out) {
  const SummaryRow* busiest = nullptr;
  double most = -1;
  for (const auto* row : view.rows) {
    const auto it = row->counters.find("server_cpu_s");
    if (it == row->counters.end() || !(row->wall.median > 0)) continue;
    const double busy = it->second / row->wall.median;
    if (busy > most) most = busy, busiest = row;
  }
  if (!busiest) return;
  const std::string where = fmt::format("{} at {}", busiest->model, workers_text(busiest->workers));
  if (most >= 0.8) {
    out.push_back({view.name, fmt::format("{}'s server thread was busy {:.0f} % of the wall time ("
                                          "{}): there the server may have set the pace, not the "
                                          "model.",
                                          view.name, 100 * most, where)});
  } else {
    out.push_back({view.name, fmt::format("{}'s server thread was busy at most {:.0f} % of the "
                                          "wall time ({}), so it set the pace of no point.",
                                          view.name, 100 * most, where)});
  }
}

// Rule h: every impossible point no earlier sentence named, with what is impossible and its
// likely cause; past kImpossibleNamed, a count.
void impossible_sentences(const WorkloadView& view, const Mentioned& mentioned,
                          std::vector<Conclusion>& out) {
  std::size_t named = 0, more = 0;
  for (const auto* row : view.rows) {
    if (!row->is_impossible() ||
        std::find(mentioned.begin(), mentioned.end(), row) != mentioned.end())
      continue;
    if (named == kImpossibleNamed) {
      ++more;
      continue;
    }
    ++named;
    out.push_back({view.name, fmt::format("{} on {} at {} shows an impossible figure, not a "
                                          "result: {}.",
                                          row->model, view.name, workers_text(row->workers),
                                          impossible_text(*row))});
  }
  if (more > 0) {
    out.push_back(
        {view.name, fmt::format("{} more point{} of {} show{} impossible figures "
                                "(flagged in the tables).",
                                more, more == 1 ? "" : "s", view.name, more == 1 ? "s" : "")});
  }
}

// Rule f: how many points are noisy, naming the first few with the reason the analysis gave.
void noise_sentence(const Analysis& analysis, std::vector<Conclusion>& out) {
  constexpr std::size_t kNamed = 5;  // more would bury the sentence; the tables flag them all
  std::vector<std::string> named;
  std::size_t noisy = 0;
  for (const auto& row : analysis.rows) {
    if (!row.noisy) continue;
    if (++noisy <= kNamed) {
      named.push_back(fmt::format("{} on {} at {}{}", row.model, row.workload,
                                  workers_text(row.workers),
                                  row.noise_reason.empty() ? "" : " (" + row.noise_reason + ")"));
    }
  }
  if (noisy == 0) return;
  const std::string more = noisy > kNamed ? fmt::format(" and {} more", noisy - kNamed) : "";
  out.push_back({"", fmt::format("{} of {} points {} noisy: {}{}; differences there may be noise.",
                                 noisy, analysis.rows.size(), noisy == 1 ? "is" : "are",
                                 fmt::join(named, "; "), more)});
}

}  // namespace

std::vector<Conclusion> write_conclusions(const Analysis& analysis) {
  std::vector<Conclusion> out;
  for (const auto& view : group(analysis)) {
    Mentioned mentioned;
    if (view.profile) out.push_back({view.name, bound_sentence(view)});
    scaling_sentences(view, analysis.cores, mentioned, out);
    comparison_sentences(view, mentioned, out);
    peak_sentences(view, analysis, mentioned, out);
    failure_sentences(view, out);
    disturbed_sentence(view, out);
    server_sentence(view, out);
    impossible_sentences(view, mentioned, out);
  }
  noise_sentence(analysis, out);
  return out;
}

}  // namespace scalelab
