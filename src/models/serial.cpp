// `serial`: the baseline. Tasks run one after another on one thread. The thread is the pool's
// own rather than the caller's so that a task that hangs can be abandoned (see threads.cpp);
// the clock starts on that thread, so the baseline pays no hand-over cost.

#include "models/builtin.hpp"
#include "models/threads.hpp"

namespace scalelab::detail {
namespace {

class SerialModel final : public Model {
 public:
  bool uses_workers() const override { return false; }
  std::unique_ptr<Pool> start(const Workload& workload, int, const ModelOptions&) const override {
    ThreadsPoolOptions options;
    options.sequential = true;
    return make_threads_pool(workload, 1, std::move(options));
  }
};

}  // namespace

ModelEntry model_serial() {
  return {"serial", "one task after another on one thread: the baseline",
          [] { return std::make_unique<SerialModel>(); }};
}

}  // namespace scalelab::detail
