// The socket workload's server: one thread, epoll edge-triggered, a timerfd for the replies'
// deadlines (a heap of them: requests of one wait arrive in deadline order, so a push is cheap).
// Each connection is a small state machine: reading its 24-byte request, waiting out the wait
// it asked for, writing the reply; then reading again.

#include "workloads/socket_server.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <queue>
#include <vector>

#include <fmt/format.h>

#include "models/builtin.hpp"  // errno_text, resource_error_text
#include "scalelab/error.hpp"
#include "support/limits.hpp"
#include "support/splitmix.hpp"

namespace scalelab::detail {

namespace {

void put(std::byte* at, std::uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) at[i] = static_cast<std::byte>(value >> (8 * i));
}
std::uint64_t get(const std::byte* at, int bytes) {
  std::uint64_t value = 0;
  for (int i = 0; i < bytes; ++i) value |= static_cast<std::uint64_t>(at[i]) << (8 * i);
  return value;
}

std::string call_failed(const char* call, int error) {
  return fmt::format("{}: {}", call, errno_text(error));
}

double seconds(const timeval& t) {
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) * 1e-6;
}

}  // namespace

void encode(const SocketRequest& request, std::span<std::byte, SocketRequest::kBytes> out) {
  put(out.data(), request.close ? SocketRequest::kMagicClose : SocketRequest::kMagic, 4);
  put(out.data() + 4, request.payload, 4);
  put(out.data() + 8, request.task, 8);
  put(out.data() + 16, request.wait_ns, 8);
}

std::optional<SocketRequest> decode(std::span<const std::byte, SocketRequest::kBytes> in) {
  const std::uint64_t magic = get(in.data(), 4);
  if (magic != SocketRequest::kMagic && magic != SocketRequest::kMagicClose) return std::nullopt;
  SocketRequest r;
  r.close = magic == SocketRequest::kMagicClose;
  r.payload = static_cast<std::uint32_t>(get(in.data() + 4, 4));
  r.task = get(in.data() + 8, 8);
  r.wait_ns = get(in.data() + 16, 8);
  if (r.payload > SocketRequest::kMaxPayload) return std::nullopt;
  return r;
}

// Byte i of a reply is byte i % 8 of splitmix64's word i / 8 of a stream seeded by the task.
void reply_bytes(std::uint64_t task, std::uint64_t offset, std::span<std::byte> out) {
  const std::uint64_t seed = task * kSplitMixGamma;
  std::uint64_t word_index = offset / 8;
  std::uint64_t word = SplitMix64(seed + word_index * kSplitMixGamma).next();
  for (std::size_t i = 0; i < out.size(); ++i) {
    const std::uint64_t at = offset + i;
    if (at / 8 != word_index) {
      word_index = at / 8;
      word = SplitMix64(seed + word_index * kSplitMixGamma).next();
    }
    out[i] = static_cast<std::byte>(word >> (8 * (at % 8)));
  }
}

std::uint64_t reply_checksum(std::uint64_t task, std::uint32_t payload) {
  ReplyHash hash;
  std::array<std::byte, 4096> chunk;
  for (std::uint64_t at = 0; at < payload;) {
    const std::size_t n =
        static_cast<std::size_t>(std::min<std::uint64_t>(chunk.size(), payload - at));
    reply_bytes(task, at, std::span(chunk.data(), n));
    hash.add(std::span(chunk.data(), n));
    at += n;
  }
  return hash.value();
}

// What the server's thread owns while it serves: the listeners and every connection.
class ServerThread {
 public:
  ServerThread(SocketServer& server, std::vector<int> listeners)
      : server_(server), listeners_(std::move(listeners)) {
    spare_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  }
  // shutdown() before close(): a process forked meanwhile (a processes worker) holds copies of
  // these descriptors, and a close alone would leave the sockets to those copies, open.
  ~ServerThread() {
    for (std::size_t fd = 0; fd < conns_.size(); ++fd) {
      if (conns_[fd].open) close_conn(static_cast<int>(fd));
    }
    for (const int listener : listeners_) {
      ::shutdown(listener, SHUT_RDWR);  // stops listening: a connect is refused from now on
      ::close(listener);
    }
    if (spare_ >= 0) ::close(spare_);
  }
  ServerThread(const ServerThread&) = delete;
  ServerThread& operator=(const ServerThread&) = delete;

  void run();

