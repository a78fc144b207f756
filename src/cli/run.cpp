// `scalelab run` and `run --resume`: flags into a Spec and a folder, then one session
// (session.hpp) with progress on the terminal and signals turned into a stop request.

#include <unistd.h>

#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <limits>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cli/commands.hpp"
#include "cli/console.hpp"
#include "cli/experiment.hpp"
#include "cli/signals.hpp"
#include "scalelab/scalelab.hpp"

namespace scalelab::cli {
namespace fs = std::filesystem;

namespace {

// "100,1000,10000": several counts scan the task count.
// validate() refuses a count listed twice.
std::vector<std::size_t> parse_task_counts(const std::string& text) {
  std::vector<std::size_t> counts;
  for (const std::string_view item : split_list(text)) {
    counts.push_back(static_cast<std::size_t>(parse_count(item, "--tasks", 1, kMaxTasks)));
  }
  return counts;
}

Spec make_spec(const RunOptions& o) {
  Spec spec;
  spec.workloads = parse_name_list(o.workloads, "--workload");
  spec.models = parse_name_list(o.models, "--model");
  if (o.workers_given && o.workers != "tasks" && o.workers.find("tasks") != std::string::npos) {
    throw Error("--workers: 'tasks' stands alone; it cannot be listed with worker counts");
  }
  if (o.workers_given && o.workers == "auto") {
    // The default per workload, as when --workers is left out (undoes an experiment file's).
  } else if (o.workers_given && o.workers == "tasks") {
    spec.workers_at_tasks = true;  // one worker per task at every point
  } else if (o.workers_given) {
    spec.workers = parse_workers(o.workers, "--workers", static_cast<int>(kMaxWorkers));
  }
  spec.tasks = parse_task_counts(o.tasks);
  spec.repeat = static_cast<int>(parse_count(o.repeat, "--repeat", 1, 10000));
  spec.seed = !o.seed_given ? std::random_device{}()
                            : static_cast<std::uint64_t>(parse_count(
                                  o.seed, "--seed", 0, std::numeric_limits<std::int64_t>::max()));
  // The plug-ins' flags; validate() refuses one whose plug-in is not selected.
  spec.params = parse_typed(o.params, o.params_given);
  spec.warmup = !o.no_warmup;
  if (o.trial_timeout_given && o.trial_timeout != "auto") {
    spec.trial_timeout = parse_duration(o.trial_timeout, "--trial-timeout");
  }
  spec.rerun_disturbed =
      static_cast<int>(parse_count(o.rerun_disturbed, "--rerun-disturbed", 0, 100));
  // Only a pair the user named on both sides is an error; a default side just leaves it out.
  spec.skip_unsupported = o.skip_unsupported || !(o.workloads_given && o.models_given);
  spec.own_params = o.own_params;
  spec.workload_models = o.workload_models;
  // The default experiment pairs its workloads with their models; a workload or a model given
  // anywhere runs the whole cross product of what is given.
  if (!o.workloads_given && !o.models_given && spec.workload_models.empty()) {
    spec.workload_models = default_workload_models();
  }
  validate(spec);
  return spec;
}

// The spec of run's flags, and of the experiment file among them: the file fills in what the
// flags leave out (`o` becomes the two together, `file` the file read), and a bad value in it is
// named by its FILE:LINE:COL. `notes`: the file's values a typed flag made nobody's.
Spec resolve_spec(RunOptions& o, std::optional<ExperimentFile>& file,
                  std::vector<std::string>& notes) {
  if (o.file.empty()) return make_spec(o);
  const auto declared = declared_params();
  file = read_experiment(o.file, declared);
  notes = apply_experiment(*file, declared, o);
  try {
    return make_spec(o);
  } catch (const Error& e) {
    throw at_file_position(*file, o, e);
  }
}

// A sweep's tables and conclusions, on stdout.
void print_sweep(std::ostream& out, const AnalysedRun& run) {
  print_console_tables(out, run.analysis.rows);
  print_conclusions(out, run.analysis.conclusions);
}

// `run --dry-run`: the plan, one line per workload and model, and how long it should take.
int dry_run(const Spec& spec, const RunOptions& options, std::ostream& out, std::ostream& err) {
  const bool chatty = !options.quiet;
  SessionObserver observer;
  observer.on_message = [&](const std::string& line) {
    if (chatty) err << line << "\n";
  };
  const PreparedRun prepared = prepare_run(spec, observer);
  const Plan& plan = prepared.plan;
  // Without --seed the run draws its own: this plan's order is not the one it will run.
  out << fmt::format("plan: {} trials (+{} warm-ups), {} tasks each, {}, on {} usable cores: {}\n",
                     plan.counted(), plan.trials.size() - plan.counted(),
                     fmt::join(spec.tasks, ","),
                     options.seed_given ? fmt::format("seed {}", spec.seed) : "a random seed",
                     prepared.cores, estimate_text(prepared.estimate));
  const bool scan = !scan_axes(spec).empty();
  out << fmt::format("  {:<10} {:<12} {:<24} {:>7}  {}{}\n", "workload", "model", "workers",
                     "trials", "time", scan ? "  point" : "");
  // Groups in the order of the spec: each workload entry, then each model and its points.
  for (std::size_t w = 0; w < plan.workloads.size(); ++w) {
    for (const auto& model : models_of(spec, plan.workloads[w].spec.name)) {
      std::vector<std::string> model_points;
      for (const auto& t : plan.trials) {
        if (t.workload != w || t.model != model) continue;
        const std::string point = t.model_point.dump();
        if (std::find(model_points.begin(), model_points.end(), point) == model_points.end()) {
          model_points.push_back(point);
        }
      }
      for (const auto& model_point : model_points) {
        Plan group = plan;
        group.trials.clear();
        std::set<int> workers;
        for (const auto& t : plan.trials) {
          if (t.workload != w || t.model != model || t.model_point.dump() != model_point) continue;
          group.trials.push_back(t);
          workers.insert(t.workers);
        }
        out << fmt::format(
            "  {:<10} {:<12} {:<24} {:>7}  {}{}\n", plan.workloads[w].spec.name, model,
            fmt::format("{}", fmt::join(workers, ",")), group.counted(),
            estimate_text(estimate_plan(group, prepared.resolved.calibration, prepared.cores)),
            scan ? "  " + point_text(trial_point(plan, group.trials.front())) : "");
      }
    }
  }
  return 0;
}

// `run` once the spec is made: print it, plan it (--dry-run) or run it.
int run_spec(const Spec& spec, const RunOptions& options, std::ostream& out, std::ostream& err,
             bool* hung) {
  if (options.print_spec) {
    out << spec_toml(spec);
    return 0;
  }
  if (options.dry_run) return dry_run(spec, options, out, err);
  const fs::path dir = choose_out_dir(options.out, options.out_given, options.force);
  const bool chatty = !options.quiet;
  // From here on Ctrl-C and SIGTERM stop the run wherever it is (see SignalWatch).
  SignalWatch signals;
  Console console(signals, "run", chatty, err);
  const SessionResult result = run_session(spec, dir, console.observer());
  return console.conclude(result, hung, [&] { print_sweep(out, result.analysis); });
}

}  // namespace

int run_command(const RunOptions& typed, std::ostream& out, std::ostream& err, bool* hung) {
  RunOptions options = typed;
  std::optional<ExperimentFile> file;
  std::vector<std::string> notes;
  const Spec spec = resolve_spec(options, file, notes);
  if (!options.quiet) {
    for (const auto& note : notes) err << "note: " << note << "\n";
  }
  try {
    return run_spec(spec, options, out, err, hung);
  } catch (const Error& e) {
    // A value of the file that only planning refuses (python under gil) is still the file's.
    if (file) throw at_file_position(*file, options, e);
    throw;
  }
}

int spec_command(const std::string& results, std::ostream& out) {
  const RecordedRun recorded = read_records(results);
  if (recorded.header.kind != "sweep") {
    throw Error(
        fmt::format("{}: records of a {} run; scalelab spec prints the spec of a run of "
                    "scalelab run",
                    results, recorded.header.kind));
  }
  Spec spec;
  try {
    spec = spec_from_json(recorded.header.spec);
  } catch (const Error& e) {
    throw Error(fmt::format("{}: {}", results, e.what()));
  }
  out << spec_toml(spec);
  return 0;
}

// `scalelab run --resume DIR`: the trials of an interrupted run that are not on record yet,
// with its recorded spec, seed and task sizes, appended to its records.
int resume_command(const std::string& folder, bool chatty, std::ostream& out, std::ostream& err,
                   bool* hung) {
  check_resume_folder(folder, "run");
  SignalWatch signals;
  Console console(signals, "run", chatty, err);
  const SessionObserver observer = console.observer();
  PreparedResume prepared;
  try {
    prepared = prepare_resume(folder, observer);
  } catch (const Error& e) {
    throw Error(fmt::format("--resume: {}", e.what()));
  }
  const SessionResult result = resume_session(prepared, observer);
  return console.conclude(result, hung, [&] { print_sweep(out, result.analysis); });
}

}  // namespace scalelab::cli
