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


@dataclass
class EngineLog:
    """Per-leg and per-request timings (calendar minutes; NaN = not reached yet)."""

    leg_arrive: np.ndarray
    leg_start: np.ndarray
    leg_end: np.ndarray
    leg_start_work: np.ndarray
    leg_end_work: np.ndarray
    ready: np.ndarray  # per request: when its last leg's review period ended (= resolved)


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
    """

    def __init__(self, servers: list[int], calendars: list[WeeklyCalendar],
                 review_calendar: WeeklyCalendar, service_factor: list[float] | None = None) -> None:
        self._free = [[0.0] * int(c) for c in servers]  # per unit: heap of server-free working times
        self._factor = np.asarray(service_factor if service_factor is not None else [1.0] * len(servers))
        self._calendars = calendars
        self._review = review_calendar
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
        """Process every arrival at or before ``t_end``."""
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
            done = cal.end_time(finish) if finish > begin else start[leg]
            end[leg] = done
            days = lead[leg]
            if days > 0:
                done = review.end_time(review.to_work(done) + days * review.day_minutes)
            req = req_of[leg]
            if leg == last_leg[req]:
                ready[req] = done
                heappush(resolutions, done)
            else:
                heappush(heap, (done + handoff[leg + 1], seq, leg + 1))
                seq += 1
        self._seq = seq
        self.now = max(self.now, t_end)

    def resolved_by(self, t: float) -> int:
        """Requests resolved at or before ``t`` (``t`` must not decrease between calls)."""
        while self._resolutions and self._resolutions[0] <= t:
            heapq.heappop(self._resolutions)
            self._resolved_counted += 1
        return self._resolved_counted

    def log(self) -> EngineLog:
        as_array = np.asarray
        return EngineLog(as_array(self._arrive), as_array(self._start), as_array(self._end),
                         as_array(self._start_w), as_array(self._end_w), as_array(self._ready))

    def leg_request(self) -> np.ndarray:
        return np.asarray(self._req, dtype=np.int64)

    def leg_unit(self) -> np.ndarray:
        return np.asarray(self._unit, dtype=np.int64)

    def leg_service(self) -> np.ndarray:
        return np.asarray(self._service)
