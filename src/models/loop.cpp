// The async model's event loop: the frame pool, the timer queue and the turns.
//
// Why a queue of its own rather than one asio::steady_timer per sleep: each Asio timer is an
// object in the task's frame, an operation allocated per wait and an entry in Asio's timer heap
// (a push and a pop of O(log n) each): 1M sleeping tasks cost 1.18 KB each that way, measured
// (BENCHMARKS.md). Here a sleep is its awaiter, in the task's frame, and one pointer to it
// appended to the run of its length; one Asio timer is armed for the earliest deadline.

#include "scalelab/async.hpp"

#include <algorithm>
#include <new>

namespace scalelab {
namespace detail {

void* FramePool::allocate(std::size_t size) {
  const std::size_t cls = (size + kGrain - 1) / kGrain;
  in_use_ += cls * kGrain;
  peak_ = std::max(peak_, in_use_);
  if (cls >= kClasses) {
    return ::operator new(size);
  }
  if (FreeFrame* frame = free_[cls]) {
    free_[cls] = frame->next;
    return frame;
  }
  const std::size_t bytes = cls * kGrain;
  if (left_ < bytes) {
    slabs_.push_back(std::make_unique_for_overwrite<std::byte[]>(kSlab));
    cursor_ = slabs_.back().get();
    left_ = kSlab;
  }
  void* frame = cursor_;
  cursor_ += bytes;
  left_ -= bytes;
  return frame;
}

void FramePool::deallocate(void* frame, std::size_t size) noexcept {
  const std::size_t cls = (size + kGrain - 1) / kGrain;
  in_use_ -= cls * kGrain;
  if (cls >= kClasses) {
    ::operator delete(frame);
    return;
  }
  auto* free = static_cast<FreeFrame*>(frame);
  free->next = free_[cls];
  free_[cls] = free;
}

FramePool* frame_pool_of(Loop& loop) noexcept {
  return &loop.frames_;
}

namespace {
// Before each frame: which pool it came from (null: operator new). 16 bytes, so that the frame
// keeps operator new's alignment.
constexpr std::size_t kHeader = 16;
}  // namespace

void* PromiseBase::allocate_frame(std::size_t size, Loop* loop) {
  FramePool* pool = loop != nullptr ? frame_pool_of(*loop) : nullptr;
  std::byte* block = static_cast<std::byte*>(pool != nullptr ? pool->allocate(size + kHeader)
                                                             : ::operator new(size + kHeader));
  *reinterpret_cast<FramePool**>(block) = pool;
  return block + kHeader;
}

void PromiseBase::operator delete(void* frame, std::size_t size) noexcept {
  std::byte* block = static_cast<std::byte*>(frame) - kHeader;
  FramePool* pool = *reinterpret_cast<FramePool**>(block);
  if (pool != nullptr) {
    pool->deallocate(block, size + kHeader);
  } else {
    ::operator delete(block);
  }
}

}  // namespace detail

Loop::Loop() : now_(Clock::now()) {
  runs_.reserve(kRuns);
}

Loop::~Loop() = default;

std::size_t Loop::sleepers() const noexcept {
  std::size_t n = heap_.size();
  for (const auto& run : runs_) n += run.timers.size();
  return n;
}

bool Loop::later(const SleepAwaiter* a, const SleepAwaiter* b) noexcept {
  return a->deadline_ > b->deadline_;
}

void Loop::add_timer(SleepAwaiter& sleep) {
  const Clock::time_point deadline = sleep.deadline_;
  const Clock::duration length = deadline - now_;
  // The run of this length, looked for where the last sleep went first.
  std::size_t at = last_run_;
  if (at >= runs_.size() || runs_[at].length != length) {
    at = static_cast<std::size_t>(
        std::find_if(runs_.begin(), runs_.end(), [&](const Run& r) { return r.length == length; }) -
        runs_.begin());
    if (at == runs_.size() && runs_.size() < kRuns) runs_.push_back({length, {}});
  }
  // In order unless the clock was read in between (a task's own update_time()).
  if (at < runs_.size() &&
      (runs_[at].timers.empty() || runs_[at].timers.back()->deadline_ <= deadline)) {
    runs_[at].timers.push_back(&sleep);
    last_run_ = at;
  } else {
    heap_.push_back(&sleep);
    std::push_heap(heap_.begin(), heap_.end(), &Loop::later);
  }
  if (!armed_ || deadline < armed_for_) arm();
}

Loop::Clock::time_point Loop::next_deadline() const noexcept {
  Clock::time_point next = heap_.empty() ? Clock::time_point::max() : heap_.front()->deadline_;
  for (const auto& run : runs_) {
    if (!run.timers.empty()) next = std::min(next, run.timers.front()->deadline_);
  }
  return next;
}

// Keeps the one Asio timer armed for the earliest deadline (time_point::max() too: a task that
// sleeps until cancelled keeps the loop running); none when nothing sleeps, so that
// io_context::run returns when the batch is done.
void Loop::arm() {
  if (sleepers() == 0) {
    if (armed_) timer_.cancel();
    armed_ = false;
    return;
  }
  const Clock::time_point next = next_deadline();
  if (armed_ && next == armed_for_) return;
  armed_ = true;
  armed_for_ = next;
  timer_.expires_at(next);  // cancels the wait for a later deadline, if any
  timer_.async_wait([this](const std::error_code& error) { on_timer(error); });
}

void Loop::on_timer(const std::error_code& error) {
  if (error) return;  // re-armed or cancelled: a newer wait (if any) is pending
  armed_ = false;
  begin_turn();
  resume_due();
  end_turn();
}

void Loop::begin_turn() noexcept {
  turn_began_ = Clock::now();
  now_ = turn_began_;
  ends_this_turn_ = 0;
}

void Loop::end_turn() {
  arm();
  const double took = std::chrono::duration<double>(Clock::now() - turn_began_).count();
  longest_turn_s_ = std::max(longest_turn_s_, took);
}

// Resumes every sleeper whose deadline has come, as of the turn's start, in deadline order
// across the runs and the heap. A task resumed here may sleep again: only the timers due when
// the turn began are taken, so a zero-length sleep waits for the next turn rather than spinning
// in this one.
void Loop::resume_due() {
  const Clock::time_point now = now_;
  // How many of each run are due; the heap's due ones are taken out first, in order.
  std::size_t due[kRuns] = {};
  std::size_t sources = 0, only = 0;
  for (std::size_t i = 0; i < runs_.size(); ++i) {
    const auto& timers = runs_[i].timers;
    due[i] = static_cast<std::size_t>(std::upper_bound(timers.begin(), timers.end(), now,
                                                       [](Clock::time_point t, const Timer timer) {
                                                         return t < timer->deadline_;
                                                       }) -
                                      timers.begin());
    if (due[i] > 0) ++sources, only = i;
  }
  due_.clear();
  while (!heap_.empty() && heap_.front()->deadline_ <= now) {
    std::pop_heap(heap_.begin(), heap_.end(), &Loop::later);
    due_.push_back(heap_.back());
    heap_.pop_back();
  }
  if (!due_.empty()) ++sources;
  if (sources == 1 && due_.empty()) {
    resume_front(only, due[only]);  // the common case: one length of sleep
    return;
  }
  // Several: merge. runs_ may grow while a task runs, so it is indexed afresh each time.
  std::size_t from_heap = 0;
  for (;;) {
    std::size_t pick = kRuns;
    Clock::time_point earliest =
        from_heap < due_.size() ? due_[from_heap]->deadline_ : Clock::time_point::max();
    for (std::size_t i = 0; i < kRuns && i < runs_.size(); ++i) {
      if (due[i] > 0 && runs_[i].timers.front()->deadline_ < earliest) {
        pick = i;
        earliest = runs_[i].timers.front()->deadline_;
      }
    }
    if (pick < kRuns) {
      --due[pick];
      resume_front(pick, 1);
    } else if (from_heap < due_.size()) {
      due_[from_heap++]->task_.resume();
    } else {
      break;
    }
  }
  due_.clear();
}

// Resumes the first `count` sleepers of run `run`.
void Loop::resume_front(std::size_t run, std::size_t count) {
  constexpr std::size_t kAhead = 8;  // fetch frames ahead: a burst is memory-bound
  for (std::size_t n = 0; n < count; ++n) {
    auto& queue = runs_[run].timers;
    if (n + kAhead < count) __builtin_prefetch(queue[kAhead]);
    const std::coroutine_handle<> task = queue.front()->task_;
    queue.pop_front();
    task.resume();
  }
}

void Loop::forget_sleepers() {
  for (auto& run : runs_) run.timers.clear();
  heap_.clear();
  due_.clear();
  arm();  // nothing sleeps: the Asio timer is cancelled
}

void Loop::clear() {
  forget_sleepers();
  cancelled_ = false;
}

void Loop::run_io() {
  io_.restart();
  io_.run();
}

}  // namespace scalelab
