"""The compiled queueing core: the same event loop as ``sim.engine.reference.QueueEngine``, in Numba.

Same rules, same order of events (one heap keyed by time, then insertion order), same float
arithmetic, so it agrees with the reference loop request by request (tested). State lives in
NumPy arrays that grow by doubling; the kernel is compiled once and cached on disk
(``cache=True``), so only a session's very first run pays for compilation.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from sim.engine.calendars import DAY, EPS_CLOSE, HOLIDAY_CYCLE_DAYS, WEEK, WeeklyCalendar
from sim.engine.legs import Legs
from sim.engine.reference import EngineLog, leg_layout


class CalendarTable:
    """Calendars as arrays, one row per calendar (what the kernel reads)."""

    def __init__(self, calendars: list[WeeklyCalendar]) -> None:
        n = len(calendars)
        self.always = np.array([c.always_open for c in calendars], dtype=np.bool_)
        self.open = np.array([c.open for c in calendars], dtype=np.float64)
        self.day_minutes = np.array([c.day_minutes for c in calendars], dtype=np.float64)
        self.week_minutes = np.array([c.week_minutes for c in calendars], dtype=np.float64)
        self.n_days = np.array([len(c.days) for c in calendars], dtype=np.int64)
        self.days = np.zeros((n, 7), dtype=np.int64)
        self.before = np.zeros((n, 8), dtype=np.float64)
        self.is_work = np.zeros((n, 7), dtype=np.bool_)
        width = max([len(c.ex_day) for c in calendars] + [1])
        self.has_ex = np.array([c.has_exceptions for c in calendars], dtype=np.bool_)
        self.ex_n = np.array([len(c.ex_day) for c in calendars], dtype=np.int64)
        self.ex_day = np.zeros((n, width), dtype=np.int64)
        self.ex_open = np.zeros((n, width), dtype=np.bool_)
        self.ex_before = np.zeros((n, width + 1), dtype=np.float64)
        for i, c in enumerate(calendars):
            self.days[i, : len(c.days)] = c.days
            self.before[i] = c._before
            self.is_work[i] = c._is_work
            k = len(c.ex_day)
            self.ex_day[i, :k] = c.ex_day
            self.ex_open[i, :k] = np.array(c.ex_sign) > 0
            self.ex_before[i, : k + 1] = c.ex_before

    def arrays(self) -> tuple[np.ndarray, ...]:
        return (self.always, self.open, self.day_minutes, self.week_minutes, self.n_days, self.days,
                self.before, self.is_work, self.has_ex, self.ex_n, self.ex_day, self.ex_open, self.ex_before)


@numba.njit(cache=True, inline="always")
def _to_work(c, t, always, open_, day_minutes, week_minutes, before, is_work, has_ex, ex_n, ex_day,
             ex_open, ex_before):
    if always[c]:
        return t
    week = math.floor(t / WEEK)
    rest = t - week * WEEK
    day = min(int(rest // DAY), 6)
    base = week * week_minutes[c] + before[c, day]
    into = min(max(rest - day * DAY - open_[c], 0.0), day_minutes[c])
    if has_ex[c]:
        return _holiday_work(c, t, base, into, is_work[c, day], ex_n, ex_day, ex_open, ex_before)
    if not is_work[c, day]:
        return base
    return base + into


@numba.njit(cache=True)
def _holiday_work(c, t, base, into, weekly_open, ex_n, ex_day, ex_open, ex_before):
    """The weekly clock plus the holiday exceptions (as ``WeeklyCalendar._adjusted``); not
    inlined, so calendars without holidays do not pay for it in compile time."""
    d = math.floor(t / DAY)
    cycle = math.floor(d / HOLIDAY_CYCLE_DAYS)
    r = d - cycle * HOLIDAY_CYCLE_DAYS
    n = ex_n[c]
    k = 0
    while k < n and ex_day[c, k] < r:
        k += 1
    w = base + cycle * ex_before[c, n] + ex_before[c, k]
    is_open = weekly_open
    if k < n and ex_day[c, k] == r:
        is_open = ex_open[c, k]
    return w + into if is_open else w


@numba.njit(cache=True)
def _first_day_reaching(c, w, always, open_, day_minutes, week_minutes, before, is_work, has_ex, ex_n,
                        ex_day, ex_open, ex_before):
    """Smallest day whose working minutes up to its closing reach ``w`` (as the Python method)."""
    per_cycle = 52 * week_minutes[c] + ex_before[c, ex_n[c]]
    lo = 0
    hi = (int(math.floor(max(w, 0.0) / per_cycle)) + 2) * HOLIDAY_CYCLE_DAYS  # noqa: RUF046
    while lo < hi:
        mid = (lo + hi) // 2
        if _to_work(c, mid * DAY + DAY, always, open_, day_minutes, week_minutes, before, is_work, has_ex,
                    ex_n, ex_day, ex_open, ex_before) >= w:
            hi = mid
        else:
            lo = mid + 1
    return lo


@numba.njit(cache=True)
def _holiday_time(c, w, reach, always, open_, day_minutes, week_minutes, before, is_work, has_ex, ex_n,
                  ex_day, ex_open, ex_before):
    day = _first_day_reaching(c, reach, always, open_, day_minutes, week_minutes, before, is_work, has_ex,
                              ex_n, ex_day, ex_open, ex_before)
    return day * DAY + open_[c] + (w - _to_work(c, day * DAY, always, open_, day_minutes, week_minutes,
                                                before, is_work, has_ex, ex_n, ex_day, ex_open, ex_before))


@numba.njit(cache=True, inline="always")
def _locate(c, w, index, open_, day_minutes, week_minutes, n_days, days):
    week = index // n_days[c]
    index = index - week * n_days[c]
    offset = w - (week * week_minutes[c] + index * day_minutes[c])
    return week * WEEK + days[c, index] * DAY + open_[c] + offset


@numba.njit(cache=True, inline="always")
def _start_time(c, w, always, open_, day_minutes, week_minutes, n_days, days, before, is_work, has_ex, ex_n,
                ex_day, ex_open, ex_before):
    if always[c]:
        return w
    if has_ex[c]:
        return _holiday_time(c, w, w + EPS_CLOSE, always, open_, day_minutes, week_minutes, before, is_work,
                             has_ex, ex_n, ex_day, ex_open, ex_before)
    index = math.floor(w / day_minutes[c])
    if (index + 1) * day_minutes[c] - w < EPS_CLOSE:
        index += 1
    return _locate(c, w, index, open_, day_minutes, week_minutes, n_days, days)


@numba.njit(cache=True, inline="always")
def _end_time(c, w, always, open_, day_minutes, week_minutes, n_days, days, before, is_work, has_ex, ex_n,
              ex_day, ex_open, ex_before):
    if always[c]:
        return w
    if has_ex[c]:
        return _holiday_time(c, w, w, always, open_, day_minutes, week_minutes, before, is_work, has_ex, ex_n,
                             ex_day, ex_open, ex_before)
    index = math.ceil(w / day_minutes[c]) - 1
    return _locate(c, w, index, open_, day_minutes, week_minutes, n_days, days)


@numba.njit(cache=True, inline="always")
def _less(t1, s1, t2, s2):
    return t1 < t2 or (t1 == t2 and s1 < s2)


@numba.njit(cache=True)
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


@numba.njit(cache=True)
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


@numba.njit(cache=True)
def _run_until(t_end, state, heap_t, heap_s, heap_l, arr_t, arr_s, arr_l, leg_unit, leg_service, leg_lead,
               leg_handoff, leg_req, last_leg, arrive, start, end, start_w, end_w, ready, res_t, res_s, res_l,
               free, free_first, n_servers, unit_cal, review, always, open_, day_minutes, week_minutes,
               n_days, days, before, is_work, has_ex, ex_n, ex_day, ex_open, ex_before):
    """state = [heap size, next seq, resolutions heap size, next arrival, arrivals].

    First visits wait in ``arr_*``, sorted by (time, seq); later visits in the heap. Taking the
    smaller (time, seq) of the two heads is the same order as one heap holding both, with a
    heap only as large as the requests in progress."""
    size = state[0]
    seq = state[1]
    res_size = state[2]
    pos = state[3]
    n_arr = state[4]
    while True:
        from_heap = size > 0 and (pos >= n_arr or _less(heap_t[0], heap_s[0], arr_t[pos], arr_s[pos]))
        if from_heap:
            t = heap_t[0]
            if t > t_end:
                break
            leg = heap_l[0]
            size = _pop(heap_t, heap_s, heap_l, size)
        else:
            if pos >= n_arr:
                break
            t = arr_t[pos]
            if t > t_end:
                break
            leg = arr_l[pos]
            pos += 1
        unit = leg_unit[leg]
        c = unit_cal[unit]
        w = _to_work(c, t, always, open_, day_minutes, week_minutes, before, is_work, has_ex, ex_n, ex_day,
                     ex_open, ex_before)
        first = free_first[unit]
        best = first
        for k in range(first + 1, first + n_servers[unit]):
            if free[k] < free[best]:
                best = k
        s = free[best]
        begin = w if w > s else s
        finish = begin + leg_service[leg]
        free[best] = finish
        arrive[leg] = t
        start_w[leg] = begin
        end_w[leg] = finish
        start[leg] = _start_time(c, begin, always, open_, day_minutes, week_minutes, n_days, days, before,
                                 is_work, has_ex, ex_n, ex_day, ex_open, ex_before)
        if finish > begin:
            done = _end_time(c, finish, always, open_, day_minutes, week_minutes, n_days, days, before,
                             is_work, has_ex, ex_n, ex_day, ex_open, ex_before)
        else:
            done = start[leg]
        end[leg] = done
        lead = leg_lead[leg]
        if lead > 0:
            w_done = _to_work(review, done, always, open_, day_minutes, week_minutes, before, is_work,
                              has_ex, ex_n, ex_day, ex_open, ex_before)
            done = _end_time(review, w_done + lead * day_minutes[review], always, open_, day_minutes,
                             week_minutes, n_days, days, before, is_work, has_ex, ex_n, ex_day, ex_open,
                             ex_before)
        req = leg_req[leg]
        if leg == last_leg[req]:
            ready[req] = done
            res_size = _push(res_t, res_s, res_l, res_size, done, 0, 0)
        else:
            size = _push(heap_t, heap_s, heap_l, size, done + leg_handoff[leg + 1], seq, leg + 1)
            seq += 1
    state[0] = size
    state[1] = seq
    state[2] = res_size
    state[3] = pos


@numba.njit(cache=True)
def _count_resolved(t, res_t, res_s, res_l, state):
    """Pop resolution times <= t; returns how many were popped (state[2] is the heap size)."""
    count = 0
    size = state[2]
    while size > 0 and res_t[0] <= t:
        size = _pop(res_t, res_s, res_l, size)
        count += 1
    state[2] = size
    return count


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
                 review_calendar: WeeklyCalendar, service_factor: list[float] | None = None) -> None:
        unique: list[WeeklyCalendar] = []
        for cal in [*calendars, review_calendar]:
            if not any(cal is u for u in unique):
                unique.append(cal)
        self._cal_arrays = CalendarTable(unique).arrays()
        self._unit_cal = np.array([next(i for i, u in enumerate(unique) if u is c) for c in calendars],
                                  dtype=np.int64)
        self._review = next(i for i, u in enumerate(unique) if u is review_calendar)
        self._n_servers = np.asarray(servers, dtype=np.int64)
        self._free_first = np.concatenate(([0], np.cumsum(self._n_servers)[:-1])).astype(np.int64)
        self._free = np.zeros(int(self._n_servers.sum()), dtype=np.float64)
        self._factor = np.asarray(service_factor if service_factor is not None else np.ones(len(servers)))
        self._state = np.zeros(5, dtype=np.int64)
        empty_f, empty_i = np.zeros(0), np.zeros(0, dtype=np.int64)
        self._arr_t, self._arr_s, self._arr_l = empty_f.copy(), empty_i.copy(), empty_i.copy()
        self._heap_t, self._heap_s, self._heap_l = empty_f.copy(), empty_i.copy(), empty_i.copy()
        self._res_t, self._res_s, self._res_l = empty_f.copy(), empty_i.copy(), empty_i.copy()
        self._unit, self._req, self._service = empty_i.copy(), empty_i.copy(), empty_f.copy()
        self._lead, self._handoff = empty_f.copy(), empty_f.copy()
        self._arrive, self._start, self._end = empty_f.copy(), empty_f.copy(), empty_f.copy()
        self._start_w, self._end_w = empty_f.copy(), empty_f.copy()
        self._last_leg, self._ready = empty_i.copy(), empty_f.copy()
        self._n_legs = 0
        self._n_req = 0
        self._resolved_counted = 0
        self.now = 0.0

    @property
    def n_requests(self) -> int:
        return self._n_req

    @property
    def n_legs(self) -> int:
        return self._n_legs

    def add(self, created: np.ndarray, legs: Legs) -> None:
        n_req, leg0, req0 = len(created), self._n_legs, self._n_req
        if n_req == 0:
            return
        _check_inputs(created, legs, len(self._n_servers))
        counts, first = leg_layout(n_req, legs, leg0)
        n_legs = leg0 + len(legs)
        for name, fill in (("_unit", None), ("_req", None), ("_service", None), ("_lead", None),
                           ("_handoff", None), ("_arrive", np.nan), ("_start", np.nan), ("_end", np.nan),
                           ("_start_w", np.nan), ("_end_w", np.nan)):
            setattr(self, name, _grow(getattr(self, name), n_legs, fill))
        span = slice(leg0, n_legs)
        self._unit[span] = legs.unit
        self._req[span] = legs.request + req0
        self._service[span] = legs.service * self._factor[legs.unit]
        self._lead[span] = legs.lead_days
        self._handoff[span] = legs.handoff
        n_total = req0 + n_req
        self._last_leg = _grow(self._last_leg, n_total)
        self._ready = _grow(self._ready, n_total, np.nan)
        self._res_t = _grow(self._res_t, n_total)
        self._res_s = _grow(self._res_s, n_total)
        self._res_l = _grow(self._res_l, n_total)
        self._last_leg[req0:n_total] = first + counts - 1
        self._n_legs, self._n_req = n_legs, n_total
        # the heap holds at most one later visit per request in progress
        self._heap_t = _grow(self._heap_t, n_total)
        self._heap_s = _grow(self._heap_s, n_total)
        self._heap_l = _grow(self._heap_l, n_total)
        self._add_arrivals(created + legs.handoff[first - leg0], first)

    def _add_arrivals(self, times: np.ndarray, legs: np.ndarray) -> None:
        """Merge a batch's first visits into the sorted queue of those not yet served."""
        seq0, pos, n_arr = (int(v) for v in self._state[[1, 3, 4]])
        times = np.asarray(times, dtype=np.float64)
        seqs = np.arange(seq0, seq0 + len(times), dtype=np.int64)
        keep = slice(pos, n_arr)
        all_t = np.concatenate((self._arr_t[keep], times))
        all_s = np.concatenate((self._arr_s[keep], seqs))
        all_l = np.concatenate((self._arr_l[keep], np.asarray(legs, dtype=np.int64)))
        if len(all_t) > 1 and np.any(np.diff(all_t) < 0):  # seqs ascend, so a stable sort by time suffices
            order = np.argsort(all_t, kind="stable")
            all_t, all_s, all_l = all_t[order], all_s[order], all_l[order]
        self._arr_t, self._arr_s, self._arr_l = all_t, all_s, all_l
        self._state[1] = seq0 + len(times)
        self._state[3], self._state[4] = 0, len(all_t)

    def run_until(self, t_end: float) -> None:
        _run_until(float(t_end), self._state, self._heap_t, self._heap_s, self._heap_l, self._arr_t,
                   self._arr_s, self._arr_l, self._unit,
                   self._service, self._lead, self._handoff, self._req, self._last_leg, self._arrive,
                   self._start, self._end, self._start_w, self._end_w, self._ready, self._res_t, self._res_s,
                   self._res_l, self._free, self._free_first, self._n_servers, self._unit_cal, self._review,
                   *self._cal_arrays)
        self.now = max(self.now, t_end)

    def resolved_by(self, t: float) -> int:
        popped = _count_resolved(float(t), self._res_t, self._res_s, self._res_l, self._state)
        self._resolved_counted += popped
        return self._resolved_counted

    def log(self) -> EngineLog:
        n, r = self._n_legs, self._n_req
        return EngineLog(self._arrive[:n].copy(), self._start[:n].copy(), self._end[:n].copy(),
                         self._start_w[:n].copy(), self._end_w[:n].copy(), self._ready[:r].copy())

    def leg_request(self) -> np.ndarray:
        return self._req[: self._n_legs].copy()

    def leg_unit(self) -> np.ndarray:
        return self._unit[: self._n_legs].copy()

    def leg_service(self) -> np.ndarray:
        return self._service[: self._n_legs].copy()


