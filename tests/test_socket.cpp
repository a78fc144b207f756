// The socket workload and its server: the wire format, the reply's bytes, the server on its
// own, every model over real loopback connections (each byte checked), and each way it can
// fail: the server stopped mid-trial, a short or wrong reply, a descriptor limit too low, a
// timeout with sockets in flight.

#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "scalelab/error.hpp"
#include "scalelab/model.hpp"
#include "scalelab/trial.hpp"
#include "scalelab/workload.hpp"
#include "support/helpers.hpp"
#include "workloads/socket_server.hpp"  // src/: the test links scalelab_cli, which puts it on the path

namespace scalelab {
namespace {

using detail::SocketRequest;
using detail::SocketServer;
using testing::expected_for;
using namespace std::chrono_literals;

WorkloadSpec socket_spec(std::chrono::nanoseconds wait, std::uint64_t payload = 64,
                         const std::string& connection = "per-task", std::uint16_t port = 0) {
  WorkloadSpec spec{"socket", {}};
  spec.params.set_duration("io_wait_s", wait);
  spec.params.set("payload", payload);
  spec.params.set("connection", connection);
  if (port != 0) spec.params.set("server_port", port);
  return spec;
}

Trial trial_of(const Workload& w, const std::string& model, int workers, std::size_t tasks,
               const ModelOptions& options = {}, const RunControl& control = {}) {
  return run_trial(w, *make_model(model), model, workers, 0, tasks, expected_for(w, tasks), options,
                   control);
}

// A blocking client's socket connected to 127.0.0.1:port.
int connect_to(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

void send_request(int fd, const SocketRequest& request) {
  std::array<std::byte, SocketRequest::kBytes> bytes;
  detail::encode(request, bytes);
  ASSERT_EQ(::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL), 24);
}

// Reads until `n` bytes or the end of the stream.
std::vector<std::byte> read_up_to(int fd, std::size_t n) {
  std::vector<std::byte> got(n);
  std::size_t have = 0;
  while (have < n) {
    const ssize_t r = ::recv(fd, got.data() + have, n - have, 0);
    if (r <= 0) break;
    have += static_cast<std::size_t>(r);
  }
  got.resize(have);
  return got;
}

std::vector<std::byte> reply_of(std::uint64_t task, std::size_t n) {
  std::vector<std::byte> bytes(n);
  detail::reply_bytes(task, 0, bytes);
  return bytes;
}

TEST(SocketWire, ARequestRoundTripsAndAStrangerIsRefused) {
  std::array<std::byte, SocketRequest::kBytes> bytes;
  detail::encode({1000, 0x0102030405060708ULL, 20'000'000}, bytes);
  const auto back = detail::decode(bytes);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->payload, 1000u);
  EXPECT_EQ(back->task, 0x0102030405060708ULL);
  EXPECT_EQ(back->wait_ns, 20'000'000u);
  bytes[0] = std::byte{'G'};  // "GET /" is not a request of ours
  EXPECT_FALSE(detail::decode(bytes).has_value());
  detail::encode({SocketRequest::kMaxPayload + 1, 1, 0}, bytes);
  EXPECT_FALSE(detail::decode(bytes).has_value());
}

TEST(SocketWire, ReplyBytesAreTheSameInPiecesAndDifferByTask) {
  const auto whole = reply_of(7, 1000);
  for (const std::size_t at : {0u, 1u, 7u, 8u, 9u, 500u, 999u}) {
    std::vector<std::byte> piece(1000 - at);
    detail::reply_bytes(7, at, piece);
    EXPECT_TRUE(std::equal(piece.begin(), piece.end(), whole.begin() + static_cast<long>(at)))
        << "from byte " << at;
  }
  EXPECT_NE(reply_of(8, 1000), whole);
  detail::ReplyHash hash;
  hash.add(whole);
  EXPECT_EQ(hash.value(), detail::reply_checksum(7, 1000));
  EXPECT_NE(detail::reply_checksum(7, 1000), detail::reply_checksum(8, 1000));
  EXPECT_NE(detail::reply_checksum(7, 1000), detail::reply_checksum(7, 999));
}

TEST(SocketServerAlone, AnswersAfterTheWaitWithTheTasksBytesRequestAfterRequest) {
  SocketServer server;
  ASSERT_NE(server.port(), 0);
  const int fd = connect_to(server.port());
  ASSERT_GE(fd, 0);
  for (const std::uint64_t task : {3u, 4u}) {
    const auto t0 = std::chrono::steady_clock::now();
    send_request(fd, {100'000, task, 5'000'000});  // more than one socket buffer's worth
    const auto got = read_up_to(fd, 100'000);
    EXPECT_GE(std::chrono::steady_clock::now() - t0, 5ms);
    EXPECT_EQ(got, reply_of(task, 100'000)) << "task " << task;
  }
  ::close(fd);
  EXPECT_TRUE(server.serving());
  EXPECT_EQ(server.failure(), "");
  // Its counts are published after each round of work.
  for (int i = 0; i < 200 && server.usage().open > 0; ++i) std::this_thread::sleep_for(5ms);
  const auto usage = server.usage();
  EXPECT_EQ(usage.accepted, 1u);
  EXPECT_EQ(usage.replies, 2u);
  EXPECT_EQ(usage.open, 0u);
}

TEST(SocketServerAlone, ClosesAConnectionThatSendsWhatIsNotARequest) {
  SocketServer server;
  const int fd = connect_to(server.port());
  ASSERT_GE(fd, 0);
  const std::string http = "GET / HTTP/1.0\r\nHost: x\r\n\r\n";
  ASSERT_GT(::send(fd, http.data(), http.size(), MSG_NOSIGNAL), 0);
  EXPECT_TRUE(read_up_to(fd, 64).empty());  // the end of the stream, no reply
  ::close(fd);
  EXPECT_NE(server.failure().find("not scalelab's"), std::string::npos) << server.failure();
  EXPECT_TRUE(server.serving());  // the others are still served
  server.forget_refusals();       // as a new trial begins
  EXPECT_EQ(server.failure(), "");
  server.stop();
  server.forget_refusals();  // a stopped server keeps saying so
  EXPECT_EQ(server.failure(), "the socket server was stopped");
}

TEST(SocketServerAlone, StopEndsWaitingClientsWithTheEndOfTheStream) {
  SocketServer server;
  const int fd = connect_to(server.port());
  ASSERT_GE(fd, 0);
  send_request(fd, {64, 1, 10'000'000'000});  // 10 s: it is stopped long before
  std::this_thread::sleep_for(20ms);
  server.stop();
  EXPECT_TRUE(read_up_to(fd, 64).empty());
  ::close(fd);
  EXPECT_FALSE(server.serving());
  EXPECT_EQ(server.failure(), "the socket server was stopped");
  EXPECT_LT(connect_to(server.port()), 0) << "it no longer listens";
}

// Every model, each connection mode: every task once, every byte checked (the checksum is the
// hash of the bytes), and the server's counts apart from the trial's.
struct SocketCase {
  std::string model;
  std::string method;
  std::string connection;
};

class SocketModels : public ::testing::TestWithParam<SocketCase> {};

TEST_P(SocketModels, EveryTaskGetsItsOwnBytesBack) {
  const SocketCase& c = GetParam();
  const auto w = make_workload(socket_spec(2ms, 3000, c.connection));
  constexpr std::size_t kTasks = 60;
  constexpr int kWorkers = 4;
  const Trial t = trial_of(*w, c.model, kWorkers, kTasks, testing::with_start_method(c.method));
  ASSERT_EQ(t.error, "");
  EXPECT_TRUE(t.checksum_ok);
  EXPECT_EQ(t.tasks_done, kTasks);
  EXPECT_EQ(t.counters.at("server_replies"), static_cast<double>(kTasks));
  const double connections = t.counters.at("server_connections");
  if (c.connection == "per-task") {
    EXPECT_EQ(connections, static_cast<double>(kTasks));
  } else {
    EXPECT_GE(connections, 1.0);
    EXPECT_LE(connections, static_cast<double>(kWorkers));
  }
  EXPECT_GE(t.counters.at("server_cpu_s"), 0.0);
  // A second trial on the same workload opens its own connections again.
  const Trial again = trial_of(*w, c.model, kWorkers, kTasks, testing::with_start_method(c.method));
  ASSERT_EQ(again.error, "");
  EXPECT_GE(again.counters.at("server_connections"), 1.0);
}

std::string socket_case_name(const ::testing::TestParamInfo<SocketCase>& info) {
  std::string name = info.param.model + "_" + info.param.method + "_" + info.param.connection;
  for (char& ch : name) {
    if (ch == '-') ch = '_';
  }
  return name;
}

INSTANTIATE_TEST_SUITE_P(All, SocketModels,
                         ::testing::Values(SocketCase{"serial", "fork", "per-task"},
                                           SocketCase{"threads", "fork", "per-task"},
                                           SocketCase{"threads", "fork", "per-worker"},
                                           SocketCase{"gil", "fork", "per-task"},
                                           SocketCase{"async", "fork", "per-task"},
                                           SocketCase{"async", "fork", "per-worker"},
                                           SocketCase{"processes", "fork", "per-task"},
                                           SocketCase{"processes", "fork", "per-worker"},
                                           SocketCase{"processes", "spawn", "per-task"},
                                           SocketCase{"processes", "spawn", "per-worker"}),
                         socket_case_name);

TEST(SocketWorkload, ConnectionsKeptByAsyncServeBlockingWorkersAfterIt) {
  // Asio leaves a socket it released non-blocking; a blocking worker must not get EAGAIN.
  const auto w = make_workload(socket_spec(1ms, 64, "per-worker"));
  w->prepare();
  ASSERT_EQ(trial_of(*w, "async", 4, 20).error, "");
  // No prepare() in between, as when a caller runs trials back to back itself.
  const auto model = make_model("threads");
  const auto pool = model->start(*w, 4, {});
  const BatchResult batch = pool->run(20, {});
  for (std::size_t i = 0; i < batch.tasks.size(); ++i) {
    EXPECT_EQ(batch.tasks[i].error.str(), "") << "task " << i;
    EXPECT_EQ(batch.tasks[i].checksum, w->expected_checksum(i));
  }
}

// A server of the test's own, which the workload uses through its recorded port.
class ServerStopped : public ::testing::TestWithParam<std::string> {};

TEST_P(ServerStopped, MidTrialFailsTheTrialNamingTheServer) {
  SocketServer server;
  const auto w = make_workload(socket_spec(50ms, 64, "per-task", server.port()));
  std::thread stopper([&] {
    std::this_thread::sleep_for(120ms);
    server.stop();
  });
  const Trial t = trial_of(*w, GetParam(), 4, 40);
  stopper.join();
  EXPECT_FALSE(t.checksum_ok);
  EXPECT_NE(t.error.find("socket: "), std::string::npos) << t.error;
  EXPECT_TRUE(t.error.find("the server closed the connection") != std::string::npos ||
              t.error.find("the server reset the connection") != std::string::npos ||
              t.error.find("refused") != std::string::npos)
      << t.error;
}

INSTANTIATE_TEST_SUITE_P(Models, ServerStopped, ::testing::Values("threads", "async", "processes"));

// A server that answers every request with what `reply` gives for its task.
class FakeServer {
 public:
  explicit FakeServer(std::function<std::vector<std::byte>(std::uint64_t)> reply)
      : reply_(std::move(reply)) {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    ::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address);
    ::listen(listener_, 16);
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeServer() {
    ::shutdown(listener_, SHUT_RDWR);  // accept returns
    thread_.join();
    ::close(listener_);
  }
  std::uint16_t port() const { return port_; }

 private:
  void serve() {
    for (;;) {
      const int fd = ::accept(listener_, nullptr, nullptr);
      if (fd < 0) return;
      const auto request = read_up_to(fd, SocketRequest::kBytes);
      if (request.size() == SocketRequest::kBytes) {
        const auto decoded = detail::decode(std::span<const std::byte, 24>(request.data(), 24));
        const auto bytes = reply_(decoded ? decoded->task : 0);
        (void)::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      }
      ::close(fd);
    }
  }
  std::function<std::vector<std::byte>(std::uint64_t)> reply_;
  int listener_ = -1;
  std::uint16_t port_ = 0;
  std::thread thread_;
};

// The error of a trial of `tasks` tasks on `workers` workers of `model` against `fake`.
std::string error_against(const FakeServer& fake, const std::string& model, int workers,
                          std::size_t tasks) {
  const auto w = make_workload(socket_spec(1ms, 64, "per-task", fake.port()));
  return trial_of(*w, model, workers, tasks).error;
}

TEST(SocketWorkload, AShortReplyIsANamedError) {
  FakeServer fake([](std::uint64_t task) { return reply_of(task, 10); });
  for (const std::string model : {"serial", "async"}) {
    const std::string error = error_against(fake, model, 1, 3);
    EXPECT_NE(error.find("the server closed the connection after 10 of its 64 bytes"),
              std::string::npos)
        << model << ": " << error;
  }
}

TEST(SocketWorkload, AWrongReplyIsANamedErrorAtItsFirstWrongByte) {
  FakeServer fake([](std::uint64_t task) {
    auto bytes = reply_of(task, 64);
    bytes[17] ^= std::byte{0xff};
    return bytes;
  });
  for (const std::string model : {"threads", "async"}) {
    const std::string error = error_against(fake, model, 2, 4);
    EXPECT_NE(error.find("reply is wrong at byte 17"), std::string::npos) << model << ": " << error;
  }
}

TEST(SocketWorkload, AReplyLongerThanAskedIsANamedError) {
  FakeServer fake([](std::uint64_t task) { return reply_of(task, 65); });
  for (const std::string model : {"serial", "async"}) {
    const std::string error = error_against(fake, model, 1, 2);
    EXPECT_NE(error.find("reply is longer than its 64 bytes"), std::string::npos)
        << model << ": " << error;
  }
}

TEST(SocketWorkload, ADescriptorLimitTooLowNamesRlimitNofile) {
  const std::string said = testing::in_child([] {
    const rlimit low{120, 120};
    if (::setrlimit(RLIMIT_NOFILE, &low) != 0) return std::string("setrlimit failed");
    std::string out;
    for (const std::string model : {"async", "threads"}) {
      const auto w = make_workload(socket_spec(30ms));
      out += model + ": " + trial_of(*w, model, 100, 100).error + "\n";
    }
    return out;
  });
  EXPECT_NE(said.rfind("threw:", 0), 0u) << said;  // in_child's word for a child that threw
  std::size_t named = 0;
  for (std::size_t at = 0; (at = said.find("RLIMIT_NOFILE is 120", at)) != std::string::npos;
       ++at) {
    ++named;
  }
  EXPECT_EQ(named, 2u) << said;
}

TEST(SocketWorkload, TheTrialTimeoutCancelsTasksWithSocketsInFlight) {
  // The frames (and sockets) of tasks waiting on a reply are destroyed by the cancellation; the
  // handlers Asio runs afterwards must resume no one (ASan checks). Under a limit that fits
  // about 170 connections, a second cancelled trial of 150 finds every connection of the first
  // given back, or it would fail naming RLIMIT_NOFILE instead of timing out.
  const std::string said = testing::in_child([] {
    const rlimit low{400, 400};
    if (::setrlimit(RLIMIT_NOFILE, &low) != 0) return std::string("setrlimit failed");
    const auto w = make_workload(socket_spec(10s));
    RunControl control;
    control.timeout = 300ms;
    std::string out;
    for (int i = 0; i < 2; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      const Trial t = trial_of(*w, "async", 150, 150, {}, control);
      const auto took = std::chrono::steady_clock::now() - t0;
      out += t.error + (took < 8s ? "" : " (too slow)") + "\n";
    }
    const auto quick = make_workload(socket_spec(1ms));
    out += "then: " + trial_of(*quick, "async", 100, 300).error;
    return out;
  });
  EXPECT_EQ(said.find("RLIMIT_NOFILE"), std::string::npos) << said;
  EXPECT_EQ(said.find("too slow"), std::string::npos) << said;
  const auto first = said.find("timed out");
  ASSERT_NE(first, std::string::npos) << said;
  EXPECT_NE(said.find("timed out", first + 1), std::string::npos) << said;
  EXPECT_EQ(said.substr(said.size() - 6), "then: ") << said;  // the last trial succeeded
}

}  // namespace
}  // namespace scalelab
