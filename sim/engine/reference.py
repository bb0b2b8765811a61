"""The queueing core: times every leg through multi-server FCFS units with working calendars.

Each unit is ``staff`` parallel servers serving in arrival order. Because service order is
first-come-first-served, a leg's start is fixed the moment it arrives: the earliest moment a
server is free, on the unit's working clock (see ``sim.engine.calendars``). So one event per leg
suffices: the arrival. Events are processed in time order from one heap, which keeps arrivals
at each unit in order; ties break by insertion order, so a seed gives one result.

State lives in Python lists, not NumPy arrays: the loop touches single elements, where lists
are several times faster. Results are handed out as arrays.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass

import numpy as np

from sim.engine.calendars import WeeklyCalendar
from sim.engine.legs import Legs
from sim.engine.workday import DaySchedule, UnitClock


@dataclass
class EngineLog:
    """Per-leg and per-request timings (calendar minutes; NaN = not reached yet)."""

    leg_arrive: np.ndarray
    leg_start: np.ndarray
    leg_end: np.ndarray
    leg_start_work: np.ndarray
    leg_end_work: np.ndarray
    ready: np.ndarray  # per request: when its last leg's review period ended (= resolved)


@dataclass
class WorkdayLog:
    """What the working day added: duties queued at openings and overtime decided at closings.

    Per piece of duty work (one server's share of a day's away duties, or desk work done in one
    idle stretch): unit, working minute it began and server minutes. Per unit that may work
    overtime: its clock (open days, the working minute each starts, its length) and the overtime
    decided on each of those days. Per unit: desk work still waiting (server minutes)."""

    duty_unit: np.ndarray
    duty_begin: np.ndarray
    duty_minutes: np.ndarray
    clocks: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]
    desk_left: np.ndarray


def leg_layout(n_requests: int, legs: Legs, leg0: int) -> tuple[np.ndarray, np.ndarray]:
    """Legs per request and each request's first leg index (engine-wide, from ``leg0``)."""
    counts = np.bincount(legs.request, minlength=n_requests)
    if np.any(counts == 0):
        raise ValueError("every request needs at least one leg")
    return counts, np.concatenate(([0], np.cumsum(counts)[:-1])) + leg0


