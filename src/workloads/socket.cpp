// `socket`: real I/O over loopback. scalelab's own TCP server (socket_server.cpp) runs in a
// thread of the process that runs the trial, started before the clock; each task connects (or
// takes a connection its worker keeps: --connection per-worker), sends a 24-byte request and
// reads --payload bytes, which the server sends after --io-wait and whose content depends on
// the task. Every byte is checked as it arrives; the checksum is a hash of them. Blocking
// sockets under serial, threads, gil and processes; Asio sockets on the event loop under async.
//
// A loopback connection costs two descriptors in one process (the client's and the server's),
// so prepare() raises RLIMIT_NOFILE to its hard limit, and a task that runs out names it. A
// per-task connection is closed by the server first, once its reply is sent: the server's
// descriptor goes before the client's, and TIME_WAIT (a minute per closed connection) stays on
// the server's side, which has no ephemeral port to run out of.

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <coroutine>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/write.hpp>

#include "models/builtin.hpp"  // errno_text, resource_error_text
#include "scalelab/error.hpp"
#include "scalelab/gil.hpp"
#include "support/limits.hpp"
#include "workloads/builtin.hpp"
#include "workloads/socket_server.hpp"

namespace scalelab::detail {
namespace {

rlimit nofile() {
  rlimit limit{};
  ::getrlimit(RLIMIT_NOFILE, &limit);
  return limit;
}

// As far as the hard limit lets it.
void raise_nofile() {
  rlimit limit = nofile();
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
}

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24  // Linux 4.2; <netinet/in.h> of older C libraries lacks it
#endif

// Connections come from 64 addresses of 127/8 (the port picked at connect, per address):
// one source address would give the kernel's search for a free ephemeral port more to scan
// with each connection open (9000 at once took a second of system time in connect alone),
// and caps connections to one server at the ~28k ports of net.ipv4.ip_local_port_range.
sockaddr_in source_address(std::size_t task) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK + static_cast<std::uint32_t>(task % 64));
  address.sin_port = 0;
  return address;
}

// Binds a fresh socket to its source address, its port left to connect(); an errno on failure.
int bind_source(int fd, std::size_t task) {
  const int one = 1;
  ::setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
  const sockaddr_in source = source_address(task);
  return ::bind(fd, reinterpret_cast<const sockaddr*>(&source), sizeof source) == 0 ? 0 : errno;
}

// What a failed read or write says about the server: 0 is the end of the stream.
std::string peer_text(int error) {
  if (error == 0 || error == EPIPE) return "the server closed the connection";
  if (error == ECONNRESET) return "the server reset the connection";
  return errno_text(error);
}

// A connection that could not be made, in words that say what to change.
std::string connect_failure(int error, const std::string& server_state) {
  switch (error) {
    case EMFILE:
    case ENFILE:  // the limit that bit, read live, as every model names it
      return "socket: no descriptor for a connection: " +
             resource_error_text(Want::descriptor, error) +
             "; each loopback connection takes two when the server is in the same process";
    case EADDRNOTAVAIL:
      return "socket: no local port left for a connection (net.ipv4.ip_local_port_range)";
    case ECONNREFUSED:
      return "socket: the server refused the connection" + server_state;
    default:
      return fmt::format("socket: connect: {}{}", errno_text(error), server_state);
  }
}

// Connections kept open between tasks (--connection per-worker): a task takes an idle one or
// opens one, and gives it back when its reply is whole, so there are as many as tasks ran at
// once: one per worker.
class IdleConnections {
 public:
  IdleConnections() = default;
  IdleConnections(const IdleConnections&) = delete;
  IdleConnections& operator=(const IdleConnections&) = delete;
  ~IdleConnections() { close_all(); }
  int take() {
    const std::lock_guard lock(mutex_);
    if (fds_.empty()) return -1;
    const int fd = fds_.back();
    fds_.pop_back();
    return fd;
  }
  void give(int fd) {
    const std::lock_guard lock(mutex_);
    fds_.push_back(fd);
  }
  /// Returns how many it closed.
  long close_all() {
    const std::lock_guard lock(mutex_);
    for (const int fd : fds_) ::close(fd);
    const auto n = static_cast<long>(fds_.size());
    fds_.clear();
    return n;
  }

 private:
  std::mutex mutex_;
  std::vector<int> fds_;
};

