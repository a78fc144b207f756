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
#include "scalelab/error.hpp"
#include "scalelab/parse.hpp"

namespace scalelab {
namespace detail {
namespace {

constexpr std::size_t kMinDepth = 2;
constexpr std::size_t kMaxDepth = 64;
constexpr double kQueueTarget = 200e-6;        // seconds of work queued at each worker
constexpr std::int64_t kFlushAfter = 100'000;  // ns a finished result may wait to be sent
constexpr const char* kWorkerFlag = "--scalelab-worker";

constexpr const char* kWorkerEnv = "SCALELAB_WORKER";  // set in a spawned worker's environment
constexpr auto kReadyTimeout = std::chrono::seconds(30);

enum class Kind : std::uint32_t {
  spec = 1,      // parent → worker: the workload's JSON spec follows as text (spawn only)
  task = 2,      // parent → worker: run `task`
  begin = 3,     // parent → worker: a batch starts; take the resource-usage baseline
  end = 4,       // parent → worker: the batch ended; report usage since `begin`
  ready = 10,    // worker → parent: started and warm
  result = 11,   // worker → parent: `task` returned `checksum` (or threw: error as text)
  usage = 12,    // worker → parent: a WireUsage follows as text
  failure = 13,  // worker → parent: could not start; the reason follows as text
};

// Fixed-size frame; `text` bytes follow it on the stream. Both ends are the same binary on the
// same machine, so native layout is fine.
struct Frame {
  Kind kind{};
  std::uint32_t text = 0;      // bytes that follow
  std::uint64_t task = 0;      // task, result
  std::uint64_t checksum = 0;  // result
  std::int64_t start_ns = 0;   // result: steady clock, the same in every process
  std::int64_t end_ns = 0;     // result
};

// A worker's resource usage over one batch.
struct WireUsage {
  std::int64_t user_us = 0, sys_us = 0;
  std::int64_t voluntary_ctx = 0, involuntary_ctx = 0;
  std::int64_t max_rss_kib = 0;
};

std::int64_t steady_ns(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

using Clock = std::chrono::steady_clock;

// One worker's entry on the task board: the task it runs, or kIdle.
using BoardEntry = std::atomic<std::uint64_t>;
static_assert(BoardEntry::is_always_lock_free, "shared between processes: must be lock-free");
constexpr std::uint64_t kIdle = ~std::uint64_t{0};
constexpr std::size_t kEntryStride = 64;  // a cache line each: workers on other cores write them

// Which task each worker is running, in memory shared with the workers: a worker writes its
// entry around each task (a relaxed store, nothing on the wire), the parent reads it when a
// worker dies or a batch is cut short. Forked workers inherit the mapping; spawned ones map the
// memfd behind it, passed on their command line.
class TaskBoard {
 public:
  TaskBoard(std::size_t workers, bool for_exec)
      : size_(std::max<std::size_t>(workers, 1) * kEntryStride) {
    int flags = MAP_SHARED;
    if (for_exec) {
      fd_ = ::memfd_create("scalelab-task-board", MFD_CLOEXEC);
      if (fd_ < 0 || ::ftruncate(fd_, static_cast<off_t>(size_)) != 0) fail();
    } else {
      flags |= MAP_ANONYMOUS;
    }
    void* base = ::mmap(nullptr, size_, PROT_READ | PROT_WRITE, flags, fd_, 0);
    if (base == MAP_FAILED) fail();
    base_ = static_cast<char*>(base);
    for (std::size_t i = 0; i < size_ / kEntryStride; ++i) {
      std::construct_at(reinterpret_cast<BoardEntry*>(base_ + i * kEntryStride), kIdle);
    }
  }
  TaskBoard(const TaskBoard&) = delete;
  TaskBoard& operator=(const TaskBoard&) = delete;
  ~TaskBoard() {
    if (base_ != nullptr) ::munmap(base_, size_);
    if (fd_ >= 0) ::close(fd_);
  }

  BoardEntry& operator[](std::size_t i) {
    return *std::launder(reinterpret_cast<BoardEntry*>(base_ + i * kEntryStride));
  }
  int fd() const { return fd_; }  // -1 unless for_exec

  // In a spawned worker: its own entry on the board behind `fd`, or null if it cannot be one.
  static BoardEntry* map_entry(int fd, std::size_t index) {
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
        static_cast<std::size_t>(st.st_size) < (index + 1) * kEntryStride) {
      return nullptr;
    }
    void* base = ::mmap(nullptr, static_cast<std::size_t>(st.st_size), PROT_READ | PROT_WRITE,
                        MAP_SHARED, fd, 0);
    ::close(fd);  // the mapping stays; the worker needs no descriptor for it
    if (base == MAP_FAILED) return nullptr;
    // Kept until the worker exits, which unmaps it.
    return std::launder(
        reinterpret_cast<BoardEntry*>(static_cast<char*>(base) + index * kEntryStride));
  }

 private:
  [[noreturn]] void fail() {
    const int err = errno;
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    throw std::runtime_error(fmt::format("could not map the workers' task board: {}",
                                         resource_error_text(Want::mapping, err)));
  }
  std::size_t size_;
  int fd_ = -1;
  char* base_ = nullptr;
};

// A socket end that owns its descriptor and frames the byte stream.
class Channel {
 public:
  explicit Channel(int fd) : fd_(fd) {}
  Channel(Channel&& other) noexcept
      : fd_(std::exchange(other.fd_, -1)),
        buffer_(std::move(other.buffer_)),
        pos_(other.pos_),
        out_(std::move(other.out_)) {}
  Channel& operator=(Channel&&) = delete;
  ~Channel() { close(); }

