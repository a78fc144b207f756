#pragma once
// What `run` and `granularity` share at the terminal: choosing the results folder, showing a
// session's progress and lines (Console), and telling how it ended, with its exit code.

#include <chrono>
#include <filesystem>
#include <functional>
#include <ostream>
#include <stop_token>
#include <string>

#include "cli/signals.hpp"
#include "scalelab/session.hpp"

namespace scalelab::cli {

/// A folder nobody has written into yet: the given one (--out), or results/<UTC time>[-N]. An
/// existing folder with files in it is only reused with `force` (--force), which removes the
/// files a run writes. Throws Error naming --out when the folder cannot be used.
std::filesystem::path choose_out_dir(const std::string& requested, bool given, bool force);

/// Refuses a --resume folder with nothing to continue (empty, or no results.jsonl); `what`
/// names what it should hold ("run", "sweep").
void check_resume_folder(const std::string& folder, const char* what);

/// The terminal's side of a session: progress on one line of stderr when it is a terminal,
/// the session's lines when not quiet, the signal watch's stop request and phases. `command`
/// ("run", "granularity") is what continues an interrupted session: scalelab COMMAND --resume.
class Console {
 public:
  Console(SignalWatch& signals, std::string command, bool chatty, std::ostream& err);

  /// The observer to give the session. `start_line`, when set, writes the line shown once
  /// the session starts (the default tells a sweep's trials, tasks and seed).
  SessionObserver observer(std::function<std::string(const SessionStart&)> start_line = {});
  /// Clears the progress line, before anything else is written to stderr.
  void clear_progress();

  /// Tells the end of `result`: stopped before any trial, or the files written, the failed
  /// trials, how to continue an interrupted one; `print_results` prints the kind's own tables
  /// and verdicts to stdout first. Returns the exit code: 130/143 after a signal, 1 when a
  /// trial failed or the session was interrupted, else 0. Sets *hung when threads were left
  /// running, so the process must leave without destructors.
  int conclude(const SessionResult& result, bool* hung, const std::function<void()>& print_results);

 private:
  std::stop_token stop() const { return signals_.token(); }

  SignalWatch& signals_;
  std::string command_;
  bool chatty_, progress_;
  std::ostream& err_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
};

}  // namespace scalelab::cli
