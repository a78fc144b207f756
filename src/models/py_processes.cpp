// `py-processes`: the seed's process pool itself, concurrent.futures.ProcessPoolExecutor(W)
// started from the embedded CPython with multiprocessing's fork or spawn (python_pool.hpp).
// Every task and result is pickled over a pipe, one message each, as Python does; a spawned
// worker is a fresh python3 that imports the task's module by name.

#include "models/builtin.hpp"
#include "models/python_pool.hpp"

namespace scalelab::detail {
namespace {

class PyProcessesModel final : public Model {
 public:
  bool separate_processes() const override { return true; }
  std::string cannot_run(const Workload& workload) const override {
    return python_tasks_only(workload, "py-processes");
  }
  std::unique_ptr<Pool> start(const Workload& workload, int workers,
                              const ModelOptions& options) const override {
    return start_python_pool(
        workload, workers,
        {"processes", "py-processes", options.params.text("start_method", "fork")});
  }
};

}  // namespace

ModelEntry model_py_processes() {
  return {"py-processes",
          "Python's concurrent.futures.ProcessPoolExecutor(W) (--start-method fork|spawn), in "
          "the embedded CPython (Python tasks: python, python-io)",
          [] { return std::make_unique<PyProcessesModel>(); },
          {start_method_param()}};
}

}  // namespace scalelab::detail
