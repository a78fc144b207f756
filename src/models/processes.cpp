// `processes`: W worker processes started before the clock, like Python's
// ProcessPoolExecutor. Tasks and results travel over one Unix stream socket per worker (a
// socketpair: a pipe in both directions, and send() can refuse SIGPIPE). Start method `fork`
// copies this process; `spawn` execs the scalelab binary in worker mode, which rebuilds the
// workload from its JSON spec sent over the socket.
//
// Messages are coalesced so that short tasks do not pay a system call and a wake-up each:
// - the parent keeps a queue of tasks at each worker, 2 deep at first (a worker never idles
//   waiting for the parent; Python's executor queues extra calls for the same reason), deeper
//   when tasks turn out short, so that a worker's queue holds about kQueueTarget of work;
// - a worker sends its results when it would otherwise block, or when its oldest unsent
//   result is kFlushAfter old, so a long task's result is never held back.
//
// Faults: a worker that dies is seen at once (end of stream on its socket); the batch fails
// naming the worker, its signal or exit code, and the task it was running, which a task board
// in shared memory tells exactly (results may sit unsent in the worker, and a SIGKILLed worker
// can say nothing). At a timeout or a stop request the workers are killed (SIGKILL) and
// reaped. A failed pool kills and reaps every worker it started; a worker also dies with the
// thread that started it (PR_SET_PDEATHSIG) and ignores SIGINT (Ctrl-C at a terminal reaches
// the whole process group; scalelab itself decides what to stop), so no worker outlives
// scalelab. No shell is involved anywhere: spawn is fork + execve of the scalelab binary.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "models/builtin.hpp"
#include "models/processes_wire.hpp"
#include "scalelab/error.hpp"
#include "scalelab/parse.hpp"

namespace scalelab {
namespace detail {
namespace {

using namespace proc;  // the wire, the task board and the worker loop (processes_*.hpp)

struct Worker {
  pid_t pid;
  Channel channel;
  std::size_t queued = 0;  // tasks sent and not yet answered
};

// Why a batch ends before every task did: "timed out after 2s", "interrupted".
struct Cut {
  AbortReason reason;
  std::string what;
};

class ProcessesPool final : public Pool {
 public:
  ProcessesPool(const Workload& workload, int workers, const ModelOptions& options)
      : board_(static_cast<std::size_t>(workers),
               options.params.text("start_method", "fork") == "spawn") {
    try {
      start(workload, workers, options);
    } catch (...) {
      kill_workers();  // the workers already started must not outlive a pool that failed
      throw;
    }
  }

  ~ProcessesPool() override {
    if (broken_) {
      kill_workers();
    } else {
      stop();
    }
  }

  BatchResult run(std::size_t tasks, const RunControl& control) override {
    if (broken_) throw std::logic_error("processes: a pool whose batch failed cannot run");
    // Any throw below leaves workers mid-batch: they are killed, not waited for.
    broken_ = true;
    const auto deadline = deadline_of(control, Clock::now());
    BatchResult batch;
    batch.tasks.resize(tasks);
    for (std::size_t i = 0; i < workers_.size(); ++i) {
      if (!workers_[i].channel.send(Frame{Kind::begin})) throw died(i);
    }
    std::vector<pollfd> fds(workers_.size());
    for (std::size_t i = 0; i < workers_.size(); ++i)
      fds[i] = {workers_[i].channel.fd(), POLLIN, 0};

    const auto t0 = std::chrono::steady_clock::now();
    Progress progress{tasks, steady_ns(t0)};
    // Round by round, so that with fewer tasks than W × depth every worker still gets one.
    for (std::size_t round = 0; round < progress.depth; ++round) {
      for (std::size_t i = 0; i < workers_.size() && progress.next < tasks; ++i) {
        queue_task(i, progress.next++);
      }
    }
    for (std::size_t i = 0; i < workers_.size(); ++i) flush(i);
    while (progress.done < tasks) {
      if (control.stop.stop_requested()) cut_short({AbortReason::interrupted, "interrupted"});
      const auto now = Clock::now();
      if (now >= deadline) {
        cut_short({AbortReason::timed_out,
                   fmt::format("timed out after {}", format_duration(control.timeout))});
      }
      const int ready = ::poll(fds.data(), fds.size(), poll_ms(deadline, now, control));
      if (ready < 0) {
        if (errno == EINTR) continue;
        throw std::runtime_error(fmt::format("poll failed: {}", errno_text(errno)));
      }
      for (std::size_t i = 0; ready > 0 && i < workers_.size(); ++i) {
        if (fds[i].revents != 0) take_results(i, batch, progress);
      }
    }
    batch.wall_s = seconds_since(t0, std::chrono::steady_clock::now());
    collect_usage(batch);
    broken_ = false;
    return batch;
  }

