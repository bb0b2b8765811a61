"""Queueing side of the staffing optimiser: Erlang C, what a pilot run says about each unit's
load, the analytic (square-root staffing) start, and the measures a run is judged by.

Why a pilot run: routing in this model does not depend on queues, so the visits each unit
instance receives, and the staff minutes they need, do not depend on its staffing. One run at
the current staffing therefore gives every unit's offered load, and Erlang C turns a load into
the smallest number of servers meeting a probability-of-waiting target (square-root staffing:
about a + beta sqrt(a) servers for a erlangs). Servers become headcount with the unit's time
budget, exactly as the model converts them (``Structure.kind_on_duty``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sim.engine.calendars import DAY
from sim.outputs.kpis import flatten
from sim.scenario.schema import MAX_STAFF

STABLE_UTILISATION = 0.95
"""No unit is ever offered more work than this share of what its staff can do, overtime cap
included (assumed: a queue loaded closer to 1 does not settle within a simulated year, so what a
run measures there is mostly its start-up). The analytic start respects it, and so does every
allocation the search simulates: a staffing whose backlog grows without bound is never an
answer, even when no target would notice (hours worked stop at the overtime cap)."""
WAIT_TOLERANCE = 1e-6  # minutes: a visit whose service starts later than this after arrival waited


def erlang_c(servers: int, offered: float) -> float:
    """Probability that an arrival waits in an M/M/c queue (Erlang C); 1 when ``offered`` >=
    ``servers`` (the queue is unstable: everybody waits eventually), 0 with no load.

    Args:
        servers: c, number of parallel servers.
        offered: a = lambda / mu, offered load in erlangs.
    """
    if offered <= 0:
        return 0.0
    if offered >= servers:
        return 1.0
    # Erlang B by its stable recursion, then C = B / (1 - rho (1 - B)).
    blocking = 1.0
    for k in range(1, servers + 1):
        blocking = offered * blocking / (k + offered * blocking)
    rho = offered / servers
    return blocking / (1.0 - rho * (1.0 - blocking))


@dataclass
class KindLoad:
    """What the pilot run says about one unit kind: per instance, visits and staff minutes of
    request work arriving per open minute; the kind's duties (work queued beside requests, per
    unit or per staff member) and its time budget.

    Loads are in staff minutes per open minute of the calendar (erlangs of staff): a unit of h
    staff has h x ``on_duty_per_head`` of them on duty, and its overtime cap adds
    ``overtime_share`` of a day on days with work left at closing."""

    name: str
    level: str
    count: int
    staff: int
    cost_per_staff: float
    on_duty_per_head: float  # staff on duty per staff member (time at work / open hours)
    arrivals: np.ndarray  # per instance: visits per open minute
    load: np.ndarray  # per instance: staff minutes of request work per open minute
    open_week_minutes: float  # the calendar's open minutes in a week
    hours_at_work: float = 0.0  # contract hours less leave, per head per week
    duty_fixed: float = 0.0  # per instance: duty staff minutes per open minute not tied to headcount
    duty_per_head: float = 0.0  # duty staff minutes per open minute for each staff member
    overtime_share: float = 0.0  # overtime cap per day / open minutes per day

    def servers(self, headcount: int) -> tuple[int, float]:
        """Whole servers and exact on-duty staff at this headcount (as ``Structure`` rounds)."""
        on_duty = headcount * self.on_duty_per_head
        return max(1, round(on_duty)), on_duty

    def work(self, headcount: int) -> np.ndarray:
        """Per instance: staff minutes of work (requests and duties) per open minute."""
        return self.load + self.duty_fixed + headcount * self.duty_per_head

    def utilisation(self, headcount: int) -> float:
        """Busy share of open server time (instances of a kind share a calendar, so the kind's
        figure is the mean over instances); above 1 the unit relies on overtime."""
        _, on_duty = self.servers(headcount)
        return float(self.work(headcount).mean() / on_duty)

    def capacity_use(self, headcount: int) -> float:
        """Work offered to the busiest instance / what its staff can do with overtime at the cap."""
        _, on_duty = self.servers(headcount)
        return float(self.work(headcount).max() / (on_duty * (1.0 + self.overtime_share)))

    def wait_probability(self, headcount: int) -> float:
        """Erlang C per instance (service stretched as the model stretches it, duties counted as
        load), weighted by visits. Duties queued at each opening make visitors wait more than
        this (every server starts the day on them), which the simulation step sees."""
        if self.arrivals.sum() <= 0:
            return 0.0
        servers, on_duty = self.servers(headcount)
        waits = [erlang_c(servers, a * servers / on_duty) for a in self.work(headcount).tolist()]
        return float(np.dot(waits, self.arrivals) / self.arrivals.sum())

    def hours_worked(self, headcount: int) -> float:
        """Hours of work (requests and duties) per head per week."""
        return float(self.work(headcount).mean() * self.open_week_minutes / 60.0 / headcount)

    def capacity_share(self, headcount: int) -> float:
        """Hours worked / the most hours a head can give (contract less leave, plus the cap), as
        ``measure`` computes ``capacity_use`` from a run."""
        most = self.hours_at_work * (1.0 + self.overtime_share)
        return self.hours_worked(headcount) / most if most > 0 else float("inf")

    def hours_at_work_estimate(self, headcount: int) -> float:
        """Contract hours less leave, or the hours worked when they are more (overtime), at most
        the overtime cap: a lower bound (day-to-day swings need overtime too)."""
        most = self.hours_at_work * (1.0 + self.overtime_share)
        return min(most, max(self.hours_at_work, self.hours_worked(headcount)))


ANALYTIC = {
    "utilisation_max": KindLoad.utilisation,
    "capacity_use_max": KindLoad.capacity_share,
    "wait_probability_max": KindLoad.wait_probability,
    "hours_worked_max": KindLoad.hours_worked,
    "hours_at_work_max": KindLoad.hours_at_work_estimate,
}
"""Targets Erlang C and the time budget can answer per unit kind (all decrease with headcount)."""


@dataclass
class Pilot:
    """Loads per unit kind and which unit kinds each request kind and category visits."""

    loads: dict[str, KindLoad]
    kinds_visited: dict[str, set[str]] = field(default_factory=dict)  # request kind -> unit kinds
    categories_visited: dict[str, set[str]] = field(default_factory=dict)


def _window(result: Any) -> tuple[float, float]:
    lo, hi = result.kpis["kpi_window_days"]
    return lo * DAY, hi * DAY


def pilot_loads(result: Any) -> Pilot:
    """Offered load of every unit instance, from one run's tables (``result``: a RunResult)."""
    structure, t = result.model.structure, result.tables
    lo, hi = _window(result)
    arrive = np.nan_to_num(t.leg_arrive, nan=np.inf)
    pick = (arrive >= lo) & (arrive < hi)
    n_units = structure.n_units
    visits = np.bincount(t.leg_unit[pick], minlength=n_units).astype(float)
    minutes = np.bincount(t.leg_unit[pick], weights=t.leg_service[pick], minlength=n_units)
    open_minutes = np.array([c.open_minutes(lo, hi) for c in structure.unit_calendar])
    population = result.model.config["population"]
    loads = {}
    for i, kind in enumerate(structure.kinds):
        units = slice(kind.first, kind.first + kind.count)
        opened = np.maximum(open_minutes[units], 1e-9)
        calendar = structure.calendars[kind.calendar]
        fixed, per_head = duty_minutes_per_year(kind, population)
        yearly_open = max(calendar.yearly_open_minutes(), 1e-9)
        loads[kind.name] = KindLoad(
            kind.name, kind.level, kind.count, kind.staff, kind.cost_per_staff,
            float(structure.kind_on_duty[i] / kind.staff), visits[units] / opened, minutes[units] / opened,
            calendar.week_minutes, float(kind.contract_hours_at_work), fixed / yearly_open,
            per_head / yearly_open,
            float(getattr(kind, "overtime_hours_per_day", 0.0)) * 60.0 / max(calendar.day_minutes, 1e-9))
    request_of_leg = np.repeat(np.arange(len(t.kind)), t.leg_count)
    unit_kind = structure.unit_kind[t.leg_unit]
    request_names = [k.name for k in result.model.kinds]
    kind_names = [k.name for k in structure.kinds]
    pairs = np.unique(t.kind[request_of_leg] * len(kind_names) + unit_kind)
    pilot = Pilot(loads)
    for code in pairs.tolist():
        request, unit = divmod(code, len(kind_names))
        pilot.kinds_visited.setdefault(request_names[request], set()).add(kind_names[unit])
        category = result.model.kinds[request].category
        pilot.categories_visited.setdefault(category, set()).add(kind_names[unit])
    return pilot


