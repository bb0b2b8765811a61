"""The working day: duties at each opening, overtime decided at each closing (reference version).

Why a clock per unit: a unit's working clock (``sim.engine.calendars``) maps calendar minutes to
cumulative working minutes, and the FCFS queue lives on that clock. Overtime lengthens a day
after the fact, so a unit that may work overtime gets a clock of its own, built day by day: a
list of its open days with the working minute at which each starts and how long it lasted.
Days already decided are fixed; the contract part of the current day is certain; only what lies
past the current day's contract closing is unknown. A visit whose end falls there waits (is
*pending*) until the closing decision, then its calendar times are computed and its next event
is scheduled. So a visit's working-time start and end are still fixed when it arrives (FCFS), and
its calendar times are computed once, when they are known.

The rules (both engines implement them, in this order at equal times: closings, then openings,
then requests):
  * *away* duties (meetings, reception, field visits: staff are not at their desks) for a day
    are shared equally among the unit's servers at its opening and queued behind the work each
    already has;
  * *desk* duties (documents, reports) join a backlog of the unit at its opening and are done
    in servers' idle time: visitors come first and are never delayed by them (assumed: desk
    work is put down when someone is waiting). Idle time is offered to the backlog when it is
    known to be idle: when a server next takes a visit, and for every server at each opening
    and closing. So the desk work done is logged where it was done, never overlapping a visit;
  * at each contract closing, a unit that may work overtime looks at the work its servers have
    committed beyond closing plus its desk backlog; staff stay on for the average of it over
    the servers, up to the unit's cap (assumed: the team stays together, and queue assignment
    keeps servers' loads within one visit of each other); what remains waits for the next day.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right

from sim.engine.calendars import DAY, EPS_CLOSE, WeeklyCalendar


def next_open_day(calendar: WeeklyCalendar, day: int) -> int:
    """The first day >= ``day`` on which ``calendar`` opens (holidays included)."""
    while not calendar.is_open_day(day):
        day += 1
    return day


def team_overtime(free: list[float] | object, close_w: float, cap: float, desk: float = 0.0) -> float:
    """Overtime minutes for the day: the mean over servers of the work committed past closing
    plus the desk work still undone, at most ``cap``.

    Summed in ascending order, so the compiled engine (which keeps servers in another order)
    gets the same float."""
    backlog = sorted(max(0.0, f - close_w) for f in free)  # type: ignore[union-attr]
    total = 0.0
    for value in backlog:
        total += value
    return min(cap, (total + desk) / len(backlog))


class UnitClock:
    """The working clock of one unit that may work overtime: its open days as decided so far.

    ``days[j]``, ``start[j]`` and ``length[j]`` are the j-th open day, the working minute at
    which it starts, and its working minutes (contract plus overtime; the last day's overtime is
    not decided yet, so its length is the contract's)."""

    def __init__(self, calendar: WeeklyCalendar, cap_minutes: float) -> None:
        self.calendar = calendar
        self.cap = cap_minutes
        self.contract = calendar.day_minutes
        self.days = [next_open_day(calendar, 0)]
        self.start = [0.0]
        self.length = [self.contract]

    def opening(self, j: int) -> float:
        return self.days[j] * DAY + self.calendar.open

    @property
    def horizon(self) -> float:
        """Working minutes known to lie in a day: up to the current day's contract closing."""
        return self.start[-1] + self.contract

    def to_work(self, t: float) -> float:
        """Working minutes before calendar minute ``t``."""
        j = bisect_right(self.days, math.floor(t / DAY)) - 1
        if j >= 0 and t < self.opening(j):
            j -= 1
        if j < 0:
            return 0.0
        return self.start[j] + min(t - self.opening(j), self.length[j])

    def start_time(self, w: float) -> float:
        """Calendar minute at which work resumes at working minute ``w`` (next opening if the
        day is over)."""
        j = max(bisect_right(self.start, w) - 1, 0)
        if self.start[j] + self.length[j] - w < EPS_CLOSE and j + 1 < len(self.days):
            j += 1
        return self.opening(j) + (w - self.start[j])

    def end_time(self, w: float) -> float:
        """Earliest calendar minute at which ``w`` working minutes have elapsed."""
        j = max(bisect_left(self.start, w) - 1, 0)
        return self.opening(j) + (w - self.start[j])

    def close(self, free: list[float], desk: float = 0.0) -> float:
        """Decide today's overtime from the servers' free times and the desk work left; open
        the next day's page."""
        close_w = self.horizon
        extra = team_overtime(free, close_w, self.cap, desk) if self.cap > 0 else 0.0
        self.length[-1] = self.contract + extra
        self.days.append(next_open_day(self.calendar, self.days[-1] + 1))
        self.start.append(close_w + extra)
        self.length.append(self.contract)
        return extra


class DaySchedule:
    """Openings and closings of the calendars whose units have duties or may work overtime.

    Args:
        calendars: one per group.
        wants_close: per group, whether any unit of it decides overtime at closing.
    """

    def __init__(self, calendars: list[WeeklyCalendar], wants_close: list[bool]) -> None:
        self.calendars = calendars
        self.wants_close = wants_close
        self.day = [next_open_day(c, 0) for c in calendars]
        self.closing = [False] * len(calendars)  # next event is the closing (else the opening)

    def time(self, g: int) -> float:
        cal = self.calendars[g]
        t = self.day[g] * DAY + cal.open
        return t + cal.day_minutes if self.closing[g] else t

    def next(self) -> tuple[float, int]:
        """(time, group) of the earliest pending day event; (inf, -1) when there are none."""
        best, group = float("inf"), -1
        for g in range(len(self.calendars)):
            t = self.time(g)
            if t < best or (t == best and self.closing[g] and not self.closing[group]):
                best, group = t, g
        return best, group

    def advance(self, g: int) -> None:
        if not self.closing[g] and self.wants_close[g]:
            self.closing[g] = True
            return
        self.closing[g] = False
        self.day[g] = next_open_day(self.calendars[g], self.day[g] + 1)
