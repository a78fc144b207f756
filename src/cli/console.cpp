// Console and the results folder: see console.hpp.

#include "cli/console.hpp"

#include <unistd.h>

#include <cstring>
#include <ctime>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "scalelab/error.hpp"
#include "scalelab/records.hpp"

namespace scalelab::cli {
namespace fs = std::filesystem;
namespace {

// The files a run writes into its folder; --force removes these and only these.
constexpr const char* kRunFiles[] = {"results.jsonl", "results.csv", "results.json", "report.md",
                                     "report.html"};

// The session creates the folder once the run is ready to start, so that bad input leaves no
// empty folder behind; whether it can be created is known now: the nearest existing folder
// above it must be a folder this process may write into.
void check_creatable(const fs::path& dir) {
  std::error_code ec;
  const fs::path target = fs::absolute(dir, ec);
  fs::path existing = target;
  while (!fs::exists(existing, ec) && existing.has_relative_path()) {
    existing = existing.parent_path();
  }
  const bool folder = fs::is_directory(existing, ec);
  if (folder && ::access(existing.c_str(), W_OK | X_OK) == 0) return;
  throw Error(fmt::format("--out: cannot {} '{}': {}", existing == target ? "write into" : "create",
                          dir.string(),
                          folder ? fmt::format("'{}' is not writable", existing.string())
                                 : fmt::format("'{}' is not a folder", existing.string())));
}

}  // namespace

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

namespace {

std::string clock_text(double seconds) {
  const auto s = static_cast<long>(seconds + 0.5);
  return fmt::format("{}:{:02}", s / 60, s % 60);
}

std::string sweep_start_line(const SessionStart& s) {
  if (s.resumed) {
    return fmt::format("scalelab {}: resuming {}: {} of {} trials on record, {} to run, {}",
                       version(), s.folder.string(), s.recorded, s.planned, s.to_run,
                       estimate_text(s.estimate));
  }
  return fmt::format(
      "scalelab {}: {} trials (+{} warm-ups), {} tasks each, seed {}, {}; results in {}", version(),
      s.planned, s.warmups, fmt::join(s.tasks, ","), s.seed, estimate_text(s.estimate),
      s.folder.string());
}

}  // namespace

void check_resume_folder(const std::string& folder, const char* what) {
  if (folder.empty()) {
    throw Error(fmt::format("--resume: empty; give the results folder of a {}", what));
  }
  std::error_code ec;
  if (!fs::is_regular_file(fs::path(folder) / "results.jsonl", ec)) {
    throw Error(fmt::format("--resume: '{}' holds no results.jsonl to continue", folder));
  }
}

Console::Console(SignalWatch& signals, std::string command, bool chatty, std::ostream& err)
    : signals_(signals),
      command_(std::move(command)),
      chatty_(chatty),
      progress_(chatty && ::isatty(STDERR_FILENO) == 1),
      err_(err) {}

SessionObserver Console::observer(std::function<std::string(const SessionStart&)> start_line) {
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
  o.on_start = [this, start_line = std::move(start_line)](const SessionStart& s) {
    signals_.resume_hint(fmt::format("scalelab {} --resume {}", command_, s.folder.string()));
    started_ = std::chrono::steady_clock::now();
    if (chatty_) err_ << (start_line ? start_line(s) : sweep_start_line(s)) << "\n";
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

void Console::clear_progress() {
  if (progress_) err_ << "\r\x1b[K" << std::flush;
}

int Console::conclude(const SessionResult& result, bool* hung,
                      const std::function<void()>& print_results) {
  clear_progress();
  if (!result.stopped_before_start.empty()) {
    err_ << fmt::format("scalelab: stopped during {}: no trial had run, so nothing was written\n",
                        result.stopped_before_start);
    return signals_.exit_code();
  }
  if (hung != nullptr && (result.run.end == RunEnd::hung || result.run.abandoned)) *hung = true;
  if (print_results) print_results();
  const std::string dir = result.folder.string();
  if (chatty_) {
    err_ << fmt::format(
        "\nwrote {}/results.jsonl, results.csv, results.json, report.md, report.html\n", dir);
  }
  if (!result.failures.empty()) {
    err_ << fmt::format("{} trial(s) failed:\n", result.failed_trials);
    for (const auto& f : result.failures) err_ << "  " << f << "\n";
  }
  if (result.interrupted()) {
    err_ << fmt::format(
        "scalelab: {}; {} of {} planned trials are on record; continue with: scalelab {} "
        "--resume {}\n",
        result.run.reason, result.recorded_trials, result.planned_trials, command_, dir);
  }
  // A signal may also have come during the analysis or the writing of the files.
  const int late_signal = signals_.received();
  if (result.run.end == RunEnd::stopped || late_signal != 0) {
    if (late_signal != 0 && result.run.end != RunEnd::stopped) {
      // The signal came after the last trial: the run is complete, and so are its files.
      err_ << "scalelab: stopped after the last trial; the run and its files are complete\n";
    }
    return signals_.exit_code();
  }
  return result.failures.empty() && !result.interrupted() ? 0 : 1;
}

}  // namespace scalelab::cli