class QueueEngine:
    """Incremental event engine: add requests with their legs, advance to a time, read the log.

    Args:
        servers: parallel servers per unit instance.
        calendars: working calendar per unit instance.
        review_calendar: calendar that counts review periods (``lead_days``) in working days.
        service_factor: per unit, multiplies staff minutes into server minutes (see
            ``Structure.unit_service_factor``); default 1.
        overtime_minutes: per unit, the most minutes a day its staff stay past closing when work
            is queued (``sim.engine.workday``); default 0 (no overtime).
        duty_units: per unit, whether it receives duties (``add_duties``); default none.
        desk_units: per unit, whether any of its duties is desk work (done in idle time).
        handoff_working_time: hand-off delays (``Legs.handoff`` after a first leg) count working
            minutes of ``review_calendar``, not clock minutes (``_handed_on``).
    """

    def __init__(self, servers: list[int], calendars: list[WeeklyCalendar],
                 review_calendar: WeeklyCalendar, service_factor: list[float] | None = None,
                 overtime_minutes: list[float] | None = None, duty_units: list[bool] | None = None,
                 desk_units: list[bool] | None = None, spare_servers: list[int] | None = None,
                 reserved_servers: list[int] | None = None, handoff_working_time: bool = False) -> None:
        # per unit: server-free working times, a heap (a plain list scanned in index order at
        # units with desk work, where each server's idle time matters, as in the compiled core)
        self._free = [[0.0] * int(c) for c in servers]
        self._slots = [int(c) + (int(spare_servers[u]) if spare_servers is not None else 0)
                       for u, c in enumerate(servers)]
        self.moves: list[tuple[float, int, int]] = []  # (time, from unit, to unit) of each server moved
        # per unit: its last servers kept for priority visits; such a unit keeps its servers as a
        # list in index order (as the compiled core), not a heap
        self._reserved = ([int(r) for r in reserved_servers] if reserved_servers is not None
                          else [0] * len(servers))
        self._prio: list[bool] = []
        self._factor = np.asarray(service_factor if service_factor is not None else [1.0] * len(servers))
        self._calendars = calendars
        self._review = review_calendar
        self._handoff_in_work = handoff_working_time
        self._heap: list[tuple[float, int, int]] = []
        self._seq = 0
        # per leg
        self._unit: list[int] = []
        self._service: list[float] = []
        self._lead: list[float] = []
        self._handoff: list[float] = []
        self._req: list[int] = []
        self._arrive: list[float] = []
        self._start: list[float] = []
        self._end: list[float] = []
        self._start_w: list[float] = []
        self._end_w: list[float] = []
        # per request
        self._last_leg: list[int] = []
        self._ready: list[float] = []
        self._resolutions: list[float] = []  # heap of resolution times not yet counted
        self._resolved_counted = 0
        self.now = 0.0
        self._setup_workday(calendars, overtime_minutes, duty_units, desk_units)

    def _setup_workday(self, calendars: list[WeeklyCalendar], overtime: list[float] | None,
                       duty_units: list[bool] | None, desk_units: list[bool] | None) -> None:
        n = len(calendars)
        overtime = list(overtime) if overtime is not None else [0.0] * n
        self._is_desk = [bool(d) for d in desk_units] if desk_units is not None else [False] * n
        duty = [bool(d) or k for d, k in zip(duty_units if duty_units is not None else [False] * n,
                                               self._is_desk, strict=True)]
        self._desk = [0.0] * n  # desk work waiting, server minutes
        self._seen = [[0.0] * len(f) for f in self._free]  # per server: idle offered to desk work up to
        self._clock: list[UnitClock | None] = [UnitClock(c, m) if m > 0 else None
                                               for c, m in zip(calendars, overtime, strict=True)]
        groups: list[WeeklyCalendar] = []
        for u, cal in enumerate(calendars):
            if (overtime[u] > 0 or duty[u]) and not any(cal is g for g in groups):
                groups.append(cal)
        group_of = [next((i for i, g in enumerate(groups) if g is c), -1) for c in calendars]
        self._group_duty = [[u for u in range(n) if duty[u] and group_of[u] == g] for g in range(len(groups))]
        self._group_clock = [[u for u in range(n) if overtime[u] > 0 and group_of[u] == g]
                             for g in range(len(groups))]
        self._schedule = DaySchedule(groups, [bool(c) for c in self._group_clock]) if groups else None
        self._duty_days: dict[int, np.ndarray] = {}
        self._desk_days: dict[int, np.ndarray] = {}
        self._pending: list[list[int]] = [[] for _ in range(n)]
        self._duty_log: tuple[list[int], list[float], list[float]] = ([], [], [])

    def add_duties(self, first_day: int, minutes: np.ndarray, desk: np.ndarray | None = None) -> None:
        """Duties (server minutes) per day from ``first_day`` (rows) and unit (columns): away
        duties, and desk work (``desk``, only at ``desk_units``)."""
        for i, row in enumerate(np.asarray(minutes, dtype=np.float64)):
            self._duty_days[first_day + i] = row
        if desk is not None:
            for i, row in enumerate(np.asarray(desk, dtype=np.float64)):
                self._desk_days[first_day + i] = row

    @property
    def n_requests(self) -> int:
        return len(self._ready)

    @property
    def n_legs(self) -> int:
        return len(self._unit)

    def add(self, created: np.ndarray, legs: Legs) -> None:
        """Add a batch of requests (creation times) with their planned legs, batch-local indices."""
        n_req, leg0, req0 = len(created), self.n_legs, self.n_requests
        if n_req == 0:
            return
        counts, first = leg_layout(n_req, legs, leg0)
        self._unit += legs.unit.tolist()
        self._prio += legs.priority.tolist()
        self._service += (legs.service * self._factor[legs.unit]).tolist()
        self._lead += legs.lead_days.tolist()
        self._handoff += legs.handoff.tolist()
        self._req += (legs.request + req0).tolist()
        nan = [math.nan] * len(legs)
        for column in (self._arrive, self._start, self._end, self._start_w, self._end_w):
            column += nan
        self._last_leg += (first + counts - 1).tolist()
        self._ready += [math.nan] * n_req
        arrivals = created + legs.handoff[first - leg0]
        for leg, t in zip(first.tolist(), arrivals.tolist(), strict=True):
            heapq.heappush(self._heap, (t, self._seq, leg))
            self._seq += 1

    def run_until(self, t_end: float) -> None:
        """Process every arrival (and, with a working day, every opening and closing) at or before
        ``t_end``."""
        if self._schedule is not None or any(self._reserved):
            self._run_with_workday(t_end)
            return
        heap, heappop, heappush, heapreplace = self._heap, heapq.heappop, heapq.heappush, heapq.heapreplace
        unit_of, service, lead, handoff = self._unit, self._service, self._lead, self._handoff
        free, calendars, review = self._free, self._calendars, self._review
        arrive, start, end, start_w, end_w = (self._arrive, self._start, self._end,
                                              self._start_w, self._end_w)
        req_of, last_leg, ready = self._req, self._last_leg, self._ready
        resolutions = self._resolutions
        seq = self._seq
        while heap and heap[0][0] <= t_end:
            t, _, leg = heappop(heap)
            unit = unit_of[leg]
            cal = calendars[unit]
            servers = free[unit]
            w = cal.to_work(t)
            s = servers[0]
            begin = w if w > s else s
            finish = begin + service[leg]
            heapreplace(servers, finish)
            arrive[leg] = t
            start_w[leg] = begin
            end_w[leg] = finish
            start[leg] = cal.start_time(begin)
            # max: a visit begun a hair before closing starts next opening and cannot end before
            done = max(cal.end_time(finish), start[leg]) if finish > begin else start[leg]
            end[leg] = done
            days = lead[leg]
            if days > 0:
                done = review.end_time(review.to_work(done) + days * review.day_minutes)
            req = req_of[leg]
            if leg == last_leg[req]:
                ready[req] = done
                heappush(resolutions, done)
            else:
                heappush(heap, (self._handed_on(done, handoff[leg + 1]), seq, leg + 1))
                seq += 1
        self._seq = seq
        self.now = max(self.now, t_end)

    def _run_with_workday(self, t_end: float) -> None:
        """The same loop with day events: at equal times closings, then openings, then arrivals."""
        heap = self._heap
        schedule = self._schedule
        while True:
            t_day, group = schedule.next() if schedule is not None else (math.inf, -1)
            t_req = heap[0][0] if heap else math.inf
            if t_day <= t_req and t_day <= t_end:
                self._day_event(group, t_day)
                continue
            if t_req > t_end:
                break
            t, _, leg = heapq.heappop(heap)
            self._serve(leg, t)
        self.now = max(self.now, t_end)

    def _day_event(self, group: int, t: float) -> None:
        schedule = self._schedule
        assert schedule is not None
        day = schedule.day[group]
        if schedule.closing[group]:
            for unit in self._group_clock[group]:
                clock = self._clock[unit]
                assert clock is not None
                if self._is_desk[unit]:
                    self._offer_idle(unit, clock.horizon)
                clock.close(self._free[unit], self._desk[unit])
                self._release(unit, clock.horizon)
        else:
            minutes = self._duty_days.get(day)
            desk = self._desk_days.get(day)
            for unit in self._group_duty[group]:
                if self._is_desk[unit]:
                    clock = self._clock[unit]
                    self._offer_idle(unit, clock.to_work(t) if clock is not None
                                     else self._calendars[unit].to_work(t))
                    if desk is not None:
                        self._desk[unit] += desk[unit]
                if minutes is not None and minutes[unit] > 0:
                    self._queue_duty(unit, t, minutes[unit])
        schedule.advance(group)

    def _offer_idle(self, unit: int, until: float) -> None:
        """Every server's idle time up to working minute ``until`` goes to the desk backlog."""
        for i in range(len(self._free[unit])):
            self._fill(unit, i, until)

    def _fill(self, unit: int, i: int, until: float) -> None:
        """Server ``i``'s idle time before ``until`` not offered yet does desk work, as much as
        is waiting (logged where it was done)."""
        seen = self._seen[unit]
        waiting = self._desk[unit]
        if waiting > 0:
            free = self._free[unit][i]
            begin = seen[i] if seen[i] > free else free
            gap = until - begin
            if gap > 0:
                done = gap if gap < waiting else waiting
                self._desk[unit] = waiting - done
                log_unit, log_begin, log_minutes = self._duty_log
                log_unit.append(unit)
                log_begin.append(begin)
                log_minutes.append(done)
        if until > seen[i]:
            seen[i] = until

    def _queue_duty(self, unit: int, t: float, minutes: float) -> None:
        """Share a day's duties among the unit's servers, each behind the work it already has."""
        clock = self._clock[unit]
        opening = clock.to_work(t) if clock is not None else self._calendars[unit].to_work(t)
        servers = self._free[unit]
        share = minutes / len(servers)
        log_unit, log_begin, log_minutes = self._duty_log
        for i, f in enumerate(servers):  # max(f, opening) + share keeps the heap order
            begin = f if f > opening else opening
            servers[i] = begin + share
            log_unit.append(unit)
            log_begin.append(begin)
            log_minutes.append(share)

    def _serve(self, leg: int, t: float) -> None:
        unit = self._unit[leg]
        clock = self._clock[unit]
        servers = self._free[unit]
        w = clock.to_work(t) if clock is not None else self._calendars[unit].to_work(t)
        if self._is_desk[unit] or self._reserved[unit]:  # the first server free, by index (desk work
            # fills its idle time until now; servers on call take priority visits only)
            m = len(servers) if self._prio[leg] else len(servers) - self._reserved[unit]
            best = min(range(m), key=servers.__getitem__)
            if self._is_desk[unit]:
                self._fill(unit, best, w)
            s = servers[best]
            begin = w if w > s else s
            finish = begin + self._service[leg]
            servers[best] = finish
        else:
            s = servers[0]
            begin = w if w > s else s
            finish = begin + self._service[leg]
            heapq.heapreplace(servers, finish)
        self._arrive[leg] = t
        self._start_w[leg] = begin
        self._end_w[leg] = finish
        if clock is not None and finish >= clock.horizon:
            self._pending[unit].append(leg)  # its calendar times wait for today's closing decision
            return
        self._complete(leg)

    def _release(self, unit: int, horizon: float) -> None:
        """Complete the pending visits that now end inside a decided day, in arrival order."""
        waiting = self._pending[unit]
        if not waiting:
            return
        keep = []
        for leg in waiting:
            if self._end_w[leg] < horizon:
                self._complete(leg)
            else:
                keep.append(leg)
        self._pending[unit] = keep

    def _complete(self, leg: int) -> None:
        """Calendar times of a served visit, its review period, then the next visit or resolution."""
        unit = self._unit[leg]
        clock = self._clock[unit]
        cal = clock if clock is not None else self._calendars[unit]
        begin, finish = self._start_w[leg], self._end_w[leg]
        self._start[leg] = cal.start_time(begin)
        # max: a visit begun a hair before closing starts next opening and cannot end before
        done = max(cal.end_time(finish), self._start[leg]) if finish > begin else self._start[leg]
        self._end[leg] = done
        days = self._lead[leg]
        review = self._review
        if days > 0:
            done = review.end_time(review.to_work(done) + days * review.day_minutes)
        req = self._req[leg]
        if leg == self._last_leg[req]:
            self._ready[req] = done
            heapq.heappush(self._resolutions, done)
        else:
            heapq.heappush(self._heap, (self._handed_on(done, self._handoff[leg + 1]), self._seq, leg + 1))
            self._seq += 1

    def _handed_on(self, done: float, minutes: float) -> float:
        """When the next unit receives a request handed on at ``done``: ``minutes`` later on the
        clock or, with ``handoff_working_time``, that many working minutes of the office calendar
        later (a forwarding of "two office days" does not elapse over a weekend or a night).
        Never before ``done``: handed on after hours with a hair of working time to go, the
        working clock would place it at the last closing, before it was sent."""
        if self._handoff_in_work and minutes > 0:
            return max(done, self._review.end_time(self._review.to_work(done) + minutes))
        return done + minutes

    def workday_log(self) -> WorkdayLog:
        clocks = {u: (np.asarray(c.days, dtype=np.int64), np.asarray(c.start), np.asarray(c.length),
                      np.append(np.asarray(c.length[:-1]) - c.contract, 0.0))
                  for u, c in enumerate(self._clock) if c is not None}
        unit, begin, minutes = self._duty_log
        return WorkdayLog(np.asarray(unit, dtype=np.int64), np.asarray(begin, dtype=np.float64),
                          np.asarray(minutes, dtype=np.float64), clocks,
                          np.asarray(self._desk, dtype=np.float64))

    def duty_log(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(unit, begin in working minutes, minutes) of every duty share served."""
        log = self.workday_log()
        return log.duty_unit, log.duty_begin, log.duty_minutes

    def unit_to_work(self, t: float) -> np.ndarray:
        """Working minutes before calendar minute ``t``, per unit (overtime clocks included)."""
        return np.array([c.to_work(t) if c is not None else cal.to_work(t)
                         for c, cal in zip(self._clock, self._calendars, strict=True)])

    def servers(self) -> np.ndarray:
        """Servers on duty per unit now (their staff, after any moves)."""
        return np.array([len(f) for f in self._free], dtype=np.int64)

    def committed_minutes(self, t: float) -> np.ndarray:
        """Per unit, working minutes of visits its servers have taken on beyond ``t``."""
        w = self.unit_to_work(t)
        return np.array([sum(max(f - w[u], 0.0) for f in servers) for u, servers in enumerate(self._free)])

    def move_server(self, t: float, source: int, target: int) -> None:
        """Move one server from ``source`` to ``target`` (as ``CompiledEngine.move_server``: the
        least loaded, first by index, swapped with the last; carried work goes along)."""
        servers, seen = self._free[source], self._seen[source]
        if len(servers) <= 1 + self._reserved[source] or len(self._free[target]) >= self._slots[target]:
            raise ValueError(f"cannot move a server from unit {source} to unit {target}")
        w = self.unit_to_work(t)
        normal = len(servers) - self._reserved[source]  # servers on call stay
        i = min(range(normal), key=servers.__getitem__)
        carried = max(servers[i] - w[source], 0.0)
        last = normal - 1
        servers[i], seen[i] = servers[last], seen[last]
        servers.pop(last)
        seen.pop(last)
        if not (self._is_desk[source] or self._reserved[source]):
            heapq.heapify(servers)
        into = self._free[target]
        at = len(into) - self._reserved[target]
        into.insert(at, w[target] + carried)
        self._seen[target].insert(at, w[target])
        if not (self._is_desk[target] or self._reserved[target]):
            heapq.heapify(into)
        self.moves.append((float(t), int(source), int(target)))

    def resolved_by(self, t: float) -> int:
        """Requests resolved at or before ``t`` (``t`` must not decrease between calls)."""
        while self._resolutions and self._resolutions[0] <= t:
            heapq.heappop(self._resolutions)
            self._resolved_counted += 1
        return self._resolved_counted

    def ready_times(self, requests: np.ndarray) -> np.ndarray:
        """When each given request is resolved (NaN while its last leg is unfinished; a time after
        ``now`` while its last waiting period runs)."""
        ready = self._ready
        return np.array([ready[i] for i in np.asarray(requests, dtype=np.int64)], dtype=float)

    def expect(self, requests: int, legs: int) -> None:
        """A size hint (``CompiledEngine.expect``); lists need none."""

    def log(self, copy: bool = True) -> EngineLog:  # (fresh arrays either way)
        as_array = np.asarray
        return EngineLog(as_array(self._arrive), as_array(self._start), as_array(self._end),
                         as_array(self._start_w), as_array(self._end_w), as_array(self._ready))

    def leg_request(self) -> np.ndarray:
        return np.asarray(self._req, dtype=np.int64)

    def leg_unit(self) -> np.ndarray:
        return np.asarray(self._unit, dtype=np.int64)

    def leg_service(self) -> np.ndarray:
        return np.asarray(self._service)
