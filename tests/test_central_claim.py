"""The central claim as an output: the fair control's allocation, and the claim computed end to
end on two small designs (the same city, one of them with merged sections)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from sim.experiments.central_claim import central_claim, fair_allocation, government_staff
from sim.experiments.executors import executor_for
from sim.experiments.validation import claim_rows
from sim.scenario.loading import load_scenario
from sim.scenario.toml_writer import dumps
from tests.conftest import SCENARIOS, TINY


def test_fair_allocation_spends_the_budget_as_the_structure_needs_it() -> None:
    config = load_scenario(SCENARIOS / "township.toml")
    required = {name: unit["staff"] for name, unit in config["units"].items()
                if unit["level"] not in ("grid", "social")}
    full = government_staff(config, required)
    floor = government_staff(config, {k: 1 for k in required})  # one person per unit
    for budget in (floor, (floor + full) // 2, full - 1, full):
        staff, met = fair_allocation(config, required, budget)
        assert met
        total = government_staff(config, staff)
        largest_count = max(config["units"][k]["count"] for k in required)
        assert budget - largest_count < total <= budget
        assert all(1 <= staff[k] <= required[k] for k in required)
        # one factor for all: a kind that needs more never gets fewer per unit
        by_need = sorted(required, key=lambda k: required[k])
        assert all(staff[a] <= staff[b] + 1 for a, b in itertools.pairwise(by_need))
    assert fair_allocation(config, required, full)[0] == required
    staff, met = fair_allocation(config, required, floor - 1)
    assert not met and government_staff(config, staff) == floor


@pytest.fixture
def two_designs(tmp_path: Path) -> Path:
    """'township': TINY; 'longgang-2021': TINY with the two department sections merged."""
    (tmp_path / "township.toml").write_text(TINY.replace('name = "tiny"', 'name = "township"'))
    merged = TINY.replace('name = "tiny"', 'name = "longgang-2021"') + (
        '\n[[reforms]]\nname = "modules"\n[reforms.modules.one_module]\n'
        'functions = ["certificate", "permit", "upper"]\nstaff = 3\nknowledge = 2.0\n')
    (tmp_path / "longgang-2021.toml").write_text(merged)
    (tmp_path / "targets").mkdir()
    (tmp_path / "targets" / "default.toml").write_text(
        '[capacity_use_max]\ndefault = 0.7\n[hours_worked_max]\ndefault = 40.0\n')
    return tmp_path


def test_claim_end_to_end(two_designs: Path, tmp_path: Path) -> None:
    with executor_for(1) as executor:
        claim = central_claim(two_designs, None, 2, 1, 1.0, 20, executor, 2_000)
    base, flat = claim["township"], claim["longgang-2021"]
    assert base["status"] == flat["status"] == "met"
    assert claim["ratio_required"] == pytest.approx(flat["staff_required"] / base["staff_required"])
    fair = claim["fair_control"]
    if fair["budget_met"]:
        assert fair["staff"] <= flat["staff_required"]
    assert claim["flat_at_required"]["missed"] == []  # the flat design at its answer meets its targets
    scenario = claim.pop("fair_scenario")
    assert scenario["name"] == "fair-control"
    assert government_staff(scenario, {}) == fair["staff"]
    path = tmp_path / "fair-control.toml"  # what validate --staffing writes runs as it stands
    path.write_text(dumps(scenario))
    assert government_staff(load_scenario(path), {}) == fair["staff"]
    rows = claim_rows(claim)
    assert [r["fact"] for r in rows] == ["F6", "claim", "claim"]
    assert rows[0]["simulated_mean"] == pytest.approx(claim["ratio_required"])
    assert all(isinstance(r["pass"], bool) for r in rows)


def test_a_check_on_a_kpi_the_run_lacks_fails_instead_of_crashing() -> None:
    """A presets folder without a working day has no hours at work: W1 and W2 read NaN and fail."""
    import math

    from sim.experiments.validation import CHECKS

    w1 = next(c for c in CHECKS if c.fact == "W1")
    value = w1.value({"township": [{"hours_worked_per_week": {}}]}, 0)
    assert math.isnan(value) and not w1.passes(value)
