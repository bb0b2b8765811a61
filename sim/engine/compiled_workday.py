"""Compiled pieces of the working day (``sim.engine.workday`` is the reference): the clock of a
unit that may work overtime, kept as rows of 2-D arrays, and the open-day test.

Same arithmetic in the same order as the Python classes, so both engines agree exactly.
"""

from __future__ import annotations

import math

import numba

from sim.engine.calendars import DAY, EPS_CLOSE, HOLIDAY_CYCLE_DAYS


@numba.njit(cache=True, _nrt=False, inline="always")
def is_open_day(c, d, cal_i, ex_day, ex_open):
    """``WeeklyCalendar.is_open_day`` for calendar row ``c``."""
    if cal_i[c, 1] != 0:
        r = d % HOLIDAY_CYCLE_DAYS
        for k in range(cal_i[c, 3]):
            if ex_day[c, k] == r:
                return ex_open[c, k]
    return cal_i[c, 11 + d % 7] != 0


@numba.njit(cache=True, _nrt=False)
def next_open_day(c, d, cal_i, ex_day, ex_open):
    while not is_open_day(c, d, cal_i, ex_day, ex_open):
        d += 1
    return d


@numba.njit(cache=True, _nrt=False, inline="always")
def _count_below(row, u, n, x, inclusive):
    """How many of ``row[u, :n]`` (ascending) are < ``x`` (<= ``x`` when ``inclusive``): bisect."""
    lo = 0
    hi = n
    while lo < hi:
        mid = (lo + hi) // 2
        if row[u, mid] < x or (inclusive and row[u, mid] == x):
            lo = mid + 1
        else:
            hi = mid
    return lo


@numba.njit(cache=True, _nrt=False, inline="always")
def clock_to_work(u, t, opening, clk_n, clk_day, clk_start, clk_len):
    """``UnitClock.to_work``; ``opening`` is the calendar's opening minute of the day."""
    j = _count_below(clk_day, u, clk_n[u], math.floor(t / DAY), True) - 1
    if j >= 0 and t < clk_day[u, j] * DAY + opening:
        j -= 1
    if j < 0:
        return 0.0
    return clk_start[u, j] + min(t - (clk_day[u, j] * DAY + opening), clk_len[u, j])


@numba.njit(cache=True, _nrt=False, inline="always")
def clock_start_time(u, w, opening, clk_n, clk_day, clk_start, clk_len):
    """``UnitClock.start_time``."""
    n = clk_n[u]
    j = max(_count_below(clk_start, u, n, w, True) - 1, 0)
    if clk_start[u, j] + clk_len[u, j] - w < EPS_CLOSE and j + 1 < n:
        j += 1
    return clk_day[u, j] * DAY + opening + (w - clk_start[u, j])


@numba.njit(cache=True, _nrt=False, inline="always")
def clock_end_time(u, w, opening, clk_n, clk_day, clk_start, clk_len):
    """``UnitClock.end_time``."""
    j = max(_count_below(clk_start, u, clk_n[u], w, False) - 1, 0)
    return clk_day[u, j] * DAY + opening + (w - clk_start[u, j])


@numba.njit(cache=True, _nrt=False, inline="always")
def fill_idle(u, first, end, until, free, seen, desk, dlog_unit, dlog_begin, dlog_min, n_log):
    """``QueueEngine._fill`` for servers ``first .. end - 1`` (global server indices) of unit
    ``u``, in order; returns the new log length. One call per unit, not per server: every array
    handed to a compiled helper costs two reference-count updates."""
    for i in range(first, end):
        waiting = desk[u]
        if waiting > 0:
            begin = seen[i] if seen[i] > free[i] else free[i]
            gap = until - begin
            if gap > 0:
                done = gap if gap < waiting else waiting
                desk[u] = waiting - done
                dlog_unit[n_log] = u
                dlog_begin[n_log] = begin
                dlog_min[n_log] = done
                n_log += 1
        if until > seen[i]:
            seen[i] = until
    return n_log


@numba.njit(cache=True, _nrt=False)
def team_overtime(free, first, count, close_w, cap, desk, backlog):
    """``workday.team_overtime`` over servers ``first .. first + count - 1``; ``backlog``: room
    for ``count`` values (the kernel allocates nothing)."""
    for i in range(count):  # insertion sort: a unit has tens of servers, and np.sort is slow to compile
        value = max(0.0, free[first + i] - close_w)
        j = i
        while j > 0 and backlog[j - 1] > value:
            backlog[j] = backlog[j - 1]
            j -= 1
        backlog[j] = value
    total = 0.0
    for i in range(count):
        total += backlog[i]
    return min(cap, (total + desk) / count)
