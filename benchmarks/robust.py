"""A robustness study as a user runs it (issue 14: 500 one-year runs at scale 0.01 in at most
10 minutes on 2 cores).

Usage: python benchmarks/robust.py [--n N] [--workers W] [--days D]
Runs `run.py robust` on township, longgang-2021 and staff-cut-only with N samples (3 N runs;
default N = 167, i.e. 501 runs), whole process, into a temporary folder; prints the wall time,
runs per minute and the time 500 runs take at that pace, against the target.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PRESETS = ("township", "longgang-2021", "staff-cut-only")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=167)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--days", type=int, help="days per run (default: the presets' year)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, str(ROOT / "run.py"), "robust",
                   *(str(ROOT / "scenarios" / f"{p}.toml") for p in PRESETS), "--n", str(args.n),
                   "--workers", str(args.workers), "--out", f"{tmp}/robust"]
        if args.days:
            command += ["--days", str(args.days)]
        started = time.perf_counter()
        proc = subprocess.run(command, capture_output=True, text=True)
        wall = time.perf_counter() - started
        if proc.returncode:
            raise SystemExit(proc.stderr.strip().splitlines()[-1])
        print(proc.stdout.strip().split("\n\n")[-2])  # the conclusions table
    runs = args.n * len(PRESETS)
    print(f"\n{runs} runs ({args.n} samples x {len(PRESETS)} presets), {args.workers} workers: "
          f"{wall:.0f} s, {runs / wall * 60:.1f} runs a minute; 500 runs at this pace: "
          f"{500 / runs * wall / 60:.1f} min (target <= 10 min)")


if __name__ == "__main__":
    main()
