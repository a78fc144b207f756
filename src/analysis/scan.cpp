// The analysis of a scan: one analysis per point of its axes, and conclusions across each
// axis, written from the figures of the points it connects.

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "analysis/wording.hpp"
#include "scalelab/analysis.hpp"
#include "scalelab/trial.hpp"

namespace scalelab {
namespace {

using detail::times;
using detail::workers_text;

// Two leads within this share of each other read as "stayed at about".
constexpr double kSameLead = 0.05;

// The points of each workload's counted trials that no other point of it contains: the points
// the analysis reports. A trial at a smaller point (a model that does not take a scanned
// parameter) belongs to each of them that contains it.
std::map<std::string, std::vector<nlohmann::json>> points_by_workload(
    const std::vector<Trial>& trials) {
  std::map<std::string, std::vector<nlohmann::json>> seen;
  for (const auto& t : trials) {
    auto& points = seen[t.workload];
    if (std::find(points.begin(), points.end(), t.point) == points.end()) {
      points.push_back(t.point);
    }
  }
  std::map<std::string, std::vector<nlohmann::json>> widest;
  for (const auto& [workload, points] : seen) {
    for (const auto& p : points) {
      const bool contained = std::any_of(points.begin(), points.end(), [&](const auto& q) {
        return q != p && point_within(p, q);
      });
      if (!contained) widest[workload].push_back(p);
    }
  }
  return widest;
}

void tag(Analysis& a, const nlohmann::json& point) {
  for (auto& r : a.rows) r.point = point;
  for (auto& p : a.workloads) p.point = point;
  for (auto& f : a.fits) f.point = point;
  for (auto& c : a.conclusions) c.point = point;
}

// `point` without `key`.
nlohmann::json without(nlohmann::json point, const std::string& key) {
  point.erase(key);
  return point;
}

// The largest worker count at which both models have figures at every point of the line.
int common_workers(const Analysis& a, const std::string& workload,
                   const std::vector<nlohmann::json>& line, const std::string& m1,
                   const std::string& m2) {
  int best = 0;
  for (const auto& r : a.rows) {
    if (r.workload != workload || r.point != line.front() || r.model != m1) continue;
    const bool everywhere = std::all_of(line.begin(), line.end(), [&](const auto& p) {
      return a.find(workload, p, m1, r.workers) && a.find(workload, p, m2, r.workers);
    });
    if (everywhere) best = std::max(best, r.workers);
  }
  return best;
}

// "async's", "threads'".
std::string possessive(const std::string& name) {
  return name.ends_with('s') ? name + "'" : name + "'s";
}

// "grew from 1.0× at tasks=100 to 3.1× at tasks=10000", "stayed at about 2.0× from … to …".
std::string trend(double first, double last, const std::string& from, const std::string& to) {
  if (std::abs(last - first) <= kSameLead * std::max(first, last)) {
    return fmt::format("stayed at about {} from {} to {}", times(last), from, to);
  }
  return fmt::format("{} from {} at {} to {} at {}", last > first ? "grew" : "shrank", times(first),
                     from, times(last), to);
}

// Which row stands for a model at each point of a line: every point's at one worker count
// (`at`), or, when no count is shared at every point (--workers tasks: W = tasks), each point's
// largest worker count.
struct RowPick {
  int at = 0;         // 0: each point's largest
  std::string label;  // "at 4 workers", "with one worker per task"

