// `python-io`: the seed's I/O-bound task in Python. Each task waits --io-wait: time.sleep under
// every blocking model (it releases the GIL, as a socket read would) and `await
// asyncio.sleep` under py-asyncio. Its checksum is the io workload's.

// Python.h first (through python_embed.hpp): it sets feature-test macros that the standard
// headers must see.
#include "workloads/python_embed.hpp"

#include <chrono>
#include <memory>

#include "scalelab/error.hpp"
#include "workloads/builtin.hpp"

namespace scalelab::detail {
namespace {

std::unique_ptr<Workload> make_python_io(const WorkloadSpec& spec) {
  const double wait_s = std::chrono::duration<double>(spec.params.duration("io_wait_s")).count();
  if (wait_s <= 0) throw Error("--io-wait: the python-io workload needs a wait above 0");
  py::PythonTaskWorkload::Setup setup{spec, {}, Bound::wait};
  setup.task = {"scalelab_tasks", "wait", "await_wait", nlohmann::json::array({wait_s})};
  setup.expected = io_checksum;
  return std::make_unique<py::PythonTaskWorkload>(std::move(setup));
}

}  // namespace

WorkloadEntry workload_python_io() {
  WorkloadEntry entry{
      "python-io",
      "the seed's I/O task in embedded CPython: time.sleep(--io-wait), awaited asyncio.sleep "
      "under py-asyncio",
      make_python_io,
      {io_wait_param()}};
  // Its runtime is the python workload's, recorded under that name (the same interpreter).
  return entry;
}

}  // namespace scalelab::detail
