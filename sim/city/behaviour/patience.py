"""Patience and repeat contacts (issue 13, item 2).

Each resident has a patience in calendar days, drawn once (lognormal with the scenario's mean and
coefficient of variation; assumed: patience varies across people and is positive). A tracked
matter still open when it is older than patience x (follow-ups made + 1) makes its owner chase it:
a follow-up contact (a call to the unit that took it, then a complaint to supervision), up to
``max_repeats`` times; past that the resident gives up chasing (abandons). An abandoned matter is
still in the organisation's files and is still resolved: abandoning changes the resident, not the
queue.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sim.city.behaviour.tracking import Tracked
from sim.engine.calendars import DAY


def draw_patience(cfg: dict[str, Any], n: int, rng: np.random.Generator) -> np.ndarray:
    """Patience in days of ``n`` residents: lognormal with mean ``mean_days`` and CV ``cv``."""
    if cfg["cv"] == 0:
        return np.full(n, cfg["mean_days"])
    sigma2 = np.log1p(cfg["cv"] ** 2)
    return rng.lognormal(np.log(cfg["mean_days"]) - sigma2 / 2, np.sqrt(sigma2), n)


def due(tracked: Tracked, patience: np.ndarray, max_repeats: int,
        now: float) -> tuple[np.ndarray, np.ndarray]:
    """Open tracked rows whose owners chase them now (follow-up) and those who give up (abandon)."""
    rows = tracked.open[~tracked["abandoned"][tracked.open]]
    age_days = (now - tracked["created"][rows]) / DAY
    repeats = tracked["repeats"][rows]
    over = age_days > patience[tracked["resident"][rows]] * (repeats + 1)
    return rows[over & (repeats < max_repeats)], rows[over & (repeats >= max_repeats)]
