"""Batches: same results whatever the executor, resumable, faults recorded; sweeps; sensitivity."""

from __future__ import annotations

import json
import math
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.experiments.api import evaluate
from sim.experiments.batch import batch_identity, plan_batch, run_batch
from sim.experiments.executors import executor_for
from sim.experiments.sensitivity import sobol_analysis
from sim.experiments.sweep import load_sweep
from tests.conftest import ROOT, TINY, run_cli

SWEEP = """
design = "grid"
[parameters."handoff.delay_hours"]
values = [0.5, 6.0]
[parameters."units.section.staff"]
values = [1, 3]
"""


@pytest.fixture
def batch_inputs(tmp_path: Path) -> tuple[Path, Path]:
    (tmp_path / "tiny.toml").write_text(TINY)
    (tmp_path / "sweep.toml").write_text(SWEEP)
    return tmp_path / "tiny.toml", tmp_path / "sweep.toml"


def _run(scenario: Path, sweep: Path, out: Path, workers: int | None = None, scheduler: str | None = None,
         reps: int = 2, days: int = 6) -> pd.DataFrame:
    points = load_sweep(sweep, 7).points
    specs = plan_batch([str(scenario)], reps, points, seed=7, scale=None, days=days)
    identity = batch_identity([str(scenario)], specs, points, reps, 7, None, days, str(sweep), True)
    with executor_for(workers, scheduler) as executor:
        run_batch(specs, out, executor, identity, progress=False)
    return pd.read_parquet(out / "runs.parquet")


def _content(frame: pd.DataFrame) -> pd.DataFrame:
    """Everything but wall-clock times, which no two runs share."""
    return frame.drop(columns=["wall_seconds"]).sort_values("run_id").reset_index(drop=True)


def test_same_results_on_one_worker_two_workers_and_a_dask_cluster(batch_inputs, tmp_path: Path) -> None:
    from distributed import LocalCluster

    scenario, sweep = batch_inputs
    one = _run(scenario, sweep, tmp_path / "one", workers=1)
    two = _run(scenario, sweep, tmp_path / "two", workers=2)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        dask = _run(scenario, sweep, tmp_path / "dask", scheduler=cluster.scheduler_address)
    assert len(one) == 8 and (one["status"] == "ok").all()
    assert one["kpi.requests_created"].nunique() > 1  # replications differ
    pd.testing.assert_frame_equal(_content(one), _content(two))
    pd.testing.assert_frame_equal(_content(one), _content(dask))


def test_summary_has_a_row_per_point_and_kpi(batch_inputs, tmp_path: Path) -> None:
    scenario, sweep = batch_inputs
    runs = _run(scenario, sweep, tmp_path / "b", workers=1)
    summary = pd.read_csv(tmp_path / "b" / "summary.csv")
    row = summary[(summary["point"] == 0) & (summary["kpi"] == "requests_created")].iloc[0]
    values = runs[runs["point"] == 0]["kpi.requests_created"]
    assert row["n"] == 2 and row["mean"] == pytest.approx(values.mean())
    assert row["ci95_low"] <= row["mean"] <= row["ci95_high"]
    meta = json.loads((tmp_path / "b" / "metadata.json").read_text())
    assert meta["status"] == "complete" and meta["runs_ok"] == 8 and len(meta["seeds"]) == 8


def test_seeds_do_not_depend_on_order_and_are_common_across_scenarios(batch_inputs, tmp_path: Path) -> None:
    scenario, _sweep = batch_inputs
    other = tmp_path / "other.toml"
    other.write_text(TINY.replace('name = "tiny"', 'name = "other"'))
    specs = plan_batch([str(scenario), str(other)], 2, [{}], seed=3, scale=None, days=2)
    by = {(s.scenario_name, s.rep): s.seed for s in specs}
    assert by[("tiny", 0)] == by[("other", 0)] != by[("tiny", 1)]
    independent = plan_batch([str(scenario), str(other)], 2, [{}], 3, None, 2, common_seeds=False)
    assert len({s.seed for s in independent}) == 4


