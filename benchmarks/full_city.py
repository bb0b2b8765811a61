"""Full-city year: wall time, peak memory and requests per second of presets at full scale.

Usage: python benchmarks/full_city.py [SCENARIO...] [--scale F] [--days D] [--repeat N]
Default: township and longgang-2021, scale 1.0, 365 days, median of 3. Prints the phases (agent
set-up, simulation, KPIs) so the note can say where time goes. Each repetition runs in a fresh
process, so peak memory (ru_maxrss) is per run. Last, the one-off cost of compiling the queueing
core: a short run in a fresh process with an empty Numba cache, against the same with the cache.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def one_run(scenario: str, scale: float, days: int) -> dict:
    sys.path.insert(0, str(ROOT))
    from sim.city.model import GovernanceModel
    from sim.outputs.kpis import build_tables, compute_kpis
    from sim.scenario.loading import load_scenario

    t0 = time.perf_counter()
    config = load_scenario(scenario, {"simulation.scale": scale, "simulation.days": days})
    model = GovernanceModel(config)
    t1 = time.perf_counter()
    model.run(days)
    t2 = time.perf_counter()
    kpis = compute_kpis(model, build_tables(model))
    t3 = time.perf_counter()
    return {"setup_s": t1 - t0, "simulate_s": t2 - t1, "kpis_s": t3 - t2, "wall_s": t3 - t0,
            "agents": len(model.agents), "requests": kpis["requests_created"],
            "legs": model.engine.n_legs,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenarios", nargs="*", default=[str(ROOT / "scenarios" / "township.toml"),
                                                         str(ROOT / "scenarios" / "longgang-2021.toml")])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(one_run(args.scenarios[0], args.scale, args.days)))
        return
    print(f"scale {args.scale}, {args.days} days, median of {args.repeat} fresh processes "
          f"(targets: <= 10 s wall, <= 2,048 MB peak)")
    print(f"{'scenario':<16}{'agents':>10}{'requests':>10}{'set-up s':>9}{'simulate s':>11}{'KPIs s':>8}"
          f"{'wall s':>8}{'req/s':>10}{'peak MB':>9}")
    for scenario in args.scenarios:
        runs = [_child([scenario, "--scale", str(args.scale), "--days", str(args.days)])
                for _ in range(args.repeat)]
        m = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        print(f"{Path(scenario).stem:<16}{m['agents']:>10,.0f}{m['requests']:>10,.0f}{m['setup_s']:>9.2f}"
              f"{m['simulate_s']:>11.2f}{m['kpis_s']:>8.2f}{m['wall_s']:>8.2f}"
              f"{m['requests'] / m['wall_s']:>10,.0f}{m['peak_rss_mb']:>9,.0f}")
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        short = [args.scenarios[-1], "--scale", "0.001", "--days", "3"]
        cold = _timed(short, env)
        warm = _timed(short, env)
    print(f"one-off compilation of the queueing core: first run {cold:.2f} s with an empty cache, "
          f"{warm:.2f} s with it: {cold - warm:.2f} s (target <= 3 s; `make` pays it at installation, "
          "so the first run after `make run` or `make test` finds the cache)")


def _child(arguments: list[str], env: dict | None = None) -> dict:
    out = subprocess.run([sys.executable, __file__, *arguments, "--child"], capture_output=True, text=True,
                         check=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _timed(arguments: list[str], env: dict) -> float:
    started = time.perf_counter()
    _child(arguments, env)
    return time.perf_counter() - started


if __name__ == "__main__":
    main()
