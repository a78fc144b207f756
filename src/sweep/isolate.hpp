#pragma once
// Running user code where it cannot take the run down: a forked process of its own per trial
// (and per reference pass), watched by the driver with a deadline and the stop request, and a
// task board in shared memory that says which task was running when that process died.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <stop_token>
#include <string>
#include <vector>

#include "scalelab/model.hpp"
#include "scalelab/trial.hpp"
#include "scalelab/workload.hpp"

namespace scalelab::detail {

/// Per task: not started, running or done, in memory shared with the processes forked after
/// it is made (MAP_SHARED), so that the driver can name the task a dead child was running.
class TaskProgress {
 public:
  explicit TaskProgress(std::size_t tasks);
  ~TaskProgress();
  TaskProgress(const TaskProgress&) = delete;
  TaskProgress& operator=(const TaskProgress&) = delete;

  void start(std::size_t task) noexcept;
  void finish(std::size_t task) noexcept;
  /// The tasks started and not finished, in order.
  std::vector<std::size_t> running() const;
  /// How many tasks finished.
  std::size_t finished() const;

 private:
  std::uint8_t* state_ = nullptr;  // one byte a task, accessed through std::atomic_ref
  std::size_t size_ = 0;
};

/// A workload that marks each task's start and end on a TaskProgress, then runs `inner`'s.
class TrackedWorkload final : public Workload {
 public:
  TrackedWorkload(const Workload& inner, TaskProgress& board) : inner_(inner), board_(board) {}
  const WorkloadSpec& spec() const override { return inner_.spec(); }
  Bound bound() const override { return inner_.bound(); }
  std::uint64_t run(std::size_t task) const override;
  Async<std::uint64_t> run_async(std::size_t task, Loop& loop) const override;
  std::uint64_t expected_checksum(std::size_t task) const override {
    return inner_.expected_checksum(task);
  }
  std::string unsupported_by(const std::string& model) const override {
    return inner_.unsupported_by(model);
  }
  bool runs_user_code() const override { return inner_.runs_user_code(); }
  std::optional<PythonTask> python_task() const override { return inner_.python_task(); }
  void mark_task(std::size_t task, bool running) const override {
    if (running) {
      board_.start(task);
    } else {
      board_.finish(task);
    }
  }
  void prepare() const override { inner_.prepare(); }
  WorkloadSpec worker_spec() const override { return inner_.worker_spec(); }
  OwnUsage own_usage() const override { return inner_.own_usage(); }
  void before_fork() const override { inner_.before_fork(); }
  void after_fork(bool in_child) const override { inner_.after_fork(in_child); }

 private:
  const Workload& inner_;
  TaskProgress& board_;
};

/// How a child process run by run_in_child ended.
struct ChildEnd {
  enum class How {
    returned,   ///< the body returned; `output` is what it returned
    raised,     ///< the body threw; `output` is the exception's message
    died,       ///< the process ended before the body returned; `status` says how
    timed_out,  ///< the deadline passed; the process was killed
    stopped,    ///< a stop was requested; the process was killed
  };
  How how = How::died;
  std::string output;
  std::string status;  ///< "killed by SIGABRT", "exited with code 3" (died)
};

/// Forks; the child runs `body` (with SIGINT and SIGTERM blocked as in the caller, and killed
/// should the calling thread end) and sends back what it returns. The caller waits until the
/// child is done, `deadline` passes or `stop` is requested, then kills and reaps the child.
/// `workload`'s fork hooks run around the fork (an embedded interpreter must be forked with
/// its lock held). The child leaves with _exit, so nothing of the caller's is destroyed twice.
ChildEnd run_in_child(const std::function<std::string()>& body, const Workload& workload,
                      std::chrono::steady_clock::time_point deadline, std::stop_token stop);

/// What a reference pass found.
struct ReferencePass {
  std::vector<std::uint64_t> checksums;  ///< per task; 0 for a task that raised
  /// Why there are no reference values: "task 3 killed its worker by SIGABRT while computing
  /// reference checksums". Empty when the pass completed.
  std::string failure;
  bool stopped = false;  ///< a stop request ended the pass
  /// "task 3 raised ValueError: … while computing reference checksums": tasks that raised
  /// (their trials will fail with the same exception); empty when none did.
  std::string raised;
};

/// The serial checksums of `workload`'s tasks, computed in a process of its own with
/// `timeout` for the whole pass (0: none).
ReferencePass isolated_reference_pass(const Workload& workload, std::size_t tasks,
                                      std::chrono::nanoseconds timeout, std::stop_token stop);

/// run_trial in a process of its own. A task that crashes, exits or hangs that process fails
/// the trial, named as precisely as a process worker's death would be; a trial whose threads
/// hung is an ordinary failure here (its process was killed), so the run goes on. A stop
/// request kills the process and returns a failed trial.
Trial run_trial_isolated(const Workload& workload, const Model& model,
                         const std::string& model_name, int workers, int repeat, std::size_t tasks,
                         const std::vector<std::uint64_t>& expected, const ModelOptions& options,
                         const RunControl& control);

}  // namespace scalelab::detail
