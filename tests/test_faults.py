"""Faults during batches: a killed worker is replaced and its runs retried, a killed driver
leaves no workers behind, a second batch into a busy folder is refused, a write error stops
with one line and ``--resume`` completes the batch; names never write outside ``--out``;
every JSON file is strict."""

from __future__ import annotations

import errno
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import psutil
import pytest

from sim.cli import main
from sim.experiments.batch import BatchFolder, batch_identity, plan_batch, run_batch
from sim.experiments.executors import executor_for
from sim.outputs.files import safe_slug, write_json
from tests.conftest import ROOT, SCENARIOS

TOWNSHIP = str(SCENARIOS / "township.toml")


def _batch_cli(out: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(ROOT / "run.py"), "batch", TOWNSHIP, "--out", str(out),
                             "--scale", "0.002", *extra], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _wait_for(condition, seconds: float) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.05)
    return False


def _ok_runs(out: Path) -> pd.DataFrame:
    frame = pd.read_parquet(out / "runs.parquet")
    return frame.sort_values("run_id").reset_index(drop=True)


def test_killed_worker_is_replaced_and_its_runs_retried(tmp_path: Path) -> None:
    specs = plan_batch([TOWNSHIP], 8, [{}], seed=3, scale=0.002, days=40)
    identity = batch_identity([TOWNSHIP], specs, [{}], 8, 3, 0.002, 40, None, True)
    killed: list[int] = []

    def kill_one_worker(record: dict) -> None:
        if killed:
            return
        workers = [p for child in psutil.Process().children() for p in child.children()]
        assert workers, "no pool workers found under the forkserver"
        workers[0].kill()
        killed.append(workers[0].pid)

    with executor_for(2) as executor:
        summary = run_batch(specs, tmp_path / "out", executor, identity, progress=False, in_flight=4,
                            on_result=kill_one_worker)
        assert executor.restarts >= 1
    assert killed
    assert summary["ok"] == len(specs) and summary["failed"] == 0
    runs = _ok_runs(tmp_path / "out")
    assert sorted(runs["run_id"]) == sorted(s.run_id for s in specs)  # every run exactly once
    records = [json.loads(p.read_text()) for p in (tmp_path / "out" / "runs").glob("*.json")]
    assert max(r["attempts"] for r in records) == 2  # the lost ones ran again, once

    # and the retried results equal an undisturbed batch's (each run is a function of its seed)
    with executor_for(1) as executor:
        run_batch(specs, tmp_path / "calm", executor, identity, progress=False)
    calm = _ok_runs(tmp_path / "calm")
    kpis = [c for c in runs.columns if c.startswith("kpi.")]
    pd.testing.assert_frame_equal(runs[kpis], calm[kpis])


def test_sigkill_of_the_driver_leaves_no_worker(tmp_path: Path) -> None:
    driver = _batch_cli(tmp_path / "out", "--reps", "40", "--days", "120", "--workers", "2")
    try:
        assert _wait_for(lambda: len(list((tmp_path / "out" / "runs").glob("*.json"))) >= 1, 60)
        family = psutil.Process(driver.pid).children(recursive=True)
        assert len(family) >= 2
        os.kill(driver.pid, signal.SIGKILL)
        driver.wait(5)
        _, alive = psutil.wait_procs(family, timeout=5)
        assert not alive, f"still running 5 s after the driver died: {[p.pid for p in alive]}"
    finally:
        if driver.poll() is None:
            driver.kill()