// An Asio operation awaited from an Async task. A cancelled batch destroys the task's frame
// while the operation is pending: the destroyed awaiter unhooks the task, and the handler (run
// later with operation_aborted) resumes no one.
// Its completion lives apart from the task's frame, in a shared_ptr, and the handler resumes
// the task unless the frame has gone meanwhile.
struct AsioCompletion {
  std::coroutine_handle<> task;
  Loop* loop = nullptr;
  std::error_code error;
  std::size_t bytes = 0;
};

// The handler every operation gets: a connect's (error) and a read's or write's (error, bytes).
struct AsioResume {
  std::shared_ptr<AsioCompletion> c;
  void operator()(const std::error_code& error, std::size_t bytes = 0) const {
    if (!c->task) return;
    c->error = error;
    c->bytes = bytes;
    c->loop->update_time();  // the loop's clock is read per turn; this is one
    std::exchange(c->task, {}).resume();
  }
};

template <class Start>  // void(AsioResume): starts the operation
class AsioStep {
 public:
  AsioStep(Loop& loop, Start start) : loop_(loop), start_(std::move(start)) {}
  AsioStep(const AsioStep&) = delete;
  AsioStep& operator=(const AsioStep&) = delete;
  ~AsioStep() {
    if (c_) c_->task = {};
  }
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> task) {
    c_ = std::make_shared<AsioCompletion>();
    c_->task = task;
    c_->loop = &loop_;
    start_(AsioResume{c_});
  }
  std::pair<std::error_code, std::size_t> await_resume() const { return {c_->error, c_->bytes}; }

 private:
  Loop& loop_;
  Start start_;
  std::shared_ptr<AsioCompletion> c_;
};

class SocketWorkload final : public Workload {
 public:
  explicit SocketWorkload(WorkloadSpec spec)
      : spec_(std::move(spec)),
        wait_(spec_.params.duration("io_wait_s")),
        payload_(static_cast<std::uint32_t>(spec_.params.count("payload", 64))),
        reuse_(spec_.params.text("connection", "per-task") == "per-worker"),
        port_(static_cast<std::uint16_t>(spec_.params.count("server_port", 0))) {}
  const WorkloadSpec& spec() const override { return spec_; }
  Bound bound() const override { return Bound::wait; }
  std::uint64_t run(std::size_t task) const override;
  Async<std::uint64_t> run_async(std::size_t task, Loop& loop) const override;
  std::uint64_t expected_checksum(std::size_t task) const override {
    return reply_checksum(task, payload_);
  }
  // Before each trial: the server (once per process), and no connection kept from an earlier
  // trial, so that each trial's workers open theirs.
  void prepare() const override {
    start_server();
    connections_.fetch_sub(idle_.close_all(), std::memory_order_relaxed);
    if (server_) {
      server_->forget_refusals();  // an earlier trial's trouble is not this one's
      // Before the clock: the server's ends of connections closed by now (kept ones, a
      // cancelled trial's) go too; it sees each close in turn, and they count against the
      // same descriptor limit.
      const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
      while (static_cast<long>(server_->open()) > connections_.load(std::memory_order_relaxed) &&
             std::chrono::steady_clock::now() < until) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
    }
  }
  WorkloadSpec worker_spec() const override {
    start_server();
    WorkloadSpec spec = spec_;
    spec.params.set("server_port", port_);  // a spawned worker uses this process's server
    return spec;
  }
  OwnUsage own_usage() const override;
  void after_fork(bool in_child) const override {
    if (!in_child) return;
    // The copy of this process has the connections' descriptors but not the server's thread:
    // it connects to the parent's server, and leaves the parent's connections to the parent.
    connections_.fetch_sub(idle_.close_all(), std::memory_order_relaxed);
    if (server_) forked_server_ = std::move(server_);
    size_budget();  // the server's descriptors are the parent's
  }
  ~SocketWorkload() override {
    // A forked copy's server has no thread here: it must not be stopped (or joined) by a copy.
    (void)forked_server_.release();
  }

