#pragma once
// Test-only workloads and models, registered by the test main before any test runs, so that
// spawned workers (which exec this test binary) know them too.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "scalelab/scalelab.hpp"

namespace scalelab::testing {

/// `counting`: returns task * 7 + 1 and counts how often each task ran (this process only).
/// Registered with room for 100000 tasks.
std::vector<std::atomic<int>>& counting_runs();

/// `throw_at3`: like noop, but task 3 throws std::runtime_error("boom at task 3").
/// `sleep100ms`: sleeps 100 ms (blocking form) or awaits a 100 ms timer (async form).

/// `refuses_async`: like noop, but unsupported_by("async") gives a reason.
/// `corrupt`: a model that runs tasks serially but returns a wrong checksum for task 0.
/// `fault_KIND` (see fault_spec): a task that crashes, hangs, throws or eats memory.
void register_fixtures();

/// The faults a `fault_KIND` workload can have at its chosen task:
/// segv, abort, kill (SIGKILL, as the OOM killer sends), exit (std::exit(7)): the process dies;
/// hang: waits until release_hung_tasks() (async: awaits a timer that never fires, which
/// cancellation ends); block: like hang, but blocks the async loop too (not cancellable);
/// throw: throws std::runtime_error("fault at task K");
/// alloc: allocates and touches memory without bound (run it under RLIMIT_AS!).
inline const std::vector<std::string>& fault_kinds() {
  static const std::vector<std::string> kinds{"segv", "abort", "kill",  "exit",
                                              "hang", "block", "throw", "alloc"};
  return kinds;
}

/// The spec of workload `fault_<kind>`: every task returns its number after waiting `wait`
/// (a sleep, or an awaited timer under async), except task `at`, which faults. The task number
/// travels in the "cpu_iters" parameter (and `wait` in "io_wait_s"), so spawned workers rebuild
/// the same workload.
WorkloadSpec fault_spec(const std::string& kind, std::size_t at,
                        std::chrono::nanoseconds wait = std::chrono::nanoseconds(0));

/// Lets every `hang`/`block` task in this process return, waits until none is inside one, and
/// re-arms them for the next test.
void release_hung_tasks();

}  // namespace scalelab::testing
