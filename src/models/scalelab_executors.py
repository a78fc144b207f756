"""Python's own executors, as scalelab's py-threads, py-processes and py-asyncio models drive
them (written by scalelab; a spawned worker imports it by name)."""
import asyncio
import concurrent.futures as cf
import importlib
import inspect
import multiprocessing
import os
import resource
import signal
import sys
import threading
import time
import traceback

_functions = {}


def function(module, name):
    """module.name (name may be dotted), imported once per process."""
    found = _functions.get((module, name))
    if found is None:
        found = importlib.import_module(module)
        for part in name.split("."):
            found = getattr(found, part)
        _functions[(module, name)] = found
    return found


def describe(error):
    """The last line of the traceback Python would print."""
    return traceback.format_exception_only(type(error), error)[-1].strip()


def timed(module, name, i, args, progress=None):
    """Task i in a pool's worker: (value, start, end, error), on time.monotonic().
    progress(i, running), when given, tells scalelab which task runs."""
    if progress is not None:
        progress(i, True)
    start = time.monotonic()
    try:
        value = function(module, name)(i, *args)
        if inspect.iscoroutine(value):
            value = asyncio.run(value)  # an async def, in a worker that blocks
        return value, start, time.monotonic(), None
    except Exception as error:
        return None, start, time.monotonic(), describe(error)
    finally:
        if progress is not None:
            progress(i, False)


def _usage():
    u = resource.getrusage(resource.RUSAGE_SELF)
    return (u.ru_utime, u.ru_stime, u.ru_nvcsw, u.ru_nivcsw, u.ru_maxrss)


_board = None  # in a process worker: (the pool's board, this worker's slot)


def join_board(board, joined):
    """A process worker's initializer: takes the next slot of the board, a shared array of
    (pid, task running or -1) pairs, so that the pool can name the task a dead worker ran."""
    global _board
    with joined.get_lock():
        slot = joined.value
        joined.value += 1
    board[2 * slot], board[2 * slot + 1] = os.getpid(), -1
    _board = (board, 2 * slot + 1)


def timed_in_process(module, name, i, args, _progress=None):
    """timed, plus which worker ran it and that worker's CPU use so far."""
    board, at = _board
    board[at] = i
    result = timed(module, name, i, args)
    board[at] = -1
    return result + (os.getpid(), _usage())


def hello(module, name, pause):
    """Warms a worker: imports the task's module, then holds the worker a moment so that the
    next warm call goes to another one."""
    function(module, name)
    time.sleep(pause)
    return (os.getpid(), threading.get_ident()), _usage()


class Batch:
    """A batch's count of tasks left, and a stop request from scalelab (any thread)."""

    def __init__(self, tasks):
        self._cond = threading.Condition()
        self.left = tasks
        self.stopped = False
        self.cut = False  # cut short: tasks not yet started are skipped

    def done(self, _future=None):
        with self._cond:
            self.left -= 1
            if self.left <= 0:
                self._cond.notify_all()

    def stop(self):
        with self._cond:
            self.stopped = True
            self._cond.notify_all()

    def wait(self, deadline):
        """'done', 'stopped' or 'timeout' (deadline: on time.monotonic(), or None)."""
        with self._cond:
            while self.left > 0 and not self.stopped:
                if deadline is None:
                    self._cond.wait()
                    continue
                left = deadline - time.monotonic()
                if left <= 0:
                    return "timeout"
                self._cond.wait(left)
            return "done" if self.left <= 0 else "stopped"


def _outcome(t0, how, results, note="", ran=0, running=(), usage=None):
    """What a batch did, for scalelab: how it ended ('done', 'broken', 'stopped', 'timeout',
    'hung'), each task's (value, start, end, error) or None, what ended it early, how many
    tasks ran then and which still ran, and the process workers' CPU use."""
    return {"t0": t0, "how": how, "results": results, "note": note, "ran": ran,
            "running": list(running), "usage": usage}


def _task_list(tasks):
    return f"task {tasks[0]}" if len(tasks) == 1 else f"tasks {', '.join(map(str, tasks))}"


def _signal_name(code):
    try:
        return signal.Signals(-code).name
    except ValueError:
        return f"signal {-code}"


