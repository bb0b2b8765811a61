"""The physical city under the organisation: its outline, where people and firms are, built-up land.

Two sources, one interface (``sample``):
  * ``GeneratedGround``: a default city from the scenario: a rectangle of ``area_km2`` (F2),
    built-up cores (discs covering ``built_up_share`` of the land) holding ``built_up_residents``
    of the residents and ``built_up_firms`` of the firms, the rest spread over open land;
  * ``FileGround``: communities read from a GeoJSON or GeoPackage (``sim.city.geo.geofile``),
    people and firms uniform inside each community in its stated numbers.

Coordinates are kilometres in a projected plane (x east, y north).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely

from sim.city.geo.partition import uniform_in


@dataclass
class GeneratedGround:
    """A default city drawn from the map's own random stream.

    Args:
        boundary: the city's outline (a rectangle).
        cores: centres (n, 2) and radii (n,) of the built-up discs.
        built_up_share: by group, share of agents living on built-up land.
    """

    boundary: shapely.Geometry
    core_centre: np.ndarray
    core_radius: np.ndarray
    built_up_share: dict[str, float]
    communities: None = None

    @classmethod
    def from_config(cls, geo: dict[str, Any], rng: np.random.Generator) -> GeneratedGround:
        area, aspect = geo["area_km2"], geo["aspect"]
        width, height = math.sqrt(area * aspect), math.sqrt(area / aspect)
        boundary = shapely.box(0.0, 0.0, width, height)
        # core sizes: one main town and smaller ones, areas 1 : 1/2 : 1/3 ... (assumed: rank-size)
        n = geo["cores"]
        size = 1.0 / np.arange(1, n + 1)
        core_area = geo["built_up_share"] * area * size / size.sum()
        radius = np.sqrt(core_area / math.pi)
        centre = np.zeros((n, 2))
        for i in range(n):  # rejection: inside the city, not overlapping earlier cores
            for _ in range(10_000):
                c = np.array([radius[i] + (width - 2 * radius[i]) * rng.random(),
                              radius[i] + (height - 2 * radius[i]) * rng.random()])
                if all(np.hypot(*(c - centre[j])) >= radius[i] + radius[j] for j in range(i)):
                    break
            centre[i] = c
        return cls(boundary, centre, radius,
                   {"resident": geo["built_up_residents"], "firm": geo["built_up_firms"]})

    @property
    def built_up(self) -> shapely.Geometry:
        return shapely.union_all([shapely.Point(c).buffer(r, quad_segs=16)
                                  for c, r in zip(self.core_centre, self.core_radius, strict=True)])

    def built_up_fraction(self, polygons: np.ndarray) -> np.ndarray:
        """Share of each polygon's land that is built-up."""
        area = shapely.area(polygons)
        return np.where(area > 0, shapely.area(shapely.intersection(polygons, self.built_up))
                        / np.maximum(area, 1e-12), 0.0)

    def sample(self, group: str, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``n`` points of a group (residents, firms); community unknown here (-1)."""
        share = self.built_up_share.get(group, self.built_up_share["resident"])
        in_core = rng.random(n) < share
        core_area = self.core_radius ** 2
        which = rng.choice(len(core_area), int(in_core.sum()), p=core_area / core_area.sum())
        r = self.core_radius[which] * np.sqrt(rng.random(len(which)))
        a = 2 * math.pi * rng.random(len(which))
        xy = np.zeros((n, 2))
        xy[in_core] = self.core_centre[which] + np.column_stack([r * np.cos(a), r * np.sin(a)])
        xy[~in_core] = self._open_land(int((~in_core).sum()), rng)
        return xy, np.full(n, -1, dtype=np.int64)

    def _open_land(self, n: int, rng: np.random.Generator) -> np.ndarray:
        x0, y0, x1, y1 = self.boundary.bounds
        out, have = [], 0
        while have < n:
            m = int((n - have) * 1.6) + 16
            p = np.column_stack([x0 + (x1 - x0) * rng.random(m), y0 + (y1 - y0) * rng.random(m)])
            d = np.hypot(p[:, None, 0] - self.core_centre[None, :, 0],
                         p[:, None, 1] - self.core_centre[None, :, 1])
            p = p[(d > self.core_radius[None, :]).all(axis=1)]
            out.append(p)
            have += len(p)
        return np.vstack(out)[:n] if out else np.zeros((0, 2))


@dataclass
class FileGround:
    """Communities from a file: polygons (km), residents, firms and built-up share of each."""

    boundary: shapely.Geometry
    communities: np.ndarray  # polygons
    names: list[str]
    residents: np.ndarray
    firms: np.ndarray
    built_up_share_of: np.ndarray

    @classmethod
    def from_file(cls, communities: Any) -> FileGround:
        """From a checked ``sim.scenario.geofile.CommunityFile``."""
        return cls(shapely.union_all(communities.polygons), communities.polygons, communities.names,
                   communities.residents, communities.firms, communities.built_up)

    def built_up_fraction(self, polygons: np.ndarray) -> np.ndarray:
        """Built-up share of sub-areas: that of the community holding their representative point."""
        points = shapely.point_on_surface(polygons)
        inside = np.array([shapely.contains(self.communities, p) for p in points])
        owner = np.where(inside.any(axis=1), inside.argmax(axis=1), 0)
        return self.built_up_share_of[owner]

    def sample(self, group: str, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``n`` points: communities drawn by their residents (or firms), uniform inside each."""
        weight = (self.firms if group == "firm" and self.firms.sum() > 0 else self.residents).astype(float)
        community = np.sort(rng.choice(len(weight), n, p=weight / weight.sum()))
        xy = np.zeros((n, 2))
        counts = np.bincount(community, minlength=len(weight))
        start = np.concatenate([[0], np.cumsum(counts)])
        for c in np.flatnonzero(counts):
            xy[start[c]:start[c + 1]] = uniform_in(self.communities[c], int(counts[c]), rng)
        return xy, community
