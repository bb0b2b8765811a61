"""Who lives where, and the requests they create each day, generated in bulk.

``scale`` samples agents, not demand: with ``scale = 0.01`` one resident agent in a hundred is
created, and each stands for a hundred real residents when it creates requests. So queues see
the real city's volumes at any scale and waiting times do not shrink with the sample, while
agent set-up (the cost that grows with population) falls with it.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.city.catalogue import RequestKind
from sim.city.structure import Structure
from sim.engine.calendars import DAY, WeeklyCalendar
from sim.scenario.schema import SEGMENTS


@dataclass
class Population:
    """Columnar attributes of the sampled agents, by origin group, and the real sizes."""

    location: dict[str, np.ndarray]  # line: a point of [0, 1); map: the leaf area (int)
    real_size: dict[str, float]
    above_scale: np.ndarray  # per firm agent
    real_above_scale_share: float
    xy: dict[str, np.ndarray] | None = None  # map: points (n, 2) in km

    @classmethod
    def build(cls, scenario: dict[str, Any], structure: Structure, scale: float,
              rng: np.random.Generator) -> Population:
        """Agents' attributes: on the line as before; on a map (``structure.city_map``) at points."""
        pop = scenario["population"]
        n_res = max(1, round(pop["residents"] * scale))
        n_firm = round(pop["firms"] * scale)
        if pop["firms"] > 0:  # two at least when both segments exist, so each has a creator
            n_firm = max(n_firm, 2 if 0 < pop["above_scale_share"] < 1 else 1)
        above = np.zeros(n_firm, dtype=bool)
        if n_firm and pop["above_scale_share"] > 0:
            # at least one above-scale and one small firm agent, so both segments can make requests
            n_above = min(max(1, round(n_firm * pop["above_scale_share"])), max(n_firm - 1, 1))
            above[rng.choice(n_firm, n_above, replace=False)] = True
        n_upper = pop["upper_divisions"]
        if structure.city_map is not None:
            return cls._on_map(structure, n_res, n_firm, n_upper, pop, above, rng)
        workers = _grid_worker_locations(structure)
        return cls(
            location={"resident": rng.random(n_res), "firm": rng.random(n_firm),
                      "grid_worker": workers, "upper_division": rng.random(n_upper)},
            real_size={"resident": pop["residents"], "firm": pop["firms"],
                       "grid_worker": len(workers), "upper_division": n_upper},
            above_scale=above, real_above_scale_share=pop["above_scale_share"],
        )


    @classmethod
    def _on_map(cls, structure: Structure, n_res: int, n_firm: int, n_upper: int, pop: dict[str, Any],
                above: np.ndarray, rng: np.random.Generator) -> Population:
        """Residents and firms at points of the map; grid workers at their grid's office; upper
        divisions at residents' points (their requests go to city-level units anyway)."""
        city = structure.city_map
        xy, leaf = {}, {}
        for group, n in (("resident", n_res), ("firm", n_firm), ("upper_division", n_upper)):
            xy[group], leaf[group] = city.place("firm" if group == "firm" else "resident", n, rng)
        worker_xy, worker_leaf = [], []
        for kind in structure.kinds:
            if kind.level == "grid":
                office = city.offices[kind.name]
                home = np.unique(city.catchment[kind.name], return_index=True)[1]  # a leaf of each grid
                worker_xy.append(np.repeat(office, kind.staff, axis=0))
                worker_leaf.append(np.repeat(home, kind.staff))
        xy["grid_worker"] = np.vstack(worker_xy) if worker_xy else np.zeros((0, 2))
        leaf["grid_worker"] = np.concatenate(worker_leaf) if worker_leaf else np.zeros(0, dtype=np.int64)
        return cls(location=leaf,
                   real_size={"resident": pop["residents"], "firm": pop["firms"],
                              "grid_worker": len(leaf["grid_worker"]), "upper_division": n_upper},
                   above_scale=above, real_above_scale_share=pop["above_scale_share"], xy=xy)


def request_points(population: Population, origins: list[str], kind: np.ndarray,
                   agent: np.ndarray) -> np.ndarray | None:
    """Map points (n, 2) of the requests' places (None on the line).

    Args:
        origins: place group of each request kind, by kind index (``RequestKind.place_group``)."""
    if population.xy is None:
        return None
    out = np.zeros((len(kind), 2))
    groups = sorted(set(origins))  # a code per group, not a string per request (450,000 of them)
    code = np.array([groups.index(g) for g in origins], dtype=np.int64)[kind]
    for i, group in enumerate(groups):
        pick = code == i
        if pick.any():
            out[pick] = population.xy[group][agent[pick]]
    return out


def _grid_worker_locations(structure: Structure) -> np.ndarray:
    """One worker per staff post in grid-level units, placed at the middle of their grid."""
    places = []
    for kind in structure.kinds:
        if kind.level == "grid":
            centres = (np.arange(kind.count) + 0.5) / kind.count
            places.append(np.repeat(centres, kind.staff))
    return np.concatenate(places) if places else np.zeros(0)


@dataclass
class NewRequests:
    """A day's new requests, columnar."""

    kind: np.ndarray
    origin_agent: np.ndarray  # row in the place group's columns (the origin's, or a resident's for
    # demand from places: ``RequestKind.place_group``)
    location: np.ndarray
    segment: np.ndarray
    created: np.ndarray  # calendar minutes

    def __len__(self) -> int:
        return len(self.kind)


