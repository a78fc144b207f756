// `scalelab run` and `run --resume`: flags into a Spec and a folder, then one session
// (session.hpp) with progress on the terminal and signals turned into a stop request.

#include <unistd.h>

#include <chrono>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "cli/signals.hpp"
#include "scalelab/scalelab.hpp"

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

// The session creates the folder once the run is ready to start, so that bad input leaves no
// empty folder behind; whether it can be created is known now: the nearest existing folder
// above it must be a folder this process may write into.
void check_creatable(const fs::path& dir) {
  std::error_code ec;
  fs::path existing = fs::absolute(dir, ec);
  while (!fs::exists(existing, ec) && existing.has_relative_path())
    existing = existing.parent_path();
  if (fs::is_directory(existing, ec) &&
      (existing == fs::absolute(dir, ec) || ::access(existing.c_str(), W_OK | X_OK) == 0)) {
    return;
  }
  throw Error(fmt::format("--out: cannot create '{}': {}", dir.string(),
                          fs::is_directory(existing, ec)
                              ? fmt::format("'{}' is not writable", existing.string())
                              : fmt::format("'{}' is not a folder", existing.string())));
}

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
    check_creatable(dir);
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

// The terminal's side of a session: progress on one line of stderr when it is a terminal,
// the session's lines when not quiet, and the signal watch's stop request and phases.
class Console {
 public:
  Console(SignalWatch& signals, bool chatty, std::ostream& err)
      : signals_(signals),
        chatty_(chatty),
        progress_(chatty && ::isatty(STDERR_FILENO) == 1),
        err_(err) {}

  SessionObserver observer() {
    SessionObserver o;
    o.stop = signals_.token();
    o.stop_cause = [this] {
      const int signal = signals_.received();
      return signal != 0 ? std::string(sigabbrev_np(signal)) : std::string();
    };
    o.on_phase = [this](const std::string& phase) {
      signals_.phase(phase);
      if (phase == "calibration" || phase == "analysis") pause_for_test(phase.c_str(), stop());
      if (phase.starts_with("writing the final files")) pause_for_test("reports", stop());
    };
    o.on_message = [this](const std::string& line) {
      if (!chatty_) return;
      clear_progress();
      err_ << line << "\n" << std::flush;
    };
    o.on_record_warning = [this](const std::string& line) { err_ << line << "\n"; };
    o.on_start = [this](const SessionStart& s) {
      signals_.folder(s.folder.string());
      started_ = std::chrono::steady_clock::now();
      if (!chatty_) return;
      if (s.resumed) {
        err_ << fmt::format("scalelab {}: resuming {}: {} of {} trials on record, {} to run\n",
                            version(), s.folder.string(), s.recorded, s.planned, s.to_run);
      } else {
        err_ << fmt::format(
            "scalelab {}: {} trials (+{} warm-ups), {} tasks each, seed {}; results in {}\n",
            version(), s.planned, s.warmups, s.tasks, s.seed, s.folder.string());
      }
    };
    o.on_trial = [this](const Trial& trial, std::size_t done, std::size_t total) {
      if (!progress_) return;
      const double elapsed =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
      const double eta = elapsed / static_cast<double>(done) * static_cast<double>(total - done);
      err_ << fmt::format("\r\x1b[K[{}/{}] {} {} workers={}  elapsed {}  ETA {}", done, total,
                          trial.workload, trial.model, trial.workers, clock_text(elapsed),
                          clock_text(eta))
           << std::flush;
    };
    return o;
  }
  void clear_progress() {
    if (progress_) err_ << "\r\x1b[K" << std::flush;
  }
  std::stop_token stop() const { return signals_.token(); }

 private:
  SignalWatch& signals_;
  bool chatty_, progress_;
  std::ostream& err_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
};

// What a finished session tells the user after its files are written, and its exit code.
int conclude(const SessionResult& result, SignalWatch& signals, Console& console, bool chatty,
             std::ostream& out, std::ostream& err, bool* hung) {
  console.clear_progress();
  if (!result.stopped_before_start.empty()) {
    err << fmt::format("scalelab: stopped during {}: no trial had run, so nothing was written\n",
                       result.stopped_before_start);
    return signals.exit_code();
  }
  if (hung != nullptr && (result.run.end == RunEnd::hung || result.run.abandoned)) *hung = true;
  print_console_tables(out, result.analysis.analysis.rows);
  print_conclusions(out, result.analysis.analysis.conclusions);
  const std::string dir = result.folder.string();
  if (chatty) {
    err << fmt::format(
        "\nwrote {}/results.jsonl, results.csv, results.json, report.md, report.html\n", dir);
  }
  if (!result.failures.empty()) {
    err << fmt::format("{} trial(s) failed:\n", result.failed_trials);
    for (const auto& f : result.failures) err << "  " << f << "\n";
  }
  if (result.interrupted()) {
    err << fmt::format(
        "scalelab: {}; {} of {} planned trials are on record; continue with: scalelab run "
        "--resume {}\n",
        result.run.reason, result.analysis.recorded_trials, result.analysis.planned_trials, dir);
  }
  // A signal may also have come during the analysis or the writing of the files.
  const int late_signal = signals.received();
  if (result.run.end == RunEnd::stopped || late_signal != 0) {
    if (late_signal != 0 && result.run.end != RunEnd::stopped) {
      // The signal came after the last trial: the run is complete, and so are its files.
      err << "scalelab: stopped after the last trial; the run and its files are complete\n";
    }
    return signals.exit_code();
  }
  return result.failures.empty() && !result.interrupted() ? 0 : 1;
}

}  // namespace

int run_command(const RunOptions& options, std::ostream& out, std::ostream& err, bool* hung) {
  const Spec spec = make_spec(options);
  const fs::path dir = choose_out_dir(options.out, options.out_given, options.force);
  const bool chatty = !options.quiet;
  // From here on Ctrl-C and SIGTERM stop the run wherever it is (see SignalWatch).
  SignalWatch signals;
  Console console(signals, chatty, err);
  const SessionResult result = run_session(spec, dir, console.observer());
  return conclude(result, signals, console, chatty, out, err, hung);
}

// `scalelab run --resume DIR`: the trials of an interrupted run that are not on record yet,
// with its recorded spec, seed and task sizes, appended to its records.
int resume_command(const std::string& folder, bool chatty, std::ostream& out, std::ostream& err,
                   bool* hung) {
  if (folder.empty()) throw Error("--resume: empty; give the results folder of a run");
  std::error_code ec;
  if (!fs::is_regular_file(fs::path(folder) / "results.jsonl", ec)) {
    throw Error(fmt::format("--resume: '{}' holds no results.jsonl to continue", folder));
  }
  SignalWatch signals;
  Console console(signals, chatty, err);
  SessionResult result;
  try {
    result = resume_session(folder, console.observer());
  } catch (const Error& e) {
    throw Error(fmt::format("--resume: {}", e.what()));
  }
  return conclude(result, signals, console, chatty, out, err, hung);
}

}  // namespace scalelab::cli
