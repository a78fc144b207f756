// `gil`: threads plus an emulated interpreter lock, so that native code shows what CPython's
// GIL does to threads: CPU work is serialised (the holder hands over only when asked, after
// the switch interval), waiting overlaps (a blocking wait releases the lock).
//
// The lock follows CPython's design since 3.2, as Python/ceval_gil.c documents it: the lock is
// a flag under a mutex; a thread that wants it waits on a condition variable for up to the
// switch interval, then sets a drop request, which the holder checks at regular points (the
// eval breaker); the holder then releases and waits until another thread has taken the lock
// (forced switching), so it cannot take it straight back.

#include <algorithm>

#include "models/builtin.hpp"
#include "models/threads.hpp"
#include "scalelab/gil.hpp"

namespace scalelab {
namespace {

// The lock the calling thread runs under, if it is a `gil` worker in a task. Per thread by
// nature: it says which interpreter this thread belongs to, as CPython's thread state does.
thread_local InterpreterLock* t_lock = nullptr;

}  // namespace

InterpreterLock::InterpreterLock(std::chrono::nanoseconds switch_interval)
    : interval_(std::max(switch_interval, std::chrono::nanoseconds(1000))) {}  // as validate()

void InterpreterLock::take() {
  const auto me = std::this_thread::get_id();
  std::unique_lock lock(mutex_);
  if (locked_) {
    const auto started = std::chrono::steady_clock::now();
    while (locked_) {
      const std::uint64_t seen = switch_number_;
      const bool freed = released_.wait_for(lock, interval_, [&] { return !locked_; });
      // A whole interval with the same holder: ask it to let go. If the lock changed hands
      // meanwhile, the new holder gets its own full interval first.
      if (!freed && switch_number_ == seen) drop_request_.store(true, std::memory_order_relaxed);
    }
    waited_ += std::chrono::steady_clock::now() - started;
  }
  locked_ = true;
  taken_at_ = std::chrono::steady_clock::now();
  if (last_holder_ != me) {
    last_holder_ = me;
    ++switch_number_;
    ++switches_;
  }
  // Whoever was asked to drop may go on; the request has been served.
  drop_request_.store(false, std::memory_order_relaxed);
  switched_.notify_all();
}

void InterpreterLock::drop() {
  const auto me = std::this_thread::get_id();
  std::unique_lock lock(mutex_);
  max_hold_ = std::max(max_hold_, std::chrono::duration_cast<std::chrono::nanoseconds>(
                                      std::chrono::steady_clock::now() - taken_at_));
  locked_ = false;
  released_.notify_one();
  if (drop_request_.load(std::memory_order_relaxed)) {
    // Forced switching: stay off the lock until the thread that asked for it has it.
    switched_.wait(lock, [&] { return last_holder_ != me; });
  }
}

void InterpreterLock::yield_if_requested() {
  if (!drop_requested()) return;
  drop();
  take();
}

std::uint64_t InterpreterLock::switches() const {
  std::lock_guard lock(mutex_);
  return switches_;
}

double InterpreterLock::wait_s() const {
  std::lock_guard lock(mutex_);
  return std::chrono::duration<double>(waited_).count();
}

double InterpreterLock::max_hold_s() const {
  std::lock_guard lock(mutex_);
  return std::chrono::duration<double>(max_hold_).count();
}

void InterpreterLock::reset_counters() {
  std::lock_guard lock(mutex_);
  switches_ = 0;
  waited_ = std::chrono::nanoseconds(0);
  max_hold_ = std::chrono::nanoseconds(0);
}

void gil_checkpoint() {
  if (InterpreterLock* lock = t_lock; lock != nullptr) lock->yield_if_requested();
}

GilReleased::GilReleased() : lock_(t_lock) {
  if (lock_ == nullptr) return;
  lock_->drop();
  // Not holding it now: checkpoints in this scope (lock-free work that calls cpu_loop, say)
  // must not hand over a lock another thread holds.
  t_lock = nullptr;
}

GilReleased::~GilReleased() {
  if (lock_ == nullptr) return;
  lock_->take();
  t_lock = lock_;
}

GilHeld::GilHeld(InterpreterLock& lock) : lock_(&lock), previous_(t_lock) {
  lock.take();
  t_lock = &lock;
}

GilHeld::~GilHeld() {
  lock_->drop();
  t_lock = previous_;
}

namespace detail {
namespace {

// One interpreter per pool: a lock, and a threads pool whose threads hold it around each task.
// The threads share ownership of the lock: one abandoned in a hung task still releases it.
class GilPool final : public Pool {
 public:
  GilPool(const Workload& workload, int workers, std::chrono::nanoseconds interval)
      : lock_(std::make_shared<InterpreterLock>(interval)),
        threads_(make_threads_pool(workload, workers, {lock_, false})) {}

  BatchResult run(std::size_t tasks, const RunControl& control) override {
    lock_->reset_counters();
    BatchResult batch = threads_->run(tasks, control);
    batch.counters["gil_switches"] = static_cast<double>(lock_->switches());
    batch.counters["gil_wait_s"] = lock_->wait_s();
    batch.counters["gil_max_hold_s"] = lock_->max_hold_s();
    return batch;
  }

 private:
  std::shared_ptr<InterpreterLock> lock_;
  std::unique_ptr<Pool> threads_;
};

class GilModel final : public Model {
 public:
  int cpu_parallelism(int) const override { return 1; }  // one thread holds the GIL at a time
  std::unique_ptr<Pool> start(const Workload& workload, int workers,
                              const ModelOptions& options) const override {
    check_workers(workers);
    return std::make_unique<GilPool>(
        workload, workers,
        options.params.duration("switch_interval_s", std::chrono::milliseconds(5)));
  }
};

}  // namespace

ModelEntry model_gil() {
  Param switch_interval{"switch-interval",
                        ParamKind::duration,
                        "5ms",
                        "gil model: how long a waiting thread lets the holder run before asking "
                        "for the lock (like sys.setswitchinterval)",
                        "GIL switch interval",
                        1e-6};
  return {"gil",
          "threads under an emulated CPython GIL: CPU work serialised, waits overlap "
          "(--switch-interval)",
          [] { return std::make_unique<GilModel>(); },
          {switch_interval}};
}

}  // namespace detail
}  // namespace scalelab
