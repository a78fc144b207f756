// User code in a process of its own: the reference pass and every trial of a workload that
// runs code scalelab did not write. A crash, an exit or a hang there ends that process, not
// the run; the task board in shared memory names the task that did it.

#include "sweep/isolate.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <new>
#include <stdexcept>
#include <string_view>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "models/builtin.hpp"
#include "scalelab/error.hpp"
#include "scalelab/parse.hpp"
#include "scalelab/records.hpp"

namespace scalelab::detail {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::uint8_t kRunning = 1;
constexpr std::uint8_t kDone = 2;

// Marks a task done when it leaves, however it leaves.
struct TaskMark {
  TaskProgress& board;
  std::size_t task;
  TaskMark(TaskProgress& b, std::size_t t) : board(b), task(t) { board.start(task); }
  ~TaskMark() { board.finish(task); }
  TaskMark(const TaskMark&) = delete;
  TaskMark& operator=(const TaskMark&) = delete;
};

// An owned file descriptor.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(Fd&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  Fd& operator=(Fd&&) = delete;
  int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

// Writes all of `text` to `fd`; false on an error.
bool write_all(int fd, const std::string& text) {
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

// "task 3 killed its worker by SIGABRT", "task 3 ended its worker (exited with code 3)", or
// "its worker was killed by SIGKILL outside any task": who ended the child, from the board and
// describe_status's text.
std::string death_text(const TaskProgress& board, const std::string& status, const char* process) {
  const auto running = board.running();
  if (running.empty()) return fmt::format("{} was {} outside any task", process, status);
  if (running.size() > 1) {
    // Which of them did it, the board cannot tell.
    return fmt::format("{} were running when {} was {}", task_list(running), process, status);
  }
  constexpr std::string_view kKilled = "killed by ";
  if (status.rfind(kKilled, 0) == 0) {
    return fmt::format("{} killed {} by {}", task_list(running), process,
                       status.substr(kKilled.size()));
  }
  return fmt::format("{} ended {} ({})", task_list(running), process, status);
}

// "task 3" or "tasks 3, 5" still running, or "no task" (stuck outside them).
std::string still_running(const TaskProgress& board) {
  const auto running = board.running();
  return running.empty() ? std::string("no task was running")
                         : task_list(running) + " still running";
}

}  // namespace

TaskProgress::TaskProgress(std::size_t tasks) : size_(tasks) {
  if (size_ == 0) return;
  void* memory = ::mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) {
    throw std::runtime_error(fmt::format("could not map the task board for {} tasks: {}", tasks,
                                         resource_error_text(Want::mapping, errno)));
  }
  state_ = static_cast<std::uint8_t*>(memory);  // zero-filled: every task not started
}

TaskProgress::~TaskProgress() {
  if (state_ != nullptr) ::munmap(state_, size_);
}

void TaskProgress::start(std::size_t task) noexcept {
  if (task < size_) std::atomic_ref<std::uint8_t>(state_[task]).store(kRunning);
}

void TaskProgress::finish(std::size_t task) noexcept {
  if (task < size_) std::atomic_ref<std::uint8_t>(state_[task]).store(kDone);
}

std::vector<std::size_t> TaskProgress::running() const {
  std::vector<std::size_t> tasks;
  for (std::size_t i = 0; i < size_; ++i) {
    if (std::atomic_ref<std::uint8_t>(state_[i]).load() == kRunning) tasks.push_back(i);
  }
  return tasks;
}

std::size_t TaskProgress::finished() const {
  std::size_t n = 0;
  for (std::size_t i = 0; i < size_; ++i) {
    n += std::atomic_ref<std::uint8_t>(state_[i]).load() == kDone ? 1 : 0;
  }
  return n;
}

std::uint64_t TrackedWorkload::run(std::size_t task) const {
  const TaskMark mark(board_, task);
  return inner_.run(task);
}

Async<std::uint64_t> TrackedWorkload::run_async(std::size_t task, Loop& loop) const {
  const TaskMark mark(board_, task);
  co_return co_await inner_.run_async(task, loop);
}

