// `openmp`: an OpenMP parallel loop over the tasks, num_threads(W) and schedule(dynamic, 1), as
// a C++ user would write it. Run by a driver thread of the runtime pool (runtime_pool.hpp): the
// team is that thread's, kept by the OpenMP runtime between batches.

#include <omp.h>

#include <stdexcept>

#include <fmt/format.h>

#include "models/builtin.hpp"
#include "models/runtime_pool.hpp"

namespace scalelab::detail {
namespace {

class OpenMpRuntime final : public TaskRuntime {
 public:
  void start(int workers) override {
    workers_ = workers;
    omp_set_dynamic(0);  // exactly W threads, not as many as the runtime thinks fit
    // Warm: the team of W exists before the clock (the runtime keeps it for the next region).
    int got = 0;
#pragma omp parallel num_threads(workers)
    {
#pragma omp single
      got = omp_get_num_threads();
    }
    if (got != workers) {
      throw std::runtime_error(fmt::format(
          "the OpenMP runtime gave {} threads of the {} asked for (OMP_THREAD_LIMIT={})", got,
          workers, omp_get_thread_limit()));
    }
  }

  void for_each(std::size_t tasks, const std::function<void(std::size_t, int)>& task) override {
    const auto n = static_cast<long long>(tasks);
#pragma omp parallel for num_threads(workers_) schedule(dynamic, 1)
    for (long long i = 0; i < n; ++i) task(static_cast<std::size_t>(i), omp_get_thread_num());
  }

 private:
  int workers_ = 1;
};

class OpenMpModel final : public Model {
 public:
  std::unique_ptr<Pool> start(const Workload& workload, int workers,
                              const ModelOptions&) const override {
    check_workers(workers);
    return make_runtime_pool(
        workload, workers, [] { return std::make_unique<OpenMpRuntime>(); }, "openmp");
  }
};

}  // namespace

ModelEntry model_openmp() {
  return {"openmp", "an OpenMP parallel loop over the tasks: num_threads(W), schedule(dynamic, 1)",
          [] { return std::make_unique<OpenMpModel>(); }};
}

}  // namespace scalelab::detail
