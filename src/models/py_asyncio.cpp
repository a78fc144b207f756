// `py-asyncio`: the seed's event loop itself, one asyncio loop in the embedded CPython running
// every task under a Semaphore(W) (python_pool.hpp). A wait is `await asyncio.sleep`; CPU work
// (and a plain function) runs inline and blocks the loop, as in the seed; a user's `async def`
// is awaited.

#include "models/builtin.hpp"
#include "models/python_pool.hpp"

namespace scalelab::detail {
namespace {

class PyAsyncioModel final : public Model {
 public:
  int cpu_parallelism(int) const override { return 1; }
  std::string cannot_run(const Workload& workload) const override {
    return python_tasks_only(workload, "py-asyncio");
  }
  std::unique_ptr<Pool> start(const Workload& workload, int workers,
                              const ModelOptions&) const override {
    return start_python_pool(workload, workers, {"asyncio", "py-asyncio", ""});
  }
};

}  // namespace

ModelEntry model_py_asyncio() {
  return {"py-asyncio",
          "one asyncio event loop in the embedded CPython, the tasks under a Semaphore(W) "
          "(Python tasks: python, python-io; an async def is awaited)",
          [] { return std::make_unique<PyAsyncioModel>(); }};
}

}  // namespace scalelab::detail
