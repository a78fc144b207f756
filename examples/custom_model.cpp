// What this example teaches: how to add a concurrency model of your own, with a parameter of
// its own, in one file, and compare it with the built-in models on every workload.
//
// The model, `chunked`, is OpenMP's schedule(dynamic, CHUNK) written with std::jthread: W
// threads take the next CHUNK task numbers from one atomic counter until none is left. Its
// parameter --chunk is declared in its registry entry; scalelab makes the flag, its --help
// and `list` lines, the error for a bad value, the record field ("chunk"), --resume and the
// report's "Chunk" line from that declaration alone. A bigger chunk costs fewer claims of
// the counter and balances the load worse, which a sweep shows:
//
//    custom_model --model threads,chunked --chunk 8 --workload noop --tasks 100000 --workers 2
//    custom_model --model chunked --chunk 0        # bad input: exit 2, one line naming --chunk
//
// A model's contract (include/scalelab/model.hpp): start() brings the workers up before the
// clock; Pool::run runs tasks 0..N-1 once each and reports each task's checksum and times; a
// task's exception is its result's error, not the batch's; a stop request or the timeout ends
// the batch with BatchAborted. This model checks both between tasks only, so a task that never
// returns cannot be abandoned here, as the built-in `threads` model can. Its threads start
// with the pool and wait between batches, so neither their start nor their CPU time falls
// outside what scalelab measures.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "scalelab/cli.hpp"
#include "scalelab/scalelab.hpp"

namespace {

using Clock = std::chrono::steady_clock;

// W threads started with the pool, before any clock, idle between batches. A batch: the clock
// starts, every thread is woken, and each claims CHUNK task numbers at a time from `next_`
// until none is left, then reports done; the last one to finish wakes run().
class ChunkedPool final : public scalelab::Pool {
 public:
  ChunkedPool(const scalelab::Workload& workload, int workers, std::uint64_t chunk)
      : workload_(workload), chunk_(chunk) {
    for (int w = 0; w < workers; ++w) threads_.emplace_back([this] { serve(); });
  }
  ~ChunkedPool() override {
    {
      const std::lock_guard lock(mutex_);
      quit_ = true;
    }
    wake_.notify_all();
  }  // then the threads, idle, are joined

  scalelab::BatchResult run(std::size_t tasks, const scalelab::RunControl& control) override {
    scalelab::BatchResult batch;
    batch.tasks.resize(tasks);
    {
      const std::lock_guard lock(mutex_);
      batch_ = &batch;
      control_ = &control;
      deadline_ = control.timeout.count() > 0
                      ? Clock::now() + std::chrono::duration_cast<Clock::duration>(control.timeout)
                      : Clock::time_point::max();
      next_ = 0;
      finished_ = 0;
      in_flight_ = most_in_flight_ = 0;
      cut_short_ = false;
      t0_ = Clock::now();
      ++generation_;
    }
    wake_.notify_all();
    std::unique_lock lock(mutex_);
    done_.wait(lock, [&] { return finished_ == threads_.size(); });
    if (cut_short_) {
      const bool stopped = control.stop.stop_requested();
      throw scalelab::BatchAborted(
          stopped ? scalelab::AbortReason::interrupted : scalelab::AbortReason::timed_out,
          stopped ? "stopped between tasks" : "timed out between tasks");
    }
    for (const auto& t : batch.tasks) batch.wall_s = std::max(batch.wall_s, t.end_s);
    batch.max_in_flight = most_in_flight_;
    return batch;
  }

 private:
  void serve() {
    std::uint64_t seen = 0;
    for (;;) {
      {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [&] { return quit_ || generation_ != seen; });
        if (quit_) return;
        seen = generation_;
      }
      claim_chunks();
      const std::lock_guard lock(mutex_);
      if (++finished_ == threads_.size()) done_.notify_one();
    }
  }

  void claim_chunks() {
    const std::size_t tasks = batch_->tasks.size();
    for (;;) {
      if (control_->stop.stop_requested() || Clock::now() >= deadline_) {
        cut_short_ = true;
        return;
      }
      const std::size_t first = next_.fetch_add(chunk_);
      if (first >= tasks) return;
      const std::size_t last = std::min<std::size_t>(tasks, first + chunk_);
      for (std::size_t task = first; task < last; ++task) run_one(task);
    }
  }

  void run_one(std::size_t task) {
    scalelab::TaskResult& result = batch_->tasks[task];  // this thread's alone
    const int now = ++in_flight_;
    for (int seen = most_in_flight_; now > seen;) {
      if (most_in_flight_.compare_exchange_weak(seen, now)) break;
    }
    result.start_s = std::chrono::duration<double>(Clock::now() - t0_).count();
    try {
      result.checksum = workload_.run(task);
    } catch (const std::exception& e) {
      result.error = e.what();
    } catch (...) {
      result.error = "unknown exception";
    }
    result.end_s = std::chrono::duration<double>(Clock::now() - t0_).count();
    ++result.runs;
    --in_flight_;
  }

  const scalelab::Workload& workload_;
  const std::uint64_t chunk_;
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  bool quit_ = false;
  std::uint64_t generation_ = 0;
  std::size_t finished_ = 0;
  // The batch in progress: written by run() under the mutex before the threads wake.
  scalelab::BatchResult* batch_ = nullptr;
  const scalelab::RunControl* control_ = nullptr;
  Clock::time_point t0_, deadline_;
  std::atomic<std::size_t> next_{0};
  std::atomic<int> in_flight_{0}, most_in_flight_{0};
  std::atomic<bool> cut_short_{false};
  std::vector<std::jthread> threads_;  // last: joined before the members they use go
};

class ChunkedModel final : public scalelab::Model {
 public:
  std::unique_ptr<scalelab::Pool> start(const scalelab::Workload& workload, int workers,
                                        const scalelab::ModelOptions& options) const override {
    if (workers < 1) throw scalelab::Error("chunked: needs at least 1 worker");
    return std::make_unique<ChunkedPool>(workload, workers, options.params.count("chunk", 1));
  }
};

void register_chunked() {
  scalelab::Param chunk{"chunk", scalelab::ParamKind::count, "1",
                        "chunked model: task numbers a thread takes at a time", "Chunk"};
  chunk.min = 1;
  chunk.max = 1'000'000;
  scalelab::model_registry().add({"chunked",
                                  "W threads taking --chunk tasks at a time from one counter "
                                  "(OpenMP's schedule(dynamic, chunk))",
                                  [] { return std::make_unique<ChunkedModel>(); },
                                  {chunk}});
}

}  // namespace

int main(int argc, char** argv) {
  register_chunked();
  return scalelab::cli::run(argc, argv);  // a spawned worker, or scalelab's command line
}
