#pragma once
// Signals in every phase of a run (SignalWatch), and the test hook that holds a phase open.

#include <pthread.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>

namespace scalelab::cli {

// Ctrl-C and SIGTERM from the start of a run to its exit. The signals are blocked in this
// thread (and so in every thread and worker started after it) and taken by one watching thread
// with sigtimedwait, which may do what a signal handler may not: request a stop. The run then
// ends at the next point that checks, writes its end record and final files and exits 130/143.
// Should that take longer than kStopDeadline (threads that will not stop, a report that takes
// long), the watcher says so and exits anyway: every record line already written is whole (one
// write per line) and final files appear by rename, so what is on disk stays valid. A second
// signal exits at once.
class SignalWatch {
 public:
  static constexpr auto kStopDeadline = std::chrono::milliseconds(1500);

  SignalWatch() {
    sigemptyset(&signals_);
    sigaddset(&signals_, SIGINT);
    sigaddset(&signals_, SIGTERM);
    ::pthread_sigmask(SIG_BLOCK, &signals_, &previous_);
    watcher_ = std::jthread([this](std::stop_token done) { watch(done); });
  }
  SignalWatch(const SignalWatch&) = delete;
  SignalWatch& operator=(const SignalWatch&) = delete;
  ~SignalWatch() {
    watcher_.request_stop();
    watcher_.join();
    // A signal that came after the watcher stopped is still pending: it is delivered (default
    // action) when the mask is restored, as it would have been without scalelab's handling.
    ::pthread_sigmask(SIG_SETMASK, &previous_, nullptr);
  }
  std::stop_token token() const { return stop_.get_token(); }
  int received() const { return received_.load(); }  ///< the first signal, 0 if none
  /// What the run is doing, for the line printed if it cannot stop in time.
  void phase(std::string text) {
    const std::lock_guard lock(mutex_);
    phase_ = std::move(text);
  }
  /// How to continue the run, once it has records ("scalelab run --resume DIR"): the line
  /// printed if the run cannot stop in time says so.
  void resume_hint(std::string command) {
    const std::lock_guard lock(mutex_);
    resume_hint_ = std::move(command);
  }
  /// The exit code for the signal received: 130 for SIGINT, 143 for SIGTERM.
  int exit_code() const { return received_.load() == SIGTERM ? 143 : 130; }

 private:
  void watch(const std::stop_token& done);

  sigset_t signals_{}, previous_{};
  std::stop_source stop_;
  std::atomic<int> received_{0};
  std::mutex mutex_;
  std::string phase_, resume_hint_;
  std::jthread watcher_;  // last: stopped and joined before the members it uses go
};

// For the tests of stopping in each phase: with SCALELAB_TEST_PAUSE_AT=PHASE in the
// environment, the run says "scalelab: paused at PHASE" on stderr when it reaches PHASE
// ("calibration", "analysis", "reports") and waits there, up to 30 s, for a stop request, then
// carries on with the phase, which must then honour the stop.
void pause_for_test(const char* phase, const std::stop_token& stop);

}  // namespace scalelab::cli
