// The scalelab command line: its flags (each plug-in's from its declaration), the dispatch to
// a subcommand (commands.hpp), and errors caught once, at the top.

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

#include "cli/commands.hpp"
#include "scalelab/scalelab.hpp"
#include "support/json_field.hpp"

namespace scalelab::cli {
namespace {

constexpr const char* kExamples = R"(
Examples:
  scalelab                                  the seed's experiment: cpu and io under serial,
                                            threads, processes and async, about a minute
  scalelab run --workload cpu --model serial,threads,processes --workers 1..8
  scalelab run --workload io --io-wait 50ms --tasks 64 --workers 1..64 --model threads,async
  scalelab run --workload noop --tasks 100000 --workers 2 --model threads,processes,async
  scalelab run --model processes --start-method spawn --cpu-work 200000
  scalelab run --workload io --model threads,async --tasks 100,1000,10000 --workers tasks
                                            a scan: any parameter given a list of values
  scalelab run examples/experiments/concurrency.toml --tasks 10,100
                                            an experiment file, a flag overriding it
  scalelab run --print-spec --workload cpu  the resolved spec as an experiment file
  scalelab spec results/20261127-101500     the spec of a recorded run, to run it again
  scalelab report results/20261127-101500   analyse a saved run again: report.md, report.html
  scalelab compare before/ after/           two saved runs: faster, slower or no difference
  scalelab granularity --model processes    the smallest task size processes still run at
                                            50 % efficiency at W = cores
  scalelab list                             every model and workload
)";

// One line per plug-in, then one per parameter it takes: its flag, default and help.
template <class Entry>
void list_entries(std::ostream& out, const std::vector<Entry>& entries) {
  for (const auto& e : entries) {
    out << fmt::format("  {:<12} {}\n", e.name, e.summary);
    for (const auto& p : e.params) {
      out << fmt::format("  {:<12}   {} (default {}): {}\n", "", p.flag(),
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

// Each declared parameter in `declared` (those of models only, when `models_only`) as an option
// of `command`, its text stored in `texts` under its name.
void add_param_flags(CLI::App* command, std::map<std::string, std::string>& texts,
                     const std::vector<DeclaredParam>& declared, bool models_only) {
  for (const auto& d : declared) {
    if (models_only && d.models.empty()) continue;
    auto* option = command->add_option(d.param.flag(), texts[d.param.name], d.param.help);
    if (!d.param.default_text.empty()) option->default_str(d.param.default_text);
  }
}

// The names of the parameters among `texts` that were given to `command`.
std::set<std::string> given_params(const CLI::App* command,
                                   const std::map<std::string, std::string>& texts) {
  std::set<std::string> given;
  for (const auto& entry : texts) {
    if (command->count("--" + entry.first) > 0) given.insert(entry.first);
  }
  return given;
}

CLI::App* add_run(CLI::App& app, RunOptions& o, const std::vector<DeclaredParam>& declared) {
  auto* run = app.add_subcommand("run", "run a sweep (the default when no subcommand is given)");
  run->add_option("FILE", o.file,
                  "an experiment file (TOML; examples/experiments/): keys are these flags with _ "
                  "for -, a list scans, a [plug-in] table sets that plug-in's own values, "
                  "version = 1; flags given beside it override it");
  run->add_option("--workload", o.workloads, "workloads, comma-separated (see `scalelab list`)")
      ->default_str(o.workloads);
  run->add_option("--model", o.models, "models, comma-separated (see `scalelab list`)")
      ->default_str(o.models);
  run->add_option("--workers", o.workers,
                  "worker counts: 1,2,8 or 1..16 (powers of two, the upper bound included), or "
                  "'tasks' (one worker per task); default (or 'auto'): up to 2x cores for cpu, up "
                  "to --tasks for io");
  run->add_option("--tasks", o.tasks, "tasks per trial; a list (100,1000) scans it")
      ->default_str(o.tasks);
  run->add_option("--repeat", o.repeat, "counted trials per point")->default_str(o.repeat);
  run->add_option("--seed", o.seed, "seed for the trial order (default: random, recorded)");
  add_param_flags(run, o.params, declared, false);  // every model's and workload's own
  run->add_option("--out", o.out, "results folder (default: results/<UTC time>/)");
  run->add_option("--resume", o.resume,
                  "continue the interrupted run in this results folder: its recorded spec, seed "
                  "and task sizes, only the trials not on record (give no other run flags)");
  run->add_option("--trial-timeout", o.trial_timeout, kTrialTimeoutHelp);
  run->add_option("--rerun-disturbed", o.rerun_disturbed,
                  "run a disturbed trial (at most one worker a core, yet its threads waited for a "
                  "CPU more than 5 % of their CPU time: another process took the CPUs) again, up "
                  "to this many times; every attempt is recorded, analysis uses the undisturbed")
      ->default_str(o.rerun_disturbed);
  run->add_flag("--force", o.force,
                "replace the results in an existing --out folder (only the files a run writes)");
  run->add_flag("--dry-run", o.dry_run,
                "print the plan (trials per workload and model, how long they should take) and "
                "exit; nothing is run or written");
  run->add_flag("--no-warmup", o.no_warmup,
                "skip the uncounted warm-up trial per (workload, model, workers)");
  run->add_flag("--skip-unsupported", o.skip_unsupported,
                "leave out a workload and model pair that cannot run (python under gil) with a "
                "note, even when both are named (they are left out anyway when either side is "
                "the default)");
  run->add_flag("--print-spec", o.print_spec,
                "print the resolved spec (flags, file, defaults, the seed) as an experiment file "
                "that repeats it, and exit");
  run->add_flag("-q,--quiet", o.quiet, "no progress or notes on stderr; tables only");
  return run;
}

// After parsing: which of run's flags were given at all (an empty value is an error, not a
// default).
void note_given(const CLI::App* run, RunOptions& o) {
  o.workers_given = run->count("--workers") > 0;
  o.trial_timeout_given = run->count("--trial-timeout") > 0;
  o.seed_given = run->count("--seed") > 0;
  o.out_given = run->count("--out") > 0;
  o.workloads_given = run->count("--workload") > 0;
  o.models_given = run->count("--model") > 0;
  o.params_given = given_params(run, o.params);
  for (const auto* option : run->get_options()) {
    if (option->count() == 0) continue;
    for (const auto& name : option->get_lnames()) o.typed_flags.insert(name);  // "io-wait"
  }
}

CLI::App* add_granularity(CLI::App& app, GranularityArgs& a,
                          const std::vector<DeclaredParam>& declared) {
  auto* g = app.add_subcommand(
      "granularity",
      "sweep the task size down (10ms to 1us) for one model at W = cores and report the "
      "smallest size that still reaches 50 % efficiency: below it, overhead dominates");
  g->add_option("--model", a.model, "the model to measure (required)");
  g->add_option("--workload", a.workload,
                "cpu, or python (the seed's loop in CPython) when built with it")
      ->default_str(a.workload);
  g->add_option("--workers", a.workers, "worker count (default: the usable cores)");
  g->add_option("--sizes", a.sizes,
                "task sizes, comma-separated durations (default: "
                "10ms,3ms,1ms,300us,100us,30us,10us,3us,1us)");
  g->add_option("--repeat", a.repeat, "trials per size, each side")->default_str(a.repeat);
  g->add_option("--min-batch", a.min_batch,
                "how long each serial batch should last (sets the task count per size)")
      ->default_str(a.min_batch);
  g->add_option("--threshold", a.threshold, "efficiency a size must reach, 0 to 1")
      ->default_str(a.threshold);
  g->add_option("--seed", a.seed, "seed for the bootstrap CIs")->default_str(a.seed);
  add_param_flags(g, a.params, declared, true);  // the models' own
  g->add_option("--out", a.out, "results folder (default: results/<UTC time>/)");
  g->add_option("--resume", a.resume,
                "continue the interrupted sweep in this results folder: its recorded settings and "
                "task sizes, only the trials not on record (give no other flags)");
  g->add_flag("--force", a.force,
              "replace the results in an existing --out folder (only the files a run writes)");
  g->add_option("--rerun-disturbed", a.rerun_disturbed,
                "run a disturbed trial again, up to this many times (as for run)")
      ->default_str(a.rerun_disturbed);
  g->add_flag("--no-warmup", a.no_warmup, "skip the uncounted warm-up trials per size");
  g->add_flag("-q,--quiet", a.quiet, "no notes on stderr");
  return g;
}

// `run --resume DIR` (or granularity's): the spec comes from the records, so a flag given
// beside --resume would be ignored; refuse it instead.
void check_resume_alone(const CLI::App* command) {
  for (const auto* option : command->get_options()) {
    const std::string& name = option->get_name();
    if (option->count() > 0 && name != "--resume" && name != "--quiet" && name != "-q,--quiet" &&
        name != "--help") {
      throw Error(fmt::format("--resume: the run's spec comes from its records; drop {}", name));
    }
  }
}

// `scalelab --tasks 8` means `scalelab run --tasks 8`: run is the default subcommand.
std::vector<const char*> with_default_subcommand(int argc, const char* const* argv) {
  std::vector<const char*> args(argv, argv + argc);
  // `scalelab exp.toml`: an experiment file runs too.
  if (argc > 1 && std::string_view(argv[1]).ends_with(".toml")) {
    args.insert(args.begin() + 1, "run");
    return args;
  }
  if (argc == 1 ||
      (argc > 1 && argv[1][0] == '-' && std::strcmp(argv[1], "-h") != 0 &&
       std::strcmp(argv[1], "--help") != 0 && std::strcmp(argv[1], "--version") != 0)) {
    args.insert(args.begin() + 1, "run");
  }
  return args;
}

// Every subcommand, and where its flags' values go.
struct Commands {
  RunOptions run_options;
  GranularityArgs granularity_args;
  std::string report_results, report_out, compare_a, compare_b, spec_results;
  bool report_quiet = false;
  CLI::App *run = nullptr, *list = nullptr, *env = nullptr, *report = nullptr,
           *granularity = nullptr, *compare = nullptr, *spec = nullptr;
};

void add_commands(CLI::App& app, Commands& c, const std::vector<DeclaredParam>& declared) {
  c.run = add_run(app, c.run_options, declared);
  c.list = app.add_subcommand("list", "every model and workload, with the flags each takes");
  c.env = app.add_subcommand("env", "print the environment scalelab records, as JSON");
  c.report = app.add_subcommand(
      "report", "analyse a saved run again and write report.md and report.html (no re-run)");
  c.report->add_option("RESULTS", c.report_results, "a results folder, or its results.jsonl")
      ->required();
  c.report->add_option("--out", c.report_out,
                       "folder for the reports (default: the results folder)");
  c.report->add_flag("-q,--quiet", c.report_quiet, "no notes on stderr; tables only");
  c.granularity = add_granularity(app, c.granularity_args, declared);
  c.compare = app.add_subcommand(
      "compare",
      "compare two saved runs point by point: ratio of medians with its 95 % CI and a "
      "Mann-Whitney U verdict (faster, slower, no significant difference)");
  c.compare->add_option("A", c.compare_a, "the first run: a results folder or results.jsonl")
      ->required();
  c.compare->add_option("B", c.compare_b, "the second run, compared against A")->required();
  c.spec = app.add_subcommand(
      "spec", "print a recorded run's spec as an experiment file: scalelab run FILE repeats it");
  c.spec->add_option("RESULTS", c.spec_results, "a results folder, or its results.jsonl")
      ->required();
}

int granularity(Commands& c, std::ostream& out, std::ostream& err, bool* hung) {
  GranularityArgs& a = c.granularity_args;
  if (c.granularity->count("--resume") > 0) {
    check_resume_alone(c.granularity);
    return granularity_resume_command(a.resume, !a.quiet, out, err, hung);
  }
  if (c.granularity->count("--model") == 0) {
    throw Error("--model: required; name the model to measure, like threads or processes");
  }
  a.workers_given = c.granularity->count("--workers") > 0;
  a.sizes_given = c.granularity->count("--sizes") > 0;
  a.out_given = c.granularity->count("--out") > 0;
  a.params_given = given_params(c.granularity, a.params);
  return granularity_command(a, out, err, hung);
}

// The parsed command line, run. Bad input (Error) is one line and exit 2; anything else that
// goes wrong is one line and exit 1.
int dispatch(Commands& c, std::ostream& out, std::ostream& err, bool* hung) {
  try {
    if (c.list->parsed()) {
      list_command(out);
      return 0;
    }
    if (c.env->parsed()) {
      out << collect_environment().dump(2) << "\n";
      return 0;
    }
    if (c.granularity->parsed()) return granularity(c, out, err, hung);
    if (c.report->parsed()) {
      return report_command(c.report_results, c.report_out, c.report_quiet, out, err);
    }
    if (c.compare->parsed()) return compare_command(c.compare_a, c.compare_b, out, err);
    if (c.spec->parsed()) return spec_command(c.spec_results, out);
    note_given(c.run, c.run_options);
    if (c.run->count("--resume") > 0) {
      check_resume_alone(c.run);
      return resume_command(c.run_options.resume, !c.run_options.quiet, out, err, hung);
    }
    return run_command(c.run_options, out, err, hung);
  } catch (const Error& e) {
    err << "scalelab: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    err << "scalelab: " << e.what() << "\n";
    return 1;
  }
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
  // Every registered model's and workload's parameters, from their declarations.
  std::vector<DeclaredParam> declared;
  try {
    declared = declared_params();
  } catch (const Error& e) {  // two plug-ins disagree about a parameter: a broken build
    err << "scalelab: " << e.what() << "\n";
    return 2;
  }
  Commands commands;
  add_commands(app, commands, declared);
  std::vector<const char*> args = with_default_subcommand(argc, argv);
  try {
    app.parse(static_cast<int>(args.size()), args.data());
  } catch (const CLI::Success& e) {
    return app.exit(e, out, err);
  } catch (const CLI::ParseError& e) {
    err << "scalelab: " << e.what() << " (see scalelab --help)\n";
    return 2;
  }
  return dispatch(commands, out, err, hung);
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
