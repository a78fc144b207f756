// Micro-benchmarks of what a model itself costs, measured with the `noop` workload so that
// nothing but dispatch is left:
//   BM_dispatch  per-task overhead of a started pool running a batch (pools start before the
//                clock, as in a trial);
//   BM_startup   starting and destroying a pool (what Trial::startup_s leaves out of wall_s);
//   BM_cpu_loop  the seed's CPU loop, for the loop iterations per second a `cpu` task gets;
//   BM_bare/tbb, BM_bare/openmp
//                the same batch written straight against oneTBB and OpenMP (what the tbb and
//                openmp models do, minus scalelab: a parallel loop over the tasks, each storing
//                its noop result), for what the models add to the runtime's own cost;
//   BM_bare_timed/tbb, BM_bare_timed/openmp
//                the same, each task also timed as a trial times it (a clock read before and
//                after, a TaskResult stored): what is left is scalelab's own machinery (the
//                driver thread, the batch hand-over, the per-task indirection).
//
// Every benchmark uses real (wall) time: the pools' work happens on other threads and in
// other processes, which the main thread's CPU time would not see.
//
//   ./scalelab_bench --benchmark_min_time=0.2

#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "scalelab/scalelab.hpp"

#if SCALELAB_HAVE_TBB
#include <tbb/blocked_range.h>
#include <tbb/global_control.h>
#include <tbb/parallel_for.h>
#include <tbb/partitioner.h>
#include <tbb/task_arena.h>
#endif
#if SCALELAB_HAVE_OPENMP
#include <omp.h>
#endif

namespace {

// One noop workload for every pool; pools hold a reference, so it lives as long as the program.
const scalelab::Workload& noop_workload() {
  static const std::unique_ptr<scalelab::Workload> workload =
      scalelab::make_workload(scalelab::WorkloadSpec{"noop", {}});
  return *workload;
}

// One batch of `tasks` noop tasks per iteration, on a pool started once, before the clock.
// Counters:
//   items_per_second  tasks per second of benchmark wall time (results vector, and for
//                     processes the per-batch usage messages, included);
//   ns_per_task       BatchResult::wall_s / tasks, averaged: the pool's own clock, from the
//                     first dispatch to the last result.
void BM_dispatch(benchmark::State& state, const std::string& model_name) {
  const auto tasks = static_cast<std::size_t>(state.range(0));
  const auto workers = static_cast<int>(state.range(1));
  const auto model = scalelab::make_model(model_name);
  const auto pool = model->start(noop_workload(), workers, {});
  double pool_wall_s = 0;
  for (auto _ : state) {
    const scalelab::BatchResult batch = pool->run(tasks);
    benchmark::DoNotOptimize(batch.tasks.data());
    pool_wall_s += batch.wall_s;
  }
  const auto total_tasks =
      static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(tasks);
  state.SetItemsProcessed(total_tasks);
  state.counters["ns_per_task"] =
      total_tasks > 0 ? pool_wall_s * 1e9 / static_cast<double>(total_tasks) : 0.0;
}

// Starting and warming a pool, then destroying it (threads joined, processes reaped).
// Counter start_us: the start alone, so the destroy cost is the difference.
void BM_startup(benchmark::State& state, const std::string& model_name) {
  const auto workers = static_cast<int>(state.range(0));
  const auto model = scalelab::make_model(model_name);
  double start_s = 0;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    auto pool = model->start(noop_workload(), workers, {});
    start_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    pool.reset();
  }
  state.counters["start_us"] =
      state.iterations() > 0 ? start_s * 1e6 / static_cast<double>(state.iterations()) : 0.0;
}

// The seed's loop; items_per_second is loop iterations per second on this machine.
void BM_cpu_loop(benchmark::State& state) {
  const auto iters = static_cast<std::uint64_t>(state.range(0));
  for (auto _ : state) benchmark::DoNotOptimize(scalelab::cpu_loop(iters));
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(iters));
}

// What a bare loop does per task, without timing: store the noop's checksum (its task number),
// as a batch's results vector holds one result per task.
struct EmptyLoop {
  std::vector<std::uint64_t> out;
  void begin(std::size_t tasks) {
    if (out.size() != tasks) out.assign(tasks, 0);
  }
  void task(std::size_t i) { out[i] = i; }
};

// The same, each task timed as a trial times it: a clock read before and after, a TaskResult
// stored, into a fresh results vector per batch.
struct TimedLoop {
  std::vector<scalelab::TaskResult> out;
  std::chrono::steady_clock::time_point t0;
  void begin(std::size_t tasks) {
    out.assign(tasks, scalelab::TaskResult{});
    t0 = std::chrono::steady_clock::now();
  }
  void task(std::size_t i) {
    const auto start = std::chrono::steady_clock::now();
    out[i].checksum = i;
    const auto end = std::chrono::steady_clock::now();
    out[i].start_s = std::chrono::duration<double>(start - t0).count();
    out[i].end_s = std::chrono::duration<double>(end - t0).count();
    ++out[i].runs;
  }
};

