// Experiment files: `scalelab run FILE.toml`, `run --print-spec`, `scalelab spec RESULTS`, and the
// shipped experiments in examples/experiments/.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/in_process.hpp"
#include "report/markup_check.hpp"
#include "support/child.hpp"
#include "support/helpers.hpp"

namespace {

namespace fs = std::filesystem;
using scalelab::testing::count_newlines;
using scalelab::testing::lines_of;
using scalelab::testing::Outcome;
using scalelab::testing::read_file;
using scalelab::testing::run_in_process;
using scalelab::testing::trial_lines;

// The trial records of a results.jsonl.
std::vector<nlohmann::json> trials_of(const fs::path& jsonl) {
  std::vector<nlohmann::json> trials;
  for (const auto& line : lines_of(read_file(jsonl))) {
    if (line.empty()) continue;
    auto record = nlohmann::json::parse(line);
    if (record.value("type", "") == "trial") trials.push_back(std::move(record));
  }
  return trials;
}

class ExperimentTest : public scalelab::testing::ScratchDirTest {
 protected:
  // Writes `text` to a file of the scratch folder and gives its path.
  std::string write(const std::string& name, const std::string& text) const {
    const fs::path path = dir_ / name;
    std::ofstream(path) << text;
    return path.string();
  }

  // `scalelab run FILE --out OUT --quiet` in this process, FILE holding `text`; OUT is out().
  Outcome run_file(const std::string& text) const {
    return run_in_process({"run", write("exp.toml", text), "--out", out().string(), "--quiet"});
  }
  fs::path out() const { return dir_ / "out"; }