def kind_streams(rng: np.random.Generator, names: list[str]) -> dict[str, np.random.Generator]:
    """One child stream per request kind, keyed by its name. Why: a scenario that adds a kind
    (social transfer) or routes differently leaves every other kind's draws unchanged, so
    scenarios run on one seed meet the same requests (common random numbers)."""
    base = int(rng.integers(2**63))
    return {name: np.random.default_rng([base, zlib.crc32(name.encode())]) for name in names}


class Demand:
    """Daily request generation: Poisson counts per kind, times within the arrival calendar.

    Args:
        kinds: the catalogue.
        population: the sampled agents.
        calendars: calendars by name (for ``arrival_calendar``).
        rng: the demand stream.
    """

    def __init__(self, kinds: list[RequestKind], population: Population,
                 calendars: dict[str, WeeklyCalendar], rng: np.random.Generator) -> None:
        self.kinds = kinds
        self.population = population
        self.calendars = calendars
        self.rng = rng
        self._kind_rng = kind_streams(rng, [k.name for k in kinds])
        self._rows: dict[int, np.ndarray] = {}  # origin rows per kind, found once (agents stay put)
        self._all_rows: dict[str, np.ndarray] = {}
        self.factor: dict[int, float] = {}  # kind index -> demand relative to the catalogue's (firms' entry)

    def expected_per_day(self, kind: RequestKind, day: int) -> float:
        """Expected requests of a kind on a day: yearly rate x real origin size, spread over open time."""
        cal = self.calendars[kind.arrival_calendar]
        return self._open_day_rate(kind, cal) if cal.is_open_day(day) else 0.0

    def _open_day_rate(self, kind: RequestKind, cal: WeeklyCalendar) -> float:
        return (kind.rate_per_year * self._real_origin_size(kind) * self.factor.get(kind.index, 1.0)
                * cal.day_minutes / cal.yearly_open_minutes())

    def _real_origin_size(self, kind: RequestKind) -> float:
        size = self.population.real_size[kind.place_group]
        if kind.origin == "firm" and kind.segment != "any":
            share = self.population.real_above_scale_share
            size *= share if kind.segment == "above_scale_firm" else 1.0 - share
        return size

    def day(self, day: int) -> NewRequests:
        """The requests created on day ``day`` (0-based), sorted by creation time."""
        return self.days(day, day + 1)

    def days(self, first: int, end: int, kinds: list[RequestKind] | None = None) -> NewRequests:
        """The requests created on days ``first`` .. ``end - 1``, sorted by creation time, of
        ``kinds`` (default: all).

        One Poisson draw per kind and day, all days of a kind at once (NumPy over the days)."""
        parts = [self._kind_days(kind, first, end) for kind in (self.kinds if kinds is None else kinds)]
        if not parts:
            place = self.population.location["resident"].dtype
            return NewRequests(*(np.zeros(0, dtype=d) for d in (np.int64, np.int64, place, np.int64, float)))
        merged = [np.concatenate(c) for c in zip(*parts, strict=True)]
        order = np.argsort(merged[4], kind="stable")
        return NewRequests(*(c[order] for c in merged))

    def _kind_days(self, kind: RequestKind, first: int, end: int) -> tuple[np.ndarray, ...]:
        rows = self._origin_rows(kind)
        day_index = np.arange(first, end)
        rng = self._kind_rng[kind.name]
        cal = self.calendars[kind.arrival_calendar]
        rate = self._open_day_rate(kind, cal)  # (``expected_per_day`` of each day, the rate once)
        mean = np.array([rate if cal.is_open_day(d) else 0.0 for d in range(first, end)])
        counts = rng.poisson(mean) if len(rows) and mean.any() else np.zeros(len(day_index), dtype=int)
        n = int(counts.sum())
        created = np.repeat(day_index, counts) * DAY + cal.open + cal.day_minutes * rng.random(n)
        agent = rows[rng.integers(len(rows), size=n)] if n else np.zeros(0, dtype=np.int64)
        location = self.population.location[kind.place_group][agent]
        segment = self._segment_codes(kind, agent)
        return np.full(n, kind.index), agent, location, segment, created

    def _origin_rows(self, kind: RequestKind) -> np.ndarray:
        """Rows of the agents whose places the kind's requests come from (``place_group``)."""
        if kind.index not in self._rows:
            self._rows[kind.index] = self._find_origin_rows(kind)
        return self._rows[kind.index]

    def _find_origin_rows(self, kind: RequestKind) -> np.ndarray:
        n = len(self.population.location[kind.place_group])
        if kind.origin == "firm" and kind.segment != "any":
            above = self.population.above_scale
            return np.flatnonzero(above if kind.segment == "above_scale_firm" else ~above)
        if kind.place_group not in self._all_rows:  # one 0..n-1 per group, shared by its kinds
            self._all_rows[kind.place_group] = np.arange(n)
        return self._all_rows[kind.place_group]

    def _segment_codes(self, kind: RequestKind, agent: np.ndarray) -> np.ndarray:
        if kind.origin == "firm":
            above = self.population.above_scale[agent]
            return np.where(above, SEGMENTS.index("above_scale_firm"), SEGMENTS.index("small_firm"))
        name = {"resident": "resident", "grid_worker": "public", "upper_division": "upper"}[kind.origin]
        return np.full(len(agent), SEGMENTS.index(name))
