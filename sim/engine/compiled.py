"""The compiled queueing core: the same event loop as ``sim.engine.reference.QueueEngine``, in Numba.

Same rules, same order of events (one heap keyed by time, then insertion order), same float
arithmetic, so it agrees with the reference loop request by request (tested). State lives in
NumPy arrays that grow by doubling; the kernel is compiled once and cached on disk
(``cache=True``), so only a session's very first run pays for compilation.
"""

from __future__ import annotations

import math

import numpy as np

from sim.engine.calendars import DAY, EPS_CLOSE, HOLIDAY_CYCLE_DAYS, WEEK, WeeklyCalendar
from sim.engine.compiled_batch import BAD_INPUT, merge_arrivals, write_batch
from sim.engine.compiled_workday import (
    clock_end_time,
    clock_start_time,
    clock_to_work,
    fill_idle,
    next_open_day,
    pend_insert,
    pend_take,
    team_overtime,
)
from sim.engine.jit import numba
from sim.engine.kernel_cache import drop_stale_kernels
from sim.engine.legs import Legs
from sim.engine.reference import EngineLog, WorkdayLog
from sim.engine.workday import next_open_day as first_open_day

drop_stale_kernels()  # before any kernel is loaded from the cache (at its first call)


class CalendarTable:
    """Calendars as arrays, one row per calendar (what the kernel reads).

    The weekly clock is packed into two tables, so a helper takes two arrays where it took
    eleven: each array handed to a compiled helper is reference-counted on the way in and out,
    and with some sixty per visit that counting was half of the kernel's time.
    ``cal_f[c]``: opening minute, minutes per open day, per week, then working minutes before
    each weekday (8). ``cal_i[c]``: always open, has holiday exceptions, open days per week,
    exceptions, then the open weekdays (7, padded) and whether each weekday is open (7).
    Holiday exceptions stay in their own arrays (``ex_day``, ``ex_open``, ``ex_before``)."""

    def __init__(self, calendars: list[WeeklyCalendar]) -> None:
        n = len(calendars)
        width = max([len(c.ex_day) for c in calendars] + [1])
        self.cal_f = np.zeros((n, 3 + 8), dtype=np.float64)
        self.cal_i = np.zeros((n, 4 + 7 + 7), dtype=np.int64)
        self.ex_day = np.zeros((n, width), dtype=np.int64)
        self.ex_open = np.zeros((n, width), dtype=np.bool_)
        self.ex_before = np.zeros((n, width + 1), dtype=np.float64)
        for i, c in enumerate(calendars):
            self.cal_f[i, :3] = (c.open, c.day_minutes, c.week_minutes)
            self.cal_f[i, 3:] = c._before
            self.cal_i[i, :4] = (c.always_open, c.has_exceptions, len(c.days), len(c.ex_day))
            self.cal_i[i, 4: 4 + len(c.days)] = c.days
            self.cal_i[i, 11:] = c._is_work
            k = len(c.ex_day)
            self.ex_day[i, :k] = c.ex_day
            self.ex_open[i, :k] = np.array(c.ex_sign) > 0
            self.ex_before[i, : k + 1] = c.ex_before

    def arrays(self) -> tuple[np.ndarray, ...]:
        return (self.cal_f, self.cal_i, self.ex_day, self.ex_open, self.ex_before)


