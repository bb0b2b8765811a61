"""Grid workers find incidents on patrol (issue 13, item 5, second half).

Incidents arise from places (``rate_basis = "residents"``), whatever the grid structure. Who
finds one, and when, depends on the grid:

  * sensors (with the platform, M6) find a share ``sensor_share`` at once;
  * patrols pass each point of a grid ``passes`` times a day, where
        passes = workers x patrol hours per worker x sweep_km2_per_hour / grid area (km2)
    and patrol hours are what the working day leaves: the grid's contract minutes less its
    duties (yearly average) and less the request work it had (smoothed over days); so a patrol
    finds an incident after an exponential time of rate ``passes`` per day (assumed: patrols
    sweep their grid uniformly at random);
  * a share ``resident_report_share`` of incidents would be reported by a resident through the
    hotline after an exponential time of mean ``resident_report_days``;
  * whichever comes first within ``visible_days`` reports it; otherwise it is never found.

A found incident is then a request as before: created when reported (a resident's report is
dispatched like a hotline call), served first by the grid's worker within their knowledge, the
rest reported up the chain. Sources: the rule is assumed; its parameters are in the scenario.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sim.city.catalogue import RequestKind, kinds_named
from sim.city.demand import NewRequests
from sim.city.planner import HOTLINE
from sim.city.structure import Structure
from sim.engine.calendars import DAY
from sim.engine.legs import Legs

SENSOR, PATROL, RESIDENT, UNFOUND = 0, 1, 2, 3
FINDERS = ("sensor", "patrol", "resident", "unfound")
WORK_MEMORY = 0.2  # assumed: a grid's recent request work is smoothed over about a week


def patrol_kinds(scenario: dict[str, Any], kinds: list[RequestKind]) -> list[RequestKind]:
    """Kinds found on patrol: ``patrols.kinds``, or every grid-worker kind arising from places."""
    return kinds_named(kinds, scenario["behaviour"]["patrols"]["kinds"],
                       lambda k: k.origin == "grid_worker" and k.rate_basis == "residents")


class PatrolRule:
    """Who finds each incident of the patrol kinds, and when.

    Args:
        cfg: ``behaviour.patrols``.
        kinds: the patrol kinds.
        structure: the organisation (grid units, their staff, calendars and areas).
        duty_minutes: per unit, average server minutes of duties per open day.
        grid_area: per unit, km2 of its grid (NaN for units that are not grids).
        rng: the patrols' stream.
    """

    def __init__(self, cfg: dict[str, Any], kinds: list[RequestKind], structure: Structure,
                 duty_minutes: np.ndarray, grid_area: np.ndarray, rng: np.random.Generator) -> None:
        self.cfg = cfg
        self.structure = structure
        self.kinds = kinds
        self.is_patrol_kind = np.zeros(max(k.index for k in kinds) + 1 if kinds else 1, dtype=bool)
        self.is_patrol_kind[[k.index for k in kinds]] = True
        self.grid_kind = {k.index: structure.chain(k.functions[0], "public", k.authority)[0] for k in kinds}
        self.duty_minutes = duty_minutes
        self.grid_area = grid_area
        self.work = np.zeros(structure.n_units)  # smoothed request minutes per day, per unit
        self._today = np.zeros(structure.n_units)  # decided today
        self._block = np.zeros(structure.n_units)  # planned in blocks, per day
        self.rng = rng
        self._contract: np.ndarray | None = None
        # per day of find(): incidents by finder, summed delay (days) of found ones, mean passes
        # and patrol hours per worker over the grids with incidents
        self.log: dict[str, list[Any]] = {"found": [], "delay_days": [], "passes": [], "patrol_hours": []}

    def free_hours(self) -> np.ndarray:
        """Per unit, patrol hours per worker a day: contract less duties and request work."""
        s = self.structure
        if self._contract is None:  # staff minutes a day per unit (fixed: built on first use)
            self._contract = np.array([c.day_minutes for c in s.unit_calendar]) * s.unit_servers
        free = np.maximum(self._contract - self.duty_minutes - self.work, 0.0)
        return free / np.maximum(s.unit_servers, 1) / 60.0

    def passes(self, free_hours: np.ndarray | None = None) -> np.ndarray:
        """Per unit, patrol passes over each point of its grid a day (from ``free_hours()``,
        computed here unless given)."""
        s = self.structure
        free = self.free_hours() if free_hours is None else free_hours
        with np.errstate(invalid="ignore", divide="ignore"):
            return s.unit_servers * free * self.cfg["sweep_km2_per_hour"] / self.grid_area

    def note_work(self, legs: Legs, days: int) -> None:
        """Request minutes planned at units: a day's decided requests (``days`` = 1) or a block
        of others, spread over the ``days`` it was planned for."""
        minutes = np.bincount(legs.unit, weights=legs.service, minlength=self.structure.n_units) / days
        if days == 1:
            self._today += minutes
        else:
            self._block = minutes

    def end_day(self) -> None:
        """Fold the day's request work into the smoothed working-day budget."""
        self.work = (1 - WORK_MEMORY) * self.work + WORK_MEMORY * (self._today + self._block)
        self._today = np.zeros(self.structure.n_units)

    def find(self, new: NewRequests) -> tuple[NewRequests, np.ndarray]:
        """The day's requests with patrol kinds' incidents found (created when reported, sorted)
        or dropped (never found), and a channel per request (``HOTLINE``: a resident's report)."""
        cfg, rng = self.cfg, self.rng
        kind_ok = new.kind < len(self.is_patrol_kind)
        mine = np.flatnonzero(kind_ok & self.is_patrol_kind[np.where(kind_ok, new.kind, 0)])
        delay = np.zeros(len(new))
        finder = np.full(len(new), -1)
        if len(mine):
            free = self.free_hours()
            passes = self.passes(free)
            grid = np.zeros(len(mine), dtype=np.int64)
            for k, unit_kind in self.grid_kind.items():
                pick = new.kind[mine] == k
                where = new.location[mine][pick]
                grid[pick] = self.structure.instance(np.full(len(where), unit_kind), where)
            rate = _nan_to_zero(passes[grid])
            n = len(mine)
            t_patrol = np.where(rate > 0, rng.exponential(1.0, n) / np.maximum(rate, 1e-12), np.inf)
            would = rng.random(n) < cfg["resident_report_share"]
            t_resident = np.where(would, rng.exponential(cfg["resident_report_days"], n), np.inf)
            sensed = rng.random(n) < cfg["sensor_share"]
            first = np.minimum(t_patrol, t_resident)
            who = np.where(sensed, SENSOR, np.where(first > cfg["visible_days"], UNFOUND,
                                                    np.where(t_patrol <= t_resident, PATROL, RESIDENT)))
            when = np.where(sensed, 0.0, np.where(who == UNFOUND, np.nan, first))
            delay[mine] = _nan_to_zero(when) * DAY
            finder[mine] = who
            used = np.flatnonzero(np.bincount(grid, minlength=len(passes)))  # (as np.unique: sorted)
            self.log["found"].append(np.bincount(who, minlength=len(FINDERS)))
            self.log["delay_days"].append(float(_nan_to_zero(when).sum()))  # (np.nansum)
            self.log["passes"].append(_nan_mean(passes[used]))
            self.log["patrol_hours"].append(float(free[used].mean()))
        else:
            for key, value in (("found", np.zeros(len(FINDERS), dtype=np.int64)), ("delay_days", 0.0),
                               ("passes", np.nan), ("patrol_hours", np.nan)):
                self.log[key].append(value)
        keep = finder != UNFOUND
        created = new.created + delay
        order = np.flatnonzero(keep)[np.argsort(created[keep], kind="stable")]
        found = NewRequests(new.kind[order], new.origin_agent[order], new.location[order], new.segment[order],
                            created[order])
        channel = np.where(finder[order] == RESIDENT, HOTLINE, 0)
        return found, channel


def _nan_to_zero(values: np.ndarray) -> np.ndarray:
    """``np.nan_to_num(values, nan=0.0)`` (infinities to the largest floats too), in a few
    microseconds where NumPy's takes tens: this runs several times a day."""
    if np.isfinite(values).all():
        return values.copy()
    return np.nan_to_num(values, nan=0.0)


def _nan_mean(values: np.ndarray) -> float:
    """``np.nanmean`` (NaN when nothing is left), as it computes it, without its warning."""
    known = ~np.isnan(values)
    count = int(known.sum())
    return float(np.where(known, values, 0.0).sum() / count) if count else float("nan")
