"""Cost against population: wall time of a one-year longgang-2021 run as the city grows.

Usage: python benchmarks/scaling.py [--points 0.01 0.03 0.1 0.3 1.0]

Two sweeps, each point in a fresh process:
  * ``scale``: share of residents and firms created as agents (demand stays the real city's);
  * population: the real city itself scaled (residents and firms x f, all of them agents), so
    requests grow with it; this is the sweep that shows whether cost is linear in population.
Prints wall time per point and the fitted exponent b of wall = a * population^b (target <= 1.1).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = str(ROOT / "scenarios" / "longgang-2021.toml")
RESIDENTS, FIRMS = 485_000, 90_000


def child(overrides: dict) -> None:
    sys.path.insert(0, str(ROOT))
    from sim.experiments.api import run_scenario

    run_scenario(SCENARIO, days=3, **{k: v for k, v in overrides.items() if k == "scale"})  # warm
    started = time.perf_counter()
    result = run_scenario(SCENARIO, overrides={k: v for k, v in overrides.items() if k != "scale"},
                          scale=overrides.get("scale"))
    print(json.dumps({"wall": time.perf_counter() - started, "agents": result.metadata["agents"],
                      "requests": result.kpis["requests_created"]}))


def measure(overrides: dict) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", json.dumps(overrides)], capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def exponent(x: list[float], y: list[float]) -> float:
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=float, nargs="+", default=[0.01, 0.03, 0.1, 0.3, 1.0])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(json.loads(args.child))
        return
    for label, make in (
        ("scale (agents sampled, real demand)", lambda f: {"scale": f}),
        ("population (city x f, all agents)", lambda f: {"scale": 1.0,
                                                          "population.residents": round(RESIDENTS * f),
                                                          "population.firms": round(FIRMS * f)}),
    ):
        print(f"{label}")
        rows = [(f, measure(make(f))) for f in args.points]
        for f, r in rows:
            print(f"  f={f:<5} agents {r['agents']:>9,}  requests {r['requests']:>9,}  "
                  f"wall {r['wall']:6.2f} s")
        size = [r["agents"] if label.startswith("scale") else f for f, r in rows]
        b = exponent(size, [r["wall"] for _, r in rows])
        print(f"  fitted exponent of wall time on {'agents' if label.startswith('scale') else 'population'}: "
              f"{b:.2f}")


if __name__ == "__main__":
    main()
