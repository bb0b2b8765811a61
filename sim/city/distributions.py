"""Service-time distributions that check their arguments and know their theoretical moments."""

from __future__ import annotations

import numpy as np


class ServiceTime:
    """Positive durations with a given mean and coefficient of variation.

    ``cv = 1`` is exponential, ``cv = 0`` fixed, otherwise gamma with shape ``1 / cv**2``
    (gamma keeps the mean and cv exact and covers both sides of exponential).

    Args:
        mean: mean duration (minutes), > 0.
        cv: coefficient of variation (standard deviation / mean), >= 0.
    """

    def __init__(self, mean: float, cv: float = 1.0) -> None:
        if not mean > 0:
            raise ValueError(f"mean must be > 0, got {mean}")
        if not cv >= 0:
            raise ValueError(f"cv must be >= 0, got {cv}")
        self.mean = float(mean)
        self.cv = float(cv)

    @property
    def variance(self) -> float:
        return (self.cv * self.mean) ** 2

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        if self.cv == 0:
            return np.full(size, self.mean)
        if self.cv == 1:
            return rng.exponential(self.mean, size)
        shape = 1.0 / self.cv**2
        return rng.gamma(shape, self.mean / shape, size)

    def __repr__(self) -> str:
        return f"ServiceTime(mean={self.mean:g}, cv={self.cv:g})"


def sample_durations(rng: np.random.Generator, means: np.ndarray, cv: float | np.ndarray) -> np.ndarray:
    """Durations with per-item means and one shared cv, or a cv per item (vectorised
    ``ServiceTime.sample``). Per item it is one gamma draw over the items that vary: gamma with
    shape 1 is the exponential draw for draw and cv 0 draws nothing, so a batch mixing cvs gets
    exactly the numbers that one call per cv, in the batch's order, would give."""
    if len(means) == 0:
        return np.zeros(0)
    if np.ndim(cv) == 0:
        return np.asarray(means, dtype=float) * ServiceTime(1.0, float(cv)).sample(rng, len(means))
    out = np.array(means, dtype=float)
    draw = cv > 0
    if draw.any():
        shape = 1.0 / cv[draw] ** 2
        out[draw] = out[draw] * rng.gamma(shape, 1.0 / shape)
    return out
