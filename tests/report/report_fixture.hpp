#pragma once
// A hand-built AnalysedRun for the reporters' tests: two workloads (cpu, CPU-bound; io,
// wait-bound), three models (serial, threads, processes) at up to four worker counts, one noisy
// point, one point with failed trials, one with all trials failed, one with an impossible
// speedup, one with impossible CPU use, one whose disturbed trials were left out and one whose
// figures had to use them, a refused fit, a warning and conclusions. Every figure is written out
// here rather than computed by analyze(), so the golden report changes only when a reporter does —
// and numbers stay clear of rounding ties, so the formatted text is the same on every platform.

#include <string>

#include <nlohmann/json.hpp>

#include "scalelab/report.hpp"
#include "support/helpers.hpp"

namespace scalelab::testing {

/// One summary row with consistent figures: the median `median_s`, a CV of `cv`, a CI of ±1 %
/// around the median, and speedup `baseline_s / median_s` against serial.
inline SummaryRow report_row(const std::string& workload, const std::string& model, int workers,
                             double median_s, double cv, double baseline_s, double ideal,
                             double cpu_util) {
  const double speedup = baseline_s / median_s;
  SummaryRow row = make_row(workload, model, workers, speedup, {speedup * 0.981, speedup * 1.013},
                            ideal, cpu_util);
  row.wall_samples = {median_s * 0.99, median_s, median_s * 1.03};
  row.wall.n = 3;
  row.wall.min = median_s * 0.99;
  row.wall.max = median_s * 1.03;
  row.wall.median = median_s;
  row.wall.mean = median_s * 1.0067;
  row.wall.stddev = cv * row.wall.mean;
  row.wall.cv = cv;
  row.wall.p90 = median_s * 1.024;
  row.wall_ci = {median_s * 0.991, median_s * 1.012};
  return row;
}

/// The fixture described at the top of this file.
inline AnalysedRun report_fixture() {
  AnalysedRun input;
  input.environment = {
      {"cpu_model", "AMD EPYC 7B13"},
      {"logical_cores", 2},
      {"physical_cores", 1},
      {"usable_cores", 2},
      // "governor" left out on purpose: a missing key reads "unknown".
      {"load_avg_1m", 0.31},
      {"kernel", "Linux 6.1.0-18-cloud-amd64"},
      {"hostname", "devbox"},
      {"compiler", "GCC 12.2.0"},
      {"build_type", "Release"},
      {"cxx_flags", "-O3"},
      {"scalelab_version", "0.1.0"},
      {"started_utc", "2026-11-27T10:00:00Z"},
  };
  input.spec = {
      {"workloads", {"cpu", "io"}},
      {"models", {"serial", "threads", "processes"}},
      {"workers", {1, 2, 4, 8}},
      {"tasks", 32},
      {"repeat", 3},
      {"warmup", true},
      {"seed", 3},
      {"cpu_work", {{"duration_s", 0.015}}},
      {"io_wait_s", 0.02},
      {"python_func", ""},
      {"cpu_fraction", 0.5},
      {"task_time_s", 0.02},
      {"switch_interval_s", 0.005},
      {"start_method", "fork"},
  };
  input.warnings = {"Load average 1.52 at start on 2 usable cores: timings may be noisy."};
  input.planned_trials = 60;
  input.recorded_trials = 60;

  Analysis& a = input.analysis;
  a.cores = 2;
  a.workloads = {{"cpu", Boundness::cpu_bound, 0.994, 32},
                 {"io", Boundness::wait_bound, 0.004, 32}};

  const double cpu_serial = 0.494699;
  a.rows.push_back(report_row("cpu", "serial", 1, cpu_serial, 0.034, cpu_serial, 1, 0.997));
  a.rows.push_back(report_row("cpu", "threads", 1, 0.495418, 0.022, cpu_serial, 1, 0.998));
  a.rows.push_back(report_row("cpu", "threads", 2, 0.24694, 0.026, cpu_serial, 2, 1.953));
  a.rows.push_back(report_row("cpu", "threads", 4, 0.254417, 0.071, cpu_serial, 2, 1.987));
  a.rows.back().noisy = true;
  a.rows.back().noise_reason = "CV 7.1 % > 5 %";
  a.rows.push_back(report_row("cpu", "threads", 8, 0.251203, 0.036, cpu_serial, 2, 1.991));
  // Two of its five records were disturbed; reruns replaced them.
  a.rows.back().records = 5;
  a.rows.back().disturbed = 2;
  a.rows.push_back(report_row("cpu", "processes", 1, 0.488432, 0.044, cpu_serial, 1, 1.002));
  a.rows.push_back(report_row("cpu", "processes", 2, 0.255101, 0.028, cpu_serial, 2, 1.962));
  a.rows.push_back(report_row("cpu", "processes", 4, 0.250673, 0.042, cpu_serial, 2, 2.071));
  a.rows.back().impossible.push_back(
      {"cpu_util", "CPU use 2.07 cores above the 2 usable",
       "a measurement window (2.07 cores busy on average over 250.673ms trials: CPU time counted "
       "over more than the interval it is divided by)"});
  a.rows.push_back(report_row("cpu", "processes", 8, 0.262214, 0.019, cpu_serial, 2, 1.968));
  a.rows.back().trials = 1;
  a.rows.back().failed = 2;

  const double io_serial = 0.647264;
  a.rows.push_back(report_row("io", "serial", 1, io_serial, 0.0011, io_serial, 1, 0.004));
  a.rows.push_back(report_row("io", "threads", 1, 0.647044, 0.0012, io_serial, 1, 0.004));
  a.rows.push_back(report_row("io", "threads", 2, 0.32365, 0.0013, io_serial, 2, 0.011));
  a.rows.push_back(report_row("io", "threads", 4, 0.161518, 0.0031, io_serial, 4, 0.006));
  // 8.20× [8.05×, 8.31×] where 8 tasks at a time is the most there can be.
  a.rows.push_back(report_row("io", "threads", 8, 0.0789, 0.0042, io_serial, 8, 0.012));
  a.rows.back().impossible.push_back(
      {"speedup", "speedup 8.20× above the ideal 8× (95 % CI 8.05×–8.31×)",
       "the baseline ran slower than this point's workers could (serial's median 647.264ms is "
       "more than 8× this point's 78.9ms)"});
  a.rows.back().impossible.push_back({"efficiency",
                                      "efficiency 103 % above 100 % (95 % CI 101–104 %)",
                                      a.rows.back().impossible.back().cause});
  a.rows.push_back(report_row("io", "processes", 1, 0.648721, 0.0027, io_serial, 1, 0.011));
  a.rows.push_back(report_row("io", "processes", 2, 0.32613, 0.0014, io_serial, 2, 0.013));
  a.rows.push_back(report_row("io", "processes", 4, 0.163995, 0.0021, io_serial, 4, 0.031));
  // Every trial was disturbed, reruns too: the figures had to use them.
  a.rows.back().records = 6;
  a.rows.back().disturbed = 6;
  a.rows.back().disturbed_used = 3;
  // Every trial of this point failed: no figures, only the count.
  SummaryRow all_failed;
  all_failed.workload = "io";
  all_failed.model = "processes";
  all_failed.workers = 8;
  all_failed.tasks = 32;
  all_failed.failed = 3;
  all_failed.ideal = 8;
  all_failed.baseline = "serial";
  a.rows.push_back(all_failed);

  ScalingFit cpu_threads;
  cpu_threads.workload = "cpu";
  cpu_threads.model = "threads";
  cpu_threads.points = 4;
  cpu_threads.amdahl_serial_fraction = 0.0123;
  cpu_threads.amdahl_r2 = 0.9312;
  cpu_threads.usl_sigma = 0.0214;
  cpu_threads.usl_kappa = 0.0613;
  cpu_threads.usl_r2 = 0.9981;
  cpu_threads.usl_peak_workers = 3.9512;
  ScalingFit cpu_processes = cpu_threads;
  cpu_processes.model = "processes";
  cpu_processes.amdahl_serial_fraction = 0.0211;
  cpu_processes.usl_kappa = 0.0542;
  cpu_processes.usl_peak_workers = 4.2031;
  ScalingFit io_threads;
  io_threads.workload = "io";
  io_threads.model = "threads";
  io_threads.points = 4;
  io_threads.amdahl_serial_fraction = 0.0002;
  io_threads.amdahl_r2 = 0.9999;
  io_threads.usl_sigma = 0.00031;
  io_threads.usl_kappa = 0;
  io_threads.usl_r2 = 0.9998;
  ScalingFit io_processes;
  io_processes.workload = "io";
  io_processes.model = "processes";
  io_processes.points = 3;
  io_processes.refused = "needs at least 4 distinct worker counts, has 3";
  a.fits = {cpu_threads, cpu_processes, io_threads, io_processes};

  a.conclusions = {
      {"cpu",
       "CPU-bound: threads reached 2.00× at 2 workers (efficiency 100 %); more workers "
       "than the 2 cores gained nothing."},
      {"cpu", "processes and threads do not differ significantly at 2 workers (CIs overlap)."},
      {"io", "wait-bound: threads reached 8.00× at 8 workers (efficiency 100 %)."},
      {"io",
       "threads on io at 8 workers shows an impossible figure, not a result: speedup 8.20× "
       "above the ideal 8× (95 % CI 8.05×–8.31×) and efficiency 103 % above 100 % (95 % CI "
       "101–104 %); likely cause: the baseline ran slower than "
       "this point's workers could (serial's median 647.264ms is more than 8× this point's "
       "78.9ms)."},
      {"", "1 of 17 points is noisy; its figures are less certain."},
  };
  return input;
}

}  // namespace scalelab::testing
