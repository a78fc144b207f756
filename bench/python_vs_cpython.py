#!/usr/bin/env python3
"""scalelab's embedded `python` workload against a stand-alone CPython, side by side.

Both sides run the same loop (scalelab's default python task, the seed's loop) with the same
task count and the same iteration count: scalelab as serial trials through its binary,
`/usr/bin/python3` as the same number of tasks called one after another in one process. The
two alternate, round after round, so that whatever else the machine does falls on both alike.

    bench/python_vs_cpython.py                       # build/scalelab, 5 rounds of 10 trials
    bench/python_vs_cpython.py build-release/scalelab --rounds 8 --repeat 15
    bench/python_vs_cpython.py build-a/scalelab build-b/scalelab   # two builds and python3

The iteration count is what the first scalelab run calibrates for --cpu-work (15ms by
default), read from its results.jsonl header; every later run on either side is given that
count, so all of them do the same work (or give --cpu-work ITERATIONS to fix it yourself).
Each run has one uncounted warm-up trial. Per side it prints the median trial wall time, its
CV, nanoseconds per loop iteration and the ratio to python3, the same for CPU time (which
other work on the machine disturbs less), each round's medians, and the load average around
every round. Run it on a quiet machine: the figures mean something only when the load stays
below 1 (this script's own run).

Where the machine's own speed drifts over seconds (a VM whose host is shared: interpreted code
can swing by 1.5x there while a C++ loop does not), many short rounds compare better than a few
long ones, and --pin CPU puts both sides on one vCPU:

    bench/python_vs_cpython.py build/scalelab --rounds 30 --repeat 2 --pin 1
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

# scalelab's kDefaultTaskSource (src/workloads/python.cpp), word for word; checked against the
# source file when the script is run from its checkout.
TASK_SOURCE = """
def task(i, iters):
    s = i % 1000003
    for k in range(iters):
        s = (s + k * k) % 1000003
    return s
"""

# The stand-alone side: the same function, in __main__, called for tasks 0..T-1 per trial, as
# scalelab's serial model calls it. Prints one JSON object: per-trial wall and CPU seconds.
REFERENCE = (
    TASK_SOURCE
    + """
import json, sys, time
repeat, tasks, iters, warmup = (int(a) for a in sys.argv[1:5])
wall, cpu = [], []
for trial in range(warmup + repeat):
    c0 = time.thread_time()
    t0 = time.perf_counter()
    for t in range(tasks):
        task(t, iters)
    t1 = time.perf_counter()
    c1 = time.thread_time()
    if trial >= warmup:
        wall.append(t1 - t0)
        cpu.append(c1 - c0)
print(json.dumps({"wall_s": wall, "cpu_s": cpu}))
"""
)


def check_task_source():
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(here, os.pardir, "src", "workloads", "python.cpp")
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError:
        return
    match = re.search(r'kDefaultTaskSource = R"\((.*?)\)";', text, re.S)
    if match and match.group(1) != TASK_SOURCE:
        sys.exit(f"{path}'s kDefaultTaskSource differs from this script's TASK_SOURCE; update it")


def load():
    try:
        with open("/proc/loadavg", encoding="ascii") as f:
            return float(f.read().split()[0])
    except OSError:
        return float("nan")


def pinner(args):
    """With --pin, both sides run on that one CPU (a VM's vCPUs need not be equally fast)."""
    if args.pin is None:
        return None
    return lambda: os.sched_setaffinity(0, {args.pin})


def run_scalelab(exe, args, cpu_work, out):
    cmd = [
        exe, "run", "--workload", "python", "--model", "serial", "--tasks", str(args.tasks),
        "--repeat", str(args.repeat), "--cpu-work", cpu_work, "--out", out, "--force", "-q",
    ]
    done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                          preexec_fn=pinner(args))
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr}")
    iters, wall, cpu, disturbed, linking = None, [], [], 0, "unknown"
    with open(os.path.join(out, "results.jsonl"), encoding="utf-8") as f:
        for line in f:
            record = json.loads(line)
            if record.get("type") == "header":
                for spec in record.get("workload_specs", []):
                    if spec.get("name") == "python":
                        iters = spec["cpu_iters"]
                python = record.get("environment", {}).get("runtimes", {}).get("python", {})
                if python:
                    linking = f"{python.get('linking')} ({python.get('library')})"
            elif (record.get("type") == "trial" and not record.get("warmup")
                  and record.get("attempt", 0) == 0):
                # A rerun of a disturbed trial (attempt > 0) is left out: python3's side has
                # no reruns, so both sides keep every first attempt, disturbed or not.
                if record.get("error") or not record.get("checksum_ok", True):
                    sys.exit(f"{exe}: a trial failed: {record.get('error')}")
                wall.append(record["wall_s"])
                cpu.append(record["user_s"] + record["sys_s"])
                disturbed += 1 if record.get("disturbed") else 0
    if iters is None or len(wall) != args.repeat:
        sys.exit(f"{out}/results.jsonl: no python iteration count or not {args.repeat} trials")
    return iters, wall, cpu, disturbed, linking


def run_reference(args, iters):
    cmd = [args.python, "-c", REFERENCE, str(args.repeat), str(args.tasks), str(iters), "1"]
    done = subprocess.run(cmd, capture_output=True, text=True, preexec_fn=pinner(args))
    if done.returncode != 0:
        sys.exit(f"{args.python} failed ({done.returncode}):\n{done.stderr}")
    result = json.loads(done.stdout)
    return result["wall_s"], result["cpu_s"]


def cv(values):
    return statistics.stdev(values) / statistics.mean(values) if len(values) > 1 else 0.0


