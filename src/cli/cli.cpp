// Parse, validate into a Spec, plan, run, report. Errors are caught once, at the top.

#include "scalelab/cli.hpp"

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

namespace scalelab::cli {
namespace {

namespace fs = std::filesystem;

constexpr std::int64_t kMaxWorkers = 65536;
constexpr std::int64_t kMaxTasks = 10'000'000;

constexpr const char* kExamples = R"(
Examples:
  scalelab                                  the seed's experiment: cpu and io under serial,
                                            threads, processes and async, about a minute
  scalelab run --workload cpu --model serial,threads,processes --workers 1..8
  scalelab run --workload io --io-wait 50ms --tasks 64 --workers 1..64 --model threads,async
  scalelab run --workload noop --tasks 100000 --workers 2 --model threads,processes,async
  scalelab run --model processes --start-method spawn --cpu-work 200000
  scalelab report results/20261127-101500   analyse a saved run again: report.md, report.html
  scalelab compare before/ after/           two saved runs: faster, slower or no difference
  scalelab granularity --model processes    the smallest task size processes still run at
                                            50 % efficiency at W = cores
  scalelab list                             every model and workload
)";

// What the user typed for `run`, before it is checked.
// The default experiment: the seed's workloads (and the same loop in embedded CPython when
// scalelab is built with it) under the seed's models plus the emulated GIL.
#if SCALELAB_HAVE_PYTHON
constexpr const char* kDefaultWorkloads = "cpu,io,python";
#else
constexpr const char* kDefaultWorkloads = "cpu,io";
#endif
constexpr const char* kDefaultModels = "serial,threads,processes,async,gil";

struct RunOptions {
  std::string workloads = kDefaultWorkloads;
  std::string models = kDefaultModels;
  std::string workers;
  std::string tasks = "32";
  std::string repeat = "3";
  std::string seed;
  std::string out;
  bool quiet = false;
  bool no_warmup = false;
  bool force = false;  // replace the results in an existing --out folder
  std::string resume;  // continue the run in this folder
  std::string trial_timeout;
  std::string rerun_disturbed = "2";
  bool trial_timeout_given = false;
  bool workers_given = false;  // given, even as "": an empty value is an error, not a default
  bool seed_given = false;
  bool out_given = false;
  bool workloads_given = false;
  bool models_given = false;
  // The plug-ins' parameters (declared_params): what was typed for each, by name, and which
  // were given at all.
  std::map<std::string, std::string> params;
  std::set<std::string> params_given;
};

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
  // A plug-in's flag given while that plug-in is not selected would be ignored without a
  // word: say so instead.
  for (const auto& declared : declared_params()) {
    if (!o.params_given.contains(declared.param.name)) continue;
    const nlohmann::json value = declared.param.parse(o.params.at(declared.param.name));
    if (!declared.used_by(spec.workloads, spec.models)) {
      throw Error(fmt::format("{}: {}", declared.param.flag(), declared.unused_reason()));
    }
    spec.params.set(declared.param.key(), value);
  }
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

void print_conclusions(std::ostream& out, const std::vector<Conclusion>& conclusions) {
  if (conclusions.empty()) return;
  out << "\nConclusions\n";
  for (const auto& c : conclusions) out << "  - " << c.text << "\n";
}

// Ctrl-C and SIGTERM from the start of a run to its exit. The signals are blocked in this
// thread (and so in every thread and worker started after it) and taken by one watching thread
// with sigtimedwait, which may do what a signal handler may not: request a stop. The run then
// ends at the next point that checks, writes its end record and final files and exits 130/143.
// Should that take longer than kStopDeadline (threads that will not stop, a report that takes
// long), the watcher says so and exits anyway: every record line already written is whole (one
// write per line) and final files appear by rename, so what is on disk stays valid. A second
// signal exits at once.
class SignalWatch {
 public:
  static constexpr auto kStopDeadline = std::chrono::milliseconds(1500);