def _check_inputs(created: np.ndarray, legs: Legs, n_units: int) -> None:
    """Guard the compiled kernel: it indexes without bounds checks, so a bad unit index or a
    non-finite time would corrupt memory (a segmentation fault) instead of raising. Scenario
    validation keeps users' values finite and bounded; this catches a bug before the kernel."""
    times = (("created", created), ("service", legs.service), ("lead_days", legs.lead_days),
             ("handoff", legs.handoff))
    for name, values in times:
        if len(values) and not (np.isfinite(values).all() and values.min() >= 0):
            raise ValueError(f"compiled core: {name} must be finite and >= 0")
    if len(legs.unit) and (legs.unit.min() < 0 or legs.unit.max() >= n_units):
        raise ValueError(f"compiled core: unit index outside 0..{n_units - 1}")
    if len(legs.request) and (legs.request.min() < 0 or legs.request.max() >= len(created)):
        raise ValueError("compiled core: leg of an unknown request")


def warm_up() -> None:
    """Load (or, the first time on a machine, compile) the kernels with a two-visit example."""
    always = WeeklyCalendar(0, 24, list(range(7)))
    engine = CompiledEngine([1], [always], always)
    one = np.zeros(2, dtype=np.int64)
    engine.add(np.zeros(1), Legs(np.zeros(2, dtype=np.int64), one, np.ones(2), np.array([0.0, 1.0]),
                                 np.zeros(2), np.zeros(2, dtype=bool), np.zeros(2, dtype=bool)))
    engine.run_until(10.0)
    engine.resolved_by(10.0)
