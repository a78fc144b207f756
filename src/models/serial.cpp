// `serial`: the baseline. Tasks run one after another on the calling thread.

#include "models/builtin.hpp"

namespace scalelab::detail {
namespace {

class SerialPool final : public Pool {
 public:
  explicit SerialPool(const Workload& workload) : workload_(workload) {}
  BatchResult run(std::size_t tasks) override {
    BatchResult batch;
    batch.tasks.resize(tasks);
    const auto t0 = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < tasks; ++i) run_task_blocking(workload_, i, batch.tasks[i], t0);
    batch.wall_s = seconds_since(t0, std::chrono::steady_clock::now());
    batch.max_in_flight = tasks > 0 ? 1 : 0;
    return batch;
  }

 private:
  const Workload& workload_;
};

class SerialModel final : public Model {
 public:
  bool uses_workers() const override { return false; }
  std::unique_ptr<Pool> start(const Workload& workload, int, const ModelOptions&) const override {
    return std::make_unique<SerialPool>(workload);
  }
};

}  // namespace

std::unique_ptr<Model> make_serial_model() {
  return std::make_unique<SerialModel>();
}

}  // namespace scalelab::detail
