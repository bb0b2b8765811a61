"""Read a user's communities (GeoJSON, GeoPackage, any format GDAL reads) into checked arrays.

Each feature is one community: a polygon (or multipolygon) with ``population`` and ``firms``
attributes; ``name`` and ``built_up`` (share of built-up land, 0-1) are optional. Geometry is
projected to metres (a geographic CRS goes to its local UTM zone) and then to kilometres from
the south-west corner, the unit the map works in. Every problem is one ``ScenarioError`` naming
the file, the feature and what is allowed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from sim.errors import ScenarioError

REQUIRED_COLUMNS = ("population", "firms")
BUILT_UP_DENSITY = 3_000.0  # assumed: residents per km2 above which an area counts as built-up when the
# file gives no built_up share (China's urban-area criteria use about 1,500-3,000 per km2)


@dataclass(frozen=True)
class CommunityFile:
    """Communities read from a file, in kilometres."""

    polygons: np.ndarray  # shapely geometries
    names: list[str]
    residents: np.ndarray
    firms: np.ndarray
    built_up: np.ndarray
    crs: str


def read_communities(file: Path, scenario_path: str) -> CommunityFile:
    """The checked communities of ``file`` (cached per path and modification time)."""
    if not file.is_file():
        raise ScenarioError(scenario_path, "geography.file", f"{file} does not exist")
    return _read(str(file), file.stat().st_mtime_ns, scenario_path)


@lru_cache(maxsize=8)
def _read(file: str, _mtime: int, scenario_path: str) -> CommunityFile:
    import geopandas
    import shapely

    def bad(message: str) -> ScenarioError:
        return ScenarioError(scenario_path, "geography.file", f"{file}: {message}")

    try:
        frame = geopandas.read_file(file)
    except Exception as exc:  # GDAL's many reasons: not a vector file, broken JSON, no layer
        raise bad(f"cannot be read as GeoJSON or GeoPackage ({str(exc).splitlines()[0][:120]})") from None
    if len(frame) == 0:
        raise bad("has no features; allowed: one polygon per community")
    for column in REQUIRED_COLUMNS:
        if column not in frame.columns:
            raise bad(f"has no '{column}' attribute; each community needs "
                      f"{' and '.join(REQUIRED_COLUMNS)} (numbers >= 0)")
    if frame.crs is None:
        raise bad("has no coordinate reference system; allowed: any CRS GDAL knows (e.g. EPSG:4326)")
    geometry = frame.geometry
    for i, geom in enumerate(geometry):
        if geom is None or geom.is_empty:
            raise bad(f"feature {i} has no geometry; allowed: a Polygon or MultiPolygon")
        if geom.geom_type not in ("Polygon", "MultiPolygon"):
            raise bad(f"feature {i} is a {geom.geom_type}; allowed: Polygon or MultiPolygon")
        if not geom.is_valid:
            raise bad(f"feature {i} is not a valid polygon ({shapely.is_valid_reason(geom)})")
    if frame.crs.is_geographic:
        x0, y0, x1, y1 = frame.total_bounds
        if x0 < -180 or x1 > 180 or y0 < -90 or y1 > 90:
            raise bad(f"coordinates ({x0:g}..{x1:g}, {y0:g}..{y1:g}) are not longitudes and latitudes, "
                      f"but the CRS is {frame.crs.name} (a GeoJSON without a 'crs' member is WGS 84); "
                      "allowed: the file's true CRS")
    metres = bool(frame.crs.axis_info) and frame.crs.axis_info[0].unit_name in ("metre", "meter")
    if frame.crs.is_geographic or not metres:
        try:
            frame = frame.to_crs(frame.estimate_utm_crs())
        except Exception as exc:  # pyproj's reasons: no zone for these bounds, unknown datum
            raise bad(f"cannot be projected to metres ({exc})") from None
    values = {c: _numbers(frame[c], c, bad) for c in REQUIRED_COLUMNS}
    polygons = np.array(list(frame.geometry), dtype=object)
    x0, y0 = frame.total_bounds[:2]
    polygons = shapely.transform(polygons, lambda xy: (xy - [x0, y0]) / 1000.0)
    area = shapely.area(polygons)
    if shapely.area(shapely.union_all(polygons)) < 0.99 * area.sum():
        raise bad("has communities that overlap; allowed: a partition (each point in one community)")
    if values["population"].sum() <= 0:
        raise bad("has no residents (population sums to 0)")
    if "built_up" in frame.columns:
        built_up = _numbers(frame["built_up"], "built_up", bad)
        if (built_up > 1).any():
            raise bad(f"feature {int(np.argmax(built_up > 1))}: built_up must be a share from 0 to 1")
    else:
        built_up = (values["population"] / np.maximum(area, 1e-9) >= BUILT_UP_DENSITY).astype(float)
    names = ([str(n) for n in frame["name"]] if "name" in frame.columns
             else [f"c{i}" for i in range(len(frame))])
    return CommunityFile(polygons, names, values["population"], values["firms"], built_up, str(frame.crs))


def _numbers(column, name: str, bad) -> np.ndarray:
    out = np.zeros(len(column))
    for i, value in enumerate(column):
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise bad(f"feature {i}: {name} must be a number >= 0 (got {value!r})") from None
        if not math.isfinite(number) or number < 0:
            raise bad(f"feature {i}: {name} must be a finite number >= 0 (got {value!r})")
        out[i] = number
    return out
