#pragma once
// Test-only workloads and models, registered by the test main before any test runs, so that
// spawned workers (which exec this test binary) know them too.

#include <atomic>
#include <memory>
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
void register_fixtures();

}  // namespace scalelab::testing
