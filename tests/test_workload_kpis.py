"""Workload KPIs: hours of request work per staff member per week, and the upward burden (M1),
checked against independent computations and the request catalogue's expected volumes."""

from __future__ import annotations

import numpy as np
import pytest

import sim
from tests.conftest import SCENARIOS

FOUR_WEEKS = {"simulation.warmup_days": 28}  # so the window is whole weeks (below)


@pytest.fixture(scope="module")
def runs() -> dict[str, dict]:
    return {name: sim.run_scenario(SCENARIOS / f"{name}.toml", seed=2, scale=0.005, days=196,
                                   overrides=FOUR_WEEKS).kpis
            for name in ("township", "longgang-2021")}


@pytest.fixture(scope="module")
def runs_requests_only() -> dict[str, dict]:
    return {name: sim.run_scenario(SCENARIOS / f"{name}.toml", seed=2, scale=0.005, days=196,
                                   overrides={"simulation.working_day": False, **FOUR_WEEKS}).kpis
            for name in ("township", "longgang-2021")}


@pytest.mark.parametrize("name", ["township", "longgang-2021"])
def test_hours_worked_agree_with_utilisation(runs: dict[str, dict], runs_requests_only: dict[str, dict],
                                             name: str) -> None:
    """Two computations: staff minutes of work per head per week, and busy / open server minutes
    times the hours at work per head (contract less leave, plus overtime; the 40-hour contract
    without a working day). They agree only if the server bookkeeping (duties and overtime
    included) is right. The KPI window (196 - 28 warm-up days) is 24 whole weeks, so open time
    and calendar weeks match exactly."""
    for kpis, at_work in ((runs[name], None), (runs_requests_only[name], 40.0)):
        by_unit = kpis["hours_worked_per_week"]["by_unit"]
        assert len(by_unit) > 5
        for unit, hours in by_unit.items():
            available = at_work or kpis["hours_at_work_per_week"]["by_unit"][unit]
            assert hours == pytest.approx(kpis["utilisation_by_unit"][unit] * available, rel=1e-9), unit
    # levels: hours weigh unit kinds by headcount, utilisation by (whole) servers; close, not equal
    kpis = runs_requests_only[name]
    for level, hours in kpis["hours_worked_per_week"]["by_level"].items():
        assert hours == pytest.approx(kpis["staff_utilisation"][level] * 40.0, rel=0.05), level


@pytest.mark.parametrize("name", ["township", "longgang-2021"])
def test_upward_burden_matches_the_catalogue(runs: dict[str, dict], name: str) -> None:
    kpis = runs[name]
    burden = kpis["upward_burden"]
    scenario = sim.load_scenario(SCENARIOS / f"{name}.toml")
    divisions = scenario["population"]["upper_divisions"]
    assert burden["divisions_per_cadre"] == pytest.approx(divisions / burden["cadres"])
    # upper tasks: yearly rate x divisions (social_transfer and reforms do not touch them);
    # Poisson count over ~170 days of about 4,500: sd about 1.5 %
    expected = scenario["requests"]["upper_task"]["rate_per_year"] * divisions / burden["cadres"]
    assert burden["tasks_per_cadre_per_year"] == pytest.approx(expected, rel=0.06)


def test_modules_concentrate_the_upward_burden(runs: dict[str, dict]) -> None:
    """M1: the flat design answers the same divisions with fewer units and fewer cadres, so each
    cadre faces more divisions (2-3 each in the reference city)."""
    town, flat = runs["township"]["upward_burden"], runs["longgang-2021"]["upward_burden"]
    assert flat["facing_units"] < town["facing_units"]
    assert flat["divisions_per_cadre"] > town["divisions_per_cadre"]


def test_per_capita_figures_compare_counties_of_different_sizes(tmp_path) -> None:
    """A county three times larger creates three times the matters (a raw count says it is
    busier); per 1,000 residents a year both create what the catalogue's rates say (within 4 %,
    Poisson counts of about 2,000 and 6,000)."""
    import math

    from sim.city.model import GovernanceModel
    from sim.outputs.kpis import build_tables, compute_kpis
    from sim.scenario.loading import load_scenario
    from tests.conftest import TINY

    path = tmp_path / "tiny.toml"
    path.write_text(TINY)
    out = {}
    for residents in (2000, 6000):
        config = load_scenario(path, {"population.residents": residents, "simulation.days": 200})
        model = GovernanceModel(config, seed=3)
        model.run(200)
        tables = build_tables(model)
        kpis = compute_kpis(model, tables)
        expected = sum(k["rate_per_year"] for k in config["requests"].values() if k["origin"] == "resident")
        resident_kinds = [k.index for k in model.kinds if k.origin == "resident"]
        per = kpis["per_capita"]
        rate = per["resident_requests_per_1000_residents_per_year"]
        assert rate == pytest.approx(1000 * expected, rel=0.04)
        assert per["staff_per_10000_residents"] == pytest.approx(kpis["staff_total"] / residents * 10_000)
        created = int(np.isin(tables.kind, resident_kinds).sum())
        out[residents] = (created, per["resident_requests_per_1000_residents_per_year"])
    assert out[6000][0] > 2.5 * out[2000][0]
    assert math.isclose(out[6000][1], out[2000][1], rel_tol=0.06)


def test_f13_counts_only_what_a_community_may_decide(tmp_path) -> None:
    """A tiny county whose centre and grids know enough to settle every personal matter and
    incident; firm permits still go to a department, which no community may decide. The old
    share (everything but upper tasks) says the community falls short; F13's share is 1."""
    from sim.city.model import GovernanceModel
    from sim.outputs.kpis import build_tables, compute_kpis
    from sim.scenario.loading import load_scenario
    from tests.conftest import TINY

    path = tmp_path / "tiny.toml"
    path.write_text(TINY)
    able = {"simulation.days": 60, "units.centre.knowledge": 100.0, "units.grid.knowledge": 100.0,
            "handoff.misroute_share": 0.0}
    model = GovernanceModel(load_scenario(path, able), seed=2)
    model.run(60)
    kpis = compute_kpis(model, build_tables(model))
    assert kpis["share_grassroots_resolved_community_or_below"] == 1.0
    assert kpis["share_resolved_community_or_below"] < 0.99