 private:
  // Where a batch stands: tasks handed out and answered, and how deep each queue should be.
  struct Progress {
    std::size_t tasks;
    std::int64_t t0_ns;
    std::size_t next = 0, done = 0;
    std::size_t depth = kMinDepth;
    double busy_s = 0;  // summed task durations, to size the queues
  };

  // How long poll may wait: until the deadline, and no longer than a stop request may go
  // unseen (it has no descriptor to poll); -1 for ever.
  static int poll_ms(Clock::time_point deadline, Clock::time_point now, const RunControl& control) {
    constexpr int kStopCheckMs = 50;
    int wait_ms = -1;
    if (deadline != Clock::time_point::max()) {
      wait_ms = static_cast<int>(std::min<std::int64_t>(
          std::chrono::ceil<std::chrono::milliseconds>(deadline - now).count(), 1'000'000));
    }
    if (control.stop.stop_possible()) {
      wait_ms = wait_ms < 0 ? kStopCheckMs : std::min(wait_ms, kStopCheckMs);
    }
    return wait_ms;
  }

  // The results worker i has sent, then its queue topped up to the depth the tasks so far
  // call for.
  void take_results(std::size_t i, BatchResult& batch, Progress& progress) {
    Worker& w = workers_[i];
    if (!w.channel.fill()) throw died(i);
    while (w.channel.take(frame_, text_)) {
      if (frame_.kind != Kind::result || frame_.task >= progress.tasks) {
        throw std::runtime_error(fmt::format("worker {} sent a malformed message", i + 1));
      }
      TaskResult& r = batch.tasks[frame_.task];
      r.checksum = frame_.checksum;
      r.start_s = static_cast<double>(frame_.start_ns - progress.t0_ns) * 1e-9;
      r.end_s = static_cast<double>(frame_.end_ns - progress.t0_ns) * 1e-9;
      r.error = text_;
      ++r.runs;
      ++progress.done;
      --w.queued;
      progress.busy_s += r.end_s - r.start_s;
    }
    const double mean_task_s =
        progress.busy_s / static_cast<double>(std::max<std::size_t>(progress.done, 1));
    progress.depth = std::clamp<std::size_t>(
        static_cast<std::size_t>(kQueueTarget / std::max(mean_task_s, 1e-9)), kMinDepth, kMaxDepth);
    while (w.queued < progress.depth && progress.next < progress.tasks) {
      queue_task(i, progress.next++);
    }
    flush(i);
  }

