#pragma once
// The processes model's wire (src/models/processes.cpp): the framed messages between scalelab
// and a worker over its socket, their constants, and the Channel that reads and writes them.
// Internal to src/models/processes*.cpp.

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
#include "models/processes_board.hpp"
#include "scalelab/error.hpp"
#include "scalelab/parse.hpp"

namespace scalelab::detail::proc {

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

inline std::int64_t steady_ns(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

using Clock = std::chrono::steady_clock;

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

/// The worker's side: answers tasks until the parent closes the socket; returns the worker's
/// exit code. `workload` is the forked parent's, or null in a spawned worker (it is rebuilt
/// from the spec the parent sends).
int worker_loop(Channel& channel, const Workload* workload, BoardEntry& board);

}  // namespace scalelab::detail::proc
