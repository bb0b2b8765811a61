"""Shapley values of reforms: exact over all subsets, or sampled over orderings.

A reform's Shapley value is its marginal contribution v(S + i) - v(S) averaged over all n!
orderings of the reforms, S being those before it. Exact needs the value of all 2^n subsets
(256 at n = 8; the flat preset's 11 reforms need 2,048, each a batch of runs). Sampling
orderings (Castro, Gomez and Tejada 2009) needs n - 1 new subsets per ordering at most, and
prefixes shared between orderings are valued once.

Two properties the sampler keeps:
  * efficiency holds exactly, not only on average: along any one ordering the contributions
    telescope to v(all) - v(none), so their means over orderings do too;
  * orderings come in antithetic pairs (an ordering and its reverse): a reform early in one is
    late in the other, which cancels most of the position effect. Pairs are the independent
    units of the confidence interval (Student's t over pair means).
The interval covers the sampling of orderings only; the noise of the replications behind each
v(S) is common to all methods (common random numbers keep it small in differences).

Some changes need others (a reform that restaffs a team only another reform creates). Then
only the orderings in which each comes after what it needs count, all equally (Faigle and
Kern 1992): exact by enumerating them, sampled by rejection, in independent pairs (the reverse
of a feasible ordering is not feasible in general).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable

import numpy as np
from scipy import stats

Subset = tuple[int, ...]


def exact_shapley(n: int, value: dict[Subset, float] | Callable[[Subset], float]) -> list[float]:
    """Exact Shapley values from the value of every subset (keys: sorted tuples)."""
    v = value if callable(value) else value.__getitem__
    phi = [0.0] * n
    for i in range(n):
        others = [j for j in range(n) if j != i]
        for k in range(n):
            weight = math.factorial(k) * math.factorial(n - k - 1) / math.factorial(n)
            for s in itertools.combinations(others, k):
                phi[i] += weight * (v(tuple(sorted((*s, i)))) - v(s))
    return phi


def sample_orderings(n: int, count: int, rng: np.random.Generator) -> list[Subset]:
    """``count`` orderings of ``range(n)`` (rounded up to even), in antithetic pairs."""
    if n < 1 or count < 2:
        raise ValueError(f"need at least one reform and two orderings, got n={n}, count={count}")
    orderings: list[Subset] = []
    for _ in range((count + 1) // 2):
        order = tuple(int(i) for i in rng.permutation(n))
        orderings += [order, order[::-1]]
    return orderings


def feasible_ordering(order: Subset, feasible: Callable[[Subset], bool]) -> bool:
    """Whether every prefix of ``order`` can be built (a change may need another first)."""
    return all(feasible(tuple(sorted(order[:k]))) for k in range(1, len(order) + 1))


def sample_feasible_orderings(n: int, count: int, rng: np.random.Generator,
                              feasible: Callable[[Subset], bool], tries: int | None = None) -> list[Subset]:
    """``count`` (rounded up to even) independent orderings, uniform over those in which every
    change comes after the changes it needs (rejection of uniform permutations: the
    precedence-constrained Shapley value of Faigle and Kern 1992)."""
    out: list[Subset] = []
    tries = 100 * count + 1_000 if tries is None else tries
    for _ in range(tries):
        order = tuple(int(i) for i in rng.permutation(n))
        if feasible_ordering(order, feasible):
            out.append(order)
            if len(out) >= 2 * ((count + 1) // 2):
                return out
    raise ValueError(f"fewer than {count} of {tries} random orderings can be built step by step; "
                     "the changes depend on each other too much to sample")


def all_feasible_orderings(n: int, feasible: Callable[[Subset], bool]) -> list[Subset]:
    """Every ordering whose prefixes can all be built (depth first; for n <= 8)."""
    out: list[Subset] = []

    def extend(order: Subset) -> None:
        if len(order) == n:
            out.append(order)
            return
        for i in range(n):
            if i not in order and feasible(tuple(sorted((*order, i)))):
                extend((*order, i))
    extend(())
    return out


def ordering_shapley(n: int, value: dict[Subset, float] | Callable[[Subset], float],
                     orderings: list[Subset]) -> list[float]:
    """The mean contribution over the given orderings: with every feasible ordering, the exact
    precedence-constrained Shapley value (the classic one when all orderings are feasible)."""
    v = value if callable(value) else value.__getitem__
    return [float(x) for x in np.mean([contributions(order, v) for order in orderings], axis=0)]


def prefixes(orderings: Iterable[Subset]) -> set[Subset]:
    """Every subset the orderings pass through (sorted tuples), the empty and the full one too."""
    out: set[Subset] = set()
    for order in orderings:
        for k in range(len(order) + 1):
            out.add(tuple(sorted(order[:k])))
    return out


def contributions(order: Subset, value: Callable[[Subset], float]) -> np.ndarray:
    """Each reform's marginal contribution along one ordering (indexed by reform)."""
    out = np.zeros(len(order))
    before = value(())
    for k, i in enumerate(order):
        after = value(tuple(sorted(order[: k + 1])))
        out[i] = after - before
        before = after
    return out


def sampled_shapley(n: int, value: dict[Subset, float] | Callable[[Subset], float],
                    orderings: list[Subset], level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Estimated Shapley values and the half-widths of their ``level`` confidence intervals,
    from antithetic pairs of orderings (as ``sample_orderings`` gives them)."""
    if len(orderings) < 2 or len(orderings) % 2:
        raise ValueError("orderings must come in antithetic pairs (an even number, at least 2)")
    v = value if callable(value) else value.__getitem__
    per_order = np.array([contributions(order, v) for order in orderings]).reshape(-1, 2, n)
    pairs = per_order.mean(axis=1)
    mean = pairs.mean(axis=0)
    k = len(pairs)
    if k < 2:
        return mean, np.full(n, math.nan)
    half = stats.t.ppf(0.5 + level / 2, k - 1) * pairs.std(axis=0, ddof=1) / math.sqrt(k)
    return mean, half
