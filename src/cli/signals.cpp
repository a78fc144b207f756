// SignalWatch's watching thread, and the test hook.

#include "cli/signals.hpp"

#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <optional>

#include <fmt/format.h>

namespace scalelab::cli {

void SignalWatch::watch(const std::stop_token& done) {
  const timespec tick{0, 50'000'000};  // how often to look at the deadline and the end
  std::optional<std::chrono::steady_clock::time_point> stopping_since;
  while (!done.stop_requested()) {
    siginfo_t info{};
    const int signal = ::sigtimedwait(&signals_, &info, &tick);
    if (signal > 0) {
      if (received_.exchange(signal) != 0) {
        static constexpr char kNow[] = "\nscalelab: second signal: exiting now\n";
        [[maybe_unused]] const auto n = ::write(STDERR_FILENO, kNow, sizeof kNow - 1);
        ::_exit(128 + signal);
      }
      static constexpr char kNote[] =
          "\nscalelab: stopping: saving the finished trials (press Ctrl-C again to quit at "
          "once)\n";
      [[maybe_unused]] const auto n = ::write(STDERR_FILENO, kNote, sizeof kNote - 1);
      stopping_since = std::chrono::steady_clock::now();
      stop_.request_stop();
    }
    if (stopping_since && std::chrono::steady_clock::now() - *stopping_since > kStopDeadline) {
      std::string line;
      {
        const std::lock_guard lock(mutex_);
        line = fmt::format(
            "scalelab: could not stop within {} ms ({}); exiting now. Every record on disk is "
            "whole{}\n",
            kStopDeadline.count(), phase_.empty() ? "starting" : phase_,
            resume_hint_.empty() ? "" : fmt::format("; continue with: {}", resume_hint_));
      }
      [[maybe_unused]] const auto n = ::write(STDERR_FILENO, line.data(), line.size());
      ::_exit(128 + received_.load());
    }
  }
}

// For the tests of stopping in each phase: with SCALELAB_TEST_PAUSE_AT=PHASE in the
// environment, the run says "scalelab: paused at PHASE" on stderr when it reaches PHASE
// ("calibration", "analysis", "reports") and waits there, up to 30 s, for a stop request, then
// carries on with the phase, which must then honour the stop.
void pause_for_test(const char* phase, const std::stop_token& stop) {
  const char* wanted = std::getenv("SCALELAB_TEST_PAUSE_AT");
  if (wanted == nullptr || std::strcmp(wanted, phase) != 0) return;
  const std::string line = fmt::format("scalelab: paused at {}\n", phase);
  [[maybe_unused]] const auto n = ::write(STDERR_FILENO, line.data(), line.size());
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!stop.stop_requested() && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace scalelab::cli
