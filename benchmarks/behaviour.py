"""Agents' decisions (issue 13): their cost on a full-city year and on a small run.

Usage: python benchmarks/behaviour.py [--repeat N]
1. Full-city year, whole process as a user runs it (`run.py run PRESET --scale 1`, writing its
   files), for township and longgang-2021 with every rule on (the presets) and with every rule
   off (`--set behaviour.X.enabled=false`): median wall seconds and peak memory of N fresh
   processes (targets with rules on: <= 10 s and <= 2 GB).
2. A one-year run at scale 0.01 in a warmed worker (set up as a pool's worker, which has run
   once already), timed as the worker runs it (``execute_run``): median of N (target with rules
   on: <= 1 s).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RULES = ("channels", "patience", "firms", "patrols", "redeployment")
OFF = [arg for rule in RULES for arg in ("--set", f"behaviour.{rule}.enabled=false")]


def whole_process(preset: str, extra: list[str], out: str) -> tuple[float, float]:
    """Wall seconds and peak resident memory (MB) of one `run.py run` process."""
    t0 = time.perf_counter()
    scenario = str(ROOT / "scenarios" / f"{preset}.toml")
    proc = subprocess.Popen([sys.executable, str(ROOT / "run.py"), "run", scenario, "--scale", "1",
                             "--out", out, *extra],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if status != 0:
        raise SystemExit(f"run.py failed for {preset}: {proc.stderr.read().decode()}")
    return wall, usage.ru_maxrss / 1024


def warmed(preset: str, overrides: dict, repeat: int) -> float:
    """Median seconds of a one-year run at scale 0.01 as a batch worker runs it: the process set
    up as a pool's worker is (``warm_worker``), one run done, then ``execute_run`` timed (the
    run, its KPIs and freeing it for the next)."""
    sys.path.insert(0, str(ROOT))
    from sim.experiments.batch import RunSpec, execute_run
    from sim.experiments.executors import warm_worker

    warm_worker()
    path = str(ROOT / "scenarios" / f"{preset}.toml")

    def spec(seed: int) -> RunSpec:
        return RunSpec(f"{preset}__{seed}", path, preset, 0, {}, 1, seed, 0.01, None, overrides=overrides)

    execute_run(spec(1))  # warm: the map cache and first use of every path
    times = []
    for seed in range(2, 2 + repeat):
        t0 = time.perf_counter()
        record = execute_run(spec(seed))
        times.append(time.perf_counter() - t0)
        if record["status"] != "ok":
            raise SystemExit(f"{preset}: {record['error']}")
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    off = {f"behaviour.{rule}.enabled": False for rule in RULES}
    print(f"full-city year, whole process, median of {args.repeat} (targets, rules on: <= 10 s, <= 2,048 MB)")
    print(f"{'preset':<16}{'rules on s':>11}{'peak MB':>9}{'rules off s':>12}{'peak MB':>9}{'ratio':>7}")
    with tempfile.TemporaryDirectory() as tmp:
        for preset in ("township", "longgang-2021"):
            on = [whole_process(preset, [], f"{tmp}/on") for _ in range(args.repeat)]
            no = [whole_process(preset, OFF, f"{tmp}/off") for _ in range(args.repeat)]
            t_on, m_on = statistics.median(r[0] for r in on), max(r[1] for r in on)
            t_off, m_off = statistics.median(r[0] for r in no), max(r[1] for r in no)
            print(f"{preset:<16}{t_on:>11.2f}{m_on:>9,.0f}{t_off:>12.2f}{m_off:>9,.0f}{t_on / t_off:>7.2f}")
    print(f"\none-year run at scale 0.01 in a warmed worker, median of {args.repeat} "
          "(target, rules on: <= 1 s)")
    print(f"{'preset':<16}{'rules on s':>11}{'rules off s':>12}{'ratio':>7}")
    for preset in ("township", "longgang-2021"):
        t_on, t_off = warmed(preset, {}, args.repeat), warmed(preset, off, args.repeat)
        print(f"{preset:<16}{t_on:>11.2f}{t_off:>12.2f}{t_on / t_off:>7.2f}")


if __name__ == "__main__":
    main()
