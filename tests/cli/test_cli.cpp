// The command line end to end: the real scalelab binary (SCALELAB_EXE) for sweeps, help and bad
// input, and scalelab::cli::main in-process for runs that need the test-only fixtures.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/in_process.hpp"
#include "scalelab/cli.hpp"
#include "scalelab/records.hpp"
#include "support/child.hpp"
#include "support/helpers.hpp"
#include "support/sanitizers.hpp"

namespace {

namespace fs = std::filesystem;
using scalelab::testing::contains_all;
using scalelab::testing::count_newlines;
using scalelab::testing::has_keys;
using scalelab::testing::lines_of;
using scalelab::testing::parse_csv;
using scalelab::testing::read_file;
using scalelab::testing::spawn_exe;
using scalelab::testing::trial_lines;
using scalelab::testing::valid_json_lines;
using scalelab::testing::wait_exit;
using scalelab::testing::wait_for_trials;
using scalelab::testing::without_reruns;

using scalelab::testing::Outcome;

// A fresh scratch folder per test (ScratchDirTest); `out_dir()` is a results folder inside it
// that does not exist yet.
class CliTest : public scalelab::testing::ScratchDirTest {
 protected:
  fs::path out_dir() const { return dir_ / "out"; }

  // Runs the scalelab binary with `args` (no shell), stdin from /dev/null, stdout and stderr
  // captured through files in the scratch folder.
  Outcome run_exe(const std::vector<std::string>& args) const {
    return scalelab::testing::run_binary(dir_, args);
  }

  // Runs scalelab::cli::main in this process (the test fixtures are registered here).
  static Outcome run_in_process(const std::vector<std::string>& args) {
    return scalelab::testing::run_in_process(args);
  }