 private:
  enum class State : std::uint8_t { reading, waiting, writing };
  struct Conn {
    bool open = false;
    State state = State::reading;
    std::size_t have = 0;  // request bytes read so far
    std::array<std::byte, SocketRequest::kBytes> in{};
    SocketRequest request{};
    std::uint64_t sent = 0;
    bool counted = false;          // its reply is in server_.replies_ (its last piece is going)
    std::uint32_t generation = 0;  // tells a closed connection's deadline from its fd's reuse
  };
  using Clock = std::chrono::steady_clock;
  struct Due {
    Clock::time_point at;
    int fd;
    std::uint32_t generation;
    bool operator>(const Due& other) const { return at > other.at; }
  };

  void accept_all(int listener);
  void refuse_one(int listener);
  void pump(int fd);
  bool read_request(int fd, Conn& c);
  bool write_reply(int fd, Conn& c);
  void close_conn(int fd);
  void reply_due();
  void arm();
  void publish();

  SocketServer& server_;
  std::vector<int> listeners_;  // one port, SO_REUSEPORT: a queue of somaxconn each
  int spare_ = -1;  // kept to be given up when the descriptors run out (to refuse a connection)
  bool stalled_ = false;  // connections wait in the queue: no descriptor even to refuse them
  std::vector<Conn> conns_;
  std::priority_queue<Due, std::vector<Due>, std::greater<>> due_;
  Clock::time_point armed_for_ = Clock::time_point::min();
  Clock::time_point now_ = Clock::now();
  std::array<std::byte, 16384> out_{};
};

void ServerThread::run() {
  std::array<epoll_event, 256> events;
  for (;;) {
    arm();
    const int n = ::epoll_wait(server_.epoll_, events.data(), static_cast<int>(events.size()),
                               stalled_ ? 10 : -1);  // stalled: retry the queue in 10 ms
    if (n < 0) {
      if (errno == EINTR) continue;
      throw Error(call_failed("epoll_wait", errno));
    }
    now_ = Clock::now();
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      if (fd == server_.wake_) return;
      if (std::find(listeners_.begin(), listeners_.end(), fd) != listeners_.end()) {
        accept_all(fd);
      } else if (fd == server_.timer_) {
        std::uint64_t expirations = 0;
        (void)!::read(server_.timer_, &expirations, sizeof expirations);
        reply_due();
      } else if (static_cast<std::size_t>(fd) < conns_.size() && conns_[fd].open) {
        const bool waiting = conns_[static_cast<std::size_t>(fd)].state == State::waiting;
        if ((events[i].events & EPOLLERR) ||
            (waiting && (events[i].events & (EPOLLRDHUP | EPOLLHUP)))) {
          close_conn(fd);  // gone, or gone while its reply waits: its descriptor goes now
        } else {
          pump(fd);
        }
      }
    }
    if (stalled_) {
      spare_ = spare_ >= 0 ? spare_ : ::open("/dev/null", O_RDONLY | O_CLOEXEC);
      stalled_ = false;
      for (const int listener : listeners_) accept_all(listener);
    }
    publish();
  }
}

void ServerThread::accept_all(int listener) {
  for (;;) {
    const int fd = ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE) {
        refuse_one(listener);
        stalled_ = spare_ < 0;  // could not even refuse: tried again after the next events
        if (stalled_) return;
        continue;
      }
      throw Error(call_failed("accept", errno));
    }
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.fd = fd;
    if (::epoll_ctl(server_.epoll_, EPOLL_CTL_ADD, fd, &ev) != 0) {
      const int error = errno;
      ::close(fd);
      throw Error(call_failed("epoll_ctl", error));
    }
    if (static_cast<std::size_t>(fd) >= conns_.size())
      conns_.resize(static_cast<std::size_t>(fd) + 1);
    Conn& c = conns_[static_cast<std::size_t>(fd)];
    const std::uint32_t generation = c.generation;
    c = Conn{};
    c.open = true;
    c.generation = generation;
    server_.accepted_.fetch_add(1, std::memory_order_relaxed);
    server_.open_.fetch_add(1, std::memory_order_acq_rel);
    pump(fd);  // its request may be in already
  }
}

// Out of descriptors: the connection at the head of the queue is taken with the spare
// descriptor and closed at once, so that its client reads an end rather than wait forever.
void ServerThread::refuse_one(int listener) {
  server_.fail("the socket server ran out of descriptors and refused connections: " +
               resource_error_text(Want::descriptor, EMFILE) +
               "; a loopback connection takes two descriptors in one process");
  if (spare_ < 0) return;
  ::close(spare_);
  const int fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
  if (fd >= 0) ::close(fd);
  spare_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
}

