"""KPIs of residents' decisions (``sim.city.behaviour``): channels, follow-ups, satisfaction.

All are over the tracked matters created in the KPI window (satisfaction: those resolved in it),
per real resident; ``share_satisfied`` counts experiences scoring at least ``SATISFIED``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sim.scenario.behaviour_schema import CHANNELS
from sim.scenario.schema import CATEGORIES, LEVELS

SATISFIED = 0.5  # assumed: an experience scoring half or more counts as "satisfied" in a survey


def behaviour_kpis(model: Any, t: Any, lo: float, hi: float) -> dict[str, Any]:
    """The ``behaviour`` KPI block (see README: KPI reference)."""
    b = model.behaviour
    tr = b.tracked
    made = tr["created"] >= lo
    channel = tr["channel"][made]
    kind = tr["kind"][made]
    scored = (tr["resolved"] >= lo) & (tr["resolved"] <= hi) & ~np.isnan(tr["score"])
    score = tr["score"][scored]
    follow_ups = (t.category == CATEGORIES.index("follow_up")) & (t.created >= lo)
    return {
        "matters": int(made.sum()),
        "channel_share": _shares(channel),
        "channel_share_by_kind": {k.name: _shares(channel[kind == i]) for i, k in enumerate(b.kinds)},
        "online_share": _share(channel == CHANNELS.index("online")),
        "digital_access_share": float(b.digital.mean()) if len(b.digital) else None,
        "follow_ups": int(follow_ups.sum()),
        "follow_ups_per_matter": _mean(tr["repeats"][made]),
        "abandoned_share": _share(tr["abandoned"][made]),
        "community_share_by_channel": _community_share(t, tr, made, hi),
        "satisfaction": {
            "mean": _mean(score), "share_satisfied": _share(score >= SATISFIED),
            "by_channel": {c: _mean(score[tr["channel"][scored] == i]) for i, c in enumerate(CHANNELS)},
            "by_kind": {k.name: _mean(score[tr["kind"][scored] == i]) for i, k in enumerate(b.kinds)},
        },
        "residents_satisfaction_mean": _mean(b.satisfaction[~np.isnan(b.satisfaction)]),
        "expected_days_by_kind": {k.name: float(b.expectations.shared[:, i, 0, 0].mean())
                                  for i, k in enumerate(b.kinds)},
        "by_community": {
            "kind": b.community_kind,
            "satisfaction": _by_group(tr["community"][scored], score, b.expectations.shared.shape[0]),
            "online_share": _by_group(tr["community"][made],
                                      (channel == CHANNELS.index("online")).astype(float),
                                      b.expectations.shared.shape[0]),
        },
    }


def _community_share(t: Any, tr: Any, made: np.ndarray, hi: float) -> dict[str, float | None]:
    """Per channel: share of the tracked matters made in the window and resolved by its end that
    were resolved at community level or below (where a channel took matters: F12's measure)."""
    done = made & (tr["resolved"] <= hi)
    low = t.solved_level[tr["request"]] <= LEVELS.index("community")
    return {c: _share(low[done & (tr["channel"] == i)]) for i, c in enumerate(CHANNELS)}


def _shares(channel: np.ndarray) -> dict[str, float | None]:
    if not len(channel):
        return {c: None for c in CHANNELS}
    counts = np.bincount(channel, minlength=len(CHANNELS))
    return {c: float(counts[i] / len(channel)) for i, c in enumerate(CHANNELS)}


def _share(mask: np.ndarray) -> float | None:
    return float(mask.mean()) if len(mask) else None


def _mean(values: np.ndarray) -> float | None:
    return float(np.mean(values)) if len(values) else None


def _by_group(group: np.ndarray, values: np.ndarray, n: int) -> list[float | None]:
    count = np.bincount(group, minlength=n)
    total = np.bincount(group, weights=values, minlength=n)
    return [float(total[i] / count[i]) if count[i] else None for i in range(n)]
