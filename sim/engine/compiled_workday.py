"""Compiled pieces of the working day (``sim.engine.workday`` is the reference): the clock of a
unit that may work overtime, kept as rows of 2-D arrays, and the open-day test.

Same arithmetic in the same order as the Python classes, so both engines agree exactly.
"""

from __future__ import annotations

import math

from sim.engine.calendars import DAY, EPS_CLOSE, HOLIDAY_CYCLE_DAYS
from sim.engine.jit import numba


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


@numba.njit(cache=True, _nrt=False)
def pend_insert(u, leg, state, end_w, pend_head, pend_tail, pend_next, pend_prev, pend_order, pend_leg):
    """Hold visit ``leg`` at unit ``u`` (whose clock may work overtime) until the clock reaches
    the visit's end, in a list kept in order of that end (working minutes): a closing then
    takes the visits now ended from the head, where walking every visit still held made a
    backlog of weeks quadratic (a third of an overloaded run). Lists are of nodes of a pool
    (``pend_*[node]``; free nodes linked from ``state[7]`` through ``pend_next``, ``state[6]``
    used so far; the caller guarantees one free); ``state[5]`` numbers visits in the order they
    were held. Inserted from the tail: FCFS on m servers ends a new visit at most m - 1 places
    before the last."""
    node = state[7]
    if node >= 0:
        state[7] = pend_next[node]
    else:
        node = state[6]
        state[6] += 1
    pend_leg[node] = leg
    pend_order[node] = state[5]
    state[5] += 1
    e = end_w[leg]
    p = pend_tail[u]
    while p >= 0 and end_w[pend_leg[p]] > e:
        p = pend_prev[p]
    if p < 0:
        nxt = pend_head[u]
        pend_head[u] = node
    else:
        nxt = pend_next[p]
        pend_next[p] = node
    pend_prev[node] = p
    pend_next[node] = nxt
    if nxt < 0:
        pend_tail[u] = node
    else:
        pend_prev[nxt] = node


@numba.njit(cache=True, _nrt=False)
def pend_take(u, horizon, state, end_w, pend_head, pend_tail, pend_next, pend_prev, pend_order, pend_leg,
              buf):
    """Remove the visits held at ``u`` that end before ``horizon``; return how many, their legs in
    ``buf[:q]`` in the order they were held (the order a walk of the list in holding order
    finished them in, which sets the sequence numbers that break ties of equal times); their
    nodes go back to the free list."""
    q = 0
    node = pend_head[u]
    while node >= 0 and end_w[pend_leg[node]] < horizon:
        buf[q] = node
        q += 1
        node = pend_next[node]
    pend_head[u] = node
    if node < 0:
        pend_tail[u] = -1
    else:
        pend_prev[node] = -1
    ordered = True
    for i in range(1, q):
        if pend_order[buf[i]] < pend_order[buf[i - 1]]:
            ordered = False
            break
    if not ordered:  # heapsort by holding order: in place (the kernel allocates nothing)
        for start in range(q // 2 - 1, -1, -1):
            _sift_down(buf, pend_order, start, q)
        for end in range(q - 1, 0, -1):
            top = buf[0]
            buf[0] = buf[end]
            buf[end] = top
            _sift_down(buf, pend_order, 0, end)
    for i in range(q):
        node = buf[i]
        buf[i] = pend_leg[node]
        pend_next[node] = state[7]
        state[7] = node
    return q


@numba.njit(cache=True, _nrt=False, inline="always")
def _sift_down(buf, key, root, end):
    while True:
        child = 2 * root + 1
        if child >= end:
            return
        if child + 1 < end and key[buf[child]] < key[buf[child + 1]]:
            child += 1
        if key[buf[root]] >= key[buf[child]]:
            return
        top = buf[root]
        buf[root] = buf[child]
        buf[child] = top
        root = child
