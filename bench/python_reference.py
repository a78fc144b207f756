#!/usr/bin/env python3
"""Python reference for scalelab: the week-2 concurrency-and-scaling experiment.

The seed experiment (shared/seed/week2-concurrency-and-scaling.md) in plain Python,
stdlib only, Python 3.11+, so its numbers can sit next to scalelab's C++ numbers.
It runs three workloads -- `cpu` (pure-Python loop), `io` (sleep) and `noop`
(empty task) -- under four models -- `serial`, `threads` (ThreadPoolExecutor),
`processes` (ProcessPoolExecutor) and `async` (one asyncio loop, Semaphore(W)) --
and prints median wall time, speedup vs serial, efficiency and CPU utilisation.

    python3 bench/python_reference.py                 # full default sweep
    python3 bench/python_reference.py --cpu-work 2ms --io-wait 5ms --tasks 8 --repeat 1 --workers 1,2
    # per-task dispatch overhead (the noop table adds microseconds per task):
    python3 bench/python_reference.py --workload noop --model threads,processes,async --tasks 10000 --workers 2

Method: every trial gets a fresh pool, created and warmed (all W threads/processes
known to be running) before the clock starts; that start-up time is reported on
its own. The clock (perf_counter) covers submitting N tasks and collecting every
result. Each (workload, model, W) gets one uncounted warm-up run, trial order is
shuffled with --seed, and every checksum is compared with the serial value.
"""

import argparse
import asyncio
import json
import multiprocessing
import os
import platform
import random
import re
import statistics
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

WORKLOADS = ("cpu", "io", "noop")
MODELS = ("serial", "threads", "processes", "async")
START_METHODS = ("fork", "spawn")
DURATION_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0}

# ---------------------------------------------------------------- tasks
# Module-level functions, because spawn-started workers must unpickle them by name.


def cpu_loop(iters, start=0):
    # As scalelab's cpu task: the seed's loop, started from the task's number, so every task's
    # checksum differs.
    s = start % 1000003
    for i in range(iters):
        s = (s + i * i) % 1000003
    return s


def run_task(workload, index, iters, wait):
    if workload == "cpu":
        return cpu_loop(iters, index)
    if workload == "io":
        time.sleep(wait)
    return index


def run_task_reporting_cpu(workload, index, iters, wait):
    # The parent cannot see pool workers' CPU time while they live: os.times()
    # children fields and RUSAGE_CHILDREN only count children already reaped, and
    # workers are reaped after the clock stops. So each task reports its own CPU
    # time. This misses the worker's unpickling/queue work outside the task body,
    # so process CPU utilisation is a lower bound (marked '*' in the table).
    c0 = time.process_time()
    checksum = run_task(workload, index, iters, wait)
    return checksum, time.process_time() - c0


def _sleep_and_pid(delay):
    time.sleep(delay)
    return os.getpid()


async def async_batch(workload, n, iters, wait, limit):
    sem = asyncio.Semaphore(limit)

    async def one(i):
        async with sem:
            if workload == "io":
                await asyncio.sleep(wait)
                return i
            # CPU work runs inline and blocks the loop, as it would in real asyncio code.
            return run_task(workload, i, iters, wait)

    return await asyncio.gather(*(one(i) for i in range(n)))


# ---------------------------------------------------------------- pools


def warm_threads(pool, workers):
    # Executors start threads lazily and reuse idle ones; tasks that block on a
    # W-party barrier cannot finish until W distinct threads exist.
    barrier = threading.Barrier(workers)
    for f in [pool.submit(barrier.wait, 30.0) for _ in range(workers)]:
        f.result()


def warm_processes(pool, workers):
    # A barrier across processes would need a Manager; instead submit rounds of
    # short sleeps until W distinct pids have answered. With spawn the executor
    # starts workers lazily, and one round can be served by fewer than W of them.
    seen, deadline = set(), time.perf_counter() + 120.0
    while len(seen) < workers:
        if time.perf_counter() > deadline:
            raise RuntimeError(f"only {len(seen)} of {workers} worker processes started")
        seen.update(f.result() for f in [pool.submit(_sleep_and_pid, 0.005) for _ in range(workers)])


