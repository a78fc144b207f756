// Parse, validate into a Spec, plan, run, report. Errors are caught once, at the top.

#include "cli/cli.hpp"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <limits>

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
  std::string cpu_work = "15ms";
  std::string io_wait = "20ms";
  std::string python_func;
  std::string cpu_fraction = "0.5";
  std::string task_time = "20ms";
  std::string switch_interval = "5ms";
  std::string seed;
  std::string start_method = "fork";
  std::string out;
  bool quiet = false;
  bool no_warmup = false;
  bool workers_given = false;  // given, even as "": an empty value is an error, not a default
  bool seed_given = false;
  bool out_given = false;
  bool workloads_given = false;
  bool models_given = false;
  bool python_func_given = false;
  bool cpu_fraction_given = false;
  bool task_time_given = false;
  bool switch_interval_given = false;
};

CpuWork parse_cpu_work(const std::string& text) {
  const bool has_unit = !text.empty() && std::any_of(text.begin(), text.end(), [](char c) {
    return std::isalpha(static_cast<unsigned char>(c)) != 0;
  });
  if (has_unit) {
    try {
      return CpuWork{0, parse_duration(text, "--cpu-work")};
    } catch (const Error&) {
      throw Error(fmt::format(
          "--cpu-work: '{}' is neither an iteration count like 200000 nor a duration like 25ms",
          text));
    }
  }
  return CpuWork{
      static_cast<std::uint64_t>(parse_count(text, "--cpu-work", 1, std::int64_t{1} << 50)),
      std::chrono::nanoseconds(0)};
}

Spec make_spec(const RunOptions& o) {
  Spec spec;
  spec.workloads = parse_name_list(o.workloads, "--workload");
  spec.models = parse_name_list(o.models, "--model");
  if (o.workers_given) {
    spec.workers = parse_workers(o.workers, "--workers", static_cast<int>(kMaxWorkers));
  }
  spec.tasks = static_cast<std::size_t>(parse_count(o.tasks, "--tasks", 1, kMaxTasks));
  spec.repeat = static_cast<int>(parse_count(o.repeat, "--repeat", 1, 10000));
  spec.cpu_work = parse_cpu_work(o.cpu_work);
  spec.io_wait = parse_duration(o.io_wait, "--io-wait");
  spec.python_func = o.python_func;
  spec.cpu_fraction = parse_fraction(o.cpu_fraction, "--cpu-fraction");
  spec.task_time = parse_duration(o.task_time, "--task-time");
  spec.model_options.switch_interval = parse_duration(o.switch_interval, "--switch-interval");
  spec.seed = !o.seed_given ? std::random_device{}()
                            : static_cast<std::uint64_t>(parse_count(
                                  o.seed, "--seed", 0, std::numeric_limits<std::int64_t>::max()));
  if (o.start_method == "fork") {
    spec.model_options.start_method = StartMethod::fork;
  } else if (o.start_method == "spawn") {
    spec.model_options.start_method = StartMethod::spawn;
  } else {
    throw Error(fmt::format("--start-method: '{}' is not a start method; choose fork or spawn",
                            o.start_method));
  }
  // A flag only one workload or model reads, given while that one is not selected, would be
  // ignored without a word: say so instead.
  const auto requires_selected = [](bool given, const std::vector<std::string>& selected,
                                    const char* name, const char* flag, const char* where) {
    if (given && std::find(selected.begin(), selected.end(), name) == selected.end()) {
      throw Error(fmt::format("{}: only the {} {} uses it; add {} to {}", flag, name,
                              std::string_view(where) == "--model" ? "model" : "workload", name,
                              where));
    }
  };
  requires_selected(o.python_func_given, spec.workloads, "python", "--python-func", "--workload");
  requires_selected(o.cpu_fraction_given, spec.workloads, "mixed", "--cpu-fraction", "--workload");
  requires_selected(o.task_time_given, spec.workloads, "mixed", "--task-time", "--workload");
  requires_selected(o.switch_interval_given, spec.models, "gil", "--switch-interval", "--model");
  spec.warmup = !o.no_warmup;
  // Only a pair the user named on both sides is an error; a default side just leaves it out.
  spec.skip_unsupported = !(o.workloads_given && o.models_given);
  validate(spec);
  return spec;
}

