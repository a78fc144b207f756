// User code that takes its process down, and signals in every phase of a run: a child scalelab
// per case, with tests/python/scalelab_faults.py misbehaving on request.

#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "scalelab/records.hpp"
#include "support/child.hpp"
#include "support/helpers.hpp"
#include "support/sanitizers.hpp"

namespace {

namespace fs = std::filesystem;
using scalelab::testing::count_newlines;
using scalelab::testing::lines_of;
using scalelab::testing::read_file;
using scalelab::testing::spawn_exe;
using scalelab::testing::valid_json_lines;
using scalelab::testing::wait_exit;
using scalelab::testing::wait_for_text;

#if SCALELAB_HAVE_PYTHON
constexpr bool kHavePython = true;
#else
constexpr bool kHavePython = false;
#endif

// How long a stopped run may take to exit: the 2 s, with room for a sanitizer's slower
// start-up of the final files.
const auto kStopLimit = std::chrono::milliseconds(
    scalelab::testing::kAddressSanitizer || scalelab::testing::kThreadSanitizer ? 6000 : 2000);

class IsolationTest : public scalelab::testing::ScratchDirTest {
 protected:
  struct Outcome {
    int code = -1;
    std::string err;
  };

  fs::path out_dir() const { return dir_ / "out"; }
  fs::path err_path() const { return dir_ / "stderr.txt"; }

  // The environment of a child that loads tests/python, plus `extra`.
  static std::vector<std::string> python_env(std::vector<std::string> extra = {}) {
#ifdef SCALELAB_TEST_PYTHON_DIR
    extra.push_back(std::string("PYTHONPATH=") + SCALELAB_TEST_PYTHON_DIR);
#endif
    return extra;
  }

  pid_t start(const std::vector<std::string>& args, const std::vector<std::string>& env) const {
    return spawn_exe(scalelab::testing::without_reruns(args), dir_ / "stdout.txt", err_path(), env);
  }

  Outcome run(const std::vector<std::string>& args, const std::vector<std::string>& env) const {
    const pid_t pid = start(args, env);
    Outcome outcome;
    if (pid < 0) return outcome;
    outcome.code = wait_exit(pid, std::chrono::seconds(240));
    outcome.err = read_file(err_path());
    return outcome;
  }

  std::vector<nlohmann::json> records() const {
    std::vector<nlohmann::json> lines;
    for (const auto& line : lines_of(read_file(out_dir() / "results.jsonl"))) {
      lines.push_back(nlohmann::json::parse(line));
    }
    return lines;
  }

  std::vector<nlohmann::json> trials() const {
    std::vector<nlohmann::json> list;
    for (auto& r : records()) {
      if (r.at("type") == "trial") list.push_back(r);
    }
    return list;
  }

