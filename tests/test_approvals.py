"""Approvals as work and waiting (``sim.city.approvals``).

* On an idle organisation an approval takes exactly its staff minutes, desk waits and hand-offs.
* Under load its time is a queueing network's: every leg of the file (the intake and one per
  desk) is an exponential job at the same first-come-first-served station, so by Kelly's
  theorem (fixed routes, class-independent exponential service) each visit's mean sojourn is
  that of an M/M/c queue fed by all visits, and the file's is the sum.
* Returned files follow the stated law, joint review passes the desks once, and with approval
  work switched off the review is done at the counter.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sim.city.approvals import RESUBMIT, REVIEW, VISIT
from sim.city.model import GovernanceModel
from sim.engine.calendars import DAY
from sim.scenario.loading import load_scenario
from tests.theory_helpers import mmc_mean_wait

SCENARIO = """
name = "approvals"
[population]
residents = 100
[simulation]
days = {days}
warmup_days = {warmup}
working_day = false
approval_work = {approval_work}
[functions]
f1 = "first step"
f2 = "second step"
f3 = "a step no request takes"
[calendars.office]            # the review calendar too: a working day is 24 h here
open_hour = 0.0
close_hour = 24.0
work_days = [0, 1, 2, 3, 4, 5, 6]
[handoff]
delay_hours = {delay_hours}
delay_cv = 0.0
desk_days = {desk_days}
misroute_share = 0.0
[units.window_a]
level = "department"
staff = {staff}
hours_per_week = 168.0
knowledge = 10.0
functions = ["f1"{a_extra}]
review_stages = {stages}
joint_review = {joint}
[units.window_b]
level = "department"
staff = {staff}
hours_per_week = 168.0
knowledge = 10.0
functions = {b_functions}
review_stages = {stages}
[requests.r]
category = "firm"
origin = "resident"
rate_per_year = {rate}
complexity = 0.01
service_minutes = {service}
service_cv = {cv}
visit_minutes = {visit}
in_person = true
authority = ["department"]
steps = {steps}
review_minutes = {review}
lead_days = {lead}
correction_share = {share}
correction_days = {fix_days}
arrival_calendar = "always"
"""


def build(tmp_path: Path, **values: Any) -> dict[str, Any]:
    settings = dict(days=40, warmup=0, approval_work="true", delay_hours=0.0, desk_days=0.0, staff=50,
                    a_extra="", b_functions='["f2"]', stages=1, joint="false", rate=1.0, service=5.0,
                    cv=0.0, visit=0.0,
                    steps='["f1", "f2"]', review="[10.0, 20.0]", lead="[0.0, 0.0]", share=0.0,
                    fix_days=0.0)
    settings.update(values)
    path = tmp_path / "approvals.toml"
    path.write_text(SCENARIO.format(**settings), encoding="utf-8")
    return load_scenario(path)


def run(scenario: dict[str, Any], seed: int = 1) -> GovernanceModel:
    model = GovernanceModel(scenario, seed=seed)
    model.run(scenario["simulation"]["days"])
    return model


def durations_minutes(model: GovernanceModel) -> np.ndarray:
    """Creation to resolution of every request resolved by the end of the run."""
    log = model.engine.log()
    created = model.requests().created
    done = log.ready <= model.day * DAY
    return (log.ready - created)[done]


def test_idle_approval_takes_its_work_desk_waits_and_handoffs(tmp_path: Path) -> None:
    """Two steps at two windows, two desks each, fixed times, no queueing (50 servers, a request
    a few days): service + visit at each window, the review split over the desks, a desk wait
    before each desk, one hand-off between the windows."""
    scenario = build(tmp_path, stages=2, visit=4.0, delay_hours=3.0, desk_days=0.5)
    model = run(scenario)
    times = durations_minutes(model)
    assert len(times) > 5
    expected = (5 + 4) + 10 + 2 * 0.5 * DAY + 3 * 60 + (5 + 4) + 20 + 2 * 0.5 * DAY
    np.testing.assert_allclose(times, expected, rtol=0, atol=1e-6)
    legs = model.legs()
    per_request = np.bincount(legs.request)
    assert set(per_request) == {6}  # a visit and two desks at each window
    assert not legs.trip[legs.role == REVIEW].any()
    assert legs.trip[legs.role == VISIT].all()


def test_statutory_waits_follow_the_last_desk_and_overlap_under_joint_review(tmp_path: Path) -> None:
    """Both steps at one window: reviewed one after another, each through the desks, the waits
    add up; under joint review one pass through the desks, the longest wait counts."""
    common = dict(a_extra=', "f2"', b_functions='["f3"]', stages=2, steps='["f1", "f2"]', lead="[1.0, 3.0]")
    sequential = run(build(tmp_path, joint="false", **common))
    assert set(np.bincount(sequential.legs().request)) == {5}  # one visit, 2 x 2 desks
    np.testing.assert_allclose(durations_minutes(sequential), 5 + 5 + 30 + (1 + 3) * DAY, atol=1e-6)
    joint = run(build(tmp_path, joint="true", **common))
    assert set(np.bincount(joint.legs().request)) == {3}  # one visit, the desks once
    np.testing.assert_allclose(durations_minutes(joint), 5 + 5 + 30 + 3 * DAY, atol=1e-6)


def test_switched_off_the_review_is_done_at_the_counter(tmp_path: Path) -> None:
    model = run(build(tmp_path, approval_work="false", stages=3, desk_days=2.0, share=0.5))
    legs = model.legs()
    assert not legs.role.any()
    np.testing.assert_allclose(np.bincount(legs.request, weights=legs.service), 5 + 10 + 5 + 20)


def test_returned_files_follow_the_geometric_law(tmp_path: Path) -> None:
    """Each desk returns a file with probability q, at most twice: returns per desk have mean
    q + q^2; each return costs the fixing days, a resubmission and a second review."""
    q, desks = 0.3, 4  # two windows x two desks
    model = run(build(tmp_path, stages=2, share=q, fix_days=1.0, rate=40.0, days=60))
    legs = model.legs()
    n = len(model.requests().created)
    returns = (legs.role == RESUBMIT).sum()
    per_desk = np.bincount(legs.request, weights=legs.role == RESUBMIT) / desks
    mean, sd = q + q**2, per_desk.std() / math.sqrt(n) * math.sqrt(desks)
    assert abs(returns / (n * desks) - mean) < 4 * sd + 0.01
    assert (legs.role == REVIEW).sum() == n * desks + returns  # every return is reviewed again
    assert np.all(np.bincount(legs.request, weights=legs.role == RESUBMIT) <= 2 * desks)


@pytest.mark.parametrize("servers, load", [(1, 0.6), (3, 0.8)])
def test_time_under_load_matches_kelly_network(tmp_path: Path, servers: int, load: float) -> None:
    """One step at one window with two desks: intake and both reviews exponential with the same
    mean m, so the window is one FCFS M/M/c station visited three times per file (Kelly's
    theorem: product form for fixed routes with class-independent exponential service).
    Mean file time = 3 x (Wq(3 lambda, m, c) + m). Tolerance 7 % of the mean over 4
    replications of 150 days (20-day warm-up), files created after the warm-up."""
    m = 30.0
    arrivals = load * servers / (3 * m)  # per minute
    rate = arrivals * DAY * 365.0 / 100
    scenario = build(tmp_path, staff=servers, stages=2, steps='["f1"]', review=f"[{2 * m}]",
                     lead="[0.0]", service=m, cv=1.0, rate=rate, days=150, warmup=20)
    means = []
    for seed in range(1, 5):
        model = run(scenario, seed)
        log = model.engine.log()
        created = model.requests().created
        pick = (created >= 20 * DAY) & (log.ready <= model.day * DAY)
        means.append(float((log.ready - created)[pick].mean()))
    theory = 3 * (mmc_mean_wait(3 * arrivals, m, servers) + m)
    assert abs(np.mean(means) - theory) <= 0.07 * theory, (means, theory)