def duty_minutes_per_year(kind: Any, population: dict[str, Any]) -> tuple[float, float]:
    """A unit kind's duties as staff minutes a year per instance: (not tied to headcount, per
    staff member), as ``sim.city.duties`` draws them (per unit, per resident or firm of the
    instance's share of the city, or per staff member)."""
    fixed = per_head = 0.0
    for duty in getattr(kind, "duties", {}).values():
        minutes = duty["count_per_year"] * duty["minutes"]
        if duty["per"] == "staff":
            per_head += minutes
        else:
            share = {"unit": 1.0, "resident": population["residents"] / kind.count,
                     "firm": population.get("firms", 0) / kind.count}[duty["per"]]
            fixed += minutes * share
    return fixed, per_head


def analytic_headcount(load: KindLoad, bounds: dict[str, float]) -> tuple[int, str | None]:
    """Smallest headcount per instance meeting every per-unit bound (``table -> bound``) by
    Erlang C and the time budget, and never loading the unit above ``STABLE_UTILISATION``;
    (current headcount, None) when no headcount up to ``MAX_STAFF`` does (the simulation then
    reports the target as not attainable).

    Each measure falls as headcount grows, so a bisection finds the answer; the binding target
    is the one that fails one below it."""
    checks = {**bounds, "stability": STABLE_UTILISATION}

    def value(table: str, h: int) -> float:
        return load.capacity_use(h) if table == "stability" else ANALYTIC[table](load, h)

    def ok(h: int) -> bool:
        return all(value(table, h) <= bound for table, bound in checks.items())

    if not ok(MAX_STAFF):
        return load.staff, None
    low, high = 1, MAX_STAFF
    while low < high:
        middle = (low + high) // 2
        if ok(middle):
            high = middle
        else:
            low = middle + 1
    if low == 1:
        return 1, "minimum"
    binding = max(checks, key=lambda table: value(table, low - 1) / checks[table] if checks[table] else 0)
    return low, binding


