// Runs 100 no-op tasks on two threads through the installed library.
#include <scalelab/scalelab.hpp>

#include <cstdio>

int main() {
  const auto workload = scalelab::make_workload({"noop", {}});
  const auto pool = scalelab::make_model("threads")->start(*workload, 2, {});
  const auto batch = pool->run(100);
  for (const auto& task : batch.tasks) {
    if (task.runs != 1) return 1;
  }
  std::puts("consumer ok");
  return 0;
}