class PoolRunner:
    """ThreadPoolExecutor(W) or ProcessPoolExecutor(W), warmed, running batches of one task."""

    def __init__(self, kind, workers, method, module, name, args, progress):
        self.kind, self.workers = kind, workers
        self.module, self.name, self.args = module, name, tuple(args)
        self.progress = progress if kind == "threads" else None
        if kind == "threads":
            self.executor = cf.ThreadPoolExecutor(workers, thread_name_prefix="scalelab")
            self.call = timed
        else:
            if method == "spawn" and not (sys.executable and os.access(sys.executable, os.X_OK)):
                raise RuntimeError(f"spawn needs a python3 to start: sys.executable is "
                                   f"{sys.executable!r}")
            context = multiprocessing.get_context(method)
            self.board = context.RawArray("q", 2 * workers)
            self.executor = cf.ProcessPoolExecutor(
                workers, mp_context=context, initializer=join_board,
                initargs=(self.board, context.Value("i", 0)))
            self.call = timed_in_process
        self.hung = False
        self.usage = {}
        try:
            self._warm()
        except BaseException:
            # Threads may be stuck in an import: leave them. Killed processes end at once, and
            # waiting for them releases the pool's semaphores.
            processes = getattr(self.executor, "_processes", None) or {}
            for process in processes.values():
                process.kill()
            self.executor.shutdown(wait=bool(processes), cancel_futures=True)
            raise
        self.processes = dict(getattr(self.executor, "_processes", None) or {})

    def _warm(self):
        seen = set()
        give_up = time.monotonic() + 60
        while len(seen) < self.workers:
            if time.monotonic() > give_up:
                raise RuntimeError(f"only {len(seen)} of {self.workers} workers started "
                                   "within 60 s")
            futures = [self.executor.submit(hello, self.module, self.name, 0.01)
                       for _ in range(self.workers)]
            for future in futures:
                who, usage = future.result(max(0.0, give_up - time.monotonic()))
                seen.add(who)
                self.usage[who[0]] = usage

    def run(self, tasks, timeout, grace, batch):
        t0 = time.monotonic()
        deadline = None if timeout is None else t0 + timeout
        futures, how, note = [], "done", ""
        submit, call, module, name, args, progress = (
            self.executor.submit, self.call, self.module, self.name, self.args, self.progress)
        try:
            for i in range(tasks):
                future = submit(call, module, name, i, args, progress)
                future.add_done_callback(batch.done)
                futures.append(future)
        except cf.BrokenExecutor as error:
            how, note = "broken", describe(error)
        if how == "done" and tasks:
            how = batch.wait(deadline)
        if how in ("stopped", "timeout"):
            return self._cut_short(t0, how, futures, grace)
        return self._finish(t0, how, note, futures, tasks)

    def _finish(self, t0, how, note, futures, tasks):
        results = [None] * tasks
        for i, future in enumerate(futures):
            error = future.exception() if future.done() and not future.cancelled() else None
            if isinstance(error, cf.BrokenExecutor):
                how, note = "broken", describe(error)
            elif error is not None:
                results[i] = (None, None, None, describe(error))
            elif future.done() and not future.cancelled():
                results[i] = future.result()
        if how == "broken":
            return _outcome(t0, how, results, self._deaths(note))
        return _outcome(t0, how, results, usage=self._usage_since(results))

    def _cut_short(self, t0, how, futures, grace):
        if self.kind == "threads":
            for future in futures:
                future.cancel()
            note = "the threads finished their tasks in flight and took no more"
        else:
            running = self._running()
            for process in self.processes.values():
                process.kill()
            note = "the worker processes were killed"
            if running:
                note += f" ({_task_list(sorted(running.values()))} still running)"
        # A cancelled future never counts as done in cf.wait: wait for the others.
        _, pending = cf.wait([f for f in futures if not f.cancelled()], grace)
        if pending:
            self.hung = True
            running = [i for i, future in enumerate(futures) if future.running()]
            return _outcome(t0, "hung", [None] * len(futures), running=running)
        ran = sum(1 for f in futures if not f.cancelled() and f.exception() is None)
        return _outcome(t0, how, [None] * len(futures), note, ran)

    def _usage_since(self, results):
        # Each worker's CPU use at its last task of the batch, less what it had before.
        if self.kind == "threads":
            return None
        latest = {}
        for r in results:
            if r is not None and len(r) > 4 and (r[4] not in latest or r[2] > latest[r[4]][0]):
                latest[r[4]] = (r[2], r[5])
        total = [0.0, 0.0, 0, 0, 0]
        for pid, (_, usage) in latest.items():
            before = self.usage.get(pid, (0.0, 0.0, 0, 0, 0))
            for k in range(4):
                total[k] += usage[k] - before[k]
            total[4] += usage[4]
            self.usage[pid] = usage
        return total

    def _running(self):
        """{pid: task} of the process workers running a task, from the board."""
        board = self.board
        return {board[k]: board[k + 1] for k in range(0, len(board), 2)
                if board[k] and board[k + 1] >= 0}

    def _deaths(self, note):
        """Which worker died, how, and during which task. The executor terminates the others
        (SIGTERM) once one has died: they are named only when no other death explains it."""
        running = self._running()
        for process in self.processes.values():
            process.join(2)
        ended = {pid: p.exitcode for pid, p in self.processes.items()
                 if p.exitcode not in (None, 0)}
        first = {pid: code for pid, code in ended.items() if code != -signal.SIGTERM} or ended
        dead = []
        for pid, code in first.items():
            during = f" during task {running[pid]}" if pid in running else ""
            dead.append(f"a worker process (pid {pid}) {self._ended(code)}{during}")
        return f"{'; '.join(dead)} ({note})" if dead else note

    @staticmethod
    def _ended(code):
        return (f"was killed by {_signal_name(code)}" if code < 0
                else f"exited with code {code}")

    def close(self):
        self.executor.shutdown(wait=not self.hung, cancel_futures=True)


