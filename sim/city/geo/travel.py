"""Travel time from straight-line distance: detour factor over a speed, plus a fixed access time.

Why this form: a planner can check every number by hand (minutes = access + 60 x detour x km /
speed), and each of the three parameters is a stated assumption with a plausible range in the
scenario. A road network would be more exact and far harder to supply for a county.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Travel:
    """Door-to-door minutes by mode.

    Args:
        detour: road distance / straight-line distance.
        resident_kmh: residents' and founders' door-to-door speed (mixed walking, e-bike, bus, car).
        team_kmh: a field team's speed (patrol car or e-bike in town traffic).
        access_minutes: fixed minutes per trip (leaving, parking, finding the window).
    """

    detour: float
    resident_kmh: float
    team_kmh: float
    access_minutes: float

    @classmethod
    def from_config(cls, geography: dict[str, Any]) -> Travel:
        return cls(geography["detour"], geography["resident_kmh"], geography["team_kmh"],
                   geography["access_minutes"])

    def minutes(self, km: np.ndarray | float, mode: str) -> np.ndarray:
        """One-way minutes for straight-line distances ``km``."""
        speed = {"resident": self.resident_kmh, "team": self.team_kmh}[mode]  # the two modes
        return self.access_minutes + 60.0 * self.detour * np.asarray(km, dtype=float) / speed


def nearest(points: np.ndarray, sites: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of the nearest site to each point, and its distance (km); chunked to bound memory."""
    index = np.zeros(len(points), dtype=np.int64)
    dist = np.zeros(len(points))
    step = max(1, 4_000_000 // max(1, len(sites)))
    for lo in range(0, len(points), step):
        p = points[lo:lo + step]
        d2 = (p[:, None, 0] - sites[None, :, 0]) ** 2 + (p[:, None, 1] - sites[None, :, 1]) ** 2
        index[lo:lo + step] = d2.argmin(axis=1)
        dist[lo:lo + step] = np.sqrt(d2[np.arange(len(p)), index[lo:lo + step]])
    return index, dist