  // The scalelab binary with `args`, as a user runs it.
  Outcome run_exe(const std::vector<std::string>& args) const {
    return scalelab::testing::run_binary(dir_, args);
  }
};

// The spec lines of a --print-spec output (its comments left out).
std::vector<std::string> spec_lines(const std::string& toml) {
  std::vector<std::string> lines;
  for (const auto& line : lines_of(toml)) {
    if (!line.empty() && line[0] != '#') lines.push_back(line);
  }
  return lines;
}

// `scalelab run ARGS --dry-run --quiet`: the plan, trial by trial group, and its size.
std::string dry_run(std::vector<std::string> args) {
  args.insert(args.begin(), "run");
  args.insert(args.end(), {"--dry-run", "--quiet"});
  const Outcome r = run_in_process(args);
  EXPECT_EQ(r.code, 0) << r.err;
  return r.out;
}

TEST_F(ExperimentTest, PrintSpecReadBackGivesTheSameSpecAndPlan) {
  const std::vector<std::string> flags{
      "--workload", "io,mixed", "--model",        "threads,async", "--io-wait",       "1ms,10ms",
      "--tasks",    "4,8",      "--workers",      "1,2",           "--repeat",        "2",
      "--seed",     "11",       "--cpu-fraction", "0,0.5",         "--trial-timeout", "30s",
      "--no-warmup"};
  std::vector<std::string> print{"run", "--print-spec"};
  print.insert(print.end(), flags.begin(), flags.end());
  const Outcome printed = run_in_process(print);
  ASSERT_EQ(printed.code, 0) << printed.err;
  EXPECT_NE(printed.out.find("io_wait = [\"1ms\", \"10ms\"]"), std::string::npos) << printed.out;
  EXPECT_NE(printed.out.find("cpu_fraction = [0.0, 0.5]"), std::string::npos) << printed.out;
  EXPECT_NE(printed.out.find("tasks = [4, 8]"), std::string::npos) << printed.out;
  const std::string file = write("printed.toml", printed.out);

  const Outcome again = run_in_process({"run", file, "--print-spec"});
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_EQ(spec_lines(again.out), spec_lines(printed.out));
  // The same plan: every group of trials, its points, its estimate.
  const std::string from_flags = dry_run(flags);
  EXPECT_EQ(dry_run({file}), from_flags);
  // io at io_wait × tasks = 4 points, mixed at cpu_fraction × tasks = 4 points; each
  // under 2 models at 2 worker counts, 2 repeats.
  EXPECT_NE(from_flags.find("plan: 64 trials (+0 warm-ups)"), std::string::npos) << from_flags;
}

TEST_F(ExperimentTest, APluginTableIsThatPluginsOwnAndReadsBack) {
  const std::string file = write("own.toml", R"(version = 1
workload = ["cpu", "mixed"]
model = "serial"
cpu_work = 1000
task_time = "4ms"
seed = 3

[mixed]
task_time = "2ms"
)");
  const Outcome printed = run_in_process({"run", file, "--print-spec"});
  ASSERT_EQ(printed.code, 0) << printed.err;
  EXPECT_NE(printed.out.find("\n[mixed]\ntask_time = \"2ms\"\n"), std::string::npos) << printed.out;
  const std::string back = write("back.toml", printed.out);
  EXPECT_EQ(dry_run({back}), dry_run({file}));
  // The table is mixed's only: a run records it, and the mixed entry's task is 2 ms long.
  const fs::path out = dir_ / "out";
  const Outcome r = run_in_process({"run", file, "--tasks", "2", "--repeat", "1", "--no-warmup",
                                    "--out", out.string(), "--quiet"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto header = nlohmann::json::parse(lines_of(read_file(out / "results.jsonl")).at(0));
  EXPECT_EQ(header["spec"]["own_params"]["mixed"]["task_time_s"], 0.002) << header["spec"];
  EXPECT_EQ(header["spec"]["task_time_s"], 0.004);
  bool saw_mixed = false;
  for (const auto& w : header["workload_specs"]) {
    if (w["name"] != "mixed") continue;
    saw_mixed = true;
    // Half of 2 ms waits (cpu_fraction 0.5); of the shared 4 ms it would be 2 ms.
    EXPECT_NEAR(w["io_wait_s"].get<double>(), 0.001, 1e-9) << w;
  }
  EXPECT_TRUE(saw_mixed) << header["workload_specs"];
  // And `scalelab spec` gives the table back.
  const Outcome spec = run_in_process({"spec", out.string()});
  ASSERT_EQ(spec.code, 0) << spec.err;
  EXPECT_NE(spec.out.find("\n[mixed]\ntask_time = \"2ms\"\n"), std::string::npos) << spec.out;
}

// A workload's table may name the models that run it (the default experiment pairs the
// Python tasks with Python's executors this way): the run makes only those pairs, records them,
// and --print-spec gives them back.
TEST_F(ExperimentTest, AWorkloadTableNamesTheModelsThatRunIt) {
  const std::string file = write("pairs.toml", R"(version = 1
workload = ["cpu", "io"]
model = ["serial", "threads", "async"]
workers = [1, 2]
tasks = 2
repeat = 1
no_warmup = true
cpu_work = 1000
io_wait = "1ms"
seed = 9

[io]
models = ["serial", "async"]
)");
  const Outcome printed = run_in_process({"run", file, "--print-spec"});
  ASSERT_EQ(printed.code, 0) << printed.err;
  EXPECT_NE(printed.out.find("\n[io]\nmodels = [\"serial\", \"async\"]\n"), std::string::npos)
      << printed.out;
  EXPECT_EQ(dry_run({write("back.toml", printed.out)}), dry_run({file}));
  const Outcome r = run_in_process({"run", file, "--out", out().string(), "--quiet"});
  ASSERT_EQ(r.code, 0) << r.err;
  std::set<std::string> pairs;
  for (const auto& t : trials_of(out() / "results.jsonl")) {
    pairs.insert(t["workload"].get<std::string>() + " " + t["model"].get<std::string>());
  }
  EXPECT_EQ(pairs, (std::set<std::string>{"cpu serial", "cpu threads", "cpu async", "io serial",
                                          "io async"}));
  const auto header = nlohmann::json::parse(lines_of(read_file(out() / "results.jsonl")).at(0));
  EXPECT_EQ(header["spec"]["workload_models"]["io"], (nlohmann::json{"serial", "async"}));
  // A typed --model is the last word: the table's pairing goes with the file's model list.
  const std::string plan = dry_run({file, "--model", "serial,threads"});
  EXPECT_NE(plan.find("  io         threads"), std::string::npos) << plan;
}

TEST_F(ExperimentTest, FlagsGivenBesideTheFileOverrideIt) {
  const std::string file = write("exp.toml", R"(version = 1
workload = ["cpu", "mixed"]
model = ["serial", "threads"]
tasks = [4, 8]
repeat = 5
cpu_work = "2ms"
seed = 1

[mixed]
task_time = "3ms"
)");
  const Outcome r = run_in_process(
      {"run", file, "--tasks", "16", "--model", "async", "--task-time", "7ms", "--print-spec"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto lines = spec_lines(r.out);
  const auto has = [&](const std::string& line) {
    return std::find(lines.begin(), lines.end(), line) != lines.end();
  };
  EXPECT_TRUE(has("tasks = 16")) << r.out;
  EXPECT_TRUE(has("model = [\"async\"]")) << r.out;
  EXPECT_TRUE(has("repeat = 5")) << r.out;           // from the file
  EXPECT_TRUE(has("cpu_work = \"2ms\"")) << r.out;   // from the file
  EXPECT_TRUE(has("task_time = \"7ms\"")) << r.out;  // the flag, for every plug-in
  EXPECT_EQ(r.out.find("[mixed]"), std::string::npos) << "--task-time overrides [mixed] too";
}

// --workers auto and --trial-timeout auto give back the defaults a file set otherwise.
TEST_F(ExperimentTest, AutoOnTheCommandLineUndoesTheFilesValue) {
  const std::string file = write("auto.toml", R"(version = 1
workload = "io"
model = "threads"
workers = [1, 2]
trial_timeout = "30s"
)");
  const Outcome r =
      run_in_process({"run", file, "--workers", "auto", "--trial-timeout", "auto", "--print-spec"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto lines = spec_lines(r.out);
  EXPECT_NE(std::find(lines.begin(), lines.end(), "workers = \"auto\""), lines.end()) << r.out;
  EXPECT_NE(std::find(lines.begin(), lines.end(), "trial_timeout = \"auto\""), lines.end())
      << r.out;
}

// A --model or --workload beside the file may leave out the plug-ins some of its values are
// for: those are dropped with a note, not refused as values nobody takes.
TEST_F(ExperimentTest, ValuesOfPlugInsTheFlagsLeaveOutAreDroppedWithANote) {
  const std::string file = write("drop.toml", R"(version = 1
workload = ["io", "mixed"]
model = ["threads", "processes", "gil"]
start_method = "spawn"
switch_interval = "2ms"
[mixed]
task_time = "3ms"
)");
  const Outcome r = run_in_process(
      {"run", file, "--model", "threads,gil", "--workload", "io", "--print-spec", "--seed", "1"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find(file + ":4:16: start_method left out"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(file + ":6:1: [mixed] left out"), std::string::npos) << r.err;
  EXPECT_EQ(count_newlines(r.err), 2u) << r.err;
  EXPECT_NE(r.out.find("switch_interval = \"2ms\""), std::string::npos) << r.out;  // gil's, kept
  EXPECT_EQ(r.out.find("start_method"), std::string::npos) << r.out;
}

#if SCALELAB_HAVE_PYTHON
// Planning refuses the pair (python under gil, both named in the file): the error still points
// into the file.
TEST_F(ExperimentTest, APairThatCannotRunIsNamedAtItsKey) {
  const std::string file =
      write("pair.toml", "version = 1\nworkload = \"python\"\nmodel = [\"threads\", \"gil\"]\n");
  const Outcome r = run_in_process({"run", file, "--dry-run", "--quiet"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(count_newlines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find(file + ":3:9: model: gil cannot run the python workload"), std::string::npos)
      << r.err;
}
#endif

TEST_F(ExperimentTest, AScanInAFileRecordsEveryPoint) {
  const Outcome r = run_file(R"(version = 1
workload = "io"
model = ["threads", "async"]
workers = [1, 2]
tasks = [2, 3]
io_wait = ["1ms", "2ms"]
repeat = 1
no_warmup = true
)");
  ASSERT_EQ(r.code, 0) << r.err;
  std::set<std::string> points;
  const auto trials = trials_of(out() / "results.jsonl");
  for (const auto& t : trials) points.insert(t["point"].dump());
  EXPECT_EQ(trials.size(), 2u * 2 * 2 * 2);  // io_wait × tasks × models × workers
  EXPECT_EQ(points, (std::set<std::string>{
                        R"({"io_wait_s":0.001,"tasks":2})", R"({"io_wait_s":0.001,"tasks":3})",
                        R"({"io_wait_s":0.002,"tasks":2})", R"({"io_wait_s":0.002,"tasks":3})"}));
  // Re-run from its own record: the same plan, seed included.
  const Outcome spec = run_in_process({"spec", out().string()});
  ASSERT_EQ(spec.code, 0) << spec.err;
  const std::string again = write("again.toml", spec.out);
  const std::string seed =
      nlohmann::json::parse(lines_of(read_file(out() / "results.jsonl"))[0])["spec"]["seed"].dump();
  EXPECT_EQ(dry_run({again}), dry_run({(dir_ / "exp.toml").string(), "--seed", seed}));
}

// concurrency.toml's shape: one worker per task, no serial. Each point has one worker count
// and no speedup, so its only chart is wall time against the task count.
TEST_F(ExperimentTest, OneWorkerPerTaskReportsChartsOnlyWhatItMeasured) {
  const Outcome r = run_file(R"(version = 1
workload = "io"
model = ["threads", "async"]
workers = "tasks"
tasks = [2, 4]
io_wait = "1ms"
repeat = 2
no_warmup = true
)");
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string page = read_file(out() / "report.html");
  EXPECT_EQ(scalelab::testing::count_of(page, "<svg"), 1u);
  EXPECT_NE(page.find(">io: median wall time against tasks</text>"), std::string::npos);
  EXPECT_EQ(page.find("speedup against"), std::string::npos);
  EXPECT_EQ(page.find("io at tasks=2: median wall time"), std::string::npos);
  EXPECT_NE(r.out.find("with one worker per task"), std::string::npos) << r.out;
}

// Against a scanned parameter, serial is a dashed grey reference, so each model takes the same
// colour on the wall-time chart (which has serial) and the speedup chart (which has not).
TEST_F(ExperimentTest, ScanChartsGiveAModelOneColour) {
  const Outcome r = run_file(R"(version = 1
workload = "mixed"
model = ["serial", "threads"]
workers = [1, 2]
tasks = 2
cpu_fraction = [0, 1]
task_time = "1ms"
repeat = 1
no_warmup = true
)");
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string page = read_file(out() / "report.html");
  const auto serial = page.find("<g class=\"series\" data-name=\"serial (W=1)\">\n<polyline");
  ASSERT_NE(serial, std::string::npos);
  EXPECT_NE(page.substr(serial, 400)
                .find("stroke=\"#000000\" stroke-width=\"2\" "
                      "stroke-dasharray"),
            std::string::npos)
      << page.substr(serial, 400);
  const std::string threads = "<g class=\"series\" data-name=\"threads (W=2)\">\n<polyline";
  std::set<std::string> colours;
  for (auto at = page.find(threads); at != std::string::npos; at = page.find(threads, at + 1)) {
    const auto stroke = page.find("stroke=\"", at) + 8;
    colours.insert(page.substr(stroke, 7));
  }
  EXPECT_EQ(colours, (std::set<std::string>{"#0072B2"}));
}

TEST_F(ExperimentTest, SpecOfAGranularitySweepOrNoRecordsIsBadInput) {
  const Outcome none = run_in_process({"spec", (dir_ / "missing").string()});
  EXPECT_EQ(none.code, 2) << none.err;
  EXPECT_EQ(count_newlines(none.err), 1u) << none.err;
  const fs::path out = dir_ / "granularity";
  const Outcome sweep =
      run_in_process({"granularity", "--model", "threads", "--sizes", "1ms", "--repeat", "1",
                      "--min-batch", "5ms", "--out", out.string(), "--quiet"});
  ASSERT_EQ(sweep.code, 0) << sweep.err;
  const Outcome spec = run_in_process({"spec", out.string()});
  EXPECT_EQ(spec.code, 2) << spec.err;
  EXPECT_NE(spec.err.find("records of a granularity run"), std::string::npos) << spec.err;
}

// One bad experiment file: its text, and what the one error line must hold.
struct BadFile {
  const char* name;
  const char* text;
  const char* position;  // "LINE:COL"
  const char* says;      // the key and what is wrong
};

void PrintTo(const BadFile& c, std::ostream* os) {
  *os << c.name;
}

class BadExperimentFile : public ExperimentTest, public ::testing::WithParamInterface<BadFile> {};

TEST_P(BadExperimentFile, IsOneLineWithItsPositionAndExitTwo) {
  const BadFile& c = GetParam();
  const std::string file = write("bad.toml", c.text);
  const Outcome r = run_in_process({"run", file, "--dry-run"});
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_EQ(count_newlines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find(file + ":" + c.position + ": "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(c.says), std::string::npos) << r.err;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, BadExperimentFile,
    ::testing::Values(
        BadFile{"MissingVersion", "workload = \"io\"\n", "1:1", "version: missing"},
        BadFile{"OtherVersion", "version = 2\n", "1:11", "version = 1"},
        BadFile{"UnknownKey", "version = 1\niowait = \"1ms\"\n", "2:1", "iowait: unknown key"},
        BadFile{"InvocationFlag", "version = 1\nforce = true\n", "2:1", "give it as --force"},
        BadFile{"WrongType", "version = 1\ntasks = \"8\"\n", "2:9", "tasks: expected an integer"},
        BadFile{"WrongTypeInAList", "version = 1\ntasks = [8, \"9\"]\n", "2:13",
                "tasks: expected an integer"},
        BadFile{"BadDuration", "version = 1\nworkload = \"io\"\nio_wait = \"5 parsecs\"\n", "3:11",
                "io_wait: '5 parsecs' has an unknown unit"},
        BadFile{"DurationAsNumber", "version = 1\nworkload = \"io\"\nio_wait = 5\n", "3:11",
                "io_wait: expected a string"},
        BadFile{"ListWhereOneValue", "version = 1\nrepeat = [1, 2]\n", "2:10",
                "repeat: takes one value"},
        BadFile{"ValueListedTwice",
                "version = 1\nworkload = \"io\"\nio_wait = [\"1ms\", \"1ms\"]\n", "3:11",
                "io_wait: 1ms is listed twice"},
        BadFile{"UnknownWorkload", "version = 1\nworkload = [\"io\", \"disk\"]\n", "2:12",
                "workload: unknown workload 'disk'"},
        BadFile{"ParamOfAnUnselectedPlugin",
                "version = 1\nmodel = \"threads\"\nswitch_interval = \"1ms\"\n", "3:19",
                "switch_interval: only the gil model uses it"},
        BadFile{"TomlSyntax", "version = 1\ntasks = = 8\n", "2:9", ""},
        BadFile{"UnknownTable", "version = 1\n[disk]\nsize = 1\n", "2:2", "[disk]: no model"},
        BadFile{"UnknownKeyInATable", "version = 1\nworkload = \"mixed\"\n[mixed]\nfraction = 1\n",
                "4:1", "mixed.fraction: unknown key; mixed takes cpu_fraction, task_time"},
        BadFile{"ListInATable",
                "version = 1\nworkload = \"mixed\"\n[mixed]\ntask_time = [\"1ms\"]\n", "4:13",
                "a plug-in's table takes one value"},
        BadFile{"TableOfAnUnselectedPlugin",
                "version = 1\nworkload = \"io\"\n[mixed]\ntask_time = \"1ms\"\n", "3:1",
                "[mixed]: mixed is not among the selected workloads"},
        BadFile{"ModelsNotAList", "version = 1\nworkload = \"io\"\n[io]\nmodels = \"threads\"\n",
                "4:10", "io.models: a list of model names"},
        BadFile{"ModelsUnknown", "version = 1\nworkload = \"io\"\n[io]\nmodels = [\"nope\"]\n",
                "4:10", "io.models: --model: unknown model 'nope'"},
        BadFile{
            "ModelsNotAmongModel",
            "version = 1\nworkload = \"io\"\nmodel = \"serial\"\n[io]\nmodels = [\"threads\"]\n",
            "5:10", "io.models: threads is not among --model"},
        BadFile{"TableHoldingAScannedValueStill",
                "version = 1\nworkload = \"mixed\"\ntask_time = [\"1ms\", \"2ms\"]\n[mixed]\n"
                "task_time = \"3ms\"\n",
                "4:1", "scanned for every plug-in that takes it"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST_F(ExperimentTest, AFileThatCannotBeReadIsBadInput) {
  const Outcome r = run_in_process({"run", (dir_ / "nope.toml").string()});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("nope.toml: cannot read the experiment file"), std::string::npos) << r.err;
  const Outcome folder = run_in_process({"run", dir_.string()});
  EXPECT_EQ(folder.code, 2);
  EXPECT_NE(folder.err.find("a folder"), std::string::npos) << folder.err;
}

// --- the shipped experiments ---------------------------------------------------------------

fs::path experiment(const char* name) {
  return fs::path(SCALELAB_SOURCE_DIR) / "examples" / "experiments" / name;
}

#if SCALELAB_HAVE_PYTHON
TEST_F(ExperimentTest, SeedFileIsTheDefaultExperiment) {
  const Outcome shipped =
      run_in_process({"run", experiment("seed.toml").string(), "--print-spec", "--seed", "5"});
  const Outcome builtin = run_in_process({"run", "--print-spec", "--seed", "5"});
  ASSERT_EQ(shipped.code, 0) << shipped.err;
  ASSERT_EQ(builtin.code, 0) << builtin.err;
  EXPECT_EQ(shipped.out, builtin.out);
}
#endif

// Each shipped experiment runs through the binary, shrunk by flags given beside it.
struct Shipped {
  const char* file;
  std::vector<std::string> overrides;
};

class ShippedExperiment : public ExperimentTest, public ::testing::WithParamInterface<Shipped> {};

TEST_P(ShippedExperiment, RunsSmallWithOverridesAndReports) {
  const Shipped& c = GetParam();
  std::vector<std::string> args{
      "run",   experiment(c.file).string(), "--repeat", "1", "--no-warmup",
      "--out", (dir_ / "out").string(),     "--quiet"};
  args.insert(args.end(), c.overrides.begin(), c.overrides.end());
  const Outcome r = run_exe(args);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(fs::exists(dir_ / "out" / "report.html"));
  EXPECT_GT(trial_lines(dir_ / "out" / "results.jsonl"), 0u);
}

INSTANTIATE_TEST_SUITE_P(
    Files, ShippedExperiment,
    ::testing::Values(
        Shipped{"seed.toml",
                {"--tasks", "4", "--workers", "1,2", "--cpu-work", "1ms", "--io-wait", "1ms"}},
        Shipped{"cpu-io-boundary.toml", {"--tasks", "4", "--workers", "1,2", "--task-time", "2ms"}},
        Shipped{"concurrency.toml", {"--tasks", "4,16", "--io-wait", "2ms"}}),
    [](const auto& info) {
      std::string name = fs::path(info.param.file).stem().string();
      std::erase(name, '-');
      return name;
    });

}  // namespace