  int fd() const { return fd_; }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  // Sends every byte; false if the peer is gone.
  bool send_all(const void* data, std::size_t size) {
    const auto* p = static_cast<const char*>(data);
    while (size > 0) {
      const ssize_t n = ::send(fd_, p, size, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      p += n;
      size -= static_cast<std::size_t>(n);
    }
    return true;
  }
  // Queues a frame (and its text) to go with the next flush.
  void queue(const Frame& frame, std::string_view text = {}) {
    Frame f = frame;
    f.text = static_cast<std::uint32_t>(text.size());
    out_.append(reinterpret_cast<const char*>(&f), sizeof f);
    out_.append(text);
  }
  // Sends everything queued in one go; false if the peer is gone.
  bool flush() {
    const bool ok = send_all(out_.data(), out_.size());
    out_.clear();
    return ok;
  }
  bool pending() const { return !out_.empty(); }
  bool send(const Frame& frame, std::string_view text = {}) {
    queue(frame, text);
    return flush();
  }

  // Reads what is available (blocking once); false on end of stream or error.
  bool fill() {
    char chunk[16384];
    for (;;) {
      const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      buffer_.append(chunk, static_cast<std::size_t>(n));
      return true;
    }
  }
  // Takes one complete frame (and its text) from the buffer, if there is one.
  bool take(Frame& frame, std::string& text) {
    if (buffer_.size() - pos_ < sizeof(Frame)) return compact();
    std::memcpy(&frame, buffer_.data() + pos_, sizeof frame);
    if (buffer_.size() - pos_ - sizeof frame < frame.text) return compact();
    text.assign(buffer_, pos_ + sizeof frame, frame.text);
    pos_ += sizeof frame + frame.text;
    return true;
  }
  // Blocking: the next frame, or false at end of stream.
  bool receive(Frame& frame, std::string& text) {
    while (!take(frame, text)) {
      if (!fill()) return false;
    }
    return true;
  }
  enum class Wait { ok, closed, timed_out };
  // The next frame, waiting no later than `deadline`.
  Wait receive_until(Frame& frame, std::string& text,
                     std::chrono::steady_clock::time_point deadline) {
    while (!take(frame, text)) {
      const auto left =
          std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return Wait::timed_out;
      pollfd p{fd_, POLLIN, 0};
      const int n =
          ::poll(&p, 1, static_cast<int>(std::min<std::int64_t>(left.count(), 1'000'000)));
      if (n < 0 && errno != EINTR) return Wait::closed;
      if (n > 0 && !fill()) return Wait::closed;
    }
    return Wait::ok;
  }

 private:
  bool compact() {
    buffer_.erase(0, pos_);
    pos_ = 0;
    return false;
  }
  int fd_;
  std::string buffer_;
  std::size_t pos_ = 0;
  std::string out_;
};

// The worker's side: answer tasks until the parent closes the socket.
int worker_loop(Channel& channel, const Workload* workload, BoardEntry& board) {
  std::unique_ptr<Workload> owned;
  Frame frame;
  std::string text;
  if (workload == nullptr) {
    if (!channel.receive(frame, text) || frame.kind != Kind::spec) return 3;
    try {
      owned = make_workload(workload_spec_from_json(nlohmann::json::parse(text)));
      owned->prepare();  // before ready: a user's module is imported outside the clock
    } catch (const std::exception& e) {
      channel.send(Frame{Kind::failure}, e.what());
      return 3;
    }
    workload = owned.get();
  }
  if (!channel.send(Frame{Kind::ready})) return 0;
  ResourceUsage baseline = ResourceUsage::of_self();
  std::int64_t oldest_unsent = 0;
  for (;;) {
    if (!channel.take(frame, text)) {
      // About to block: what is finished goes to the parent first.
      if (channel.pending() && !channel.flush()) return 0;
      if (!channel.fill()) return 0;
      continue;
    }
    switch (frame.kind) {
      case Kind::task: {
        Frame reply{Kind::result};
        reply.task = frame.task;
        std::string error;
        const auto start = std::chrono::steady_clock::now();
        board.store(frame.task, std::memory_order_relaxed);
        try {
          reply.checksum = workload->run(frame.task);
        } catch (...) {
          error = current_exception_text();
        }
        board.store(kIdle, std::memory_order_relaxed);
        reply.start_ns = steady_ns(start);
        reply.end_ns = steady_ns(std::chrono::steady_clock::now());
        if (!channel.pending()) oldest_unsent = reply.end_ns;
        channel.queue(reply, error);
        if (reply.end_ns - oldest_unsent >= kFlushAfter && !channel.flush()) return 0;
        break;
      }
      case Kind::begin:
        ResourceUsage::reset_peak();  // this batch's peak, not the one inherited through fork
        baseline = ResourceUsage::of_self();
        break;
      case Kind::end: {
        const ResourceUsage u = ResourceUsage::of_self().since(baseline);
        const WireUsage wire{std::llround(u.user_s * 1e6), std::llround(u.sys_s * 1e6),
                             u.voluntary_ctx, u.involuntary_ctx, u.max_rss_kib};
        if (!channel.send(Frame{Kind::usage},
                          std::string_view(reinterpret_cast<const char*>(&wire), sizeof wire))) {
          return 0;
        }
        break;
      }
      default:
        return 3;
    }
  }
}

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
    const std::int64_t t0_ns = steady_ns(t0);
    std::size_t next = 0;
    std::size_t depth = kMinDepth;
    // Round by round, so that with fewer tasks than W × depth every worker still gets one.
    for (std::size_t round = 0; round < depth; ++round) {
      for (std::size_t i = 0; i < workers_.size() && next < tasks; ++i) queue_task(i, next++);
    }
    for (std::size_t i = 0; i < workers_.size(); ++i) flush(i);
    std::size_t done = 0;
    double busy_s = 0;  // summed task durations, to size the queues
    Frame frame;
    std::string text;
    // A stop request has no descriptor to poll: look at it this often while waiting.
    constexpr int kStopCheckMs = 50;
    while (done < tasks) {
      if (control.stop.stop_requested()) cut_short({AbortReason::interrupted, "interrupted"});
      const auto now = Clock::now();
      if (now >= deadline) {
        cut_short({AbortReason::timed_out,
                   fmt::format("timed out after {}", format_duration(control.timeout))});
      }
      int wait_ms = -1;
      if (deadline != Clock::time_point::max()) {
        wait_ms = static_cast<int>(std::min<std::int64_t>(
            std::chrono::ceil<std::chrono::milliseconds>(deadline - now).count(), 1'000'000));
      }
      if (control.stop.stop_possible()) {
        wait_ms = wait_ms < 0 ? kStopCheckMs : std::min(wait_ms, kStopCheckMs);
      }
      const int ready = ::poll(fds.data(), fds.size(), wait_ms);
      if (ready < 0) {
        if (errno == EINTR) continue;
        throw std::runtime_error(fmt::format("poll failed: {}", errno_text(errno)));
      }
      for (std::size_t i = 0; ready > 0 && i < workers_.size(); ++i) {
        if (fds[i].revents == 0) continue;
        Worker& w = workers_[i];
        if (!w.channel.fill()) throw died(i);
        while (w.channel.take(frame, text)) {
          if (frame.kind != Kind::result || frame.task >= tasks) {
            throw std::runtime_error(fmt::format("worker {} sent a malformed message", i + 1));
          }
          TaskResult& r = batch.tasks[frame.task];
          r.checksum = frame.checksum;
          r.start_s = static_cast<double>(frame.start_ns - t0_ns) * 1e-9;
          r.end_s = static_cast<double>(frame.end_ns - t0_ns) * 1e-9;
          r.error = text;
          ++r.runs;
          ++done;
          --w.queued;
          busy_s += r.end_s - r.start_s;
        }
        const double mean_task_s = busy_s / static_cast<double>(std::max<std::size_t>(done, 1));
        depth = std::clamp<std::size_t>(
            static_cast<std::size_t>(kQueueTarget / std::max(mean_task_s, 1e-9)), kMinDepth,
            kMaxDepth);
        while (w.queued < depth && next < tasks) queue_task(i, next++);
        flush(i);
      }
    }
    batch.wall_s = seconds_since(t0, std::chrono::steady_clock::now());

