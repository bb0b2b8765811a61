"""Working calendars as a clock: calendar minutes <-> cumulative working minutes.

Why a clock: a unit that only serves in office hours behaves, in *working* time, exactly like
a unit open around the clock. The engine converts an arrival to the unit's working clock,
queues there, and converts start and completion back. Service in progress at closing time
resumes at the next opening (assumed: a case file waits on the desk overnight).
Time 0 is Monday 00:00. Public holidays are not modelled (assumed; a calendar lists weekdays).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

DAY = 1440.0
WEEK = 7 * DAY


class WeeklyCalendar:
    """Open on ``work_days`` (0 = Monday) from ``open_hour`` to ``close_hour``.

    Args:
        open_hour: opening hour, 0-24.
        close_hour: closing hour, after ``open_hour``.
        work_days: weekdays open.
    """

    def __init__(self, open_hour: float, close_hour: float, work_days: list[int]) -> None:
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
        self.always_open = self.day_minutes == DAY and len(self.days) == 7

    @classmethod
    def from_config(cls, cfg: dict[str, Any]) -> WeeklyCalendar:
        return cls(cfg["open_hour"], cfg["close_hour"], cfg["work_days"])

    def to_work(self, t: float) -> float:
        """Working minutes elapsed from time 0 to calendar minute ``t``."""
        if self.always_open:
            return t
        week = math.floor(t / WEEK)
        rest = t - week * WEEK
        day = min(int(rest // DAY), 6)
        base = week * self.week_minutes + self._before[day]
        if not self._is_work[day]:
            return base
        into = rest - day * DAY - self.open
        return base + min(max(into, 0.0), self.day_minutes)

    def _locate(self, w: float, index: int) -> float:
        week, index = divmod(index, len(self.days))
        offset = w - (week * self.week_minutes + index * self.day_minutes)
        return week * WEEK + self.days[index] * DAY + self.open + offset

    def start_time(self, w: float) -> float:
        """Calendar minute at which work resumes at working minute ``w`` (next opening if closed)."""
        if self.always_open:
            return w
        index = math.floor(w / self.day_minutes)
        if (index + 1) * self.day_minutes - w < 1e-7:  # a hair before closing is closing: next opening
            index += 1
        return self._locate(w, index)

    def end_time(self, w: float) -> float:
        """Earliest calendar minute at which ``w`` working minutes have elapsed (closing if exact)."""
        if self.always_open:
            return w
        return self._locate(w, math.ceil(w / self.day_minutes) - 1)

    def open_minutes(self, start: float, end: float) -> float:
        """Working minutes in the calendar interval [start, end)."""
        return self.to_work(end) - self.to_work(start)

    def daily_open_minutes(self, days: int) -> np.ndarray:
        """Open minutes on each of the first ``days`` days (for spreading arrivals)."""
        weekday = np.arange(days) % 7
        return np.where(np.isin(weekday, self.days), self.day_minutes, 0.0)