  SignalWatch() {
    sigemptyset(&signals_);
    sigaddset(&signals_, SIGINT);
    sigaddset(&signals_, SIGTERM);
    ::pthread_sigmask(SIG_BLOCK, &signals_, &previous_);
    watcher_ = std::jthread([this](std::stop_token done) { watch(done); });
  }
  SignalWatch(const SignalWatch&) = delete;
  SignalWatch& operator=(const SignalWatch&) = delete;
  ~SignalWatch() {
    watcher_.request_stop();
    watcher_.join();
    // A signal that came after the watcher stopped is still pending: it is delivered (default
    // action) when the mask is restored, as it would have been without scalelab's handling.
    ::pthread_sigmask(SIG_SETMASK, &previous_, nullptr);
  }
  std::stop_token token() const { return stop_.get_token(); }
  int received() const { return received_.load(); }  ///< the first signal, 0 if none
  /// What the run is doing, for the line printed if it cannot stop in time.
  void phase(std::string text) {
    const std::lock_guard lock(mutex_);
    phase_ = std::move(text);
  }
  /// The results folder, once there is one: the line printed if the run cannot stop in time
  /// says how to continue it.
  void folder(std::string dir) {
    const std::lock_guard lock(mutex_);
    folder_ = std::move(dir);
  }
  /// The exit code for the signal received: 130 for SIGINT, 143 for SIGTERM.
  int exit_code() const { return received_.load() == SIGTERM ? 143 : 130; }

 private:
  void watch(const std::stop_token& done) {
    const timespec tick{0, 50'000'000};  // how often to look at the deadline and the end
    std::optional<std::chrono::steady_clock::time_point> stopping_since;
    while (!done.stop_requested()) {
      siginfo_t info{};
      const int signal = ::sigtimedwait(&signals_, &info, &tick);
      if (signal > 0) {
        if (received_.exchange(signal) != 0) {
          static constexpr char kNow[] = "\nscalelab: second signal: exiting now\n";
          [[maybe_unused]] const auto n = ::write(STDERR_FILENO, kNow, sizeof kNow - 1);
          ::_exit(128 + signal);
        }
        static constexpr char kNote[] =
            "\nscalelab: stopping: saving the finished trials (press Ctrl-C again to quit at "
            "once)\n";
        [[maybe_unused]] const auto n = ::write(STDERR_FILENO, kNote, sizeof kNote - 1);
        stopping_since = std::chrono::steady_clock::now();
        stop_.request_stop();
      }
      if (stopping_since && std::chrono::steady_clock::now() - *stopping_since > kStopDeadline) {
        std::string line;
        {
          const std::lock_guard lock(mutex_);
          line = fmt::format(
              "scalelab: could not stop within {} ms ({}); exiting now. Every record on disk is "
              "whole{}\n",
              kStopDeadline.count(), phase_.empty() ? "starting" : phase_,
              folder_.empty() ? ""
                              : fmt::format("; continue with: scalelab run --resume {}", folder_));
        }
        [[maybe_unused]] const auto n = ::write(STDERR_FILENO, line.data(), line.size());
        ::_exit(128 + received_.load());
      }
    }
  }

