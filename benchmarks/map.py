"""The map's cost: building the tree of areas, placing a full city's agents, and placement.

Usage: python benchmarks/map.py [--repeat N]
Prints, per preset, the median over N fresh builds of: map generation (ground, communities,
groupings, grids; target at most 1 s for the full city, issue 12), placing every resident and
firm of the full city at a point in its leaf area (in the model's set-up), and one p-median
placement of 26 sites over the grids (run.py place's solve).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    import numpy as np

    from sim.city.geo import _cached_map, city_map_for
    from sim.experiments.placement import p_median
    from sim.scenario.loading import load_scenario

    print(f"{'preset':<16}{'map build s':>12}{'place 575k agents s':>21}{'p-median 26 s':>15}{'areas':>22}")
    for preset in ("township", "longgang-2021"):
        config = load_scenario(ROOT / "scenarios" / f"{preset}.toml")
        build, place, solve = [], [], []
        for _ in range(args.repeat):
            _cached_map.cache_clear()  # a fresh build each time, as a new process pays it
            t0 = time.perf_counter()
            city = city_map_for(config)
            t1 = time.perf_counter()
            rng = np.random.default_rng(1)
            city.place("resident", config["population"]["residents"], rng)
            city.place("firm", config["population"]["firms"], rng)
            t2 = time.perf_counter()
            build.append(t1 - t0)
            place.append(t2 - t1)
        leaf, cand = city.leaf, city.community.centre
        km = np.hypot(leaf.centre[:, None, 0] - cand[None, :, 0], leaf.centre[:, None, 1] - cand[None, :, 1])
        t3 = time.perf_counter()
        p_median(leaf.residents, city.travel.minutes(km, "resident"), 26)
        solve.append(time.perf_counter() - t3)
        areas = "/".join(str(len(city.layers[n])) for n in city.order)
        print(f"{preset:<16}{statistics.median(build):>12.2f}{statistics.median(place):>21.2f}"
              f"{statistics.median(solve):>15.1f}{areas:>22}")
    print("target: map generation for the full city at most 1 s (issue 12)")


if __name__ == "__main__":
    main()
