"""Small statistics shared by validation, attribution and batch tables."""

from __future__ import annotations

import functools
import math

import numpy as np
from scipy import stats


@functools.lru_cache(maxsize=256)
def _t_quantile(p: float, dof: int) -> float:
    """Student-t quantile, once per (p, dof): SciPy's takes some 50 us a call, and a batch's
    summary asks it for each scenario, sweep point and KPI with the same few sample sizes."""
    return float(stats.t.ppf(p, dof))


def mean_ci(values: list[float] | np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """Mean and two-sided Student-t confidence interval (NaN bounds for a single value)."""
    x = np.asarray(values, dtype=float)
    mean = float(x.mean())
    if len(x) < 2:
        return mean, math.nan, math.nan
    half = float(_t_quantile(0.5 + level / 2, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x)))
    return mean, mean - half, mean + half
