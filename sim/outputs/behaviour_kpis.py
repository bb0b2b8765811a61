"""KPIs of residents' decisions (``sim.city.behaviour``): channels, follow-ups, satisfaction.

All are over the tracked matters created in the KPI window (satisfaction: those resolved in it),
per real resident; ``share_satisfied`` counts experiences scoring at least ``SATISFIED``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sim.city.behaviour.patrols import FINDERS
from sim.engine.calendars import DAY
from sim.scenario.behaviour_schema import CHANNELS
from sim.scenario.schema import CATEGORIES, LEVELS

SATISFIED = 0.5  # assumed: an experience scoring half or more counts as "satisfied" in a survey


def behaviour_kpis(model: Any, t: Any, lo: float, hi: float) -> dict[str, Any]:
    """The ``behaviour`` KPI block (see README: KPI reference): residents' at its top, firms'
    under ``firms``."""
    out = {} if model.behaviour.residents is None else _residents(model.behaviour.residents, t, lo, hi)
    if model.behaviour.firms is not None:
        out["firms"] = _firms(model.behaviour.firms, lo, hi)
    if model.behaviour.patrols is not None:
        out["patrols"] = _patrols(model.behaviour.patrols, lo, hi)
    return out


def _patrols(p: Any, lo: float, hi: float) -> dict[str, Any]:
    """Incidents arising in the KPI window: who found them (or nobody), after how long, and the
    patrol time and passes the working day left the grids."""
    days = np.arange(len(p.log["found"]))
    window = (days * DAY >= lo) & (days * DAY < hi)
    found = np.sum(np.asarray(p.log["found"])[window], axis=0) if window.any() else np.zeros(len(FINDERS))
    total = found.sum()
    reported = total - found[FINDERS.index("unfound")]
    return {
        "incidents": int(total),
        "found_share": {name: float(found[i] / total) if total else None for i, name in enumerate(FINDERS)},
        "hours_to_report": (float(np.sum(np.asarray(p.log["delay_days"])[window]) * 24 / reported)
                            if reported else None),
        "patrol_hours_per_worker_day": _nanmean(np.asarray(p.log["patrol_hours"])[window]),
        "passes_per_day": _nanmean(np.asarray(p.log["passes"])[window]),
    }


def _nanmean(values: np.ndarray) -> float | None:
    values = values[~np.isnan(values)]
    return float(values.mean()) if len(values) else None


def _firms(f: Any, lo: float, hi: float) -> dict[str, Any]:
    """Market entities over the KPI window (growth per year, as F3), entries and exits a year,
    what founders expected at the end, and investment projects given up.

    ``growth_per_year`` counts registrations completed in the window, so a run whose window
    starts before the first registrations could finish (the township's take about 80 days)
    understates it; ``steady_growth_per_year`` counts registrations made instead (what growth
    tends to once completions catch up with them)."""
    day = np.asarray(f.log["day"])
    in_window = (day * DAY > lo) & (day * DAY <= hi)
    years = in_window.sum() / 365.0
    firms = np.asarray(f.log["firms"])
    before = firms[np.argmax(in_window) - 1] if np.argmax(in_window) > 0 else f.start
    end = firms[in_window][-1] if in_window.any() else f.start
    return {
        "market_entities_end": float(end),
        "growth_per_year": float((end / before) ** (1 / years) - 1) if years and before else None,
        "steady_growth_per_year": (float((np.asarray(f.log["registrations"])[in_window].sum()
                                          - np.asarray(f.log["exits"])[in_window].sum()) / years
                                         / firms[in_window].mean()) if years else None),
        "entries_per_year": float(np.asarray(f.log["entries"])[in_window].sum() / years) if years else None,
        "registrations_per_year": (float(np.asarray(f.log["registrations"])[in_window].sum() / years)
                                   if years else None),
        "exits_per_year": float(np.asarray(f.log["exits"])[in_window].sum() / years) if years else None,
        "entry_multiplier": f.multiplier(),
        "expected_procedures": float(f.expected[0, 0]),
        "expected_registration_days": float(f.expected[0, 1]),
        "projects_given_up_share": f.projects_given_up / f.projects_made if f.projects_made else None,
        "satisfaction": _firm_satisfaction(f, lo, hi),
    }


def _firm_satisfaction(f: Any, lo: float, hi: float) -> dict[str, float | None]:
    """Scores of registrations and projects that ended in the KPI window (given up: 0)."""
    day = np.asarray(f.scores["day"], dtype=float)
    score = np.asarray(f.scores["score"], dtype=float)
    project = np.asarray(f.scores["project"], dtype=bool)
    window = (day * DAY > lo) & (day * DAY <= hi)
    return {"mean": _mean(score[window]), "share_satisfied": _share(score[window] >= SATISFIED),
            "registration": _mean(score[window & ~project]), "project": _mean(score[window & project])}


def _residents(b: Any, t: Any, lo: float, hi: float) -> dict[str, Any]:
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
        "high_frequency_community_share_by_channel": _community_share(
            t, tr, made & np.array([k.high_frequency for k in b.kinds], dtype=bool)[tr["kind"]], hi),
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


def whistle_kpis(model: Any, t: Any, lo: float, hi: float) -> dict[str, Any]:
    """Summons (``behaviour.whistle``) arriving in the KPI window: how many, hours until the
    summoned officer took the matter up, the share within the deadline (summons still waiting
    past it count as missed), and residents' satisfaction with summoned matters (F14)."""
    cfg = model.whistle.cfg
    summons = t.leg_priority & (t.leg_arrive >= lo)
    waited = (t.leg_start[summons] - t.leg_arrive[summons]) / 60.0
    started = ~np.isnan(waited) & (t.leg_start[summons] <= hi)
    deadline = cfg["response_hours"]
    due = started | (t.leg_arrive[summons] + deadline * 60.0 <= hi)
    met = started & (waited <= deadline)
    out: dict[str, Any] = {"summons": int(summons.sum()), "response_hours": _mean(waited[started]),
                           "within_deadline": float(met[due].mean()) if due.any() else None}
    residents = model.behaviour.residents if model.behaviour is not None else None
    if residents is not None:
        tr = residents.tracked
        scored = (tr["whistled"] & (tr["resolved"] >= lo) & (tr["resolved"] <= hi) & ~np.isnan(tr["score"]))
        score = tr["score"][scored]
        out["satisfaction"] = {"n": int(scored.sum()), "mean": _mean(score),
                               "share_satisfied": _share(score >= SATISFIED)}
    return out
