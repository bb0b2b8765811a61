"""Residents' decisions, day by day, on NumPy columns of the resident agent set (issue 13).

Each day the model asks, in this order:
  1. ``follow_ups``: matters past their owners' patience become follow-up contacts (``patience``);
  2. ``choose``: the day's new matters of tracked kinds get a channel (``channels``);
  3. ``track``: the day's planned requests are remembered with what their owners expected;
and after the day's service, ``observe``: matters resolved that day teach their owners and
neighbours what to expect (``learning``) and are scored (``satisfaction``).
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import numpy as np

from sim.city.behaviour.channels import DAYS, ChannelChoice, prior_outcomes
from sim.city.behaviour.learning import Expectations
from sim.city.behaviour.patience import draw_patience, due
from sim.city.behaviour.satisfaction import experience_score
from sim.city.behaviour.tracking import Tracked
from sim.city.catalogue import RequestKind, kinds_named
from sim.city.demand import NewRequests, Population
from sim.city.distributions import sample_durations
from sim.city.planner import COUNTER, Planner
from sim.city.structure import Structure
from sim.engine.calendars import DAY
from sim.engine.legs import Legs
from sim.scenario.schema import SEGMENTS


def tracked_kinds(scenario: dict[str, Any], kinds: list[RequestKind]) -> list[RequestKind]:
    """Kinds residents follow: ``channels.kinds``, or every resident kind of category personal."""
    return kinds_named(kinds, scenario["behaviour"]["channels"]["kinds"],
                       lambda k: k.origin == "resident" and k.category == "personal")


class ResidentBehaviour:
    """The residents' rules of one run (channels and patience; satisfaction whenever either is on).

    Args:
        scenario: the validated scenario.
        kinds: the catalogue; ``follow_up`` is the index of the follow-up kind (or -1).
        structure, planner, population: the city.
        rng: the behaviour stream.
    """

    def __init__(self, scenario: dict[str, Any], kinds: list[RequestKind], follow_up: int,
                 structure: Structure, planner: Planner, population: Population,
                 rng: np.random.Generator) -> None:
        rules = scenario["behaviour"]
        self.cfg = rules
        self.structure = structure
        self.population = population
        self.kinds = tracked_kinds(scenario, kinds)
        self.slot = np.full(len(kinds) + 1, -1, dtype=np.int64)
        self.slot[[k.index for k in self.kinds]] = np.arange(len(self.kinds))
        self.follow_up = follow_up
        attributes_rng, self.choice_rng, self.contact_rng = rng.spawn(3)
        n = len(population.location["resident"])
        channel_cfg = rules["channels"]
        age_shares = np.asarray(channel_cfg["age_shares"], dtype=float)
        self.age_group = attributes_rng.choice(len(age_shares), size=n, p=age_shares / age_shares.sum())
        access = np.asarray(channel_cfg["digital_access"], dtype=float)
        self.digital = attributes_rng.random(n) < access[self.age_group]
        self.patience = draw_patience(rules["patience"], n, attributes_rng)
        counter_kind = planner.entry_kinds(self.kinds[0])[0]
        spec = structure.kinds[counter_kind]
        home = population.location["resident"]
        self.community = structure.instance(np.full(n, counter_kind), home) - spec.first
        self.community_kind = spec.name
        self.expectations = Expectations(self.community, spec.count,
                                         prior_outcomes(self.kinds, channel_cfg["prior_days"]),
                                         channel_cfg["memory"], channel_cfg["own_weight"])
        home = None if population.xy is None else (population.location["resident"], population.xy["resident"])
        self.channels = (ChannelChoice(channel_cfg, self.kinds, planner, structure,
                                       scenario["geography"]["access_minutes"], self.digital, home)
                         if channel_cfg["enabled"] else None)
        self.satisfaction = np.full(n, np.nan)
        self.tracked = Tracked()
        self.handoff_minutes = scenario["handoff"]["delay_hours"] * 60.0
        # who hears a complaint upward: the next unit kind up the matter's chain from the unit that
        # took it (the last one's complaints stay with it)
        self.upward = np.arange(len(structure.kinds))[None, :].repeat(len(self.kinds), axis=0)
        for slot, kind in enumerate(self.kinds):
            chain = structure.chain(kind.functions[0], "resident", kind.authority)
            for below, above in pairwise(chain):
                self.upward[slot, below] = above
        self._pending: tuple[np.ndarray, np.ndarray] | None = None  # choose -> track

    # -- the day's decisions --------------------------------------------------------------

    def choose(self, new: NewRequests, xy: np.ndarray | None) -> np.ndarray | None:
        """A channel per new request (``COUNTER`` for kinds not tracked); None when channels are off."""
        mine = np.flatnonzero(self.slot[new.kind] >= 0)
        expected = self.expectations.expected(new.origin_agent[mine], self.slot[new.kind[mine]])
        if self.channels is None:
            self._pending = (mine, expected[:, COUNTER, DAYS])
            return None
        channel = np.full(len(new), COUNTER, dtype=np.int64)
        channel[mine] = self.channels.choose(new.kind[mine], new.origin_agent[mine], new.location[mine],
                                             None if xy is None else xy[mine], expected, self.choice_rng)
        self._pending = (mine, expected[np.arange(len(mine)), channel[mine], DAYS])
        return channel

    def track(self, offset: int, new: NewRequests, channel: np.ndarray | None, legs: Legs) -> None:
        """Remember the tracked requests just planned (run-wide indices from ``offset``)."""
        mine, expected_days = self._pending
        self._pending = None
        trips = np.bincount(legs.request, weights=legs.trip, minlength=len(new))
        summoned = np.bincount(legs.request, weights=legs.priority, minlength=len(new))
        first_real = _first_real_leg(legs, len(new))
        resident = new.origin_agent[mine]
        self.tracked.add(request=offset + mine, resident=resident, kind=self.slot[new.kind[mine]],
                         community=self.community[resident],
                         channel=COUNTER if channel is None else channel[mine],
                         created=new.created[mine], expected_days=expected_days, trips=trips[mine],
                         entry_unit=legs.unit[first_real[mine]], whistled=summoned[mine] > 0)

    def follow_ups(self, day: int) -> tuple[NewRequests, Legs] | None:
        """Follow-up contacts of the day (chasing matters past patience), and who gives up."""
        if not self.cfg["patience"]["enabled"]:
            return None
        cfg = self.cfg["patience"]
        now = day * DAY
        chase, give_up = due(self.tracked, self.patience, cfg["max_repeats"], now)
        self.tracked["abandoned"][give_up] = True
        if not len(chase):
            return None
        self.tracked["repeats"][chase] += 1
        rng = self.contact_rng
        n = len(chase)
        resident = self.tracked["resident"][chase]
        location = self.population.location["resident"][resident]
        created = np.sort(now + DAY * rng.random(n))  # assumed: calls come at any hour (hotline)
        new = NewRequests(np.full(n, self.follow_up), resident, location,
                          np.full(n, SEGMENTS.index("resident")), created)
        call = sample_durations(rng, np.full(n, cfg["follow_up_minutes"]), 1.0)
        complaint = sample_durations(rng, np.full(n, cfg["supervision_minutes"]), 1.0)
        upward = self.handoff_minutes * np.ones(n)
        entry = self.tracked["entry_unit"][chase]
        above = self.upward[self.tracked["kind"][chase], self.structure.unit_kind[entry]]
        supervisor = self.structure.instance(above, location)
        unit = np.column_stack((entry, supervisor)).ravel()
        legs = Legs(np.repeat(np.arange(n), 2), unit, np.column_stack((call, complaint)).ravel(),
                    np.zeros(2 * n), np.column_stack((np.zeros(n), upward)).ravel(),
                    np.zeros(2 * n, dtype=bool), np.zeros(2 * n, dtype=bool))
        return new, legs

    def observe(self, ready_times: Any, now: float) -> None:
        """Matters resolved by ``now`` teach expectations and are scored.

        Args:
            ready_times: the engine's ``ready_times`` (request indices -> resolution times)."""
        rows = self.tracked.open
        if not len(rows):
            return
        ready = ready_times(self.tracked["request"][rows])
        done = rows[ready <= now]
        if not len(done):
            return
        t = self.tracked
        t["resolved"][done] = ready[ready <= now]
        days = (t["resolved"][done] - t["created"][done]) / DAY
        outcomes = np.column_stack((days, t["trips"][done]))
        resident = t["resident"][done]
        self.expectations.learn(resident, t["kind"][done], t["channel"][done], outcomes,
                                t["expected_days"][done])
        score = experience_score(self.cfg["satisfaction"], days, t["expected_days"][done], t["trips"][done],
                                 t["repeats"][done], t["abandoned"][done])
        t["score"][done] = score
        memory = self.cfg["satisfaction"]["memory"]
        old = self.satisfaction[resident]
        self.satisfaction[resident] = np.where(np.isnan(old), score, (1 - memory) * old + memory * score)
        t.close(done)


def _first_real_leg(legs: Legs, n: int) -> np.ndarray:
    """Each request's first leg that is not a misrouted bounce."""
    real = np.flatnonzero(~legs.bounce)
    request = legs.request[real]
    first = np.full(n, -1, dtype=np.int64)
    keep = np.ones(len(real), dtype=bool)
    keep[1:] = request[1:] != request[:-1]
    first[request[keep]] = real[keep]
    return first

