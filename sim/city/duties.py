"""Duties: the work of a unit that is not a request (documents and reports for upper
government, meetings, reception of visiting superiors, routine inspections), as staff minutes
per unit and day, queued at each opening beside the requests (``sim.engine.workday``).

Why queued work and not hours taken off the top: a duty's volume comes from what drives it (a
township's documents from above, an enforcement team's firms), not from how many staff a unit
has; so cutting staff concentrates the same duties on fewer people, and the queue, overtime and
backlog show the consequence. A duty given per staff member (``per = "staff"``: meetings a
cadre attends) scales with the headcount instead.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sim.city.structure import Structure


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
        n = structure.n_units
        self.items = []  # (units, mean items per open day, minutes per item in server minutes)
        for kind in structure.kinds:
            calendar = structure.calendars[kind.calendar]
            open_days = calendar.yearly_open_minutes() / calendar.day_minutes
            units = np.arange(kind.first, kind.first + kind.count)
            for duty in kind.duties.values():
                per_unit = {"unit": 1.0, "staff": float(kind.staff),
                            "resident": population["residents"] / kind.count,
                            "firm": population.get("firms", 0) / kind.count}[duty["per"]]
                mean = duty["count_per_year"] * per_unit / open_days
                minutes = duty["minutes"] * structure.unit_service_factor[units]
                self.items.append((units, mean, minutes))
        self.open_day = [structure.calendars[k.calendar] for k in structure.kinds]
        self.n_units = n

    def __bool__(self) -> bool:
        return bool(self.items)

    def days(self, first_day: int, end_day: int) -> np.ndarray:
        """Server minutes of duties on each day of [first_day, end_day) (rows) per unit (columns):
        a Poisson number of items per unit and open day (assumed: items arrive independently),
        each taking the duty's minutes; 0 on the unit's closed days."""
        out = np.zeros((end_day - first_day, self.n_units))
        for units, mean, minutes in self.items:
            counts = self.rng.poisson(mean, size=(end_day - first_day, len(units)))
            out[:, units] += counts * minutes[None, :]
        for kind, calendar in zip(self.structure.kinds, self.open_day, strict=True):
            closed = [d - first_day for d in range(first_day, end_day) if not calendar.is_open_day(d)]
            out[np.ix_(closed, np.arange(kind.first, kind.first + kind.count))] = 0.0
        return out

    def expected_minutes_per_year(self) -> np.ndarray:
        """Staff minutes of duties a year per unit (for the memory estimate and the optimiser)."""
        out = np.zeros(self.n_units)
        for (units, mean, minutes), kind in zip(self.items, self._item_kinds(), strict=True):
            calendar = self.structure.calendars[kind.calendar]
            open_days = calendar.yearly_open_minutes() / calendar.day_minutes
            out[units] += mean * open_days * minutes / self.structure.unit_service_factor[units]
        return out

    def _item_kinds(self) -> list[Any]:
        return [kind for kind in self.structure.kinds for _ in kind.duties]
