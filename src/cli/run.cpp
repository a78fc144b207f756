// `scalelab run` and `run --resume`: flags into a Spec, calibration, plan, the run with its
// signals and progress, then the final files and reports from the records on disk.

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

#include "cli/signals.hpp"
#include "scalelab/scalelab.hpp"
#include "support/json_field.hpp"

#include "cli/commands.hpp"

namespace scalelab::cli {
namespace fs = std::filesystem;

namespace {

Spec make_spec(const RunOptions& o) {
  Spec spec;
  spec.workloads = parse_name_list(o.workloads, "--workload");
  spec.models = parse_name_list(o.models, "--model");
  if (o.workers_given) {
    spec.workers = parse_workers(o.workers, "--workers", static_cast<int>(kMaxWorkers));
  }
  spec.tasks = static_cast<std::size_t>(parse_count(o.tasks, "--tasks", 1, kMaxTasks));
  spec.repeat = static_cast<int>(parse_count(o.repeat, "--repeat", 1, 10000));
  spec.seed = !o.seed_given ? std::random_device{}()
                            : static_cast<std::uint64_t>(parse_count(
                                  o.seed, "--seed", 0, std::numeric_limits<std::int64_t>::max()));
  // The plug-ins' flags; validate() refuses one whose plug-in is not selected.
  spec.params = parse_typed(o.params, o.params_given);
  spec.warmup = !o.no_warmup;
  if (o.trial_timeout_given) {
    spec.trial_timeout = parse_duration(o.trial_timeout, "--trial-timeout");
  }
  spec.rerun_disturbed =
      static_cast<int>(parse_count(o.rerun_disturbed, "--rerun-disturbed", 0, 100));
  // Only a pair the user named on both sides is an error; a default side just leaves it out.
  spec.skip_unsupported = !(o.workloads_given && o.models_given);
  validate(spec);
  return spec;
}

// The files a run writes into its folder; --force removes these and only these.
constexpr const char* kRunFiles[] = {"results.jsonl", "results.csv", "results.json", "report.md",
                                     "report.html"};

// A folder nobody has written into yet: the given one, or results/<UTC time>[-N]. An existing
// folder with files in it is only reused with --force, which removes the files a run writes.
fs::path choose_out_dir(const std::string& requested, bool given, bool force) {
  std::error_code ec;
  if (given && requested.empty()) throw Error("--out: empty; give a folder name");
  if (given) {
    const fs::path dir(requested);
    if (fs::exists(dir, ec) && !fs::is_directory(dir, ec)) {
      throw Error(fmt::format("--out: '{}' is a file, not a folder; choose another", requested));
    }
    if (fs::exists(dir, ec) && !fs::is_empty(dir, ec)) {
      if (!force) {
        throw Error(fmt::format(
            "--out: '{}' already holds files; add --force to replace its results{}, or choose "
            "another folder",
            requested,
            fs::exists(dir / "results.jsonl", ec)
                ? fmt::format(", or continue it with --resume {}", requested)
                : ""));
      }
      for (const char* name : kRunFiles) {
        for (const auto& path : {dir / name, dir / (std::string(name) + ".tmp")}) {
          fs::remove(path, ec);
          if (ec) {
            throw Error(
                fmt::format("--force: cannot remove '{}': {}", path.string(), ec.message()));
          }
        }
      }
    }
    return dir;
  }
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
  fs::path dir = fs::path("results") / stamp;
  for (int n = 2; fs::exists(dir, ec); ++n)
    dir = fs::path("results") / fmt::format("{}-{}", stamp, n);
  return dir;
}

std::string clock_text(double seconds) {
  const auto s = static_cast<long>(seconds + 0.5);
  return fmt::format("{}:{:02}", s / 60, s % 60);
}

// Runs `plan` (a fresh run's or a resumed run's remaining trials), appending to `records`,
// then writes the final files and reports from the records on disk. Returns the exit code.
int execute(const Spec& spec, const Plan& plan, RecordWriter& records, const fs::path& dir,
            SignalWatch& signals, bool chatty, std::ostream& out, std::ostream& err, bool* hung) {
  const bool progress = chatty && ::isatty(STDERR_FILENO) == 1;
  const auto started = std::chrono::steady_clock::now();
  std::vector<std::string> failures;
  // Trials never run because their workload has no reference values: one line per workload.
  std::map<std::string, std::pair<std::size_t, std::string>> not_run;
  signals.folder(dir.string());
  RunObserver observer;
  observer.stop = signals.token();
  observer.on_phase = [&](const std::string& phase) { signals.phase(phase); };
  observer.on_note = [&](const std::string& note) {
    if (!chatty) return;
    if (progress) err << "\r\x1b[K";
    err << "note: " << note << "\n" << std::flush;
  };
  observer.on_trial = [&](const Trial& trial, std::size_t done, std::size_t total) {
    if (!trial.warmup()) records.trial(trial);
    if (trial.failed() && trial.error.rfind("not run: ", 0) == 0) {
      auto& [count, why] = not_run[trial.workload];
      ++count;
      why = trial.error;
    } else if (trial.failed()) {
      failures.push_back(fmt::format(
          "{} {} workers={} {}: {}", trial.workload, trial.model, trial.workers,
          trial.warmup() ? "warm-up" : fmt::format("repeat {}", trial.repeat + 1), trial.error));
    }
    if (progress) {
      const double elapsed =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      const double eta = elapsed / static_cast<double>(done) * static_cast<double>(total - done);
      err << fmt::format("\r\x1b[K[{}/{}] {} {} workers={}  elapsed {}  ETA {}", done, total,
                         trial.workload, trial.model, trial.workers, clock_text(elapsed),
                         clock_text(eta))
          << std::flush;
    }
  };
  const RunResult result = run_sweep(spec, plan, observer);
  if (progress) err << "\r\x1b[K" << std::flush;
  std::size_t failed_trials = failures.size();
  for (const auto& [workload, entry] : not_run) {
    failures.push_back(fmt::format("{} ({} trials): {}", workload, entry.first, entry.second));
    failed_trials += entry.first;
  }
  const int signal = signals.received();
  if (hung != nullptr && (result.end == RunEnd::hung || result.abandoned)) *hung = true;
  const bool interrupted = result.end != RunEnd::completed;
  nlohmann::json end{{"interrupted", interrupted}};
  if (interrupted) end["reason"] = result.reason;
  if (result.end == RunEnd::stopped && signal != 0) end["signal"] = sigabbrev_np(signal);
  records.record("end", end);

  // Every figure, table and report below comes from the records as they are on disk, read
  // back: `scalelab report` on this folder later gives the same report, byte for byte.
  signals.phase("analysis");
  pause_for_test("analysis", signals.token());
  const RecordedRun recorded = read_records(dir / "results.jsonl");
  const ReportInput report = make_report_input(recorded);
  signals.phase("writing the final files and reports");
  pause_for_test("reports", signals.token());
  write_trials_csv(dir / "results.csv", recorded.trials);
  write_json_file(dir / "results.json", results_json(recorded, report));
  write_reports(dir, report);

  print_console_tables(out, report.analysis.rows);
  print_conclusions(out, report.analysis.conclusions);
  if (chatty) {
    err << fmt::format(
        "\nwrote {}/results.jsonl, results.csv, results.json, report.md, report.html\n",
        dir.string());
  }
  if (!failures.empty()) {
    err << fmt::format("{} trial(s) failed:\n", failed_trials);
    for (const auto& f : failures) err << "  " << f << "\n";
  }
  if (interrupted) {
    err << fmt::format(
        "scalelab: {}; {} of {} planned trials are on record; continue with: scalelab run "
        "--resume {}\n",
        result.reason, report.recorded_trials, report.planned_trials, dir.string());
  }
  // A signal may also have come during the analysis or the writing of the files.
  const int late_signal = signals.received();
  if (result.end == RunEnd::stopped || late_signal != 0) {
    if (late_signal != 0 && result.end != RunEnd::stopped) {
      // The signal came after the last trial: the run is complete, and so are its files.
      err << "scalelab: stopped after the last trial; the run and its files are complete\n";
    }
    return signals.exit_code();
  }
  return failures.empty() && !interrupted ? 0 : 1;
}

// A workload that runs user code is loaded once in a process of its own before anything is
// written, so that a module that does not import, or a missing function, is bad input (exit 2)
// as it always was, without the user's code ever running in this process.
void check_user_code(const std::vector<WorkloadSpec>& workloads, const Spec& spec,
                     const std::stop_token& stop) {
  for (const auto& ws : workloads) {
    const auto workload = make_workload(ws);
    if (!workload->runs_user_code()) continue;
    check_loads(*workload,
                spec.trial_timeout.count() > 0 ? spec.trial_timeout : std::chrono::seconds(60),
                stop);
  }
}

}  // namespace

int run_command(const RunOptions& options, std::ostream& out, std::ostream& err, bool* hung) {
  const Spec spec = make_spec(options);
  const fs::path dir = choose_out_dir(options.out, options.out_given, options.force);
  const int cores = usable_cores();
  const bool chatty = !options.quiet;
  // From here on Ctrl-C and SIGTERM stop the run wherever it is (see SignalWatch).
  SignalWatch signals;
  const auto stopped_before_start = [&](const char* phase) {
    err << fmt::format("scalelab: stopped during {}: no trial had run, so nothing was written\n",
                       phase);
    return signals.exit_code();
  };

  // Task sizes: a CPU-work duration becomes loop iterations measured on this machine.
  signals.phase("calibration");
  pause_for_test("calibration", signals.token());
  const ResolvedWorkloads resolved = resolve_workloads(spec);
  if (signals.token().stop_requested()) return stopped_before_start("calibration");
  if (chatty) {
    for (const auto& [workload, c] : resolved.calibration.items()) {
      err << fmt::format(
          "calibrated {}: {:.0f} loop iterations/s, so {} of CPU work = {} iterations\n", workload,
          c.at("iters_per_s").get<double>(), format_duration(c.at("target_s").get<double>()),
          c.at("iters").get<std::uint64_t>());
    }
  }
  signals.phase("loading the user's code");
  check_user_code(resolved.workloads, spec, signals.token());
  if (signals.token().stop_requested()) return stopped_before_start("loading the user's code");
  const Plan plan = make_plan(spec, resolved.workloads, cores);
  if (chatty) {
    for (const auto& skipped : plan.skipped) err << "left out: " << skipped << "\n";
  }

  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error(fmt::format("--out: cannot create '{}': {}", dir.string(), ec.message()));
  RecordWriter records(dir / "results.jsonl");
  const nlohmann::json environment = collect_environment();
  if (chatty) {
    for (const auto& warning : environment_warnings(environment)) {
      err << "warning: " << warning << "\n";
    }
  }
  nlohmann::json workload_json = nlohmann::json::array();
  for (const auto& w : plan.workloads) workload_json.push_back(to_json(w));
  records.header(to_json(spec), environment,
                 {{"calibration", resolved.calibration},
                  {"workload_specs", workload_json},
                  {"planned_trials", plan.counted()},
                  {"warmup_trials", plan.trials.size() - plan.counted()}});
  if (chatty) {
    err << fmt::format(
        "scalelab {}: {} trials (+{} warm-ups), {} tasks each, seed {}; results in {}\n", version(),
        plan.counted(), plan.trials.size() - plan.counted(), spec.tasks, spec.seed, dir.string());
  }
  return execute(spec, plan, records, dir, signals, chatty, out, err, hung);
}

// `scalelab run --resume DIR`: the trials of an interrupted run that are not on record yet,
// with its recorded spec, seed and task sizes, appended to its records.
int resume_command(const std::string& folder, bool chatty, std::ostream& out, std::ostream& err,
                   bool* hung) {
  if (folder.empty()) throw Error("--resume: empty; give the results folder of a run");
  const fs::path dir(folder);
  std::error_code ec;
  if (!fs::is_regular_file(dir / "results.jsonl", ec)) {
    throw Error(fmt::format("--resume: '{}' holds no results.jsonl to continue", folder));
  }
  SignalWatch signals;
  const RecordedRun recorded = read_records(dir);
  for (const auto& w : recorded.warnings) err << "warning: " << w << "\n";
  Resumption resumption;
  try {
    resumption = plan_resumption(recorded);
  } catch (const Error& e) {
    throw Error(fmt::format("--resume: cannot continue '{}': {}", folder, e.what()));
  }
  if (chatty && resumption.cores != usable_cores()) {
    err << fmt::format(
        "warning: the run was planned for {} usable cores and this machine has {}; the plan "
        "stays as recorded\n",
        resumption.cores, usable_cores());
  }
  RecordWriter records(dir / "results.jsonl", RecordWriter::Mode::append);
  records.record("resume", {{"environment", collect_environment()},
                            {"remaining_trials", resumption.plan.counted()}});
  if (chatty) {
    err << fmt::format("scalelab {}: resuming {}: {} of {} trials on record, {} to run\n",
                       version(), folder, resumption.recorded, resumption.planned,
                       resumption.plan.counted());
  }
  return execute(resumption.spec, resumption.plan, records, dir, signals, chatty, out, err, hung);
}

}  // namespace scalelab::cli