def open_at(calendar: Any, t: np.ndarray) -> np.ndarray:
    """Whether the calendar is open at each time (vectorised; holidays included)."""
    if calendar.always_open:
        return np.ones(len(t), dtype=bool)
    day = np.floor(t / DAY).astype(np.int64)
    days = int(day.max()) + 1 if len(day) else 0
    open_day = np.array([calendar.is_open_day(d) for d in range(days)], dtype=bool)
    into = t - day * DAY
    return open_day[day] & (into >= calendar.open) & (into < calendar.open + calendar.day_minutes)


def wait_probability(result: Any) -> dict[str, float]:
    """Per unit kind: share of visits arriving in the KPI window while the unit is open whose
    service did not start at once (Erlang C's probability of waiting).

    Why only arrivals while open: a visit arriving at night waits for the morning whatever the
    staffing; Erlang C is about waiting for a free server."""
    structure, t = result.model.structure, result.tables
    lo, hi = _window(result)
    arrive = np.nan_to_num(t.leg_arrive, nan=np.inf)
    pick = (arrive >= lo) & (arrive < hi)
    opened = np.zeros(len(arrive), dtype=bool)
    unit_calendar = np.array([structure.kinds[k].calendar for k in structure.unit_kind])[t.leg_unit]
    for name, calendar in structure.calendars.items():
        legs = pick & (unit_calendar == name)
        if legs.any():
            opened[legs] = open_at(calendar, arrive[legs])
    waited = opened & (t.leg_start > arrive + WAIT_TOLERANCE)
    kind = structure.unit_kind[t.leg_unit]
    n_kinds = len(structure.kinds)
    arrivals = np.bincount(kind[opened], minlength=n_kinds)
    waits = np.bincount(kind[waited], minlength=n_kinds)
    return {k.name: float(waits[i] / arrivals[i]) if arrivals[i] else 0.0
            for i, k in enumerate(structure.kinds)}


def capacity_use(result: Any) -> dict[str, float]:
    """Per unit kind: hours worked per head (KPI ``hours_worked_per_week``, requests and duties)
    / the most a head can give, contract less leave plus the overtime cap on every open day.

    Why: where staff cope by overtime, utilisation counts the overtime they worked as open time,
    so a stable unit working late every day and an overloaded one both read about 1; and hours
    worked stop at the cap, so a unit past it looks no busier. This share does not."""
    structure = result.model.structure
    hours = result.kpis["hours_worked_per_week"]["by_unit"]
    out = {}
    for kind in structure.kinds:
        day = structure.calendars[kind.calendar].day_minutes
        overtime = float(getattr(kind, "overtime_hours_per_day", 0.0)) * 60.0 / day if day > 0 else 0.0
        most = kind.contract_hours_at_work * (1.0 + overtime)
        worked = hours.get(kind.name)
        out[kind.name] = float(worked / most) if worked is not None and most > 0 else math.nan
    return out


def measure(result: Any) -> dict[str, float]:
    """Every scalar KPI of a run (flattened) plus, per unit kind, the computed probability of
    waiting (``wait_probability.<kind>``) and share of capacity used (``capacity_use.<kind>``):
    all a target or the staffing table can ask for."""
    values = flatten(result.kpis)
    keep = ("utilisation_by_unit.", "hours_worked_per_week.by_unit.", "hours_at_work_per_week.by_unit.",
            "sla_attainment.", "resolution_hours.", "staff_government", "staff_cost", "staff_total")
    out = {k: v for k, v in values.items() if k.startswith(keep)}
    out.update({f"wait_probability.{k}": v for k, v in wait_probability(result).items()})
    out.update({f"capacity_use.{k}": v for k, v in capacity_use(result).items()})
    return out

