#include "support/fixtures.hpp"

#include <signal.h>

#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <thread>

namespace scalelab::testing {
namespace {

class CountingWorkload final : public Workload {
 public:
  explicit CountingWorkload(WorkloadSpec spec) : spec_(std::move(spec)) {}
  const WorkloadSpec& spec() const override { return spec_; }
  Bound bound() const override { return Bound::none; }
  std::uint64_t run(std::size_t task) const override {
    counting_runs().at(task).fetch_add(1);
    return task * 7 + 1;
  }
  std::uint64_t expected_checksum(std::size_t task) const override { return task * 7 + 1; }

 private:
  WorkloadSpec spec_;
};

class ThrowWorkload final : public Workload {
 public:
  explicit ThrowWorkload(WorkloadSpec spec) : spec_(std::move(spec)) {}
  const WorkloadSpec& spec() const override { return spec_; }
  Bound bound() const override { return Bound::none; }
  std::uint64_t run(std::size_t task) const override {
    if (task == 3) throw std::runtime_error("boom at task 3");
    return task;
  }
  std::uint64_t expected_checksum(std::size_t task) const override { return task; }

 private:
  WorkloadSpec spec_;
};

class SleepWorkload final : public Workload {
 public:
  explicit SleepWorkload(WorkloadSpec spec) : spec_(std::move(spec)) {}
  const WorkloadSpec& spec() const override { return spec_; }
  Bound bound() const override { return Bound::wait; }
  std::uint64_t run(std::size_t task) const override {
    const GilReleased released;  // a blocking wait, as a well-behaved task does
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    return task;
  }
  Async<std::uint64_t> run_async(std::size_t task, Loop& loop) const override {
    co_await loop.sleep(std::chrono::milliseconds(100));
    co_return task;
  }
  std::uint64_t expected_checksum(std::size_t task) const override { return task; }

 private:
  WorkloadSpec spec_;
};

// Whether hung tasks may return, and how many are inside one: process-wide by nature, as a
// hang is. Trivially destructible, so a thread still hanging at exit touches nothing freed.
std::atomic<bool>& hang_released() {
  static std::atomic<bool> released{false};
  return released;
}
std::atomic<int>& tasks_hanging() {
  static std::atomic<int> hanging{0};
  return hanging;
}

class FaultWorkload final : public Workload {
 public:
  FaultWorkload(WorkloadSpec spec, std::string kind)
      : spec_(std::move(spec)),
        kind_(std::move(kind)),
        at_(spec_.params.count("cpu_iters")),
        wait_(spec_.params.duration("io_wait_s")) {}
  const WorkloadSpec& spec() const override { return spec_; }
  Bound bound() const override { return Bound::wait; }
  std::uint64_t run(std::size_t task) const override {
    if (task == at_) {
      fault(task);
      // Nothing of *this after a hang: a test may destroy the workload once the hang ends.
      return task;
    }
    if (wait_.count() > 0) {
      const GilReleased released;
      std::this_thread::sleep_for(wait_);
    }
    return task;
  }
  Async<std::uint64_t> run_async(std::size_t task, Loop& loop) const override {
    if (task == at_ && kind_ == "hang") {
      // Awaits forever, as a lost reply would: cancellation is the only way out.
      co_await loop.sleep_until(std::chrono::steady_clock::time_point::max());
      co_return task;
    }
    if (task == at_) {
      fault(task);
      co_return task;
    }
    if (wait_.count() > 0) co_await loop.sleep(wait_);
    co_return task;
  }
  std::uint64_t expected_checksum(std::size_t task) const override { return task; }