  // The run's files are all there, its records are whole JSON lines, and its last record is
  // the end record.
  void expect_whole_run() const {
    EXPECT_TRUE(valid_json_lines(out_dir() / "results.jsonl"));
    for (const char* name : {"results.json", "results.csv", "report.md", "report.html"}) {
      EXPECT_TRUE(fs::exists(out_dir() / name)) << name;
    }
    ASSERT_FALSE(records().empty());
    EXPECT_EQ(records().back().at("type"), "end");
  }
};

#if SCALELAB_HAVE_PYTHON

// A trial of user code runs in a process forked from scalelab, which has a thread of its own
// (the signal watcher), and its pool then starts threads there. ThreadSanitizer cannot follow
// such a child: it fails it with "dup thread with used id" and exit code 66 (its own limit,
// which die_after_fork=0 only softens). The tests whose child must finish its trial skip under
// TSan; those where it dies or is killed still run.
using scalelab::testing::kTsanForkLimit;

// The user's function at task 3 of every trial (not of the reference pass): each model's trial
// fails with what happened, named, and the run goes on to the next trial.
struct TrialFault {
  const char* mode;
  const char* in_process;  // what a serial, threads, async, py-threads or py-asyncio trial says
  const char* processes;   // what a processes or py-processes trial says
};

void PrintTo(const TrialFault& f, std::ostream* os) {
  *os << f.mode;
}

class TrialFaultTest : public IsolationTest, public ::testing::WithParamInterface<TrialFault> {};

TEST_P(TrialFaultTest, FailsTheTrialWithTheTaskAndTheRunGoesOn) {
  if (scalelab::testing::kThreadSanitizer) GTEST_SKIP() << kTsanForkLimit;
  const TrialFault& fault = GetParam();
  const auto r = run(
      {"run", "--workload", "python", "--python-func", "scalelab_faults:task", "--model",
       "serial,threads,processes,async,py-threads,py-processes,py-asyncio", "--workers", "2",
       "--tasks", "6", "--repeat", "1", "--no-warmup", "--trial-timeout", "1s", "--out",
       out_dir().string()},
      python_env({std::string("SCALELAB_FAULT=") + fault.mode,
                  "SCALELAB_FAULT_COUNTER=" + (dir_ / "calls").string(), "SCALELAB_FAULT_SKIP=1"}));
  ASSERT_EQ(r.code, 1) << r.err;
  expect_whole_run();
  const auto list = trials();
  ASSERT_EQ(list.size(), 7u) << r.err;  // every model's trial ran: none took the run down
  for (const auto& t : list) {
    const std::string model = t.at("model");
    const std::string error = t.at("error").is_string() ? t.at("error").get<std::string>() : "";
    const std::string want =
        model == "processes" || model == "py-processes" ? fault.processes : fault.in_process;
    EXPECT_NE(error.find(want), std::string::npos) << model << ": " << error;
    EXPECT_NE(error.find('3'), std::string::npos) << model << " names task 3: " << error;
    EXPECT_FALSE(t.at("hung").get<bool>()) << model << ": its process was killed, not hung";
    EXPECT_NE(r.err.find(error), std::string::npos) << "stderr lists " << error;
  }
  EXPECT_FALSE(records().back().at("interrupted").get<bool>());
}

INSTANTIATE_TEST_SUITE_P(
    EveryFault, TrialFaultTest,
    // With 2 threads, task 3 may die beside another task: "task 3 killed the trial's process by
    // SIGABRT" alone, "tasks 2, 3 were running when the trial's process was killed by SIGABRT"
    // beside one.
    ::testing::Values(TrialFault{"abort", "SIGABRT", "killed by SIGABRT during task 3"},
                      TrialFault{"exit", "exited with code 3", "exited with code 3 during task 3"},
                      TrialFault{"hang", "task 3 still running", "task 3 still running"},
                      TrialFault{"raise", "task 3 threw: ValueError: asked to fail",
                                 "task 3 threw: ValueError: asked to fail"},
                      TrialFault{"garbage", "checksum mismatch at task 3",
                                 "checksum mismatch at task 3"},
                      TrialFault{"not-int", "returned a str, not an int checksum",
                                 "returned a str, not an int checksum"}));

// The same faults in the reference pass: the python workload's trials are on record as not run,
// with why, and the cpu workload beside it still runs.
struct ReferenceFault {
  const char* mode;
  const char* message;
};

void PrintTo(const ReferenceFault& f, std::ostream* os) {
  *os << f.mode;
}

class ReferenceFaultTest : public IsolationTest,
                           public ::testing::WithParamInterface<ReferenceFault> {};

TEST_P(ReferenceFaultTest, LeavesThatWorkloadOutAndRunsTheRest) {
  const ReferenceFault& fault = GetParam();
  const auto r = run({"run",
                      "--workload",
                      "python,cpu",
                      "--python-func",
                      "scalelab_faults:task",
                      "--cpu-work",
                      "1000",
                      "--model",
                      "serial,threads",
                      "--workers",
                      "2",
                      "--tasks",
                      "6",
                      "--repeat",
                      "1",
                      "--no-warmup",
                      "--trial-timeout",
                      "1s",
                      "--out",
                      out_dir().string()},
                     python_env({std::string("SCALELAB_FAULT=") + fault.mode}));
  ASSERT_EQ(r.code, 1) << r.err;
  expect_whole_run();
  EXPECT_NE(r.err.find(fault.message), std::string::npos) << r.err;
  std::size_t python = 0, cpu = 0;
  for (const auto& t : trials()) {
    if (t.at("workload") == "python") {
      ++python;
      EXPECT_EQ(t.at("error").get<std::string>().rfind("not run: no reference checksums: ", 0), 0u)
          << t.dump();
      EXPECT_NE(t.at("error").get<std::string>().find(fault.message), std::string::npos);
    } else {
      ++cpu;
      EXPECT_TRUE(t.at("error").is_null()) << t.dump();
    }
  }
  EXPECT_EQ(python, 2u);  // serial and threads at 2 workers: each planned trial is on record
  EXPECT_EQ(cpu, 2u);
}

INSTANTIATE_TEST_SUITE_P(
    EveryFault, ReferenceFaultTest,
    ::testing::Values(
        ReferenceFault{"abort",
                       "task 3 killed its worker by SIGABRT while computing reference checksums"},
        ReferenceFault{"exit",
                       "task 3 ended its worker (exited with code 3) while computing reference "
                       "checksums"},
        ReferenceFault{"hang",
                       "timed out after 1s while computing reference checksums: task 3 still "
                       "running"}));

// A task that raises in the reference pass: noted, and its trials report the exception.
TEST_F(IsolationTest, ATaskThatRaisesInTheReferencePassIsNotedAndFailsItsTrials) {
  if (scalelab::testing::kThreadSanitizer) GTEST_SKIP() << kTsanForkLimit;
  const auto r =
      run({"run", "--workload", "python", "--python-func", "scalelab_faults:task", "--model",
           "serial", "--tasks", "6", "--repeat", "1", "--no-warmup", "--out", out_dir().string()},
          python_env({"SCALELAB_FAULT=raise"}));
  ASSERT_EQ(r.code, 1) << r.err;
  EXPECT_NE(r.err.find("task 3 raised ValueError: asked to fail while computing reference "
                       "checksums"),
            std::string::npos)
      << r.err;
  ASSERT_EQ(trials().size(), 1u);
  EXPECT_NE(trials()[0].at("error").get<std::string>().find("task 3 threw: ValueError"),
            std::string::npos);
}

// Loading the module is user code too: a failure there is bad input, one line, exit 2, before
// any file is written, and never takes scalelab down.
struct ImportFault {
  const char* mode;
  const char* message;
};

void PrintTo(const ImportFault& f, std::ostream* os) {
  *os << f.mode;
}

class ImportFaultTest : public IsolationTest, public ::testing::WithParamInterface<ImportFault> {};

TEST_P(ImportFaultTest, IsBadInputInOneLine) {
  const ImportFault& fault = GetParam();
  const auto r = run({"run", "--workload", "python", "--python-func", "scalelab_faults:task",
                      "--model", "serial", "--trial-timeout", "1s", "--out", out_dir().string()},
                     python_env({std::string("SCALELAB_FAULT_IMPORT=") + fault.mode}));
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_EQ(count_newlines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find(fault.message), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(out_dir()));
}

INSTANTIATE_TEST_SUITE_P(
    EveryFault, ImportFaultTest,
    ::testing::Values(
        ImportFault{"abort",
                    "--python-func: scalelab_faults:task: loading it ended its process: "
                    "killed by SIGABRT"},
        ImportFault{"exit", "loading it ended its process: exited with code 3"},
        ImportFault{"hang", "loading it did not finish within 1s; its process was killed"},
        ImportFault{"raise",
                    "--python-func: cannot import module 'scalelab_faults': ValueError: asked "
                    "to fail"}));

#endif  // SCALELAB_HAVE_PYTHON

// A signal at each phase of a run: it ends within kStopLimit with 130 (SIGINT) or 143
// (SIGTERM), and what it wrote is valid.
struct Phase {
  const char* name;
  int signal;
  bool python;                    // needs the embedded interpreter
  std::vector<std::string> args;  // after "run --out DIR"
  std::vector<std::string> env;
  const char* ready;                 // on stderr once the run is in the phase
  std::chrono::milliseconds settle;  // then wait this long before the signal
};

void PrintTo(const Phase& p, std::ostream* os) {
  *os << p.name;
}

class SignalPhaseTest : public IsolationTest, public ::testing::WithParamInterface<Phase> {};

TEST_P(SignalPhaseTest, EndsPromptlyWithValidRecords) {
  const Phase& phase = GetParam();
  if (phase.python && !kHavePython) GTEST_SKIP() << "built without CPython";
  std::vector<std::string> args{"run", "--out", out_dir().string()};
  args.insert(args.end(), phase.args.begin(), phase.args.end());
  auto env = phase.env;
  if (phase.python) env = python_env(env);
  env.push_back("SCALELAB_FAULT_COUNTER=" + (dir_ / "calls").string());
  const pid_t pid = start(args, env);
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(wait_for_text(err_path(), phase.ready, std::chrono::seconds(60)))
      << read_file(err_path());
  std::this_thread::sleep_for(phase.settle);
  const auto signalled = std::chrono::steady_clock::now();
  ASSERT_EQ(::kill(pid, phase.signal), 0);
  const int code = wait_exit(pid, std::chrono::seconds(30));
  const auto took = std::chrono::steady_clock::now() - signalled;
  const std::string err = read_file(err_path());
  EXPECT_EQ(code, phase.signal == SIGTERM ? 143 : 130) << err;
  EXPECT_LE(took, kStopLimit) << err;
  if (std::string_view(phase.name) == "calibration") {
    // Nothing had run: nothing is written, and it says so.
    EXPECT_FALSE(fs::exists(out_dir() / "results.jsonl"));
    EXPECT_NE(err.find("stopped during calibration"), std::string::npos) << err;
    return;
  }
  expect_whole_run();
  const auto end = records().back();
  const bool after_the_sweep =
      std::string_view(phase.name) == "analysis" || std::string_view(phase.name) == "reports";
  // Stopped in the sweep, the run is interrupted; stopped after its last trial, it is complete.
  EXPECT_EQ(end.at("interrupted").get<bool>(), !after_the_sweep) << end.dump();
  const auto summary = nlohmann::json::parse(read_file(out_dir() / "results.json"));
  EXPECT_EQ(summary.at("interrupted").get<bool>(), !after_the_sweep);
  if (!after_the_sweep) {
    EXPECT_NE(err.find("--resume"), std::string::npos) << err;
  }
}

const std::vector<std::string> kPythonHang{
    "--workload", "python", "--python-func", "scalelab_faults:task",
    "--tasks",    "6",      "--repeat",      "1"};

std::vector<std::string> with(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

INSTANTIATE_TEST_SUITE_P(
    EveryPhase, SignalPhaseTest,
    ::testing::Values(
        Phase{"calibration",
              SIGTERM,
              false,
              {"--workload", "cpu", "--model", "serial"},
              {"SCALELAB_TEST_PAUSE_AT=calibration"},
              "paused at calibration",
              std::chrono::milliseconds(0)},
        Phase{"reference_pass",
              SIGINT,
              true,
              with(kPythonHang, {"--model", "serial"}),
              {"SCALELAB_FAULT=hang"},
              "results in",
              std::chrono::milliseconds(300)},
        Phase{"pool_start_up",
              SIGTERM,
              true,
              with(kPythonHang,
                   {"--model", "processes", "--start-method", "spawn", "--workers", "2"}),
              {"SCALELAB_FAULT_IMPORT_IN_WORKER=sleep:30"},
              "results in",
              std::chrono::milliseconds(1000)},
        Phase{"isolated_trial",
              SIGINT,
              true,
              with(kPythonHang, {"--model", "threads", "--workers", "2"}),
              {"SCALELAB_FAULT=hang", "SCALELAB_FAULT_SKIP=1"},
              "results in",
              std::chrono::milliseconds(1000)},
        Phase{"thread_trial_that_cannot_stop",
              SIGTERM,
              false,
              {"--workload", "io", "--io-wait", "10m", "--model", "threads", "--workers", "2",
               "--tasks", "2", "--repeat", "1", "--no-warmup"},
              {},
              "results in",
              std::chrono::milliseconds(500)},
        Phase{"analysis",
              SIGINT,
              false,
              {"--workload", "noop", "--model", "serial", "--tasks", "4", "--repeat", "1"},
              {"SCALELAB_TEST_PAUSE_AT=analysis"},
              "paused at analysis",
              std::chrono::milliseconds(0)},
        Phase{"reports",
              SIGTERM,
              false,
              {"--workload", "noop", "--model", "serial", "--tasks", "4", "--repeat", "1"},
              {"SCALELAB_TEST_PAUSE_AT=reports"},
              "paused at reports",
              std::chrono::milliseconds(0)}));

// Threads that do not honour a stop are abandoned, and the run says so.
TEST_F(IsolationTest, AThreadTrialThatCannotStopIsAbandonedAndSaysSo) {
  // A sleep cannot be interrupted: the threads are still in it when the stop comes.
  const pid_t pid =
      start({"run", "--out", out_dir().string(), "--workload", "io", "--io-wait", "10m", "--model",
             "threads", "--workers", "2", "--tasks", "2", "--repeat", "1", "--no-warmup"},
            {});
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(wait_for_text(err_path(), "results in", std::chrono::seconds(60)));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ASSERT_EQ(::kill(pid, SIGINT), 0);
  EXPECT_EQ(wait_exit(pid, std::chrono::seconds(30)), 130);
  const std::string err = read_file(err_path());
  EXPECT_NE(err.find("threads cannot be stopped safely, so they were abandoned"), std::string::npos)
      << err;
  expect_whole_run();
}

// A process pinned beside the run on its one CPU takes half of it: every trial is disturbed,
// flagged, and run again up to --rerun-disturbed times, each attempt on record.
TEST_F(IsolationTest, ATrialDisturbedByABusyProcessOnItsCpuIsFlaggedAndRerun) {
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(0, &one);
  const pid_t spinner = ::fork();
  ASSERT_GE(spinner, 0);
  if (spinner == 0) {
    ::sched_setaffinity(0, sizeof one, &one);
    for (unsigned long i = 0;; ++i) {
      asm volatile("" : : "r"(i) : "memory");  // a loop the compiler keeps
    }
  }
  const std::string out = out_dir().string();
  const std::string err = err_path().string();
  const pid_t run = ::fork();
  ASSERT_GE(run, 0);
  if (run == 0) {
    ::sched_setaffinity(0, sizeof one, &one);
    std::freopen(err.c_str(), "w", stderr);
    std::freopen("/dev/null", "w", stdout);
    ::execl(SCALELAB_EXE, SCALELAB_EXE, "run", "--workload", "cpu", "--cpu-work", "20ms", "--model",
            "serial", "--tasks", "8", "--repeat", "2", "--no-warmup", "--rerun-disturbed", "2",
            "--out", out.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  const int code = wait_exit(run, std::chrono::seconds(120));
  ::kill(spinner, SIGKILL);
  ::waitpid(spinner, nullptr, 0);
  ASSERT_EQ(code, 0) << read_file(err_path());
  expect_whole_run();
  const auto list = trials();
  ASSERT_EQ(list.size(), 6u) << read_file(out_dir() / "results.jsonl");  // 2 repeats x 3 attempts
  std::map<int, std::vector<int>> attempts;
  for (const auto& t : list) {
    EXPECT_TRUE(t.at("disturbed").get<bool>()) << t.dump();
    EXPECT_GT(t.at("run_delay_s").get<double>(), 0.05 * t.at("user_s").get<double>()) << t.dump();
    attempts[t.at("repeat").get<int>()].push_back(t.at("attempt").get<int>());
  }
  EXPECT_EQ(attempts[0], (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(attempts[1], (std::vector<int>{0, 1, 2}));
  EXPECT_NE(read_file(err_path()).find("was disturbed"), std::string::npos);
}

}  // namespace