  sigset_t signals_{}, previous_{};
  std::stop_source stop_;
  std::atomic<int> received_{0};
  std::mutex mutex_;
  std::string phase_, folder_;
  std::jthread watcher_;  // last: stopped and joined before the members it uses go
};

// For the tests of stopping in each phase: with SCALELAB_TEST_PAUSE_AT=PHASE in the
// environment, the run says "scalelab: paused at PHASE" on stderr when it reaches PHASE
// ("calibration", "analysis", "reports") and waits there, up to 30 s, for a stop request, then
// carries on with the phase, which must then honour the stop.
void pause_for_test(const char* phase, const std::stop_token& stop) {
  const char* wanted = std::getenv("SCALELAB_TEST_PAUSE_AT");
  if (wanted == nullptr || std::strcmp(wanted, phase) != 0) return;
  const std::string line = fmt::format("scalelab: paused at {}\n", phase);
  [[maybe_unused]] const auto n = ::write(STDERR_FILENO, line.data(), line.size());
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!stop.stop_requested() && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
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

// `scalelab report RESULTS [--out DIR]`: the analysis and reports of a saved run.
int report_command(const std::string& results, const std::string& out_dir, bool quiet,
                   std::ostream& out, std::ostream& err) {
  const fs::path source(results);
  const RecordedRun recorded = read_records(source);
  std::error_code ec;
  fs::path dir = out_dir.empty() ? (fs::is_directory(source, ec) ? source : source.parent_path())
                                 : fs::path(out_dir);
  if (dir.empty()) dir = ".";
  fs::create_directories(dir, ec);
  if (ec) throw Error(fmt::format("--out: cannot create '{}': {}", dir.string(), ec.message()));
  const ReportInput report = make_report_input(recorded);
  write_reports(dir, report);
  if (!quiet) {
    for (const auto& w : report.warnings) err << "warning: " << w << "\n";
    if (report.interrupted) {
      err << fmt::format("note: the run was interrupted: {} of {} planned trials are on record\n",
                         report.recorded_trials, report.planned_trials);
    }
  }
  print_console_tables(out, report.analysis.rows);
  print_conclusions(out, report.analysis.conclusions);
  if (!quiet) err << fmt::format("\nwrote {}/report.md, report.html\n", dir.string());
  return 0;
}

// `scalelab compare A B`: two saved runs side by side.
int compare_command(const std::string& a, const std::string& b, std::ostream& out,
                    std::ostream& err) {
  const RecordedRun run_a = read_records(a);
  const RecordedRun run_b = read_records(b);
  for (const auto* run : {&run_a, &run_b}) {
    for (const auto& w : run->warnings) err << "warning: " << w << "\n";
  }
  // Differences that make a comparison unfair are worth a line before the verdicts.
  const auto differs = [&](const char* section, const char* key) {
    const auto& x = run_a.header.value(section, nlohmann::json::object());
    const auto& y = run_b.header.value(section, nlohmann::json::object());
    const auto xa = x.is_object() ? x.value(key, nlohmann::json()) : nlohmann::json();
    const auto yb = y.is_object() ? y.value(key, nlohmann::json()) : nlohmann::json();
    if (xa != yb) err << fmt::format("note: {} differs: {} vs {}\n", key, xa.dump(), yb.dump());
  };
  for (const char* key : {"tasks", "cpu_work_iters", "cpu_work_s", "io_wait_s"}) {
    differs("spec", key);
  }
  for (const char* key : {"cpu_model", "usable_cores", "build_type", "runtimes"}) {
    differs("environment", key);
  }
  const auto rows = compare_runs(run_a.trials, run_b.trials);
  if (rows.empty()) {
    out << "no (workload, model, workers) point was measured in both runs\n";
    return 0;
  }
  print_comparison(out, rows, a, b);
  return 0;
}

// What `scalelab granularity` was given, before it is checked.
struct GranularityArgs {
  std::string model, workload = "cpu", workers, sizes, repeat = "3", min_batch = "200ms",
                     threshold = "0.5", seed = "0", out;
  bool no_warmup = false, quiet = false, workers_given = false, sizes_given = false,
       out_given = false;
  // The models' parameters, as for run (RunOptions::params).
  std::map<std::string, std::string> params;
  std::set<std::string> params_given;
};

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
  ParamValues given;
  for (const auto& declared : declared_params()) {
    if (!a.params_given.contains(declared.param.name)) continue;
    const nlohmann::json value = declared.param.parse(a.params.at(declared.param.name));
    if (!declared.used_by({}, {"serial", options.model})) {
      throw Error(fmt::format("{}: {}", declared.param.flag(), declared.unused_reason()));
    }
    given.set(declared.param.key(), value);
  }
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

// One line per plug-in, then one per parameter it takes: its flag, default and help.
template <class Entry>
void list_entries(std::ostream& out, const std::vector<Entry>& entries) {
  for (const auto& e : entries) {
    out << fmt::format("  {:<10} {}\n", e.name, e.summary);
    for (const auto& p : e.params) {
      out << fmt::format("  {:<10}   {} (default {}): {}\n", "", p.flag(),
                         p.default_text.empty() ? "none" : p.default_text, p.help);
    }
  }
}

void list_command(std::ostream& out) {
  out << "models:\n";
  list_entries(out, model_registry().entries());
  out << "workloads:\n";
  list_entries(out, workload_registry().entries());
}

}  // namespace

int main(int argc, const char* const* argv, std::ostream& out, std::ostream& err, bool* hung) {
  CLI::App app{
      "scalelab: how far do threads, processes and async scale? Runs a workload as N "
      "tasks under each concurrency model at each worker count, several times, and "
      "reports wall time, speedup, efficiency and CPU use.",
      "scalelab"};
  app.footer(kExamples);
  app.set_version_flag("--version", version());
  app.require_subcommand(0, 1);

  RunOptions options;
  auto* run = app.add_subcommand("run", "run a sweep (the default when no subcommand is given)");
  auto* workload_option = run->add_option("--workload", options.workloads,
                                          "workloads, comma-separated (see `scalelab list`)")
                              ->default_str(options.workloads);
  auto* model_option =
      run->add_option("--model", options.models, "models, comma-separated (see `scalelab list`)")
          ->default_str(options.models);
  auto* workers_option =
      run->add_option("--workers", options.workers,
                      "worker counts: 1,2,8 or 1..16 (powers of two, the upper bound included); "
                      "default: up to 2x cores for cpu, up to --tasks for io");
  run->add_option("--tasks", options.tasks, "tasks per trial")->default_str(options.tasks);
  run->add_option("--repeat", options.repeat, "counted trials per point")
      ->default_str(options.repeat);
  auto* seed_option = run->add_option("--seed", options.seed,
                                      "seed for the trial order (default: random, recorded)");
  // Every registered model's and workload's parameters, from their declarations.
  std::vector<DeclaredParam> declared;
  try {
    declared = declared_params();
  } catch (const Error& e) {  // two plug-ins disagree about a parameter: a broken build
    err << "scalelab: " << e.what() << "\n";
    return 2;
  }
  std::vector<std::pair<std::string, CLI::Option*>> param_options;
  for (const auto& d : declared) {
    auto* option = run->add_option(d.param.flag(), options.params[d.param.name], d.param.help);
    if (!d.param.default_text.empty()) option->default_str(d.param.default_text);
    param_options.emplace_back(d.param.name, option);
  }
  auto* out_option =
      run->add_option("--out", options.out, "results folder (default: results/<UTC time>/)");
  auto* resume_option = run->add_option(
      "--resume", options.resume,
      "continue the interrupted run in this results folder: its recorded spec, seed and task "
      "sizes, only the trials not on record (give no other run flags)");
  auto* trial_timeout_option =
      run->add_option("--trial-timeout", options.trial_timeout, kTrialTimeoutHelp);
  run->add_option("--rerun-disturbed", options.rerun_disturbed,
                  "run a disturbed trial (at most one worker a core, yet its threads waited for a "
                  "CPU more than 5 % of their CPU time: another process took the CPUs) again, up "
                  "to this many times; every attempt is recorded, analysis uses the undisturbed")
      ->default_str(options.rerun_disturbed);
  run->add_flag("--force", options.force,
                "replace the results in an existing --out folder (only the files a run writes)");
  run->add_flag("--no-warmup", options.no_warmup,
                "skip the uncounted warm-up trial per (workload, model, workers)");
  run->add_flag("-q,--quiet", options.quiet, "no progress or notes on stderr; tables only");
  auto* list = app.add_subcommand("list", "name every model and workload");
  auto* env = app.add_subcommand("env", "print the environment scalelab records, as JSON");

  std::string report_results, report_out;
  bool report_quiet = false;
  auto* report = app.add_subcommand(
      "report", "analyse a saved run again and write report.md and report.html (no re-run)");
  report->add_option("RESULTS", report_results, "a results folder, or its results.jsonl")
      ->required();
  report->add_option("--out", report_out, "folder for the reports (default: the results folder)");
  report->add_flag("-q,--quiet", report_quiet, "no notes on stderr; tables only");

  GranularityArgs granularity_args;
  auto* granularity = app.add_subcommand(
      "granularity",
      "sweep the task size down (10ms to 1us) for one model at W = cores and report the "
      "smallest size that still reaches 50 % efficiency: below it, overhead dominates");
  granularity->add_option("--model", granularity_args.model, "the model to measure")->required();
  granularity
      ->add_option("--workload", granularity_args.workload,
                   "cpu, or python (the seed's loop in CPython) when built with it")
      ->default_str(granularity_args.workload);
  auto* granularity_workers = granularity->add_option("--workers", granularity_args.workers,
                                                      "worker count (default: the usable cores)");
  auto* granularity_sizes =
      granularity->add_option("--sizes", granularity_args.sizes,
                              "task sizes, comma-separated durations (default: "
                              "10ms,3ms,1ms,300us,100us,30us,10us,3us,1us)");
  granularity->add_option("--repeat", granularity_args.repeat, "trials per size, each side")
      ->default_str(granularity_args.repeat);
  granularity
      ->add_option("--min-batch", granularity_args.min_batch,
                   "how long each serial batch should last (sets the task count per size)")
      ->default_str(granularity_args.min_batch);
  granularity
      ->add_option("--threshold", granularity_args.threshold,
                   "efficiency a size must reach, 0 to 1")
      ->default_str(granularity_args.threshold);
  granularity->add_option("--seed", granularity_args.seed, "seed for the bootstrap CIs")
      ->default_str(granularity_args.seed);
  std::vector<std::pair<std::string, CLI::Option*>> granularity_param_options;
  for (const auto& d : declared) {
    if (d.models.empty()) continue;
    auto* option = granularity->add_option(d.param.flag(), granularity_args.params[d.param.name],
                                           d.param.help);
    if (!d.param.default_text.empty()) option->default_str(d.param.default_text);
    granularity_param_options.emplace_back(d.param.name, option);
  }
  auto* granularity_out =
      granularity->add_option("--out", granularity_args.out, "also write the sweep as JSON here");
  granularity->add_flag("--no-warmup", granularity_args.no_warmup,
                        "skip the uncounted warm-up trials per size");
  granularity->add_flag("-q,--quiet", granularity_args.quiet, "no notes on stderr");

  std::string compare_a, compare_b;
  auto* compare = app.add_subcommand(
      "compare",
      "compare two saved runs point by point: ratio of medians with its 95 % CI and a "
      "Mann-Whitney U verdict (faster, slower, no significant difference)");
  compare->add_option("A", compare_a, "the first run: a results folder or results.jsonl")
      ->required();
  compare->add_option("B", compare_b, "the second run, compared against A")->required();

  // `scalelab --tasks 8` means `scalelab run --tasks 8`: run is the default subcommand.
  std::vector<const char*> args(argv, argv + argc);
  if (argc == 1 ||
      (argc > 1 && argv[1][0] == '-' && std::strcmp(argv[1], "-h") != 0 &&
       std::strcmp(argv[1], "--help") != 0 && std::strcmp(argv[1], "--version") != 0)) {
    args.insert(args.begin() + 1, "run");
  }
  try {
    app.parse(static_cast<int>(args.size()), args.data());
  } catch (const CLI::Success& e) {
    return app.exit(e, out, err);
  } catch (const CLI::ParseError& e) {
    err << "scalelab: " << e.what() << " (see scalelab --help)\n";
    return 2;
  }

  options.workers_given = workers_option->count() > 0;
  options.trial_timeout_given = trial_timeout_option->count() > 0;
  options.seed_given = seed_option->count() > 0;
  options.out_given = out_option->count() > 0;
  options.workloads_given = workload_option->count() > 0;
  options.models_given = model_option->count() > 0;
  for (const auto& [name, option] : param_options) {
    if (option->count() > 0) options.params_given.insert(name);
  }
  for (const auto& [name, option] : granularity_param_options) {
    if (option->count() > 0) granularity_args.params_given.insert(name);
  }
  try {
    if (list->parsed()) {
      list_command(out);
      return 0;
    }
    if (env->parsed()) {
      out << collect_environment().dump(2) << "\n";
      return 0;
    }
    if (granularity->parsed()) {
      granularity_args.workers_given = granularity_workers->count() > 0;
      granularity_args.sizes_given = granularity_sizes->count() > 0;
      granularity_args.out_given = granularity_out->count() > 0;
      return granularity_command(granularity_args, out, err);
    }
    if (report->parsed()) return report_command(report_results, report_out, report_quiet, out, err);
    if (compare->parsed()) return compare_command(compare_a, compare_b, out, err);
    if (resume_option->count() > 0) {
      // The spec comes from the records; a flag given beside --resume would be ignored.
      for (const auto* option : run->get_options()) {
        if (option != resume_option && option->count() > 0 && option->get_name() != "--quiet" &&
            option->get_name() != "-q,--quiet" && option->get_name() != "--help") {
          throw Error(fmt::format("--resume: the run's spec comes from its records; drop {}",
                                  option->get_name()));
        }
      }
      return resume_command(options.resume, !options.quiet, out, err, hung);
    }
    return run_command(options, out, err, hung);
  } catch (const Error& e) {
    err << "scalelab: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    err << "scalelab: " << e.what() << "\n";
    return 1;
  }
}

int run(int argc, char** argv) {
  if (const auto code = maybe_run_worker(argc, argv)) return *code;
  bool hung = false;
  const int code = main(argc, argv, std::cout, std::cerr, &hung);
  if (hung) {
    // Leave without static destructors: a hung trial's threads still run its task, and
    // tearing down the registries under them could crash a run whose results are already
    // safe on disk. Everything scalelab writes is closed by now.
    std::cout.flush();
    std::cerr.flush();
    std::fflush(nullptr);
    std::_Exit(code);
  }
  return code;
}

}  // namespace scalelab::cli