def run_trial(cfg, workload, model, workers):
    """One timed batch of cfg.tasks tasks; returns wall, start-up and CPU seconds, checksums."""
    n, iters, wait = cfg.tasks, cfg.iters, cfg.io_wait
    pool = loop = None
    t_setup = time.perf_counter()
    try:
        if model == "threads":
            pool = ThreadPoolExecutor(max_workers=workers)
            warm_threads(pool, workers)
        elif model == "processes":
            ctx = multiprocessing.get_context(cfg.start_method)
            pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx)
            warm_processes(pool, workers)
        elif model == "async":
            loop = asyncio.new_event_loop()
            loop.run_until_complete(asyncio.sleep(0))
        startup = 0.0 if model == "serial" else time.perf_counter() - t_setup

        t0 = time.perf_counter()
        cpu0 = time.process_time()  # nested inside the wall interval, so cpu <= wall for one thread
        if model == "serial":
            results = [run_task(workload, i, iters, wait) for i in range(n)]
        elif model == "threads":
            futures = [pool.submit(run_task, workload, i, iters, wait) for i in range(n)]
            results = [f.result() for f in futures]
        elif model == "processes":
            futures = [pool.submit(run_task_reporting_cpu, workload, i, iters, wait) for i in range(n)]
            results = [f.result() for f in futures]
        else:
            results = loop.run_until_complete(async_batch(workload, n, iters, wait, workers))
        cpu = time.process_time() - cpu0  # all threads of this process, user + sys
        wall = time.perf_counter() - t0
    finally:
        if pool is not None:
            pool.shutdown(wait=True)
        if loop is not None:
            loop.close()

    if model == "processes":
        cpu += sum(c for _, c in results)
        results = [r for r, _ in results]
    return {"wall_s": wall, "startup_s": startup, "cpu_s": cpu, "results": results}


# ---------------------------------------------------------------- input parsing


def _list_of(allowed):
    def parse(text):
        items = [t.strip() for t in text.split(",") if t.strip()]
        bad = [t for t in items if t not in allowed]
        if not items or bad:
            raise argparse.ArgumentTypeError(
                f"got {text!r}; allowed: comma-separated list of {', '.join(allowed)}")
        return list(dict.fromkeys(items))  # dedupe, keep order
    return parse


def start_method_arg(text):
    if text not in START_METHODS:
        raise argparse.ArgumentTypeError(f"got {text!r}; allowed: {' or '.join(START_METHODS)}")
    return text


def positive_int(text):
    if not re.fullmatch(r"[0-9]+", text) or int(text) < 1:
        raise argparse.ArgumentTypeError(f"got {text!r}; allowed: a positive integer")
    return int(text)


def any_int(text):
    if not re.fullmatch(r"-?[0-9]+", text):
        raise argparse.ArgumentTypeError(f"got {text!r}; allowed: an integer")
    return int(text)


def parse_duration(text, allow_zero=False):
    m = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)(us|ms|s)", text.strip())
    if not m or (float(m[1]) == 0 and not allow_zero):
        raise argparse.ArgumentTypeError(
            f"got {text!r}; allowed: a duration such as 500us, 20ms, 1s")
    return float(m[1]) * DURATION_UNITS[m[2]]


def io_wait_arg(text):
    return parse_duration(text, allow_zero=True)


def cpu_work_arg(text):
    """An iteration count ('200000') or a duration ('25ms') to be calibrated."""
    if re.fullmatch(r"[0-9]+", text.strip()) and int(text) >= 1:
        return ("iters", int(text))
    try:
        return ("seconds", parse_duration(text))
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"got {text!r}; allowed: an iteration count (200000) or a duration (500us, 25ms, 1s)")


def power_range(lo, hi):
    """lo, the powers of two between lo and hi, and hi itself (even if not a power of two)."""
    values, p = {lo, hi}, 1
    while p < hi:
        if p > lo:
            values.add(p)
        p *= 2
    return values


def workers_arg(text):
    values = set()
    for tok in (t.strip() for t in text.split(",")):
        m = re.fullmatch(r"([0-9]+)\.\.([0-9]+)", tok)
        if m and 1 <= int(m[1]) <= int(m[2]):
            values |= power_range(int(m[1]), int(m[2]))
        elif re.fullmatch(r"[0-9]+", tok) and int(tok) >= 1:
            values.add(int(tok))
        else:
            raise argparse.ArgumentTypeError(
                f"got {text!r}; allowed: positive integers like 1,2,8 or a range like 1..16 "
                "(powers of two from 1 up to 16, upper bound always included)")
    return sorted(values)


class OneLineErrorParser(argparse.ArgumentParser):
    # scalelab reports bad input as a single stderr line and exit status 2.
    def error(self, message):
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        sys.exit(2)


