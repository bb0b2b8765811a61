"""Approvals as work and waiting: the desk passes a file makes after the requester's visit.

Why: an approval's time should come from what is done to the file and how the process is
designed, not from typed review periods. A step of a matter with ``review_minutes`` is decided
in three parts (the first at the counter, the others in the back office):

  * the visit (intake at the window, the requester present): the step's ``service_minutes``;
  * the review: ``review_minutes`` of staff work at the unit deciding the step, shared equally
    over the unit's ``review_stages`` desks (sections, seals; M2), each a job queued with the
    unit's other work. A file waits ``handoff.desk_days`` working days in each desk's in-tray
    first (files move between desks in batches), and each desk returns it for corrections with
    probability ``correction_share``, at most ``handoff.max_corrections`` times: the requester
    takes ``correction_days`` working days to fix it, hands it in again (a visit to the window;
    a trip unless ``forward_without_trip``) and the desk reviews it again;
  * the statutory wait (``lead_days``: public notice periods), after the step's last desk.

Steps merged into one visit (consecutive steps at one unit, as under one seal) are reviewed
one after another, each through every desk; under ``joint_review`` they are reviewed together,
as one file through the desks once (the review minutes add up, the statutory waits overlap by
``review_overlap``). So sequential versus joint review, how many desks and seals a file passes
and whether corrections need a trip are process design, and the time a file takes grows with
the queues at the desks.

Legs carry a role: ``VISIT`` (the requester at a window, as every leg was before), ``REVIEW`` (a
desk's work, requester absent: no trip, no intake minutes, no misrouting, no hand-off delay:
the in-tray wait is the preceding leg's working-day wait) and ``RESUBMIT`` (a corrected file
handed in again at the same window).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.city.catalogue import RequestKind
from sim.city.distributions import sample_durations
from sim.city.structure import Structure

VISIT, REVIEW, RESUBMIT = 0, 1, 2


def ragged_positions(lengths: np.ndarray) -> np.ndarray:
    """0..n-1 for each length n, concatenated: [2, 3] -> [0, 1, 0, 1, 2]."""
    total = int(lengths.sum())
    starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
    return np.arange(total) - starts


def overlapped(total: np.ndarray, longest: np.ndarray, joint: np.ndarray,
               overlap: np.ndarray) -> np.ndarray:
    """Waits of steps reviewed together: the longest, plus the share of the others that does not
    overlap it; reviewed one after another (not joint): all of them."""
    return np.where(joint, longest + (1.0 - overlap) * (total - longest), total)


@dataclass
class Rows:
    """Planned rows of a batch (one per unit a step visits), sorted by request, step, position."""

    request: np.ndarray
    unit: np.ndarray
    service: np.ndarray  # counter minutes
    lead: np.ndarray  # statutory working days after the step's decision
    review: np.ndarray  # back-office review minutes of the step (0: decided at the counter)


class ApprovalDesks:
    """Folds a request's consecutive rows at one unit into one visit, and adds desk and
    resubmission legs after visits with review work (none without: then only the folding).

    Args:
        structure: the organisation (review practice and desks per unit kind).
        kinds: the request catalogue (review minutes, corrections).
        handoff: the scenario's ``[handoff]`` table (``desk_days``, ``max_corrections``).
        rng: the routing stream (review times, returned files).
    """

    def __init__(self, structure: Structure, kinds: list[RequestKind], handoff: dict[str, Any],
                 rng: np.random.Generator) -> None:
        self.structure = structure
        self.rng = rng
        self.desk_days = float(handoff["desk_days"])
        self.max_corrections = int(handoff["max_corrections"])
        self._joint = np.array([k.joint_review for k in structure.kinds])
        self._overlap = np.array([k.review_overlap for k in structure.kinds])
        self._stages = np.array([k.review_stages for k in structure.kinds], dtype=np.int64)
        self._cv = np.array([k.service.cv for k in kinds])
        self._share = np.array([k.correction_share for k in kinds])
        self._fix_days = np.array([k.correction_days for k in kinds])

    def legs(self, rows: Rows, request_kind: np.ndarray) -> tuple[np.ndarray, ...]:
        """(request, unit, service, lead, role) of every leg, in visiting order.

        ``request_kind`` is the kind index of each request of the batch."""
        same = np.zeros(len(rows.request), dtype=bool)
        same[1:] = (rows.request[1:] == rows.request[:-1]) & (rows.unit[1:] == rows.unit[:-1])
        starts = np.flatnonzero(~same)
        visit_of_row = np.cumsum(~same) - 1
        v_request, v_unit = rows.request[starts], rows.unit[starts]
        v_kind = self.structure.unit_kind[v_unit]
        joint, overlap = self._joint[v_kind], self._overlap[v_kind]
        # the visit keeps the waits of steps decided at the counter
        counter_lead = np.where(rows.review > 0, 0.0, rows.lead)
        v_lead = overlapped(np.add.reduceat(counter_lead, starts),
                            np.maximum.reduceat(counter_lead, starts), joint, overlap)
        v_service = np.add.reduceat(rows.service, starts)
        # one review pass per reviewed step, or one per visit under joint review
        p_rows = np.flatnonzero(rows.review > 0)
        if not len(p_rows):  # no desk work in this batch (a day's personal matters): the visits
            role = np.full(len(starts), VISIT, dtype=np.int8)
            return v_request, v_unit, v_service, v_lead.astype(float), role
        p_visit = visit_of_row[p_rows]
        new_pass = np.ones(len(p_rows), dtype=bool)
        new_pass[1:] = (p_visit[1:] != p_visit[:-1]) | ~joint[p_visit[1:]]
        p_starts = np.flatnonzero(new_pass)
        g_visit = p_visit[p_starts]
        g_review = np.add.reduceat(rows.review[p_rows], p_starts)
        g_lead = overlapped(np.add.reduceat(rows.lead[p_rows], p_starts),
                            np.maximum.reduceat(rows.lead[p_rows], p_starts),
                            joint[g_visit], overlap[g_visit])
        g_rank = np.arange(len(g_visit)) - np.searchsorted(g_visit, g_visit)
        # every pass goes through each desk of the unit; a desk may return the file
        g_stages = self._stages[v_kind[g_visit]]
        d_pass = np.repeat(np.arange(len(g_visit)), g_stages)
        d_stage = ragged_positions(g_stages)
        d_kind = request_kind[v_request[g_visit[d_pass]]]
        d_returns = self._returns(d_kind)
        # legs of a desk: review, (resubmit, review) x returns
        d_legs = 2 * d_returns + 1
        l_desk = np.repeat(np.arange(len(d_pass)), d_legs)
        l_j = ragged_positions(d_legs)
        l_pass = d_pass[l_desk]
        l_visit = g_visit[l_pass]
        # order: the visit, then its passes, desk by desk
        visit_key = np.concatenate([np.arange(len(starts)), l_visit])
        pass_key = np.concatenate([np.full(len(starts), -1), g_rank[l_pass]])
        stage_key = np.concatenate([np.zeros(len(starts), dtype=np.int64), d_stage[l_desk]])
        j_key = np.concatenate([np.zeros(len(starts), dtype=np.int64), l_j])
        order = np.lexsort((j_key, stage_key, pass_key, visit_key))
        role = np.concatenate([np.full(len(starts), VISIT, dtype=np.int8),
                               np.where(l_j % 2 == 0, REVIEW, RESUBMIT).astype(np.int8)])[order]
        visit = visit_key[order]
        review_leg = role == REVIEW
        service = np.zeros(len(role))
        service[:len(starts)] = v_service
        desk_minutes = (g_review / g_stages)[l_pass]
        service[len(starts):] = np.where(l_j % 2 == 0, desk_minutes, 0.0)
        service = service[order]
        l_kind = d_kind[l_desk]
        leg_kind = np.concatenate([request_kind[v_request], l_kind])[order]
        service[review_leg] = self._review_times(service[review_leg], leg_kind[review_leg])
        lead = np.zeros(len(role))
        lead[:len(starts)] = v_lead
        returned = (l_j % 2 == 0) & (l_j < d_legs[l_desk] - 1)
        last_of_pass = (d_stage[l_desk] == g_stages[l_pass] - 1) & (l_j == d_legs[l_desk] - 1)
        lead[len(starts):] = (np.where(returned, self._fix_days[l_kind], 0.0)
                              + np.where(last_of_pass, g_lead[l_pass], 0.0))
        lead = lead[order]
        lead[:-1] += np.where(review_leg[1:], self.desk_days, 0.0)  # the in-tray before a desk
        return v_request[visit], v_unit[visit], service, lead, role

    def _returns(self, kind_of_desk: np.ndarray) -> np.ndarray:
        """Times each desk returns its file: P(at least j) = share**j, capped."""
        share = self._share[kind_of_desk]
        out = np.zeros(len(share), dtype=np.int64)
        draw = (share > 0) & (self.max_corrections > 0)
        if draw.any():
            u = 1.0 - self.rng.random(int(draw.sum()))  # in (0, 1]
            out[draw] = np.minimum(np.floor(np.log(u) / np.log(share[draw])), self.max_corrections)
        return out

    def _review_times(self, means: np.ndarray, kind_of_leg: np.ndarray) -> np.ndarray:
        """Each review drawn with its request kind's service variability."""
        out = np.zeros(len(means))
        cv = self._cv[kind_of_leg]
        for value in np.unique(cv):
            pick = cv == value
            out[pick] = sample_durations(self.rng, means[pick], float(value))
        return out
