#pragma once
// Helpers that more than one test file needs: reading back what scalelab wrote, checking the
// one error type, a scratch folder per test, and hand-built trials and summary rows. Kept here
// so that two test files cannot drift into two slightly different CSV parsers, error checks or
// fixtures.

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "scalelab/analysis.hpp"
#include "scalelab/model.hpp"
#include "scalelab/plan.hpp"
#include "scalelab/trial.hpp"
#include "scalelab/workload.hpp"

namespace scalelab::testing {

/// The whole file as bytes; empty when it cannot be read (the caller's checks then fail).
std::string read_file(const std::filesystem::path& path);

/// The lines of `text` without their newlines; a last line without a newline still counts.
std::vector<std::string> lines_of(const std::string& text);

/// How many newline characters `text` holds.
std::size_t count_newlines(const std::string& text);

/// RFC 4180 records: fields separated by commas, records by newlines; a quoted field may hold
/// commas, newlines and doubled quotes. Empty optional on an unterminated quote.
std::optional<std::vector<std::vector<std::string>>> parse_csv(const std::string& text);

/// Passes when `call` throws scalelab::Error whose message contains `fragment` (a flag, or
/// whatever else the message must name); any other outcome (no exception, another exception
/// type, a message without the fragment) fails with the reason.
::testing::AssertionResult throws_naming(const std::function<void()>& call,
                                         const std::string& fragment);

/// Passes when the JSON object has every one of `keys`; a failure lists all that are missing.
::testing::AssertionResult has_keys(const nlohmann::json& object,
                                    std::initializer_list<const char*> keys);

/// Passes when `text` contains every one of `fragments`; a failure lists all that are missing
/// and shows the text.
::testing::AssertionResult contains_all(const std::string& text,
                                        std::initializer_list<const char*> fragments);

/// A fixture with a fresh, empty folder `dir_` per test under the system temp folder, removed
/// afterwards. The name holds the process id and the test's name, so tests that ctest runs in
/// parallel never share one.
class ScratchDirTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  std::filesystem::path dir_;
};

/// Resolved workload specs, as resolve_workloads gives them: loop iterations in the
/// "cpu_iters" parameter, waits in seconds in "io_wait_s".
/// `cpu`: `iters` iterations of the seed's loop per task.
WorkloadSpec cpu_spec(std::uint64_t iters);
/// `io`: a wait of `wait` per task.
WorkloadSpec io_spec(std::chrono::nanoseconds wait);
/// The python workload: the seed's loop of `iters` iterations, or `function` (MODULE:FUNCTION).
WorkloadSpec python_spec(std::uint64_t iters, const std::string& function = {});
/// `mixed`: `iters` iterations, then a wait of `wait`, per task.
WorkloadSpec mixed_spec(std::uint64_t iters, std::chrono::nanoseconds wait);

/// The serial checksums of tasks 0 … tasks − 1 (Workload::expected_checksum), as run_trial takes
/// them.
std::vector<std::uint64_t> expected_for(const Workload& workload, std::size_t tasks);

/// Starts `workers` workers of `model` for `workload`, with the given start method (the
/// processes model's "start_method" parameter: "fork" or "spawn").
std::unique_ptr<Pool> start_pool(const std::string& model, const Workload& workload, int workers,
                                 const std::string& method = "fork");

/// Model options with the processes model's "start_method" parameter set to `method`.
ModelOptions with_start_method(const std::string& method);

/// A small sweep of the cpu (1000 iterations a task) and io (1 ms a task) workloads that
/// counts trials: no reruns of disturbed trials, which a loaded machine would add.
Spec small_sweep(std::vector<std::string> models, std::vector<int> workers, std::size_t tasks,
                 int repeat, std::uint64_t seed);

/// A model (and, for processes, a start method: "fork" or "spawn") for parameterised tests.
struct ModelCase {
  std::string model;
  std::string method = "fork";
  /// "threads", "processes_fork", "processes_spawn", …: a test-name suffix.
  std::string label() const;
};

/// `cases` and the threading runtimes' models this build has (tbb, openmp). Not under
/// ThreadSanitizer: libtbb and libgomp are not built with it, so it cannot see their
/// synchronisation and reports every task's result as a race (kRuntimesUnderTsan).
std::vector<ModelCase> with_runtimes(std::vector<ModelCase> cases);

/// Why with_runtimes leaves tbb and openmp out under ThreadSanitizer.
inline constexpr const char* kRuntimesUnderTsan =
    "libtbb and libgomp are not built with ThreadSanitizer, which then cannot see their "
    "synchronisation";

/// A test name for a (case, tasks, workers) parameter: "py_processes_spawn_tasks7_workers2".
inline std::string case_tasks_workers_name(
    const ::testing::TestParamInfo<std::tuple<ModelCase, std::size_t, int>>& info) {
  return std::get<0>(info.param).label() + "_tasks" + std::to_string(std::get<1>(info.param)) +
         "_workers" + std::to_string(std::get<2>(info.param));
}

/// How GoogleTest prints a case: its label. CTest's test names include the printed parameter, and
/// the default (the object's bytes) is unreadable and differs from one build to the next.
void PrintTo(const ModelCase& c, std::ostream* os);

/// A counted trial (repeat >= 0) or a warm-up (repeat = -1) of 8 tasks with the given wall
/// time, keeping one core busy (user CPU = wall); a non-empty `error` makes it a failed trial.
Trial make_trial(const std::string& workload, const std::string& model, int workers, int repeat,
                 double wall_s, const std::string& error = "");

/// Adds one counted trial (make_trial) per wall time to `trials`, repeats numbered from 0.
void add_point(std::vector<Trial>& trials, const std::string& workload, const std::string& model,
               int workers, const std::vector<double>& walls);

/// A summary row of 3 trials of 32 tasks with the figures the conclusions read: speedup `speedup`
/// against serial with CI `ci`, and efficiency (and its CI) following from them / workers.
SummaryRow make_row(const std::string& workload, const std::string& model, int workers,
                    double speedup, Interval ci, double ideal, double cpu_util = 1.0);

/// Runs `body` in a forked child and returns what it returned, through a pipe: for tests that
/// lower a process-wide limit or change user, so that this process keeps its own. A child that
/// throws returns "threw: …"; one that dies returns "the child died: status …" with what it said.
std::string in_child(const std::function<std::string()>& body);

}  // namespace scalelab::testing