// A folder nobody has written into yet: the given one, or results/<UTC time>[-N].
fs::path choose_out_dir(const std::string& requested, bool given) {
  std::error_code ec;
  if (given && requested.empty()) throw Error("--out: empty; give a folder name");
  if (given) {
    const fs::path dir(requested);
    if (fs::exists(dir, ec) && !(fs::is_directory(dir, ec) && fs::is_empty(dir, ec))) {
      throw Error(
          fmt::format("--out: '{}' already exists and is not an empty folder; choose "
                      "another",
                      requested));
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

// The cores this process may run on (taskset and cpusets included), which bound CPU scaling.
int usable_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
  return static_cast<int>(std::max(1L, ::sysconf(_SC_NPROCESSORS_ONLN)));
}

std::string clock_text(double seconds) {
  const auto s = static_cast<long>(seconds + 0.5);
  return fmt::format("{}:{:02}", s / 60, s % 60);
}

int run_command(const RunOptions& options, std::ostream& out, std::ostream& err) {
  const Spec spec = make_spec(options);
  const fs::path dir = choose_out_dir(options.out, options.out_given);
  const int cores = usable_cores();
  const bool chatty = !options.quiet;
  const bool progress = chatty && ::isatty(STDERR_FILENO) == 1;

  // Task sizes: a CPU-work duration becomes loop iterations measured on this machine.
  const ResolvedWorkloads resolved = resolve_workloads(spec);
  if (chatty) {
    for (const auto& [workload, c] : resolved.calibration.items()) {
      err << fmt::format(
          "calibrated {}: {:.0f} loop iterations/s, so {} of CPU work = {} iterations\n", workload,
          c.at("iters_per_s").get<double>(), format_duration(c.at("target_s").get<double>()),
          c.at("iters").get<std::uint64_t>());
    }
  }
  const nlohmann::json& calibration = resolved.calibration;
  const std::vector<WorkloadSpec>& workloads = resolved.workloads;
  const Plan plan = make_plan(spec, workloads, cores);
  if (chatty) {
    for (const auto& skipped : plan.skipped) err << "left out: " << skipped << "\n";
  }

  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error(fmt::format("--out: cannot create '{}': {}", dir.string(), ec.message()));
  RecordWriter records(dir / "results.jsonl");
  const nlohmann::json spec_json = to_json(spec);
  const nlohmann::json environment = collect_environment();
  nlohmann::json workload_json = nlohmann::json::array();
  for (const auto& w : plan.workloads) workload_json.push_back(to_json(w));
  records.header(spec_json, environment,
                 {{"calibration", calibration},
                  {"workload_specs", workload_json},
                  {"planned_trials", plan.counted()},
                  {"warmup_trials", plan.trials.size() - plan.counted()}});
  if (chatty) {
    err << fmt::format(
        "scalelab {}: {} trials (+{} warm-ups), {} tasks each, seed {}; results in {}\n", version(),
        plan.counted(), plan.trials.size() - plan.counted(), spec.tasks, spec.seed, dir.string());
  }

  const auto started = std::chrono::steady_clock::now();
  std::vector<std::string> failures;
  RunObserver observer;
  observer.on_trial = [&](const Trial& trial, std::size_t done, std::size_t total) {
    if (!trial.warmup()) records.trial(trial);
    if (trial.failed()) {
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
  const std::vector<Trial> trials = run_plan(spec, plan, observer);
  if (progress) err << "\r\x1b[K" << std::flush;

  const auto rows = summarize(trials, spec.workloads, spec.models);
  write_trials_csv(dir / "results.csv", trials);
  nlohmann::json all{{"environment", environment},        {"spec", spec_json},
                     {"calibration", calibration},        {"workload_specs", workload_json},
                     {"trials", nlohmann::json::array()}, {"summary", nlohmann::json::array()}};
  for (const auto& t : trials) all["trials"].push_back(to_json(t));
  for (const auto& r : rows) all["summary"].push_back(to_json(r));
  write_json_file(dir / "results.json", all);

  print_console_tables(out, rows);
  if (chatty) {
    err << fmt::format("\nwrote {}/results.jsonl, results.csv, results.json\n", dir.string());
  }
  if (!failures.empty()) {
    err << fmt::format("{} trial(s) failed:\n", failures.size());
    for (const auto& f : failures) err << "  " << f << "\n";
    return 1;
  }
  return 0;
}

void list_command(std::ostream& out) {
  out << "models:\n";
  for (const auto& e : model_registry().entries()) {
    out << fmt::format("  {:<10} {}\n", e.name, e.summary);
  }
  out << "workloads:\n";
  for (const auto& e : workload_registry().entries()) {
    out << fmt::format("  {:<10} {}\n", e.name, e.summary);
  }
}

}  // namespace

int main(int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
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
  run->add_option("--cpu-work", options.cpu_work,
                  "cpu task size: iterations (200000) or a duration (5ms) calibrated at start")
      ->default_str(options.cpu_work);
  run->add_option("--io-wait", options.io_wait, "io task wait, e.g. 20ms")
      ->default_str(options.io_wait);
  auto* python_func_option =
      run->add_option("--python-func", options.python_func,
                      "python workload: MODULE:FUNCTION called with the task number, returning an "
                      "int checksum (default: the seed's loop in Python, sized by --cpu-work)");
  auto* cpu_fraction_option =
      run->add_option("--cpu-fraction", options.cpu_fraction,
                      "mixed workload: share of each task spent computing, 0 to 1")
          ->default_str(options.cpu_fraction);
  auto* task_time_option =
      run->add_option("--task-time", options.task_time, "mixed workload: length of each task")
          ->default_str(options.task_time);
  auto* switch_interval_option =
      run->add_option("--switch-interval", options.switch_interval,
                      "gil model: how long a waiting thread lets the holder run before asking for "
                      "the lock (like sys.setswitchinterval)")
          ->default_str(options.switch_interval);
  auto* seed_option = run->add_option("--seed", options.seed,
                                      "seed for the trial order (default: random, recorded)");
  run->add_option("--start-method", options.start_method, "processes: fork or spawn")
      ->default_str(options.start_method);
  auto* out_option =
      run->add_option("--out", options.out, "results folder (default: results/<UTC time>/)");
  run->add_flag("--no-warmup", options.no_warmup,
                "skip the uncounted warm-up trial per (workload, model, workers)");
  run->add_flag("-q,--quiet", options.quiet, "no progress or notes on stderr; tables only");
  auto* list = app.add_subcommand("list", "name every model and workload");
  auto* env = app.add_subcommand("env", "print the environment scalelab records, as JSON");

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
  options.seed_given = seed_option->count() > 0;
  options.out_given = out_option->count() > 0;
  options.workloads_given = workload_option->count() > 0;
  options.models_given = model_option->count() > 0;
  options.python_func_given = python_func_option->count() > 0;
  options.cpu_fraction_given = cpu_fraction_option->count() > 0;
  options.task_time_given = task_time_option->count() > 0;
  options.switch_interval_given = switch_interval_option->count() > 0;
  try {
    if (list->parsed()) {
      list_command(out);
      return 0;
    }
    if (env->parsed()) {
      out << collect_environment().dump(2) << "\n";
      return 0;
    }
    return run_command(options, out, err);
  } catch (const Error& e) {
    err << "scalelab: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    err << "scalelab: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace scalelab::cli