  const SummaryRow* row(const Analysis& a, const std::string& workload, const nlohmann::json& p,
                        const std::string& model) const {
    if (at > 0) return a.find(workload, p, model, at);
    int largest = 0;
    for (const auto& r : a.rows) {
      if (r.workload == workload && r.point == p && r.model != "serial" && r.trials > 0) {
        largest = std::max(largest, r.workers);
      }
    }
    return a.find(workload, p, model, largest);
  }
};

// The worker count two of `models` share at every point of `line` (the largest), or else each
// point's largest, said as one worker per task when it is the point's task count.
RowPick pick_rows(const Analysis& a, const std::string& workload,
                  const std::vector<nlohmann::json>& line, const std::vector<std::string>& models) {
  RowPick pick;
  for (std::size_t i = 0; i < models.size(); ++i) {
    for (std::size_t j = i + 1; j < models.size(); ++j) {
      pick.at = std::max(pick.at, common_workers(a, workload, line, models[i], models[j]));
    }
  }
  if (pick.at > 0) {
    pick.label = "at " + workers_text(pick.at);
    return pick;
  }
  const bool per_task = std::all_of(line.begin(), line.end(), [&](const auto& p) {
    const SummaryRow* r = pick.row(a, workload, p, models.front());
    return r && p.contains("tasks") && p.at("tasks") == r->workers;
  });
  pick.label = per_task ? "with one worker per task" : "at each value's largest worker count";
  return pick;
}

// Each of `models` with figures at every point of `line` as `pick` reads them: its rows at the
// first and at the last point, in the models' order.
using Ends = std::pair<const SummaryRow*, const SummaryRow*>;
std::vector<Ends> rows_at_ends(const Analysis& a, const std::string& workload,
                               const std::vector<nlohmann::json>& line,
                               const std::vector<std::string>& models, const RowPick& pick) {
  std::vector<Ends> ends;
  for (const auto& m : models) {
    if (std::all_of(line.begin(), line.end(),
                    [&](const auto& p) { return pick.row(a, workload, p, m) != nullptr; })) {
      ends.emplace_back(pick.row(a, workload, line.front(), m),
                        pick.row(a, workload, line.back(), m));
    }
  }
  return ends;
}

// "mixed at 8 workers, speedup from cpu-fraction=0 % to cpu-fraction=100 %: threads 7.99× →
// 1.95×, async 8.02× → 1.00×": where each model's curve went along the axis.
std::optional<std::string> speedups_sentence(const std::string& workload, const RowPick& pick,
                                             const std::vector<Ends>& ends, const std::string& from,
                                             const std::string& to) {
  std::string list;
  for (const auto& [first, last] : ends) {
    if (!first->speedup || !last->speedup) return std::nullopt;
    list += fmt::format("{}{} {} → {}", list.empty() ? "" : ", ", first->model,
                        times(*first->speedup), times(*last->speedup));
  }
  return fmt::format("{} {}, speedup from {} to {}: {}", workload, pick.label, from, to, list);
}

// Sentences along one axis of one workload: at the last value, the fastest model's lead over
// the next fastest, from the first value to the last, compared as pick_rows says, and every
// model's speedup at both ends; with one parallel model, its speedup along the axis.
std::vector<Conclusion> along_axis(const Analysis& a, const std::string& workload,
                                   const std::string& key,
                                   const std::vector<nlohmann::json>& line) {
  const std::string from = point_text({{key, line.front().at(key)}});
  const std::string to = point_text({{key, line.back().at(key)}});
  std::vector<std::string> models;
  for (const auto& r : a.rows) {
    if (r.workload == workload && r.point == line.back() && r.model != "serial" && r.trials > 0 &&
        std::find(models.begin(), models.end(), r.model) == models.end()) {
      models.push_back(r.model);
    }
  }
  const nlohmann::json fixed = without(line.front(), key);
  if (models.size() == 1) {
    const int w = common_workers(a, workload, line, models[0], models[0]);
    const SummaryRow* first = w > 0 ? a.find(workload, line.front(), models[0], w) : nullptr;
    const SummaryRow* end = w > 0 ? a.find(workload, line.back(), models[0], w) : nullptr;
    if (!first || !end || !first->speedup || !end->speedup) return {};
    return {{workload,
             fmt::format("{}: {} speedup at {} {}", workload, possessive(models[0]),
                         workers_text(w), trend(*first->speedup, *end->speedup, from, to)),
             fixed}};
  }
  if (models.size() < 2) return {};
  const RowPick pick = pick_rows(a, workload, line, models);
  const std::vector<Ends> ends = rows_at_ends(a, workload, line, models, pick);
  if (ends.size() < 2) return {};
  std::vector<Ends> ranked = ends;  // by the last point's median
  std::stable_sort(ranked.begin(), ranked.end(), [](const auto& x, const auto& y) {
    return x.second->wall.median < y.second->wall.median;
  });
  const auto& [best_first, best_last] = ranked[0];
  const auto& [second_first, second_last] = ranked[1];
  const double lead_last = second_last->wall.median / best_last->wall.median;
  const double lead_first = second_first->wall.median / best_first->wall.median;
  std::vector<Conclusion> out;
  // Level at both ends: the first point's order may be either way round, within the margin.
  if (lead_last <= 1 + kSameLead && lead_first <= 1 + kSameLead &&
      lead_first >= 1 / (1 + kSameLead)) {
    out.push_back(
        {workload,
         fmt::format("{}: {}, {} and {} stayed level (within {:.0f} %) from {} to {}", workload,
                     pick.label, best_last->model, second_last->model, kSameLead * 100, from, to),
         fixed});
  } else {
    out.push_back({workload,
                   fmt::format("{}: {}, {} lead over {} {}", workload, pick.label,
                               possessive(best_last->model), second_last->model,
                               trend(lead_first, lead_last, from, to)),
                   fixed});
  }
  if (auto text = speedups_sentence(workload, pick, ends, from, to)) {
    out.push_back({workload, std::move(*text), fixed});
  }
  return out;
}

// The conclusions across each axis: one per line of the scan.
std::vector<Conclusion> across_axes(const Analysis& a, const std::vector<ScanAxis>& axes) {
  std::vector<Conclusion> out;
  for (const auto& line : scan_lines(a, axes)) {
    for (auto& c : along_axis(a, line.workload, line.key, line.points)) {
      out.push_back(std::move(c));
    }
  }
  return out;
}

}  // namespace

const SummaryRow* Analysis::find(const std::string& workload, const nlohmann::json& point,
                                 const std::string& model, int workers) const {
  for (const auto& r : rows) {
    if (r.workload == workload && r.point == point && r.model == model && r.workers == workers &&
        r.trials > 0) {
      return &r;
    }
  }
  return nullptr;
}

std::vector<ScanLine> scan_lines(const Analysis& analysis, const std::vector<ScanAxis>& axes) {
  std::vector<std::string> workloads;
  for (const auto& p : analysis.workloads) {
    if (std::find(workloads.begin(), workloads.end(), p.workload) == workloads.end()) {
      workloads.push_back(p.workload);
    }
  }
  const auto ran = [&](const std::string& workload, const nlohmann::json& point) {
    return std::any_of(analysis.workloads.begin(), analysis.workloads.end(),
                       [&](const auto& w) { return w.workload == workload && w.point == point; });
  };
  std::vector<ScanLine> lines;
  for (const auto& workload : workloads) {
    for (const auto& axis : axes) {
      std::vector<nlohmann::json> fixed_seen;
      for (const auto& start : analysis.points) {
        if (!start.contains(axis.key)) continue;
        ScanLine line{workload, axis.key, without(start, axis.key), {}};
        if (std::find(fixed_seen.begin(), fixed_seen.end(), line.fixed) != fixed_seen.end()) {
          continue;
        }
        fixed_seen.push_back(line.fixed);
        for (const auto& p : analysis.points) {
          if (p.contains(axis.key) && without(p, axis.key) == line.fixed && ran(workload, p)) {
            line.points.push_back(p);
          }
        }
        if (line.points.size() >= 2) lines.push_back(std::move(line));
      }
    }
  }
  return lines;
}

Analysis analyze_points(const std::vector<Trial>& trials,
                        const std::vector<std::string>& workload_order,
                        const std::vector<std::string>& model_order, const AnalysisOptions& options,
                        const std::vector<ScanAxis>& axes) {
  const auto widest = points_by_workload(trials);
  std::vector<nlohmann::json> points;
  for (const auto& [workload, list] : widest) {
    for (const auto& p : list) {
      if (std::find(points.begin(), points.end(), p) == points.end()) points.push_back(p);
    }
  }
  if (points.size() <= 1 && (points.empty() || points.front().empty())) {
    return analyze(trials, workload_order, model_order, options);
  }
  std::stable_sort(points.begin(), points.end(), [&](const auto& x, const auto& y) {
    const auto rx = point_rank(axes, x), ry = point_rank(axes, y);
    return rx != ry ? rx < ry : x.dump() < y.dump();
  });
  Analysis merged;
  merged.cores = options.cores;
  merged.points = points;
  for (const auto& point : points) {
    std::vector<Trial> members;
    for (const auto& t : trials) {
      const auto it = widest.find(t.workload);
      if (it == widest.end() || !point_within(t.point, point)) continue;
      // A trial counts for a point only when the point is one of its workload's own.
      if (std::find(it->second.begin(), it->second.end(), point) == it->second.end()) continue;
      members.push_back(t);
    }
    Analysis a = analyze(members, workload_order, model_order, options);
    tag(a, point);
    for (auto& r : a.rows) merged.rows.push_back(std::move(r));
    for (auto& p : a.workloads) merged.workloads.push_back(std::move(p));
    for (auto& f : a.fits) merged.fits.push_back(std::move(f));
    for (auto& c : a.conclusions) merged.conclusions.push_back(std::move(c));
  }
  for (auto& c : across_axes(merged, axes)) merged.conclusions.push_back(std::move(c));
  return merged;
}

}  // namespace scalelab