def parse_args(argv):
    p = OneLineErrorParser(prog="python_reference.py",
                           description="Python reference for scalelab's concurrency-scaling sweep.")
    p.add_argument("--workload", type=_list_of(WORKLOADS), default=["cpu", "io"])
    p.add_argument("--model", type=_list_of(MODELS), default=list(MODELS))
    p.add_argument("--workers", type=workers_arg, default=None,
                   help="e.g. 1,2,8 or 1..16; default powers of two up to 2*cpu_count (cpu, noop) "
                        "or up to --tasks (io)")
    p.add_argument("--tasks", type=positive_int, default=32)
    p.add_argument("--repeat", type=positive_int, default=3)
    p.add_argument("--cpu-work", type=cpu_work_arg, default=("seconds", 0.015))
    p.add_argument("--io-wait", type=io_wait_arg, default=0.020)
    p.add_argument("--seed", type=any_int, default=0)
    p.add_argument("--start-method", type=start_method_arg, default="fork")
    p.add_argument("--json", metavar="PATH", default=None)
    args = p.parse_args(argv)
    args.argv = list(argv)
    if args.json and not os.path.isdir(os.path.dirname(os.path.abspath(args.json))):
        # Fail now rather than after a sweep of many minutes.
        p.error(f"argument --json: directory of {args.json!r} does not exist; allowed: a writable file path")
    if args.start_method not in multiprocessing.get_all_start_methods():
        p.error(f"argument --start-method: {args.start_method!r} is not available here; allowed: "
                f"{', '.join(m for m in START_METHODS if m in multiprocessing.get_all_start_methods())}")
    return args


# ---------------------------------------------------------------- driver


def calibrate():
    """Iterations per second of cpu_loop, median of three ~0.1 s timings."""
    iters = 10_000
    while True:  # grow until one timing is long enough that timer noise is negligible
        t0 = time.perf_counter()
        cpu_loop(iters)
        if time.perf_counter() - t0 >= 0.1:
            break
        iters *= 2
    rates = []
    for _ in range(3):
        t0 = time.perf_counter()
        cpu_loop(iters)
        rates.append(iters / (time.perf_counter() - t0))
    return statistics.median(rates)


def fmt(x, scale=1.0):
    # Two decimals, but keep two significant digits for tiny values (noop wall times).
    if x is None:
        return "-"
    x *= scale
    return f"{x:.2f}" if abs(x) >= 0.1 or x == 0 else f"{x:.2g}"


def summarise(cfg, trials):
    rows = []
    for workload in cfg.workload:
        serial_med = None
        for model in ["serial"] + [m for m in cfg.model if m != "serial"]:
            for w in sorted({t["workers"] for t in trials if (t["workload"], t["model"]) == (workload, model)}):
                mine = [t for t in trials if (t["workload"], t["model"], t["workers"]) == (workload, model, w)
                        and not t["warmup"]]
                ok = [t for t in mine if t["ok"]]
                row = {"workload": workload, "model": model, "workers": w, "trials": len(mine),
                       "failed": len(mine) - len(ok), "median_wall_s": None, "speedup": None,
                       "efficiency": None, "cpu_util": None, "median_startup_s": None, "us_per_task": None}
                if ok:
                    med = statistics.median(t["wall_s"] for t in ok)
                    if model == "serial":
                        serial_med = med
                    row.update(median_wall_s=med,
                               cpu_util=statistics.median(t["cpu_s"] / t["wall_s"] for t in ok),
                               median_startup_s=statistics.median(t["startup_s"] for t in ok),
                               us_per_task=med / cfg.tasks * 1e6)
                    if serial_med:
                        row.update(speedup=serial_med / med, efficiency=serial_med / med / w)
                rows.append(row)
    return rows


def print_table(cfg, workload, rows):
    what = {"cpu": f"{cfg.iters} iters/task (~{cfg.iters / cfg.ips * 1e3:.2f} ms)" if cfg.ips
            else f"{cfg.iters} iters/task",
            "io": f"sleep {cfg.io_wait * 1e3:g} ms/task", "noop": "empty task"}[workload]
    print(f"\n== {workload}: {what}, {cfg.tasks} tasks, {cfg.repeat} repeat(s), median of repeats ==")
    noop = workload == "noop"
    print(f"{'model':<10} {'workers':>7} {'wall ms':>10} {'speedup':>8} {'eff':>6} {'cpu util':>9} "
          f"{'startup ms':>11}" + (f" {'us/task':>9}" if noop else "") + f" {'fail':>5}")
    for r in rows:
        util = fmt(r["cpu_util"]) + ("*" if r["model"] == "processes" and r["cpu_util"] is not None else "")
        print(f"{r['model']:<10} {r['workers']:>7} {fmt(r['median_wall_s'], 1e3):>10} "
              f"{fmt(r['speedup']):>8} {fmt(r['efficiency']):>6} {util:>9} "
              f"{fmt(r['median_startup_s'], 1e3):>11}"
              + (f" {fmt(r['us_per_task']):>9}" if noop else "") + f" {r['failed']:>5}")


