"""Batch throughput and driver memory.

Usage: python benchmarks/batch.py [--runs-per-worker K] [--memory-runs N] [--memory-days D]

1. Throughput: one-year runs of longgang-2021 at scale 0.01 on 1 and on 2 workers:
   seconds per run, runs per minute, speed-up (target: <= 1 s per run, speed-up >= 1.8).
2. Driver memory over a batch of N runs (default 1,000; short runs so it finishes): resident
   memory of the driver process after 10 %, 50 % and 100 % of the runs, and its peak. Bounded
   means the last figure is not much above the first.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sim.experiments.batch import batch_identity, plan_batch, run_batch  # noqa: E402
from sim.experiments.executors import executor_for  # noqa: E402

SCENARIO = str(ROOT / "scenarios" / "longgang-2021.toml")


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def timed_batch(workers: int, runs: int, days: int | None, scale: float, on_result=None) -> float:
    """Seconds for a batch on a pool whose workers have already run once (imports and the cached
    compiled kernel loaded), as in any batch longer than a few runs per worker."""
    with executor_for(workers) as executor:
        _batch(executor, workers, 2 * workers, 2, scale)  # warm the workers
        return _batch(executor, workers, runs, days, scale, on_result)


def _batch(executor, workers: int, runs: int, days: int | None, scale: float, on_result=None) -> float:
    specs = plan_batch([SCENARIO], runs, [{}], seed=1, scale=scale, days=days)
    identity = batch_identity([SCENARIO], specs, [{}], runs, 1, scale, days, None, True)
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        summary = run_batch(specs, out, executor, identity, progress=False, in_flight=2 * workers + 2,
                            on_result=on_result)
        elapsed = time.perf_counter() - started
    assert summary["failed"] == 0, summary
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs-per-worker", type=int, default=16)
    parser.add_argument("--memory-runs", type=int, default=1000)
    parser.add_argument("--memory-days", type=int, default=2)
    args = parser.parse_args()

    print("1. Throughput: one-year runs, longgang-2021, scale 0.01")
    per_run = {}
    for workers in (1, 2):
        runs = args.runs_per_worker * workers
        elapsed = timed_batch(workers, runs, None, 0.01)
        per_run[workers] = elapsed / runs
        print(f"   {workers} worker(s): {runs} runs in {elapsed:6.1f} s = {elapsed / runs:5.2f} s/run, "
              f"{60 * runs / elapsed:5.1f} runs/min")
    print(f"   speed-up on 2 workers: {per_run[1] / per_run[2]:.2f}x (target >= 1.8x); "
          f"1,000 runs on 2 workers: {1000 * per_run[2] / 60:.0f} min (target ~10 min)")

    marks = {max(1, args.memory_runs // 10): None, args.memory_runs // 2: None, args.memory_runs: None}
    seen = [0]

    def sample(_record) -> None:
        seen[0] += 1
        if seen[0] in marks:
            marks[seen[0]] = rss_mb()

    print(f"2. Driver memory: {args.memory_runs} runs of {args.memory_days} days on 2 workers")
    start_rss = rss_mb()
    elapsed = timed_batch(2, args.memory_runs, args.memory_days, 0.01, on_result=sample)
    print(f"   driver RSS before {start_rss:.0f} MB; " + "; ".join(
        f"after {n} runs {mb:.0f} MB" for n, mb in marks.items()))
    print(f"   driver peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB; "
          f"{elapsed:.0f} s in all")


if __name__ == "__main__":
    main()
