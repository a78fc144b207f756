#include "support/fixtures.hpp"

#include <stdexcept>
#include <thread>

#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

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
  asio::awaitable<std::uint64_t> run_async(std::size_t task) const override {
    asio::steady_timer timer(co_await asio::this_coro::executor, std::chrono::milliseconds(100));
    co_await timer.async_wait(asio::use_awaitable);
    co_return task;
  }
  std::uint64_t expected_checksum(std::size_t task) const override { return task; }

 private:
  WorkloadSpec spec_;
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
  BatchResult run(std::size_t tasks) override {
    BatchResult batch = inner_->run(tasks);
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
  model_registry().add({"corrupt", "test: serial with a wrong checksum for task 0",
                        [] { return std::make_unique<CorruptModel>(); }});
}

}  // namespace scalelab::testing
