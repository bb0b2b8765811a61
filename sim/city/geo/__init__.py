"""The city on a map: nested areas, where agents live, offices, and travel times."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

import numpy as np

from sim.city.geo.citymap import CityMap, build_city_map
from sim.city.geo.ground import FileGround

MAP_UNIT_KEYS = ("level", "count", "sites", "sites_at", "residents_per_unit")  # what the map reads of a unit


def city_map_for(scenario: dict[str, Any]) -> CityMap | None:
    """The scenario's map (None on the line), from its own ``geography.seed``: the same city for
    every design and replication of one seed.

    Maps are remembered per process by what draws them (geography, population, the unit kinds'
    levels, counts and sites, the file's modification time). Why: a batch or the staffing
    search runs one scenario hundreds of times in a worker, and the map is the same each time;
    it is never changed after it is built."""
    geo = scenario["geography"]
    if geo["model"] != "map":
        return None
    path = scenario.get("source", {}).get("path", ".")
    mtime = 0
    if geo["file"]:
        from sim.scenario.loading import geography_path

        file = geography_path(scenario, path)
        mtime = file.stat().st_mtime_ns if file.is_file() else 0
    units = {n: [u[k] for k in MAP_UNIT_KEYS] for n, u in scenario["units"].items()}  # order kept
    key = json.dumps({"geography": geo, "path": path if geo["file"] else "", "mtime": mtime,
                      "population": scenario["population"], "units": units})
    return _cached_map(key)


@lru_cache(maxsize=8)
def _cached_map(key: str) -> CityMap:
    spec = json.loads(key)
    scenario = {"geography": spec["geography"], "population": spec["population"],
                "units": {n: dict(zip(MAP_UNIT_KEYS, u, strict=True)) for n, u in spec["units"].items()},
                "source": {"path": spec["path"] or "."}}
    ground = None
    if spec["geography"]["file"]:
        from sim.scenario.geofile import read_communities
        from sim.scenario.loading import geography_path

        path = spec["path"]
        ground = FileGround.from_file(read_communities(geography_path(scenario, path), path))
    return build_city_map(scenario, np.random.default_rng(spec["geography"]["seed"]), ground)


__all__ = ["CityMap", "city_map_for"]
