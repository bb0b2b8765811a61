"""Write scenarios/geography/example-town.geojson: a small town's communities as a user would
supply them (lon/lat polygons, WGS 84, with population and firms), for the docs and tests.

The polygons are a generated map (sim.city.geo) of a 30,000-person town placed at 36.6 N,
120.9 E and rounded; the file is the input a planner with real boundaries would replace.
Usage: python tools/make_example_geography.py
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import geopandas  # noqa: E402
import numpy as np  # noqa: E402
import shapely  # noqa: E402

from sim.city.geo.citymap import build_city_map  # noqa: E402
from sim.scenario.loading import load_scenario  # noqa: E402

OUT = ROOT / "scenarios" / "geography" / "example-town.geojson"


def main() -> None:
    config = load_scenario(ROOT / "scenarios" / "examples" / "town-map.toml",
                           {"geography.file": "", "geography.area_km2": 18.0, "geography.cores": 1,
                            "geography.seed": 7})
    city = build_city_map(config, np.random.default_rng(config["geography"]["seed"]))
    community = city.community
    # km -> metres in UTM zone 51N around (120.9 E, 36.6 N), then to lon/lat
    polygons = shapely.transform(community.polygons, lambda xy: xy * 1000.0 + [300_000.0, 4_050_000.0])
    frame = geopandas.GeoDataFrame(
        {"name": [f"community {i + 1}" for i in range(len(community))],
         "population": np.round(community.residents).astype(int),
         "firms": np.round(community.firms).astype(int),
         "built_up": np.round(community.built_up, 3)},
        geometry=list(shapely.set_precision(polygons, 1.0)), crs="EPSG:32651").to_crs("EPSG:4326")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    frame.to_file(OUT, driver="GeoJSON", COORDINATE_PRECISION=6)
    print(f"wrote {OUT} ({OUT.stat().st_size:,} bytes, {len(frame)} communities)")


if __name__ == "__main__":
    main()
