#pragma once
// The `socket` workload's wire format and its server: a TCP server on 127.0.0.1, in a thread of
// its own, that answers each request after the wait the request asks for with bytes that
// depend on the task, so that a client can tell a wrong reply from a right one.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

namespace scalelab::detail {

/// What a task sends: 24 bytes, little-endian, in this order.
struct SocketRequest {
  static constexpr std::uint32_t kMagic = 0x51524c53;       // "SLRQ": keep the connection
  static constexpr std::uint32_t kMagicClose = 0x43524c53;  // "SLRC": close it after the reply
  static constexpr std::size_t kBytes = 24;
  static constexpr std::uint32_t kMaxPayload = 64u << 20;
  std::uint32_t payload = 0;  ///< reply bytes asked for, at most kMaxPayload
  std::uint64_t task = 0;     ///< whose reply: its content depends on it
  std::uint64_t wait_ns = 0;  ///< how long the server waits before it replies
  /// The server closes the connection once the reply is sent: the server's descriptor goes
  /// before the client's (so the two never hold more than the client's count between them) and
  /// TIME_WAIT stays with the server's side, which has no ephemeral port to run out of.
  bool close = false;
};
void encode(const SocketRequest& request, std::span<std::byte, SocketRequest::kBytes> out);
/// Empty when the magic is wrong or the payload too large.
std::optional<SocketRequest> decode(std::span<const std::byte, SocketRequest::kBytes> in);

/// Bytes [offset, offset + out.size()) of task `task`'s reply, into `out`.
void reply_bytes(std::uint64_t task, std::uint64_t offset, std::span<std::byte> out);

/// FNV-1a over a reply's bytes, fed in pieces: the task's checksum.
class ReplyHash {
 public:
  void add(std::span<const std::byte> bytes) noexcept {
    for (std::byte b : bytes) h_ = (h_ ^ static_cast<std::uint64_t>(b)) * 0x100000001b3ULL;
  }
  std::uint64_t value() const noexcept { return h_; }

 private:
  std::uint64_t h_ = 0xcbf29ce484222325ULL;
};

/// The checksum of a right reply of `payload` bytes to task `task`.
std::uint64_t reply_checksum(std::uint64_t task, std::uint32_t payload);

/// What the server has done so far, and its thread's own CPU time (sampled after each round of
/// work, so exact whenever it is idle, as it is after a batch).
struct SocketServerUsage {
  double user_s = 0;
  double sys_s = 0;
  std::uint64_t accepted = 0;  ///< connections accepted
  std::uint64_t replies = 0;   ///< replies sent whole
  std::uint64_t open = 0;      ///< connections open now
};

/// The server: listens on 127.0.0.1 on a port the kernel picks, serves every connection from one
/// thread with epoll (edge-triggered; a timerfd for the replies' deadlines). Requests on one
/// connection are answered in turn. A connection that sends a bad request is closed; when the
/// server runs out of descriptors it closes the connection it could not take and says so in
/// failure(). Throws Error from the constructor when it cannot listen.
class SocketServer {
 public:
  SocketServer();
  ~SocketServer();
  SocketServer(const SocketServer&) = delete;
  SocketServer& operator=(const SocketServer&) = delete;

  std::uint16_t port() const noexcept { return port_; }
  /// Closes every connection and the listening socket, and joins the thread: clients waiting
  /// for a reply read the end of the stream. Idempotent.
  void stop();
  /// Whether it still serves (not stopped, and its thread did not fail).
  bool serving() const noexcept { return serving_.load(std::memory_order_acquire); }
  /// Why it stopped serving or what it refused, in one line; empty when neither happened.
  std::string failure() const;
  /// Forgets what it refused so far (a trial begins: its messages are about its own trouble);
  /// a server that stopped serving keeps saying why.
  void forget_refusals();
  /// Its counts are exact at any time (a reply is counted before its last byte goes, so a
  /// client that has it finds it counted); its CPU time as of its last round of work.
  SocketServerUsage usage() const;
  /// Connections open on the server's side now.
  std::uint64_t open() const noexcept { return open_.load(std::memory_order_acquire); }

 private:
  friend class ServerThread;
  void serve(std::vector<int> listeners);
  void fail(const std::string& why);
  void publish_cpu(double user_s, double sys_s);

  std::uint16_t port_ = 0;
  int epoll_ = -1, timer_ = -1, wake_ = -1;  // the listeners are the thread's
  std::atomic<bool> serving_{false};
  mutable std::mutex mutex_;  // guards failure_ and the CPU times
  std::string failure_;
  double user_s_ = 0, sys_s_ = 0;
  std::atomic<std::uint64_t> accepted_{0}, replies_{0}, open_{0};
  std::thread thread_;
};

}  // namespace scalelab::detail
