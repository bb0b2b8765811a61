"""The planner's compiled route layout (``sim.city.route_kernels``) against the NumPy form it
replaced, on random chains, difficulties and hall entries."""

from __future__ import annotations

import numpy as np
import pytest

from sim.city.route_kernels import route_spans, route_visits


def _numpy_form(difficulty, cid, row, hall, know, chain_hall, chain_len, chain_units, kind, step, review_t,
                lead_t):
    """The planner's NumPy code before it was compiled, line for line."""
    solvable = difficulty[:, None] <= know[cid]
    start = np.zeros(len(row), dtype=np.int64)
    if hall is not None:
        start = np.where(hall[row], chain_hall[cid], 0)
        solvable &= np.arange(solvable.shape[1])[None, :] >= start[:, None]
    solved_at = np.where(solvable.any(axis=1), solvable.argmax(axis=1), chain_len[cid] - 1)
    visits = solved_at - start + 1
    req = np.repeat(row, visits)
    starts = np.repeat(np.cumsum(visits) - visits, visits)
    pos = np.arange(int(visits.sum())) - starts + np.repeat(start, visits)
    decides = pos == np.repeat(solved_at, visits)
    v_kind, v_step = np.repeat(kind, visits), np.repeat(step, visits)
    return (req, pos, chain_units[np.repeat(cid, visits), pos], decides, v_kind, v_step,
            np.repeat(difficulty, visits), np.where(decides, review_t[v_kind, v_step], 0.0),
            np.where(decides, lead_t[v_kind, v_step], 0.0))


@pytest.mark.parametrize("with_hall", [False, True])
def test_compiled_route_layout_equals_the_numpy_form(with_hall: bool) -> None:
    rng = np.random.default_rng(5 + with_hall)
    n_chains, width, n_kinds, n_steps, n = 7, 5, 4, 3, 600
    chain_len = rng.integers(1, width + 1, n_chains)
    know = np.full((n_chains, width), -np.inf)
    units = np.zeros((n_chains, width), dtype=np.int64)
    for c in range(n_chains):
        know[c, : chain_len[c]] = np.sort(rng.exponential(1.0, chain_len[c]))
        know[c, chain_len[c] - 1] = rng.choice([np.inf, know[c, chain_len[c] - 1]])  # some chains cap
        units[c, : chain_len[c]] = rng.integers(0, 30, chain_len[c])
    chain_hall = np.minimum(rng.integers(0, width, n_chains), chain_len - 1)
    cid = rng.integers(0, n_chains, n)
    row = np.sort(rng.integers(0, 200, n))
    kind, step = rng.integers(0, n_kinds, n), rng.integers(0, n_steps, n)
    difficulty = np.where(rng.random(n) < 0.1, np.round(rng.exponential(1.0, n), 1), rng.exponential(1.0, n))
    difficulty[:5] = know[cid[:5], 0]  # exactly at a unit's knowledge: solved there
    review_t, lead_t = rng.random((n_kinds, n_steps)) * 30, rng.random((n_kinds, n_steps)) * 5
    hall = rng.random(200) < 0.4 if with_hall else None

    start, solved = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64)
    total = route_spans(difficulty, cid, row, np.zeros(0, dtype=np.bool_) if hall is None else hall, know,
                        chain_hall, chain_len, start, solved)
    out = [np.empty(total, dtype=np.int64) for _ in range(3)] + [np.empty(total, dtype=np.bool_)] + \
        [np.empty(total, dtype=np.int64) for _ in range(2)] + [np.empty(total) for _ in range(3)]
    route_visits(row, kind, step, difficulty, cid, start, solved, units, review_t, lead_t, *out)
    expected = _numpy_form(difficulty, cid, row, hall, know, chain_hall, chain_len, units, kind, step,
                           review_t, lead_t)
    assert total == len(expected[0])
    for got, want in zip(out, expected, strict=True):
        assert np.array_equal(got, want)


def test_compiled_bounce_insertion_equals_the_numpy_form() -> None:
    """Misrouted visits inserted before the marked legs, as the planner's NumPy ``_insert``
    calls did: the bounce takes the leg's first-leg mark, the leg loses it."""
    from sim.city.route_kernels import insert_bounces

    rng = np.random.default_rng(9)
    n = 400
    req = np.sort(rng.integers(0, 120, n))
    first = np.ones(n, dtype=bool)
    first[1:] = req[1:] != req[:-1]
    unit, service, lead = rng.integers(0, 50, n), rng.exponential(20, n), rng.exponential(2, n)
    role, travel = rng.integers(0, 3, n).astype(np.int8), rng.exponential(5, n)
    mark = (rng.random(n) < 0.2) & (role == 0)
    mark[:3] = role[:3] == 0  # at the very start too
    old = np.flatnonzero(mark)
    wrong, screening = rng.integers(50, 60, len(old)), rng.exponential(3, len(old))

    total = n + len(old)
    new_index = np.arange(n) + np.cumsum(mark)
    b_index = new_index[mark] - 1

    def insert(values, extra):
        out = np.empty(total, dtype=np.result_type(values, extra))
        out[new_index] = values
        out[b_index] = extra
        return out

    want_first = insert(first, first[old])
    want_first[new_index[old]] = False
    want = [insert(req, req[old]), want_first, insert(unit, wrong), insert(service, screening),
            insert(lead, np.zeros(len(old))), insert(role, np.zeros(len(old), dtype=np.int8)),
            insert(travel, np.zeros(len(old))),
            insert(np.zeros(n, dtype=bool), np.ones(len(old), dtype=bool))]
    columns = (req, first, unit, service, lead, role, travel)
    got = [np.empty(total, dtype=c.dtype) for c in columns] + [np.empty(total, dtype=bool)]
    insert_bounces(mark, np.int8(0), *columns, wrong, screening, *got)
    for g, w in zip(got, want, strict=True):
        assert g.dtype == w.dtype and np.array_equal(g, w)
