"""Duties: the work of a unit that is not a request (documents and reports for upper
government, meetings, reception of visiting superiors, routine inspections), as staff minutes
per unit and day, handed to the queueing core each day (``sim.engine.workday``).

Why work of its own and not hours taken off the top: a duty's volume comes from what drives it
(a township's documents from above, an enforcement team's firms), not from how many staff a
unit has; so cutting staff concentrates the same duties on fewer people, and the queue,
overtime and backlog show the consequence. A duty given per staff member (``per = "staff"``:
meetings a cadre attends) scales with the headcount instead.

Two modes: *away* duties take staff from their desks at the day's start (meetings, reception,
field visits), so visitors wait meanwhile; *desk* duties (documents, reports) are done in idle
time, visitors first, and what is left at closing keeps staff late.
"""

from __future__ import annotations

import datetime
from typing import Any

import numpy as np

from sim.city.structure import Structure

DAY0 = datetime.date(2024, 1, 1)  # day 0 of every run (as the calendars)


def month_of(day: int) -> int:
    """Month (1-12) of simulated day ``day``, in 365-day years from 1 January 2024 (assumed)."""
    return (DAY0 + datetime.timedelta(days=day % 365)).month


class DutyPlan:
    """Expected duty minutes per open day for every unit, and daily draws of them.

    Args:
        structure: the organisation (unit kinds with their ``duties`` tables).
        population: the scenario's ``[population]`` table (real counts of residents and firms;
            a kind's instances share them equally, as they share the city's line).
        rng: the duty stream (one child stream of the run's generator).
    """

    def __init__(self, structure: Structure, population: dict[str, Any], rng: np.random.Generator) -> None:
        self.structure = structure
        self.rng = rng
        self.n_units = structure.n_units
        # per duty: (units, mean items per open day in season, server minutes per item, desk?, months)
        self.items: list[tuple[np.ndarray, float, np.ndarray, bool, frozenset[int]]] = []
        for kind in structure.kinds:
            calendar = structure.calendars[kind.calendar]
            units = np.arange(kind.first, kind.first + kind.count)
            for duty in kind.duties.values():
                months = frozenset(duty.get("months", range(1, 13)))
                season_days = sum(1 for d in range(365) if calendar.is_open_day(d) and month_of(d) in months)
                per_unit = {"unit": 1.0, "staff": float(kind.staff),
                            "resident": population["residents"] / kind.count,
                            "firm": population.get("firms", 0) / kind.count}[duty["per"]]
                mean = duty["count_per_year"] * per_unit / max(season_days, 1)
                minutes = duty["minutes"] * structure.unit_service_factor[units]
                self.items.append((units, mean, minutes, duty.get("mode", "desk") == "desk", months))
        self.calendars = [structure.calendars[k.calendar] for k in structure.kinds]

    def __bool__(self) -> bool:
        return bool(self.items)

    def days(self, first_day: int, end_day: int) -> tuple[np.ndarray, np.ndarray]:
        """Server minutes of away duties and of desk work on each day of [first_day, end_day)
        (rows) per unit (columns): a Poisson number of items per unit and open day in season
        (assumed: items arrive independently), each taking the duty's minutes; 0 on the unit's
        closed days and out of season."""
        n_days = end_day - first_day
        away, desk = np.zeros((n_days, self.n_units)), np.zeros((n_days, self.n_units))
        months = np.array([month_of(d) for d in range(first_day, end_day)])
        for units, mean, minutes, is_desk, season in self.items:
            counts = self.rng.poisson(mean, size=(n_days, len(units)))
            counts[~np.isin(months, list(season))] = 0
            (desk if is_desk else away)[:, units] += counts * minutes[None, :]
        for kind, calendar in zip(self.structure.kinds, self.calendars, strict=True):
            closed = [d - first_day for d in range(first_day, end_day) if not calendar.is_open_day(d)]
            columns = np.arange(kind.first, kind.first + kind.count)
            away[np.ix_(closed, columns)] = 0.0
            desk[np.ix_(closed, columns)] = 0.0
        return away, desk