@numba.njit(cache=True, _nrt=False, inline="always")
def _to_work(c, t, cal_f, cal_i, ex_day, ex_open, ex_before):
    if cal_i[c, 0] != 0:
        return t
    week = math.floor(t / WEEK)
    rest = t - week * WEEK
    day = min(int(rest // DAY), 6)
    base = week * cal_f[c, 2] + cal_f[c, 3 + day]
    into = min(max(rest - day * DAY - cal_f[c, 0], 0.0), cal_f[c, 1])
    if cal_i[c, 1] != 0:
        return _holiday_work(c, t, base, into, (cal_i[c, 11 + day] != 0), cal_i, ex_day, ex_open, ex_before)
    if cal_i[c, 11 + day] == 0:
        return base
    return base + into


@numba.njit(cache=True, _nrt=False)
def _holiday_work(c, t, base, into, weekly_open, cal_i, ex_day, ex_open, ex_before):
    """The weekly clock plus the holiday exceptions (as ``WeeklyCalendar._adjusted``); not
    inlined, so calendars without holidays do not pay for it in compile time."""
    d = math.floor(t / DAY)
    cycle = math.floor(d / HOLIDAY_CYCLE_DAYS)
    r = d - cycle * HOLIDAY_CYCLE_DAYS
    n = cal_i[c, 3]
    k = 0
    while k < n and ex_day[c, k] < r:
        k += 1
    w = base + cycle * ex_before[c, n] + ex_before[c, k]
    is_open = weekly_open
    if k < n and ex_day[c, k] == r:
        is_open = ex_open[c, k]
    return w + into if is_open else w


@numba.njit(cache=True, _nrt=False)
def _first_day_reaching(c, w, cal_f, cal_i, ex_day, ex_open, ex_before):
    """Smallest day whose working minutes up to its closing reach ``w`` (as the Python method)."""
    per_cycle = 52 * cal_f[c, 2] + ex_before[c, cal_i[c, 3]]
    lo = 0
    hi = (int(math.floor(max(w, 0.0) / per_cycle)) + 2) * HOLIDAY_CYCLE_DAYS  # noqa: RUF046
    while lo < hi:
        mid = (lo + hi) // 2
        if _to_work(c, mid * DAY + DAY, cal_f, cal_i, ex_day, ex_open, ex_before) >= w:
            hi = mid
        else:
            lo = mid + 1
    return lo


@numba.njit(cache=True, _nrt=False)
def _holiday_time(c, w, reach, cal_f, cal_i, ex_day, ex_open, ex_before):
    day = _first_day_reaching(c, reach, cal_f, cal_i, ex_day, ex_open, ex_before)
    return day * DAY + cal_f[c, 0] + (w - _to_work(c, day * DAY, cal_f, cal_i, ex_day, ex_open, ex_before))


@numba.njit(cache=True, _nrt=False, inline="always")
def _locate(c, w, index, cal_f, cal_i):
    week = index // cal_i[c, 2]
    index = index - week * cal_i[c, 2]
    offset = w - (week * cal_f[c, 2] + index * cal_f[c, 1])
    return week * WEEK + cal_i[c, 4 + index] * DAY + cal_f[c, 0] + offset


@numba.njit(cache=True, _nrt=False, inline="always")
def _start_time(c, w, cal_f, cal_i, ex_day, ex_open, ex_before):
    if cal_i[c, 0] != 0:
        return w
    if cal_i[c, 1] != 0:
        return _holiday_time(c, w, w + EPS_CLOSE, cal_f, cal_i, ex_day, ex_open, ex_before)
    index = math.floor(w / cal_f[c, 1])
    if (index + 1) * cal_f[c, 1] - w < EPS_CLOSE:
        index += 1
    return _locate(c, w, index, cal_f, cal_i)


@numba.njit(cache=True, _nrt=False, inline="always")
def _end_time(c, w, cal_f, cal_i, ex_day, ex_open, ex_before):
    if cal_i[c, 0] != 0:
        return w
    if cal_i[c, 1] != 0:
        return _holiday_time(c, w, w - EPS_CLOSE, cal_f, cal_i, ex_day, ex_open, ex_before)
    # a hair after closing is closing: rounding in summed service times must not cost a night
    index = math.ceil((w - EPS_CLOSE) / cal_f[c, 1]) - 1
    return _locate(c, w, index, cal_f, cal_i)


@numba.njit(cache=True, _nrt=False, inline="always")
def _less(t1, s1, t2, s2):
    return t1 < t2 or (t1 == t2 and s1 < s2)


@numba.njit(cache=True, _nrt=False, inline="always")
def _push(heap_t, heap_s, heap_l, size, t, s, leg):
    i = size
    heap_t[i] = t
    heap_s[i] = s
    heap_l[i] = leg
    while i > 0:
        parent = (i - 1) // 2
        if _less(heap_t[i], heap_s[i], heap_t[parent], heap_s[parent]):
            heap_t[i], heap_t[parent] = heap_t[parent], heap_t[i]
            heap_s[i], heap_s[parent] = heap_s[parent], heap_s[i]
            heap_l[i], heap_l[parent] = heap_l[parent], heap_l[i]
            i = parent
        else:
            break
    return size + 1


@numba.njit(cache=True, _nrt=False, inline="always")
def _pop(heap_t, heap_s, heap_l, size):
    """Remove the root (caller reads it first); returns the new size."""
    size -= 1
    heap_t[0] = heap_t[size]
    heap_s[0] = heap_s[size]
    heap_l[0] = heap_l[size]
    i = 0
    while True:
        left = 2 * i + 1
        if left >= size:
            break
        child = left
        right = left + 1
        if right < size and _less(heap_t[right], heap_s[right], heap_t[left], heap_s[left]):
            child = right
        if _less(heap_t[child], heap_s[child], heap_t[i], heap_s[i]):
            heap_t[i], heap_t[child] = heap_t[child], heap_t[i]
            heap_s[i], heap_s[child] = heap_s[child], heap_s[i]
            heap_l[i], heap_l[child] = heap_l[child], heap_l[i]
            i = child
        else:
            break
    return size


@numba.njit(cache=True, _nrt=False, inline="always")
def _handed_on(done, minutes, in_work, review, cal_f, cal_i, ex_day, ex_open, ex_before):
    """When the next unit receives a request handed on at ``done``: ``minutes`` later on the
    clock, or, with ``in_work``, ``minutes`` of the office calendar's working time later (a
    forwarding of "two office days" does not elapse over a weekend or a night); never before
    ``done`` (a hair of working time after hours would land on the last closing)."""
    if in_work and minutes > 0:
        w = _to_work(review, done, cal_f, cal_i, ex_day, ex_open, ex_before)
        return max(done, _end_time(review, w + minutes, cal_f, cal_i, ex_day, ex_open, ex_before))
    return done + minutes


@numba.njit(cache=True, _nrt=False)
def _finish_clock_leg(leg, size, seq, res_size, heap_t, heap_s, heap_l, leg_unit, leg_lead, leg_handoff,
                      leg_req, last_leg, start, end, start_w, end_w, ready, res_t, res_s, res_l, unit_cal,
                      review, ot_cap, clk_n, clk_day, clk_start, clk_len,
                      cal_f, cal_i, ex_day, ex_open, ex_before,
                      in_work):
    """Calendar times of a served visit at a unit with its own clock (one that may work
    overtime), its review period, then its next visit or resolution (``QueueEngine._complete``);
    returns the new (heap size, seq, resolutions size). Visits at other units are completed
    inline in ``_run_until`` by the same steps on the weekly clock."""
    unit = leg_unit[leg]
    c = unit_cal[unit]
    begin = start_w[leg]
    finish = end_w[leg]
    start[leg] = clock_start_time(unit, begin, cal_f[c, 0], clk_n, clk_day, clk_start, clk_len)
    if finish > begin:
        done = clock_end_time(unit, finish, cal_f[c, 0], clk_n, clk_day, clk_start, clk_len)
        if done < start[leg]:  # begun a hair before closing: it starts next opening, ends no earlier
            done = start[leg]
    else:
        done = start[leg]
    end[leg] = done
    lead = leg_lead[leg]
    if lead > 0:
        w_done = _to_work(review, done, cal_f, cal_i, ex_day, ex_open, ex_before)
        done = _end_time(review, w_done + lead * cal_f[review, 1], cal_f, cal_i, ex_day, ex_open, ex_before)
    req = leg_req[leg]
    if leg == last_leg[req]:
        ready[req] = done
        res_size = _push(res_t, res_s, res_l, res_size, done, 0, 0)
    else:
        arrival = _handed_on(done, leg_handoff[leg + 1], in_work, review,
                             cal_f, cal_i, ex_day, ex_open, ex_before)
        size = _push(heap_t, heap_s, heap_l, size, arrival, seq, leg + 1)
        seq += 1
    return size, seq, res_size


@numba.njit(cache=True, _nrt=False)
def _day_event(g_best, t_day, state, wd, heap_t, heap_s, heap_l, leg_unit, leg_lead, leg_handoff, leg_req,
               last_leg, start, end, start_w, end_w, ready, res_t, res_s, res_l, free, free_first,
               n_servers, unit_cal, review, ot_cap, clk_n, clk_day, clk_start, clk_len, pend_head,
               pend_tail, pend_next, pend_prev, pend_order, pend_leg, pend_buf, grp_cal, grp_day,
               grp_closing, grp_wants_close, duty_ptr, duty_units, clock_ptr, clock_units, duty_min,
               dlog_unit, dlog_begin, dlog_min, is_desk, desk_b, seen, desk_min, scratch, cal_f, cal_i,
               ex_day, ex_open, ex_before):
    """One opening or closing of calendar group ``g_best`` at ``t_day`` (see ``_run_until``): duties
    and desk work at openings, overtime and released visits at closings. A function of its own so
    the main loop stays small to compile. The loop's counters travel in ``state`` and ``wd``
    (written before the call, read after), so the function has one signature."""
    size = state[0]
    seq = state[1]
    res_size = state[2]
    n_log = wd[1]
    cg = grp_cal[g_best]
    day = grp_day[g_best]
    if grp_closing[g_best]:
        for k in range(clock_ptr[g_best], clock_ptr[g_best + 1]):
            u = clock_units[k]
            n = clk_n[u]
            close_w = clk_start[u, n - 1] + cal_f[cg, 1]
            if is_desk[u]:
                n_log = fill_idle(u, free_first[u], free_first[u] + n_servers[u], close_w, free, seen, desk_b,
                                  dlog_unit, dlog_begin, dlog_min, n_log)
            extra = team_overtime(free, free_first[u], n_servers[u], close_w, ot_cap[u], desk_b[u], scratch)
            clk_len[u, n - 1] = cal_f[cg, 1] + extra
            clk_day[u, n] = next_open_day(cg, clk_day[u, n - 1] + 1, cal_i, ex_day, ex_open)
            clk_start[u, n] = close_w + extra
            clk_len[u, n] = cal_f[cg, 1]
            clk_n[u] = n + 1
            horizon = clk_start[u, n] + cal_f[cg, 1]
            q = pend_take(u, horizon, state, end_w, pend_head, pend_tail, pend_next, pend_prev, pend_order,
                          pend_leg, pend_buf)
            for i in range(q):
                size, seq, res_size = _finish_clock_leg(
                    pend_buf[i], size, seq, res_size, heap_t, heap_s, heap_l, leg_unit, leg_lead,
                    leg_handoff, leg_req, last_leg, start, end, start_w, end_w, ready, res_t,
                    res_s, res_l, unit_cal, review, ot_cap, clk_n, clk_day, clk_start, clk_len,
                    cal_f, cal_i, ex_day, ex_open, ex_before, wd[4])
        grp_closing[g_best] = False
        grp_day[g_best] = next_open_day(cg, day + 1, cal_i, ex_day, ex_open)
    else:
        for k in range(duty_ptr[g_best], duty_ptr[g_best + 1]):
            u = duty_units[k]
            minutes = duty_min[day, u] if day < duty_min.shape[0] else 0.0
            opening = 0.0
            if minutes > 0 or is_desk[u]:
                if ot_cap[u] > 0:
                    opening = clock_to_work(u, t_day, cal_f[cg, 0], clk_n, clk_day, clk_start, clk_len)
                else:
                    opening = _to_work(cg, t_day, cal_f, cal_i, ex_day, ex_open, ex_before)
            if is_desk[u]:
                n_log = fill_idle(u, free_first[u], free_first[u] + n_servers[u], opening, free, seen, desk_b,
                                  dlog_unit, dlog_begin, dlog_min, n_log)
                if day < desk_min.shape[0]:
                    desk_b[u] += desk_min[day, u]
            if minutes > 0:
                m = n_servers[u]
                share = minutes / m
                for i in range(free_first[u], free_first[u] + m):
                    f = free[i]
                    b = f if f > opening else opening
                    free[i] = b + share
                    dlog_unit[n_log] = u
                    dlog_begin[n_log] = b
                    dlog_min[n_log] = share
                    n_log += 1
        if grp_wants_close[g_best]:
            grp_closing[g_best] = True
        else:
            grp_day[g_best] = next_open_day(cg, day + 1, cal_i, ex_day, ex_open)
    state[0] = size
    state[1] = seq
    state[2] = res_size
    wd[1] = n_log


@numba.njit(cache=True, _nrt=False)
def _run_until(t_end, state, heap_t, heap_s, heap_l, arr_t, arr_s, arr_l, leg_unit, leg_service, leg_lead,
               leg_handoff, leg_req, last_leg, arrive, start, end, start_w, end_w, ready, res_t, res_s,
               res_l, free, free_first, n_servers, unit_cal, review, wd, ot_cap, clk_n, clk_day, clk_start,
               clk_len, pend_head, pend_tail, pend_next, pend_prev, pend_order, pend_leg, pend_buf, grp_cal,
               grp_day, grp_closing, grp_wants_close, duty_ptr, duty_units, clock_ptr, clock_units,
               duty_min, dlog_unit, dlog_begin, dlog_min, is_desk, desk_b, seen, desk_min, leg_prio,
               reserved, scratch, cal_f, cal_i, ex_day, ex_open, ex_before):
    """state = [heap size, next seq, resolutions heap size, next arrival, arrivals, visits held
    at units with their own clock so far, held-visit pool nodes used, first free node];
    wd = [day-event groups, duty shares logged, most log entries one event can add, set to 1
    when the kernel stopped early for room in the log (call again after growing it), 1 when
    hand-off delays count office working time (``_handed_on``)].

    First visits wait in ``arr_*``, sorted by (time, seq); later visits in the heap. Taking the
    smaller (time, seq) of the two heads is the same order as one heap holding both, with a
    heap only as large as the requests in progress. With a working day (``wd[0]`` groups of
    calendars), openings and closings are events too, before requests at equal times
    (``QueueEngine._run_with_workday``)."""
    size = state[0]
    seq = state[1]
    res_size = state[2]
    pos = state[3]
    n_arr = state[4]
    n_groups = wd[0]
    n_log = wd[1]
    in_work = wd[4]
    while True:
        if (n_groups and n_log + wd[2] > len(dlog_unit)) or (state[7] < 0 and state[6] >= len(pend_leg)):
            wd[3] = 1  # out of room in the duty log or the held visits: stop before the next event
            break
        t_day = math.inf
        g_best = np.int64(-1)  # not a literal: one signature for _day_event
        for g in range(n_groups):
            cg = grp_cal[g]
            td = grp_day[g] * DAY + cal_f[cg, 0]
            if grp_closing[g]:
                td += cal_f[cg, 1]
            if td < t_day or (td == t_day and grp_closing[g] and not grp_closing[g_best]):
                t_day = td
                g_best = g
        from_heap = size > 0 and (pos >= n_arr or _less(heap_t[0], heap_s[0], arr_t[pos], arr_s[pos]))
        if from_heap:
            t = heap_t[0]
        elif pos < n_arr:
            t = arr_t[pos]
        else:
            t = math.inf
        if g_best >= 0 and t_day <= t_end and t_day <= t:
            state[0] = size
            state[1] = seq
            state[2] = res_size
            wd[1] = n_log
            _day_event(g_best, t_day, state, wd, heap_t, heap_s, heap_l, leg_unit, leg_lead, leg_handoff,
                       leg_req, last_leg, start, end, start_w, end_w, ready, res_t, res_s, res_l, free,
                       free_first, n_servers, unit_cal, review, ot_cap, clk_n, clk_day, clk_start, clk_len,
                       pend_head, pend_tail, pend_next, pend_prev, pend_order, pend_leg, pend_buf, grp_cal,
                       grp_day, grp_closing, grp_wants_close, duty_ptr, duty_units, clock_ptr, clock_units,
                       duty_min, dlog_unit, dlog_begin, dlog_min, is_desk, desk_b, seen, desk_min, scratch,
                       cal_f, cal_i, ex_day, ex_open, ex_before)
            size = state[0]
            seq = state[1]
            res_size = state[2]
            n_log = wd[1]
            continue
        if t > t_end or t == math.inf:  # nothing left (run_until(inf) drains the queue)
            break
        if from_heap:
            leg = heap_l[0]
            size = _pop(heap_t, heap_s, heap_l, size)
        else:
            leg = arr_l[pos]
            pos += 1
        unit = leg_unit[leg]
        c = unit_cal[unit]
        if ot_cap[unit] > 0:
            w = clock_to_work(unit, t, cal_f[c, 0], clk_n, clk_day, clk_start, clk_len)
        else:
            w = _to_work(c, t, cal_f, cal_i, ex_day, ex_open, ex_before)
        first = free_first[unit]
        # a unit's last ``reserved`` servers take priority visits only (officers on call)
        m = n_servers[unit] if leg_prio[leg] else n_servers[unit] - reserved[unit]
        best = first
        for k in range(first + 1, first + m):
            if free[k] < free[best]:
                best = k
        if is_desk[unit]:
            n_log = fill_idle(unit, best, best + 1, w, free, seen, desk_b, dlog_unit, dlog_begin, dlog_min,
                              n_log)
        s = free[best]
        begin = w if w > s else s
        finish = begin + leg_service[leg]
        free[best] = finish
        arrive[leg] = t
        start_w[leg] = begin
        end_w[leg] = finish
        if ot_cap[unit] > 0 and finish >= clk_start[unit, clk_n[unit] - 1] + cal_f[c, 1]:
            pend_insert(unit, leg, state, end_w, pend_head, pend_tail, pend_next, pend_prev, pend_order,
                        pend_leg)
            continue
        # the steps of _finish_clock_leg, inline: a call passing some forty arrays costs more in
        # reference counting than the visit's arithmetic (it was half the kernel's time)
        if ot_cap[unit] > 0:
            start[leg] = clock_start_time(unit, begin, cal_f[c, 0], clk_n, clk_day, clk_start, clk_len)
        else:
            start[leg] = _start_time(c, begin, cal_f, cal_i, ex_day, ex_open, ex_before)
        if finish > begin:
            if ot_cap[unit] > 0:
                done = clock_end_time(unit, finish, cal_f[c, 0], clk_n, clk_day, clk_start, clk_len)
            else:
                done = _end_time(c, finish, cal_f, cal_i, ex_day, ex_open, ex_before)
            if done < start[leg]:  # begun a hair before closing: it starts next opening, ends no earlier
                done = start[leg]
        else:
            done = start[leg]
        end[leg] = done
        lead = leg_lead[leg]
        if lead > 0:
            w_done = _to_work(review, done, cal_f, cal_i, ex_day, ex_open, ex_before)
            done = _end_time(review, w_done + lead * cal_f[review, 1],
                             cal_f, cal_i, ex_day, ex_open, ex_before)
        req = leg_req[leg]
        if leg == last_leg[req]:
            ready[req] = done
            res_size = _push(res_t, res_s, res_l, res_size, done, 0, 0)
        else:
            arrival = _handed_on(done, leg_handoff[leg + 1], in_work, review,
                                 cal_f, cal_i, ex_day, ex_open, ex_before)
            size = _push(heap_t, heap_s, heap_l, size, arrival, seq, leg + 1)
            seq += 1
    state[0] = size
    state[1] = seq
    state[2] = res_size
    state[3] = pos
    wd[1] = n_log


@numba.njit(cache=True, _nrt=False)
def _count_resolved(t, res_t, res_s, res_l, state):
    """Pop resolution times <= t; returns how many were popped (state[2] is the heap size)."""
    count = 0
    size = state[2]
    while size > 0 and res_t[0] <= t:
        size = _pop(res_t, res_s, res_l, size)
        count += 1
    state[2] = size
    return count


def _put_rows(table: np.ndarray, first: int, rows: np.ndarray) -> np.ndarray:
    """``table`` (days x units) with ``rows`` written from row ``first``, grown (zeros) as needed."""
    end = first + len(rows)
    if end > len(table):
        grown = np.zeros((max(end, 2 * len(table)), table.shape[1]))
        grown[: len(table)] = table
        table = grown
    table[first:end] = rows
    return table


def _grow(array: np.ndarray, needed: int, fill: float | None = None) -> np.ndarray:
    """At least ``needed`` long (doubling); new cells hold ``fill``, or anything when None."""
    if needed <= len(array):
        return array
    size = max(needed, 2 * len(array), 1024)
    out = np.empty(size, dtype=array.dtype) if fill is None else np.full(size, fill, dtype=array.dtype)
    out[: len(array)] = array
    return out


class CompiledEngine:
    """Drop-in for ``QueueEngine`` (same constructor, methods and results), compiled with Numba."""

    def __init__(self, servers: list[int], calendars: list[WeeklyCalendar],
                 review_calendar: WeeklyCalendar, service_factor: list[float] | None = None,
                 overtime_minutes: list[float] | None = None, duty_units: list[bool] | None = None,
                 desk_units: list[bool] | None = None, spare_servers: list[int] | None = None,
                 reserved_servers: list[int] | None = None, handoff_working_time: bool = False) -> None:
        self._handoff_in_work = handoff_working_time
        unique: list[WeeklyCalendar] = []
        for cal in [*calendars, review_calendar]:
            if not any(cal is u for u in unique):
                unique.append(cal)
        self._unique = unique
        self._cal_arrays = CalendarTable(unique).arrays()
        self._unit_cal = np.array([next(i for i, u in enumerate(unique) if u is c) for c in calendars],
                                  dtype=np.int64)
        self._review = next(i for i, u in enumerate(unique) if u is review_calendar)
        self._n_servers = np.asarray(servers, dtype=np.int64)
        # slots per unit: its servers, and spare ones staff moved in can take (redeployment)
        spare = np.asarray(spare_servers, dtype=np.int64) if spare_servers is not None else 0
        self._slots = self._n_servers + spare
        self._free_first = np.concatenate(([0], np.cumsum(self._slots)[:-1])).astype(np.int64)
        self._free = np.zeros(int(self._slots.sum()), dtype=np.float64)
        # working room for the kernel, which allocates nothing (compiled without reference counting)
        self._scratch = np.zeros(int(self._slots.max(initial=0)) + 1)
        self.moves: list[tuple[float, int, int]] = []  # (time, from unit, to unit) of each server moved
        # per unit: its last servers kept for priority visits (a department's officers on call)
        self._reserved = (np.asarray(reserved_servers, dtype=np.int64) if reserved_servers is not None
                          else np.zeros(len(self._n_servers), dtype=np.int64))
        self._factor = np.asarray(service_factor if service_factor is not None else np.ones(len(servers)))
        # state[5:8]: visits held so far, held-visit nodes used, first free node (``pend_insert``)
        self._state = np.array([0, 0, 0, 0, 0, 0, 0, -1], dtype=np.int64)
        empty_f, empty_i = np.zeros(0), np.zeros(0, dtype=np.int64)
        self._arr_t, self._arr_s, self._arr_l = empty_f.copy(), empty_i.copy(), empty_i.copy()
        self._heap_t, self._heap_s, self._heap_l = empty_f.copy(), empty_i.copy(), empty_i.copy()
        self._res_t, self._res_s, self._res_l = empty_f.copy(), empty_i.copy(), empty_i.copy()
        self._unit, self._req, self._service = empty_i.copy(), empty_i.copy(), empty_f.copy()
        self._lead, self._handoff = empty_f.copy(), empty_f.copy()
        self._prio = np.zeros(0, dtype=np.bool_)
        self._arrive, self._start, self._end = empty_f.copy(), empty_f.copy(), empty_f.copy()
        self._start_w, self._end_w = empty_f.copy(), empty_f.copy()
        self._last_leg, self._ready = empty_i.copy(), empty_f.copy()
        self._n_legs = 0
        self._n_req = 0
        self._resolved_counted = 0
        self.now = 0.0
        self._setup_workday(calendars, overtime_minutes, duty_units, desk_units)

    def _setup_workday(self, calendars: list[WeeklyCalendar], overtime: list[float] | None,
                       duty_units: list[bool] | None, desk_units: list[bool] | None) -> None:
        """Arrays of the working day (as ``QueueEngine._setup_workday``): groups of calendars in the
        order their first unit appears, units' clocks, pending lists, duties and their log."""
        n = len(calendars)
        self._ot_cap = np.asarray(overtime if overtime is not None else np.zeros(n), dtype=np.float64)
        self._is_desk = np.asarray(desk_units if desk_units is not None else np.zeros(n, dtype=bool),
                                   dtype=np.bool_)
        duty = np.asarray(duty_units if duty_units is not None else np.zeros(n, dtype=bool), dtype=np.bool_)
        duty = duty | self._is_desk
        self._desk_b = np.zeros(n)
        self._seen = np.zeros(len(self._free))
        self._desk_min = np.zeros((0, n))
        groups: list[int] = []
        for u in range(n):
            if (self._ot_cap[u] > 0 or duty[u]) and self._unit_cal[u] not in groups:
                groups.append(int(self._unit_cal[u]))
        group_of = {c: g for g, c in enumerate(groups)}
        members = [[u for u in range(n) if duty[u] and group_of.get(int(self._unit_cal[u])) == g]
                   for g in range(len(groups))]
        clocks = [[u for u in range(n) if self._ot_cap[u] > 0 and group_of.get(int(self._unit_cal[u])) == g]
                  for g in range(len(groups))]
        self._wd = np.array([len(groups), 0, int(self._slots[duty].sum()) + 1 if n else 1, 0,
                             int(self._handoff_in_work)], dtype=np.int64)
        self._grp_cal = np.array(groups, dtype=np.int64)
        self._grp_day = np.array([first_open_day(self._unique[c], 0) for c in groups], dtype=np.int64)
        self._grp_closing = np.zeros(len(groups), dtype=np.bool_)
        self._grp_wants_close = np.array([bool(c) for c in clocks], dtype=np.bool_)
        self._duty_ptr = np.concatenate(([0], np.cumsum([len(m) for m in members]))).astype(np.int64)
        self._duty_units = np.array([u for m in members for u in m], dtype=np.int64)
        self._clock_ptr = np.concatenate(([0], np.cumsum([len(m) for m in clocks]))).astype(np.int64)
        self._clock_units = np.array([u for m in clocks for u in m], dtype=np.int64)
        self._duty_servers = int(self._slots[duty].sum()) if n else 0
        self._clk_n = np.zeros(n, dtype=np.int64)
        self._clk_day = np.zeros((n, 0), dtype=np.int64)
        self._clk_start = np.zeros((n, 0))
        self._clk_len = np.zeros((n, 0))
        self._clk_first = [(u, first_open_day(calendars[u], 0), calendars[u].day_minutes)
                           for u in range(n) if self._ot_cap[u] > 0]
        self._grow_clocks(8)
        for u, day, minutes in self._clk_first:
            self._clk_n[u] = 1
            self._clk_day[u, 0] = day
            self._clk_len[u, 0] = minutes
        self._pend_head = np.full(n, -1, dtype=np.int64)
        self._pend_tail = np.full(n, -1, dtype=np.int64)
        # visits held for an overtime clock, as nodes of per-unit lists in a pool that grows when
        # the kernel runs out (a column per leg, touched here and there all year, was resident)
        pool = 1024 if self._clk_first else 1
        for name in self._POOL_COLUMNS:
            setattr(self, name, np.zeros(pool, dtype=np.int64))
        self._duty_min = np.zeros((0, n))
        self._dlog_unit = np.zeros(0, dtype=np.int64)
        self._dlog_begin = np.zeros(0)
        self._dlog_min = np.zeros(0)

    def _grow_clocks(self, columns: int) -> None:
        if columns <= self._clk_day.shape[1]:
            return
        columns = max(columns, 2 * self._clk_day.shape[1])
        for name in ("_clk_day", "_clk_start", "_clk_len"):
            old = getattr(self, name)
            new = np.zeros((old.shape[0], columns), dtype=old.dtype)
            new[:, : old.shape[1]] = old
            setattr(self, name, new)

    def add_duties(self, first_day: int, minutes: np.ndarray, desk: np.ndarray | None = None) -> None:
        """Duties (server minutes) per day from ``first_day`` (rows) and unit (columns): away
        duties, and desk work (``desk``, only at ``desk_units``)."""
        self._duty_min = _put_rows(self._duty_min, first_day, np.asarray(minutes, dtype=np.float64))
        if desk is not None:
            self._desk_min = _put_rows(self._desk_min, first_day, np.asarray(desk, dtype=np.float64))

    @property
    def n_requests(self) -> int:
        return self._n_req

    @property
    def n_legs(self) -> int:
        return self._n_legs

    # columns per leg and per request, grown together (doubling) when a batch does not fit
    _LEG_COLUMNS = ("_prio", "_unit", "_req", "_service", "_lead", "_handoff", "_arrive", "_start", "_end",
                    "_start_w", "_end_w")
    _POOL_COLUMNS = ("_pend_next", "_pend_prev", "_pend_order", "_pend_leg", "_pend_buf")
    _REQUEST_COLUMNS = ("_last_leg", "_ready", "_res_t", "_res_s", "_res_l", "_heap_t", "_heap_s", "_heap_l")

    def _reserve(self, columns: tuple[str, ...], used: int, needed: int, exact: bool = False) -> None:
        """Room for ``needed`` rows in each of ``columns``, keeping their first ``used`` rows.
        New rows are left unset: ``add`` writes every row it hands the kernel (one check and
        no fill per column, where growing each column by itself cost a tenth of a run).
        ``exact``: exactly ``needed`` rows (``expect``), not the next doubling."""
        if needed <= len(getattr(self, columns[0])):
            return
        size = needed if exact else max(needed, 2 * len(getattr(self, columns[0])), 1024)
        for name in columns:
            old = getattr(self, name)
            grown = np.empty(size, dtype=old.dtype)
            grown[:used] = old[:used]
            setattr(self, name, grown)

    def expect(self, requests: int, legs: int) -> None:
        """Room for this many requests and legs in all, set aside now (a hint: a run that knows
        its length). New rows are never written before ``add`` fills them, so untouched room
        costs address space, not memory, while growing by doubling copies each column about
        once more and touches fresh pages each time (a tenth of a small run)."""
        self._reserve(self._LEG_COLUMNS, self._n_legs, int(legs), exact=True)
        self._reserve(self._REQUEST_COLUMNS, self._n_req, int(requests), exact=True)

    def add(self, created: np.ndarray, legs: Legs) -> None:
        n_req, leg0, req0 = len(created), self._n_legs, self._n_req
        if n_req == 0:
            return
        n_legs = leg0 + len(legs)
        n_total = req0 + n_req
        self._reserve(self._LEG_COLUMNS, leg0, n_legs)
        # the heap holds at most one later visit per request in progress, and its size is in
        # state[0] (resolutions: state[2]); their rows past the size are never read
        self._reserve(self._REQUEST_COLUMNS, req0, n_total)
        times, first = np.empty(n_req), np.empty(n_req, dtype=np.int64)
        code = write_batch(
            np.asarray(created, dtype=np.float64), np.asarray(legs.request, dtype=np.int64),
            np.asarray(legs.unit, dtype=np.int64), np.asarray(legs.service, dtype=np.float64),
            np.asarray(legs.lead_days, dtype=np.float64), np.asarray(legs.handoff, dtype=np.float64),
            np.asarray(legs.priority, dtype=np.bool_), self._factor, len(self._n_servers), req0, leg0,
            self._prio, self._unit, self._req, self._service, self._lead, self._handoff, self._arrive,
            self._start, self._end, self._start_w, self._end_w, self._last_leg, self._ready, times, first)
        if code < 0:  # nothing was written
            raise ValueError("compiled core: " + BAD_INPUT[code].format(last=len(self._n_servers) - 1))
        self._n_legs, self._n_req = n_legs, n_total
        self._add_arrivals(times, first, ordered=code == 0)

    def _add_arrivals(self, times: np.ndarray, legs: np.ndarray, ordered: bool) -> None:
        """Merge a batch's first visits into the sorted queue of those not yet served (as a
        stable sort of the two by time: at equal times the waiting ones first, then the batch's
        in their order)."""
        seq0, pos, n_arr = (int(v) for v in self._state[[1, 3, 4]])
        seqs = np.arange(seq0, seq0 + len(times), dtype=np.int64)
        if not ordered:  # (``write_batch`` found a time below the one before it)
            order = np.argsort(times, kind="stable")
            times, seqs, legs = times[order], seqs[order], legs[order]
        size = n_arr - pos + len(times)
        out_t, out_s, out_l = np.empty(size), np.empty(size, dtype=np.int64), np.empty(size, dtype=np.int64)
        merge_arrivals(self._arr_t, self._arr_s, self._arr_l, pos, n_arr, times, seqs, legs,
                       out_t, out_s, out_l)
        self._arr_t, self._arr_s, self._arr_l = out_t, out_s, out_l
        self._state[1] = seq0 + len(times)
        self._state[3], self._state[4] = 0, size

    def run_until(self, t_end: float) -> None:
        if self._wd[0]:  # room for every opening and closing up to t_end
            days_ahead = int(max(t_end - self.now, 0.0) // DAY) + 2
            self._grow_clocks(int(t_end // DAY) + 3)
            needed = int(self._wd[1]) + days_ahead * self._duty_servers
            for name in ("_dlog_unit", "_dlog_begin", "_dlog_min"):
                setattr(self, name, _grow(getattr(self, name), needed))
        while True:
            _run_until(float(t_end), self._state, self._heap_t, self._heap_s, self._heap_l, self._arr_t,
                       self._arr_s, self._arr_l, self._unit, self._service, self._lead, self._handoff,
                       self._req, self._last_leg, self._arrive, self._start, self._end, self._start_w,
                       self._end_w, self._ready, self._res_t, self._res_s, self._res_l, self._free,
                       self._free_first, self._n_servers, self._unit_cal, self._review, self._wd,
                       self._ot_cap, self._clk_n, self._clk_day, self._clk_start, self._clk_len,
                       self._pend_head, self._pend_tail, self._pend_next, self._pend_prev, self._pend_order,
                       self._pend_leg, self._pend_buf, self._grp_cal, self._grp_day, self._grp_closing,
                       self._grp_wants_close, self._duty_ptr, self._duty_units, self._clock_ptr,
                       self._clock_units, self._duty_min, self._dlog_unit, self._dlog_begin, self._dlog_min,
                       self._is_desk, self._desk_b, self._seen, self._desk_min, self._prio, self._reserved,
                       self._scratch, *self._cal_arrays)
            if not self._wd[3]:
                break
            self._wd[3] = 0  # the duty log or the pool filled up: grow it, go on where the kernel stopped
            if int(self._wd[1]) + int(self._wd[2]) > len(self._dlog_unit):
                needed = 2 * len(self._dlog_unit) + int(self._wd[2])
                for name in ("_dlog_unit", "_dlog_begin", "_dlog_min"):
                    setattr(self, name, _grow(getattr(self, name), needed))
            if self._state[7] < 0 and self._state[6] >= len(self._pend_leg):
                for name in self._POOL_COLUMNS:
                    setattr(self, name, _grow(getattr(self, name), 2 * len(self._pend_leg)))
        self.now = max(self.now, t_end)

    def workday_log(self) -> WorkdayLog:
        n = int(self._wd[1])
        clocks = {}
        for u, _, contract in self._clk_first:
            k = int(self._clk_n[u])
            length = self._clk_len[u, :k].copy()
            clocks[u] = (self._clk_day[u, :k].copy(), self._clk_start[u, :k].copy(), length,
                         np.append(length[:-1] - contract, 0.0))
        return WorkdayLog(self._dlog_unit[:n].copy(), self._dlog_begin[:n].copy(), self._dlog_min[:n].copy(),
                          clocks, self._desk_b.copy())

    def duty_log(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(unit, begin in working minutes, minutes) of every duty share served: views of the
        engine's columns, valid until it runs again (``workday_log`` copies, with the clocks)."""
        n = int(self._wd[1])
        return self._dlog_unit[:n], self._dlog_begin[:n], self._dlog_min[:n]

    def unit_to_work(self, t: float) -> np.ndarray:
        """Working minutes before calendar minute ``t``, per unit (overtime clocks included)."""
        out = np.array([c.to_work(t) for c in self._unique], dtype=float)[self._unit_cal]  # per calendar
        for u, _, _ in self._clk_first:
            out[u] = clock_to_work(u, float(t), self._unique[self._unit_cal[u]].open, self._clk_n,
                                   self._clk_day, self._clk_start, self._clk_len)
        return out

    def servers(self) -> np.ndarray:
        """Servers on duty per unit now (their staff, after any moves)."""
        return self._n_servers.copy()

    def committed_minutes(self, t: float) -> np.ndarray:
        """Per unit, working minutes of visits its servers have taken on beyond ``t`` (FCFS: each
        visit is given to a server on arrival, so this is the unit's queue in minutes)."""
        w = self.unit_to_work(t)
        out = np.zeros(len(self._n_servers))
        for u in np.flatnonzero(self._n_servers):
            slots = self._free[self._free_first[u]: self._free_first[u] + self._n_servers[u]]
            out[u] = np.maximum(slots - w[u], 0.0).sum()
        return out

    def move_server(self, t: float, source: int, target: int) -> None:
        """Move one server from ``source`` to ``target`` at calendar minute ``t``: the least loaded
        one, who first finishes the work already taken on (carried over to the new unit)."""
        if (self._n_servers[source] <= 1 + self._reserved[source]
                or self._n_servers[target] >= self._slots[target]):
            raise ValueError(f"cannot move a server from unit {source} to unit {target}")
        w = self.unit_to_work(t)
        first, n, r = int(self._free_first[source]), int(self._n_servers[source]), int(self._reserved[source])
        i = first + int(np.argmin(self._free[first: first + n - r]))  # servers on call stay
        carried = max(self._free[i] - w[source], 0.0)
        last = first + n - r - 1
        for column in (self._free, self._seen):
            column[[i, last]] = column[[last, i]]
            column[last: first + n - 1] = column[last + 1: first + n].copy()  # the on-call block moves down
        self._n_servers[source] -= 1
        first, n, r = int(self._free_first[target]), int(self._n_servers[target]), int(self._reserved[target])
        j = first + n - r
        for column, value in ((self._free, w[target] + carried), (self._seen, w[target])):
            column[j + 1: first + n + 1] = column[j: first + n].copy()  # and up, to make room
            column[j] = value
        self._n_servers[target] += 1
        self.moves.append((float(t), int(source), int(target)))

    def resolved_by(self, t: float) -> int:
        popped = _count_resolved(float(t), self._res_t, self._res_s, self._res_l, self._state)
        self._resolved_counted += popped
        return self._resolved_counted

    def ready_times(self, requests: np.ndarray) -> np.ndarray:
        """When each given request is resolved (NaN while its last leg is unfinished; a time after
        ``now`` while its last waiting period runs)."""
        return self._ready[np.asarray(requests, dtype=np.int64)]

    def log(self, copy: bool = True) -> EngineLog:
        """The served legs' times. ``copy=False``: views of the engine's columns, valid until it
        runs or grows again (for a caller that reads them at once: copying a year's five
        million-entry columns cost a tenth of a small run)."""
        n, r = self._n_legs, self._n_req
        columns = (self._arrive[:n], self._start[:n], self._end[:n], self._start_w[:n], self._end_w[:n],
                   self._ready[:r])
        return EngineLog(*(c.copy() for c in columns) if copy else columns)

    def leg_request(self) -> np.ndarray:
        return self._req[: self._n_legs].copy()

    def leg_unit(self) -> np.ndarray:
        return self._unit[: self._n_legs].copy()

    def leg_service(self) -> np.ndarray:
        return self._service[: self._n_legs].copy()


def warm_up() -> None:
    """Load (or, the first time on a machine, compile) the kernels with a two-visit example."""
    always = WeeklyCalendar(0, 24, list(range(7)))
    engine = CompiledEngine([1], [always], always)
    one = np.zeros(2, dtype=np.int64)
    engine.add(np.zeros(1), Legs(np.zeros(2, dtype=np.int64), one, np.ones(2), np.array([0.0, 1.0]),
                                 np.zeros(2), np.zeros(2, dtype=bool), np.zeros(2, dtype=bool)))
    engine.run_until(10.0)
    engine.resolved_by(10.0)
