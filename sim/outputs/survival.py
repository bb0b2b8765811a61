"""Resolution times with open requests counted: the Kaplan-Meier estimator.

Why: a mean over resolved requests alone leaves out the ones still open at the end of the run,
which are the slow ones, so a design that falls behind looks faster the more it leaves open.
An open request is right-censored: it took at least (end of run - creation). Kaplan and Meier
(1958) estimate the share still open after t days from every request, resolved or not, so the
median and the 90th percentile are honest whenever the estimate falls that low; the restricted
mean (the area under the curve up to the longest follow-up) is the mean time to resolution
within that horizon. Where the curve never falls to 50 %, the median is reported as None
("more than the horizon"), never guessed.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def kaplan_meier(durations: np.ndarray, resolved: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct event times and the estimated share still open just after each.

    Args:
        durations: time from creation to resolution, or to the end of follow-up when open.
        resolved: True where the request was resolved (False: censored).
    """
    durations = np.asarray(durations, dtype=float)
    resolved = np.asarray(resolved, dtype=bool)
    if len(durations) == 0:
        return np.zeros(0), np.zeros(0)
    order = np.argsort(durations)  # (any order of ties: they are counted together)
    return _kaplan_meier_sorted(durations[order], resolved[order])


def _kaplan_meier_sorted(d: np.ndarray, e: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``kaplan_meier`` of durations already in ascending order (as ``np.unique`` would find
    the distinct times and their first rows, without sorting again)."""
    if len(d) == 0:
        return np.zeros(0), np.zeros(0)
    starts = np.empty(len(d), dtype=bool)
    starts[0] = True
    np.not_equal(d[1:], d[:-1], out=starts[1:])
    first = np.flatnonzero(starts)
    times = d[first]
    at_risk = len(d) - first
    events = np.add.reduceat(e.astype(float), first)
    keep = events > 0
    survival = np.cumprod(1.0 - events[keep] / at_risk[keep])
    return times[keep], survival


def quantile(times: np.ndarray, survival: np.ndarray, q: float) -> float | None:
    """The first time by which a share ``q`` is resolved; None if the curve never gets there."""
    reached = np.flatnonzero(survival <= 1.0 - q + 1e-12)
    return float(times[reached[0]]) if len(reached) else None


def restricted_mean(times: np.ndarray, survival: np.ndarray, horizon: float) -> float:
    """Area under the share-still-open curve from 0 to ``horizon`` (mean time, capped there)."""
    edges = np.concatenate(([0.0], times[times < horizon], [horizon]))
    levels = np.concatenate(([1.0], survival[times < horizon]))
    return float(np.sum(np.diff(edges) * levels))


def resolution_summary(created: np.ndarray, resolved_at: np.ndarray, end: float, unit: float
                       ) -> dict[str, Any]:
    """Kaplan-Meier summary of requests created at ``created`` (NaN ``resolved_at`` = open at
    ``end``), in units of ``unit`` minutes: n, share open, median, 90th percentile, restricted
    mean and its horizon (the longest follow-up)."""
    return Resolutions(created, resolved_at, end, unit).summary()


class Resolutions:
    """Durations of a set of requests sorted once, so that the summary of any subset (a kind, a
    category) costs a pass, not a sort: the subset of a sorted set is sorted, and the estimate
    depends only on how many events and how many at risk there are at each distinct time, not on
    the order of tied ones, so each summary is exactly ``resolution_summary`` of that subset (and
    NumPy's unstable sort, vectorised, takes a quarter of the time of a stable one)."""

    def __init__(self, created: np.ndarray, resolved_at: np.ndarray, end: float, unit: float) -> None:
        done = ~np.isnan(resolved_at) & (resolved_at <= end)  # (a resolution past the end is open at it)
        durations = np.where(done, resolved_at - created, end - created) / unit
        self._order = np.argsort(durations)
        self._durations, self._done = durations[self._order], done[self._order]

    def summary(self, pick: np.ndarray | None = None) -> dict[str, Any]:
        """``resolution_summary`` of the requests where ``pick`` (a mask over the set; None: all)."""
        durations, done = self._durations, self._done
        if pick is not None:
            chosen = pick[self._order]
            durations, done = durations[chosen], done[chosen]
        return _summarise(durations, done)

    def summaries(self, group: np.ndarray, pick: np.ndarray, values: list[int]) -> dict[int, dict[str, Any]]:
        """``summary(pick & (group == v))`` for each of ``values``, from one stable sort of the
        picked requests' groups (each group's requests then lie together, in order of duration),
        not one pass over the whole set per group."""
        picked = np.flatnonzero(pick[self._order])
        codes = group[self._order][picked]
        by_group = picked[np.argsort(codes, kind="stable")]
        codes = np.sort(codes, kind="stable")
        durations, done = self._durations[by_group], self._done[by_group]
        out = {}
        for v in values:
            lo, hi = np.searchsorted(codes, v, side="left"), np.searchsorted(codes, v, side="right")
            out[v] = _summarise(durations[lo:hi], done[lo:hi])
        return out


def _summarise(durations: np.ndarray, done: np.ndarray) -> dict[str, Any]:
    if len(durations) == 0:
        return {"n": 0, "open_share": None, "median": None, "p90": None, "restricted_mean": None,
                "horizon": None}
    times, survival = _kaplan_meier_sorted(durations, done)
    horizon = float(durations.max())
    return {"n": len(durations), "open_share": float(1.0 - done.mean()),
            "median": quantile(times, survival, 0.5), "p90": quantile(times, survival, 0.9),
            "restricted_mean": restricted_mean(times, survival, horizon), "horizon": horizon}