    // After the clock: each worker's own CPU time, switches and peak memory for this batch.
    for (std::size_t i = 0; i < workers_.size(); ++i) {
      if (!workers_[i].channel.send(Frame{Kind::end})) throw died(i);
    }
    for (std::size_t i = 0; i < workers_.size(); ++i) {
      if (!workers_[i].channel.receive(frame, text) || frame.kind != Kind::usage ||
          text.size() != sizeof(WireUsage)) {
        throw died(i);
      }
      WireUsage wire;
      std::memcpy(&wire, text.data(), sizeof wire);
      ResourceUsage u;
      u.user_s = static_cast<double>(wire.user_us) * 1e-6;
      u.sys_s = static_cast<double>(wire.sys_us) * 1e-6;
      u.voluntary_ctx = wire.voluntary_ctx;
      u.involuntary_ctx = wire.involuntary_ctx;
      u.max_rss_kib = wire.max_rss_kib;
      batch.worker_usage += u;
    }
    batch.has_worker_usage = true;
    broken_ = false;
    return batch;
  }

 private:
  void start(const Workload& workload, int workers, const ModelOptions& options) {
    const bool spawn = options.params.text("start_method", "fork") == "spawn";
    if (spawn && std::getenv(kWorkerEnv) != nullptr) {
      // This program was exec'd as a worker but its main did not become one: starting more
      // workers from here would recurse.
      throw Error(
          "processes: this process was started as a spawn worker, but its main() did not call "
          "scalelab::maybe_run_worker(argc, argv) first");
    }
    // Everything the child needs is built before fork: after it, only exec-safe calls.
    const std::string exe =
        options.worker_executable.empty() ? "/proc/self/exe" : options.worker_executable;
    const std::string spec = to_json(workload.spec()).dump();
    const std::string marker = std::string(kWorkerEnv) + "=1";
    const std::string board_fd_text = std::to_string(board_.fd());
    std::vector<const char*> env;
    for (char** e = environ; *e != nullptr; ++e) env.push_back(*e);
    env.push_back(marker.c_str());
    env.push_back(nullptr);
    const pid_t parent = ::getpid();
    // A child's copy of unflushed stdio buffers would be written twice if a task calls exit().
    std::fflush(nullptr);
    workers_.reserve(static_cast<std::size_t>(workers));
    for (int i = 0; i < workers; ++i) {
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
      if (pid == 0) {
        ::close(sv[0]);
        // Earlier workers' parent ends would otherwise keep their sockets open in this child.
        for (auto& w : workers_) ::close(w.channel.fd());
        // Die with the parent, even when stuck in a task; a parent already gone means exit.
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent) ::_exit(1);
        ::signal(SIGINT, SIG_IGN);  // survives exec; Ctrl-C is the parent's to handle
        if (spawn) {
          // The only descriptors the worker inherits: its socket and the task board.
          ::fcntl(sv[1], F_SETFD, 0);
          ::fcntl(board_.fd(), F_SETFD, 0);
          const char* argv[] = {exe.c_str(),           kWorkerFlag,        fd_text.c_str(),
                                board_fd_text.c_str(), index_text.c_str(), nullptr};
          ::execve(exe.c_str(), const_cast<char* const*>(argv),
                   const_cast<char* const*>(env.data()));
          ::_exit(127);
        }
        workload.after_fork(true);
        Channel channel(sv[1]);
        ::_exit(worker_loop(channel, &workload, entry));
      }
      ::close(sv[1]);
      workers_.push_back(Worker{pid, Channel(sv[0])});
      if (spawn) workers_.back().channel.send(Frame{Kind::spec}, spec);
    }
    // Warm: each worker has started (and, for spawn, rebuilt the workload) before the clock.
    const auto deadline = std::chrono::steady_clock::now() + kReadyTimeout;
    for (std::size_t i = 0; i < workers_.size(); ++i) {
      Frame frame;
      std::string text;
      const auto wait = workers_[i].channel.receive_until(frame, text, deadline);
      if (wait == Channel::Wait::timed_out) {
        throw std::runtime_error(fmt::format(
            "worker {} of {} did not report ready within {} s{}", i + 1, workers_.size(),
            kReadyTimeout.count(),
            spawn ? " (a program that uses spawn must call scalelab::maybe_run_worker first in "
                    "main)"
                  : ""));
      }
      if (wait == Channel::Wait::closed || frame.kind != Kind::ready) {
        std::string why = frame.kind == Kind::failure ? text : exit_reason(i);
        if (spawn && why.find("code 127") != std::string::npos) {
          why += fmt::format(" (could not exec '{}')", exe);
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
  bool broken_ = false;  // a batch failed or was cut short: kill the workers, do not reuse
};

class ProcessesModel final : public Model {
 public:
  std::unique_ptr<Pool> start(const Workload& workload, int workers,
                              const ModelOptions& options) const override {
    check_workers(workers);
    return std::make_unique<ProcessesPool>(workload, workers, options);
  }
};

}  // namespace

ModelEntry model_processes() {
  Param start_method{"start-method", ParamKind::choice, "fork",
                     "processes model: how workers start: fork (a copy of scalelab) or spawn "
                     "(fork + exec, a fresh process), like Python's multiprocessing",
                     "Start method"};
  start_method.choices = {"fork", "spawn"};
  return {"processes",
          "W pre-started worker processes, tasks and results over sockets "
          "(--start-method fork|spawn)",
          [] { return std::make_unique<ProcessesModel>(); },
          {start_method}};
}

}  // namespace detail

namespace {

// Why `text` is not a descriptor a processes pool would have handed this worker, or empty.
std::optional<int> parse_fd(const char* text) {
  if (text == nullptr || *text == '\0') return std::nullopt;
  int fd = 0;
  for (const char* p = text; *p != '\0'; ++p) {
    if (*p < '0' || *p > '9' || fd > 100'000'000) return std::nullopt;
    fd = fd * 10 + (*p - '0');
  }
  return fd;
}

// Checks that `fd` is the socket this process's parent made for it: a Unix stream socket whose
// peer is the parent (SO_PEERCRED of a socketpair names the process that created it). Returns
// what is wrong, or empty.
std::string check_worker_socket(int fd) {
  struct stat st {};
  if (fd < 3) return fmt::format("fd {} is a standard stream", fd);
  if (::fstat(fd, &st) != 0) return fmt::format("fd {} is not open", fd);
  if (::isatty(fd)) return fmt::format("fd {} is a terminal", fd);
  if (!S_ISSOCK(st.st_mode)) return fmt::format("fd {} is not a socket", fd);
  int domain = 0, type = 0;
  socklen_t size = sizeof domain;
  if (::getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &size) != 0 || domain != AF_UNIX) {
    return fmt::format("fd {} is not a Unix socket", fd);
  }
  size = sizeof type;
  if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &size) != 0 || type != SOCK_STREAM) {
    return fmt::format("fd {} is not a stream socket", fd);
  }
  ucred peer{};
  size = sizeof peer;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &size) != 0 || peer.pid != ::getppid()) {
    return fmt::format("fd {} was not made by this process's parent", fd);
  }
  return {};
}

}  // namespace