def main():
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Prints per side: median ms, CV %, ns per iteration and the ratio to python3, "
        "for wall time and for CPU time.")
    parser.add_argument("scalelab", nargs="*", default=["build/scalelab"],
                        help="scalelab binaries, one side each (default: build/scalelab)")
    parser.add_argument("--rounds", type=int, default=5, help="alternations (default 5)")
    parser.add_argument("--repeat", type=int, default=10, help="trials per run (default 10)")
    parser.add_argument("--tasks", type=int, default=16, help="tasks per trial (default 16)")
    parser.add_argument("--cpu-work", default="15ms",
                        help="scalelab's --cpu-work for the first run; later runs use the "
                        "iterations it calibrated (default 15ms)")
    parser.add_argument("--python", default="/usr/bin/python3",
                        help="the stand-alone interpreter (default /usr/bin/python3)")
    parser.add_argument("--pin", type=int, metavar="CPU",
                        help="run both sides on this one CPU (default: wherever the kernel puts "
                        "them, as scalelab's serial model normally runs)")
    args = parser.parse_args()
    if args.rounds < 1 or args.repeat < 2 or args.tasks < 1:
        parser.error("--rounds must be ≥ 1, --repeat ≥ 2, --tasks ≥ 1")
    for exe in args.scalelab + [args.python]:
        if not os.access(exe, os.X_OK):
            parser.error(f"{exe}: not an executable (build scalelab first, or name its binary)")
    check_task_source()
    python_version = subprocess.run([args.python, "-c", "import sys; print(sys.version.split()[0])"],
                                    capture_output=True, text=True).stdout.strip()

    sides = [f"scalelab {exe}" for exe in args.scalelab] + [f"{args.python} {python_version}"]
    wall = {side: [] for side in sides}
    cpu = {side: [] for side in sides}
    disturbed = {side: 0 for side in sides}
    rounds = {side: [] for side in sides}  # each run's median wall time
    loads = []
    linkings = {}
    iters = None
    cpu_work = args.cpu_work
    with tempfile.TemporaryDirectory(prefix="python_vs_cpython.") as tmp:
        for r in range(args.rounds):
            # The order turns every round, so no side always runs right after another one.
            # (Round 1 starts with the first scalelab: its calibration sets the count.)
            order = sides[r % len(sides):] + sides[:r % len(sides)]
            before = load()
            for side in order:
                if side == sides[-1]:
                    w, c = run_reference(args, iters)
                else:
                    exe = args.scalelab[sides.index(side)]
                    got, w, c, d, linkings[side] = run_scalelab(exe, args, cpu_work,
                                                                os.path.join(tmp, str(r)))
                    if iters is None:
                        iters, cpu_work = got, str(got)
                    elif got != iters:
                        sys.exit(f"{exe} ran {got} iterations, not {iters}")
                    disturbed[side] += d
                wall[side] += w
                cpu[side] += c
                rounds[side].append(statistics.median(w))
            loads.append((before, load()))
            print(f"round {r + 1}/{args.rounds}: load {before:.2f} -> {loads[-1][1]:.2f}",
                  file=sys.stderr, flush=True)

    per_trial = args.tasks * iters
    print(f"python loop, serial: {args.tasks} tasks x {iters} iterations a trial, "
          f"{args.rounds} rounds x {args.repeat} trials a side (+1 warm-up a run), interleaved")
    print(f"machine: {os.cpu_count()} logical cores, {os.uname().sysname} {os.uname().release}; "
          f"load average (1 min) per round: "
          + ", ".join(f"{a:.2f}->{b:.2f}" for a, b in loads)
          + f"; max {max(max(p) for p in loads):.2f}")
    for side in sides[:-1]:
        print(f"{side}: libpython linked {linkings.get(side, 'unknown (no record of it)')}")
    reference = sides[-1]
    for kind, data in (("wall", wall), ("cpu", cpu)):
        ref_median = statistics.median(data[reference])
        print(f"\n{kind} time per trial")
        print(f"{'side':<44} {'median ms':>10} {'cv %':>6} {'ns/iter':>8} {'min ms':>8} "
              f"{'vs python3':>10}")
        for side in sides:
            values = data[side]
            median = statistics.median(values)
            print(f"{side:<44} {median * 1e3:10.1f} {cv(values) * 100:6.1f} "
                  f"{median * 1e9 / per_trial:8.1f} {min(values) * 1e3:8.1f} "
                  f"{median / ref_median:9.3f}x")
    print("\nmedian wall ms of each round (a drift that moves every side alike is the machine)")
    for side in sides:
        print(f"{side:<44} " + " ".join(f"{m * 1e3:7.1f}" for m in rounds[side]))
    ref_wall = statistics.median(wall[reference])
    print("\ntarget of issue 10 (serial CV <= 5 %, median within 10 % of python3), wall time:")
    for side in sides[:-1]:
        ratio = statistics.median(wall[side]) / ref_wall
        met = cv(wall[side]) <= 0.05 and abs(ratio - 1) <= 0.10
        print(f"{side:<44} cv {cv(wall[side]) * 100:4.1f} %, {ratio:.3f}x: "
              + ("met" if met else "not met"))
    flagged = {side: n for side, n in disturbed.items() if n}
    if flagged:
        print("\ntrials scalelab flagged as disturbed (another process took the CPUs): "
              + ", ".join(f"{side}: {n}" for side, n in flagged.items()))
    if max(max(p) for p in loads) > 0.5 * (os.cpu_count() or 1):
        print("\nwarning: the machine was busy (load average above half the cores; this "
              "benchmark itself adds about 1): the figures measure the machine as much as "
              "Python", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