  // A one-trial in-process run of the counting fixture that writes to `out`: for the tests of
  // where results may and may not go.
  static std::vector<std::string> counting_run(const std::string& out) {
    return {"run", "--model",  "serial", "--workload", "counting", "--tasks",
            "2",   "--repeat", "1",      "--out",      out,        "--quiet"};
  }
};

// Passes when the run was refused as a usage error: exit 2 and exactly one line on stderr that
// names `flag` (main catches errors once and prints them as one line).
::testing::AssertionResult usage_error_naming(const Outcome& r, const std::string& flag) {
  if (r.code != 2) {
    return ::testing::AssertionFailure() << "exit " << r.code << ", stderr: " << r.err;
  }
  if (count_newlines(r.err) != 1 || r.err.back() != '\n') {
    return ::testing::AssertionFailure() << "stderr is not one line:\n" << r.err;
  }
  if (r.err.find(flag) == std::string::npos) {
    return ::testing::AssertionFailure() << flag << " not in: " << r.err;
  }
  return ::testing::AssertionSuccess();
}

// --- a real sweep through the binary --------------------------------------------------------

TEST_F(CliTest, TinySweepWritesEveryRecord) {
  const auto r =
      run_exe({"run", "--workload", "cpu,io", "--model", "serial,threads,processes,async",
               "--workers", "1,2", "--tasks", "4", "--repeat", "2", "--cpu-work", "20000",
               "--io-wait", "1ms", "--out", out_dir().string(), "--quiet"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err, "") << "--quiet prints nothing on stderr when all goes well";
  // (serial at 1 + 3 models × 2 worker counts) × 2 workloads × 2 repeats.
  const std::size_t expected_trials = (1 + 3 * 2) * 2 * 2;

  // results.json
  ASSERT_TRUE(fs::exists(out_dir() / "results.json"));
  const auto all = nlohmann::json::parse(read_file(out_dir() / "results.json"));
  EXPECT_TRUE(has_keys(all, {"environment", "spec", "trials", "summary"}));
  ASSERT_TRUE(all.at("trials").is_array());
  EXPECT_EQ(all.at("trials").size(), expected_trials);
  std::map<std::tuple<std::string, std::string, int>, int> repeats;
  for (const auto& t : all.at("trials")) {
    EXPECT_TRUE(
        has_keys(t, {"workload", "model", "workers", "repeat", "tasks", "wall_s", "user_s", "sys_s",
                     "voluntary_ctx", "involuntary_ctx", "max_rss_kib", "checksum_ok", "error"}));
    EXPECT_EQ(t.at("tasks"), 4);
    EXPECT_EQ(t.at("checksum_ok"), true) << t.dump();
    EXPECT_TRUE(t.at("error").is_null()) << t.dump();
    EXPECT_GE(t.at("repeat").get<int>(), 0) << "warm-ups are not recorded as trials";
    EXPECT_GT(t.at("wall_s").get<double>(), 0);
    if (t.at("model") == "serial") {
      EXPECT_EQ(t.at("workers"), 1);
    }
    ++repeats[{t.at("workload").get<std::string>(), t.at("model").get<std::string>(),
               t.at("workers").get<int>()}];
  }
  EXPECT_EQ(repeats.size(), 14u);
  for (const auto& [point, count] : repeats) EXPECT_EQ(count, 2);

  ASSERT_TRUE(all.at("summary").is_array());
  EXPECT_EQ(all.at("summary").size(), 14u);
  for (const auto& row : all.at("summary")) {
    EXPECT_TRUE(has_keys(
        row, {"workload", "model", "workers", "median_s", "speedup", "efficiency", "cpu_util"}));
    EXPECT_TRUE(row.at("speedup").is_number()) << row.dump();
    if (row.at("model") == "serial") {
      EXPECT_DOUBLE_EQ(row.at("speedup").get<double>(), 1.0);
    }
  }
  EXPECT_EQ(all.at("spec").at("workers"), nlohmann::json({1, 2}));
  EXPECT_EQ(all.at("spec").at("repeat"), 2);

  // results.csv: one row per trial.
  ASSERT_TRUE(fs::exists(out_dir() / "results.csv"));
  const auto csv = parse_csv(read_file(out_dir() / "results.csv"));
  ASSERT_TRUE(csv.has_value()) << "unterminated quote in results.csv";
  const auto& rows = *csv;
  ASSERT_FALSE(rows.empty());
  EXPECT_EQ(rows.size() - 1, expected_trials);
  for (const auto& row : rows) EXPECT_EQ(row.size(), rows[0].size());

  // results.jsonl: the header, one line per trial, then the end record.
  ASSERT_TRUE(fs::exists(out_dir() / "results.jsonl"));
  const auto lines = lines_of(read_file(out_dir() / "results.jsonl"));
  ASSERT_EQ(lines.size(), expected_trials + 2);
  const auto header = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(header.at("type"), "header");
  EXPECT_TRUE(header.contains("spec"));
  EXPECT_TRUE(header.contains("environment"));
  for (std::size_t i = 1; i + 1 < lines.size(); ++i) {
    EXPECT_EQ(nlohmann::json::parse(lines[i]).at("type"), "trial") << lines[i];
  }
  const auto end = nlohmann::json::parse(lines.back());
  EXPECT_EQ(end.at("type"), "end");
  EXPECT_FALSE(end.at("interrupted").get<bool>());

  // The console table.
  EXPECT_TRUE(contains_all(r.out, {"serial", "threads", "processes", "async", "cpu", "io"}));
}

TEST_F(CliTest, SpawnStartMethodWorks) {
  const auto r = run_exe({"run",
                          "--workload",
                          "cpu,io",
                          "--model",
                          "processes",
                          "--workers",
                          "1,2",
                          "--tasks",
                          "4",
                          "--repeat",
                          "1",
                          "--cpu-work",
                          "20000",
                          "--io-wait",
                          "1ms",
                          "--start-method",
                          "spawn",
                          "--out",
                          out_dir().string(),
                          "--quiet"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto all = nlohmann::json::parse(read_file(out_dir() / "results.json"));
  EXPECT_EQ(all.at("spec").at("start_method"), "spawn");
  ASSERT_EQ(all.at("trials").size(), 4u);
  for (const auto& t : all.at("trials")) {
    EXPECT_EQ(t.at("checksum_ok"), true) << t.dump();
    EXPECT_TRUE(t.at("error").is_null()) << t.dump();
  }
}

TEST_F(CliTest, RunIsTheDefaultSubcommand) {
  const auto r = run_exe({"--workload", "io", "--model", "serial", "--tasks", "2", "--repeat", "1",
                          "--io-wait", "1ms", "--out", out_dir().string(), "--quiet"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(lines_of(read_file(out_dir() / "results.jsonl")).size(), 3u);  // header, trial, end
}

TEST_F(CliTest, AnExistingEmptyOutFolderIsUsed) {
  fs::create_directories(out_dir());
  const auto r =
      run_exe({"run", "--workload", "io", "--model", "serial", "--tasks", "2", "--repeat", "1",
               "--io-wait", "1ms", "--out", out_dir().string(), "--quiet"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(fs::exists(out_dir() / "results.jsonl"));
}

// --- list, help, version, env ---------------------------------------------------------------

TEST_F(CliTest, ListNamesEveryModelAndWorkload) {
  const auto r = run_exe({"list"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(
      contains_all(r.out, {"serial", "threads", "processes", "async", "cpu", "io", "noop"}));
}

TEST_F(CliTest, HelpShowsExamples) {
  const auto r = run_exe({"--help"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("Examples"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("run"), std::string::npos) << r.out;
}

TEST_F(CliTest, VersionPrintsTheVersion) {
  const auto r = run_exe({"--version"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find('.'), std::string::npos) << r.out;
}

TEST_F(CliTest, EnvPrintsTheEnvironmentAsJson) {
  const auto r = run_exe({"env"});
  ASSERT_EQ(r.code, 0) << r.err;
  nlohmann::json env;
  ASSERT_NO_THROW(env = nlohmann::json::parse(r.out)) << r.out;
  EXPECT_TRUE(has_keys(env, {"cpu_model", "logical_cores", "physical_cores", "kernel", "compiler",
                             "build_type", "scalelab_version"}));
}

// --- bad input: exit 2, one line naming the flag, no results folder -------------------------

struct BadInput {
  const char* name;               ///< test name suffix
  std::vector<std::string> args;  ///< after `run --out DIR --quiet`
  const char* flag;               ///< what the one line on stderr must name
  bool with_run = true;           ///< false: rely on run being the default subcommand
};

void PrintTo(const BadInput& input, std::ostream* os) {
  *os << input.name;
}

class CliBadInput : public CliTest, public ::testing::WithParamInterface<BadInput> {};

TEST_P(CliBadInput, ExitsTwoWithOneLineAndWritesNothing) {
  const BadInput& input = GetParam();
  std::vector<std::string> args;
  if (input.with_run) args.push_back("run");
  for (const std::string& arg :
       {std::string("--out"), out_dir().string(), std::string("--quiet")}) {
    args.push_back(arg);
  }
  args.insert(args.end(), input.args.begin(), input.args.end());
  const auto r = run_exe(args);
  EXPECT_TRUE(usage_error_naming(r, input.flag));
  EXPECT_FALSE(fs::exists(out_dir())) << "a results folder was created for bad input";
  EXPECT_FALSE(fs::exists(dir_ / "results"));
}

INSTANTIATE_TEST_SUITE_P(
    Cli, CliBadInput,
    ::testing::Values(
        BadInput{"UnknownModel", {"--model", "serial,fibers"}, "--model"},
        BadInput{"UnknownWorkload", {"--workload", "gpu"}, "--workload"},
        BadInput{"WorkersZero", {"--workers", "0"}, "--workers"},
        BadInput{"WorkersAbc", {"--workers", "abc"}, "--workers"},
        BadInput{"WorkersNegative", {"--workers", "-1"}, "--workers"},
        BadInput{"WorkersBackwardRange", {"--workers", "4..2"}, "--workers"},
        BadInput{"WorkersPastTenMillion", {"--workers", "10000001"}, "10000000"},
        BadInput{"WorkersEmptyItem", {"--workers", "1,,2"}, "--workers"},
        BadInput{"TasksZero", {"--tasks", "0"}, "--tasks"},
        BadInput{"TasksX", {"--tasks", "x"}, "--tasks"},
        BadInput{"RepeatZero", {"--repeat", "0"}, "--repeat"},
        BadInput{"RepeatMissingValue", {"--repeat"}, "--repeat"},
        BadInput{"CpuWorkParsecs", {"--cpu-work", "5parsecs"}, "--cpu-work"},
        BadInput{"CpuWorkZero", {"--cpu-work", "0"}, "--cpu-work"},
        BadInput{"CpuWorkExponent", {"--cpu-work", "2e5"}, "iteration count"},
        BadInput{"CpuFractionAboveOne", {"--cpu-fraction", "1.5"}, "--cpu-fraction"},
        BadInput{"CpuFractionNegative", {"--cpu-fraction", "-0.1"}, "--cpu-fraction"},
        BadInput{"CpuFractionNan", {"--cpu-fraction", "nan"}, "--cpu-fraction"},
        BadInput{"CpuFractionPercent", {"--cpu-fraction", "50%"}, "--cpu-fraction"},
        BadInput{"TaskTimeZero", {"--task-time", "0ms"}, "--task-time"},
        BadInput{"SwitchIntervalNoUnit", {"--switch-interval", "5"}, "--switch-interval"},
        BadInput{"SwitchIntervalZero", {"--switch-interval", "0us"}, "--switch-interval"},
        BadInput{
            "SwitchIntervalBelowAMicrosecond", {"--switch-interval", "500ns"}, "--switch-interval"},
        // Flags that only one workload or model reads, given without it: not silently ignored.
        BadInput{"PythonFuncWithoutPython",
                 {"--workload", "cpu", "--python-func", "m:f"},
                 "--python-func"},
        BadInput{"CpuFractionWithoutMixed",
                 {"--workload", "cpu", "--cpu-fraction", "0.5"},
                 "--cpu-fraction"},
        BadInput{"TaskTimeWithoutMixed", {"--workload", "io", "--task-time", "5ms"}, "--task-time"},
        BadInput{"SwitchIntervalWithoutGil",
                 {"--model", "serial,threads", "--switch-interval", "2ms"},
                 "--switch-interval"},
        BadInput{"IoWaitNoUnit", {"--io-wait", "20"}, "--io-wait"},
        BadInput{"IoWaitZero", {"--io-wait", "0ms"}, "--io-wait"},
        BadInput{"PayloadZero", {"--workload", "socket", "--payload", "0"}, "--payload"},
        BadInput{"PayloadTooLarge", {"--workload", "socket", "--payload", "1GiB"}, "--payload"},
        BadInput{
            "ConnectionPooled", {"--workload", "socket", "--connection", "pooled"}, "--connection"},
        BadInput{"PayloadWithoutSocket", {"--workload", "io", "--payload", "128"}, "--payload"},
        BadInput{"SeedNotANumber", {"--seed", "abc"}, "--seed"},
        BadInput{"StartMethodForkserver", {"--start-method", "forkserver"}, "--start-method"},
        BadInput{"UnknownFlag", {"--bogus"}, "--bogus"},
        // An explicitly empty value is not the same as leaving the flag out. The other flags
        // keep the run tiny in case the empty value is (wrongly) taken as "use the default".
        BadInput{"WorkersEmpty",
                 {"--workload", "io", "--model", "serial", "--tasks", "1", "--repeat", "1",
                  "--io-wait", "1ms", "--workers", ""},
                 "--workers"},
        BadInput{"SeedEmpty",
                 {"--workload", "io", "--model", "serial", "--tasks", "1", "--repeat", "1",
                  "--io-wait", "1ms", "--seed", ""},
                 "--seed"},
        BadInput{"DefaultSubcommandTasksZero", {"--tasks", "0"}, "--tasks", false},
        // Scan lists: each value held to the flag's rules, each once.
        BadInput{"ScanValueListedTwice", {"--workload", "io", "--io-wait", "1ms,1ms"}, "--io-wait"},
        BadInput{"ScanBadValue", {"--workload", "io", "--io-wait", "1ms,20"}, "--io-wait"},
        BadInput{"ScanEmptyItem", {"--workload", "io", "--io-wait", "1ms,"}, "--io-wait"},
        BadInput{"ScanTasksTwice", {"--workload", "io", "--tasks", "8,8"}, "--tasks"},
        BadInput{"ScanTasksZero", {"--workload", "io", "--tasks", "8,0"}, "--tasks"},
        BadInput{"WorkersTasksListed", {"--workload", "io", "--workers", "tasks,2"}, "--workers"}),
    [](const ::testing::TestParamInfo<BadInput>& info) { return std::string(info.param.name); });

// --- in-process: runs that need the test fixtures -------------------------------------------

TEST_F(CliTest, InProcessCorruptModelFailsWithChecksumMismatch) {
  const auto r =
      run_in_process({"run", "--model", "corrupt", "--workload", "counting", "--workers", "1",
                      "--tasks", "4", "--repeat", "1", "--out", out_dir().string(), "--quiet"});
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_NE(r.err.find("checksum mismatch"), std::string::npos) << r.err;
  const auto lines = lines_of(read_file(out_dir() / "results.jsonl"));
  ASSERT_EQ(lines.size(), 3u);  // header, trial, end
  const auto trial = nlohmann::json::parse(lines[1]);
  EXPECT_EQ(trial.at("checksum_ok"), false);
  EXPECT_NE(trial.at("error").get<std::string>().find("checksum mismatch"), std::string::npos);
}

TEST_F(CliTest, InProcessThrowingTaskFailsButTheSweepGoesOn) {
  const auto r =
      run_in_process({"run", "--model", "serial,threads", "--workload", "throw_at3", "--tasks", "8",
                      "--workers", "1,2", "--repeat", "2", "--out", out_dir().string(), "--quiet"});
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_NE(r.err.find("boom at task 3"), std::string::npos) << r.err;
  // serial at 1 + threads at 1 and 2, two repeats each: every trial was run and recorded.
  const std::size_t expected_trials = (1 + 2) * 2;
  const auto lines = lines_of(read_file(out_dir() / "results.jsonl"));
  ASSERT_EQ(lines.size(), expected_trials + 2);  // header, trials, end
  EXPECT_EQ(nlohmann::json::parse(lines[0]).at("type"), "header");
  std::set<std::tuple<std::string, int, int>> seen;
  for (std::size_t i = 1; i + 1 < lines.size(); ++i) {
    const auto trial = nlohmann::json::parse(lines[i]);
    EXPECT_EQ(trial.at("type"), "trial");
    ASSERT_TRUE(trial.at("error").is_string()) << lines[i];
    EXPECT_NE(trial.at("error").get<std::string>().find("boom at task 3"), std::string::npos);
    EXPECT_EQ(trial.at("tasks_done"), 7);
    seen.emplace(trial.at("model").get<std::string>(), trial.at("workers").get<int>(),
                 trial.at("repeat").get<int>());
  }
  EXPECT_EQ(seen.size(), expected_trials);
  // The run finished: the final files are there too.
  EXPECT_TRUE(fs::exists(out_dir() / "results.csv"));
  const auto all = nlohmann::json::parse(read_file(out_dir() / "results.json"));
  EXPECT_EQ(all.at("trials").size(), expected_trials);
  for (const auto& row : all.at("summary")) {
    EXPECT_EQ(row.at("trials"), 0);
    EXPECT_EQ(row.at("failed"), 2);
  }
}

TEST_F(CliTest, InProcessExistingNonEmptyOutFolderIsRefused) {
  fs::create_directories(out_dir());
  std::ofstream(out_dir() / "keep.txt") << "earlier results\n";
  const auto r = run_in_process(counting_run(out_dir().string()));
  EXPECT_TRUE(usage_error_naming(r, "--out"));
  EXPECT_EQ(read_file(out_dir() / "keep.txt"), "earlier results\n");
  EXPECT_FALSE(fs::exists(out_dir() / "results.jsonl"));
}

TEST_F(CliTest, InProcessOutPathThatIsAFileIsRefused) {
  std::ofstream(out_dir()) << "a file, not a folder\n";
  const auto r = run_in_process(counting_run(out_dir().string()));
  EXPECT_TRUE(usage_error_naming(r, "--out"));
  EXPECT_EQ(read_file(out_dir()), "a file, not a folder\n");
}

TEST_F(CliTest, MixedUnderGilRecordsTheLockCountersInJsonAndCsv) {
  const auto r = run_exe({"run",
                          "--workload",
                          "mixed",
                          "--model",
                          "serial,gil",
                          "--workers",
                          "2",
                          "--tasks",
                          "4",
                          "--repeat",
                          "1",
                          "--cpu-fraction",
                          "0.5",
                          "--task-time",
                          "4ms",
                          "--switch-interval",
                          "1ms",
                          "--out",
                          out_dir().string(),
                          "--quiet"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto all = nlohmann::json::parse(read_file(out_dir() / "results.json"));
  EXPECT_NEAR(all.at("spec").at("switch_interval_s").get<double>(), 0.001, 1e-12);
  EXPECT_NEAR(all.at("spec").at("cpu_fraction").get<double>(), 0.5, 1e-12);
  for (const auto& t : all.at("trials")) {
    if (t.at("model") == "gil") {
      EXPECT_TRUE(has_keys(t.at("counters"), {"gil_switches", "gil_wait_s", "gil_max_hold_s"}));
    } else {
      EXPECT_TRUE(t.at("counters").empty()) << t.dump();
    }
  }
  const auto rows = parse_csv(read_file(out_dir() / "results.csv"));
  ASSERT_TRUE(rows.has_value());
  const auto& header = rows->front();
  EXPECT_NE(std::find(header.begin(), header.end(), "gil_switches"), header.end());
}

TEST_F(CliTest, InProcessEmptyOutIsAUsageErrorNotTheDefaultFolder) {
  const fs::path cwd = fs::current_path();
  fs::create_directories(dir_);
  fs::current_path(dir_);  // where a default results/ folder would appear
  const auto r = run_in_process(counting_run(""));
  fs::current_path(cwd);
  EXPECT_TRUE(usage_error_naming(r, "--out"));
  EXPECT_FALSE(fs::exists(dir_ / "results"));
}

TEST_F(CliTest, InProcessUnwritableOutFolderIsAUsageErrorNamingOut) {
  // /dev/null is a file, so no folder can be created below it.
  const auto r = run_in_process(counting_run("/dev/null/out"));
  EXPECT_TRUE(usage_error_naming(r, "--out"));
}

TEST_F(CliTest, InProcessSpawnedWorkersKnowTheTestFixtures) {
  const auto r = run_in_process({"run", "--model", "processes", "--start-method", "spawn",
                                 "--workload", "counting", "--workers", "2", "--tasks", "8",
                                 "--repeat", "1", "--out", out_dir().string(), "--quiet"});
  EXPECT_EQ(r.code, 0) << r.err;
  const auto all = nlohmann::json::parse(read_file(out_dir() / "results.json"));
  ASSERT_EQ(all.at("trials").size(), 1u);
  EXPECT_EQ(all.at("trials")[0].at("checksum_ok"), true);
}

TEST_F(CliTest, InProcessListIncludesRegisteredFixtures) {
  const auto r = run_in_process({"list"});
  EXPECT_EQ(r.code, 0);
  EXPECT_TRUE(
      contains_all(r.out, {"serial", "corrupt", "cpu", "counting", "throw_at3", "sleep100ms"}));
}

TEST_F(CliTest, InProcessBadInputIsOneLineAndExitTwo) {
  const auto r = run_in_process(
      {"run", "--model", "corrupt,nope", "--workload", "counting", "--out", out_dir().string()});
  EXPECT_TRUE(usage_error_naming(r, "--model"));
  EXPECT_NE(r.err.find("nope"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(out_dir()));
}

// --- the python workload (embedded CPython) -------------------------------------------------

#if SCALELAB_HAVE_PYTHON
TEST_F(CliTest, PythonMissingModuleIsOneLineNamingPythonFunc) {
  const auto r = run_exe({"run", "--workload", "python", "--python-func", "nosuch:f", "--cpu-work",
                          "1000", "--out", out_dir().string(), "--quiet"});
  EXPECT_TRUE(usage_error_naming(r, "--python-func"));
  EXPECT_NE(r.err.find("No module named 'nosuch'"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(out_dir())) << "a results folder was created for bad input";
}

// With CPython, the default experiment runs the seed's two tasks in C++ under C++'s models and in
// Python under Python's own executors, and its report opens with the seed's table, side by side.
TEST_F(CliTest, TheDefaultExperimentOpensWithTheSeedsTableSideBySide) {
  const auto r =
      run_exe({"run", "--workers", "1,2", "--tasks", "4", "--repeat", "1", "--no-warmup",
               "--cpu-work", "2000", "--io-wait", "1ms", "--out", out_dir().string(), "--quiet"});
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string report = read_file(out_dir() / "report.md");
  const auto table = report.find("## The seed's experiment: C++ and Python side by side");
  ASSERT_NE(table, std::string::npos) << report;
  EXPECT_LT(table, report.find("## Environment")) << "the report opens with it";
  for (const char* text :
       {"| model | CPU-bound, C++ (cpu) | CPU-bound, Python (python) | I/O-bound, C++ (io) | "
        "I/O-bound, Python (python-io) |",
        "\n| serial | ", "\n| threads / py-threads | ", "\n| processes / py-processes | ",
        "\n| async / py-asyncio | ", "CPU-bound, the seed's two worlds: py-threads ",
        "I/O-bound, the seed's two worlds: py-asyncio "}) {
    EXPECT_NE(report.find(text), std::string::npos) << text << "\n" << report;
  }
  // Each world's tasks under its own models only.
  const auto all = nlohmann::json::parse(read_file(out_dir() / "results.json"));
  std::set<std::string> pairs;
  for (const auto& t : all.at("trials")) {
    pairs.insert(t.at("workload").get<std::string>() + " " + t.at("model").get<std::string>());
  }
  EXPECT_EQ(pairs.size(), 2u * 4 + 2u * 4) << nlohmann::json(pairs).dump();
  EXPECT_FALSE(pairs.contains("python threads"));
  EXPECT_FALSE(pairs.contains("cpu py-threads"));
  EXPECT_TRUE(pairs.contains("python-io py-asyncio"));
}

TEST_F(CliTest, PythonUnderGilIsRefusedNamingModel) {
  const auto r = run_exe({"run", "--workload", "python", "--model", "gil,threads", "--cpu-work",
                          "1000", "--out", out_dir().string(), "--quiet"});
  EXPECT_TRUE(usage_error_naming(r, "--model"));
  EXPECT_NE(r.err.find("GIL"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(out_dir()));
}

TEST_F(CliTest, PythonWithTheDefaultModelsRunsUnderBothWorldsModels) {
  const auto r =
      run_exe({"run", "--workload", "python", "--workers", "1", "--tasks", "2", "--repeat", "1",
               "--cpu-work", "1000", "--no-warmup", "--out", out_dir().string()});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto all = nlohmann::json::parse(read_file(out_dir() / "results.json"));
  std::set<std::string> models;
  for (const auto& t : all.at("trials")) models.insert(t.at("model").get<std::string>());
  // --workload given: the default models' whole cross product that can run it, Python's
  // executors with C++'s pools.
  EXPECT_EQ(models, (std::set<std::string>{"serial", "threads", "processes", "async", "py-threads",
                                           "py-processes", "py-asyncio"}));
}

TEST_F(CliTest, GilWithTheDefaultWorkloadsLeavesThePythonOnesOutAndSaysSo) {
  const auto r = run_exe({"run", "--model", "threads,gil", "--workers", "1", "--tasks", "2",
                          "--repeat", "1", "--cpu-work", "1000", "--io-wait", "1ms", "--no-warmup",
                          "--out", out_dir().string()});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("left out: python under gil"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("left out: python-io under gil"), std::string::npos) << r.err;
}

TEST_F(CliTest, PythonTinySweepUnderSerialThreadsAndProcesses) {
  const auto r = run_exe({"run", "--workload", "python", "--model", "serial,threads,processes",
                          "--workers", "1,2", "--tasks", "4", "--repeat", "1", "--cpu-work", "2ms",
                          "--seed", "1", "--out", out_dir().string(), "--quiet"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto all = nlohmann::json::parse(read_file(out_dir() / "results.json"));
  EXPECT_TRUE(all.at("calibration").contains("python")) << all.at("calibration").dump();
  ASSERT_EQ(all.at("trials").size(), 5u);  // serial at 1, threads and processes at 1 and 2
  for (const auto& t : all.at("trials")) {
    EXPECT_EQ(t.at("workload"), "python");
    EXPECT_EQ(t.at("checksum_ok"), true) << t.dump();
    EXPECT_TRUE(t.at("error").is_null()) << t.dump();
  }
}

// How the binary links libpython is recorded in every run's environment (it changes how fast
// interpreted code runs), and is what the build configured (SCALELAB_PYTHON_LINK).
TEST_F(CliTest, EnvRecordsTheEmbeddedPythonAndHowItIsLinked) {
  const auto r = run_exe({"env"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto env = nlohmann::json::parse(r.out);
  ASSERT_TRUE(env.contains("runtimes")) << r.out;
  const auto& python = env.at("runtimes").at("python");
  EXPECT_EQ(python.at("version").get<std::string>().rfind("3.", 0), 0u) << python.dump();
  EXPECT_EQ(python.at("linking"), SCALELAB_TEST_PYTHON_STATIC ? "static" : "shared")
      << python.dump();
  const auto library = fs::path(python.at("library").get<std::string>());
  if (SCALELAB_TEST_PYTHON_STATIC) {
    EXPECT_EQ(fs::canonical(library), fs::canonical(SCALELAB_EXE)) << python.dump();
  } else {
    EXPECT_NE(library.filename().string().find("libpython"), std::string::npos) << python.dump();
  }
}

// Extension modules that are shared objects of their own load in the binary's workers, and in
// a statically linked binary find the C API it exports.
TEST_F(CliTest, PythonFunctionUsingExtensionModulesRunsInEveryModel) {
  if (scalelab::testing::kThreadSanitizer) {
    GTEST_SKIP() << scalelab::testing::kTsanForkLimit;
  }
  ::setenv("PYTHONPATH", SCALELAB_TEST_PYTHON_DIR, 1);
  const auto r =
      run_exe({"run", "--workload", "python", "--python-func", "scalelab_sample:extension_modules",
               "--model", "serial,threads,processes,async", "--workers", "2", "--tasks", "4",
               "--repeat", "1", "--out", out_dir().string(), "--quiet"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto all = nlohmann::json::parse(read_file(out_dir() / "results.json"));
  ASSERT_EQ(all.at("trials").size(), 4u);
  for (const auto& t : all.at("trials")) {
    EXPECT_EQ(t.at("checksum_ok"), true) << t.dump();
    EXPECT_TRUE(t.at("error").is_null()) << t.dump();
  }
}

TEST_F(CliTest, PythonExceptionFailsItsTrialsAndTheSweepGoesOn) {
  // Its trials run in processes forked from a multithreaded scalelab that then start threads:
  // ThreadSanitizer fails such a child ("dup thread with used id", exit 66); see
  // tests/cli/test_isolation.cpp.
  if (scalelab::testing::kThreadSanitizer) {
    GTEST_SKIP() << scalelab::testing::kTsanForkLimit;
  }
  // The spawned scalelab inherits this process's environment, so it finds the sample module.
  ::setenv("PYTHONPATH", SCALELAB_TEST_PYTHON_DIR, 1);
  const auto r =
      run_exe({"run", "--workload", "python", "--python-func", "scalelab_sample:fail_on_3",
               "--model", "serial,threads,processes", "--workers", "2", "--tasks", "6", "--repeat",
               "1", "--out", out_dir().string(), "--quiet"});
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_NE(r.err.find("ZeroDivisionError: division by zero"), std::string::npos) << r.err;
  const auto lines = lines_of(read_file(out_dir() / "results.jsonl"));
  ASSERT_EQ(lines.size(), 5u) << "the header, one line per trial, the end record";
  for (std::size_t i = 1; i + 1 < lines.size(); ++i) {
    const auto trial = nlohmann::json::parse(lines[i]);
    EXPECT_EQ(trial.at("error"), "task 3 threw: ZeroDivisionError: division by zero") << lines[i];
    EXPECT_EQ(trial.at("tasks_done"), 5);
  }
}
#endif

// --- Reports, compare, --force ----------------------------------------------------------------

// A small real run of the seed's two workloads (about a second), for the report tests.
std::vector<std::string> small_run(const fs::path& out) {
  return {"run",       "--workload", "cpu,io",  "--model",    "serial,threads,async",
          "--workers", "1,2,4",      "--tasks", "8",          "--repeat",
          "3",         "--cpu-work", "2000",    "--io-wait",  "2ms",
          "--seed",    "5",          "--out",   out.string(), "--quiet"};
}

TEST_F(CliTest, EveryRunWritesReportsThatReportRecreatesByteForByte) {
  const auto r = run_exe(small_run(out_dir()));
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string md = read_file(out_dir() / "report.md");
  const std::string html = read_file(out_dir() / "report.html");
  ASSERT_FALSE(md.empty());
  ASSERT_FALSE(html.empty());
  EXPECT_TRUE(contains_all(md, {"cpu", "io", "threads", "async", "Conclusions"})) << md;
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_NE(r.out.find("Conclusions"), std::string::npos) << r.out;

  // From the folder, into another folder: the same report.md, byte for byte.
  const fs::path again = dir_ / "again";
  const auto from_folder = run_exe({"report", out_dir().string(), "--out", again.string()});
  ASSERT_EQ(from_folder.code, 0) << from_folder.err;
  EXPECT_EQ(read_file(again / "report.md"), md);
  EXPECT_EQ(read_file(again / "report.html"), html);
  // From the file, in place: still the same.
  const auto from_file = run_exe({"report", (out_dir() / "results.jsonl").string(), "-q"});
  ASSERT_EQ(from_file.code, 0) << from_file.err;
  EXPECT_EQ(read_file(out_dir() / "report.md"), md);
  EXPECT_EQ(from_file.out, from_folder.out);
  EXPECT_FALSE(fs::exists(out_dir() / "report.md.tmp"));

  // results.json carries the same analysis: fits and conclusions.
  const auto all = nlohmann::json::parse(read_file(out_dir() / "results.json"));
  EXPECT_TRUE(
      has_keys(all, {"summary", "fits", "conclusions", "workloads", "warnings", "interrupted"}));
  EXPECT_FALSE(all.at("interrupted").get<bool>());
  EXPECT_FALSE(all.at("conclusions").empty());
}

TEST_F(CliTest, ReportOfAMissingOrForeignFileIsAUsageError) {
  auto r = run_exe({"report", (dir_ / "nowhere").string()});
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("nowhere"), std::string::npos) << r.err;
  EXPECT_EQ(count_newlines(r.err), 1u) << r.err;
  fs::create_directories(dir_);
  std::ofstream(dir_ / "foreign.jsonl") << "{\"hello\": 1}\n";
  r = run_exe({"report", (dir_ / "foreign.jsonl").string()});
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("header"), std::string::npos) << r.err;
  r = run_exe({"report"});
  EXPECT_EQ(r.code, 2) << r.err;
}

TEST_F(CliTest, ReportOfACutOffRunWarnsAboutTheTornLineAndSaysItWasInterrupted) {
  ASSERT_EQ(run_exe(small_run(out_dir())).code, 0);
  auto text = read_file(out_dir() / "results.jsonl");
  auto lines = lines_of(text);
  ASSERT_GT(lines.size(), 4u);
  // Keep the header, two trials and half of the third, as a power cut would.
  std::ofstream(out_dir() / "results.jsonl", std::ios::trunc)
      << lines[0] << "\n"
      << lines[1] << "\n"
      << lines[2] << "\n"
      << lines[3].substr(0, lines[3].size() / 2);
  const auto r = run_exe({"report", out_dir().string()});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("line 4 is torn"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("interrupted"), std::string::npos) << r.err;
  const std::string md = read_file(out_dir() / "report.md");
  EXPECT_NE(md.find("torn"), std::string::npos);
}

TEST_F(CliTest, CompareTwoRunsGivesAVerdictPerPointAndExitsZero) {
  const fs::path a = dir_ / "a", b = dir_ / "b";
  ASSERT_EQ(run_exe(small_run(a)).code, 0);
  ASSERT_EQ(run_exe(small_run(b)).code, 0);
  const auto r = run_exe({"compare", a.string(), (b / "results.jsonl").string()});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains_all(r.out, {"threads", "async", "serial"})) << r.out;
  const bool has_verdict = r.out.find("faster") != std::string::npos ||
                           r.out.find("slower") != std::string::npos ||
                           r.out.find("no significant difference") != std::string::npos;
  EXPECT_TRUE(has_verdict) << r.out;
  const auto missing = run_exe({"compare", a.string()});
  EXPECT_EQ(missing.code, 2);
  const auto bad = run_exe({"compare", a.string(), (dir_ / "nowhere").string()});
  EXPECT_EQ(bad.code, 2);
}

// Runs from builds that link an embedded runtime differently are not a fair comparison of the
// code: compare says so before its verdicts.
TEST_F(CliTest, CompareNotesRunsWhoseEmbeddedRuntimesDiffer) {
  const fs::path a = dir_ / "a", b = dir_ / "b";
  ASSERT_EQ(run_exe(small_run(a)).code, 0);
  ASSERT_EQ(run_exe(small_run(b)).code, 0);
  const auto same = run_exe({"compare", a.string(), b.string()});
  ASSERT_EQ(same.code, 0) << same.err;
  EXPECT_EQ(same.err.find("runtimes differs"), std::string::npos) << same.err;

  auto lines = lines_of(read_file(b / "results.jsonl"));
  auto header = nlohmann::json::parse(lines.at(0));
  header["environment"]["runtimes"] = {
      {"python", {{"version", "3.11.2"}, {"library", "/elsewhere"}, {"linking", "other"}}}};
  lines[0] = header.dump();
  std::string text;
  for (const auto& line : lines) text += line + "\n";
  std::ofstream(b / "results.jsonl", std::ios::binary | std::ios::trunc) << text;
  const auto differ = run_exe({"compare", a.string(), (b / "results.jsonl").string()});
  ASSERT_EQ(differ.code, 0) << differ.err;
  EXPECT_NE(differ.err.find("note: runtimes differs: "), std::string::npos) << differ.err;
  EXPECT_NE(differ.err.find("/elsewhere"), std::string::npos) << differ.err;
}

TEST_F(CliTest, InProcessForceReplacesOnlyTheResultsOfAFolder) {
  ASSERT_EQ(run_in_process(counting_run(out_dir().string())).code, 0);
  std::ofstream(out_dir() / "keep.txt") << "notes\n";
  const auto refused = run_in_process(counting_run(out_dir().string()));
  EXPECT_TRUE(usage_error_naming(refused, "--out"));
  EXPECT_NE(refused.err.find("--force"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("--resume"), std::string::npos) << refused.err;
  const auto before = read_file(out_dir() / "results.jsonl");

  auto args = counting_run(out_dir().string());
  args.push_back("--force");
  ASSERT_EQ(run_in_process(args).code, 0);
  EXPECT_EQ(read_file(out_dir() / "keep.txt"), "notes\n");
  const auto after = lines_of(read_file(out_dir() / "results.jsonl"));
  EXPECT_EQ(after.size(), lines_of(before).size());  // replaced, not appended to
}

// --- Interruptions and --resume ---------------------------------------------------------------

// A sweep of about 6 s (60 trials of 8 x 10 ms waits, serial ones 80 ms) to interrupt.
std::vector<std::string> long_run(const fs::path& out) {
  return {"run",
          "--workload",
          "io",
          "--model",
          "serial,threads,async",
          "--workers",
          "1,2,4,8",
          "--tasks",
          "8",
          "--repeat",
          "6",
          "--io-wait",
          "10ms",
          "--seed",
          "9",
          "--out",
          out.string(),
          "--quiet",
          "--rerun-disturbed",
          "0"};
}

TEST_F(CliTest, SigintMidSweepSavesTheFinishedTrialsAndResumeCompletesExactlyTheRest) {
  fs::create_directories(dir_);
  const fs::path jsonl = out_dir() / "results.jsonl";
  const pid_t pid = spawn_exe(long_run(out_dir()), dir_ / "bg-stdout.txt", dir_ / "bg-stderr.txt");
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(wait_for_trials(jsonl, 5)) << read_file(dir_ / "bg-stderr.txt");
  ASSERT_EQ(::kill(pid, SIGINT), 0);
  ASSERT_EQ(wait_exit(pid, std::chrono::seconds(30)), 130) << read_file(dir_ / "bg-stderr.txt");

  EXPECT_TRUE(valid_json_lines(jsonl));
  const auto lines = lines_of(read_file(jsonl));
  const auto end = nlohmann::json::parse(lines.back());
  EXPECT_EQ(end.at("type"), "end");
  EXPECT_TRUE(end.at("interrupted").get<bool>());
  EXPECT_EQ(end.at("signal"), "INT");
  const std::size_t recorded = trial_lines(jsonl);
  const auto planned = nlohmann::json::parse(lines.front()).at("planned_trials").get<std::size_t>();
  EXPECT_GE(recorded, 5u);
  EXPECT_LT(recorded, planned);
  for (const char* name : {"results.json", "results.csv", "report.md", "report.html"}) {
    EXPECT_TRUE(fs::exists(out_dir() / name)) << name;
  }
  const auto all = nlohmann::json::parse(read_file(out_dir() / "results.json"));
  EXPECT_TRUE(all.at("interrupted").get<bool>());
  EXPECT_EQ(all.at("trials").size(), recorded);
  EXPECT_NE(read_file(dir_ / "bg-stderr.txt").find("--resume"), std::string::npos);

  // --resume runs exactly the missing trials: each planned trial is then on record once.
  const auto resumed = run_exe({"run", "--resume", out_dir().string(), "--quiet"});
  ASSERT_EQ(resumed.code, 0) << resumed.err;
  EXPECT_TRUE(valid_json_lines(jsonl));
  EXPECT_EQ(trial_lines(jsonl), planned);
  std::set<std::tuple<std::string, std::string, int, int>> keys;
  for (const auto& line : lines_of(read_file(jsonl))) {
    const auto j = nlohmann::json::parse(line);
    if (j.at("type") != "trial") continue;
    const auto key =
        std::tuple{j.at("workload").get<std::string>(), j.at("model").get<std::string>(),
                   j.at("workers").get<int>(), j.at("repeat").get<int>()};
    EXPECT_TRUE(keys.insert(key).second) << "recorded twice: " << line;
  }
  EXPECT_EQ(keys.size(), planned);
  const auto done = nlohmann::json::parse(read_file(out_dir() / "results.json"));
  EXPECT_FALSE(done.at("interrupted").get<bool>());
  EXPECT_EQ(done.at("trials").size(), planned);

  // Nothing left: resuming again runs nothing and succeeds.
  const auto again = run_exe({"run", "--resume", out_dir().string(), "--quiet"});
  EXPECT_EQ(again.code, 0) << again.err;
  EXPECT_EQ(trial_lines(jsonl), planned);
}

TEST_F(CliTest, SigtermExits143AndASecondSignalExitsAtOnceWithWholeLines) {
  fs::create_directories(dir_);
  const fs::path jsonl = out_dir() / "results.jsonl";
  pid_t pid = spawn_exe(long_run(out_dir()), dir_ / "bg-stdout.txt", dir_ / "bg-stderr.txt");
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(wait_for_trials(jsonl, 2));
  ASSERT_EQ(::kill(pid, SIGTERM), 0);
  EXPECT_EQ(wait_exit(pid, std::chrono::seconds(30)), 143);
  EXPECT_TRUE(valid_json_lines(jsonl));

  const fs::path second = dir_ / "second";
  pid = spawn_exe(long_run(second), dir_ / "bg-stdout.txt", dir_ / "bg-stderr.txt");
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(wait_for_trials(second / "results.jsonl", 2));
  ASSERT_EQ(::kill(pid, SIGINT), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_EQ(::kill(pid, SIGINT), 0);
  EXPECT_EQ(wait_exit(pid, std::chrono::seconds(10)), 130);
  EXPECT_TRUE(valid_json_lines(second / "results.jsonl"));
  EXPECT_GE(scalelab::read_records(second).trials.size(), 2u);
}

TEST_F(CliTest, ResumeTakesNoSpecFlagsAndNeedsARunFolder) {
  auto r = run_exe({"run", "--resume", (dir_ / "nowhere").string()});
  EXPECT_TRUE(usage_error_naming(r, "--resume"));
  ASSERT_EQ(run_in_process(counting_run(out_dir().string())).code, 0);
  r = run_exe({"run", "--resume", out_dir().string(), "--tasks", "4"});
  EXPECT_TRUE(usage_error_naming(r, "--resume"));
  EXPECT_NE(r.err.find("--tasks"), std::string::npos) << r.err;
}

TEST_F(CliTest, TrialTimeoutIsParsedAsADuration) {
  const auto r = run_in_process({"run", "--model", "serial", "--workload", "counting",
                                 "--trial-timeout", "soon", "--out", out_dir().string()});
  EXPECT_TRUE(usage_error_naming(r, "--trial-timeout"));
  const auto empty = run_in_process({"run", "--model", "serial", "--workload", "counting",
                                     "--trial-timeout", "", "--out", out_dir().string()});
  EXPECT_TRUE(usage_error_naming(empty, "--trial-timeout"));
}

TEST_F(CliTest, DryRunPrintsThePlanAndItsEstimateAndWritesNothing) {
  const auto r = run_exe({"run", "--workload", "io", "--model", "serial,threads", "--workers",
                          "1,2", "--tasks", "4", "--repeat", "2", "--io-wait", "10ms", "--seed",
                          "3", "--dry-run", "--out", out_dir().string()});
  ASSERT_EQ(r.code, 0) << r.err;
  // io: serial at 1 and threads at 1 and 2, 2 repeats each, one warm-up per point: 6 + 3.
  EXPECT_TRUE(contains_all(
      r.out, {"plan: 6 trials (+3 warm-ups), 4 tasks each, seed 3", "threads", "1,2", "about"}))
      << r.out;
  EXPECT_FALSE(fs::exists(out_dir()));
  // The run itself tells the same plan before its first trial.
  const auto run = run_exe({"run", "--workload", "io", "--model", "serial", "--tasks", "2",
                            "--repeat", "1", "--io-wait", "1ms", "--out", out_dir().string()});
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_NE(run.err.find("seed"), std::string::npos);
  EXPECT_NE(run.err.find(", about "), std::string::npos) << run.err;
  EXPECT_TRUE(usage_error_naming(run_exe({"run", "--resume", out_dir().string(), "--dry-run"}),
                                 "--resume"));
}

// --- granularity --------------------------------------------------------------------------------

// A small granularity sweep into `dir`: 2 sizes × 1 repeat × (serial + threads).
std::vector<std::string> small_granularity(const fs::path& dir) {
  return {"granularity", "--model",     "threads",     "--workers",  "2",
          "--sizes",     "1ms,100us",   "--min-batch", "10ms",       "--repeat",
          "1",           "--no-warmup", "--out",       dir.string(), "-q"};
}

TEST_F(CliTest, GranularityPrintsEachSizeAndAVerdictAndWritesARunFolder) {
  const auto r = run_exe(small_granularity(out_dir()));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(contains_all(r.out, {"1ms", "100us", "efficiency", "threads at 2 workers"})) << r.out;
  const auto result = nlohmann::json::parse(read_file(out_dir() / "results.json"));
  EXPECT_EQ(result.at("kind"), "granularity");
  EXPECT_EQ(result.at("model"), "threads");
  EXPECT_EQ(result.at("workers"), 2);
  EXPECT_EQ(result.at("points").size(), 2u);
  // 4 planned trials; a disturbed one is on record again with its rerun.
  EXPECT_GE(result.at("trials").size(), 4u);
  EXPECT_TRUE(result.at("verdict").get<std::string>().starts_with("threads at 2 workers"));
  // Every trial is on record with its size; the CSV has a column for it.
  const auto recorded = scalelab::read_records(out_dir());
  EXPECT_EQ(recorded.header.kind, "granularity");
  EXPECT_EQ(scalelab::planned_on_record(recorded.trials), 4u);
  for (const auto& t : recorded.trials) EXPECT_TRUE(t.point.contains("task_s"));
  EXPECT_NE(read_file(out_dir() / "results.csv").find(",task_s"), std::string::npos);
  const std::string md = read_file(out_dir() / "report.md");
  EXPECT_TRUE(contains_all(md, {"# scalelab granularity report", "## Verdict", "| 100us |"})) << md;
  EXPECT_NE(read_file(out_dir() / "report.html").find("<svg"), std::string::npos);

  // `report` on the folder makes the same report again, byte for byte.
  const fs::path again = dir_ / "again";
  const auto rep = run_exe({"report", out_dir().string(), "--out", again.string(), "-q"});
  ASSERT_EQ(rep.code, 0) << rep.err;
  EXPECT_EQ(read_file(again / "report.md"), md);
  EXPECT_TRUE(rep.out.starts_with("threads at 2 workers")) << rep.out;
}

TEST_F(CliTest, GranularityResumeRunsExactlyTheTrialsNotOnRecord) {
  ASSERT_EQ(run_exe(small_granularity(out_dir())).code, 0);
  // Keep the header and the first trial: as if the sweep had been killed after it.
  const auto lines = scalelab::testing::lines_of(read_file(out_dir() / "results.jsonl"));
  {
    std::ofstream cut(out_dir() / "results.jsonl", std::ios::trunc);
    cut << lines.at(0) << "\n" << lines.at(1) << "\n";
  }
  const auto r = run_exe({"granularity", "--resume", out_dir().string(), "-q"});
  ASSERT_EQ(r.code, 0) << r.err;
  const auto recorded = scalelab::read_records(out_dir());
  EXPECT_FALSE(recorded.interrupted);
  EXPECT_EQ(scalelab::planned_on_record(recorded.trials), 4u);
  EXPECT_EQ(nlohmann::json::parse(read_file(out_dir() / "results.json")).at("points").size(), 2u);
}

TEST_F(CliTest, GranularityFoldersAreRefusedWhereARunIsExpected) {
  ASSERT_EQ(run_exe(small_granularity(out_dir())).code, 0);
  EXPECT_TRUE(usage_error_naming(run_exe({"run", "--resume", out_dir().string()}), "--resume"));
  EXPECT_TRUE(
      usage_error_naming(run_exe({"compare", out_dir().string(), out_dir().string()}), "compare"));
  EXPECT_TRUE(usage_error_naming(
      run_exe({"granularity", "--resume", out_dir().string(), "--model", "threads"}), "--resume"));
  // The old --out FILE.json now names a folder: refused, not silently made a folder.
  EXPECT_TRUE(usage_error_naming(
      run_exe({"granularity", "--model", "threads", "--out", (dir_ / "g.json").string()}),
      "--out"));
}

TEST_F(CliTest, GranularityBadInputNamesTheFlag) {
  EXPECT_EQ(run_exe({"granularity"}).code, 2);  // --model is required
  EXPECT_TRUE(usage_error_naming(run_exe({"granularity", "--model", "nope"}), "--model"));
  EXPECT_TRUE(usage_error_naming(run_exe({"granularity", "--model", "threads", "--sizes", "1ms,x"}),
                                 "--sizes"));
  EXPECT_TRUE(usage_error_naming(run_exe({"granularity", "--model", "threads", "--threshold", "2"}),
                                 "--threshold"));
  EXPECT_TRUE(usage_error_naming(run_exe({"granularity", "--model", "threads", "--workers", "0"}),
                                 "--workers"));
  EXPECT_TRUE(usage_error_naming(run_exe({"granularity", "--model", "threads", "--workload", "io"}),
                                 "--workload"));
}

}  // namespace
