"""A task function that misbehaves on request, for the tests of user code that takes its
process down (--python-func scalelab_faults:task). Environment:

  SCALELAB_FAULT          abort | exit | hang | raise | garbage | not-int | none (default none)
  SCALELAB_FAULT_TASK     the task that misbehaves (default 3)
  SCALELAB_FAULT_COUNTER  a file counting the calls of that task across processes; with
  SCALELAB_FAULT_SKIP     N, the first N calls behave (the reference pass is the first call)
  SCALELAB_FAULT_IMPORT   abort | exit | hang | raise | sleep:SECONDS, done at import
  SCALELAB_FAULT_IMPORT_IN_WORKER  the same, done at import in a spawned process worker only
                          (its command line holds --scalelab-worker): a pool slow to start

Every other call returns the task number times 7.
"""

import os
import time


def _misbehave(mode):
    if mode == "abort":
        os.abort()
    if mode == "exit":
        os._exit(3)
    if mode == "hang":
        while True:
            time.sleep(0.01)
    if mode == "raise":
        raise ValueError("asked to fail")
    if mode.startswith("sleep:"):
        time.sleep(float(mode[len("sleep:"):]))


_import_fault = os.environ.get("SCALELAB_FAULT_IMPORT", "")
if _import_fault:
    _misbehave(_import_fault)
with open("/proc/self/cmdline", "rb") as _cmdline:
    _in_spawned_worker = b"--scalelab-worker" in _cmdline.read()
if _in_spawned_worker:
    _misbehave(os.environ.get("SCALELAB_FAULT_IMPORT_IN_WORKER", ""))


def _calls_so_far(path):
    """Counts this call in `path` (one byte a call, appended) and returns the count before it."""
    with open(path, "ab") as f:
        before = f.tell()
        f.write(b".")
    return before


def task(i):
    mode = os.environ.get("SCALELAB_FAULT", "none")
    if mode != "none" and i == int(os.environ.get("SCALELAB_FAULT_TASK", "3")):
        counter = os.environ.get("SCALELAB_FAULT_COUNTER")
        skip = int(os.environ.get("SCALELAB_FAULT_SKIP", "0"))
        if counter is None or _calls_so_far(counter) >= skip:
            if mode == "garbage":
                return time.perf_counter_ns()  # a different value every call
            if mode == "not-int":
                return "three"
            _misbehave(mode)
    return 7 * i