// Runs a connection's state machine as far as its socket lets it.
void ServerThread::pump(int fd) {
  Conn& c = conns_[static_cast<std::size_t>(fd)];
  for (;;) {
    switch (c.state) {
      case State::reading:
        if (!read_request(fd, c)) return;
        break;
      case State::waiting:
        return;
      case State::writing:
        if (!write_reply(fd, c)) return;
        break;
    }
  }
}

// Reads what there is of a request; true when it moved the connection on.
bool ServerThread::read_request(int fd, Conn& c) {
  for (;;) {
    const ssize_t n = ::recv(fd, c.in.data() + c.have, c.in.size() - c.have, 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
      close_conn(fd);  // the client left (or reset): not the server's failure
      return false;
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    c.have += static_cast<std::size_t>(n);
    if (c.have < c.in.size()) continue;
    c.have = 0;
    const auto request = decode(c.in);
    if (!request) {
      server_.fail("a client sent the socket server a request that is not scalelab's");
      close_conn(fd);
      return false;
    }
    c.request = *request;
    c.sent = 0;
    if (request->wait_ns == 0) {
      c.state = State::writing;
    } else {
      c.state = State::waiting;
      due_.push({now_ + std::chrono::nanoseconds(request->wait_ns), fd, c.generation});
    }
    return true;
  }
}

// Writes what the socket takes of the reply; true when it is all sent.
bool ServerThread::write_reply(int fd, Conn& c) {
  while (c.sent < c.request.payload) {
    const std::size_t n =
        static_cast<std::size_t>(std::min<std::uint64_t>(out_.size(), c.request.payload - c.sent));
    reply_bytes(c.request.task, c.sent, std::span(out_.data(), n));
    if (c.sent + n == c.request.payload && !c.counted) {
      // Counted before the client can have it all; taken back if the connection fails.
      c.counted = true;
      server_.replies_.fetch_add(1, std::memory_order_release);
    }
    const ssize_t sent = ::send(fd, out_.data(), n, MSG_NOSIGNAL);
    if (sent > 0) {
      c.sent += static_cast<std::uint64_t>(sent);
    } else if (sent < 0 && errno == EINTR) {
      continue;
    } else if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return false;  // the EPOLLOUT edge brings it back
    } else {
      close_conn(fd);
      return false;
    }
  }
  c.counted = false;  // the next request's reply is counted afresh
  if (c.request.close) {
    close_conn(fd);
    return false;
  }
  c.state = State::reading;
  return true;
}

void ServerThread::close_conn(int fd) {
  Conn& c = conns_[static_cast<std::size_t>(fd)];
  if (c.counted) server_.replies_.fetch_sub(1, std::memory_order_relaxed);  // never sent whole
  // A forked worker may hold a copy of the socket: shutdown() ends the connection for it too,
  // and the epoll entry (which follows the socket, not the descriptor) goes before the number
  // can be reused.
  ::epoll_ctl(server_.epoll_, EPOLL_CTL_DEL, fd, nullptr);
  ::shutdown(fd, SHUT_RDWR);
  ::close(fd);
  c.open = false;
  c.counted = false;
  ++c.generation;
  server_.open_.fetch_sub(1, std::memory_order_acq_rel);
}

void ServerThread::reply_due() {
  now_ = Clock::now();
  while (!due_.empty() && due_.top().at <= now_) {
    const Due due = due_.top();
    due_.pop();
    Conn& c = conns_[static_cast<std::size_t>(due.fd)];
    if (!c.open || c.generation != due.generation || c.state != State::waiting) continue;
    c.state = State::writing;
    pump(due.fd);
  }
}

