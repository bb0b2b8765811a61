"""The Mesa model: one step is one day of request creation; service inside the day is event-driven."""

from __future__ import annotations

import gc
from typing import Any

import mesa
import numpy as np

from sim.city.agents import Firm, GovernmentUnit, GridWorker, Resident, UpperDivision
from sim.city.behaviour import Behaviour, behaviour_on
from sim.city.behaviour.redeployment import Redeployment
from sim.city.behaviour.whistle import Whistle
from sim.city.catalogue import compile_catalogue, follow_up_kind
from sim.city.columns import GrowingColumns
from sim.city.demand import Demand, NewRequests, Population, request_points
from sim.city.duties import DutyPlan
from sim.city.planner import Planner
from sim.city.structure import Structure
from sim.engine.calendars import DAY
from sim.engine.compiled import CompiledEngine
from sim.engine.legs import Legs
from sim.engine.reference import QueueEngine

PLAN_DAYS = 28


class GovernanceModel(mesa.Model):
    """A city's organisation serving its residents, firms, grid workers and upper government.

    Args:
        scenario: a validated scenario dict (``sim.scenario.loading.load_scenario``).
        seed: random seed; defaults to ``simulation.seed``. Every random draw of the run comes
            from ``self.rng`` (seeded once) through child streams spawned from it.
        scale: share of residents and firms created as agents; defaults to ``simulation.scale``.
    """

    def __init__(self, scenario: dict[str, Any], *, seed: int | None = None,
                 scale: float | None = None) -> None:
        seed = scenario["simulation"]["seed"] if seed is None else seed
        super().__init__(rng=seed)
        self.config = scenario
        self.seed = seed
        self.scale = scenario["simulation"]["scale"] if scale is None else scale
        population_rng, demand_rng, routing_rng = self.rng.spawn(3)
        self.structure = Structure.from_scenario(scenario)
        catalogue = compile_catalogue(scenario)
        follow_up = len(catalogue) if scenario["behaviour"]["patience"]["enabled"] else -1
        # the request kinds of the run: the catalogue, and residents' follow-ups when they chase
        self.kinds = catalogue + ([follow_up_kind(follow_up, scenario)] if follow_up >= 0 else [])
        self._origins = [k.place_group for k in self.kinds]  # whose points requests are at
        self.population = Population.build(scenario, self.structure, self.scale, population_rng)
        self._create_agents()
        self.demand = Demand(catalogue, self.population, self.structure.calendars, demand_rng)
        self.planner = Planner(self.structure, catalogue, scenario["handoff"], routing_rng,
                               approval_work=scenario["simulation"]["approval_work"])
        # the working day's own stream, spawned after the others so they stay as they were
        self.duties = DutyPlan(self.structure, scenario["population"],
                               self.rng.spawn(1)[0] if any(k.duties for k in self.structure.kinds)
                               else np.random.default_rng(0))
        # residents' decisions (off: requests planned in blocks, exactly as before they existed)
        self.behaviour = (Behaviour(scenario, self.kinds, follow_up, self.structure, self.planner,
                                    self.population, self.demand, self.duties, self.rng.spawn(1)[0])
                          if behaviour_on(scenario) else None)
        engine_class = QueueEngine if scenario["simulation"]["engine"] == "reference" else CompiledEngine
        moving = scenario["behaviour"]["redeployment"]
        self.redeployment = Redeployment(moving, self.structure) if moving["enabled"] else None
        whistle = scenario["behaviour"]["whistle"]
        self.whistle = Whistle(whistle, self.structure, catalogue) if whistle["enabled"] else None
        self.engine = engine_class(self.structure.unit_servers.tolist(), self.structure.unit_calendar,
                                   self.structure.calendars["office"],
                                   self.structure.unit_service_factor.tolist(),
                                   self.structure.unit_overtime_minutes.tolist(),
                                   self.structure.unit_has_duties.tolist(),
                                   self.structure.unit_has_desk_work.tolist(),
                                   None if self.redeployment is None else self.redeployment.spare_servers(),
                                   None if self.whistle is None else self.whistle.reserved.tolist(),
                                   handoff_working_time=scenario["handoff"]["working_time"])
        self._requests = GrowingColumns(_REQUEST_FIELDS)
        self._future: list[tuple[int, int]] = []  # rows of batches reaching past the day's start
        self._legs = GrowingColumns(_LEG_FIELDS)
        # kinds created day by day from residents' decisions, and the rest (planned in blocks)
        decided = set() if self.behaviour is None else self.behaviour.decided
        self._decided = [k for k in catalogue if k.index in decided]
        self._undecided = [k for k in catalogue if k.index not in decided]
        self.day = 0
        self._planned_until = 0  # requests are created and planned up to this day
        self._horizon = 0  # last day of the current run(), so planning ahead never overshoots
        self._day_counts = (-1, 0, 0)  # (day, created, resolved) at that day's end, for the collector
        self.datacollector = mesa.DataCollector(model_reporters={
            "created": lambda m: m._counts()[0],
            "resolved": lambda m: m._counts()[1],
            "open": lambda m: m._counts()[0] - m._counts()[1],
        })

    def _create_agents(self) -> None:
        """All agents in bulk: residents, firms, grid workers, upper divisions, government units."""
        location = self.population.location
        collecting = gc.isenabled()
        gc.disable()  # hundreds of thousands of new objects, none cyclic garbage: skip the collector's passes
        try:
            for agent_class in (Resident, Firm, GridWorker, UpperDivision):
                agent_class.create_in_bulk(self, len(location[agent_class.group]))
            GovernmentUnit.create_in_bulk(self, self.structure.n_units)
        finally:
            if collecting:
                gc.enable()

    def step(self) -> None:
        """One day: agents create the day's requests (in bulk), routes are planned, service runs.

        Requests no one decides about are created and routes planned for up to ``PLAN_DAYS`` days
        at a time when the run's length is known (``run``): they arise independently of queue
        state, so four weeks in one NumPy pass give the same kind of result as day by day at a
        fraction of the overhead (the engine still serves them in time order, day by day).
        Residents' matters of the kinds they decide about (``sim.city.behaviour``) are created day
        by day from their decisions, after they have learned from the day before.
        """
        if self.redeployment is not None and self.day and self.day % self.redeployment.cfg["every_days"] == 0:
            self.redeployment.round(self.engine, self.day * DAY)
        if self.day >= self._planned_until:
            self._plan(self.day, min(self.day + PLAN_DAYS, max(self._horizon, self.day + 1)))
        in_blocks = (self.engine.n_requests, self.engine.n_legs)
        if self.behaviour is not None:
            self._plan_decided(self.day)
        if self.day == 0:
            self._expect(in_blocks)
        self.day += 1
        self.engine.run_until(self.day * DAY)
        if self.behaviour is not None:
            self.behaviour.observe(self.engine.ready_times, self.day * DAY, self.day)
        self.datacollector.collect(self)

    def _expect(self, in_blocks: tuple[int, int]) -> None:
        """Tell the engine and the model's log how many requests and legs the run will hold, from
        its first day: those planned for the first block, and the first day's decided ones, at
        their rates over the run, with a quarter to spare (more only means a doubling later;
        results are the same)."""
        days, block = max(self._horizon, 1), max(self._planned_until, 1)
        now = (self.engine.n_requests, self.engine.n_legs)
        requests, legs = (int(1.25 * (b / block + (n - b)) * days) + 1024
                          for b, n in zip(in_blocks, now, strict=True))
        self.engine.expect(requests, legs)
        self._requests.reserve(requests)
        self._legs.reserve(legs)

    def _plan_decided(self, day: int) -> None:
        """One day's requests from residents' decisions: follow-ups of matters past patience, then
        the day's new matters of the decided kinds, with the channels chosen for them."""
        behaviour = self.behaviour
        follow_ups = behaviour.before_day(day)
        if follow_ups is not None:
            self._add(*follow_ups)
        new, reported = behaviour.find(self.demand.days(day, day + 1, self._decided))
        points = request_points(self.population, self._origins, new.kind, new.origin_agent)
        channel = behaviour.choose(new, points, reported)
        legs = self.planner.plan(new.kind, new.location, new.segment, points, channel=channel)
        if self.whistle is not None:
            self.whistle.mark(legs)
        behaviour.track(self.engine.n_requests, new, channel, legs)
        behaviour.note_work(legs, 1)
        self._add(new, legs)

    def _add(self, new: NewRequests, legs: Legs) -> None:
        offset = self.engine.n_requests
        self.engine.add(new.created, legs)
        self._requests.append(*(getattr(new, name) for name in _REQUEST_FIELDS))
        self._legs.append(*(legs.request + offset if name == "request" else getattr(legs, name)
                            for name in _LEG_FIELDS))
        if len(new) and new.created[-1] >= self.day * DAY:
            self._future.append((offset, offset + len(new)))

    def _plan(self, first_day: int, end_day: int) -> None:
        if self.behaviour is not None:
            self.behaviour.before_block()
        new = self.demand.days(first_day, end_day, self._undecided)
        legs = self.planner.plan(new.kind, new.location, new.segment,
                                 request_points(self.population, self._origins, new.kind, new.origin_agent))
        if self.whistle is not None:
            self.whistle.mark(legs)
        if self.behaviour is not None:
            self.behaviour.note_work(legs, end_day - first_day)
            self.behaviour.track_block(self.engine.n_requests, new, legs)
        self._add(new, legs)
        if self.duties:
            self.engine.add_duties(first_day, *self.duties.days(first_day, end_day))
        self._planned_until = end_day

    def _counts(self) -> tuple[int, int]:
        """Requests created and resolved by the end of the current day, counted once a day (the
        collector's three reporters share them)."""
        if self._day_counts[0] != self.day:
            t = self.day * DAY
            self._day_counts = (self.day, self.created_by(t), self.engine.resolved_by(t))
        return self._day_counts[1], self._day_counts[2]

    def created_by(self, t: float) -> int:
        """Requests created before ``t`` (planned ones created later are not counted)."""
        later = 0
        all_created = self._requests.column("created")
        self._future = [(a, b) for a, b in self._future if all_created[b - 1] >= t]
        for a, b in self._future:  # only batches reaching past t (each sorted by creation time)
            created = all_created[a:b]
            later += len(created) - int(np.searchsorted(created, t, side="left"))
        return self.engine.n_requests - later

    def run(self, days: int, until: int | None = None) -> None:
        """Simulate ``days`` more days. ``until``: the last day of the whole run when it is
        stepped in pieces (an explorer drawing as it goes), so requests are planned in the same
        blocks, and results are the same, as one ``run(until)``."""
        self._horizon = self.day + days if until is None else max(until, self.day + days)
        for _ in range(days):
            self.step()

    def requests(self) -> NewRequests:
        """All requests created so far, columnar, in engine order (read-only views)."""
        return NewRequests(*(self._requests.column(name) for name in _REQUEST_FIELDS))

    def legs(self) -> Legs:
        """All legs so far, columnar, with run-wide request indices (read-only views)."""
        return Legs(*(self._legs.column(name) for name in _LEG_FIELDS))


_REQUEST_FIELDS = ("kind", "origin_agent", "location", "segment", "created")
_LEG_FIELDS = ("request", "unit", "service", "lead_days", "handoff", "trip", "bounce", "role", "travel",
               "priority")