def test_second_batch_into_a_busy_folder_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = _batch_cli(out, "--reps", "40", "--days", "60", "--workers", "1")
    try:
        assert _wait_for(lambda: (out / ".lock").exists(), 30)
        second = subprocess.run([sys.executable, str(ROOT / "run.py"), "batch", TOWNSHIP, "--out", str(out),
                                 "--scale", "0.002", "--reps", "1", "--days", "5", "--resume"],
                                cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert second.returncode == 2
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1 and "another batch" in lines[0] and str(out) in lines[0]
    finally:
        first.kill()
        first.wait()


def test_stale_lock_is_taken_over(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    out = tmp_path / "out"
    out.mkdir()
    (out / ".lock").write_text(json.dumps({"pid": gone.pid, "host": os.uname().nodename,
                                           "started_utc": "2026-01-01T00:00:00+00:00"}))
    code = main(["batch", TOWNSHIP, "--out", str(out), "--reps", "2", "--days", "5", "--scale", "0.002",
                 "--workers", "1"])
    assert code == 0, capsys.readouterr().err
    assert not (out / ".lock").exists()


def test_write_error_stops_in_one_line_and_resume_completes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    args = ["batch", TOWNSHIP, "--reps", "6", "--days", "10", "--scale", "0.002", "--workers", "1"]
    real_save = BatchFolder.save
    saved: list[str] = []

    def failing_save(self: BatchFolder, record: dict) -> None:
        if len(saved) >= 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_save(self, record)
        saved.append(record["run_id"])

    monkeypatch.setattr(BatchFolder, "save", failing_save)
    out = tmp_path / "out"
    code = main([*args, "--out", str(out)])
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]  # the progress bar shares stderr; the error is one line after it
    assert code == 2 and "Traceback" not in err
    assert last.startswith("error: ") and "No space left on device" in last and "--resume" in last
    assert json.loads((out / "metadata.json").read_text())["status"] == "interrupted"
    assert not (out / ".lock").exists()
    monkeypatch.setattr(BatchFolder, "save", real_save)
    assert main([*args, "--out", str(out), "--resume"]) == 0
    assert json.loads((out / "metadata.json").read_text())["status"] == "complete"
    assert main([*args, "--out", str(tmp_path / "calm")]) == 0
    resumed, calm = _ok_runs(out), _ok_runs(tmp_path / "calm")
    kpis = [c for c in calm.columns if c.startswith("kpi.")]
    assert len(resumed) == 6
    pd.testing.assert_frame_equal(resumed[kpis], calm[kpis])


@pytest.mark.parametrize("name", ["../../escape", "/tmp/absolute-escape", "a/b", "spaces and Ünïcode"])
def test_names_never_write_outside_out(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scenario = tmp_path / "in" / "named.toml"
    scenario.parent.mkdir()
    scenario.write_text(f'extends = "{TOWNSHIP}"\nname = {json.dumps(name)}\n')
    out = tmp_path / "work" / "out"
    before = set(tmp_path.rglob("*")) | set(Path("/tmp").glob("absolute-escape*"))
    args = ["batch", str(scenario), "--reps", "2", "--days", "5", "--scale", "0.002", "--workers", "1",
            "--out", str(out)]
    assert main(args) == 0, capsys.readouterr().err
    created = (set(tmp_path.rglob("*")) | set(Path("/tmp").glob("absolute-escape*"))) - before
    assert all(p == out or out in p.parents or p in out.parents for p in created), sorted(map(str, created))
    assert {p.name for p in (out / "runs").glob("*.json")} == {
        f"{safe_slug(name)}__p0000__r000.json", f"{safe_slug(name)}__p0000__r001.json"}
    capsys.readouterr()
    assert main([*args, "--resume"]) == 0
    assert "2/2 runs ok, 0 failed (2 already done)" in capsys.readouterr().out


def test_control_character_in_a_name_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scenario = tmp_path / "bad.toml"
    scenario.write_text(f'extends = "{TOWNSHIP}"\nname = "a\\u0000b"\n')
    code = main(["batch", str(scenario), "--reps", "1", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and "name" in err and "control characters" in err


def test_resume_checks_the_seeds(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["batch", TOWNSHIP, "--reps", "2", "--days", "5", "--scale", "0.002", "--workers", "1",
            "--out", str(tmp_path / "out")]
    assert main(args) == 0
    code = main([*args, "--resume", "--independent-seeds"])
    err = capsys.readouterr().err
    assert code == 2 and "common_seeds" in err


def test_unreachable_scheduler_fails_fast(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    started = time.monotonic()
    code = main(["batch", TOWNSHIP, "--reps", "1", "--days", "5", "--scale", "0.002",
                 "--scheduler", "tcp://127.0.0.1:9", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and "--scheduler" in err and len(err.strip().splitlines()) == 1
    assert time.monotonic() - started < 20


def test_json_outputs_are_strict(tmp_path: Path) -> None:
    path = tmp_path / "k.json"
    write_json(path, {"a": math.inf, "b": [math.nan, 1.0], "c": {"d": -math.inf}})

    def refuse(token: str) -> None:
        raise ValueError(token)

    expected = {"a": None, "b": [None, 1.0], "c": {"d": None}}
    assert json.loads(path.read_text(), parse_constant=refuse) == expected
