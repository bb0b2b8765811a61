"""Full-city year: wall time and peak memory of one preset at full scale.

Usage: python benchmarks/full_city.py [SCENARIO] [--scale F] [--days D] [--repeat N]
Prints the phases (agent set-up, simulation, KPIs) so the note can say where time goes.
Each repetition runs in a fresh process, so peak memory (ru_maxrss) is per run.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def one_run(scenario: str, scale: float, days: int) -> dict:
    sys.path.insert(0, str(ROOT))
    from sim.metrics import build_tables, compute_kpis
    from sim.model import GovernanceModel
    from sim.scenario import load_scenario

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
    parser.add_argument("scenario", nargs="?", default=str(ROOT / "scenarios" / "longgang-2021.toml"))
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(one_run(args.scenario, args.scale, args.days)))
        return
    runs = []
    for _ in range(args.repeat):
        out = subprocess.run([sys.executable, __file__, args.scenario, "--scale", str(args.scale),
                              "--days", str(args.days), "--child"], capture_output=True, text=True,
                             check=True)
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    median = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    print(f"scenario {Path(args.scenario).stem}  scale {args.scale}  days {args.days}  "
          f"repeats {args.repeat} (median)")
    print(f"  agents            {median['agents']:>12,.0f}")
    print(f"  requests          {median['requests']:>12,.0f}")
    print(f"  legs              {median['legs']:>12,.0f}")
    print(f"  set-up (agents)   {median['setup_s']:>12.2f} s")
    print(f"  simulate          {median['simulate_s']:>12.2f} s")
    print(f"  KPIs              {median['kpis_s']:>12.2f} s")
    print(f"  wall              {median['wall_s']:>12.2f} s   (target <= 60 s)")
    print(f"  requests / s      {median['requests'] / median['wall_s']:>12,.0f}")
    print(f"  peak memory       {median['peak_rss_mb']:>12,.0f} MB (target <= 3,072 MB)")


if __name__ == "__main__":
    main()