namespace {

// The child's side: run `body` and send its text, tagged R (returned) or E (raised), then exit.
[[noreturn]] void child_side(const std::function<std::string()>& body, const Workload& workload,
                             pid_t parent, Fd& reader, Fd& writer) {
  // Die with the driver, even when stuck in a task; a driver already gone means exit.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(1);
  workload.after_fork(true);
  reader.reset();
  std::string message;
  char tag = 'R';
  try {
    message = body();
  } catch (const std::exception& e) {
    tag = 'E';
    message = e.what();
  } catch (...) {
    tag = 'E';
    message = "unknown exception";
  }
  message.insert(message.begin(), tag);
  ::_exit(write_all(writer.get(), message) ? 0 : 4);
}

// Reads the child's whole message, until its end (eof true), the deadline or a stop request
// (end.how says which), whichever comes first.
ChildEnd read_child(const Fd& reader, const Fd& wake, Clock::time_point deadline,
                    const std::stop_token& stop, std::string& received, bool& eof) {
  ChildEnd end;
  while (!eof) {
    if (stop.stop_requested()) {
      end.how = ChildEnd::How::stopped;
      break;
    }
    const auto now = Clock::now();
    if (now >= deadline) {
      end.how = ChildEnd::How::timed_out;
      break;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
    pollfd fds[2] = {{reader.get(), POLLIN, 0}, {wake.get(), POLLIN, 0}};
    const int ready =
        ::poll(fds, 2, static_cast<int>(std::min<std::int64_t>(left.count() + 1, 1'000'000)));
    if (ready < 0 && errno != EINTR) {
      end.how = ChildEnd::How::died;
      end.status = fmt::format("lost: poll failed: {}", errno_text(errno));
      break;
    }
    if (ready > 0 && (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      char buffer[65536];
      const ssize_t n = ::read(reader.get(), buffer, sizeof buffer);
      if (n > 0) {
        received.append(buffer, static_cast<std::size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        eof = true;
      }
    }
  }
  return end;
}

}  // namespace

ChildEnd run_in_child(const std::function<std::string()>& body, const Workload& workload,
                      Clock::time_point deadline, std::stop_token stop) {
  int ends[2];
  if (::pipe2(ends, O_CLOEXEC) != 0) {
    throw std::runtime_error(fmt::format("could not create a pipe for a trial's process: {}",
                                         resource_error_text(Want::descriptor, errno)));
  }
  Fd reader(ends[0]), writer(ends[1]);
  const Fd wake(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (wake.get() < 0) {
    throw std::runtime_error(fmt::format("could not create an eventfd for a trial's process: {}",
                                         resource_error_text(Want::descriptor, errno)));
  }
  const pid_t parent = ::getpid();
  // A child's copy of unflushed stdio buffers would be written twice.
  std::fflush(nullptr);
  workload.before_fork();
  const pid_t pid = ::fork();
  if (pid != 0) workload.after_fork(false);
  if (pid < 0) {
    throw std::runtime_error(fmt::format("could not start a trial's process: {}",
                                         resource_error_text(Want::process, errno)));
  }
  if (pid == 0) child_side(body, workload, parent, reader, writer);
  writer.reset();
  // A stop request wakes the poll through the eventfd.
  const std::stop_callback on_stop(stop, [fd = wake.get()] {
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto n = ::write(fd, &one, sizeof one);
  });
  std::string received;
  bool eof = false;
  ChildEnd end = read_child(reader, wake, deadline, stop, received, eof);
  if (!eof) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (eof) {
    const bool whole = WIFEXITED(status) && WEXITSTATUS(status) == 0 && !received.empty();
    if (whole) {
      end.how = received.front() == 'R' ? ChildEnd::How::returned : ChildEnd::How::raised;
      end.output = received.substr(1);
    } else {
      end.how = ChildEnd::How::died;
      end.status = describe_status(status);
    }
  }
  return end;
}

namespace {

constexpr const char* kWhile = "while computing reference checksums";

// The child's side of the reference pass: every task's value in turn, as JSON. A task that
// raises has no serial value; its trials report the exception itself (errors are checked
// before checksums), so any value will do.
std::string reference_sums(const Workload& workload, std::size_t tasks, TaskProgress& board) {
  workload.prepare();
  nlohmann::json sums = nlohmann::json::array();
  nlohmann::json raised = nlohmann::json::array();
  for (std::size_t i = 0; i < tasks; ++i) {
    const TaskMark mark(board, i);
    std::uint64_t sum = 0;
    try {
      sum = workload.run(i);
    } catch (const std::exception& e) {
      raised.push_back({i, e.what()});
    }
    sums.push_back(sum);
  }
  return nlohmann::json{{"checksums", sums}, {"raised", raised}}.dump();
}

// The values the child sent back, and the first task that raised.
void read_sums(ReferencePass& pass, const std::string& output, std::size_t tasks) {
  try {
    const auto json = nlohmann::json::parse(output);
    pass.checksums = json.at("checksums").get<std::vector<std::uint64_t>>();
    const auto& raised = json.at("raised");
    if (!raised.empty()) {
      pass.raised = fmt::format(
          "task {} raised {} {}{}", raised[0][0].get<std::size_t>(),
          raised[0][1].get<std::string>(), kWhile,
          raised.size() > 1 ? fmt::format(" (and {} more tasks raised)", raised.size() - 1) : "");
    }
  } catch (const nlohmann::json::exception& e) {
    pass.failure = fmt::format("the reference pass sent back no checksums: {}", e.what());
  }
  if (pass.failure.empty() && pass.checksums.size() != tasks) {
    pass.failure = fmt::format("the reference pass sent back {} checksums for {} tasks",
                               pass.checksums.size(), tasks);
  }
}

}  // namespace

ReferencePass isolated_reference_pass(const Workload& workload, std::size_t tasks,
                                      std::chrono::nanoseconds timeout, std::stop_token stop) {
  TaskProgress board(tasks);
  const auto started = Clock::now();
  const auto deadline = timeout.count() > 0 ? later(started, timeout) : Clock::time_point::max();
  const ChildEnd end = run_in_child([&] { return reference_sums(workload, tasks, board); },
                                    workload, deadline, stop);
  ReferencePass pass;
  switch (end.how) {
    case ChildEnd::How::returned:
      read_sums(pass, end.output, tasks);
      break;
    case ChildEnd::How::raised:
      pass.failure = fmt::format("{} {}", end.output, kWhile);
      break;
    case ChildEnd::How::died:
      pass.failure = fmt::format("{} {}", death_text(board, end.status, "its worker"), kWhile);
      break;
    case ChildEnd::How::timed_out:
      pass.failure = fmt::format("timed out after {} {}: {}; its worker was killed",
                                 format_duration(timeout), kWhile, still_running(board));
      break;
    case ChildEnd::How::stopped:
      pass.stopped = true;
      pass.failure =
          fmt::format("interrupted {} ({} of {} tasks done)", kWhile, board.finished(), tasks);
      break;
  }
  if (!pass.failure.empty()) pass.checksums.clear();
  return pass;
}

Trial run_trial_isolated(const Workload& workload, const Model& model,
                         const std::string& model_name, int workers, int repeat, std::size_t tasks,
                         const std::vector<std::uint64_t>& expected, const ModelOptions& options,
                         const RunControl& control) {
  TaskProgress board(tasks);
  const TrackedWorkload tracked(workload, board);
  // The child keeps its own time limit on the batch (it kills process workers and cancels
  // async tasks itself, and reports hung threads); the driver's deadline is the backstop for
  // a child stuck outside the batch (an import that hangs, a pool that never starts).
  constexpr auto kSlack = std::chrono::seconds(10);
  RunControl inner = control;
  inner.stop = {};  // the driver answers a stop request by killing the child
  const auto deadline = control.timeout.count() > 0
                            ? later(later(Clock::now(), control.timeout), control.grace + kSlack)
                            : Clock::time_point::max();
  const ChildEnd end = run_in_child(
      [&] {
        return to_json(run_trial(tracked, model, model_name, workers, repeat, tasks, expected,
                                 options, inner))
            .dump();
      },
      workload, deadline, control.stop);
  Trial trial = unrun_trial(workload.spec().name, model_name, workers, repeat, tasks);
  switch (end.how) {
    case ChildEnd::How::returned:
      try {
        trial = trial_from_json(nlohmann::json::parse(end.output));
      } catch (const std::exception& e) {
        trial.error = fmt::format("the trial's process sent back no trial: {}", e.what());
      }
      if (trial.hung) {
        // Its threads were abandoned in the child, which is gone now: the run can go on.
        trial.hung = false;
        trial.error += "; the trial's process was killed, so the run goes on";
      }
      break;
    case ChildEnd::How::raised:
      trial.error = end.output;
      break;
    case ChildEnd::How::died:
      trial.error = death_text(board, end.status, "the trial's process");
      break;
    case ChildEnd::How::timed_out:
      trial.error = fmt::format("timed out after {}: {}; the trial's process was killed",
                                format_duration(control.timeout), still_running(board));
      break;
    case ChildEnd::How::stopped:
      trial.error = fmt::format("interrupted: {} of {} tasks ran; the trial's process was killed",
                                board.finished(), tasks);
      break;
  }
  if (!trial.error.empty()) trial.checksum_ok = false;
  return trial;
}

}  // namespace scalelab::detail

namespace scalelab {

void check_loads(const Workload& workload, std::chrono::nanoseconds timeout, std::stop_token stop) {
  const auto deadline = timeout.count() > 0
                            ? detail::later(std::chrono::steady_clock::now(), timeout)
                            : std::chrono::steady_clock::time_point::max();
  const detail::ChildEnd end = detail::run_in_child(
      [&] {
        workload.prepare();
        return std::string();
      },
      workload, deadline, stop);
  const std::string what = workload.user_code();
  switch (end.how) {
    case detail::ChildEnd::How::returned:
    case detail::ChildEnd::How::stopped:
      return;
    case detail::ChildEnd::How::raised:
      throw Error(end.output);
    case detail::ChildEnd::How::died:
      throw Error(fmt::format("{}: loading it ended its process: {}", what, end.status));
    case detail::ChildEnd::How::timed_out:
      throw Error(fmt::format("{}: loading it did not finish within {}; its process was killed",
                              what, format_duration(timeout)));
  }
}

}  // namespace scalelab