template <class Loop>
void finish_bare(benchmark::State& state, std::size_t tasks, const Loop& loop) {
  benchmark::DoNotOptimize(loop.out.data());
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(tasks));
}

#if SCALELAB_HAVE_TBB
// oneTBB as the tbb model drives it, without scalelab: a task_arena of W, parallel_for over the
// tasks with a simple_partitioner and grain 1; each task `Loop`'s.
template <class Loop>
void BM_bare_tbb(benchmark::State& state) {
  const auto tasks = static_cast<std::size_t>(state.range(0));
  const auto workers = static_cast<int>(state.range(1));
  tbb::global_control control(tbb::global_control::max_allowed_parallelism,
                              static_cast<std::size_t>(workers));
  tbb::task_arena arena(workers);
  arena.initialize();
  Loop loop;
  for (auto _ : state) {
    loop.begin(tasks);
    arena.execute([&] {
      tbb::parallel_for(
          tbb::blocked_range<std::size_t>(0, tasks, 1),
          [&](const tbb::blocked_range<std::size_t>& r) {
            for (std::size_t i = r.begin(); i != r.end(); ++i) loop.task(i);
          },
          tbb::simple_partitioner{});
    });
    benchmark::DoNotOptimize(loop.out.data());
  }
  finish_bare(state, tasks, loop);
}
#endif

#if SCALELAB_HAVE_OPENMP
// OpenMP as the openmp model drives it, without scalelab; each task `Loop`'s.
template <class Loop>
void BM_bare_openmp(benchmark::State& state) {
  const auto tasks = static_cast<long long>(state.range(0));
  const auto workers = static_cast<int>(state.range(1));
  omp_set_dynamic(0);
  Loop loop;
  for (auto _ : state) {
    loop.begin(static_cast<std::size_t>(tasks));
#pragma omp parallel for num_threads(workers) schedule(dynamic, 1)
    for (long long i = 0; i < tasks; ++i) loop.task(static_cast<std::size_t>(i));
    benchmark::DoNotOptimize(loop.out.data());
  }
  finish_bare(state, static_cast<std::size_t>(tasks), loop);
}
#endif

// The bare runtimes at the BM_dispatch sizes.
void register_bare() {
  const auto bare = [](const char* name, void (*fn)(benchmark::State&)) {
    benchmark::RegisterBenchmark(name, fn)
        ->ArgsProduct({{1000, 10000}, {1, 2}})
        ->ArgNames({"tasks", "workers"})
        ->UseRealTime()
        ->Unit(benchmark::kMicrosecond);
  };
#if SCALELAB_HAVE_TBB
  bare("BM_bare/tbb", BM_bare_tbb<EmptyLoop>);
  bare("BM_bare_timed/tbb", BM_bare_tbb<TimedLoop>);
#endif
#if SCALELAB_HAVE_OPENMP
  bare("BM_bare/openmp", BM_bare_openmp<EmptyLoop>);
  bare("BM_bare_timed/openmp", BM_bare_openmp<TimedLoop>);
#endif
  (void)bare;
}

}  // namespace

// Every registered model gets both benchmarks, so a new model is measured without a new line
// here. The processes model runs with its default start method, fork: the worker is a copy of
// this process, so no worker mode is needed in main.
int main(int argc, char** argv) {
  for (const auto& entry : scalelab::model_registry().entries()) {
    const bool uses_workers = entry.make()->uses_workers();
    const std::vector<std::int64_t> dispatch_workers =
        uses_workers ? std::vector<std::int64_t>{1, 2} : std::vector<std::int64_t>{1};
    const std::vector<std::int64_t> startup_workers =
        uses_workers ? std::vector<std::int64_t>{1, 2, 8} : std::vector<std::int64_t>{1};
    benchmark::RegisterBenchmark(("BM_dispatch/" + entry.name).c_str(), BM_dispatch, entry.name)
        ->ArgsProduct({{1000, 10000}, dispatch_workers})
        ->ArgNames({"tasks", "workers"})
        ->UseRealTime()
        ->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark(("BM_startup/" + entry.name).c_str(), BM_startup, entry.name)
        ->ArgsProduct({startup_workers})
        ->ArgNames({"workers"})
        ->UseRealTime()
        ->Unit(benchmark::kMicrosecond);
  }
  register_bare();
  benchmark::RegisterBenchmark("BM_cpu_loop", BM_cpu_loop)
      ->Arg(200000)
      ->ArgName("iters")
      ->UseRealTime()
      ->Unit(benchmark::kMicrosecond);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
