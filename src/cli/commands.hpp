#pragma once
// The subcommands of the scalelab command line, a file each (run.cpp: run and resume;
// report.cpp: report and compare; granularity.cpp; cli.cpp: the flags, list, env), and what
// they share: what the user typed, before it is checked.

#include <cstdint>
#include <map>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "scalelab/analysis.hpp"

namespace scalelab::cli {

constexpr std::int64_t kMaxWorkers = 10'000'000;
constexpr std::int64_t kMaxTasks = 10'000'000;

// The default experiment: the seed's workloads under the seed's models in C++, and, when
// scalelab is built with CPython, the seed's own two tasks in Python under Python's own
// executors (default_workload_models pairs them) in place of the emulated GIL, which only
// stood in for them.
#if SCALELAB_HAVE_PYTHON
constexpr const char* kDefaultWorkloads = "cpu,io,python,python-io";
constexpr const char* kDefaultModels =
    "serial,threads,processes,async,py-threads,py-processes,py-asyncio";
#else
constexpr const char* kDefaultWorkloads = "cpu,io";
constexpr const char* kDefaultModels = "serial,threads,processes,async,gil";
#endif

// The default experiment's pairs: the C++ tasks under the C++ models, the Python tasks under
// serial and Python's own executors.
inline std::map<std::string, std::vector<std::string>> default_workload_models() {
#if SCALELAB_HAVE_PYTHON
  const std::vector<std::string> cpp{"serial", "threads", "processes", "async"};
  const std::vector<std::string> python{"serial", "py-threads", "py-processes", "py-asyncio"};
  return {{"cpu", cpp}, {"io", cpp}, {"python", python}, {"python-io", python}};
#else
  return {};
#endif
}

// What the user typed for `run`, before it is checked.
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
  bool dry_run = false;  // print the plan and its estimate, run nothing
  bool force = false;    // replace the results in an existing --out folder
  std::string resume;    // continue the run in this folder
  std::string trial_timeout;
  std::string rerun_disturbed = "2";
  bool trial_timeout_given = false;
  bool workers_given = false;  // given, even as "": an empty value is an error, not a default
  bool seed_given = false;
  bool out_given = false;
  bool workloads_given = false;
  bool models_given = false;
  // An experiment file's [WORKLOAD] models: the models that run that workload.
  std::map<std::string, std::vector<std::string>> workload_models;
  // The plug-ins' parameters (declared_params): what was typed for each, by name, and which
  // were given at all.
  std::map<std::string, std::string> params;
  std::set<std::string> params_given;
  std::string file;               // an experiment file (experiment.hpp), or ""
  bool print_spec = false;        // print the resolved spec as an experiment file and exit
  bool skip_unsupported = false;  // leave out a pair that cannot run even when both are named
  // The flags typed on the command line, by name without dashes ("io-wait", "tasks"): they
  // override the experiment file.
  std::set<std::string> typed_flags;
  // The experiment file's plug-in tables (Spec::own_params).
  std::map<std::string, ParamValues> own_params;
};

// What `scalelab granularity` was given, before it is checked.
struct GranularityArgs {
  std::string model, workload = "cpu", workers, sizes, repeat = "3", min_batch = "200ms",
                     threshold = "0.5", seed = "0", out, rerun_disturbed = "2";
  std::string resume;  // continue the sweep in this results folder
  bool no_warmup = false, quiet = false, force = false, workers_given = false, sizes_given = false,
       out_given = false;
  // The models' parameters, as for run (RunOptions::params).
  std::map<std::string, std::string> params;
  std::set<std::string> params_given;
};

/// `scalelab run`: parse into a Spec, calibrate, plan, run, write the files and reports.
int run_command(const RunOptions& options, std::ostream& out, std::ostream& err, bool* hung);
/// `scalelab run --resume DIR`.
int resume_command(const std::string& folder, bool chatty, std::ostream& out, std::ostream& err,
                   bool* hung);
/// `scalelab spec RESULTS`: the recorded run's spec as an experiment file.
int spec_command(const std::string& results, std::ostream& out);
/// `scalelab report RESULTS [--out DIR]`.
int report_command(const std::string& results, const std::string& out_dir, bool quiet,
                   std::ostream& out, std::ostream& err);
/// `scalelab compare A B`.
int compare_command(const std::string& a, const std::string& b, std::ostream& out,
                    std::ostream& err);
/// `scalelab granularity --model M`.
int granularity_command(const GranularityArgs& a, std::ostream& out, std::ostream& err, bool* hung);
/// `scalelab granularity --resume DIR`.
int granularity_resume_command(const std::string& folder, bool chatty, std::ostream& out,
                               std::ostream& err, bool* hung);

/// The conclusions under the tables: "Conclusions" and one "  - " line each.
void print_conclusions(std::ostream& out, const std::vector<Conclusion>& conclusions);

}  // namespace scalelab::cli