 private:
  void start_server() const {
    std::call_once(started_, [this] {
      raise_nofile();
      if (port_ == 0) {
        server_ = std::make_unique<SocketServer>();
        port_ = server_->port();
      }
      size_budget();
    });
  }
  void size_budget() const {
    constexpr std::uint64_t kReserve = 32;  // files the run writes, pipes to workers, and the like
    const Gauge nofile = read_limit_figures(Want::descriptor, EMFILE).nofile;
    const std::uint64_t limit = nofile.limit.value_or(1024), used = nofile.used.value_or(0);
    const std::uint64_t spare = limit > used + kReserve ? limit - used - kReserve : 0;
    constexpr std::uint64_t kMost = 1u << 30;  // no limit: as good as none
    fit_ = static_cast<long>(std::min(kMost, server_ ? spare / 2 : spare));
  }
  void open_one() const;
  struct Held {
    const SocketWorkload& workload;
    bool counted = false;
    ~Held() {
      if (counted) workload.closed_one();
    }
  };
  void closed_one() const { connections_.fetch_sub(1, std::memory_order_relaxed); }
  std::string server_state() const {
    if (!server_) return "";
    const std::string why = server_->failure();
    return why.empty() ? "" : " (" + why + ")";
  }
  int open_connection(std::size_t task) const;
  void close_connection(int fd, bool keep) const;
  std::uint64_t round_trip(int fd, std::size_t task) const;
  Async<bool> connect_async(asio::ip::tcp::socket& socket, Held& held, std::size_t task,
                            Loop& loop) const;
  Async<std::uint64_t> exchange_async(asio::ip::tcp::socket& socket, std::size_t task,
                                      Loop& loop) const;
  [[noreturn]] void reply_too_long(std::size_t task) const;
  [[noreturn]] void send_failed(std::size_t task, int error) const;
  [[noreturn]] void reply_failed(std::size_t task, std::uint64_t got, int error) const;
  void take_bytes(std::size_t task, std::uint64_t at, std::span<const std::byte> got,
                  ReplyHash& hash) const;
  std::array<std::byte, SocketRequest::kBytes> request_for(std::size_t task) const {
    std::array<std::byte, SocketRequest::kBytes> request;
    encode({payload_, task, static_cast<std::uint64_t>(wait_.count()), !reuse_}, request);
    return request;
  }

  WorkloadSpec spec_;
  std::chrono::nanoseconds wait_;
  std::uint32_t payload_;
  bool reuse_;
  mutable std::uint16_t port_;
  mutable std::once_flag started_;
  mutable std::unique_ptr<SocketServer> server_;
  mutable std::unique_ptr<SocketServer> forked_server_;
  mutable IdleConnections idle_;
  // Connections this process's tasks hold open (idle ones too), and how many fit within
  // RLIMIT_NOFILE: a task that would go past it fails naming the limit, before the server
  // (whose descriptors come out of the same limit) has to refuse connections.
  mutable std::atomic<long> connections_{0};
  mutable long fit_ = 0;
};

Workload::OwnUsage SocketWorkload::own_usage() const {
  if (!server_) return {};
  const SocketServerUsage u = server_->usage();
  return {u.user_s,
          u.sys_s,
          {{"server_cpu_s", u.user_s + u.sys_s},
           {"server_connections", static_cast<double>(u.accepted)},
           {"server_replies", static_cast<double>(u.replies)}}};
}

void SocketWorkload::open_one() const {
  if (connections_.fetch_add(1, std::memory_order_relaxed) < fit_) return;
  closed_one();
  const rlimit limit = nofile();
  throw Error(fmt::format(
      "socket: no file descriptors left for another connection: RLIMIT_NOFILE is {} (hard limit "
      "{}), which leaves room for {} connections open at once{}; raise the hard limit "
      "(ulimit -Hn) or use fewer workers",
      limit.rlim_cur, limit.rlim_max, fit_,
      server_ ? " (each takes two: the client's and the server's, both in this process)" : ""));
}

// A blocking connect that a signal interrupted goes on in the background: wait for it, and take
// its outcome (calling connect again would say only EALREADY).
int finish_connect(int fd) {
  pollfd wait{fd, POLLOUT, 0};
  while (::poll(&wait, 1, -1) < 0) {
    if (errno != EINTR) return errno;
  }
  int error = 0;
  socklen_t length = sizeof error;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) return errno;
  return error;
}