class LoopRunner:
    """One asyncio event loop on a thread of its own; a batch is its tasks under a
    Semaphore(W)."""

    def __init__(self, workers, module, name, args, progress):
        self.workers, self.module, self.name, self.args = workers, module, name, tuple(args)
        self.progress = progress
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._serve, name="scalelab-asyncio", daemon=True)
        self.thread.start()
        self.hung = False
        self.running = set()
        warm = asyncio.run_coroutine_threadsafe(self._warm(), self.loop)
        try:
            self.function = warm.result(60)
        except BaseException:
            self.hung = not warm.done()
            self.close()
            raise

    def _serve(self):
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    async def _warm(self):
        found = function(self.module, self.name)
        await asyncio.sleep(0)
        return found

    async def _one(self, semaphore, i, results, batch):
        async with semaphore:
            if batch.cut:
                return  # a task that blocks the loop held back the cancellation until now
            self.running.add(i)
            if self.progress is not None:
                self.progress(i, True)
            start = time.monotonic()
            try:
                value = self.function(i, *self.args)
                if inspect.isawaitable(value):
                    value = await value
                results[i] = (value, start, time.monotonic(), None)
            except Exception as error:
                results[i] = (None, start, time.monotonic(), describe(error))
            finally:
                self.running.discard(i)
                if self.progress is not None:
                    self.progress(i, False)
                batch.done()

    async def _main(self, tasks, results, batch, finished):
        try:
            semaphore = asyncio.Semaphore(self.workers)
            await asyncio.gather(*(self._one(semaphore, i, results, batch)
                                   for i in range(tasks)))
        finally:
            finished.set()

    def run(self, tasks, timeout, grace, batch):
        t0 = time.monotonic()
        deadline = None if timeout is None else t0 + timeout
        results = [None] * tasks
        if not tasks:
            return _outcome(t0, "done", results)
        finished = threading.Event()
        main = asyncio.run_coroutine_threadsafe(self._main(tasks, results, batch, finished),
                                                self.loop)
        how = batch.wait(deadline)
        if how == "done":
            main.result()
            return _outcome(t0, how, results)
        batch.cut = True
        main.cancel()  # cancels the gather, and so every task, on the loop's thread
        if not finished.wait(grace):
            self.hung = True
            return _outcome(t0, "hung", results, running=sorted(self.running))
        ran = sum(1 for r in results if r is not None)
        return _outcome(t0, how, results, "the tasks in flight were cancelled", ran)

    def close(self):
        if self.hung:
            return  # its thread is stuck in a task; it stays, a daemon, until scalelab exits
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
        self.loop.close()


def start(kind, workers, method, module, name, async_name, args, progress):
    """A warmed runner: kind 'threads', 'processes' (method 'fork' or 'spawn') or 'asyncio'.
    progress(i, running) is scalelab's, or None."""
    if kind == "asyncio":
        return LoopRunner(workers, module, async_name or name, args, progress)
    return PoolRunner(kind, workers, method, module, name, args, progress)
