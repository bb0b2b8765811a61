"""Staffing optimiser: wall time of the whole ``run.py staff`` process.

Usage: python benchmarks/staffing.py [SCENARIO] [--scale F] [--workers N] [--reps R] [--targets FILE]
Default: longgang-2021 at scale 0.01 with the shipped default targets, 3 replications, 2
workers (target: at most 5 minutes). Times the process as a user runs it (interpreter start,
scenario loading, pilot run, every simulation, outputs), and prints the simulations it needed,
their rate, the answer and the peak memory of the driver and its workers.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 300.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", nargs="?", default=str(ROOT / "scenarios" / "longgang-2021.toml"))
    parser.add_argument("--scale", type=float, default=0.01)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--targets", default=str(ROOT / "scenarios" / "targets" / "default.toml"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as out:
        command = [sys.executable, str(ROOT / "run.py"), "staff", args.scenario, "--targets", args.targets,
                   "--scale", str(args.scale), "--workers", str(args.workers), "--reps", str(args.reps),
                   "--out", out]
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
        wall = time.perf_counter() - started
        if done.returncode not in (0, 1):
            sys.exit(f"run.py staff failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
        summary = json.loads((Path(out) / "staffing.json").read_text())
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    totals = summary["totals"]
    print(f"{Path(args.scenario).stem} at scale {args.scale}, {args.reps} replications, "
          f"{args.workers} workers, "
          f"targets {Path(args.targets).name}")
    print(f"  wall time (whole process): {wall:.1f} s (target <= {TARGET_SECONDS:.0f} s: "
          f"{'ok' if wall <= TARGET_SECONDS else 'OVER'})")
    print(f"  simulations: {summary['simulations']} ({summary['simulations'] / wall * 60:.1f} per minute), "
          f"status {summary['status']}")
    print(f"  government staff: {totals['staff_government_current']:,.0f} now, "
          f"{totals['staff_government_required']:,.0f} required ({totals['staff_government_ratio']:.1%})")
    print(f"  peak memory of the largest process: {peak:,.0f} MB")


if __name__ == "__main__":
    main()