int SocketWorkload::open_connection(std::size_t task) const {
  if (reuse_) {
    if (const int fd = idle_.take(); fd >= 0) return fd;
  }
  open_one();
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    const int error = errno;
    closed_one();
    throw Error(connect_failure(error, server_state()));
  }
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port_);
  int error = bind_source(fd, task);
  if (error == 0 &&
      ::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    error = errno == EINTR ? finish_connect(fd) : errno;
  }
  if (error != 0) {
    ::close(fd);
    closed_one();
    throw Error(connect_failure(error, server_state()));
  }
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

// Kept for the worker's next task, or closed: after the server's close (per-task), so TIME_WAIT
// stays on the server's side; a connection that failed is reset.
void SocketWorkload::close_connection(int fd, bool keep) const {
  if (keep && reuse_) {
    idle_.give(fd);
    return;
  }
  if (!keep) {
    const linger reset{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
  }
  ::close(fd);
  closed_one();
}

void SocketWorkload::send_failed(std::size_t task, int error) const {
  throw Error(fmt::format("socket: sending task {}'s request: {}{}", task, peer_text(error),
                          server_state()));
}

void SocketWorkload::reply_failed(std::size_t task, std::uint64_t got, int error) const {
  const std::string how = peer_text(error);
  throw Error(fmt::format("socket: reading task {}'s reply: {} after {} of its {} bytes{}", task,
                          how, got, payload_, server_state()));
}

void SocketWorkload::reply_too_long(std::size_t task) const {
  throw Error(fmt::format("socket: task {}'s reply is longer than its {} bytes", task, payload_));
}

// Checks bytes [at, at + got.size()) of task `task`'s reply against what the server should send,
// and hashes them.
void SocketWorkload::take_bytes(std::size_t task, std::uint64_t at, std::span<const std::byte> got,
                                ReplyHash& hash) const {
  hash.add(got);
  std::array<std::byte, 4096> want;
  for (std::size_t done = 0; done < got.size();) {
    const std::size_t n = std::min(want.size(), got.size() - done);
    reply_bytes(task, at + done, std::span(want.data(), n));
    for (std::size_t i = 0; i < n; ++i) {
      if (got[done + i] != want[i]) {
        throw Error(
            fmt::format("socket: task {}'s reply is wrong at byte {}: 0x{:02x}, the server should "
                        "send 0x{:02x}",
                        task, at + done + i, static_cast<unsigned>(got[done + i]),
                        static_cast<unsigned>(want[i])));
      }
    }
    done += n;
  }
}

std::uint64_t SocketWorkload::round_trip(int fd, std::size_t task) const {
  const auto request = request_for(task);
  for (std::size_t sent = 0; sent < request.size();) {
    const ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) send_failed(task, n < 0 ? errno : EPIPE);
    sent += static_cast<std::size_t>(n);
  }
  ReplyHash hash;
  std::array<std::byte, 4096> buffer;
  for (std::uint64_t got = 0; got < payload_;) {
    const auto want =
        static_cast<std::size_t>(std::min<std::uint64_t>(buffer.size(), payload_ - got));
    const ssize_t n = ::recv(fd, buffer.data(), want, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) reply_failed(task, got, n == 0 ? 0 : errno);
    take_bytes(task, got, std::span(buffer.data(), static_cast<std::size_t>(n)), hash);
    got += static_cast<std::uint64_t>(n);
  }
  if (!reuse_) {
    // The server closes first: its end of the stream, read here, says the reply had no more.
    ssize_t n;
    do {
      n = ::recv(fd, buffer.data(), 1, 0);
    } while (n < 0 && errno == EINTR);
    if (n > 0) reply_too_long(task);
  }
  return hash.value();
}

std::uint64_t SocketWorkload::run(std::size_t task) const {
  start_server();
  const GilReleased released;  // blocking socket calls let other interpreter threads run
  const int fd = open_connection(task);
  try {
    const std::uint64_t checksum = round_trip(fd, task);
    close_connection(fd, true);
    return checksum;
  } catch (...) {
    close_connection(fd, false);
    throw;
  }
}

