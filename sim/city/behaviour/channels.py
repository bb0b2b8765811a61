"""Residents choose a channel for each matter (issue 13, item 1).

Alternatives (``behaviour_schema.CHANNELS``): the counter of the matter's lowest window (the
community centre), the hall one level up (township or city service hall), online, the hotline.
Each has a generalised cost in minutes of the resident's own time:

    cost_j = expected trips_j x 2 x one-way minutes to j's office (the map)
             + expected days to resolution_j x minutes_per_day_waited

with expectations learned from experience (``learning.Expectations``), and the choice is a
multinomial logit (``logit``) with constants per alternative. Online needs digital access, drawn
once per resident from their age group (assumed shares and access rates, in the scenario). On the
line there is no distance: every office is ``geography.access_minutes`` away.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sim.city.behaviour.logit import draw_choice, logit_shares
from sim.city.catalogue import RequestKind
from sim.city.planner import COUNTER, HALL, HOTLINE, ONLINE, Planner
from sim.city.structure import Structure

N_CHANNELS = 4
DAYS, TRIPS = 0, 1  # outcomes learned


class ChannelChoice:
    """The channel rule for the tracked request kinds.

    Args:
        cfg: ``behaviour.channels``.
        kinds: tracked request kinds.
        planner: gives each kind's counter and hall unit kinds.
        structure: the organisation (and its map, if any).
        access_minutes: one-way minutes to any office on the line.
        digital: per resident, whether they can use the online channel.
        home: residents' leaf areas and points, to compute each resident's minutes once.
    """

    def __init__(self, cfg: dict[str, Any], kinds: list[RequestKind], planner: Planner,
                 structure: Structure, access_minutes: float, digital: np.ndarray,
                 home: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        self.cfg = cfg
        self.structure = structure
        self.access_minutes = access_minutes
        self.digital = digital
        self.constant = np.array([0.0, cfg["hall_constant"], cfg["online_constant"], cfg["hotline_constant"]])
        self.entry = {k.index: planner.entry_kinds(k) for k in kinds}
        self.home = home  # residents' leaf areas and points (the places their matters come from)
        self._minutes: dict[int, np.ndarray] = {}

    def one_way_minutes(self, kind: int, location: np.ndarray, xy: np.ndarray | None,
                        resident: np.ndarray | None = None) -> np.ndarray:
        """(n, 2) one-way minutes to the counter's and the hall's office (inf: no hall), from
        the given places, or from the homes of the given residents (``resident``, cached)."""
        out = np.full((len(location), 2), np.inf)
        for column, unit_kind in enumerate(self.entry[kind]):
            if unit_kind < 0:
                continue
            if xy is None or self.structure.city_map is None:
                out[:, column] = self.access_minutes
            elif resident is not None and self.home is not None:  # residents stay put: once each
                out[:, column] = self._home_minutes(unit_kind, resident)
            else:
                out[:, column] = self._office_minutes(unit_kind, location, xy)
        return out

    def _home_minutes(self, unit_kind: int, resident: np.ndarray) -> np.ndarray:
        """One-way minutes from the given residents' homes to their office of ``unit_kind``,
        each computed the first time that resident brings a matter and kept (the city's
        576,000 residents at once cost a twentieth of a full-city year; most never come)."""
        cache = self._minutes.get(unit_kind)
        if cache is None:
            cache = self._minutes[unit_kind] = np.full(len(self.home[0]), np.nan)
        values = cache[resident]
        missing = np.isnan(values)
        if missing.any():
            new = resident[missing]
            cache[new] = self._office_minutes(unit_kind, self.home[0][new], self.home[1][new])
            values = cache[resident]
        return values

    def _office_minutes(self, unit_kind: int, location: np.ndarray, xy: np.ndarray) -> np.ndarray:
        spec = self.structure.kinds[unit_kind]
        instance = self.structure.instance(np.full(len(location), unit_kind), location) - spec.first
        return self.structure.city_map.minutes_to_office(spec.name, instance, xy, "resident")

    def utilities(self, kind: int, resident: np.ndarray, location: np.ndarray, xy: np.ndarray | None,
                  expected: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(n, 4) utilities (minutes, higher is better) and availability for one kind's requests.

        Remote channels' trips go to the counter (the one trip a matter needing the requester in
        person still takes, B4)."""
        return self._utilities(self.one_way_minutes(kind, location, xy, resident), resident, expected)

    def _utilities(self, one_way: np.ndarray, resident: np.ndarray,
                   expected: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        trip_minutes = 2 * np.column_stack([one_way[:, 0], one_way[:, 1], one_way[:, 0], one_way[:, 0]])
        trips = expected[:, :, TRIPS]
        waiting = expected[:, :, DAYS] * self.cfg["minutes_per_day_waited"]
        cost = np.nan_to_num(trips * trip_minutes, posinf=0.0) + waiting
        available = np.ones((len(resident), N_CHANNELS), dtype=bool)
        available[:, HALL] = np.isfinite(one_way[:, 1])
        available[:, ONLINE] = self.digital[resident]
        return self.constant[None, :] - cost, available

    def choose(self, kind: np.ndarray, resident: np.ndarray, location: np.ndarray, xy: np.ndarray | None,
               expected: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A channel per request (all of tracked kinds): utilities and the logit draw of the whole
        batch at once, the rows taken kind by kind in ascending order (one uniform each, so the
        draws are those of one call per kind, as this once was)."""
        one_way = np.empty((len(kind), 2))
        for k in np.unique(kind):  # only the offices differ by kind
            pick = np.flatnonzero(kind == k)
            one_way[pick] = self.one_way_minutes(int(k), location[pick], None if xy is None else xy[pick],
                                                 resident[pick])
        v, available = self._utilities(one_way, resident, expected)
        order = np.argsort(kind, kind="stable")
        out = np.empty(len(kind), dtype=np.int64)
        out[order] = draw_choice(logit_shares(v[order], available[order], self.cfg["scale_minutes"]), rng)
        return out


def prior_outcomes(kinds: list[RequestKind], prior_days: float) -> np.ndarray:
    """(n_kinds, 4, 2) expectations before any experience: ``prior_days`` everywhere; one trip at
    a window, and remotely one trip if the matter needs the requester in person."""
    out = np.zeros((len(kinds), N_CHANNELS, 2))
    out[:, :, DAYS] = prior_days
    out[:, [COUNTER, HALL], TRIPS] = 1.0
    out[:, [ONLINE, HOTLINE], TRIPS] = np.array([1.0 if k.in_person else 0.0 for k in kinds])[:, None]
    return out


