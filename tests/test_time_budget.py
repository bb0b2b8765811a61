"""The staff time budget: contract hours less leave and duties is what is left for requests;
hours worked add the duties back; a budget with nothing left for requests is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.city.structure import Structure
from sim.cli import main
from sim.experiments.api import run_scenario
from sim.scenario.loading import load_scenario
from sim.scenario.schema import WORKING_DAYS_PER_YEAR

LEAVE, DUTIES = 25.0, 8.0  # 10 % of working days away; a working day a week of duties


@pytest.fixture
def budget_path(tiny_path: Path) -> Path:
    text = tiny_path.read_text().replace(
        '[units.section]\nlevel = "department"\nstaff = 2\n',
        f'[units.section]\nlevel = "department"\nstaff = 10\nleave_days = {LEAVE}\n'
        f'duty_hours_per_week = {DUTIES}\n')
    assert "duty_hours_per_week" in text
    path = tiny_path.parent / "budget.toml"
    path.write_text(text)
    return path


def test_hours_left_for_requests(budget_path: Path) -> None:
    structure = Structure.from_scenario(load_scenario(budget_path))
    section = next(k for k in structure.kinds if k.name == "section")
    left = (40.0 - DUTIES) * (1 - LEAVE / WORKING_DAYS_PER_YEAR)
    assert section.request_hours_per_week == pytest.approx(left) == pytest.approx(28.8)
    # budget conserved: requests + duties + leave = the contract
    assert left + section.duty_hours_worked + 40.0 * LEAVE / WORKING_DAYS_PER_YEAR == pytest.approx(40.0)
    index = structure.kinds.index(section)
    assert structure.kind_on_duty[index] == pytest.approx(10 * 28.8 / 40.0)  # office: open 40 h
    assert structure.kind_servers[index] == 7


def test_hours_worked_add_duties_to_request_work(budget_path: Path) -> None:
    kpis = run_scenario(budget_path, seed=3, scale=1.0, days=28).kpis  # warm-up 0: four whole weeks
    utilisation = kpis["utilisation_by_unit"]["section"]
    hours = kpis["hours_worked_per_week"]["by_unit"]["section"]
    duties = DUTIES * (1 - LEAVE / WORKING_DAYS_PER_YEAR)
    assert 0 < utilisation < 1
    assert hours == pytest.approx(utilisation * 28.8 + duties, rel=1e-9)
    assert hours <= 40.0 * (1 - LEAVE / WORKING_DAYS_PER_YEAR)  # no overtime yet: never past the budget


def test_no_time_left_is_refused(budget_path: Path, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "over.toml"
    text = budget_path.read_text().replace(f"duty_hours_per_week = {DUTIES}", "duty_hours_per_week = 40.0")
    path.write_text(text)
    code = main(["run", str(path), "--days", "2", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and "units.section.duty_hours_per_week" in err and "no time for requests" in err
