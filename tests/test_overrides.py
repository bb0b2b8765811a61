"""An override that a reform overwrites never vanishes silently: it is refused in one line,
the same way in every entry point; the README's EMA example moves its outcome; `show` prints
the scenario as it will run."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import sim
from sim.cli import main
from sim.errors import ScenarioError
from sim.scenario.loading import load_scenario
from tests.conftest import ROOT, SCENARIOS

FLAT = SCENARIOS / "longgang-2021.toml"
EXPECTED = ("handoff.delay_hours", "reforms[8] (platform)", "set reforms.platform.delay_hours instead")


def _assert_refused(text: str) -> None:
    for part in EXPECTED:
        assert part in text, (part, text)


def test_refused_by_load_and_evaluate() -> None:
    with pytest.raises(ScenarioError) as info:
        load_scenario(FLAT, {"handoff.delay_hours": 5.0})
    _assert_refused(info.value.one_line())
    with pytest.raises(ScenarioError) as info:
        sim.evaluate(FLAT, seed=1, scale=0.002, days=5, handoff__delay_hours=5.0)
    _assert_refused(info.value.one_line())


def test_refused_by_run_and_show(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("run", "show"):
        code = main([command, str(FLAT), "--set", "handoff.delay_hours=5", "--days", "3", "--scale", "0.002",
                     *(["--out", str(tmp_path / "o")] if command == "run" else [])])
        err = capsys.readouterr().err
        assert code == 2 and len(err.strip().splitlines()) == 1
        _assert_refused(err)
    assert not (tmp_path / "o").exists()


def test_refused_by_batch_sweep_and_sensitivity(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sweep = tmp_path / "sweep.toml"
    sweep.write_text(f'scenario = "{FLAT}"\noutputs = ["staff_cost"]\ndesign = "lhs"\nsamples = 4\n'
                     '[parameters."handoff.delay_hours"]\nrange = [0.5, 24.0]\n')
    for argv in (["batch", str(FLAT), "--sweep", str(sweep), "--reps", "1", "--out", str(tmp_path / "b")],
                 ["sensitivity", str(sweep), "--n", "4", "--out", str(tmp_path / "s")]):
        code = main([*argv, "--days", "3", "--scale", "0.002", "--workers", "1"])
        err = capsys.readouterr().err
        assert code == 2 and len(err.strip().splitlines()) == 1, err
        _assert_refused(err)
        assert str(sweep) in err


def test_kept_overrides_pass_and_act() -> None:
    """Keys no reform writes, and reform parameters, are applied (and change the scenario)."""
    scenario = load_scenario(FLAT, {"reforms.platform.delay_hours": 3.0, "units.leadership.knowledge": 9.0})
    assert scenario["handoff"]["delay_hours"] == 3.0
    assert scenario["units"]["leadership"]["knowledge"] == 9.0
    township = load_scenario(SCENARIOS / "township.toml", {"handoff.delay_hours": 5.0})
    assert township["handoff"]["delay_hours"] == 5.0  # no reform there: the plain key works
    scaled = load_scenario(FLAT, {"units.leadership.staff": 30})  # staff_share scales it: kept, scaled
    assert scaled["units"]["leadership"]["staff"] == round(30 * 0.67)


def test_removed_unit_is_refused_too() -> None:
    with pytest.raises(ScenarioError, match=r"reforms\[0\] \(remove_township_layer\)"):
        load_scenario(FLAT, {"units.township_office.staff": 3})


def test_readme_ema_example_moves_the_outcome() -> None:
    pytest.importorskip("ema_workbench")
    readme = (ROOT / "README.md").read_text()
    code = re.search(r"```python\n(from ema_workbench.*?)```", readme, re.S).group(1)
    assert "handoff__delay_hours" not in code
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)  # the example exactly as documented
    outcomes = namespace["outcomes"]["personal_hours"]
    delays = namespace["experiments"]["delay_hours"].to_numpy()
    assert len(set(outcomes.round(6))) == len(outcomes) == 8
    # common seed: the only difference is the delay, and a longer delay never helps
    order = delays.argsort()
    assert outcomes[order[-1]] > outcomes[order[0]]


def test_show_prints_a_runnable_resolved_scenario(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, str(ROOT / "run.py"), "show", str(FLAT),
                             "--set", "reforms.platform.delay_hours=0.5"],
                            capture_output=True, text=True, cwd=ROOT, check=True)
    assert "reforms[8] platform: delay_hours = 0.5" in result.stdout
    path = tmp_path / "resolved.toml"
    path.write_text(result.stdout)
    again = load_scenario(path)
    expected = load_scenario(FLAT, {"reforms.platform.delay_hours": 0.5})
    assert f"# calibrated values from {expected['calibration']} are written in" in result.stdout
    for scenario in (again, expected):
        scenario.pop("source")
        scenario.pop("reforms")
        scenario.pop("calibration")  # where the values came from: a comment in the resolved file
    assert again == expected