 private:
  void fault(std::size_t task) const {
    if (kind_ == "segv" || kind_ == "abort" || kind_ == "kill") {
      // The default action, even where a sanitizer installed a handler that would report and
      // exit instead: the process must die by the signal, as an uninstrumented crash does.
      const int sig = kind_ == "segv" ? SIGSEGV : kind_ == "abort" ? SIGABRT : SIGKILL;
      if (sig != SIGKILL) ::signal(sig, SIG_DFL);
      ::raise(sig);
    } else if (kind_ == "exit") {
      std::exit(7);
    } else if (kind_ == "hang" || kind_ == "block") {
      const GilReleased released;  // a blocking wait, as a deadlocked read is
      ++tasks_hanging();
      while (!hang_released().load()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
      --tasks_hanging();
    } else if (kind_ == "throw") {
      throw std::runtime_error("fault at task " + std::to_string(task));
    } else if (kind_ == "alloc") {
      std::vector<std::unique_ptr<char[]>> chunks;
      for (;;) {
        constexpr std::size_t kChunk = 16u << 20;
        auto chunk = std::make_unique_for_overwrite<char[]>(kChunk);
        std::memset(chunk.get(), 1, kChunk);      // touched: resident, not just reserved
        const volatile char* keep = chunk.get();  // the allocation must not be elided
        (void)keep[kChunk - 1];
        chunks.push_back(std::move(chunk));
      }
    }
  }

  WorkloadSpec spec_;
  std::string kind_;
  std::uint64_t at_;               // the task that faults ("cpu_iters")
  std::chrono::nanoseconds wait_;  // every other task's wait ("io_wait_s")
};

class RefusesAsyncWorkload final : public Workload {
 public:
  explicit RefusesAsyncWorkload(WorkloadSpec spec) : spec_(std::move(spec)) {}
  const WorkloadSpec& spec() const override { return spec_; }
  Bound bound() const override { return Bound::none; }
  std::uint64_t run(std::size_t task) const override { return task; }
  std::string unsupported_by(const std::string& model) const override {
    return model == "async" ? "it cannot run on an event loop" : "";
  }

 private:
  WorkloadSpec spec_;
};

class CorruptPool final : public Pool {
 public:
  explicit CorruptPool(std::unique_ptr<Pool> inner) : inner_(std::move(inner)) {}
  BatchResult run(std::size_t tasks, const RunControl& control) override {
    BatchResult batch = inner_->run(tasks, control);
    if (!batch.tasks.empty()) batch.tasks[0].checksum += 1;
    return batch;
  }

 private:
  std::unique_ptr<Pool> inner_;
};

class CorruptModel final : public Model {
 public:
  std::unique_ptr<Pool> start(const Workload& workload, int workers,
                              const ModelOptions& options) const override {
    return std::make_unique<CorruptPool>(make_model("serial")->start(workload, workers, options));
  }
};

template <class W>
WorkloadFactory factory() {
  return [](const WorkloadSpec& spec) { return std::make_unique<W>(spec); };
}

}  // namespace

WorkloadSpec fault_spec(const std::string& kind, std::size_t at, std::chrono::nanoseconds wait) {
  // "cpu_iters" and "io_wait_s": the fields the runner's default trial timeout reads.
  WorkloadSpec spec{"fault_" + kind, {}};
  spec.params.set("cpu_iters", at);
  spec.params.set_duration("io_wait_s", wait);
  return spec;
}

void release_hung_tasks() {
  hang_released() = true;
  while (tasks_hanging().load() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  hang_released() = false;
}

std::vector<std::atomic<int>>& counting_runs() {
  static std::vector<std::atomic<int>> runs(100000);
  return runs;
}

void register_fixtures() {
  workload_registry().add({"counting", "test: counts runs per task", factory<CountingWorkload>()});
  workload_registry().add({"throw_at3", "test: task 3 throws", factory<ThrowWorkload>()});
  workload_registry().add({"sleep100ms", "test: sleeps 100 ms", factory<SleepWorkload>()});
  workload_registry().add(
      {"refuses_async", "test: unsupported by async", factory<RefusesAsyncWorkload>()});
  for (const auto& kind : fault_kinds()) {
    workload_registry().add(
        {"fault_" + kind, "test: task K faults: " + kind,
         [kind](const WorkloadSpec& spec) { return std::make_unique<FaultWorkload>(spec, kind); }});
  }
  model_registry().add({"corrupt", "test: serial with a wrong checksum for task 0",
                        [] { return std::make_unique<CorruptModel>(); }});
}

}  // namespace scalelab::testing
