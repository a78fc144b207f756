#pragma once
/// \file gil.hpp
/// An emulated interpreter lock, modelled on CPython's GIL since 3.2 (Python/ceval_gil.c's
/// design: a drop request after the switch interval, forced switching), and the two calls a
/// workload makes to cooperate with it, as CPython's eval loop and C extensions do.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

namespace scalelab {

/// One interpreter's lock. Threads take it to run "interpreted" work; a holder checks
/// drop_requested() at regular points (gil_checkpoint) and hands over when asked. This class
/// is thread-safe.
class InterpreterLock {
 public:
  /// `switch_interval`: how long a waiting thread lets the holder run before it asks for the
  /// lock (CPython: sys.getswitchinterval(), 5 ms).
  explicit InterpreterLock(std::chrono::nanoseconds switch_interval);

  /// Blocks until the calling thread holds the lock. A thread that has waited a whole switch
  /// interval with no hand-over in between sets the drop request.
  void take();

  /// Releases the lock. If a drop was requested, waits until another thread has taken it, so
  /// the caller cannot take it straight back (CPython's FORCE_SWITCHING).
  void drop();

  /// Whether a waiting thread asked the holder to let go. Cheap; read without the mutex.
  bool drop_requested() const noexcept { return drop_request_.load(std::memory_order_relaxed); }

  /// Hands the lock over if a drop was requested (drop, then take): the eval breaker.
  void yield_if_requested();

  /// Hand-overs: times the lock was taken by a thread other than its last holder.
  std::uint64_t switches() const;
  /// Seconds threads spent waiting in take(), summed over threads.
  double wait_s() const;
  /// The longest time one thread held the lock without a break.
  double max_hold_s() const;
  /// Zeroes switches, wait time and the longest hold.
  void reset_counters();

 private:
  const std::chrono::nanoseconds interval_;
  mutable std::mutex mutex_;
  std::condition_variable released_;  // the lock became free (CPython: gil_cond)
  std::condition_variable switched_;  // another thread took it (CPython: switch_cond)
  bool locked_ = false;
  std::thread::id last_holder_;
  std::uint64_t switch_number_ = 0;  // hand-overs since construction; tells waits apart
  std::atomic<bool> drop_request_{false};
  std::chrono::steady_clock::time_point taken_at_;
  std::uint64_t switches_ = 0;
  std::chrono::nanoseconds waited_{0};
  std::chrono::nanoseconds max_hold_{0};
};

/// In a task's CPU work, a point where the emulated lock may change hands (CPython checks its
/// eval breaker between bytecodes). Does nothing unless the calling thread runs under the
/// `gil` model. Call it every few microseconds of work: more often costs time, less often
/// makes other threads wait longer than the switch interval.
void gil_checkpoint();

/// Releases the emulated lock for a blocking wait and takes it back at the end of the scope
/// (Py_BEGIN_ALLOW_THREADS … Py_END_ALLOW_THREADS). Does nothing outside the `gil` model.
class GilReleased {
 public:
  GilReleased();
  ~GilReleased();
  GilReleased(const GilReleased&) = delete;
  GilReleased& operator=(const GilReleased&) = delete;

 private:
  InterpreterLock* lock_;
};

/// While alive, the calling thread holds `lock` and gil_checkpoint/GilReleased act on it
/// (what a `gil` worker thread does around each task). Not re-entrant: a thread must not nest
/// two GilHeld on the same lock (CPython's GIL is not re-entrant either).
class GilHeld {
 public:
  explicit GilHeld(InterpreterLock& lock);
  ~GilHeld();
  GilHeld(const GilHeld&) = delete;
  GilHeld& operator=(const GilHeld&) = delete;

 private:
  InterpreterLock* lock_;
  InterpreterLock* previous_;
};

}  // namespace scalelab
