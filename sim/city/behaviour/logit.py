"""Multinomial logit choice among alternatives with generalised costs.

Residents pick the alternative of least generalised cost plus a Gumbel taste shock of scale
``scale`` (McFadden 1974): P(j) = exp(V_j / scale) / sum_k exp(V_k / scale), V_j = constant_j -
cost_j; unavailable alternatives have probability 0.
"""

from __future__ import annotations

import numpy as np


def logit_shares(utility: np.ndarray, available: np.ndarray, scale: float) -> np.ndarray:
    """(n, J) choice probabilities from utilities (minutes) and availability."""
    v = np.where(available, utility / scale, -np.inf)
    v = v - v.max(axis=1, keepdims=True)
    w = np.exp(v)
    return w / w.sum(axis=1, keepdims=True)


def draw_choice(shares: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One alternative per row, drawn with the row's probabilities (one uniform each)."""
    if not len(shares):
        return np.zeros(0, dtype=np.int64)
    u = rng.random(len(shares))
    cumulative = np.cumsum(shares, axis=1)
    cumulative[:, -1] = 1.0  # rounding never leaves a draw past the last alternative
    return (u[:, None] >= cumulative).sum(axis=1).astype(np.int64)
