#pragma once
/// \file plan.hpp
/// The description of an experiment (Spec) and the ordered list of trials it expands to (Plan).
/// Both are plain values; the runner executes a Plan.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "scalelab/model.hpp"
#include "scalelab/scan.hpp"
#include "scalelab/workload.hpp"

namespace scalelab {

/// Everything that decides what a run measures.
struct Spec {
  std::vector<std::string> workloads{"cpu", "io"};                             ///< workload names
  std::vector<std::string> models{"serial", "threads", "processes", "async"};  ///< model names
  /// Worker counts; empty means the default per workload: powers of two up to 2 × cores for
  /// CPU-bound work, up to the task count for waiting.
  std::vector<int> workers;
  /// --workers tasks: at each point one worker count, equal to its task count (every task in
  /// flight at once). `workers` is then empty.
  bool workers_at_tasks = false;
  /// Tasks per trial; two or more are a scan axis.
  std::vector<std::size_t> tasks{32};
  int repeat = 3;          ///< counted trials per (workload, model, workers)
  bool warmup = true;      ///< one uncounted trial per (workload, model, workers) first
  std::uint64_t seed = 0;  ///< shuffles the trial order
  /// The selected models' and workloads' parameters by field (Param::key), as recorded:
  /// {"io_wait_s": 0.05, "cpu_work": {"iters": 200000}, "start_method": "spawn"}. One left out
  /// takes its declared default; one that no selected plug-in takes is bad input. A list of two
  /// or more values is a scan axis: {"io_wait_s": [0.001, 0.01]}.
  ParamValues params{};
  /// A plug-in's own values, by its name ({"python": {"cpu_work": {"iters": 1000}}}): that
  /// plug-in reads them in place of `params`' values of the same fields, for when two selected
  /// plug-ins take a parameter of one name (an experiment file's [python] table). One value
  /// each, no lists: a scan axis is shared.
  std::map<std::string, ParamValues> own_params{};
  /// A workload's own models, by workload name, in place of `models` for it (the default
  /// experiment runs python under Python's executors, cpu under C++'s): each among `models`.
  std::map<std::string, std::vector<std::string>> workload_models{};
  /// processes/spawn: the program to exec in worker mode; empty means this program.
  std::string worker_executable;
  /// Longest one trial's batch may run; 0: derived per workload (default_trial_timeout).
  std::chrono::nanoseconds trial_timeout{0};
  /// A disturbed trial (Trial::disturbed: another process took its CPUs) is run again up to
  /// this many times; every attempt is recorded, and analysis prefers the undisturbed ones.
  int rerun_disturbed = 2;
  /// A workload that cannot run under a listed model (python under gil): true leaves the pair
  /// out of the plan (Plan::skipped says so), false makes resolve_workloads throw Error. The
  /// CLI skips when the user did not name both the workload and the model.
  bool skip_unsupported = false;
};

/// The models `spec` runs `workload` under: its Spec::workload_models entry, else Spec::models.
const std::vector<std::string>& models_of(const Spec& spec, const std::string& workload);

/// Checks every name and number in `spec`; throws Error naming the flag at the first problem.
void validate(const Spec& spec);

/// The spec as recorded in results: names, counts, seed, and every parameter of the selected
/// plug-ins (defaults filled in) under its field.
nlohmann::json to_json(const Spec& spec);

/// Every parameter the spec's models and workloads take: its value, or its default.
ParamValues selected_params(const Spec& spec);

/// What Model::start gets for this spec: the selected parameters and the worker program.
ModelOptions model_options(const Spec& spec);

/// `shared` with the plug-in `name`'s own values (Spec::own_params) in place of its fields.
ParamValues with_own(ParamValues shared, const std::map<std::string, ParamValues>& own_params,
                     const std::string& name);

/// The spec's scan axes: each parameter holding a list, in field order, then "tasks" when it
/// lists two or more counts. Empty when the spec scans workers only.
std::vector<ScanAxis> scan_axes(const Spec& spec);

/// Every combination of the axes' values ({"io_wait_s": 0.01, "tasks": 100}), the last axis
/// varying fastest; one empty point when there are no axes.
std::vector<nlohmann::json> scan_points(const Spec& spec);

/// Every combination of the values of `axes`, the last varying fastest; one empty point for
/// none.
std::vector<nlohmann::json> combinations(const std::vector<ScanAxis>& axes);

/// `spec` at one point of its scan: each scanned field set to the point's value, one task count.
Spec spec_at(const Spec& spec, const nlohmann::json& point);

/// One workload of a plan as its trials run it.
struct PlannedWorkload {
  WorkloadSpec spec;      ///< resolved: cpu iterations known
  std::size_t tasks = 0;  ///< tasks per trial
  /// What tells this entry apart from others of the same workload, recorded with each of its
  /// trials (Trial::point): the values of the scanned parameters the workload takes and of a
  /// scanned task count ({"io_wait_s": 0.01, "tasks": 100}), a granularity sweep's
  /// {"task_s": 0.001}; empty when nothing does.
  nlohmann::json point = nlohmann::json::object();
};

/// Every workload of a spec at every point of its scan with its task size resolved, and the
/// calibrations that sized them.
struct ResolvedWorkloads {
  /// Per scan point, one per Spec::workloads entry, in order; a point that differs only in
  /// what the workload does not take (a model's scanned parameter) adds no entry.
  std::vector<PlannedWorkload> workloads;
  nlohmann::json calibration;  ///< {workload: {target_s, iters_per_s, iters, measured_s}}
};

/// The workload entries `spec` plans, in the order resolve_workloads gives them, with the
/// parameters given at each point (WorkloadSpec::params unresolved: with_defaults of the
/// workload's declarations). A run resumed from its records pairs these with the recorded
/// resolved specs.
std::vector<PlannedWorkload> planned_workloads(const Spec& spec);

/// Resolves task sizes: each workload's resolver (WorkloadEntry::resolve) turns the parameters
/// it declared into its resolved spec (cpu: iterations; io: the wait; mixed: iterations for
/// cpu_fraction × task_time and a wait for the rest). Durations of CPU work are calibrated
/// here, once per loop, and scaled for each point. Builds each workload once, so a spec it
/// cannot run is rejected (Error) before any trial.
ResolvedWorkloads resolve_workloads(const Spec& spec);

/// One trial to run.
struct PlannedTrial {
  std::size_t workload = 0;  ///< index into Plan::workloads
  std::string model;         ///< model name
  int workers = 1;           ///< worker count (1 for serial)
  int repeat = 0;            ///< 0-based repeat number; -1 for the warm-up
  /// The values of scanned parameters that only the model takes ({"switch_interval_s":
  /// 0.001}); empty when none is scanned.
  nlohmann::json model_point = nlohmann::json::object();
  bool warmup() const { return repeat < 0; }  ///< whether this is the uncounted warm-up
};

/// A spec expanded into trials, in the (shuffled) order they will run, with everything the
/// runner needs: run_sweep takes a plan and nothing else.
struct Plan {
  std::vector<PlannedWorkload> workloads;  ///< what PlannedTrial::workload indexes
  std::vector<PlannedTrial> trials;        ///< warm-ups directly precede their group's first trial
  /// (workload, model) pairs left out because the workload cannot run under the model, with
  /// the reason: "python under gil: …".
  std::vector<std::string> skipped;
  /// Longest one trial's batch may run; 0: default_trial_timeout (Spec::trial_timeout).
  std::chrono::nanoseconds trial_timeout{0};
  int rerun_disturbed = 2;  ///< reruns of a disturbed trial (Spec::rerun_disturbed)
  /// What every model's start() gets (model_options(spec)); a scanned parameter holds its list
  /// here, and trial_options() gives a trial its value.
  ModelOptions options;
  /// Spec::own_params: a model's own values, which trial_options() puts in place.
  std::map<std::string, ParamValues> own_params;
  std::size_t counted() const;  ///< trials that are not warm-ups
};

/// The point a trial records (Trial::point): its workload entry's point and its model_point.
nlohmann::json trial_point(const Plan& plan, const PlannedTrial& trial);

/// What the trial's model starts with: Plan::options with the trial's point values in place
/// of the scanned lists, and the model's own values (Plan::own_params) in place of the shared.
ModelOptions trial_options(const Plan& plan, const PlannedTrial& trial);

/// Most workers a default worker list goes to: waiting scales to the task count, but a default
/// must not start tens of thousands of threads or processes. Ask with --workers for more.
inline constexpr int kMaxDefaultWorkers = 1024;

/// Most workers --workers tasks may start: one per task, so at most this many tasks.
inline constexpr int kMaxWorkersAtTasks = 10'000'000;

/// Default worker counts for a workload on a machine with `cores` usable cores.
std::vector<int> default_workers(Bound bound, std::size_t tasks, int cores);

/// How long a plan should take, worked out from its task sizes before anything runs.
struct PlanEstimate {
  /// Seconds for the trials whose task times are known (a resolved cpu_iters with its
  /// workload's calibrated speed, an io_wait_s), warm-ups and reference passes included; not
  /// start-up, analysis or reruns of disturbed trials.
  double seconds = 0;
  /// Trials whose task time is not known (CPU work given as iterations, user code, a workload
  /// without those fields): not in `seconds`.
  std::size_t unknown_trials = 0;
};

/// The estimate of `plan` on `cores` cores: per trial, tasks × CPU time / min(the model's
/// cpu_parallelism(W), cores) + ⌈tasks / W⌉ × wait, and one serial reference pass of each
/// workload's CPU work. `calibration` is ResolvedWorkloads::calibration (the loops' speeds).
PlanEstimate estimate_plan(const Plan& plan, const nlohmann::json& calibration, int cores);

/// "about 1m05s", "about 12s", "about 350ms"; with "at least" and the trials left out when
/// some task times are unknown.
std::string estimate_text(const PlanEstimate& estimate);

/// Expands `spec` into a plan: every workload entry under every model (each combination of
/// the scanned parameters only that model takes), worker count and repeat. `workloads` are
/// ResolvedWorkloads::workloads. Counted trials are shuffled with spec.seed.
Plan make_plan(const Spec& spec, std::vector<PlannedWorkload> workloads, int cores);

/// make_plan for a spec that scans nothing: `workloads` are the resolved specs, one per
/// spec.workloads entry.
Plan make_plan(const Spec& spec, std::vector<WorkloadSpec> workloads, int cores);

}  // namespace scalelab
