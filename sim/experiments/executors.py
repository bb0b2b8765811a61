"""Executors: one ``concurrent.futures`` interface for in-process, local-pool and Dask runs.

Every job carries its own seed, so results never depend on which executor ran them, how many
workers it had or the order runs finished in.
"""

from __future__ import annotations

import multiprocessing
import os
import re
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.errors import ScenarioError


class InlineExecutor(Executor):
    """Runs each call at submit time in this process (one worker, no pickling, easy debugging)."""

    def __init__(self) -> None:
        keep_freed_memory()  # as a pool's workers do: this process runs one run after another

    def submit(self, fn: Callable, /, *args: Any, **kwargs: Any) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt):
                raise
            future.set_exception(exc)
        return future


def default_workers() -> int:
    return max(1, os.cpu_count() or 1)


SCHEDULER_TIMEOUT = "3s"  # an unreachable Dask scheduler fails this fast, in one line


class LocalPool(Executor):
    """A local process pool that can replace itself when a worker dies.

    Why: a worker killed by the system (out of memory, a signal) breaks a ``ProcessPoolExecutor``
    for good (``BrokenProcessPool``); the batch replaces the pool and retries the lost runs
    instead of stopping. Workers watch the driver and exit when it dies, so a killed driver
    leaves no orphans behind.
    """

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.restarts = 0
        self._pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        # forkserver: workers start clean (no threads inherited through fork), still cheap on Linux
        context = multiprocessing.get_context("forkserver")
        return ProcessPoolExecutor(max_workers=self.workers, mp_context=context, initializer=warm_worker,
                                   initargs=(os.getpid(),))

    def submit(self, fn: Callable, /, *args: Any, **kwargs: Any) -> Future:
        return self._pool.submit(fn, *args, **kwargs)

    def restart(self) -> None:
        """Drop the broken pool (its futures are lost) and start a fresh one."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._pool = self._new_pool()
        self.restarts += 1

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=cancel_futures)


SCHEDULER_ADDRESS = re.compile(r"(tcp|tls|ucx)://(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._-]+)(:(\d{1,5}))?/?"
                               r"|inproc://\S+")
"""What ``--scheduler`` accepts: ``scheme://host[:port]`` (or an in-process address); anything
else fails before connecting."""


def check_scheduler(address: str) -> None:
    """Refuse a malformed Dask scheduler address in one line (key ``--scheduler``)."""
    match = SCHEDULER_ADDRESS.fullmatch(address)
    if match is None or (match.group(4) is not None and not 0 < int(match.group(4)) < 65536):
        raise ScenarioError("command line", "--scheduler", "must be an address such as tcp://10.0.0.5:8786 "
                            f"(scheme tcp, tls or ucx; port 1-65535), got {address!r}")


def connect(address: str) -> Any:
    """A ``distributed.Client`` for ``address``, or one line within ``SCHEDULER_TIMEOUT``.

    Why every exception: what answers on a wrong port is anything (a web server's reply has
    been read as a frame length and raised MemoryError); none of it deserves a traceback."""
    check_scheduler(address)
    try:
        from distributed import Client
    except ImportError:
        raise ScenarioError("command line", "--scheduler", "needs the dask[distributed] package "
                            "(pip install 'dask[distributed]')") from None
    try:
        return Client(address, timeout=SCHEDULER_TIMEOUT)
    except Exception as exc:
        reason = f"{type(exc).__name__}: {' '.join(str(exc).split())[:120]}"
        if not isinstance(exc, OSError | TimeoutError):
            raise ScenarioError("command line", "--scheduler", f"what answers at {address} is not a Dask "
                                f"scheduler ({reason}); check the address and port") from None
        raise ScenarioError("command line", "--scheduler", f"cannot reach a Dask scheduler at {address} "
                            f"within {SCHEDULER_TIMEOUT} ({reason}); is it running?") from None


@contextmanager
def executor_for(workers: int | None = None, scheduler: str | None = None) -> Iterator[Executor]:
    """The executor for a batch: a Dask cluster (``scheduler`` address), a local process pool
    (``workers`` > 1; default: one per core) or this process (``workers`` = 1)."""
    if scheduler:
        client = connect(scheduler)
        try:
            yield client.get_executor()
        finally:
            client.close()
        return
    workers = default_workers() if workers is None else workers
    if workers <= 1:
        yield InlineExecutor()
        return
    pool = LocalPool(workers)
    try:
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def warm_worker(driver_pid: int | None = None) -> None:
    """Import the simulator and load the compiled queueing core once per worker process, so the
    first run a worker gets is not slower than the rest; keep freed memory for the next run;
    watch the driver; and leave the 150,000 objects loaded so far out of every later garbage
    collection (``gc.freeze``: a collection after a run took 60 ms, 8 ms without them)."""
    import sim.experiments.api  # noqa: F401 - the rest of the simulator, imported once per process
    from sim.engine.compiled import warm_up

    keep_freed_memory()
    if driver_pid is not None:
        _watch_driver(driver_pid)
    warm_up()
    import gc

    gc.collect()
    gc.freeze()  # what is loaded now stays: collections (one after each run) no longer scan it


M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD = -1, -2, -3  # glibc's mallopt parameters (malloc.h)


def keep_freed_memory() -> None:
    """Ask glibc's allocator to keep the memory a finished run freed, for the next run of this
    process, instead of handing it back to the system and faulting fresh pages in again.

    Why: a one-year run allocates some 250 MB of arrays; by default glibc maps arrays above a
    threshold on their own and unmaps them when freed, and trims the heap's free top, so each
    run touched all of it anew: 30,000-60,000 page faults and 0.3-0.6 s of system time of a
    2 s run on a virtual machine. Arrays up to 32 MB now come from the heap, and up to 1 GB of
    free heap is kept (the process's peak is unchanged: it is what the largest run needs). Only
    for processes that run one run after another (batch workers); a no-op off glibc."""
    import ctypes
    import sys

    if not sys.platform.startswith("linux"):
        return
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc (or no C library to ask): nothing to tune
        return
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    for parameter, value in ((M_MMAP_THRESHOLD, 32 << 20), (M_TRIM_THRESHOLD, 1 << 30),
                             (M_TOP_PAD, 64 << 20)):
        mallopt(parameter, value)


def release_run() -> None:
    """Free what a finished run left behind, now: the model and its agents refer to each other,
    so only the cyclic collector frees them, at a time of its choosing; until then the next run
    in this process needs fresh memory beside them (a worker held two runs' arrays at once)."""
    import gc

    gc.collect()


def _watch_driver(driver_pid: int, every_seconds: float = 0.5) -> None:
    """Exit this worker as soon as the driver process is gone (killed, even with SIGKILL).

    Why a watcher: pool workers are children of the forkserver, not of the driver, and hold both
    ends of their task pipe (and the forkserver's keep-alive pipe), so nothing else tells them
    the driver died. A pidfd (Linux) wakes the moment the driver exits and cannot be fooled by
    a reused pid; elsewhere the pid is polled."""
    import threading

    try:
        handle = os.pidfd_open(driver_pid)
    except ProcessLookupError:
        os._exit(1)  # the driver died before this worker started
    except (AttributeError, OSError):
        handle = None

    def wait_pidfd() -> None:
        import select

        select.select([handle], [], [])  # readable once the driver has exited
        os._exit(1)

    def poll() -> None:
        import time

        while True:
            time.sleep(every_seconds)
            try:
                os.kill(driver_pid, 0)
            except (ProcessLookupError, PermissionError):  # gone, or the pid is someone else's now
                os._exit(1)

    threading.Thread(target=poll if handle is None else wait_pidfd, name="driver-watch", daemon=True).start()


@dataclass(frozen=True)
class Job:
    """One run: a scenario (file or validated dict), seed, scale and days."""

    scenario: str | Path | dict[str, Any]
    seed: int
    scale: float | None = None
    days: int | None = None


def run_job(job: Job) -> dict[str, Any]:
    """Run one job and return its KPIs (module-level so worker processes can import it)."""
    import copy

    from sim.experiments.api import run_scenario

    scenario = copy.deepcopy(job.scenario) if isinstance(job.scenario, dict) else job.scenario
    kpis = run_scenario(scenario, seed=job.seed, scale=job.scale, days=job.days).kpis
    release_run()
    return kpis


def run_jobs(jobs: list[Job], workers: int | None = None, executor: Executor | None = None,
             progress: Callable[[int, int], None] | None = None) -> list[dict[str, Any]]:
    """KPIs of every job, in job order (used by validate and attribute; batches use sim.experiments.batch)."""
    if executor is not None:
        return _collect(executor, jobs, progress)
    with executor_for(workers if len(jobs) > 1 else 1) as pool:
        return _collect(pool, jobs, progress)


def _collect(executor: Executor, jobs: list[Job], progress: Callable[[int, int], None] | None) -> list:
    futures = [executor.submit(run_job, job) for job in jobs]
    results = []
    for i, future in enumerate(futures):
        results.append(future.result())
        if progress:
            progress(i + 1, len(jobs))
    return results