  // After the clock: each worker's own CPU time, switches and peak memory for this batch.
  void collect_usage(BatchResult& batch) {
    for (std::size_t i = 0; i < workers_.size(); ++i) {
      if (!workers_[i].channel.send(Frame{Kind::end})) throw died(i);
    }
    for (std::size_t i = 0; i < workers_.size(); ++i) {
      if (!workers_[i].channel.receive(frame_, text_) || frame_.kind != Kind::usage ||
          text_.size() != sizeof(WireUsage)) {
        throw died(i);
      }
      WireUsage wire;
      std::memcpy(&wire, text_.data(), sizeof wire);
      ResourceUsage u;
      u.user_s = static_cast<double>(wire.user_us) * 1e-6;
      u.sys_s = static_cast<double>(wire.sys_us) * 1e-6;
      u.voluntary_ctx = wire.voluntary_ctx;
      u.involuntary_ctx = wire.involuntary_ctx;
      u.max_rss_kib = wire.max_rss_kib;
      batch.worker_usage += u;
    }
    batch.has_worker_usage = true;
  }

  // What a child needs between fork and exec, built before the fork: after it, only
  // async-signal-safe calls.
  struct ForkPlan {
    bool spawn = false;
    std::string exe, spec, marker, board_fd_text;
    std::vector<const char*> env;
  };

  ForkPlan fork_plan(const Workload& workload, const ModelOptions& options) const {
    ForkPlan plan;
    plan.spawn = options.params.text("start_method", "fork") == "spawn";
    plan.exe = options.worker_executable.empty() ? "/proc/self/exe" : options.worker_executable;
    plan.spec = to_json(workload.worker_spec()).dump();
    // Appended, not `std::string(kWorkerEnv) + "=1"`: g++ 12 warns of a memcpy out of bounds in
    // that operator+ once inlined here (-Warray-bounds, a known false positive).
    plan.marker = kWorkerEnv;
    plan.marker += "=1";
    plan.board_fd_text = std::to_string(board_.fd());
    for (char** e = environ; *e != nullptr; ++e) plan.env.push_back(*e);
    plan.env.push_back(plan.marker.c_str());
    plan.env.push_back(nullptr);
    return plan;
  }

  void start(const Workload& workload, int workers, const ModelOptions& options) {
    const ForkPlan plan = fork_plan(workload, options);
    if (plan.spawn && std::getenv(kWorkerEnv) != nullptr) {
      // This program was exec'd as a worker but its main did not become one: starting more
      // workers from here would recurse.
      throw Error(
          "processes: this process was started as a spawn worker, but its main() did not call "
          "scalelab::maybe_run_worker(argc, argv) first");
    }
    const pid_t parent = ::getpid();
    // A child's copy of unflushed stdio buffers would be written twice if a task calls exit().
    std::fflush(nullptr);
    workers_.reserve(static_cast<std::size_t>(workers));
    for (int i = 0; i < workers; ++i) start_worker(workload, i, workers, plan, parent);
    await_ready(plan);
  }

  // Forks worker i (of `workers`) with its end of a new socket pair.
  void start_worker(const Workload& workload, int i, int workers, const ForkPlan& plan,
                    pid_t parent) {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
      throw std::runtime_error(fmt::format("could not create the socket for worker {} of {}: {}",
                                           i + 1, workers,
                                           resource_error_text(Want::descriptor, errno)));
    }
    const std::string fd_text = std::to_string(sv[1]);
    const std::string index_text = std::to_string(i);
    BoardEntry& entry = board_[static_cast<std::size_t>(i)];
    workload.before_fork();
    const pid_t pid = ::fork();
    if (pid != 0) workload.after_fork(false);
    if (pid < 0) {
      const int err = errno;
      ::close(sv[0]);
      ::close(sv[1]);
      throw std::runtime_error(fmt::format("could not start worker process {} of {}: {}", i + 1,
                                           workers, resource_error_text(Want::process, err)));
    }
    if (pid == 0) become_worker(workload, plan, parent, sv, fd_text, index_text, entry);
    ::close(sv[1]);
    workers_.push_back(Worker{pid, Channel(sv[0])});
    if (plan.spawn) workers_.back().channel.send(Frame{Kind::spec}, plan.spec);
  }