std::optional<int> maybe_run_worker(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], detail::kWorkerFlag) != 0) return std::nullopt;
  const auto refuse = [](const std::string& why) {
    std::fprintf(stderr,
                 "scalelab: %s is internal: a processes pool starts it with the socket it made "
                 "(%s)\n",
                 detail::kWorkerFlag, why.c_str());
    return 2;
  };
  if (argc != 5) return refuse("expected a socket, a task board and an index");
  const auto fd = parse_fd(argv[2]);
  const auto board_fd = parse_fd(argv[3]);
  const auto index = parse_fd(argv[4]);
  if (!fd || !board_fd || !index) return refuse("not descriptor numbers");
  if (const std::string why = check_worker_socket(*fd); !why.empty()) return refuse(why);
  if (std::getenv(detail::kWorkerEnv) == nullptr) return refuse("not started by a pool");
  if (*board_fd < 3 || *board_fd == *fd) return refuse("no task board");
  detail::BoardEntry* entry =
      detail::TaskBoard::map_entry(*board_fd, static_cast<std::size_t>(*index));
  if (entry == nullptr) return refuse(fmt::format("fd {} is not a task board", *board_fd));
  ::unsetenv(detail::kWorkerEnv);  // it became a worker: pools it starts are its own
  detail::Channel channel(*fd);
  return detail::worker_loop(channel, nullptr, *entry);
}

}  // namespace scalelab
