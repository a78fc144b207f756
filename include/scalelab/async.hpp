#pragma once
/// \file async.hpp
/// The `async` model's event loop as a task sees it, and the coroutine type its tasks are
/// written in. Built for a million tasks in flight on one thread: coroutine frames come from
/// the loop's own pool (size classes, reused, no malloc per task), and every sleep goes into one
/// timer queue of the loop, in which sleeps of one duration form a run that is sorted by
/// construction (one deque append each), driven by a single Asio timer.
///
/// The loop's clock is the libuv rule (`uv_now`, `uv_update_time`): it is read when a turn of
/// the loop begins, and tasks that start in one turn share that time and count their sleeps
/// from it. A task that computes before it sleeps calls Loop::update_time() first, as the
/// built-in workloads do, or its sleep is shortened by its own computing. A task's end is read
/// off the clock afresh (every 16 ends, at most, within one turn of many), so per-task spans
/// show how long the loop took to get round to each task.
///
/// Cancellation destroys the sleeping tasks rather than throwing into each: a frame's destroy is
/// tens of nanoseconds, an exception's unwinding microseconds, and a timeout must end 1M tasks in
/// flight well within its grace period. A sleep begun after the cancellation throws Cancelled.
///
/// Everything here is for the loop's own thread, except what is posted to io().

#include <chrono>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <new>
#include <stdexcept>
#include <utility>
#include <vector>

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>

namespace scalelab {

class Loop;

/// What a sleep begun after its batch was cancelled throws (the trial's timeout, a stop).
class Cancelled : public std::runtime_error {
 public:
  Cancelled() : std::runtime_error("cancelled") {}
};

namespace detail {

/// Coroutine frames of one loop: 16-byte size classes up to 1 KiB carved from 256 KiB slabs and
/// reused through free lists; larger frames go to operator new. Freed with the loop.
class FramePool {
 public:
  FramePool() = default;
  FramePool(const FramePool&) = delete;
  FramePool& operator=(const FramePool&) = delete;
  void* allocate(std::size_t size);
  void deallocate(void* frame, std::size_t size) noexcept;
  /// Most bytes of frames alive at once (with their headers, rounded to the size class).
  std::size_t peak_bytes() const noexcept { return peak_; }

 private:
  static constexpr std::size_t kGrain = 16;
  static constexpr std::size_t kClasses = 64;  // up to 1 KiB
  static constexpr std::size_t kSlab = 256 * 1024;
  struct FreeFrame {
    FreeFrame* next;
  };
  FreeFrame* free_[kClasses] = {};
  std::vector<std::unique_ptr<std::byte[]>> slabs_;
  std::byte* cursor_ = nullptr;
  std::size_t left_ = 0;
  std::size_t in_use_ = 0;
  std::size_t peak_ = 0;
};

/// Who is told when a top-level task (one the loop started, not one awaited by another) ends:
/// returns what to run next on the loop's thread (symmetric transfer; noop for nothing).
class TaskOwner {
 public:
  virtual std::coroutine_handle<> task_ended() noexcept = 0;

 protected:
  ~TaskOwner() = default;
};

FramePool* frame_pool_of(Loop& loop) noexcept;

/// The part of every Async promise that does not depend on its value.
struct PromiseBase {
  /// Who is waiting for it: the awaiting coroutine, or (at the top level) its owner, which is
  /// told when it ends. One word, with flags in its low bits (frames and owners are aligned to
  /// 8): a million frames are a million words, and a frame of 113 bytes takes the next size.
  void set_continuation(std::coroutine_handle<> awaiting) noexcept {
    link_ = reinterpret_cast<std::uintptr_t>(awaiting.address()) | (link_ & kEnded);
  }
  void set_owner(TaskOwner* owner) noexcept {
    link_ = reinterpret_cast<std::uintptr_t>(owner) | kOwner | (link_ & kEnded);
  }
  /// Whether the coroutine returned a value, or threw.
  bool returned() const noexcept { return (link_ & kReturned) != 0; }
  bool threw() const noexcept { return (link_ & kThrew) != 0; }

  // A frame's 16-byte header says which pool it came from (null: operator new). The pool is
  // the Loop among the coroutine's parameters, when there is one.
  template <class... Args>
  static void* operator new(std::size_t size, const Args&... args) {
    Loop* loop = nullptr;
    ((loop = loop != nullptr ? loop : loop_among(args)), ...);
    return allocate_frame(size, loop);
  }
  static void operator delete(void* frame, std::size_t size) noexcept;
  static void* allocate_frame(std::size_t size, Loop* loop);

