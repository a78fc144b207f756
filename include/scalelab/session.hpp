#pragma once
/// \file session.hpp
/// A whole run into a results folder, as one call: calibration, the user's code loaded apart,
/// the plan, the records (header, every trial as it ends, resume and end lines), then the final
/// files and reports, made from the records as read back from disk. A front end (the CLI, a
/// test, a user's program) only says where, shows progress and asks for a stop.

#include <cstddef>
#include <filesystem>
#include <functional>
#include <stop_token>
#include <string>
#include <vector>

#include "scalelab/analysis.hpp"
#include "scalelab/plan.hpp"
#include "scalelab/records.hpp"
#include "scalelab/resume.hpp"
#include "scalelab/trial.hpp"

namespace scalelab {

/// What a session is about to run, once its records are open.
struct SessionStart {
  std::filesystem::path folder;    ///< where the records and final files go
  std::size_t planned = 0;         ///< counted trials of the whole plan
  std::size_t recorded = 0;        ///< of those, already on record (a resumed run)
  std::size_t to_run = 0;          ///< counted trials this session runs
  std::size_t warmups = 0;         ///< uncounted warm-ups this session runs
  std::vector<std::size_t> tasks;  ///< tasks per trial (several: a scan); empty for a sweep
  std::uint64_t seed = 0;          ///< the plan's shuffle seed
  bool resumed = false;            ///< continues a run already on record
  PlanEstimate estimate;           ///< how long the trials this session runs should take
};

/// Called as a session goes, from the thread that called it; any may be empty.
struct SessionObserver {
  /// What the session is doing now, when that changes: "calibration", "loading the user's
  /// code", the runner's phases (RunObserver::on_phase), "analysis", "writing the final files
  /// and reports".
  std::function<void(const std::string&)> on_phase;
  /// A whole line worth telling the user: "calibrated cpu: …", "left out: …", "warning: …"
  /// about the machine, "note: …" from the runner.
  std::function<void(const std::string&)> on_message;
  /// A warning about the records themselves (a torn line skipped), which even a quiet front
  /// end should show.
  std::function<void(const std::string&)> on_record_warning;
  /// Once the header (or resume line) is on disk, before the first trial.
  std::function<void(const SessionStart&)> on_start;
  /// After each trial, warm-ups included, once it is on record (RunObserver::on_trial).
  std::function<void(const Trial&, std::size_t done, std::size_t total)> on_trial;
  /// A stop request (Ctrl-C): the session ends at the next point that checks; trials on
  /// record stay, and the final files are still written from them.
  std::stop_token stop;
  /// What requested the stop, for the end record ("SIGINT"); empty if unknown.
  std::function<std::string()> stop_cause;
};

/// How a session ended, and what its files were made from.
struct SessionResult {
  /// Set when a stop came before any trial ran (its phase: "calibration", "loading the user's
  /// code"); then nothing was written and the rest is empty.
  std::string stopped_before_start;
  std::filesystem::path folder;  ///< the results folder
  RunResult run;                 ///< how the trials ended (RunEnd, reason, abandoned threads)
  /// One line per failed trial ("cpu threads workers=2 repeat 1: …"), then one per workload
  /// whose trials were not run ("python (6 trials): not run: …").
  std::vector<std::string> failures;
  std::size_t failed_trials = 0;    ///< trials those lines stand for
  std::size_t planned_trials = 0;   ///< counted trials of the whole plan
  std::size_t recorded_trials = 0;  ///< of those, on record now
  /// A sweep's analysis of the records on disk, as its files show it (run_session and
  /// resume_session; a granularity session's is in GranularitySession).
  AnalysedRun analysis;
  bool interrupted() const { return run.end != RunEnd::completed; }  ///< the plan did not finish
};

/// A run decided before anything is written: task sizes calibrated, user code loaded apart,
/// the plan and how long it should take.
struct PreparedRun {
  /// Set when a stop came in this phase ("calibration", "loading the user's code"); then the
  /// rest is empty.
  std::string stopped_in;
  ResolvedWorkloads resolved;  ///< the task sizes and the calibrations that made them
  Plan plan;                   ///< every trial, in run order
  PlanEstimate estimate;       ///< estimate_plan of it on this machine
  int cores = 1;               ///< the usable cores it was planned for
};

/// The first phases of run_session, alone: what a dry run shows (calibration lines and
/// left-out pairs go to the observer as messages). Throws Error when the spec cannot run.
PreparedRun prepare_run(const Spec& spec, const SessionObserver& observer);

/// Runs `spec` into `folder` (created if missing; files of the same names are replaced).
/// Throws Error, before anything is written, when the spec cannot run (a workload it cannot
/// size, user code that does not load) or the folder cannot be made.
SessionResult run_session(const Spec& spec, const std::filesystem::path& folder,
                          const SessionObserver& observer);

/// A recorded run ready to continue.
struct PreparedResume {
  std::filesystem::path folder;  ///< its results folder
  RecordedRun recorded;          ///< its records as read
  Resumption resumption;         ///< its spec and what is left of its plan
};

/// Reads the records of `folder` (a torn line is a record warning) and plans what is left.
/// Throws Error when they cannot be continued (none, damaged, another kind of run); writes
/// nothing.
PreparedResume prepare_resume(const std::filesystem::path& folder, const SessionObserver& observer);

/// Continues a prepared run with its recorded spec, seed and task sizes: only the trials not
/// on record, appended to its records; then the final files again.
SessionResult resume_session(const PreparedResume& prepared, const SessionObserver& observer);

/// prepare_resume, then resume_session.
SessionResult resume_session(const std::filesystem::path& folder, const SessionObserver& observer);

}  // namespace scalelab
