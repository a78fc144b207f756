// A run into a results folder, start to end: what `scalelab run` and `run --resume` do,
// without the flags, the terminal or the signals.

#include "scalelab/session.hpp"

#include <algorithm>
#include <map>
#include <utility>

#include <fmt/format.h>

#include "scalelab/error.hpp"
#include "scalelab/parse.hpp"
#include "scalelab/records.hpp"
#include "scalelab/report.hpp"
#include "scalelab/resume.hpp"
#include "sweep/session_parts.hpp"

namespace scalelab {
namespace fs = std::filesystem;
namespace {

using detail::tell;

// A workload that runs user code is loaded once in a process of its own before anything is
// written, so that a module that does not import, or a missing function, is bad input (Error)
// without the user's code ever running in this process.
void check_user_code(const std::vector<PlannedWorkload>& workloads,
                     std::chrono::nanoseconds trial_timeout, const std::stop_token& stop) {
  std::vector<WorkloadSpec> checked;
  for (const auto& entry : workloads) {
    // A scan's points of one workload load the same code: checked once.
    if (std::find(checked.begin(), checked.end(), entry.spec) != checked.end()) continue;
    checked.push_back(entry.spec);
    const auto workload = make_workload(entry.spec);
    if (!workload->runs_user_code()) continue;
    check_loads(*workload, trial_timeout.count() > 0 ? trial_timeout : std::chrono::seconds(60),
                stop);
  }
}

// The failed trials of a run, as the user reads them: one line per failure, and one per
// workload whose trials were never run (no reference checksums), however many they were.
class FailureLog {
 public:
  void add(const Trial& trial) {
    if (!trial.failed()) return;
    if (trial.error.rfind("not run: ", 0) == 0) {
      auto& [count, why] = not_run_[trial.workload];
      ++count;
      why = trial.error;
      return;
    }
    const std::string point = point_text(trial.point);
    lines_.push_back(fmt::format(
        "{}{}{} {} workers={} {}: {}", trial.workload, point.empty() ? "" : " ", point, trial.model,
        trial.workers, trial.warmup() ? "warm-up" : fmt::format("repeat {}", trial.repeat + 1),
        trial.error));
  }
  void into(SessionResult& result) const {
    result.failures = lines_;
    result.failed_trials = lines_.size();
    for (const auto& [workload, entry] : not_run_) {
      result.failures.push_back(
          fmt::format("{} ({} trials): {}", workload, entry.first, entry.second));
      result.failed_trials += entry.first;
    }
  }

