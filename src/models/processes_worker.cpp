// The processes model's worker side: the loop a worker runs (forked or spawned), and
// maybe_run_worker, which turns a spawned scalelab into one.

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
namespace detail::proc {

namespace {

// Runs one task and queues its result; sends what is queued once the oldest unsent result is
// kFlushAfter old. False when the parent is gone.
bool run_task(Channel& channel, const Workload& workload, BoardEntry& board, std::uint64_t task,
              std::int64_t& oldest_unsent) {
  Frame reply{Kind::result};
  reply.task = task;
  std::string error;
  const auto start = std::chrono::steady_clock::now();
  board.store(task, std::memory_order_relaxed);
  try {
    reply.checksum = workload.run(task);
  } catch (...) {
    error = current_exception_text();
  }
  board.store(kIdle, std::memory_order_relaxed);
  reply.start_ns = steady_ns(start);
  reply.end_ns = steady_ns(std::chrono::steady_clock::now());
  if (!channel.pending()) oldest_unsent = reply.end_ns;
  channel.queue(reply, error);
  return reply.end_ns - oldest_unsent < kFlushAfter || channel.flush();
}

}  // namespace

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
      case Kind::task:
        if (!run_task(channel, *workload, board, frame.task, oldest_unsent)) return 0;
        break;
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

}  // namespace detail::proc

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
  if (argc < 2 || std::strcmp(argv[1], detail::proc::kWorkerFlag) != 0) return std::nullopt;
  const auto refuse = [](const std::string& why) {
    std::fprintf(stderr,
                 "scalelab: %s is internal: a processes pool starts it with the socket it made "
                 "(%s)\n",
                 detail::proc::kWorkerFlag, why.c_str());
    return 2;
  };
  if (argc != 5) return refuse("expected a socket, a task board and an index");
  const auto fd = parse_fd(argv[2]);
  const auto board_fd = parse_fd(argv[3]);
  const auto index = parse_fd(argv[4]);
  if (!fd || !board_fd || !index) return refuse("not descriptor numbers");
  if (const std::string why = check_worker_socket(*fd); !why.empty()) return refuse(why);
  if (std::getenv(detail::proc::kWorkerEnv) == nullptr) return refuse("not started by a pool");
  if (*board_fd < 3 || *board_fd == *fd) return refuse("no task board");
  detail::proc::BoardEntry* entry =
      detail::proc::TaskBoard::map_entry(*board_fd, static_cast<std::size_t>(*index));
  if (entry == nullptr) return refuse(fmt::format("fd {} is not a task board", *board_fd));
  ::unsetenv(detail::proc::kWorkerEnv);  // it became a worker: pools it starts are its own
  detail::proc::Channel channel(*fd);
  return detail::proc::worker_loop(channel, nullptr, *entry);
}

}  // namespace scalelab
