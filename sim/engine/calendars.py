"""Working calendars as a clock: calendar minutes <-> cumulative working minutes.

Why a clock: a unit that only serves in office hours behaves, in *working* time, exactly like
a unit open around the clock. The engine converts an arrival to the unit's working clock,
queues there, and converts start and completion back. Service in progress at closing time
resumes at the next opening (assumed: a case file waits on the desk overnight).
Time 0 is Monday 00:00, which is 1 January 2024 (a Monday).

Public holidays (W5) are optional per calendar (``holidays = "cn-2024"``): statutory holidays
close, and the weekend make-up days that the State Council schedules around them open. The
schedule repeats every 52 weeks (assumed: weekdays stay aligned, so make-up days stay on
weekends; the real dates move a little from year to year). Without holidays the clock is the
plain weekly one, computed exactly as before.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

DAY = 1440.0
WEEK = 7 * DAY
EPS_CLOSE = 1e-7  # a hair before closing counts as closing
HOLIDAY_CYCLE_DAYS = 364  # 52 weeks

# W5: the State Council's 2024 schedule (11 statutory days), as day numbers from 1 January 2024.
# Closed: New Year 1 Jan; Spring Festival 10-17 Feb; Qingming 4-6 Apr; Labour Day 1-5 May;
# Dragon Boat 10 Jun; Mid-Autumn 15-17 Sep; National Day 1-7 Oct (weekdays listed; the rest fall
# on weekends). Make-up working days: Sun 4 Feb, Sun 18 Feb, Sun 7 Apr, Sun 28 Apr, Sat 11 May,
# Sat 14 Sep, Sun 29 Sep, Sat 12 Oct.
HOLIDAYS: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    "none": ((), ()),
    "cn-2024": ((0, 42, 43, 44, 45, 46, 94, 95, 121, 122, 123, 161, 259, 260, 274, 275, 276, 277, 280),
                (34, 48, 97, 118, 131, 257, 272, 285)),
}


class WeeklyCalendar:
    """Open on ``work_days`` (0 = Monday) from ``open_hour`` to ``close_hour``.

    Args:
        open_hour: opening hour, 0-24.
        close_hour: closing hour, after ``open_hour``.
        work_days: weekdays open.
    """

    def __init__(self, open_hour: float, close_hour: float, work_days: list[int],
                 holidays: str = "none") -> None:
        if not 0 <= open_hour < close_hour <= 24:
            raise ValueError(f"need 0 <= open_hour < close_hour <= 24, got {open_hour}, {close_hour}")
        if not work_days or any(d not in range(7) for d in work_days):
            raise ValueError(f"work_days must be weekdays 0-6, got {work_days}")
        self.open = open_hour * 60.0
        self.day_minutes = (close_hour - open_hour) * 60.0
        self.days = sorted(set(work_days))
        self.week_minutes = self.day_minutes * len(self.days)
        # working minutes elapsed in the week before each weekday starts
        self._before = [self.day_minutes * sum(1 for d in self.days if d < w) for w in range(8)]
        self._is_work = [w in self.days for w in range(7)]
        if holidays not in HOLIDAYS:
            raise ValueError(f"unknown holiday schedule {holidays!r}; allowed: {', '.join(HOLIDAYS)}")
        closed, makeup = HOLIDAYS[holidays]
        # exceptions to the weekly pattern within one cycle: (day, +1 opens it, -1 closes it)
        changes = sorted([(d, -1) for d in closed if self._is_work[d % 7]]
                         + [(d, 1) for d in makeup if not self._is_work[d % 7]])
        self.ex_day = [d for d, _ in changes]
        self.ex_sign = [s for _, s in changes]
        self.ex_before = [0.0] * (len(changes) + 1)  # working minutes they add before exception k
        for k, sign in enumerate(self.ex_sign):
            self.ex_before[k + 1] = self.ex_before[k] + sign * self.day_minutes
        self.has_exceptions = bool(changes)
        self.always_open = self.day_minutes == DAY and len(self.days) == 7 and not self.has_exceptions

    @classmethod
    def from_config(cls, cfg: dict[str, Any]) -> WeeklyCalendar:
        return cls(cfg["open_hour"], cfg["close_hour"], cfg["work_days"], cfg.get("holidays", "none"))

    def to_work(self, t: float) -> float:
        """Working minutes elapsed from time 0 to calendar minute ``t``."""
        if self.always_open:
            return t
        week = math.floor(t / WEEK)
        rest = t - week * WEEK
        day = min(int(rest // DAY), 6)
        base = week * self.week_minutes + self._before[day]
        into = min(max(rest - day * DAY - self.open, 0.0), self.day_minutes)
        if self.has_exceptions:
            return self._adjusted(t, base, into, self._is_work[day])
        if not self._is_work[day]:
            return base
        return base + into

    def _adjusted(self, t: float, base: float, into: float, weekly_open: bool) -> float:
        """The weekly clock plus the holiday exceptions before ``t`` (and on its own day)."""
        d = math.floor(t / DAY)
        cycle = math.floor(d / HOLIDAY_CYCLE_DAYS)
        r = d - cycle * HOLIDAY_CYCLE_DAYS
        k = 0
        while k < len(self.ex_day) and self.ex_day[k] < r:
            k += 1
        w = base + cycle * self.ex_before[-1] + self.ex_before[k]
        is_open = weekly_open
        if k < len(self.ex_day) and self.ex_day[k] == r:
            is_open = self.ex_sign[k] > 0
        return w + into if is_open else w

    def is_open_day(self, day: int) -> bool:
        """Whether the calendar opens on day ``day`` (0 = the first Monday), holidays included."""
        r = day % HOLIDAY_CYCLE_DAYS
        if r in self.ex_day:
            return self.ex_sign[self.ex_day.index(r)] > 0
        return self._is_work[day % 7]

    def _first_day_reaching(self, w: float) -> int:
        """Smallest day whose working minutes, up to its closing, reach ``w`` (binary search)."""
        per_cycle = 52 * self.week_minutes + self.ex_before[-1]
        lo, hi = 0, (math.floor(max(w, 0.0) / per_cycle) + 2) * HOLIDAY_CYCLE_DAYS
        while lo < hi:
            mid = (lo + hi) // 2
            if self.to_work(mid * DAY + DAY) >= w:
                hi = mid
            else:
                lo = mid + 1
        return lo

    def _locate(self, w: float, index: int) -> float:
        week, index = divmod(index, len(self.days))
        offset = w - (week * self.week_minutes + index * self.day_minutes)
        return week * WEEK + self.days[index] * DAY + self.open + offset

    def start_time(self, w: float) -> float:
        """Calendar minute at which work resumes at working minute ``w`` (next opening if closed)."""
        if self.always_open:
            return w
        if self.has_exceptions:
            day = self._first_day_reaching(w + EPS_CLOSE)
            return day * DAY + self.open + (w - self.to_work(day * DAY))
        index = math.floor(w / self.day_minutes)
        if (index + 1) * self.day_minutes - w < 1e-7:  # a hair before closing is closing: next opening
            index += 1
        return self._locate(w, index)

    def end_time(self, w: float) -> float:
        """Earliest calendar minute at which ``w`` working minutes have elapsed (closing if exact)."""
        if self.always_open:
            return w
        if self.has_exceptions:
            day = self._first_day_reaching(w - EPS_CLOSE)
            return day * DAY + self.open + (w - self.to_work(day * DAY))
        # a hair after closing is closing: rounding in summed service times must not cost a night
        return self._locate(w, math.ceil((w - EPS_CLOSE) / self.day_minutes) - 1)

    def to_work_array(self, t: np.ndarray) -> np.ndarray:
        """``to_work`` for many times at once (NaN stays NaN): working minutes before each
        day from the open-day table, plus the part of the day's opening hours already past."""
        t = np.asarray(t, dtype=float)
        if self.always_open:
            return t.copy()
        finite = np.isfinite(t)
        days = int(np.max(t[finite]) // DAY) + 2 if finite.any() else 1
        per_day = self.daily_open_minutes(days)
        before = np.concatenate(([0.0], np.cumsum(per_day)))
        day = np.where(finite, np.floor(np.where(finite, t, 0.0) / DAY), 0).astype(np.int64)
        into = np.clip(np.where(finite, t, 0.0) - day * DAY - self.open, 0.0, self.day_minutes)
        work = before[day] + np.where(per_day[day] > 0, into, 0.0)
        return np.where(finite, work, np.nan)

    def open_minutes(self, start: float, end: float) -> float:
        """Working minutes in the calendar interval [start, end)."""
        return self.to_work(end) - self.to_work(start)

    def daily_open_minutes(self, days: int) -> np.ndarray:
        """Open minutes on each of the first ``days`` days (for spreading arrivals)."""
        return np.array([self.day_minutes if self.is_open_day(d) else 0.0 for d in range(days)])

    def yearly_open_minutes(self) -> float:
        """Open minutes in an average year of 365 days."""
        if not self.has_exceptions:
            return self.week_minutes * 365.0 / 7.0
        return (52 * self.week_minutes + self.ex_before[-1]) * 365.0 / HOLIDAY_CYCLE_DAYS
