// Faults, for every model where each applies: a worker process that dies mid-trial, a task
// that hangs (timeouts), a stop request, a task that throws, and threads, processes,
// descriptors or memory that cannot be had. The fault_KIND fixtures (support/fixtures.hpp)
// crash, hang, throw or eat memory at a chosen task.
//
// Durations are asserted only with generous bounds: "returns within 10 s when the timeout is
// 300 ms" tells a hang from a slow machine.

#include <gtest/gtest.h>

#include <fmt/format.h>

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <sstream>
#include <stop_token>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "support/fixtures.hpp"
#include "support/helpers.hpp"
#include "support/sanitizers.hpp"

namespace scalelab {
namespace {

using Clock = std::chrono::steady_clock;
using testing::contains_all;
using testing::fault_spec;
using testing::in_child;
using testing::release_hung_tasks;
using Case = testing::ModelCase;
using namespace std::chrono_literals;

// The sanitizers reserve terabytes of address space: an RLIMIT_AS they could live under does
// not exist.
constexpr bool kAddressSpaceCanBeLimited =
    !testing::kAddressSanitizer && !testing::kThreadSanitizer;
// TSan refuses to start threads in a child forked from a process that had several.
constexpr bool kThreadsInForkedChildren = !testing::kThreadSanitizer;

std::vector<std::uint64_t> expected_for(const Workload& w, std::size_t tasks) {
  std::vector<std::uint64_t> values(tasks);
  for (std::size_t i = 0; i < tasks; ++i) values[i] = w.expected_checksum(i);
  return values;
}

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Passes when this process has no child at all, not even a zombie: every worker was reaped.
::testing::AssertionResult no_children() {
  int status = 0;
  errno = 0;
  const pid_t r = ::waitpid(-1, &status, WNOHANG);
  if (r == -1 && errno == ECHILD) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "a child is left (waitpid(-1, WNOHANG) gave " << r << ", errno " << errno << ")";
}

// Runs one trial of `spec` under `c` and keeps the workload for the caller (a hung task may
// still use it).
struct CaseTrial {
  std::unique_ptr<Workload> workload;
  Trial trial;
  double took_s = 0;
};

CaseTrial run_case(const Case& c, const WorkloadSpec& spec, int workers, std::size_t tasks,
                   const RunControl& control = {}) {
  CaseTrial out;
  out.workload = make_workload(spec);
  const ModelOptions options = testing::with_start_method(c.method);
  const auto t0 = Clock::now();
  out.trial = run_trial(*out.workload, *make_model(c.model), c.model, workers, 0, tasks,
                        expected_for(*out.workload, tasks), options, control);
  out.took_s = seconds_since(t0);
  // The message as a user would read it, in --gtest_output=xml.
  ::testing::Test::RecordProperty("error", out.trial.error);
  return out;
}

RunControl with_timeout(std::chrono::nanoseconds timeout) {
  RunControl control;
  control.timeout = timeout;
  return control;
}

std::string label_of(const ::testing::TestParamInfo<Case>& info) {
  return info.param.label();
}

const Case kFork{"processes", "fork"};
const Case kSpawn{"processes", "spawn"};

// --- item 1: crashed workers -----------------------------------------------------------------

using CrashCase = std::tuple<std::string, std::string>;  // (start method, fault kind)
class CrashedWorker : public ::testing::TestWithParam<CrashCase> {};

TEST_P(CrashedWorker, FailsTheTrialNamingWorkerCauseAndTaskAndTheNextTrialRuns) {
  const auto& [method, kind] = GetParam();
  const Case c{"processes", method};
  // Tasks wait 2 ms, so other tasks are in flight on the other workers when task 5 crashes.
  const auto crashed = run_case(c, fault_spec(kind, 5, 2ms), 3, 24);
  ::testing::Test::RecordProperty("crash", crashed.trial.error);
  EXPECT_LT(crashed.took_s, 10.0);
  ASSERT_TRUE(crashed.trial.failed());
  EXPECT_FALSE(crashed.trial.hung);
  const char* cause = kind == "segv"    ? "killed by SIGSEGV"
                      : kind == "abort" ? "killed by SIGABRT"
                      : kind == "kill"  ? "killed by SIGKILL (possibly the OOM killer)"
                                        : "exited with code 7";
  EXPECT_TRUE(contains_all(crashed.trial.error, {"worker ", "(pid ", cause, "during task 5"}));
  EXPECT_TRUE(no_children());  // the dead worker and its live siblings were all reaped

  // The next trial starts a fresh pool, whose workers all live.
  const auto next = run_case(c, {"counting", {}}, 3, 24);
  EXPECT_FALSE(next.trial.failed()) << next.trial.error;
  EXPECT_TRUE(no_children());
}

INSTANTIATE_TEST_SUITE_P(Faults, CrashedWorker,
                         ::testing::Combine(::testing::Values("fork", "spawn"),
                                            ::testing::Values("segv", "abort", "kill", "exit")),
                         [](const auto& info) {
                           return std::get<0>(info.param) + "_" + std::get<1>(info.param);
                         });

TEST(CrashedWorker, TheSweepGoesOnAfterIt) {
  Spec spec;
  spec.rerun_disturbed = 0;  // counts trials; a loaded machine's reruns would add some
  spec.workloads = {"noop", "fault_segv"};
  spec.models = {"processes"};
  spec.workers = {2};
  spec.tasks = {6};
  spec.repeat = 2;
  spec.seed = 3;
  const Plan plan = make_plan(spec, {WorkloadSpec{"noop", {}}, fault_spec("segv", 2)}, 2);
  const RunResult result = run_sweep(plan, {});
  EXPECT_EQ(result.end, RunEnd::completed);
  EXPECT_EQ(result.trials_run, plan.trials.size());
  ASSERT_EQ(result.trials.size(), plan.counted());
  for (const auto& t : result.trials) {
    if (t.workload == "noop") {
      EXPECT_FALSE(t.failed()) << t.error;
    } else {
      EXPECT_TRUE(contains_all(t.error, {"SIGSEGV", "during task 2"}));
    }
  }
  EXPECT_TRUE(no_children());
}

// --- item 2: hung tasks ----------------------------------------------------------------------

class HangingTaskInAProcess : public ::testing::TestWithParam<Case> {};

TEST_P(HangingTaskInAProcess, TimesOutAndItsWorkersAreKilledAndReaped) {
  const auto hung = run_case(GetParam(), fault_spec("hang", 2, 1ms), 2, 8, with_timeout(300ms));
  EXPECT_LT(hung.took_s, 10.0);
  EXPECT_GE(hung.took_s, 0.29);
  EXPECT_FALSE(hung.trial.hung);  // a process can be killed: the sweep can go on
  EXPECT_TRUE(contains_all(
      hung.trial.error,
      {"timed out after 300ms", "task 2 still running (worker ", "the workers were killed"}));
  EXPECT_TRUE(no_children());
}

INSTANTIATE_TEST_SUITE_P(Faults, HangingTaskInAProcess, ::testing::Values(kFork, kSpawn), label_of);

TEST(HangingTaskInAsync, IsCancelledAtTheTimeout) {
  const auto hung = run_case({"async"}, fault_spec("hang", 2, 1ms), 2, 8, with_timeout(300ms));
  EXPECT_LT(hung.took_s, 10.0);
  EXPECT_FALSE(hung.trial.hung);
  EXPECT_TRUE(contains_all(hung.trial.error,
                           {"timed out after 300ms", "task 2 still running", "cancelled"}));
}

TEST(HangingTaskInAsync, ThatBlocksTheLoopIsHung) {
  auto hung = run_case({"async"}, fault_spec("block", 2, 1ms), 2, 8, with_timeout(300ms));
  EXPECT_LT(hung.took_s, 10.0);
  EXPECT_TRUE(hung.trial.hung);
  // The other lane's task is in flight too: its timer cannot fire while the loop is blocked.
  EXPECT_TRUE(contains_all(
      hung.trial.error, {"hung: tasks ", "2 still running after 300ms", "blocks the event loop"}));
  release_hung_tasks();  // the abandoned loop thread ends; the workload may go
}

class HangingTaskInAThread : public ::testing::TestWithParam<Case> {};

TEST_P(HangingTaskInAThread, MarksTheTrialHungPromptly) {
  auto hung = run_case(GetParam(), fault_spec("hang", 2, 1ms), 3, 40, with_timeout(300ms));
  EXPECT_LT(hung.took_s, 10.0);
  EXPECT_TRUE(hung.trial.hung);
  EXPECT_TRUE(contains_all(hung.trial.error, {"hung: task 2 still running after 300ms",
                                              "threads cannot be stopped safely"}));
  release_hung_tasks();
}

INSTANTIATE_TEST_SUITE_P(Faults, HangingTaskInAThread,
                         ::testing::ValuesIn(scalelab::testing::with_runtimes(
                             {Case{"serial"}, Case{"threads"}, Case{"gil"}})),
                         label_of);

TEST(SlowTasksInThreads, TimeOutWithoutHangingWhenTheyEndWithinTheGrace) {
  // 100 ms tasks, one thread, 300 ms: the task in flight at the deadline ends within the grace.
  const auto slow = run_case({"threads"}, {"sleep100ms", {}}, 1, 20, with_timeout(300ms));
  EXPECT_LT(slow.took_s, 10.0);
  EXPECT_FALSE(slow.trial.hung);
  EXPECT_TRUE(contains_all(slow.trial.error, {"timed out after 300ms", "of 20 tasks ran"}));
}

TEST(HungTrial, EndsTheSweepAndIsRecorded) {
  Spec spec;
  spec.rerun_disturbed = 0;  // counts trials; a loaded machine's reruns would add some
  spec.workloads = {"fault_hang"};
  spec.models = {"threads"};
  spec.workers = {2};
  spec.tasks = {4};
  spec.repeat = 3;
  spec.warmup = false;
  spec.trial_timeout = 300ms;
  const Plan plan = make_plan(spec, {fault_spec("hang", 1)}, 2);
  std::size_t seen = 0;
  RunObserver observer;
  observer.on_trial = [&](const Trial&, std::size_t, std::size_t) { ++seen; };
  const auto t0 = Clock::now();
  const RunResult result = run_sweep(plan, observer);
  EXPECT_LT(seconds_since(t0), 10.0);
  ::testing::Test::RecordProperty("reason", result.reason);
  EXPECT_EQ(result.end, RunEnd::hung);
  ASSERT_EQ(result.trials.size(), 1u);  // the first trial hung; none ran after it
  EXPECT_EQ(seen, 1u);
  EXPECT_TRUE(result.trials[0].hung);
  EXPECT_TRUE(contains_all(result.reason,
                           {"hung: fault_hang threads workers=2 repeat ", "task 1 still running"}));
  release_hung_tasks();
}

// A stop request made from another thread after `delay`, as a Ctrl-C handler would make it.
struct DelayedStop {
  std::stop_source source;
  std::jthread thread;
};

std::unique_ptr<DelayedStop> stop_after(std::chrono::milliseconds delay) {
  auto stop = std::make_unique<DelayedStop>();
  stop->thread = std::jthread([source = stop->source, delay]() mutable {
    std::this_thread::sleep_for(delay);
    source.request_stop();
  });
  return stop;
}

// --- stop requests ---------------------------------------------------------------------------

TEST(StopRequest, BetweenTrialsReturnsTheTrialsSoFar) {
  Spec spec;
  spec.rerun_disturbed = 0;  // counts trials; a loaded machine's reruns would add some
  spec.workloads = {"noop"};
  spec.models = {"serial", "threads"};
  spec.workers = {1, 2};
  spec.tasks = {5};
  spec.repeat = 3;
  spec.warmup = false;
  const Plan plan = make_plan(spec, {WorkloadSpec{"noop", {}}}, 2);
  std::stop_source stop;
  RunObserver observer;
  observer.stop = stop.get_token();
  observer.on_trial = [&](const Trial&, std::size_t done, std::size_t) {
    if (done == 2) stop.request_stop();
  };
  const RunResult result = run_sweep(plan, observer);
  EXPECT_EQ(result.end, RunEnd::stopped);
  EXPECT_EQ(result.trials.size(), 2u);
  EXPECT_EQ(result.trials_run, 2u);
  EXPECT_NE(result.reason.find("stopped before the noop"), std::string::npos) << result.reason;
}

TEST(StopRequest, DuringATrialDropsItAndReturnsPromptly) {
  Spec spec;
  spec.rerun_disturbed = 0;  // counts trials; a loaded machine's reruns would add some
  spec.workloads = {"sleep100ms"};
  spec.models = {"threads", "processes", "async"};
  spec.workers = {1};
  spec.tasks = {100};  // 10 s a trial: the stop must cut it short
  spec.repeat = 1;
  const Plan plan = make_plan(spec, {WorkloadSpec{"sleep100ms", {}}}, 2);
  const auto t0 = Clock::now();
  const auto stop = stop_after(250ms);
  RunObserver observer;
  observer.stop = stop->source.get_token();
  std::size_t seen = 0;
  observer.on_trial = [&](const Trial&, std::size_t, std::size_t) { ++seen; };
  const RunResult result = run_sweep(plan, observer);
  EXPECT_LT(seconds_since(t0), 5.0);
  ::testing::Test::RecordProperty("reason", result.reason);
  EXPECT_EQ(result.end, RunEnd::stopped);
  EXPECT_TRUE(result.trials.empty());
  EXPECT_EQ(seen, 0u);  // the interrupted warm-up is not reported as a failure
  EXPECT_TRUE(contains_all(result.reason, {"stopped: the sleep100ms", "interrupted"}));
  EXPECT_TRUE(no_children());
}

class StopRequestInATrial : public ::testing::TestWithParam<Case> {};

TEST_P(StopRequestInATrial, EndsItInterrupted) {
  const auto stop = stop_after(150ms);
  RunControl control;
  control.stop = stop->source.get_token();
  const auto cut = run_case(GetParam(), {"sleep100ms", {}}, 2, 100, control);
  EXPECT_LT(cut.took_s, 5.0);
  EXPECT_FALSE(cut.trial.hung);
  EXPECT_TRUE(cut.trial.error.starts_with("interrupted")) << cut.trial.error;
  if (GetParam().model == "threads" || GetParam().model == "gil") {
    // Threads finish their tasks in flight and take no more: 2 per 100 ms.
    EXPECT_TRUE(contains_all(cut.trial.error, {"of 100 tasks ran", "finished their tasks"}));
  }
  if (GetParam().model == "serial") {
    EXPECT_TRUE(contains_all(cut.trial.error, {"of 100 tasks ran", "finished its task"}));
  }
  EXPECT_TRUE(no_children());
}

INSTANTIATE_TEST_SUITE_P(Faults, StopRequestInATrial,
                         ::testing::ValuesIn(scalelab::testing::with_runtimes(
                             {Case{"serial"}, Case{"threads"}, Case{"gil"}, kFork, kSpawn,
                              Case{"async"}})),
                         label_of);

// --- a throwing task, under every model --------------------------------------------------------

class ThrowingFault : public ::testing::TestWithParam<Case> {};

TEST_P(ThrowingFault, FailsOnlyItsTaskAndIsRecorded) {
  const auto t = run_case(GetParam(), fault_spec("throw", 4), 2, 9);
  EXPECT_FALSE(t.trial.hung);
  EXPECT_NE(t.trial.error.find("task 4 threw: fault at task 4"), std::string::npos)
      << t.trial.error;
  EXPECT_EQ(t.trial.tasks_done, 8u);
  EXPECT_TRUE(no_children());
}

INSTANTIATE_TEST_SUITE_P(Faults, ThrowingFault,
                         ::testing::ValuesIn(scalelab::testing::with_runtimes(
                             {Case{"serial"}, Case{"threads"}, Case{"gil"}, kFork, kSpawn,
                              Case{"async"}})),
                         label_of);

// --- item 5: resource limits, in a forked child so that this process keeps its own ------------

// The trial's error, then " children-left" if any child of this process remains.
std::string trial_error_and_children(const Case& c, const WorkloadSpec& spec, int workers,
                                     std::size_t tasks) {
  const auto t = run_case(c, spec, workers, tasks);
  return t.trial.error + (no_children() ? "" : " children-left");
}

std::size_t open_descriptors() {
  std::size_t n = 0;
  if (DIR* dir = ::opendir("/proc/self/fd")) {
    while (::readdir(dir) != nullptr) ++n;
    ::closedir(dir);
  }
  return n;  // counts ".", ".." and the directory's own descriptor: a few too many is fine
}

class DescriptorLimit : public ::testing::TestWithParam<Case> {};

TEST_P(DescriptorLimit, FailsTheTrialNamingTheLimitAndLeavesNoWorker) {
  const Case c = GetParam();
  const std::string error = in_child([&] {
    // UBSan checks the object of each virtual call once per type and caches the answer; the
    // first check reads the object through a pipe, which a process out of descriptors cannot
    // open, and is then reported as a bad object (fmt's buffer, in the error message). One
    // message formatted before the limit fills the cache.
    const std::string warm = fmt::format("warm {}", open_descriptors());
    (void)warm;
    const rlim_t limit = open_descriptors() + 12;
    const rlimit rl{limit, limit};
    if (::setrlimit(RLIMIT_NOFILE, &rl) != 0) return std::string("setrlimit failed");
    return trial_error_and_children(c, {"noop", {}}, 100000, 4) + " limit=" + std::to_string(limit);
  });
  ::testing::Test::RecordProperty("error", error);
  EXPECT_TRUE(contains_all(
      error, {"could not create the socket for worker ",
              " of 100000: ", "Too many open files (RLIMIT_NOFILE = ", " descriptors are open)"}));
  EXPECT_EQ(error.find("children-left"), std::string::npos) << error;
}

INSTANTIATE_TEST_SUITE_P(Faults, DescriptorLimit, ::testing::Values(kFork, kSpawn), label_of);

// RLIMIT_NPROC binds only an unprivileged user: root ignores it. As root the child becomes an
// unprivileged uid of its own first, which it may when it has CAP_SETUID: of its own, because
// the limit counts every process and thread of the uid, and with `nobody` the cases running
// in parallel (ctest -j) took each other's share, so the one that failed found its own count
// low and named no limit.
std::string as_unprivileged_with_nproc(rlim_t limit, const std::function<std::string()>& body) {
  const uid_t own = static_cast<uid_t>(40000 + ::getpid() % 20000);
  if (::geteuid() == 0 && ::setuid(own) != 0) return "SKIP: cannot become an unprivileged uid";
  const rlimit rl{limit, limit};
  if (::setrlimit(RLIMIT_NPROC, &rl) != 0) return "SKIP: cannot set RLIMIT_NPROC";
  return body();
}

class ProcessLimit : public ::testing::TestWithParam<std::string> {};

TEST_P(ProcessLimit, FailsTheTrialNamingTheLimitAndLeavesNoWorker) {
  const std::string model = GetParam();
  if (model != "processes" && !kThreadsInForkedChildren) {
    GTEST_SKIP() << "ThreadSanitizer cannot start threads in a child forked from a process "
                    "with several";
  }
  const std::string error = in_child([&] {
    return as_unprivileged_with_nproc(12, [&] {
      return trial_error_and_children({model}, {"noop", {}}, 100000, 4);
    });
  });
  if (error.starts_with("SKIP: ")) GTEST_SKIP() << error.substr(6);
  ::testing::Test::RecordProperty("error", error);
  const char* what =
      model == "processes" ? "could not start worker process " : "could not start thread ";
  EXPECT_TRUE(contains_all(
      error, {what, " of 100000: ", "Resource temporarily unavailable (RLIMIT_NPROC = 12 for uid ",
              ", who has "}));
  EXPECT_EQ(error.find("children-left"), std::string::npos) << error;
}

INSTANTIATE_TEST_SUITE_P(Faults, ProcessLimit, ::testing::Values("threads", "gil", "processes"),
                         [](const auto& info) { return info.param; });

// Sets RLIMIT_AS to what this process maps now plus `headroom`.
bool limit_address_space(std::size_t headroom) {
  std::ifstream status("/proc/self/status");
  std::string line;
  std::size_t vm_kib = 0;
  while (std::getline(status, line)) {
    if (line.starts_with("VmSize:")) vm_kib = std::stoull(line.substr(7));
  }
  if (vm_kib == 0) return false;
  const rlim_t limit = vm_kib * 1024 + headroom;
  const rlimit rl{limit, limit};
  return ::setrlimit(RLIMIT_AS, &rl) == 0;
}

TEST(AddressSpaceLimit, ThreadsThatCannotGetAStackFailTheTrialNamingTheLimits) {
  if (!kAddressSpaceCanBeLimited) GTEST_SKIP() << "sanitizers cannot run under RLIMIT_AS";
  const std::string error = in_child([] {
    if (!limit_address_space(256u << 20)) return std::string("setrlimit failed");
    return trial_error_and_children({"threads"}, {"noop", {}}, 100000, 4);
  });
  ::testing::Test::RecordProperty("error", error);
  EXPECT_TRUE(contains_all(
      error, {"could not start thread ", " of 100000: ",
              "Resource temporarily unavailable (RLIMIT_AS = ", " and this process maps "}));
}

class MemoryFault : public ::testing::TestWithParam<Case> {};

TEST_P(MemoryFault, AllocatingWithoutBoundFailsTheTaskNamingTheLimit) {
  if (!kAddressSpaceCanBeLimited) GTEST_SKIP() << "sanitizers cannot run under RLIMIT_AS";
  if (GetParam().model != "processes" && !kThreadsInForkedChildren) GTEST_SKIP();
  const Case c = GetParam();
  const std::string error = in_child([&] {
    // Workers inherit the limit: the test machine never sees more than this much more.
    if (!limit_address_space(128u << 20)) return std::string("setrlimit failed");
    return trial_error_and_children(c, fault_spec("alloc", 3), 2, 6);
  });
  ::testing::Test::RecordProperty("error", error);
  EXPECT_TRUE(contains_all(error, {"task 3 threw: std::bad_alloc (out of memory; RLIMIT_AS = ",
                                   " and this process mapped up to "}));
  EXPECT_EQ(error.find("children-left"), std::string::npos) << error;
}

INSTANTIATE_TEST_SUITE_P(Faults, MemoryFault,
                         ::testing::Values(Case{"serial"}, Case{"threads"}, kFork, kSpawn,
                                           Case{"async"}),
                         label_of);

// --- workers never outlive scalelab ------------------------------------------------------------

std::vector<pid_t> children_of(pid_t parent) {
  std::vector<pid_t> found;
  DIR* dir = ::opendir("/proc");
  if (dir == nullptr) return found;
  while (const dirent* entry = ::readdir(dir)) {
    const pid_t pid = static_cast<pid_t>(std::atoi(entry->d_name));
    if (pid <= 0) continue;
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string text;
    std::getline(stat, text);
    // pid (comm) state ppid …: comm may hold spaces, so parse after its last ')'.
    const auto close = text.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(text.substr(close + 1));
    char state = 0;
    pid_t ppid = 0;
    rest >> state >> ppid;
    if (ppid == parent) found.push_back(pid);
  }
  ::closedir(dir);
  return found;
}

// Gone, or a zombie that is no longer running anything (reaping it is init's business).
bool has_ended(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!std::getline(stat, text)) return true;
  const auto close = text.rfind(')');
  return close != std::string::npos && close + 2 < text.size() && text[close + 2] == 'Z';
}

TEST(Workers, DieWithScalelabEvenWhenStuckInATask) {
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  std::fflush(nullptr);
  const pid_t runner = ::fork();
  ASSERT_GE(runner, 0);
  if (runner == 0) {
    // A scalelab stand-in whose one worker hangs in task 0, never reading its socket again.
    ::close(ready[0]);
    const auto workload = make_workload(fault_spec("hang", 0));
    const auto pool = testing::start_pool("processes", *workload, 1);
    (void)!::write(ready[1], "r", 1);
    pool->run(1);
    ::_exit(0);
  }
  ::close(ready[1]);
  char byte = 0;
  ASSERT_EQ(::read(ready[0], &byte, 1), 1);
  ::close(ready[0]);
  std::this_thread::sleep_for(200ms);  // the task reaches the worker
  const std::vector<pid_t> workers = children_of(runner);
  ASSERT_EQ(workers.size(), 1u);
  ::kill(runner, SIGKILL);  // as the OOM killer or `kill -9` would
  int status = 0;
  ::waitpid(runner, &status, 0);
  const auto t0 = Clock::now();
  while (!has_ended(workers[0]) && seconds_since(t0) < 10) std::this_thread::sleep_for(10ms);
  EXPECT_TRUE(has_ended(workers[0])) << "worker " << workers[0] << " outlived its parent";
}

// --- item 6: the spawn worker mode takes work only from its parent's socket --------------------

struct Spawned {
  int exit_code = -1;
  std::string err;
};

// Runs this test binary as `--scalelab-worker ARGS…` (by default `5 6 0`) with `fd` as its
// descriptor 5 (none when -1), with or without the spawn marker in its environment. No shell:
// posix_spawn.
Spawned spawn_worker_mode(int fd, bool marker, std::vector<std::string> args = {"5", "6", "0"}) {
  int err_pipe[2];
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) return {};
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
  if (fd >= 0) posix_spawn_file_actions_adddup2(&actions, fd, 5);
  std::vector<std::string> env_text;
  for (char** e = environ; *e != nullptr; ++e) {
    if (!std::string(*e).starts_with("SCALELAB_WORKER=")) env_text.emplace_back(*e);
  }
  if (marker) env_text.emplace_back("SCALELAB_WORKER=1");
  std::vector<char*> env;
  for (auto& e : env_text) env.push_back(e.data());
  env.push_back(nullptr);
  std::string exe = "/proc/self/exe", flag = "--scalelab-worker";
  std::vector<char*> argv{exe.data(), flag.data()};
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int rc = ::posix_spawn(&pid, exe.c_str(), &actions, nullptr, argv.data(), env.data());
  posix_spawn_file_actions_destroy(&actions);
  ::close(err_pipe[1]);
  Spawned out;
  if (rc == 0) {
    char buffer[4096];
    ssize_t n = 0;
    while ((n = ::read(err_pipe[0], buffer, sizeof buffer)) > 0) {
      out.err.append(buffer, static_cast<std::size_t>(n));
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    out.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  ::close(err_pipe[0]);
  return out;
}

::testing::AssertionResult refused_in_one_line(const Spawned& s, const char* why) {
  if (s.exit_code != 2)
    return ::testing::AssertionFailure() << "exit code " << s.exit_code << ": " << s.err;
  if (testing::count_newlines(s.err) != 1 || s.err.back() != '\n') {
    return ::testing::AssertionFailure() << "not one line: " << s.err;
  }
  return contains_all(s.err, {"--scalelab-worker is internal", why});
}

TEST(SpawnWorkerMode, RefusesWhatAPersonWouldType) {
  // `scalelab --scalelab-worker 0` typed at a terminal, and variations.
  EXPECT_TRUE(refused_in_one_line(spawn_worker_mode(-1, false, {"0"}),
                                  "expected a socket, a task board and an index"));
  EXPECT_TRUE(refused_in_one_line(spawn_worker_mode(-1, true, {"0", "6", "0"}),
                                  "fd 0 is a standard stream"));
  EXPECT_TRUE(
      refused_in_one_line(spawn_worker_mode(-1, true, {"x", "6", "0"}), "not descriptor numbers"));
  EXPECT_TRUE(refused_in_one_line(spawn_worker_mode(-1, true), "fd 5 is not open"));
  const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  EXPECT_TRUE(refused_in_one_line(spawn_worker_mode(fd, true), "fd 5 is not a socket"));
  ::close(fd);
}

TEST(SpawnWorkerMode, RefusesATerminal) {
  const int master = ::posix_openpt(O_RDWR | O_NOCTTY);
  if (master < 0 || ::grantpt(master) != 0 || ::unlockpt(master) != 0) {
    GTEST_SKIP() << "no pseudo-terminal here";
  }
  const int terminal = ::open(::ptsname(master), O_RDWR | O_NOCTTY | O_CLOEXEC);
  ASSERT_GE(terminal, 0);
  EXPECT_TRUE(refused_in_one_line(spawn_worker_mode(terminal, true), "fd 5 is a terminal"));
  ::close(terminal);
  ::close(master);
}

TEST(SpawnWorkerMode, RefusesAPipeAndASocketThatAreNotItsParentsSocketpair) {
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  EXPECT_TRUE(refused_in_one_line(spawn_worker_mode(p[0], true), "fd 5 is not a socket"));
  ::close(p[0]);
  ::close(p[1]);
  const int inet = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(inet, 0);
  EXPECT_TRUE(refused_in_one_line(spawn_worker_mode(inet, true), "fd 5 is not a Unix socket"));
  ::close(inet);
  // A socketpair from its parent, but not from a pool: no marker in the environment.
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  EXPECT_TRUE(refused_in_one_line(spawn_worker_mode(sv[1], false), "not started by a pool"));
  ::close(sv[0]);
  ::close(sv[1]);
}

TEST(SpawnWorkerMode, RefusesASocketpairMadeByAnotherProcess) {
  int sv[2];
  std::fflush(nullptr);
  const pid_t maker = ::fork();
  ASSERT_GE(maker, 0);
  if (maker == 0) {
    // `maker` makes the pair; the worker runs as a child of `middle`, a child of `maker`.
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) ::_exit(3);
    const pid_t middle = ::fork();
    if (middle < 0) ::_exit(3);
    if (middle == 0) {
      // The worker's parent is `middle`; the pair was made by `maker`.
      const Spawned s = spawn_worker_mode(sv[1], true);
      ::_exit(s.exit_code == 2 &&
                      s.err.find("was not made by this process's parent") != std::string::npos
                  ? 0
                  : 1);
    }
    int status = 0;
    ::waitpid(middle, &status, 0);
    ::_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 4);
  }
  int status = 0;
  ::waitpid(maker, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "the worker did not refuse a socket its parent did not make";
}

}  // namespace
}  // namespace scalelab
