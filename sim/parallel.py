"""Run many simulations on a pool of processes; results come back in job order.

Each job carries its own seed, so the results do not depend on the number of workers or on
the order in which runs finish.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Job:
    """One run: a scenario (file or validated dict), seed, scale and days."""

    scenario: str | Path | dict[str, Any]
    seed: int
    scale: float | None = None
    days: int | None = None


def run_job(job: Job) -> dict[str, Any]:
    """Run one job and return its KPIs (module-level so worker processes can import it)."""
    from sim.api import run_scenario

    scenario = job.scenario
    if isinstance(scenario, dict):
        import copy

        scenario = copy.deepcopy(scenario)
    return run_scenario(scenario, seed=job.seed, scale=job.scale, days=job.days).kpis


def default_workers() -> int:
    return max(1, os.cpu_count() or 1)


def run_jobs(jobs: list[Job], workers: int | None = None, executor: Executor | None = None,
             progress: Any = None) -> list[dict[str, Any]]:
    """KPIs of every job, in job order.

    Args:
        jobs: the runs.
        workers: processes (default: cores); 1 runs in this process.
        executor: any ``concurrent.futures``-style executor to use instead of a local pool.
        progress: optional callable(done, total) called as runs finish.
    """
    workers = default_workers() if workers is None else workers
    if executor is None and (workers <= 1 or len(jobs) <= 1):
        results = []
        for i, job in enumerate(jobs):
            results.append(run_job(job))
            if progress:
                progress(i + 1, len(jobs))
        return results
    own = executor is None
    # forkserver: workers start clean (no forked threads), still cheap on Linux
    pool = executor or ProcessPoolExecutor(max_workers=workers,
                                           mp_context=multiprocessing.get_context("forkserver"))
    try:
        futures = [pool.submit(run_job, job) for job in jobs]
        results = []
        for i, future in enumerate(futures):
            results.append(future.result())
            if progress:
                progress(i + 1, len(jobs))
        return results
    finally:
        if own:
            pool.shutdown(cancel_futures=True)