  // The child's side of fork: exec the worker program (spawn), or run the worker loop here.
  [[noreturn]] void become_worker(const Workload& workload, const ForkPlan& plan, pid_t parent,
                                  const int (&sv)[2], const std::string& fd_text,
                                  const std::string& index_text, BoardEntry& entry) {
    ::close(sv[0]);
    // Earlier workers' parent ends would otherwise keep their sockets open in this child.
    for (auto& w : workers_) ::close(w.channel.fd());
    // Die with the parent, even when stuck in a task; a parent already gone means exit.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(1);
    ::signal(SIGINT, SIG_IGN);  // survives exec; Ctrl-C is the parent's to handle
    if (plan.spawn) {
      // The only descriptors the worker inherits: its socket and the task board.
      ::fcntl(sv[1], F_SETFD, 0);
      ::fcntl(board_.fd(), F_SETFD, 0);
      const char* argv[] = {plan.exe.c_str(),           kWorkerFlag,        fd_text.c_str(),
                            plan.board_fd_text.c_str(), index_text.c_str(), nullptr};
      ::execve(plan.exe.c_str(), const_cast<char* const*>(argv),
               const_cast<char* const*>(plan.env.data()));
      ::_exit(127);
    }
    workload.after_fork(true);
    Channel channel(sv[1]);
    ::_exit(worker_loop(channel, &workload, entry));
  }

  // Warm: each worker has started (and, for spawn, rebuilt the workload) before the clock.
  void await_ready(const ForkPlan& plan) {
    const auto deadline = std::chrono::steady_clock::now() + kReadyTimeout;
    for (std::size_t i = 0; i < workers_.size(); ++i) {
      Frame frame;
      std::string text;
      const auto wait = workers_[i].channel.receive_until(frame, text, deadline);
      if (wait == Channel::Wait::timed_out) {
        throw std::runtime_error(fmt::format(
            "worker {} of {} did not report ready within {} s{}", i + 1, workers_.size(),
            kReadyTimeout.count(),
            plan.spawn
                ? " (a program that uses spawn must call scalelab::maybe_run_worker first in main)"
                : ""));
      }
      if (wait == Channel::Wait::closed || frame.kind != Kind::ready) {
        std::string why = frame.kind == Kind::failure ? text : exit_reason(i);
        if (plan.spawn && why.find("code 127") != std::string::npos) {
          why += fmt::format(" (could not exec '{}')", plan.exe);
        }
        throw std::runtime_error(
            fmt::format("worker {} of {} did not start: {}", i + 1, workers_.size(), why));
      }
    }
  }

  // Closes every channel (a worker exits when its read sees the end) and reaps every worker,
  // killing one that is still busy after a grace period.
  void stop() noexcept {
    for (auto& w : workers_) w.channel.close();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    for (auto& w : workers_) {
      if (w.pid <= 0) continue;  // already reaped
      int status = 0;
      // Workers exit within microseconds of seeing the end of their stream: poll fast, then
      // back off, so that tearing a pool down does not cost a fixed millisecond per worker.
      auto pause = std::chrono::microseconds(20);
      while (::waitpid(w.pid, &status, WNOHANG) == 0) {
        if (std::chrono::steady_clock::now() > deadline) {
          ::kill(w.pid, SIGKILL);  // stuck in a task: it must not outlive the pool
          ::waitpid(w.pid, &status, 0);
          break;
        }
        std::this_thread::sleep_for(pause);
        pause = std::min(pause * 2, std::chrono::microseconds(2000));
      }
      w.pid = -1;
    }
  }

  // Kills every worker not yet reaped and reaps it: a batch that failed or was cut short
  // leaves workers mid-task, and their queued tasks are of no use to anyone.
  void kill_workers() noexcept {
    for (auto& w : workers_) {
      if (w.pid > 0) ::kill(w.pid, SIGKILL);
      w.channel.close();
    }
    for (auto& w : workers_) {
      if (w.pid <= 0) continue;
      int status = 0;
      while (::waitpid(w.pid, &status, 0) < 0 && errno == EINTR) {
      }
      w.pid = -1;
    }
  }

