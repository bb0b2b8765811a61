"""All agents' rules of one run, in the order they act each day (issue 13).

Before the day's requests: firms' decisions set the day's firm demand (entry, market size) and
residents chase matters past their patience. With the day's requests: residents choose channels.
After the day's service: every rule observes what was resolved and learns.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sim.city.behaviour.firms import FirmBehaviour
from sim.city.behaviour.residents import ResidentBehaviour, tracked_kinds
from sim.city.catalogue import RequestKind
from sim.city.demand import Demand, NewRequests, Population
from sim.city.planner import Planner
from sim.city.structure import Structure
from sim.engine.legs import Legs


def behaviour_on(scenario: dict[str, Any]) -> bool:
    """Whether any agents' rule is switched on (then their requests are created day by day)."""
    rules = scenario["behaviour"]
    return rules["channels"]["enabled"] or rules["patience"]["enabled"] or rules["firms"]["enabled"]


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
                 rng: np.random.Generator) -> None:
        rules = scenario["behaviour"]
        resident_rng, firm_rng = rng.spawn(2)
        self.residents = (ResidentBehaviour(scenario, kinds, follow_up, structure, planner, population,
                                            resident_rng)
                          if rules["channels"]["enabled"] or rules["patience"]["enabled"] else None)
        self.firms = (FirmBehaviour(rules["firms"], kinds, scenario["population"]["firms"], firm_rng)
                      if rules["firms"]["enabled"] else None)
        self.demand = demand
        decided = set() if self.residents is None else {k.index for k in tracked_kinds(scenario, kinds)}
        if self.firms is not None:
            decided |= {k.index for k in self.firms.firm_kinds}
        self.decided = decided  # kinds created day by day

    def before_day(self, day: int) -> tuple[NewRequests, Legs] | None:
        """Set the day's demand from firms' decisions; residents' follow-up contacts of the day."""
        if self.firms is not None:
            self.demand.factor.update(self.firms.volume_factors())
        return None if self.residents is None else self.residents.follow_ups(day)

    def choose(self, new: NewRequests, xy: np.ndarray | None) -> np.ndarray | None:
        return None if self.residents is None else self.residents.choose(new, xy)

    def track(self, offset: int, new: NewRequests, channel: np.ndarray | None, legs: Legs) -> None:
        if self.residents is not None:
            self.residents.track(offset, new, channel, legs)
        if self.firms is not None:
            self.firms.track(offset, new, legs)

    def observe(self, ready_times: Any, now: float, day: int) -> None:
        if self.residents is not None:
            self.residents.observe(ready_times, now)
        if self.firms is not None:
            self.firms.observe(ready_times, now, day)