// Keeps the timerfd set for the earliest deadline.
void ServerThread::arm() {
  const Clock::time_point next = due_.empty() ? Clock::time_point::max() : due_.top().at;
  if (next == armed_for_) return;
  armed_for_ = next;
  itimerspec spec{};
  if (next != Clock::time_point::max()) {
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(next.time_since_epoch());
    spec.it_value.tv_sec = static_cast<time_t>(ns.count() / 1'000'000'000);
    spec.it_value.tv_nsec = static_cast<long>(ns.count() % 1'000'000'000);
    if (spec.it_value.tv_sec == 0 && spec.it_value.tv_nsec == 0) spec.it_value.tv_nsec = 1;
  }
  // steady_clock is CLOCK_MONOTONIC on Linux; all-zero disarms.
  if (::timerfd_settime(server_.timer_, TFD_TIMER_ABSTIME, &spec, nullptr) != 0) {
    throw Error(call_failed("timerfd_settime", errno));
  }
}

void ServerThread::publish() {
  rusage self{};
  ::getrusage(RUSAGE_THREAD, &self);
  server_.publish_cpu(seconds(self.ru_utime), seconds(self.ru_stime));
}

// Several listening sockets on one port (SO_REUSEPORT): the kernel spreads connections over
// them, and each has its own accept queue of net.core.somaxconn (4096 here). With one, 5000
// threads connecting at once overflowed it and the SYNs it dropped were sent again a second
// later (1.13 s for a 20 ms trial).
constexpr int kListeners = 8;

SocketServer::SocketServer() {
  std::vector<int> listeners;
  const auto give_up = [&](const char* call) {
    const int error = errno;
    for (const int fd : listeners) ::close(fd);
    for (const int fd : {epoll_, timer_, wake_}) {
      if (fd >= 0) ::close(fd);
    }
    throw Error("socket server: " + call_failed(call, error));
  };
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;  // the kernel picks, for the first; the others share it
  for (int i = 0; i < kListeners; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) give_up("socket");
    listeners.push_back(fd);
    const int one = 1;
    if (::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) give_up("setsockopt");
    if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) give_up("bind");
    if (::listen(fd, 65535) != 0) give_up("listen");  // capped by net.core.somaxconn
    socklen_t length = sizeof address;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      give_up("getsockname");
    }
  }
  port_ = ntohs(address.sin_port);
  epoll_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_ < 0) give_up("epoll_create1");
  timer_ = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (timer_ < 0) give_up("timerfd_create");
  wake_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_ < 0) give_up("eventfd");
  std::vector<int> watched = listeners;
  watched.push_back(timer_);
  watched.push_back(wake_);
  for (const int fd : watched) {
    epoll_event ev{};
    ev.events = fd == timer_ || fd == wake_ ? EPOLLIN : (EPOLLIN | EPOLLET);
    ev.data.fd = fd;
    if (::epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &ev) != 0) give_up("epoll_ctl");
  }
  serving_.store(true, std::memory_order_release);
  thread_ = std::thread(
      [this, listeners = std::move(listeners)]() mutable { serve(std::move(listeners)); });
}

SocketServer::~SocketServer() {
  stop();
  ::close(epoll_);
  ::close(timer_);
  ::close(wake_);
}

void SocketServer::serve(std::vector<int> listeners) {
  try {
    ServerThread thread(*this, std::move(listeners));
    thread.run();
  } catch (const std::exception& e) {
    fail(fmt::format("the socket server failed: {}", e.what()));
  }
  // Every connection is closed by now (ServerThread's destructor): waiting clients read an end.
  serving_.store(false, std::memory_order_release);
}

void SocketServer::stop() {
  if (!thread_.joinable()) return;
  const std::uint64_t one = 1;
  (void)!::write(wake_, &one, sizeof one);
  thread_.join();
  serving_.store(false, std::memory_order_release);
  const std::lock_guard lock(mutex_);
  if (failure_.empty()) failure_ = "the socket server was stopped";
}

void SocketServer::fail(const std::string& why) {
  const std::lock_guard lock(mutex_);
  if (failure_.empty()) failure_ = why;
}

void SocketServer::publish_cpu(double user_s, double sys_s) {
  const std::lock_guard lock(mutex_);
  user_s_ = user_s;
  sys_s_ = sys_s;
}

void SocketServer::forget_refusals() {
  const std::lock_guard lock(mutex_);
  if (serving()) failure_.clear();
}

std::string SocketServer::failure() const {
  const std::lock_guard lock(mutex_);
  return failure_;
}

SocketServerUsage SocketServer::usage() const {
  SocketServerUsage u;
  {
    const std::lock_guard lock(mutex_);
    u.user_s = user_s_;
    u.sys_s = sys_s_;
  }
  u.accepted = accepted_.load(std::memory_order_acquire);
  u.replies = replies_.load(std::memory_order_acquire);
  u.open = open_.load(std::memory_order_acquire);
  return u;
}

}  // namespace scalelab::detail