  // Ends the batch now: reads what each worker is running, kills and reaps every worker, and
  // throws BatchAborted naming the tasks that were cut off.
  [[noreturn]] void cut_short(const Cut& cut) {
    std::vector<std::size_t> running;
    std::string where;
    for (std::size_t i = 0; i < workers_.size(); ++i) {
      const std::uint64_t task = board_[i].load(std::memory_order_relaxed);
      if (task == kIdle) continue;
      running.push_back(static_cast<std::size_t>(task));
      if (running.size() <= 8)
        where += fmt::format("{}worker {}", where.empty() ? "" : ", ", i + 1);
    }
    kill_workers();
    const std::string tasks =
        running.empty()
            ? std::string()
            : fmt::format(": {} {} ({})", task_list(running),
                          cut.reason == AbortReason::interrupted ? "were running" : "still running",
                          where);
    throw BatchAborted(cut.reason, fmt::format("{}{}; the workers were killed", cut.what, tasks));
  }

  void queue_task(std::size_t i, std::size_t task) {
    Frame f{Kind::task};
    f.task = task;
    workers_[i].channel.queue(f);
    ++workers_[i].queued;
  }
  void flush(std::size_t i) {
    if (workers_[i].channel.pending() && !workers_[i].channel.flush()) throw died(i);
  }

  // Why worker i went away, once it has (waits briefly for the exit to be reported).
  std::string exit_reason(std::size_t i) {
    if (workers_[i].pid <= 0) return "exited";  // reaped already; waitpid(-1) would take any child
    int status = 0;
    // The end of its stream comes as the worker's descriptors close, a moment before it
    // becomes reapable.
    for (int tries = 0; tries < 1000; ++tries) {
      const pid_t r = ::waitpid(workers_[i].pid, &status, WNOHANG);
      if (r == workers_[i].pid) {
        workers_[i].pid = -1;  // reaped: the destructor must not wait for it again
        return describe_status(status);
      }
      if (r < 0) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return "closed its channel";
  }

  // "worker 3 (pid 1234) killed by SIGSEGV during task 17": worker i is gone mid-batch.
  std::runtime_error died(std::size_t i) {
    const pid_t pid = workers_[i].pid;
    const std::string why = exit_reason(i);
    const std::uint64_t task = board_[i].load(std::memory_order_relaxed);
    return std::runtime_error(fmt::format(
        "worker {} (pid {}) {} {}", i + 1, pid, why,
        task == kIdle ? std::string("between tasks") : fmt::format("during task {}", task)));
  }

  TaskBoard board_;
  std::vector<Worker> workers_;
  Frame frame_;          // the message being read, kept to reuse its buffer
  std::string text_;     // its text
  bool broken_ = false;  // a batch failed or was cut short: kill the workers, do not reuse
};

class ProcessesModel final : public Model {
 public:
  bool separate_processes() const override { return true; }
  std::unique_ptr<Pool> start(const Workload& workload, int workers,
                              const ModelOptions& options) const override {
    check_workers(workers);
    return std::make_unique<ProcessesPool>(workload, workers, options);
  }
};

}  // namespace

Param start_method_param() {
  Param start_method{"start-method", ParamKind::choice, "fork",
                     "processes and py-processes models: how workers start: fork (a copy of "
                     "scalelab) or spawn (a fresh process: scalelab's worker, or python3 for "
                     "py-processes), as in Python's multiprocessing",
                     "Start method"};
  start_method.choices = {"fork", "spawn"};
  return start_method;
}

ModelEntry model_processes() {
  return {"processes",
          "W pre-started worker processes, tasks and results over sockets "
          "(--start-method fork|spawn)",
          [] { return std::make_unique<ProcessesModel>(); },
          {start_method_param()}};
}

}  // namespace detail
}  // namespace scalelab
