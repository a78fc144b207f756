// `py-threads`: the seed's thread pool itself, concurrent.futures.ThreadPoolExecutor(W) in the
// embedded CPython, running the workload's Python task (python_pool.hpp). CPU work in Python
// holds the GIL, as in the seed; a wait releases it.

#include "models/builtin.hpp"
#include "models/python_pool.hpp"

namespace scalelab::detail {
namespace {

class PyThreadsModel final : public Model {
 public:
  std::string cannot_run(const Workload& workload) const override {
    return python_tasks_only(workload, "py-threads");
  }
  std::unique_ptr<Pool> start(const Workload& workload, int workers,
                              const ModelOptions&) const override {
    return start_python_pool(workload, workers, {"threads", "py-threads", "fork"});
  }
};

}  // namespace

ModelEntry model_py_threads() {
  return {"py-threads",
          "Python's concurrent.futures.ThreadPoolExecutor(W), in the embedded CPython (Python "
          "tasks: python, python-io)",
          [] { return std::make_unique<PyThreadsModel>(); }};
}

}  // namespace scalelab::detail