  struct FinalAwaiter {
    bool await_ready() const noexcept { return false; }
    template <class Promise>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<Promise> self) noexcept {
      const std::uintptr_t link = self.promise().link_;
      const std::uintptr_t to = link & ~kFlags;
      if (link & kOwner) return reinterpret_cast<TaskOwner*>(to)->task_ended();
      if (to != 0) return std::coroutine_handle<>::from_address(reinterpret_cast<void*>(to));
      return std::noop_coroutine();
    }
    void await_resume() const noexcept {}
  };
  std::suspend_always initial_suspend() const noexcept { return {}; }
  FinalAwaiter final_suspend() const noexcept { return {}; }

 protected:
  static constexpr std::uintptr_t kOwner = 1, kReturned = 2, kThrew = 4;
  static constexpr std::uintptr_t kEnded = kReturned | kThrew, kFlags = 7;
  std::uintptr_t link_ = 0;

 private:
  static Loop* loop_among(const Loop& loop) noexcept { return const_cast<Loop*>(&loop); }
  template <class T>
  static Loop* loop_among(const T&) noexcept {
    return nullptr;
  }
};

}  // namespace detail

/// A task on the loop: a lazy coroutine returning T, started when awaited (or by the loop).
/// Move-only; destroying it destroys the coroutine. Its frame comes from the loop's pool when
/// one of the coroutine's parameters is the Loop (a workload's run_async takes it).
template <class T>
class [[nodiscard]] Async {
 public:
  // What it returned or threw, in one slot: the frame stays within its size class.
  struct promise_type : detail::PromiseBase {
    promise_type() noexcept {}
    promise_type(const promise_type&) = delete;
    promise_type& operator=(const promise_type&) = delete;
    ~promise_type() {
      if (returned()) value_.~T();
      if (threw()) error_.~exception_ptr();
    }
    Async get_return_object() noexcept {
      return Async(std::coroutine_handle<promise_type>::from_promise(*this));
    }
    void return_value(T v) {
      new (&value_) T(std::move(v));
      link_ |= kReturned;
    }
    void unhandled_exception() noexcept {
      new (&error_) std::exception_ptr(std::current_exception());
      link_ |= kThrew;
    }
    /// What it threw; null when it returned (or has not ended).
    std::exception_ptr error() const noexcept { return threw() ? error_ : nullptr; }
    /// What it returned (call only when returned()).
    T& value() noexcept { return value_; }
    /// Its value, or what it threw rethrown.
    T take() {
      if (threw()) std::rethrow_exception(error_);
      return std::move(value_);
    }

   private:
    union {
      T value_;
      std::exception_ptr error_;
    };
  };
  using Handle = std::coroutine_handle<promise_type>;

  Async() = default;
  explicit Async(Handle handle) noexcept : handle_(handle) {}
  Async(Async&& other) noexcept : handle_(std::exchange(other.handle_, {})) {}
  Async& operator=(Async&& other) noexcept {
    if (this != &other) {
      reset();
      handle_ = std::exchange(other.handle_, {});
    }
    return *this;
  }
  ~Async() { reset(); }

  bool await_ready() const noexcept { return false; }
  std::coroutine_handle<> await_suspend(std::coroutine_handle<> awaiting) noexcept {
    handle_.promise().set_continuation(awaiting);
    return handle_;
  }
  T await_resume() { return handle_.promise().take(); }

  /// The coroutine, for the loop that starts it.
  Handle handle() const noexcept { return handle_; }
  void reset() noexcept {
    if (handle_) std::exchange(handle_, {}).destroy();
  }

 private:
  Handle handle_{};
};

/// One thread's event loop: a timer queue and an Asio io_context (for sockets), its frame pool,
/// and the batch's cancellation. Not thread-safe: other threads post to io().
class Loop {
 public:
  using Clock = std::chrono::steady_clock;

  /// The awaitable Loop::sleep returns. It is the timer queue's entry, too: it lives in the
  /// sleeping task's frame, so a sleep costs the queue one pointer.
  class SleepAwaiter {
   public:
    SleepAwaiter(Loop& loop, Clock::time_point deadline) noexcept
        : loop_(loop), deadline_(deadline) {}
    bool await_ready() const noexcept { return loop_.cancelled_; }
    void await_suspend(std::coroutine_handle<> task) {
      task_ = task;
      loop_.add_timer(*this);
    }
    void await_resume() const {
      if (loop_.cancelled_) throw Cancelled();
    }

   private:
    friend class Loop;
    Loop& loop_;
    Clock::time_point deadline_;
    std::coroutine_handle<> task_;
  };

