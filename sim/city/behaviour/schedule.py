"""All agents' rules of one run, in the order they act each day (issue 13).

Before the day's requests: firms' decisions set the day's firm demand (entry, market size) and
residents chase matters past their patience. With the day's requests: residents choose channels.
After the day's service: every rule observes what was resolved and learns.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sim.city.behaviour.firms import FirmBehaviour
from sim.city.behaviour.patrols import PatrolRule, patrol_kinds
from sim.city.behaviour.residents import ResidentBehaviour, tracked_kinds
from sim.city.catalogue import RequestKind
from sim.city.demand import Demand, NewRequests, Population
from sim.city.duties import DutyPlan
from sim.city.planner import COUNTER, HOTLINE, Planner
from sim.city.structure import Structure
from sim.engine.legs import Legs


def behaviour_on(scenario: dict[str, Any]) -> bool:
    """Whether any agents' rule is switched on (then their requests are created day by day)."""
    rules = scenario["behaviour"]
    return any(rules[name]["enabled"] for name in ("channels", "patience", "firms", "patrols"))


class Behaviour:
    """The rules switched on in a scenario.

    Args:
        scenario: the validated scenario.
        kinds: the run's request kinds (catalogue and follow-ups); ``follow_up`` its index or -1.
        structure, planner, population, demand: the city.
        rng: the behaviour stream (one child per agent set).
    """

    def __init__(self, scenario: dict[str, Any], kinds: list[RequestKind], follow_up: int,
                 structure: Structure, planner: Planner, population: Population, demand: Demand,
                 duties: DutyPlan, rng: np.random.Generator) -> None:
        rules = scenario["behaviour"]
        resident_rng, firm_rng, patrol_rng = rng.spawn(3)
        self.residents = (ResidentBehaviour(scenario, kinds, follow_up, structure, planner, population,
                                            resident_rng)
                          if rules["channels"]["enabled"] or rules["patience"]["enabled"] else None)
        self.firms = (FirmBehaviour(rules["firms"], kinds, scenario["population"]["firms"], firm_rng,
                                    rules["satisfaction"])
                      if rules["firms"]["enabled"] else None)
        self.patrols = (PatrolRule(rules["patrols"], patrol_kinds(scenario, kinds), structure,
                                   _duty_minutes(duties, structure), _grid_area(scenario, structure),
                                   patrol_rng)
                        if rules["patrols"]["enabled"] else None)
        self.demand = demand
        # firms' kinds are not among them: their rates (entry, market size) change slowly and are
        # set at the start of each block of planning (``before_block``)
        decided = set() if self.residents is None else {k.index for k in tracked_kinds(scenario, kinds)}
        if self.patrols is not None:
            decided |= {k.index for k in self.patrols.kinds}
        self.decided = decided  # kinds created day by day

    def before_block(self) -> None:
        """Set the next block's firm demand from firms' decisions (entry rate, market size)."""
        if self.firms is not None:
            self.demand.factor.update(self.firms.volume_factors())

    def before_day(self, day: int) -> tuple[NewRequests, Legs] | None:
        """Residents' follow-up contacts of the day."""
        return None if self.residents is None else self.residents.follow_ups(day)

    def find(self, new: NewRequests) -> tuple[NewRequests, np.ndarray | None]:
        """Incidents found (by patrol, residents or sensors) and when; None: no patrol rule."""
        return (new, None) if self.patrols is None else self.patrols.find(new)

    def choose(self, new: NewRequests, xy: np.ndarray | None,
               reported: np.ndarray | None) -> np.ndarray | None:
        """Channels: residents' choices, and the hotline for incidents residents reported."""
        channel = None if self.residents is None else self.residents.choose(new, xy)
        if reported is None or not (reported == HOTLINE).any():
            return channel
        return np.where(reported == HOTLINE, HOTLINE, COUNTER if channel is None else channel)

    def note_work(self, legs: Legs, days: int) -> None:
        if self.patrols is not None:
            self.patrols.note_work(legs, days)

    def track(self, offset: int, new: NewRequests, channel: np.ndarray | None, legs: Legs) -> None:
        """Remember the day's decided requests just planned (run-wide indices from ``offset``)."""
        if self.residents is not None:
            self.residents.track(offset, new, channel, legs)

    def track_block(self, offset: int, new: NewRequests, legs: Legs) -> None:
        """Remember a block's registrations and projects just planned."""
        if self.firms is not None:
            self.firms.track(offset, new, legs)

    def observe(self, ready_times: Any, now: float, day: int) -> None:
        if self.residents is not None:
            self.residents.observe(ready_times, now)
        if self.firms is not None:
            self.firms.observe(ready_times, now, day)
        if self.patrols is not None:
            self.patrols.end_day()


def _duty_minutes(duties: DutyPlan, structure: Structure) -> np.ndarray:
    """Per unit, server minutes of duties on an average open day (seasons averaged over the year)."""
    out = np.zeros(structure.n_units)
    for units, mean, minutes, _desk, months in duties.items:
        out[units] += mean * minutes * len(months) / 12.0
    return out


def _grid_area(scenario: dict[str, Any], structure: Structure) -> np.ndarray:
    """Per unit, km2 of its grid (NaN for units above the grid level): its catchment on the map,
    an equal share of the city's area on the line."""
    out = np.full(structure.n_units, np.nan)
    city = structure.city_map
    for kind in structure.kinds:
        if kind.level != "grid":
            continue
        units = slice(kind.first, kind.first + kind.count)
        if city is None:
            out[units] = scenario["geography"]["area_km2"] / kind.count
        else:
            leaf_area = city.leaf.area_km2
            out[units] = np.bincount(city.catchment[kind.name], weights=leaf_area, minlength=kind.count)
    return out
