"""Compiled helpers that hand a batch of requests to the compiled core.

Why compiled: the city model adds two batches a day (follow-ups, then the day's new matters),
each a few dozen requests, and writing a batch into the core's columns took some twenty NumPy
calls of a few microseconds each, a tenth of a small run's Python time. One compiled pass does
the checks, the layout and the writes; a second merges the batch's first visits into the
queue of arrivals. Both do exactly what the NumPy code did (same checks, same order).
"""

from __future__ import annotations

import numpy as np

from sim.engine.jit import numba

# what ``write_batch`` returns besides 0 (first visits in time order) and 1 (not in order)
BAD_INPUT = {-1: "created must be finite and >= 0", -2: "service must be finite and >= 0",
             -3: "lead_days must be finite and >= 0", -4: "handoff must be finite and >= 0",
             -5: "unit index outside 0..{last}", -6: "leg of an unknown request",
             -7: "every request needs at least one leg"}


@numba.njit(cache=True, _nrt=False, inline="always")
def _bad_times(values):  # (a loop: Numba compiles no generator in any())
    for v in values:  # noqa: SIM110
        if not (v >= 0.0 and v < np.inf):  # (NaN fails both)
            return True
    return False


@numba.njit(cache=True, _nrt=False)
def write_batch(created, request, unit, service, lead, handoff, priority, factor, n_units, req0, leg0,
                c_prio, c_unit, c_req, c_service, c_lead, c_handoff, c_arrive, c_start, c_end, c_start_w,
                c_end_w, last_leg, ready, times, first):
    """Check a batch (the compiled kernel indexes without bounds checks), then write its legs
    from row ``leg0`` and its requests from row ``req0``. ``times`` and ``first`` (one per
    request) receive each request's first arrival and first leg. Returns a ``BAD_INPUT`` code
    before writing anything, else 0 when the arrivals are in time order and 1 when not."""
    n_req, n_legs = len(created), len(request)
    if _bad_times(created):
        return -1
    if _bad_times(service):
        return -2
    if _bad_times(lead):
        return -3
    if _bad_times(handoff):
        return -4
    for i in range(n_legs):
        if unit[i] < 0 or unit[i] >= n_units:
            return -5
    for i in range(n_legs):
        if request[i] < 0 or request[i] >= n_req:
            return -6
    for r in range(n_req):
        first[r] = 0
    for i in range(n_legs):
        first[request[i]] += 1  # legs per request, first
    for r in range(n_req):
        if first[r] == 0:
            return -7
    at = leg0
    for r in range(n_req):
        count = first[r]
        first[r] = at
        last_leg[req0 + r] = at + count - 1
        ready[req0 + r] = np.nan
        at += count
    for i in range(n_legs):
        row = leg0 + i
        c_prio[row] = priority[i]
        c_unit[row] = unit[i]
        c_req[row] = request[i] + req0
        c_service[row] = service[i] * factor[unit[i]]
        c_lead[row] = lead[i]
        c_handoff[row] = handoff[i]
        c_arrive[row] = np.nan  # not served yet
        c_start[row] = np.nan
        c_end[row] = np.nan
        c_start_w[row] = np.nan
        c_end_w[row] = np.nan
    unordered = 0
    for r in range(n_req):
        times[r] = created[r] + handoff[first[r] - leg0]
        if r and times[r] < times[r - 1]:
            unordered = 1
    return unordered


@numba.njit(cache=True, _nrt=False)
def merge_arrivals(old_t, old_s, old_l, pos, n_old, times, seqs, legs, out_t, out_s, out_l):
    """The waiting arrivals (rows ``pos`` .. ``n_old``, in order) and a batch's (in order)
    merged into ``out``: as a stable sort of their concatenation, the waiting ones first at
    equal times."""
    i, j, k, n_new = pos, 0, 0, len(times)
    while i < n_old and j < n_new:
        if old_t[i] <= times[j]:
            out_t[k], out_s[k], out_l[k] = old_t[i], old_s[i], old_l[i]
            i += 1
        else:
            out_t[k], out_s[k], out_l[k] = times[j], seqs[j], legs[j]
            j += 1
        k += 1
    while i < n_old:
        out_t[k], out_s[k], out_l[k] = old_t[i], old_s[i], old_l[i]
        i += 1
        k += 1
    while j < n_new:
        out_t[k], out_s[k], out_l[k] = times[j], seqs[j], legs[j]
        j += 1
        k += 1
