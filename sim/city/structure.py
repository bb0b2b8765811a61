"""The organisation built from a validated scenario: unit kinds, unit instances, routing chains.

Where agents are decides which unit instance serves them. On the line (``[geography] model =
"line"``) geography is one coordinate in [0, 1) per agent: a unit kind with ``count`` units
splits the line into ``count`` equal stretches (equal populations per unit of one kind). On the
map (``model = "map"``, ``sim.city.geo``) an agent's place is its leaf area, and each kind's
catchments are areas of the map's tree (or the nearest of its ``sites``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from sim.engine.calendars import WeeklyCalendar
from sim.scenario.loading import unit_covers, unit_duties, unit_leave, unit_overtime
from sim.scenario.schema import LEVELS, WORKING_DAYS_PER_YEAR


@dataclass
class UnitKind:
    """One kind of unit (e.g. ``community_centre``) and where its instances sit in the unit arrays."""

    name: str
    level: str
    count: int
    staff: int
    calendar: str
    knowledge: float
    cost_per_staff: float
    joint_review: bool
    review_overlap: float
    hours_per_week: float
    first: int  # index of its first instance
    leave_days: float = 0.0
    overtime_hours_per_day: float = 0.0
    duties: dict[str, dict[str, Any]] = field(default_factory=dict)
    review_stages: int = 1

    @property
    def contract_hours_at_work(self) -> float:
        """Contract hours at work: the contract less leave, spread over the year.

        The time budget of one staff member, averaged over the year: contract x (1 - leave days /
        working days), so work + leave = the contract. Duties are work queued beside requests
        (``sim.city.duties``), and overtime adds to it day by day (``sim.engine.workday``).
        With no leave it is the contract, exactly."""
        return self.hours_per_week * (1.0 - self.leave_days / WORKING_DAYS_PER_YEAR)


@dataclass
class Structure:
    """Unit kinds and instances of one scenario, with cached routing chains."""

    kinds: list[UnitKind]
    calendars: dict[str, WeeklyCalendar]
    unit_config: dict[str, dict[str, Any]]
    _chains: dict[tuple[str, str, tuple[str, ...]], list[int]] = field(default_factory=dict)
    city_map: Any = None  # sim.city.geo.CityMap, or None on the line

    @classmethod
    def from_scenario(cls, scenario: dict[str, Any]) -> Structure:
        """Unit kinds and calendars; with ``simulation.working_day`` off, no duties, no overtime
        and no ``[workday.LEVEL]`` profiles (requests only, as before the working day existed;
        a unit kind's own ``leave_days`` still counts, as it did then)."""
        calendars = {name: WeeklyCalendar.from_config(c) for name, c in scenario["calendars"].items()}
        workday = scenario["simulation"].get("working_day", True)
        levels = scenario.get("workday", {}) if workday else {}  # off: no level profiles at all
        kinds, first = [], 0
        for name, unit in scenario["units"].items():
            kinds.append(UnitKind(name, unit["level"], unit["count"], unit["staff"], unit["calendar"],
                                  unit["knowledge"], unit["cost_per_staff"], unit["joint_review"],
                                  unit["review_overlap"], unit["hours_per_week"], first,
                                  unit_leave(unit, levels),
                                  unit_overtime(unit, levels, scenario["calendars"][unit["calendar"]]
                                                ["close_hour"]) if workday else 0.0,
                                  unit_duties(unit, levels) if workday else {},
                                  unit["review_stages"]))
            first += unit["count"]
        structure = cls(kinds, calendars, scenario["units"])
        if scenario["geography"]["model"] == "map":
            from sim.city.geo import city_map_for  # shapely only with a map

            structure.city_map = city_map_for(scenario)
        return structure

    @cached_property
    def unit_of_leaf(self) -> np.ndarray:
        """Map: the unit instance of each kind serving each leaf area, (kinds, leaves)."""
        city = self.city_map
        return np.vstack([k.first + city.catchment[k.name] for k in self.kinds])

    @cached_property
    def n_units(self) -> int:
        return sum(k.count for k in self.kinds)

    @cached_property
    def unit_kind(self) -> np.ndarray:
        """Kind index of every unit instance."""
        return np.repeat(np.arange(len(self.kinds)), [k.count for k in self.kinds])

    @cached_property
    def unit_level(self) -> np.ndarray:
        """Level index (position in ``LEVELS``) of every unit instance."""
        return np.array([LEVELS.index(self.kinds[k].level) for k in self.unit_kind], dtype=np.int8)

    @cached_property
    def unit_staff(self) -> np.ndarray:
        return np.repeat([k.staff for k in self.kinds], [k.count for k in self.kinds])

    @cached_property
    def kind_on_duty(self) -> np.ndarray:
        """Staff serving requests on average in each unit kind: headcount x hours for requests
        (``UnitKind.contract_hours_at_work``) / open hours, at most the headcount (assumed:
        shifts cover the calendar evenly).

        Why: a team open around the clock (168 h a week) with 40-hour contracts has about a
        quarter of its people on duty at any time; an office open 40 h has all of them; leave and
        duties take their share off the top.
        """
        hours_open = [self.calendars[k.calendar].week_minutes / 60 for k in self.kinds]
        return np.array([min(k.staff, k.staff * k.contract_hours_at_work / hours)
                         for k, hours in zip(self.kinds, hours_open, strict=True)])

    @cached_property
    def kind_servers(self) -> np.ndarray:
        """Whole servers: the on-duty figure rounded, at least one."""
        return np.maximum(1, np.round(self.kind_on_duty)).astype(np.int64)

    @cached_property
    def unit_service_factor(self) -> np.ndarray:
        """Servers / exact on-duty staff, per unit: service times are stretched (or shrunk) by it
        so the staff minutes a unit can give match its contracted hours despite whole servers
        (one grid worker on an 84-hour patrol calendar is 0.48 of a server: one server, service
        x 2.1)."""
        factor = self.kind_servers / self.kind_on_duty
        return np.repeat(factor, [k.count for k in self.kinds])

    @cached_property
    def unit_overtime_minutes(self) -> np.ndarray:
        """Most minutes a day each unit's staff may stay past closing (0 = no overtime)."""
        return np.repeat([k.overtime_hours_per_day * 60.0 for k in self.kinds], [k.count for k in self.kinds])

    @cached_property
    def unit_has_duties(self) -> np.ndarray:
        return np.repeat([bool(k.duties) for k in self.kinds], [k.count for k in self.kinds])

    @cached_property
    def unit_has_desk_work(self) -> np.ndarray:
        """Units with a desk duty (done in idle time, ``sim.city.duties``)."""
        desk = [any(d.get("mode", "desk") == "desk" for d in k.duties.values()) for k in self.kinds]
        return np.repeat(desk, [k.count for k in self.kinds])

    @cached_property
    def unit_servers(self) -> np.ndarray:
        return np.repeat(self.kind_servers, [k.count for k in self.kinds])

    @cached_property
    def unit_calendar(self) -> list[WeeklyCalendar]:
        return [self.calendars[self.kinds[k].calendar] for k in self.unit_kind]

    @cached_property
    def unit_names(self) -> list[str]:
        return [f"{k.name}[{i}]" if k.count > 1 else k.name
                for k in self.kinds for i in range(k.count)]

    @cached_property
    def kind_first(self) -> np.ndarray:
        return np.array([k.first for k in self.kinds])

    @cached_property
    def kind_count(self) -> np.ndarray:
        return np.array([k.count for k in self.kinds])

    @cached_property
    def kind_knowledge(self) -> np.ndarray:
        return np.array([k.knowledge for k in self.kinds])

    def staff_total(self, exclude: tuple[str, ...] = ("social",)) -> int:
        """Headcount of the units, by default without social organisations (bought, not employed)."""
        return int(sum(k.staff * k.count for k in self.kinds if k.level not in exclude))

    def staff_by_level(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for k in self.kinds:
            out[k.level] = out.get(k.level, 0) + k.staff * k.count
        return out

    def staff_cost(self) -> float:
        """Yearly cost of all staff, social organisations' purchase cost included."""
        return float(sum(k.staff * k.count * k.cost_per_staff for k in self.kinds))

    def chain(self, function: str, segment: str, authority: tuple[str, ...]) -> list[int]:
        """Unit kinds a request for ``function`` passes on escalation, lowest level first.

        Only levels in ``authority`` that have a unit kind covering the function take part; the
        last one decides whatever reaches it (someone must).
        """
        key = (function, segment, authority)
        if key not in self._chains:
            chain = []
            for level in LEVELS:
                if level not in authority:
                    continue
                for index, kind in enumerate(self.kinds):
                    if kind.level == level and unit_covers(self.unit_config[kind.name], function, segment):
                        chain.append(index)
                        break
            self._chains[key] = chain
        return self._chains[key]

    def instance(self, kind_index: np.ndarray, location: np.ndarray) -> np.ndarray:
        """Unit instance of each kind serving each location: a point of [0, 1) on the line, a
        leaf area on the map."""
        if self.city_map is not None:
            return self.unit_of_leaf[kind_index, location.astype(np.int64)]
        count = self.kind_count[kind_index]
        return self.kind_first[kind_index] + np.minimum((location * count).astype(np.int64), count - 1)

    def alternatives(self, kind_index: int) -> list[int]:
        """Other unit kinds at the same level: where a misrouted request may land first."""
        level = self.kinds[kind_index].level
        return [i for i, k in enumerate(self.kinds) if k.level == level and i != kind_index]
