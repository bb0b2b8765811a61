"""The city on a map: nested areas, where agents live, offices, and travel times."""

from __future__ import annotations

from typing import Any

import numpy as np

from sim.city.geo.citymap import CityMap, build_city_map
from sim.city.geo.ground import FileGround


def city_map_for(scenario: dict[str, Any]) -> CityMap | None:
    """The scenario's map (None on the line), from its own ``geography.seed``: the same city for
    every design and replication of one seed."""
    geo = scenario["geography"]
    if geo["model"] != "map":
        return None
    ground = None
    if geo["file"]:
        from sim.scenario.geofile import read_communities
        from sim.scenario.loading import geography_path

        path = scenario.get("source", {}).get("path", ".")
        ground = FileGround.from_file(read_communities(geography_path(scenario, path), path))
    return build_city_map(scenario, np.random.default_rng(geo["seed"]), ground)


__all__ = ["CityMap", "city_map_for"]
