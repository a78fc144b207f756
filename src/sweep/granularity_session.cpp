// Running a granularity sweep: in memory (run_granularity), or into a results folder as any
// run goes (run_granularity_session, resumable), both through run_sweep.

#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "scalelab/error.hpp"
#include "scalelab/granularity.hpp"
#include "scalelab/report.hpp"
#include "scalelab/resume.hpp"
#include "sweep/session_parts.hpp"

namespace scalelab {
namespace fs = std::filesystem;

namespace detail {
// granularity.cpp: one size's point from its counted trials; the plan entry of a trial.
GranularityPoint size_point(const GranularityPlan& g, std::size_t index,
                            const std::vector<const Trial*>& trials);
std::size_t size_index(const GranularityPlan& g, const Trial& t);
bool size_complete(const GranularityPlan& g, std::size_t index,
                   const std::vector<const Trial*>& trials);
}  // namespace detail

namespace {

// Tells each size's point as it is done: once the next size's first trial is in (a disturbed
// trial may be rerun right after it, so the last planned trial alone does not end a size),
// and the last size's at the end. `earlier` are trials already on record (a resumed sweep).
class PointTeller {
 public:
  PointTeller(const GranularityPlan& g, std::function<void(const GranularityPoint&)> on_point,
              std::vector<Trial> earlier = {})
      : g_(g), on_point_(std::move(on_point)), trials_(std::move(earlier)) {}

  void trial(const Trial& trial) {
    const std::size_t index = detail::size_index(g_, trial);
    if (index != current_) tell();
    current_ = index;
    if (!trial.warmup()) trials_.push_back(trial);
  }
  void tell() { tell(current_); }
  // Size `index`'s point, once all its trials are in.
  void tell(std::size_t index) {
    if (!on_point_ || index == std::string::npos) return;
    std::vector<const Trial*> of_size;
    for (const Trial& t : trials_) {
      if (detail::size_index(g_, t) == index) of_size.push_back(&t);
    }
    if (detail::size_complete(g_, index, of_size)) {
      on_point_(detail::size_point(g_, index, of_size));
    }
  }
  const std::vector<Trial>& trials() const { return trials_; }

 private:
  const GranularityPlan& g_;
  std::function<void(const GranularityPoint&)> on_point_;
  std::vector<Trial> trials_;
  std::size_t current_ = std::string::npos;
};

// The observer a session's run gets: the caller's, and the points told as sizes finish.
SessionObserver with_points(const SessionObserver& observer, PointTeller& teller) {
  SessionObserver o = observer;
  o.on_trial = [&observer, &teller](const Trial& t, std::size_t done, std::size_t total) {
    teller.trial(t);
    if (observer.on_trial) observer.on_trial(t, done, total);
  };
  return o;
}

// How long `plan` (all of g's, or what is left of it) should take, at the loop's speed.
PlanEstimate estimate(const GranularityPlan& g, const Plan& plan) {
  const nlohmann::json calibration{{g.options.workload, {{"iters_per_s", g.options.iters_per_s}}}};
  return estimate_plan(plan, calibration, g.cores);
}

// After the trials: the records read back, analysed, and the final files written.
GranularitySession finish(SessionResult session, const fs::path& folder,
                          const SessionObserver& observer) {
  const RecordedRun recorded = detail::read_back(folder, observer);
  GranularitySession out;
  out.analysis = analyze_granularity(recorded);
  session.planned_trials = out.analysis.planned_trials;
  session.recorded_trials = out.analysis.recorded_trials;
  out.session = std::move(session);
  detail::tell(observer.on_phase, "writing the final files and reports");
  write_trials_csv(folder / "results.csv", recorded.trials);
  write_json_file(folder / "results.json", results_json(recorded, out.analysis));
  write_reports(folder, out.analysis);
  return out;
}

}  // namespace

GranularityResult run_granularity(const GranularityOptions& options,
                                  const std::function<void(const GranularityPoint&)>& on_point) {
  const GranularityPlan g = plan_granularity(options);
  PointTeller teller(g, on_point);
  RunObserver observer;
  observer.on_trial = [&](const Trial& trial, std::size_t, std::size_t) { teller.trial(trial); };
  run_sweep(g.plan, observer);
  teller.tell();
  return granularity_result(g, teller.trials());
}

GranularitySession run_granularity_session(
    const GranularityOptions& options, const fs::path& folder, const SessionObserver& observer,
    const std::function<void(const GranularityPoint&)>& on_point) {
  detail::tell(observer.on_phase, "calibration");
  const GranularityPlan g = plan_granularity(options);
  if (observer.stop.stop_requested()) return {detail::stopped_in("calibration"), {}};
  RunHeader header;
  header.kind = "granularity";
  header.spec = to_json(g.options);
  header.calibration = {{"workload", g.options.workload},
                        {"iters_per_s", g.options.iters_per_s},
                        {"measured_s", g.measured_s}};
  for (const auto& w : g.plan.workloads) header.workload_specs.push_back(to_json(w.spec));
  header.planned_trials = g.plan.counted();
  header.warmup_trials = g.plan.trials.size() - g.plan.counted();
  RecordWriter records = detail::open_records(folder, header, observer);
  if (observer.on_start) {
    observer.on_start({folder,
                       g.plan.counted(),
                       0,
                       g.plan.counted(),
                       header.warmup_trials,
                       {},
                       g.options.seed,
                       false,
                       estimate(g, g.plan)});
  }
  PointTeller teller(g, on_point);
  SessionResult session =
      detail::record_plan(g.plan, records, folder, with_points(observer, teller));
  teller.tell();
  return finish(std::move(session), folder, observer);
}

GranularitySession resume_granularity_session(
    const fs::path& folder, const SessionObserver& observer,
    const std::function<void(const GranularityPoint&)>& on_point) {
  const RecordedRun recorded = detail::read_to_continue(folder, observer);
  GranularityPlan g;
  try {
    if (recorded.header.kind != "granularity") {
      throw Error(
          fmt::format("the records are of a {} run; continue it with scalelab run "
                      "--resume",
                      recorded.header.kind));
    }
    g = plan_granularity(granularity_options_from_json(recorded.header.spec));
  } catch (const Error& e) {
    throw Error(fmt::format("cannot continue '{}': {}", folder.string(), e.what()));
  }
  const Plan rest = remaining_plan(g.plan, recorded.trials, g.options.warmup);
  RecordWriter records = detail::continue_records(folder, rest.counted());
  if (observer.on_start) {
    observer.on_start({folder,
                       g.plan.counted(),
                       g.plan.counted() - rest.counted(),
                       rest.counted(),
                       rest.trials.size() - rest.counted(),
                       {},
                       g.options.seed,
                       true,
                       estimate(g, rest)});
  }
  PointTeller teller(g, on_point, recorded.trials);
  // The sizes finished before the stop are told first, as they were the first time.
  std::set<std::size_t> to_run;
  for (const auto& t : rest.trials) to_run.insert(t.workload);
  for (std::size_t i = 0; i < g.plan.workloads.size(); ++i) {
    if (!to_run.contains(i)) teller.tell(i);
  }
  SessionResult session = detail::record_plan(rest, records, folder, with_points(observer, teller));
  teller.tell();
  return finish(std::move(session), folder, observer);
}

}  // namespace scalelab
