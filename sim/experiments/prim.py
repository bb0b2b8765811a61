"""Scenario discovery with PRIM (Friedman and Fisher 1999): which assumptions make a conclusion fail.

Given the sampled assumptions ``x`` (rows: samples) and where the conclusion failed (``y``),
PRIM peels the box of all samples: at each step it cuts the ``alpha`` share of samples off
the one side of one assumption that raises the failure share inside the box most, until
fewer than ``min_support`` of the samples are left. Along this peeling trajectory it returns
the box of highest failure share (density) whose support is at least ``min_support``, with
its coverage (the share of all failures inside it), cutting at most ``max_dims``
assumptions. The box names only the assumptions it
restricts; a planner reads it as "the conclusion fails mostly when A > a and B < b".
This is the peeling step only (no pasting, no covering of several boxes), as EMA Workbench's
``prim`` starts with.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Box:
    lower: np.ndarray  # -inf where the box does not cut from below
    upper: np.ndarray  # +inf where it does not cut from above
    restricted: list[int]  # columns the box cuts
    density: float  # share of samples in the box where the conclusion fails
    coverage: float  # share of all failures that fall in the box
    support: float  # share of all samples in the box


def prim_box(x: np.ndarray, y: np.ndarray, alpha: float = 0.05, min_support: float = 0.1,
             max_dims: int = 3) -> Box | None:
    """The densest box of the peeling trajectory (see module docstring); None without failures.
    At most ``max_dims`` assumptions are cut: with a few hundred samples, deeper peels fit noise
    (every extra cut raises the density a little by chance) and no planner can read the box."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=bool)
    n, d = x.shape
    if not y.any():
        return None
    inside = np.ones(n, dtype=bool)
    lower, upper = np.full(d, -np.inf), np.full(d, np.inf)  # infinite: that side is not cut
    best = (y.mean(), lower.copy(), upper.copy(), inside.copy())
    while inside.sum() * (1 - alpha) >= min_support * n:
        choice = None
        cut_dims = [j for j in range(d) if np.isfinite(lower[j]) or np.isfinite(upper[j])]
        for j in (cut_dims if len(cut_dims) >= max_dims else range(d)):
            values = x[inside, j]
            for side, cut in (("low", np.quantile(values, alpha)), ("high", np.quantile(values, 1 - alpha))):
                keep = inside & ((x[:, j] > cut) if side == "low" else (x[:, j] < cut))
                if keep.sum() == inside.sum() or keep.sum() < min_support * n:
                    continue
                density = y[keep].mean()
                if choice is None or density > choice[0]:
                    choice = (density, j, side, cut, keep)
        if choice is None:
            break
        density, j, side, cut, keep = choice
        inside = keep
        if side == "low":
            lower[j] = cut
        else:
            upper[j] = cut
        if density > best[0]:
            best = (density, lower.copy(), upper.copy(), inside.copy())
    density, low, high, members = best
    restricted = [j for j in range(d) if np.isfinite(low[j]) or np.isfinite(high[j])]
    return Box(low, high, restricted, float(density), float(y[members].sum() / y.sum()),
               float(members.mean()))
