"""Where to put offices: p-median (least total travel) or maximal covering (most people within a
time), solved exactly as mixed-integer programmes with ``scipy.optimize.milp`` (HiGHS).

Demand points are the map's leaf areas weighted by their residents (or firms); candidate sites
are the centres of the areas of a chosen level (communities by default). Costs are one-way
travel minutes (``sim.city.geo.travel``). Each demand point goes to its nearest open site.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

OBJECTIVES = ("time", "coverage")


@dataclass
class Placement:
    """Chosen sites and each demand point's site."""

    sites: np.ndarray  # candidate indices, sorted
    assignment: np.ndarray  # per demand point: position in ``sites`` of its nearest open site
    objective: float  # weighted mean minutes (time) or share of weight covered (coverage)


def p_median(weight: np.ndarray, cost: np.ndarray, p: int, time_limit: float = 120.0) -> Placement:
    """Open ``p`` of the candidates (columns of ``cost``) minimising the weighted cost of demand
    points (rows) served by their nearest open site.

    Formulation (ReVelle and Swain 1970): min sum w_i c_ij x_ij; sum_j x_ij = 1; x_ij <= y_j;
    sum_j y_j = p; y binary, x in [0, 1] (integral at the optimum given y)."""
    n, m = cost.shape
    _check(weight, cost, p)
    nx = n * m
    c = np.concatenate([(weight[:, None] * cost).ravel(), np.zeros(m)])
    rows = sparse.kron(sparse.eye(n), np.ones((1, m)))  # sum_j x_ij = 1
    assign = sparse.hstack([rows, sparse.csr_matrix((n, m))])
    link = sparse.hstack([sparse.eye(nx), -sparse.kron(np.ones((n, 1)), sparse.eye(m))])  # x_ij - y_j <= 0
    count = sparse.hstack([sparse.csr_matrix((1, nx)), np.ones((1, m))])
    constraints = [LinearConstraint(assign, 1, 1), LinearConstraint(link, -np.inf, 0),
                   LinearConstraint(count, p, p)]
    integrality = np.concatenate([np.zeros(nx), np.ones(m)])
    result = milp(c, constraints=constraints, integrality=integrality, bounds=Bounds(0, 1),
                  options={"time_limit": time_limit})
    if result.x is None:
        raise RuntimeError(f"p-median found no solution ({result.message})")
    sites = np.sort(np.argsort(-result.x[nx:])[:p])
    return _finish(weight, cost, sites, time=True)


def max_cover(weight: np.ndarray, cost: np.ndarray, p: int, radius: float,
              time_limit: float = 120.0) -> Placement:
    """Open ``p`` candidates covering the most weight within ``radius`` (Church and ReVelle 1974):
    max sum w_i z_i; z_i <= sum_{j: c_ij <= r} y_j; sum_j y_j = p; y, z binary."""
    n, m = cost.shape
    _check(weight, cost, p)
    near = sparse.csr_matrix((cost <= radius).astype(float))
    c = np.concatenate([np.zeros(m), -weight])
    cover = sparse.hstack([-near, sparse.eye(n)])  # z_i - sum_j a_ij y_j <= 0
    count = sparse.hstack([np.ones((1, m)), sparse.csr_matrix((1, n))])
    result = milp(c, constraints=[LinearConstraint(cover, -np.inf, 0), LinearConstraint(count, p, p)],
                  integrality=np.ones(m + n), bounds=Bounds(0, 1), options={"time_limit": time_limit})
    if result.x is None:
        raise RuntimeError(f"maximal covering found no solution ({result.message})")
    sites = np.sort(np.argsort(-result.x[:m])[:p])
    placed = _finish(weight, cost, sites, time=False)
    covered = cost[np.arange(n), sites[placed.assignment]] <= radius
    placed.objective = float(weight[covered].sum() / weight.sum())
    return placed


def _finish(weight: np.ndarray, cost: np.ndarray, sites: np.ndarray, time: bool) -> Placement:
    assignment = cost[:, sites].argmin(axis=1)
    chosen = cost[np.arange(len(cost)), sites[assignment]]
    return Placement(sites, assignment, float((weight * chosen).sum() / weight.sum()))


def _check(weight: np.ndarray, cost: np.ndarray, p: int) -> None:
    if cost.ndim != 2 or len(weight) != cost.shape[0]:
        raise ValueError("cost must be demand points x candidates, weight one per demand point")
    if not 1 <= p <= cost.shape[1]:
        raise ValueError(f"count must be from 1 to the {cost.shape[1]} candidates (got {p})")


def brute_force(weight: np.ndarray, cost: np.ndarray, p: int) -> Placement:
    """Every p-subset of candidates: the reference answer for small instances (tests)."""
    from itertools import combinations

    best = None
    for subset in combinations(range(cost.shape[1]), p):
        value = float((weight * cost[:, list(subset)].min(axis=1)).sum())
        if best is None or value < best[0] - 1e-9:
            best = (value, np.array(subset))
    return _finish(weight, cost, best[1], time=True)
