"""The time ledger of a unit: for each of its open days, the server minutes it had (contract and
overtime), and how many of them went to requests, to duties, or stayed idle.

Why: it is the accounting identity of the working day (busy + idle = contract + overtime, every
day, with idle never negative), so a planner can see where a unit's hours went, and a test can
check that no server was double-booked or served outside its (extended) day.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sim.engine.calendars import DAY


def _day_windows(model: Any, unit: int, days: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(open days, working minute each starts, contract minutes, overtime minutes) of one unit."""
    clocks = model.engine.workday_log().clocks
    calendar = model.structure.unit_calendar[unit]
    if unit in clocks:
        day, start, length, extra = clocks[unit]
        return day, start, length - extra, extra
    day = np.array([d for d in range(days) if calendar.is_open_day(d)], dtype=np.int64)
    start = np.array([calendar.to_work(d * DAY + calendar.open) for d in day])
    return day, start, np.full(len(day), calendar.day_minutes), np.zeros(len(day))


def _overlap(begin: np.ndarray, end: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Per window [lo, hi): total length of the intervals [begin, end) inside it."""
    if not len(begin):
        return np.zeros(len(lo))
    inside = np.minimum(end[None, :], hi[:, None]) - np.maximum(begin[None, :], lo[:, None])
    return np.clip(inside, 0.0, None).sum(axis=1)


def time_ledger(model: Any, unit: int) -> dict[str, np.ndarray]:
    """The ledger of one unit instance over the days run, in server minutes per open day.

    Keys: ``day``, ``contract``, ``overtime`` (available: servers x the day's minutes),
    ``requests``, ``duties`` (busy), ``idle`` (= contract + overtime - requests - duties)."""
    servers = int(model.structure.unit_servers[unit])
    day, start, contract, extra = _day_windows(model, unit, model.day)
    ran = day < model.day  # a clock's last page is the next open day, not run yet
    day, start, contract, extra = day[ran], start[ran], contract[ran], extra[ran]
    lo, hi = start, start + contract + extra
    log = model.engine.log()
    legs = model.engine.leg_unit() == unit
    begin = np.nan_to_num(log.leg_start_work[legs], nan=np.inf)
    end = np.nan_to_num(log.leg_end_work[legs], nan=np.inf)
    work = model.engine.workday_log()
    mine = work.duty_unit == unit
    duty_begin = work.duty_begin[mine]
    requests = _overlap(begin, end, lo, hi)
    duties = _overlap(duty_begin, duty_begin + work.duty_minutes[mine], lo, hi)
    available_contract, available_extra = contract * servers, extra * servers
    return {"day": day, "contract": available_contract, "overtime": available_extra, "requests": requests,
            "duties": duties, "idle": available_contract + available_extra - requests - duties}