// Connects `socket` (fresh, or one the worker kept) and counts it in `held`.
Async<bool> SocketWorkload::connect_async(asio::ip::tcp::socket& socket, Held& held,
                                          std::size_t task, Loop& loop) const {
  std::error_code error;
  if (const int idle = reuse_ ? idle_.take() : -1; idle >= 0) {
    held.counted = true;
    socket.assign(asio::ip::tcp::v4(), idle, error);
    if (error) {
      ::close(idle);
      throw Error("socket: " + error.message());
    }
    co_return true;
  }
  open_one();
  held.counted = true;
  // Opened here rather than by Asio, which would leave it inherited across exec.
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    const int e = errno;
    throw Error(connect_failure(e, server_state()));
  }
  socket.assign(asio::ip::tcp::v4(), fd, error);
  if (error) {
    ::close(fd);
    throw Error("socket: " + error.message());
  }
  if (const int e = bind_source(socket.native_handle(), task); e != 0) {
    throw Error(connect_failure(e, server_state()));
  }
  const asio::ip::tcp::endpoint server(asio::ip::address_v4::loopback(), port_);
  std::tie(error, std::ignore) = co_await AsioStep(
      loop, [&](AsioResume resume) { socket.async_connect(server, std::move(resume)); });
  if (error) throw Error(connect_failure(error.value(), server_state()));
  socket.set_option(asio::ip::tcp::no_delay(true), error);
  co_return true;
}

// Sends task `task`'s request on `socket` and reads its reply, checking each byte; returns the
// hash of the bytes.
Async<std::uint64_t> SocketWorkload::exchange_async(asio::ip::tcp::socket& socket, std::size_t task,
                                                    Loop& loop) const {
  const auto request = request_for(task);
  std::error_code error;
  std::tie(error, std::ignore) = co_await AsioStep(loop, [&](AsioResume resume) {
    asio::async_write(socket, asio::buffer(request), std::move(resume));
  });
  if (error) send_failed(task, error.value());
  ReplyHash hash;
  std::array<std::byte, 512> buffer;  // in the frame: small, as many frames may be alive
  for (std::uint64_t got = 0; got < payload_;) {
    const auto want =
        static_cast<std::size_t>(std::min<std::uint64_t>(buffer.size(), payload_ - got));
    std::size_t n = 0;
    std::tie(error, n) = co_await AsioStep(loop, [&](AsioResume resume) {
      socket.async_read_some(asio::buffer(buffer.data(), want), std::move(resume));
    });
    if (error) reply_failed(task, got, error == asio::error::eof ? 0 : error.value());
    take_bytes(task, got, std::span(buffer.data(), n), hash);
    got += n;
  }
  if (!reuse_) {
    // The server closes first: its end of the stream, read here, says the reply had no more.
    std::size_t more = 0;
    std::tie(error, more) = co_await AsioStep(loop, [&](AsioResume resume) {
      socket.async_read_some(asio::buffer(buffer.data(), 1), std::move(resume));
    });
    if (more > 0) reply_too_long(task);
  }
  co_return hash.value();
}

Async<std::uint64_t> SocketWorkload::run_async(std::size_t task, Loop& loop) const {
  start_server();
  asio::ip::tcp::socket socket(loop.io());
  Held held{*this};  // the connection's count, given back when the frame goes (a cancel too)
  co_await connect_async(socket, held, task, loop);
  const std::uint64_t checksum = co_await exchange_async(socket, task, loop);
  std::error_code error;
  if (reuse_) {
    const int fd = socket.release(error);
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);  // Asio made it non-blocking
    idle_.give(fd);
    held.counted = false;  // still open, counted as idle
  }                        // else the server closed first: the socket closes with its frame
  co_return checksum;
}

Param payload_param() {
  Param payload{"payload", ParamKind::bytes, "64",
                "socket workload: the bytes of each task's reply", "reply of {} per task"};
  payload.min = 1;
  payload.max = SocketRequest::kMaxPayload;
  return payload;
}

Param connection_param() {
  Param connection{"connection", ParamKind::choice, "per-task",
                   "socket workload: each task opens a connection of its own (per-task) or "
                   "reuses one its worker keeps open (per-worker)",
                   "{} connections"};
  connection.choices = {"per-task", "per-worker"};
  return connection;
}

}  // namespace

WorkloadEntry workload_socket() {
  return {"socket",
          "a request over TCP to scalelab's own server on 127.0.0.1, which replies --payload "
          "bytes after --io-wait: blocking sockets, Asio sockets under async",
          [](const WorkloadSpec& spec) -> std::unique_ptr<Workload> {
            return std::make_unique<SocketWorkload>(spec);
          },
          {io_wait_param(), payload_param(), connection_param()}};
}

}  // namespace scalelab::detail
