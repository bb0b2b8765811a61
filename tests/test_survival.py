"""Resolution times with open requests counted (issue 14, item 4): the Kaplan-Meier summary
against the analytic answer where the mean over resolved requests is wrong."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.city.model import GovernanceModel
from sim.outputs.kpis import build_tables, compute_kpis
from sim.outputs.survival import Resolutions, kaplan_meier, quantile, resolution_summary, restricted_mean
from sim.scenario.loading import load_scenario
from tests.conftest import SCENARIOS


def test_without_censoring_it_is_the_empirical_distribution() -> None:
    d = np.array([3.0, 1.0, 2.0, 2.0, 5.0])
    times, surv = kaplan_meier(d, np.ones(5, dtype=bool))
    assert times.tolist() == [1.0, 2.0, 3.0, 5.0]
    assert surv == pytest.approx([0.8, 0.4, 0.2, 0.0])
    assert quantile(times, surv, 0.5) == 2.0
    assert restricted_mean(times, surv, 5.0) == pytest.approx(d.mean())


def test_the_textbook_example() -> None:
    """Censored at 3 and 5 (+): survival 5/6, then x 3/4 at 4, x 1/2 at 6, 0 at 8."""
    d = np.array([1.0, 3.0, 4.0, 5.0, 6.0, 8.0])
    times, surv = kaplan_meier(d, np.array([True, False, True, False, True, True]))
    assert times.tolist() == [1.0, 4.0, 6.0, 8.0]
    assert surv == pytest.approx([5 / 6, 5 / 6 * 3 / 4, 5 / 6 * 3 / 4 / 2, 0.0])


def test_a_backlog_that_fools_the_mean_of_resolved_requests() -> None:
    """Requests arrive uniformly over 100 days and take exponential times, mean 40 days; the run
    ends at day 100, so 0.4 (1 - exp(-2.5)) = 37 % are open. The mean over resolved requests is far below 40
    (the old definition: wrong); the Kaplan-Meier median is within 3 % of 40 ln 2 and the
    restricted mean within 3 % of its analytic value 40 (1 - exp(-100/40))."""
    rng = np.random.default_rng(7)
    n, mean = 40_000, 40.0
    created = rng.uniform(0, 100, n)
    took = rng.exponential(mean, n)
    resolved = np.where(created + took <= 100, created + took, np.nan)
    old = np.nanmean(resolved - created)
    assert old < 0.7 * mean
    km = resolution_summary(created, resolved, 100.0, 1.0)
    assert km["open_share"] == pytest.approx(0.4 * (1 - math.exp(-2.5)), abs=0.01)
    assert km["median"] == pytest.approx(mean * math.log(2), rel=0.03)
    horizon = km["horizon"]
    assert km["restricted_mean"] == pytest.approx(mean * (1 - math.exp(-horizon / mean)), rel=0.03)
    assert km["p90"] is None or km["p90"] == pytest.approx(mean * math.log(10), rel=0.05)


def test_a_curve_that_never_falls_to_half_reports_no_median() -> None:
    created = np.zeros(10)
    resolved = np.array([1.0, 2.0] + [np.nan] * 8)
    km = resolution_summary(created, resolved, 10.0, 1.0)
    assert km["median"] is None and km["open_share"] == pytest.approx(0.8)


def test_in_the_model_open_requests_lengthen_the_estimate() -> None:
    """staff-cut-only leaves registrations open at the end (issue 14): wherever a kind has open
    requests, the Kaplan-Meier median is at least the median of the resolved ones alone."""
    config = load_scenario(SCENARIOS / "staff-cut-only.toml", {"simulation.scale": 0.005,
                                                                "simulation.days": 120})
    model = GovernanceModel(config, seed=1)
    model.run(120)
    kpis = compute_kpis(model, build_tables(model))
    some_open = 0
    for kind, km in kpis["resolution_days_km_by_kind"].items():
        plain = kpis["resolution_hours_by_kind"][kind]
        if km["n"] == 0 or not km["open_share"]:
            continue
        some_open += 1
        if km["median"] is not None and plain["p50"] is not None:
            assert km["median"] >= plain["p50"] / 24.0 - 1e-9, kind
    assert some_open


def test_summaries_of_subsets_sorted_once_equal_each_subset_on_its_own() -> None:
    """``Resolutions`` sorts a set once and summarises masks of it: each summary must be exactly
    ``resolution_summary`` of that subset (ties and open requests included)."""
    rng = np.random.default_rng(4)
    n = 2_000
    created = np.round(rng.uniform(0, 50, n))  # whole days: many tied durations
    resolved = created + np.round(rng.exponential(5.0, n))
    resolved[rng.random(n) < 0.2] = np.nan  # open
    resolved[rng.random(n) < 0.05] = 70.0  # resolved after the end: open at it
    group = rng.integers(0, 4, n)
    km = Resolutions(created, resolved, 60.0, 1.0)
    for g in range(4):
        pick = group == g
        assert km.summary(pick) == resolution_summary(created[pick], resolved[pick], 60.0, 1.0)
    assert km.summary() == resolution_summary(created, resolved, 60.0, 1.0)
    assert km.summary(np.zeros(n, dtype=bool))["n"] == 0


def test_summaries_by_group_equal_one_summary_per_group() -> None:
    """One sort by group gives each group's summary exactly as a masked summary does (ties in
    duration, open requests, a group with nothing picked, a value no request has)."""
    rng = np.random.default_rng(8)
    n = 5_000
    created = np.round(rng.uniform(0, 100, n))
    resolved = np.where(rng.random(n) < 0.8, created + np.round(rng.exponential(10, n)), np.nan)
    group = rng.integers(0, 5, n)
    pick = (rng.random(n) < 0.7) & (group != 3)
    km = Resolutions(created, resolved, 120.0, 1.0)
    got = km.summaries(group, pick, [0, 1, 2, 3, 4, 9])
    for v in (0, 1, 2, 3, 4, 9):
        assert got[v] == km.summary(pick & (group == v)), v
    assert got[3]["n"] == 0 and got[9]["n"] == 0
