"""``calibrate`` (issue 14, item 2): recovers known parameters from targets the model itself
produced, and writes a file a scenario loads (with --set still winning)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sim.experiments.api import run_scenario
from sim.experiments.calibration import fit, load_calibration, write_calibration
from sim.experiments.executors import executor_for
from sim.outputs.kpis import flatten
from sim.scenario.loading import load_scenario
from tests.conftest import ROOT, TINY

DAYS, REPS = 30, 2


def synthetic(tmp_path: Path, truth: dict[str, float], kpis: list[str]) -> dict[str, float]:
    """The replication means the model gives at ``truth`` (the targets to recover it from)."""
    (tmp_path / "tiny.toml").write_text(TINY)
    runs = [flatten(run_scenario(tmp_path / "tiny.toml", seed=1 + r, scale=1.0, days=DAYS,
                                 overrides=truth).kpis) for r in range(REPS)]
    return {k: sum(run[k] for run in runs) / REPS for k in kpis}


def write_config(tmp_path: Path, params: dict[str, tuple[float, float]], targets: dict[str, float]) -> Path:
    lines = ['scenario = "tiny.toml"', f"reps = {REPS}", "scale = 1.0", f"days = {DAYS}", "max_trials = 60",
             'output = "fitted.toml"']
    for name, (low, high) in params.items():
        lines += [f'[parameters."{name}"]', f"range = [{low}, {high}]"]
    for name, value in targets.items():
        lines += [f'[targets."{name}"]', f"value = {value!r}", 'fact = "synthetic"']
    path = tmp_path / "calibrate.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_one_parameter_is_recovered(tmp_path: Path) -> None:
    """Hand-off delay 5 h produced the mean personal resolution time; from the range 1-12 h the
    fit finds 5 h within 0.25 h (common seeds make the loss zero at the truth)."""
    kpi = "resolution_hours.personal.mean"
    targets = synthetic(tmp_path, {"handoff.delay_hours": 5.0}, [kpi])
    cal = load_calibration(write_config(tmp_path, {"handoff.delay_hours": (1.0, 12.0)}, targets))
    with executor_for(1) as executor:
        result = fit(cal, executor)
    assert result["values"]["handoff.delay_hours"] == pytest.approx(5.0, abs=0.25)
    assert result["kpis"][kpi] == pytest.approx(targets[kpi], rel=0.02)


def test_two_parameters_are_recovered(tmp_path: Path) -> None:
    """Delay 6 h and misrouting 15 % from two targets (personal resolution time, bounces per
    request): Nelder-Mead finds both within a tenth of their ranges."""
    kpis = ["resolution_hours.personal.mean", "bounces_per_request"]
    truth = {"handoff.delay_hours": 6.0, "handoff.misroute_share": 0.15}
    targets = synthetic(tmp_path, truth, kpis)
    ranges = {"handoff.delay_hours": (1.0, 12.0), "handoff.misroute_share": (0.0, 0.4)}
    cal = load_calibration(write_config(tmp_path, ranges, targets))
    with executor_for(2) as executor:
        result = fit(cal, executor)
    for name, value in truth.items():
        low, high = ranges[name]
        assert result["values"][name] == pytest.approx(value, abs=0.1 * (high - low)), name


def test_a_scenario_loads_its_calibration_and_set_still_wins(tmp_path: Path) -> None:
    kpi = "resolution_hours.personal.mean"
    targets = synthetic(tmp_path, {"handoff.delay_hours": 3.0}, [kpi])
    cal = load_calibration(write_config(tmp_path, {"handoff.delay_hours": (1.0, 12.0)}, targets))
    with executor_for(1) as executor:
        path = write_calibration(cal, fit(cal, executor))
    text = path.read_text()
    assert "synthetic" in text and "calibrated" in text
    (tmp_path / "calibrated.toml").write_text('extends = "tiny.toml"\nname = "c"\n'
                                              'calibration = "fitted.toml"\n')
    fitted = load_scenario(tmp_path / "calibrated.toml")["handoff"]["delay_hours"]
    assert fitted == pytest.approx(3.0, abs=0.25) and fitted != 2.0
    overridden = load_scenario(tmp_path / "calibrated.toml", {"handoff.delay_hours": 9.0})
    assert overridden["handoff"]["delay_hours"] == 9.0


def test_bad_calibration_files_get_one_line(tmp_path: Path) -> None:
    (tmp_path / "tiny.toml").write_text(TINY)
    (tmp_path / "bad.toml").write_text('scenario = "tiny.toml"\noutput = "o.toml"\n'
                                       '[parameters."handoff.delay_hours"]\nrange = [5, 1]\n'
                                       '[targets."staff_cost"]\nvalue = 1.0\n')
    proc = subprocess.run([sys.executable, str(ROOT / "run.py"), "calibrate", str(tmp_path / "bad.toml")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "parameters.handoff.delay_hours.range" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    (tmp_path / "gone.toml").write_text('extends = "tiny.toml"\ncalibration = "nowhere.toml"\n')
    with pytest.raises(Exception, match="no such file"):
        load_scenario(tmp_path / "gone.toml")
