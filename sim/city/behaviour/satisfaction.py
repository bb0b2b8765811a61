"""Satisfaction with each experience (issue 13, item 3).

Expectation-disconfirmation (Oliver 1980; Van Ryzin 2004 for public services): an experience
pleases as far as it meets what the resident expected. Score in [0, 1]:

    exp(-max(0, days - expected days) / tolerance_days)
      x (1 - trip_penalty) ^ (trips beyond the first)
      x (1 - repeat_penalty) ^ (follow-ups the resident had to make)

and 0 for a matter the resident gave up chasing. A resident's satisfaction is the exponentially
smoothed score of their experiences (``memory``).
"""

from __future__ import annotations

from typing import Any

import numpy as np


def experience_score(cfg: dict[str, Any], days: np.ndarray, expected_days: np.ndarray, trips: np.ndarray,
                     repeats: np.ndarray, abandoned: np.ndarray) -> np.ndarray:
    late = np.maximum(days - expected_days, 0.0)
    score = (np.exp(-late / cfg["tolerance_days"])
             * (1 - cfg["trip_penalty"]) ** np.maximum(trips - 1, 0)
             * (1 - cfg["repeat_penalty"]) ** repeats)
    return np.where(abandoned, 0.0, score)
