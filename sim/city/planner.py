"""Route planning: turn new requests into the ordered visits (legs) each will make.

A request's route does not depend on queue state, so it is planned in bulk when the request is
created (NumPy over the whole day's batch); the engine then only times the legs.

Rules, per step of a request (a multi-step matter has several, e.g. an investment project):
  * the chain is the step's function's unit kinds at the request's authority levels, lowest
    first; the request enters at the lowest;
  * difficulty ~ Exponential(complexity); a unit solves it if difficulty <= its knowledge,
    otherwise escalates to the next unit of the chain; the last decides whatever reaches it
    (a knowledge hierarchy: common problems are solved low, rare ones high); with
    ``escalated_service = "screen_and_decide"`` the deciding unit's service grows with the difficulty
    (``difficulty_elasticity``) and a unit passing the matter up spends only ``screen_share`` of
    the kind's service;
  * consecutive steps that land on the same unit are one visit (one queue, one trip): this is
    what one seal and modules buy; a step with review work then goes through the unit's desks
    (``sim.city.approvals``), one step after another, or all together under joint review;
  * each visit to a level with other unit kinds (the first visit too: a requester can also pick
    the wrong window) goes first to a wrong one with probability ``misroute_share`` or, by the
    ``per_window`` rule, 1 - (1 - p)^k for k other windows at that level; that unit
    screens it and sends it back (a bounce).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from sim.city.approvals import RESUBMIT, REVIEW, VISIT, ApprovalDesks, Rows
from sim.city.catalogue import RequestKind
from sim.city.demand import kind_streams
from sim.city.distributions import sample_durations
from sim.city.route_kernels import insert_bounces, route_spans, route_visits
from sim.city.structure import Structure
from sim.engine.legs import Legs
from sim.scenario.schema import SEGMENTS

COUNTER, HALL, ONLINE, HOTLINE = 0, 1, 2, 3  # channel codes, in the order of behaviour_schema.CHANNELS


class Planner:
    """Plans legs for batches of requests of one scenario.

    Args:
        structure: the organisation.
        kinds: the request catalogue.
        handoff: the scenario's ``[handoff]`` table.
        rng: the routing stream (difficulties, misrouting, service and hand-off times).
        approval_work: review steps with ``review_minutes`` at desks after the visit
            (``sim.city.approvals``); False: their review is done at the counter.
    """

    def __init__(self, structure: Structure, kinds: list[RequestKind], handoff: dict[str, Any],
                 rng: np.random.Generator, approval_work: bool = True) -> None:
        self.structure = structure
        self.kinds = kinds
        self.handoff = handoff
        self.rng = rng
        self._alternatives = [structure.alternatives(k) for k in range(len(structure.kinds))]
        # the alternatives padded into a table, and how many each unit kind has
        self._alt_count = np.array([len(a) for a in self._alternatives], dtype=np.int64)
        self._alt_table = np.zeros((len(self._alternatives), max(self._alt_count.max(initial=0), 1)),
                                   dtype=np.int64)
        for k, alternatives in enumerate(self._alternatives):
            self._alt_table[k, : len(alternatives)] = alternatives
        self._kind_rng = kind_streams(rng, [k.name for k in kinds])  # difficulties, functions
        self._approval_work = approval_work
        self._desks = ApprovalDesks(structure, kinds, handoff, rng)
        # per-kind constants as arrays, and chains as arrays, built once (plans run daily)
        self._kind_visit = np.array([k.visit_minutes for k in kinds], dtype=float)
        self._kind_cv = np.array([k.service.cv for k in kinds], dtype=float)
        self._kind_travel = np.array([k.travel_minutes for k in kinds], dtype=float)
        self._kind_dispatched = np.array([k.dispatched for k in kinds], dtype=bool)
        self._kind_in_person = np.array([k.in_person for k in kinds], dtype=bool)
        self._kind_mean = np.array([k.service.mean for k in kinds], dtype=float)
        self._kind_complexity = np.array([k.complexity for k in kinds], dtype=float)
        most_steps = max([k.n_steps for k in kinds] + [1])
        self._kind_lead = np.zeros((len(kinds), most_steps))  # per kind and step
        self._kind_review = np.zeros((len(kinds), most_steps))  # (0: no review work)
        for k in kinds:
            self._kind_lead[k.index, : k.n_steps] = k.lead_days[: k.n_steps]
            if k.review_minutes is not None:
                self._kind_review[k.index, : k.n_steps] = k.review_minutes[: k.n_steps]
        self._max_functions = max([len(k.functions) for k in kinds] + [1])
        self._share_cdf = {k.index: np.cumsum(k.shares) / np.cumsum(k.shares)[-1] for k in kinds
                           if k.shares is not None}  # as Generator.choice makes it from p
        # escalation chains, padded into tables (``_chain_id``)
        self._chain_index: dict[tuple, int] = {}
        self._chain_list: list[list[int]] = []
        self._code_chain: np.ndarray | None = None  # chain index per (kind, function, segment) code

    def plan(self, kind: np.ndarray, location: np.ndarray, segment: np.ndarray,
             xy: np.ndarray | None = None, channel: np.ndarray | None = None) -> Legs:
        """Legs for requests given by kind index, location (a point of [0, 1) on the line, a
        leaf area on the map), segment code and, on the map, the requester's point (km).

        ``channel`` (per request, ``COUNTER`` .. ``HOTLINE``; None: all at the counter) is how
        the requester brings the matter (``sim.city.behaviour.channels``): at the hall the route
        starts one level up; online and by hotline the requester makes no trip except, for a
        matter needing them in person, one to the deciding window; a hotline call is dispatched."""
        hall = None if channel is None else channel == HALL
        by_kind = np.argsort(kind, kind="stable")  # each kind's rows in ascending order
        bounds = np.searchsorted(kind[by_kind], np.arange(len(self.kinds) + 1))
        steps = self._draw_steps(by_kind, bounds)
        if steps is None:
            return Legs.empty()
        req, step, pos, unit, service, lead, review = self._step_visits(*steps, location, segment, hall)
        order = np.lexsort((pos, step, req))
        req, unit, service, lead, review = req[order], unit[order], service[order], lead[order], review[order]
        # visits (consecutive rows at one unit folded), with desk legs where steps have review work
        req, unit, service, lead, role = self._desks.legs(Rows(req, unit, service, lead, review), kind)
        first = np.ones(len(req), dtype=bool)
        first[1:] = req[1:] != req[:-1]
        leg_kind = kind[req]
        at_window = role != REVIEW
        service[at_window] += self._per_visit(leg_kind[at_window])
        travel = self._travel(leg_kind, unit, xy, req) * first
        service = service + travel
        legs = self._finish(kind, location, req, unit, service, lead, first, role, travel,
                            None if channel is None else channel == HOTLINE)
        if channel is not None:
            _remote_trips(legs, (channel == ONLINE) | (channel == HOTLINE), self._kind_in_person[kind])
        return legs

    def entry_kinds(self, kind: RequestKind) -> tuple[int, int]:
        """Unit kinds of a resident's matter's counter (the lowest window of its first step's
        chain) and hall (the first kind one level up; -1 when the chain has no other level)."""
        chain = self.structure.chain(kind.functions[0], "resident", kind.authority)
        skip = _hall_position(self.structure, chain)
        return chain[0], (chain[skip] if skip < len(chain) else -1)

    def _draw_steps(self, by_kind: np.ndarray, bounds: np.ndarray) -> tuple[np.ndarray, ...] | None:
        """Each request's steps: (row, kind, step, function index, difficulty) per request-step,
        drawn from each kind's own stream (a batch's kinds in ascending order, as always)."""
        parts = []
        for kind in self.kinds:
            rows = by_kind[bounds[kind.index]:bounds[kind.index + 1]]
            if not len(rows):
                continue
            rng = self._kind_rng[kind.name]
            for step in range(kind.n_steps):
                if kind.shares is not None:  # rng.choice(p=shares), draw for draw, without its checks
                    function_index = self._share_cdf[kind.index].searchsorted(rng.random(len(rows)),
                                                                              side="right")
                else:
                    function_index = np.full(len(rows), step)
                difficulty = kind.complexity * rng.standard_exponential(len(rows))
                parts.append((rows, function_index, difficulty, kind.index, step))
        if not parts:
            return None
        sizes = [len(p[0]) for p in parts]
        return (np.concatenate([p[0] for p in parts]), np.repeat([p[3] for p in parts], sizes),
                np.repeat([p[4] for p in parts], sizes), np.concatenate([p[1] for p in parts]),
                np.concatenate([p[2] for p in parts]))

    def _chain_ids(self, kind: np.ndarray, function_index: np.ndarray, segment: np.ndarray) -> np.ndarray:
        """Index of each request-step's escalation chain in the padded chain tables (chains are
        built once, the first time a (function, segment, authority) appears; the chain of each
        (kind, function, segment) code is then kept in a table, as plans run daily)."""
        n_seg = len(SEGMENTS)
        code = (kind * self._max_functions + function_index) * n_seg + segment
        if self._code_chain is None:
            self._code_chain = np.full(len(self.kinds) * self._max_functions * n_seg, -1, dtype=np.int64)
        ids = self._code_chain[code]
        if len(ids) and ids.min() < 0:
            for c in np.unique(code[ids < 0]).tolist():
                k, rest = divmod(c, self._max_functions * n_seg)
                f, s = divmod(rest, n_seg)
                request_kind = self.kinds[k]
                self._code_chain[c] = self._chain_id((request_kind.functions[f], SEGMENTS[s],
                                                      request_kind.authority))
            ids = self._code_chain[code]
        return ids

    def _chain_id(self, key: tuple) -> int:
        if key not in self._chain_index:
            chain = self.structure.chain(*key)
            self._chain_index[key] = len(self._chain_list)
            self._chain_list.append(chain)
            width = max(len(c) for c in self._chain_list)
            n = len(self._chain_list)
            self._chain_units = np.zeros((n, width), dtype=np.int64)
            self._chain_know = np.full((n, width), -np.inf)  # past a chain's end nobody solves anything
            for i, c in enumerate(self._chain_list):
                self._chain_units[i, : len(c)] = c
                self._chain_know[i, : len(c)] = self.structure.kind_knowledge[c]
            self._chain_len = np.array([len(c) for c in self._chain_list], dtype=np.int64)
            self._chain_hall = np.array([min(_hall_position(self.structure, c), len(c) - 1)
                                         for c in self._chain_list], dtype=np.int64)
        return self._chain_index[key]

    def _step_visits(self, row: np.ndarray, kind: np.ndarray, step: np.ndarray, function_index: np.ndarray,
                     difficulty: np.ndarray, location: np.ndarray, segment: np.ndarray,
                     hall: np.ndarray | None) -> tuple[np.ndarray, ...]:
        """Visits of every request-step of a batch at once: up its chain from the entry (at the
        hall: the first kind one level up) to the first unit whose knowledge covers the
        difficulty (the last decides whatever reaches it), with service and review minutes.

        Service times are drawn from the routing stream in the order of (kind, step, function,
        segment, request, visit), the order in which step groups were once planned one by one,
        so a fixed seed gives the same plan as then."""
        seg = segment[row].astype(np.int64)
        order = np.lexsort((row, seg, function_index, step, kind))
        row, kind, step, seg, difficulty = row[order], kind[order], step[order], seg[order], difficulty[order]
        cid = self._chain_ids(kind, function_index[order], seg)
        n = len(row)
        start, solved_at = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64)
        no_hall = np.zeros(0, dtype=np.bool_)
        total = route_spans(difficulty, cid, row, no_hall if hall is None else hall, self._chain_know,
                            self._chain_hall, self._chain_len, start, solved_at)
        req, pos, unit_kind, v_kind, v_step = (np.empty(total, dtype=np.int64) for _ in range(5))
        decides = np.empty(total, dtype=np.bool_)
        v_difficulty, review, lead = np.empty(total), np.empty(total), np.empty(total)
        route_visits(row, kind, step, difficulty, cid, start, solved_at, self._chain_units,
                     self._kind_review, self._kind_lead, req, pos, unit_kind, decides, v_kind, v_step,
                     v_difficulty, review, lead)
        unit = self.structure.instance(unit_kind, location[req])
        mean = self._service_means(v_kind, decides, v_difficulty)
        if not self._approval_work:  # the review is done at the counter, during the visit
            mean, review = mean + review, np.zeros(len(req))
        service = sample_durations(self.rng, mean, self._kind_cv[v_kind])  # in the order above
        return req, v_step, pos, unit, service, lead, review

    def _service_means(self, kind: np.ndarray, decides: np.ndarray, difficulty: np.ndarray) -> np.ndarray:
        """Mean staff minutes of each visit (of request kind ``kind``): the kind's service at every
        unit (``escalated_service = "same"``) or, by difficulty, service x (d / c)^g / Gamma(1 + g)
        at the deciding unit, d the matter's difficulty, c the kind's complexity, g the
        ``difficulty_elasticity`` (d / c is Exponential(1), so over all matters, wherever they
        are decided, the mean is the kind's service), and ``screen_share`` of the service at a
        unit that reads the matter and passes it up.
        # assumed: time grows with a problem's difficulty as in Garicano's (2000) knowledge
        hierarchy, where lower layers screen and pass on what they cannot solve."""
        if self.handoff["escalated_service"] == "same":
            return self._kind_mean[kind]
        g = self.handoff["difficulty_elasticity"]
        deciding = (difficulty / self._kind_complexity[kind]) ** g / math.gamma(1.0 + g)
        return self._kind_mean[kind] * np.where(decides, deciding, self.handoff["screen_share"])

    def _per_visit(self, kind_of_leg: np.ndarray) -> np.ndarray:
        """Intake minutes per visit (after merging, so a merged visit pays once)."""
        visit = self._kind_visit[kind_of_leg]
        cv = self._kind_cv[kind_of_leg]
        out = np.zeros(len(kind_of_leg))
        for value in np.unique(cv[visit > 0]):
            pick = (visit > 0) & (cv == value)
            out[pick] = sample_durations(self.rng, visit[pick], float(value))
        return out

    def _travel(self, kind_of_leg: np.ndarray, unit: np.ndarray, xy: np.ndarray | None,
                req: np.ndarray) -> np.ndarray:
        """A field team's one-way minutes to the place, for kinds with ``travel_minutes``: that
        constant on the line; on the map, from the unit's office (a pooled team: its nearest
        station) to the requester's point at the team's speed."""
        typed = self._kind_travel[kind_of_leg]
        city = self.structure.city_map
        if city is None or xy is None or not (typed > 0).any():
            return typed
        out = np.zeros(len(unit))
        field = np.flatnonzero(typed > 0)
        unit_kind = self.structure.unit_kind[unit[field]]
        for k in np.unique(unit_kind):
            pick = field[unit_kind == k]
            kind = self.structure.kinds[k]
            out[pick] = city.minutes_to_office(kind.name, unit[pick] - kind.first, xy[req[pick]], "team")
        return out

    def _finish(self, kind: np.ndarray, location: np.ndarray, req: np.ndarray, unit: np.ndarray,
                service: np.ndarray, lead: np.ndarray, first: np.ndarray, role: np.ndarray,
                travel: np.ndarray, hotline: np.ndarray | None = None) -> Legs:
        """Insert misrouted visits, then set hand-off delays and trips.

        Only a visit to a new window can go to a wrong one and waits for a hand-off; a desk's
        review and a corrected file handed in again at the same window do neither."""
        bounce_before = self._misroutes(unit) & (role == VISIT)
        n_bounce = int(bounce_before.sum())
        if n_bounce:
            old = np.flatnonzero(bounce_before)
            wrong = self._wrong_unit(unit[old], location[req[old]])
            screening = sample_durations(self.rng, np.full(n_bounce, self.handoff["screening_minutes"]),
                                         1.0) if self.handoff["screening_minutes"] > 0 else np.zeros(n_bounce)
            total = len(unit) + n_bounce
            columns = (req, first, unit, service, lead, role, travel)
            out = [np.empty(total, dtype=c.dtype) for c in columns] + [np.empty(total, dtype=bool)]
            insert_bounces(bounce_before, np.int8(VISIT), *columns, wrong.astype(np.int64),
                           screening.astype(np.float64), *out)
            req, first, unit, service, lead, role, travel, bounce = out
        else:
            bounce = np.zeros(len(unit), dtype=bool)
        leg_kind = kind[req]
        dispatched = self._kind_dispatched[leg_kind]
        if hotline is not None:  # a hotline call reaches its first unit through dispatch
            dispatched = dispatched | hotline[req]
        in_person = self._kind_in_person[leg_kind]
        dispatch = self.handoff["dispatch_hours"]
        dispatch = self.handoff["delay_hours"] if dispatch is None else dispatch
        dispatch_cv = self.handoff["dispatch_cv"]
        dispatch_cv = self.handoff["delay_cv"] if dispatch_cv is None else dispatch_cv
        handoff = np.zeros(len(unit))
        later = ~first & (role == VISIT) & (self.handoff["delay_hours"] > 0)
        delay = self.handoff["delay_hours"] * 60.0
        handoff[later] = sample_durations(self.rng, np.full(int(later.sum()), delay),
                                          self.handoff["delay_cv"])
        sent = first & dispatched & (dispatch > 0)
        handoff[sent] = sample_durations(self.rng, np.full(int(sent.sum()), dispatch * 60.0), dispatch_cv)
        carried = not self.handoff["forward_without_trip"]
        trip = in_person & (((role == VISIT) & (first | carried)) | ((role == RESUBMIT) & carried))
        return Legs(req, unit, service, lead, handoff, trip, bounce, role, travel)

    def _misroutes(self, unit: np.ndarray) -> np.ndarray:
        """Visits that go to a wrong window first: a constant ``misroute_share`` at every level
        with other windows or, ``misroute_rule = "per_window"``, 1 - (1 - p)^k at a level with k
        other windows, p the ``misroute_per_window`` (each mistaken independently: 26 department
        windows mislead more than 6)."""
        kind_of = self.structure.unit_kind[unit]
        if self.handoff["misroute_rule"] == "per_window":
            per_window = self.handoff["misroute_per_window"]
            if per_window == 0:
                return np.zeros(len(unit), dtype=bool)
            windows = self._alt_count[kind_of]
            return self.rng.random(len(unit)) < 1.0 - (1.0 - per_window) ** windows
        share = self.handoff["misroute_share"]
        has_alt = self._alt_count[kind_of] > 0
        if share == 0:
            return np.zeros(len(unit), dtype=bool)
        return has_alt & (self.rng.random(len(unit)) < share)

    def _wrong_unit(self, unit: np.ndarray, location: np.ndarray) -> np.ndarray:
        """A wrong window of the same level for each misrouted visit, drawn uniformly from its
        kind's alternatives (one bounded draw each: as one call per visit, draw for draw)."""
        kind_of = self.structure.unit_kind[unit]
        pick = self.rng.integers(0, self._alt_count[kind_of])
        return self.structure.instance(self._alt_table[kind_of, pick], location)


def _hall_position(structure: Structure, chain: list[int]) -> int:
    """Position in a chain of the first unit kind above the lowest kind's level."""
    level = structure.kinds[chain[0]].level
    return next((i for i, k in enumerate(chain) if structure.kinds[k].level != level), len(chain))


def _remote_trips(legs: Legs, remote: np.ndarray, in_person: np.ndarray) -> None:
    """Online and hotline requests: no trips, except one to the last window visited when the
    matter needs the requester in person (B4: "at most one trip")."""
    leg_remote = remote[legs.request]
    legs.trip[leg_remote] = False
    window = leg_remote & in_person[legs.request] & (legs.role == VISIT) & ~legs.bounce
    if window.any():
        rows = np.flatnonzero(window)
        last = np.ones(len(rows), dtype=bool)
        last[:-1] = legs.request[rows[1:]] != legs.request[rows[:-1]]
        legs.trip[rows[last]] = True