  Loop();
  ~Loop();
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  /// The loop's clock: read when a turn begins, and by update_time().
  Clock::time_point now() const noexcept { return now_; }
  /// Reads the clock afresh; a task that has computed calls it before it sleeps.
  void update_time() noexcept { now_ = Clock::now(); }
  /// Awaitable: resumes the task `duration` after now(); throws Cancelled at once if the batch
  /// is already cancelled. A duration of 0 or less waits for the next turn.
  SleepAwaiter sleep(std::chrono::nanoseconds duration) noexcept {
    return {*this, now_ + std::max(duration, std::chrono::nanoseconds(0))};
  }
  /// Awaitable: resumes the task at `deadline` (time_point::max(): only a cancellation does).
  SleepAwaiter sleep_until(Clock::time_point deadline) noexcept { return {*this, deadline}; }
  /// Whether the batch has been cancelled: a task that waits on something else (a socket)
  /// checks it when it wakes.
  bool cancelled() const noexcept { return cancelled_; }
  /// The io_context the loop turns, for Asio sockets and timers of a task's own.
  asio::io_context& io() noexcept { return io_; }

  /// Runs `task` to its end on this loop, on the calling thread; returns what it returned or
  /// rethrows what it threw. For tests and tools; the async model runs its batches itself.
  template <class T>
  T run(Async<T> task);

  // For the async model.
  /// Runs `first` as the first turn (it starts the batch's tasks, which are owned by the
  /// caller), then turns until no task sleeps and Asio has nothing left to do, or io().stop().
  template <class First>
  void run_turns(First&& first) {
    begin_turn();
    first();
    end_turn();
    run_io();
  }
  /// Cancels the batch, on the loop's thread: forgets every sleeper, then calls `on_cancel`,
  /// which destroys the owners' top-level tasks (and with them the sleepers' frames).
  template <class OnCancel>
  void cancel(OnCancel&& on_cancel) {
    if (cancelled_) return;
    forget_sleepers();
    cancelled_ = true;
    on_cancel();
  }
  /// Clears what run_turns left when it was stopped (a cut-short batch): forgets the sleepers
  /// (their owners destroy them) and resets the cancellation.
  void clear();
  /// The clock for stamping a task's end: read afresh, except within a turn that ends many
  /// tasks, where it is read once every 16 ends.
  Clock::time_point end_time() noexcept {
    if (ends_this_turn_++ % 16 == 0) now_ = Clock::now();
    return now_;
  }
  /// The longest turn so far, seconds (how long the loop kept every task waiting at once).
  double longest_turn_s() const noexcept { return longest_turn_s_; }
  /// Most bytes of coroutine frames alive at once.
  std::size_t frame_peak_bytes() const noexcept { return frames_.peak_bytes(); }
  /// Tasks waiting in the timer queue now.
  std::size_t sleepers() const noexcept;

 private:
  friend detail::FramePool* detail::frame_pool_of(Loop& loop) noexcept;
  using Timer = SleepAwaiter*;
  // Sleeps of one length (deadline − now() when they began), in deadline order: the clock
  // never goes back, so appending keeps a run sorted.
  struct Run {
    Clock::duration length;
    std::deque<Timer> timers;
  };
  static constexpr std::size_t kRuns = 8;

  void add_timer(SleepAwaiter& sleep);
  static bool later(const SleepAwaiter* a, const SleepAwaiter* b) noexcept;
  void begin_turn() noexcept;
  void end_turn();
  void run_io();
  void on_timer(const std::error_code& error);
  void arm();
  void resume_due();
  void forget_sleepers();
  void resume_front(std::size_t run, std::size_t count);
  Clock::time_point next_deadline() const noexcept;

  detail::FramePool frames_;
  Clock::time_point now_;
  bool cancelled_ = false;
  std::vector<Run> runs_;
  std::size_t last_run_ = 0;
  std::vector<Timer> heap_;  // sleeps that fit no run: a min-heap on the deadline
  std::vector<Timer> due_;   // the heap's sleepers due this turn
  std::size_t ends_this_turn_ = 0;
  Clock::time_point turn_began_;
  double longest_turn_s_ = 0;
  bool armed_ = false;  // the Asio timer waits, for armed_for_
  Clock::time_point armed_for_ = Clock::time_point::max();
  asio::io_context io_{1};
  asio::steady_timer timer_{io_};
};

namespace detail {
class RunOwner final : public TaskOwner {
 public:
  std::coroutine_handle<> task_ended() noexcept override {
    ended_ = true;
    return std::noop_coroutine();
  }
  bool ended_ = false;
};
}  // namespace detail

template <class T>
T Loop::run(Async<T> task) {
  detail::RunOwner owner;
  task.handle().promise().set_owner(&owner);
  run_turns([&] { task.handle().resume(); });
  if (!owner.ended_) {
    clear();
    throw std::logic_error("Loop::run: the task never ended (it awaits what no one completes)");
  }
  return task.handle().promise().take();
}

}  // namespace scalelab