 private:
  std::vector<std::string> lines_;
  std::map<std::string, std::pair<std::size_t, std::string>> not_run_;
};

}  // namespace

namespace detail {

SessionResult record_plan(const Plan& plan, RecordWriter& records, const fs::path& folder,
                          const SessionObserver& observer) {
  SessionResult result;
  result.folder = folder;
  FailureLog failures;
  RunObserver run_observer;
  run_observer.stop = observer.stop;
  run_observer.on_phase = observer.on_phase;
  run_observer.on_note = [&](const std::string& note) {
    tell(observer.on_message, "note: " + note);
  };
  run_observer.on_trial = [&](const Trial& trial, std::size_t done, std::size_t total) {
    if (!trial.warmup()) records.trial(trial);
    failures.add(trial);
    if (observer.on_trial) observer.on_trial(trial, done, total);
  };
  result.run = run_sweep(plan, run_observer);
  failures.into(result);

  nlohmann::json end{{"interrupted", result.interrupted()}};
  if (result.interrupted()) end["reason"] = result.run.reason;
  if (result.run.end == RunEnd::stopped && observer.stop_cause) {
    if (const std::string cause = observer.stop_cause(); !cause.empty()) end["signal"] = cause;
  }
  records.record("end", end);
  return result;
}

RecordWriter open_records(const fs::path& folder, RunHeader& header,
                          const SessionObserver& observer) {
  std::error_code ec;
  fs::create_directories(folder, ec);
  if (ec) {
    throw Error(
        fmt::format("cannot create the results folder '{}': {}", folder.string(), ec.message()));
  }
  RecordWriter records(folder / "results.jsonl");
  header.environment = collect_environment();
  for (const auto& warning : environment_warnings(header.environment)) {
    tell(observer.on_message, "warning: " + warning);
  }
  records.header(header);
  return records;
}

RecordedRun read_to_continue(const fs::path& folder, const SessionObserver& observer) {
  const RecordedRun recorded = read_records(folder);
  for (const auto& w : recorded.warnings) tell(observer.on_record_warning, "warning: " + w);
  return recorded;
}

RecordWriter continue_records(const fs::path& folder, std::size_t remaining) {
  RecordWriter records(folder / "results.jsonl", RecordWriter::Mode::append);
  records.record("resume",
                 {{"environment", collect_environment()}, {"remaining_trials", remaining}});
  return records;
}

RecordedRun read_back(const fs::path& folder, const SessionObserver& observer) {
  // Every figure, table and report comes from the records as they are on disk, read back:
  // `scalelab report` on this folder later gives the same report, byte for byte.
  tell(observer.on_phase, "analysis");
  return read_records(folder / "results.jsonl");
}

SessionResult stopped_in(std::string phase) {
  SessionResult result;
  result.stopped_before_start = std::move(phase);
  return result;
}

}  // namespace detail

namespace {

// Runs `plan` (a fresh run's, or a resumed run's remaining trials) into the records, then
// writes the final files from the records on disk.
SessionResult execute(const Plan& plan, RecordWriter& records, const fs::path& folder,
                      const SessionObserver& observer) {
  SessionResult result = detail::record_plan(plan, records, folder, observer);
  const RecordedRun recorded = detail::read_back(folder, observer);
  result.analysis = analyze_run(recorded);
  result.planned_trials = result.analysis.planned_trials;
  result.recorded_trials = result.analysis.recorded_trials;
  tell(observer.on_phase, "writing the final files and reports");
  write_trials_csv(folder / "results.csv", recorded.trials);
  write_json_file(folder / "results.json", results_json(recorded, result.analysis));
  write_reports(folder, result.analysis);
  return result;
}

}  // namespace

PreparedRun prepare_run(const Spec& spec, const SessionObserver& observer) {
  validate(spec);
  PreparedRun prepared;
  // Task sizes: a CPU-work duration becomes loop iterations measured on this machine.
  tell(observer.on_phase, "calibration");
  prepared.resolved = resolve_workloads(spec);
  if (observer.stop.stop_requested()) {
    prepared.stopped_in = "calibration";
    return prepared;
  }
  for (const auto& [workload, c] : prepared.resolved.calibration.items()) {
    tell(observer.on_message,
         fmt::format("calibrated {}: {:.0f} loop iterations/s, so {} of CPU work = {} iterations",
                     workload, c.at("iters_per_s").get<double>(),
                     format_duration(c.at("target_s").get<double>()),
                     c.at("iters").get<std::uint64_t>()));
  }
  tell(observer.on_phase, "loading the user's code");
  check_user_code(prepared.resolved.workloads, spec.trial_timeout, observer.stop);
  if (observer.stop.stop_requested()) {
    prepared.stopped_in = "loading the user's code";
    return prepared;
  }
  prepared.cores = usable_cores();
  prepared.plan = make_plan(spec, prepared.resolved.workloads, prepared.cores);
  for (const auto& skipped : prepared.plan.skipped)
    tell(observer.on_message, "left out: " + skipped);
  prepared.estimate = estimate_plan(prepared.plan, prepared.resolved.calibration, prepared.cores);
  return prepared;
}

SessionResult run_session(const Spec& spec, const fs::path& folder,
                          const SessionObserver& observer) {
  const PreparedRun prepared = prepare_run(spec, observer);
  if (!prepared.stopped_in.empty()) return detail::stopped_in(prepared.stopped_in);
  const Plan& plan = prepared.plan;
  const ResolvedWorkloads& resolved = prepared.resolved;
  RunHeader header;
  header.spec = to_json(spec);
  header.calibration = resolved.calibration;
  for (const auto& w : plan.workloads) header.workload_specs.push_back(to_json(w.spec));
  header.planned_trials = plan.counted();
  header.warmup_trials = plan.trials.size() - plan.counted();
  RecordWriter records = detail::open_records(folder, header, observer);
  if (observer.on_start) {
    observer.on_start({folder, plan.counted(), 0, plan.counted(), header.warmup_trials, spec.tasks,
                       spec.seed, false, prepared.estimate});
  }
  return execute(plan, records, folder, observer);
}

PreparedResume prepare_resume(const fs::path& folder, const SessionObserver& observer) {
  PreparedResume prepared;
  prepared.folder = folder;
  prepared.recorded = detail::read_to_continue(folder, observer);
  try {
    prepared.resumption = plan_resumption(prepared.recorded);
  } catch (const Error& e) {
    throw Error(fmt::format("cannot continue '{}': {}", folder.string(), e.what()));
  }
  return prepared;
}

SessionResult resume_session(const PreparedResume& prepared, const SessionObserver& observer) {
  const Resumption& resumption = prepared.resumption;
  const fs::path& folder = prepared.folder;
  if (resumption.cores != usable_cores()) {
    tell(observer.on_message,
         fmt::format("warning: the run was planned for {} usable cores and this machine has {}; "
                     "the plan stays as recorded",
                     resumption.cores, usable_cores()));
  }
  RecordWriter records = detail::continue_records(folder, resumption.plan.counted());
  if (observer.on_start) {
    const Plan& plan = resumption.plan;
    observer.on_start(
        {folder, resumption.planned, resumption.recorded, plan.counted(),
         plan.trials.size() - plan.counted(), resumption.spec.tasks, resumption.spec.seed, true,
         estimate_plan(plan, prepared.recorded.header.calibration, resumption.cores)});
  }
  return execute(resumption.plan, records, folder, observer);
}

SessionResult resume_session(const fs::path& folder, const SessionObserver& observer) {
  return resume_session(prepare_resume(folder, observer), observer);
}

}  // namespace scalelab
