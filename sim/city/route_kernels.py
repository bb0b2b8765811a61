"""Compiled index work of route planning: how far up its chain each request-step goes, and its
visits laid out one per row.

Why compiled: a day's decided requests are planned in a batch of a few hundred, where the
NumPy form (a request-step x chain-position table, its first solvable position, then some
fifteen repeats and gathers) cost about a dozen small calls per batch. The random draws stay
in NumPy, in the planner, in the order they always had; these loops only move integers and
compare difficulties with knowledge, exactly as the NumPy form did.
"""

from __future__ import annotations

from sim.engine.jit import numba


@numba.njit(cache=True, _nrt=False)
def route_spans(difficulty, cid, row, hall, chain_know, chain_hall, chain_len, start, solved):
    """Per request-step: the chain position it enters at (``chain_hall`` when its request came
    to the hall, ``hall`` per request, empty for none) and the first position at or after it
    whose knowledge covers the difficulty (the chain's last when none does). Returns the
    number of visits in all."""
    total = 0
    width = chain_know.shape[1]
    for i in range(len(difficulty)):
        c = cid[i]
        s = chain_hall[c] if len(hall) and hall[row[i]] else 0
        at = chain_len[c] - 1
        for j in range(s, width):  # (past a chain's end knowledge is -inf: nobody solves)
            if difficulty[i] <= chain_know[c, j]:
                at = j
                break
        start[i] = s
        solved[i] = at
        total += at - s + 1
    return total


@numba.njit(cache=True, _nrt=False)
def route_visits(row, kind, step, difficulty, cid, start, solved, chain_units, kind_review, kind_lead,
                 req, pos, unit_kind, decides, v_kind, v_step, v_difficulty, review, lead):
    """The visits of every request-step, in order: request row, chain position, unit kind,
    whether it decides, and the deciding visit's review minutes and lead days (0 elsewhere)."""
    k = 0
    for i in range(len(row)):
        for p in range(start[i], solved[i] + 1):
            last = p == solved[i]
            req[k] = row[i]
            pos[k] = p
            unit_kind[k] = chain_units[cid[i], p]
            decides[k] = last
            v_kind[k] = kind[i]
            v_step[k] = step[i]
            v_difficulty[k] = difficulty[i]
            review[k] = kind_review[kind[i], step[i]] if last else 0.0
            lead[k] = kind_lead[kind[i], step[i]] if last else 0.0
            k += 1


@numba.njit(cache=True, _nrt=False)
def insert_bounces(bounce_before, visit_role, req, first, unit, service, lead, role, travel, wrong, screening,
                   o_req, o_first, o_unit, o_service, o_lead, o_role, o_travel, o_bounce):
    """The legs with a misrouted visit inserted before each leg marked in ``bounce_before``: at
    the ``wrong`` unit, ``screening`` minutes, the request's first leg when the leg it precedes
    was (which then is not), no lead, travel or trip of its own."""
    k, j = 0, 0
    for i in range(len(req)):
        if bounce_before[i]:
            o_req[k], o_first[k], o_unit[k], o_service[k] = req[i], first[i], wrong[j], screening[j]
            o_lead[k], o_role[k], o_travel[k], o_bounce[k] = 0.0, visit_role, 0.0, True
            k += 1
            j += 1
        o_req[k], o_first[k], o_unit[k], o_service[k] = req[i], first[i] and not bounce_before[i], unit[i], \
            service[i]
        o_lead[k], o_role[k], o_travel[k], o_bounce[k] = lead[i], role[i], travel[i], False
        k += 1


def warm_up() -> None:
    """Load (or, the first time on a machine, compile) the kernels: one chain of two units,
    two request-steps, the first solved at the counter, the second passed up; one leg with a
    misrouted visit before it."""
    import numpy as np

    ints = lambda *values: np.array(values, dtype=np.int64)  # noqa: E731
    difficulty, zero, rows = np.array([0.5, 2.0]), ints(0, 0), ints(0, 1)
    start, solved = ints(0, 0), ints(0, 0)
    total = route_spans(difficulty, zero, rows, np.zeros(2, dtype=np.bool_), np.array([[1.0, np.inf]]),
                        ints(0), ints(2), start, solved)
    ints_out = [np.empty(total, dtype=np.int64) for _ in range(5)]
    units, minutes = ints(0, 1).reshape(1, 2), np.zeros((1, 1))
    route_visits(rows, zero, zero, difficulty, zero, start, solved, units, minutes, minutes, *ints_out[:3],
                 np.empty(total, dtype=np.bool_), *ints_out[3:], np.empty(total), np.empty(total),
                 np.empty(total))
    yes, minutes_1 = np.ones(1, dtype=np.bool_), np.ones(1)
    role, out_role = np.zeros(1, dtype=np.int8), np.empty(2, dtype=np.int8)
    two_ints, two_flags = np.empty(2, dtype=np.int64), np.empty(2, dtype=np.bool_)
    insert_bounces(yes, np.int8(0), ints(0), yes, ints(0), minutes_1, minutes_1, role, minutes_1, ints(1),
                   minutes_1, two_ints, two_flags, two_ints.copy(), np.empty(2), np.empty(2), out_role,
                   np.empty(2), two_flags.copy())