def test_killed_batch_resumes_to_the_same_result(batch_inputs, tmp_path: Path) -> None:
    scenario, sweep = batch_inputs
    # runs long enough (a tenth of a second or more each) that the signal lands part-way
    reference = _run(scenario, sweep, tmp_path / "reference", workers=1, days=120)
    out = tmp_path / "killed"
    cmd = [sys.executable, str(ROOT / "run.py"), "batch", str(scenario), "--sweep", str(sweep), "--reps", "2",
           "--days", "120", "--seed", "7", "--workers", "1", "--out", str(out)]
    # Ctrl-C reaches the batch however the tests were started: a shell's background job starts
    # its children with SIGINT ignored, and Python then keeps it ignored
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 120
    while time.time() < deadline and len(list((out / "runs").glob("*.json"))) < 2:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode != 0 and "Traceback" not in err
    finished = list((out / "runs").glob("*.json"))
    assert 2 <= len(finished) < 8, "the batch was not interrupted part-way"
    for path in finished:  # every completed result is intact and readable
        assert json.loads(path.read_text())["status"] == "ok"
    assert pd.read_parquet(out / "runs.parquet")["status"].eq("ok").all()
    resumed = subprocess.run([*cmd, "--resume"], capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert f"({len(finished)} already done)" in resumed.stdout
    pd.testing.assert_frame_equal(_content(pd.read_parquet(out / "runs.parquet")), _content(reference))


def test_a_failing_run_is_recorded_and_the_others_complete(batch_inputs, tmp_path: Path) -> None:
    scenario, _ = batch_inputs
    doomed = tmp_path / "doomed.toml"
    doomed.write_text(TINY.replace('name = "tiny"', 'name = "doomed"'))
    specs = plan_batch([str(scenario), str(doomed)], 2, [{}], seed=1, scale=None, days=3)
    identity = batch_identity([str(scenario), str(doomed)], specs, [{}], 2, 1, None, 3, None, True)
    doomed.unlink()  # its runs now raise inside the worker
    with executor_for(2) as executor:
        summary = run_batch(specs, tmp_path / "out", executor, identity, progress=False)
    runs = pd.read_parquet(tmp_path / "out" / "runs.parquet").set_index("run_id")
    assert summary["ok"] == 2 and summary["failed"] == 2
    assert runs.loc["doomed__p0000__r000", "status"] == "failed"
    assert "no such scenario file" in runs.loc["doomed__p0000__r000", "error"]
    assert runs.loc["tiny__p0000__r001", "status"] == "ok"


def test_resume_refuses_a_different_batch(batch_inputs, tmp_path: Path) -> None:
    scenario, sweep = batch_inputs
    out = tmp_path / "b"
    _run(scenario, sweep, out, workers=1, reps=1)
    result = run_cli("batch", str(scenario), "--sweep", str(sweep), "--reps", "3", "--days", "6",
                     "--seed", "7", "--workers", "1", "--out", str(out), "--resume")
    assert result.returncode == 2 and "reps" in result.stderr and len(result.stderr.splitlines()) == 1
    again = run_cli("batch", str(scenario), "--reps", "1", "--days", "6", "--workers", "1", "--out", str(out))
    assert again.returncode == 2 and "--resume" in again.stderr


@pytest.mark.parametrize("design,expected", [("lhs", 12), ("sobol", 16)])
def test_sampled_designs_give_the_stated_points_within_bounds(tmp_path: Path, design: str,
                                                              expected: int) -> None:
    path = tmp_path / "s.toml"
    path.write_text(f'design = "{design}"\nsamples = {expected}\n'
                    '[parameters.a]\nrange = [1.0, 2.0]\n[parameters.b]\nrange = [3, 9]\n'
                    '[parameters.c]\nvalues = ["x", "y", "z"]\n')
    points = load_sweep(path, seed=5).points
    assert len(points) == expected
    a = np.array([p["a"] for p in points])
    assert ((a >= 1.0) & (a <= 2.0)).all()
    assert all(isinstance(p["b"], int) and 3 <= p["b"] <= 9 for p in points)
    assert {p["c"] for p in points} == {"x", "y", "z"}
    if design == "lhs":  # Latin hypercube: one point in each of the n strata of every parameter
        assert sorted(np.floor((a - 1.0) * expected).astype(int)) == list(range(expected))
    assert load_sweep(path, seed=5).points == points  # a pure function of file and seed


def test_grid_design_is_the_full_factorial(tmp_path: Path) -> None:
    path = tmp_path / "g.toml"
    path.write_text('[parameters.a]\nvalues = [1, 2, 3]\n[parameters.b]\nrange = [0.0, 1.0]\nsteps = 5\n')
    points = load_sweep(path).points
    assert len(points) == 15 and {p["b"] for p in points} == {0.0, 0.25, 0.5, 0.75, 1.0}


BAD_SWEEPS = {
    "unknown design": ('design = "random"\n[parameters.a]\nvalues = [1]\n', "design"),
    "no samples": ('design = "lhs"\n[parameters.a]\nrange = [0.0, 1.0]\n', "samples"),
    "sobol not power of two": ('design = "sobol"\nsamples = 10\n[parameters.a]\nrange = [0.0, 1.0]\n',
                               "power of two"),
    "reversed range": ('design = "lhs"\nsamples = 4\n[parameters.a]\nrange = [2.0, 1.0]\n', "low < high"),
    "both values and range": ('[parameters.a]\nvalues = [1]\nrange = [0, 1]\n', "exactly one"),
    "unknown key": ('designs = "grid"\n[parameters.a]\nvalues = [1]\n', "unknown key"),
    "no parameters": ('design = "grid"\n', "parameters"),
    "key the scenario rejects": ('[parameters."units.section.staff"]\nvalues = [-1]\n', "parameters.units"),
}


@pytest.mark.parametrize("case", sorted(BAD_SWEEPS))
def test_bad_sweep_files_are_rejected_in_one_line(case: str, tmp_path: Path) -> None:
    text, expected = BAD_SWEEPS[case]
    (tmp_path / "tiny.toml").write_text(TINY)
    sweep = tmp_path / "bad.toml"
    sweep.write_text(text)
    result = run_cli("batch", str(tmp_path / "tiny.toml"), "--sweep", str(sweep), "--days", "2",
                     "--out", str(tmp_path / "out"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert str(sweep) in result.stderr and expected in result.stderr


def test_sobol_estimator_matches_the_ishigami_function() -> None:
    """Ishigami (a = 7, b = 0.1) on [-pi, pi]^3: analytic S1 = (0.3139, 0.4424, 0),
    ST = (0.5576, 0.4424, 0.2437). Tolerance 0.03 at n = 2^13, and the bootstrap CI covers it."""
    a, b = 7.0, 0.1

    def ishigami(x: np.ndarray) -> np.ndarray:
        return np.atleast_2d(np.sin(x[0]) + a * np.sin(x[1]) ** 2 + b * x[2] ** 4 * np.sin(x[0]))

    variance = a**2 / 8 + b * np.pi**4 / 5 + b**2 * np.pi**8 / 18 + 0.5
    v1 = 0.5 * (1 + b * np.pi**4 / 5) ** 2
    v2 = a**2 / 8
    v13 = b**2 * np.pi**8 * (1 / 18 - 1 / 50)
    s1 = np.array([v1, v2, 0.0]) / variance
    st = np.array([v1 + v13, v2, v13]) / variance
    result = sobol_analysis(ishigami, [(-np.pi, np.pi)] * 3, 2**13, seed=11, n_resamples=200)
    assert result["first_order"][0] == pytest.approx(s1, abs=0.03)
    assert result["total_order"][0] == pytest.approx(st, abs=0.03)
    assert (result["first_low"][0] - 0.01 <= s1).all() and (s1 <= result["first_high"][0] + 0.01).all()


def test_sensitivity_command_runs_on_the_model(tmp_path: Path) -> None:
    (tmp_path / "tiny.toml").write_text(TINY)
    (tmp_path / "s.toml").write_text(
        'scenario = "tiny.toml"\noutputs = ["staff_cost", "handoffs_per_request"]\n'
        '[parameters."units.section.staff"]\nrange = [1, 4]\n[parameters."handoff.delay_hours"]\n'
        'range = [0.1, 5.0]\n')
    result = run_cli("sensitivity", str(tmp_path / "s.toml"), "--n", "4", "--days", "3", "--workers", "2",
                     "--out", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    table = pd.read_csv(tmp_path / "out" / "sobol.csv")
    cost = table[(table["output"] == "staff_cost")].set_index("parameter")
    # staff cost depends on section staff only: its total index dominates, delay's is ~0
    assert cost.loc["units.section.staff", "total_order"] > 0.5
    assert abs(cost.loc["handoff.delay_hours", "total_order"]) < 1e-9


def test_evaluate_returns_named_scalars(tiny_path: Path) -> None:
    out = evaluate(tiny_path, seed=2, days=3, handoff__delay_hours=4.0)
    assert out["requests_created"] == out["requests_resolved"] + out["requests_open"]
    assert all(isinstance(v, float) for v in out.values())
    assert evaluate(tiny_path, seed=2, days=3, handoff__delay_hours=4.0) == out


def test_ema_workbench_can_drive_the_model(tiny_path: Path) -> None:
    ema = pytest.importorskip("ema_workbench")

    def model(delay_hours: float = 1.0, section_staff: int = 2) -> dict[str, float]:
        kpis = evaluate(tiny_path, seed=1, days=3, handoff__delay_hours=delay_hours,
                        units__section__staff=int(section_staff))
        return {"handoffs": kpis["handoffs_per_request"], "cost": kpis["staff_cost"]}

    m = ema.Model("governance", function=model)
    m.uncertainties = [ema.RealParameter("delay_hours", 0.1, 10.0),
                       ema.IntegerParameter("section_staff", 1, 4)]
    m.outcomes = [ema.ScalarOutcome("handoffs"), ema.ScalarOutcome("cost")]
    experiments, outcomes = ema.perform_experiments(m, 4)
    assert len(experiments) == 4 and len(outcomes["cost"]) == 4
    assert not any(math.isnan(v) for v in outcomes["handoffs"])



def test_request_logs_only_when_asked(batch_inputs, tmp_path: Path) -> None:
    scenario, _ = batch_inputs
    for keep in (False, True):
        out = tmp_path / f"keep-{keep}"
        specs = plan_batch([str(scenario)], 1, [{}], seed=1, scale=None, days=3, keep_requests=keep)
        identity = batch_identity([str(scenario)], specs, [{}], 1, 1, None, 3, None, True)
        with executor_for(1) as executor:
            run_batch(specs, out, executor, identity, progress=False)
        logs = list((out / "requests").glob("*.parquet")) if (out / "requests").exists() else []
        assert len(logs) == (1 if keep else 0)
        if keep:
            created = pd.read_parquet(out / "runs.parquet")["kpi.requests_created"].iloc[0]
            assert len(pd.read_parquet(logs[0])) == created


def test_a_worker_frees_each_run_before_the_next(batch_inputs, tmp_path: Path) -> None:
    """The model and its agents refer to each other, so after a run only the cyclic collector
    frees them; ``execute_run`` collects at once, so a worker never holds two runs' memory (and
    reuses the first's). No model of the run may be left alive, even as garbage."""
    import gc

    from sim.city.model import GovernanceModel
    from sim.experiments.batch import execute_run

    gc.collect()
    gc.disable()  # only execute_run's own collection may free it
    try:
        specs = plan_batch([str(batch_inputs[0])], 1, [], seed=7, scale=None, days=3)
        record = execute_run(specs[0])
        assert record["status"] == "ok"
        assert not [o for o in gc.get_objects() if isinstance(o, GovernanceModel)]
    finally:
        gc.enable()
