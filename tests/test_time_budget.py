"""The staff time budget: contract hours less leave is the time at work; request work and duties
(queued, see tests/test_workday.py) share it; hours worked turn server minutes back into staff
hours."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.city.structure import Structure
from sim.experiments.api import run_scenario
from sim.scenario.loading import load_scenario
from sim.scenario.schema import WORKING_DAYS_PER_YEAR

LEAVE = 25.0  # 10 % of working days away


@pytest.fixture
def budget_path(tiny_path: Path) -> Path:
    text = tiny_path.read_text().replace(
        '[units.section]\nlevel = "department"\nstaff = 2\n',
        f'[units.section]\nlevel = "department"\nstaff = 10\nleave_days = {LEAVE}\n')
    assert "leave_days" in text
    path = tiny_path.parent / "budget.toml"
    path.write_text(text)
    return path


def test_hours_at_work(budget_path: Path) -> None:
    structure = Structure.from_scenario(load_scenario(budget_path))
    section = next(k for k in structure.kinds if k.name == "section")
    at_work = 40.0 * (1 - LEAVE / WORKING_DAYS_PER_YEAR)
    assert section.contract_hours_at_work == pytest.approx(at_work) == pytest.approx(36.0)
    # budget conserved: at work + leave = the contract
    assert at_work + 40.0 * LEAVE / WORKING_DAYS_PER_YEAR == pytest.approx(40.0)
    index = structure.kinds.index(section)
    assert structure.kind_on_duty[index] == pytest.approx(10 * 36.0 / 40.0)  # office: open 40 h
    assert structure.kind_servers[index] == 9


def test_hours_worked_are_utilisation_times_hours_at_work(budget_path: Path) -> None:
    kpis = run_scenario(budget_path, seed=3, scale=1.0, days=28).kpis  # warm-up 0: four whole weeks
    utilisation = kpis["utilisation_by_unit"]["section"]
    hours = kpis["hours_worked_per_week"]["by_unit"]["section"]
    assert 0 < utilisation < 1
    assert hours == pytest.approx(utilisation * 36.0, rel=1e-9)
    assert hours <= 40.0 * (1 - LEAVE / WORKING_DAYS_PER_YEAR)  # no overtime allowed: never past it