def main(argv=None):
    cfg = parse_args(sys.argv[1:] if argv is None else argv)
    ncpu = os.cpu_count() or 1
    print(f"python {platform.python_version()} ({platform.python_implementation()}) | "
          f"{platform.platform()} | cpu_count {ncpu} | start method {cfg.start_method}")

    kind, amount = cfg.cpu_work
    cfg.ips = None
    if "cpu" in cfg.workload:
        cfg.ips = calibrate()
        cfg.iters = amount if kind == "iters" else max(1, round(amount * cfg.ips))
        print(f"calibration: {cfg.ips:,.0f} loop iterations/s -> {cfg.iters:,} iterations per cpu task"
              + (f" (--cpu-work {amount * 1e3:g}ms)" if kind == "seconds" else " (given)"))
        # The loop only adds mod 1000003, so task i's serial value is (i + loop from 0) % 1000003.
        cpu_checksum = cpu_loop(cfg.iters)
    else:
        cfg.iters = amount if kind == "iters" else 0
        cpu_checksum = None

    schedule = []
    for workload in cfg.workload:
        default_top = cfg.tasks if workload == "io" else 2 * ncpu  # as scalelab: waiting scales to N
        ws = cfg.workers or sorted(power_range(1, default_top))
        for model in cfg.model:
            for w in ([1] if model == "serial" else ws):
                schedule += [(workload, model, w, rep) for rep in range(cfg.repeat)]
    random.Random(cfg.seed).shuffle(schedule)  # spread drift (thermal, noisy neighbours) over configs

    trials, warmed = [], set()
    for workload, model, w, rep in schedule:
        runs = [(True, -1)] if (workload, model, w) not in warmed else []
        warmed.add((workload, model, w))
        for warmup, r in runs + [(False, rep)]:
            trial = {"workload": workload, "model": model, "workers": w, "repeat": r, "warmup": warmup}
            try:
                out = run_trial(cfg, workload, model, w)
                results = out.pop("results")
                expected = [(i + cpu_checksum) % 1000003 if workload == "cpu" else i
                            for i in range(cfg.tasks)]
                mismatches = sum(a != b for a, b in zip(results, expected)) + abs(len(results) - len(expected))
                trial.update(out, ok=mismatches == 0, mismatches=mismatches)
            except Exception as exc:  # a crashed pool is a failed trial, not a crashed sweep
                trial.update(ok=False, error=f"{type(exc).__name__}: {exc}")
            if not trial["ok"]:
                print(f"trial failed: {workload} {model} W={w} repeat={r}: "
                      f"{trial.get('error') or str(trial['mismatches']) + ' checksum mismatches'}",
                      file=sys.stderr)
            trials.append(trial)

    rows = summarise(cfg, trials)
    for workload in cfg.workload:
        print_table(cfg, workload, [r for r in rows if r["workload"] == workload])
    if "serial" not in cfg.model:
        print("\n(speedup and efficiency need a serial baseline: add serial to --model)")
    if "processes" in cfg.model:
        print("\n* processes cpu util = parent CPU + CPU spent inside each task in the workers; "
              "worker-side pickling/IPC is not counted, so it is a lower bound.")

    if cfg.json:
        meta = {"python": platform.python_version(), "implementation": platform.python_implementation(),
                "platform": platform.platform(), "cpu_count": ncpu, "start_method": cfg.start_method,
                "tasks": cfg.tasks, "repeat": cfg.repeat, "seed": cfg.seed, "cpu_iters": cfg.iters,
                "calibration_iters_per_s": cfg.ips, "io_wait_s": cfg.io_wait, "argv": cfg.argv}
        with open(cfg.json, "w") as fh:
            json.dump({"meta": meta, "trials": trials, "summary": rows}, fh, indent=2)
        print(f"\nwrote {cfg.json}")
    return 1 if any(not t["ok"] for t in trials) else 0


if __name__ == "__main__":
    sys.exit(main())
