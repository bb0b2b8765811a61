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
from collections import Counter
from concurrent.futures import Executor, Future
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import pytest

from sim.cli import main
from sim.errors import ScenarioError
from sim.experiments.batch import BatchFolder, batch_identity, plan_batch, run_batch, write_tables
from sim.experiments.executors import executor_for
from sim.outputs.files import safe_slug, write_json
from tests.conftest import ROOT, SCENARIOS, run_cli

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


class DyingPool(Executor):
    """A pool whose worker dies on the first ``dies[run_id]`` attempts of a run: that run's future
    fails with BrokenProcessPool and the pool stays broken (every submit fails) until restart(),
    as a real ProcessPoolExecutor does. Healthy runs run at once, in this process."""

    def __init__(self, dies: dict[str, int]) -> None:
        self.dies, self.tries, self.restarts, self.broken = dies, Counter(), 0, False

    def submit(self, fn, /, *args, **kwargs) -> Future:
        if self.broken:
            raise BrokenProcessPool("a process in the pool was terminated abruptly")
        spec = args[0]
        self.tries[spec.run_id] += 1
        future: Future = Future()
        if self.tries[spec.run_id] <= self.dies.get(spec.run_id, 0):
            self.broken = True
            future.set_exception(BrokenProcessPool("a process in the pool was terminated abruptly"))
        else:
            future.set_result(fn(*args, **kwargs))
        return future

    def restart(self) -> None:
        self.broken = False
        self.restarts += 1


def test_lost_runs_are_retried_and_a_run_that_keeps_losing_its_worker_fails_alone(tmp_path: Path) -> None:
    specs = plan_batch([TOWNSHIP], 6, [{}], seed=3, scale=0.002, days=5)
    identity = batch_identity([TOWNSHIP], specs, [{}], 6, 3, 0.002, 5, None, True)
    flaky, doomed = specs[1].run_id, specs[3].run_id
    pool = DyingPool({flaky: 1, doomed: 99})
    summary = run_batch(specs, tmp_path / "out", pool, identity, progress=False, in_flight=3)
    assert pool.restarts == 4  # one death of the flaky run, three of the doomed one
    assert summary["ok"] == 5 and summary["failed"] == 1
    runs = _ok_runs(tmp_path / "out").set_index("run_id")
    assert sorted(runs.index) == sorted(s.run_id for s in specs)  # every run exactly once
    assert runs.loc[doomed, "status"] == "failed" and runs.loc[doomed, "error"].startswith("worker lost")
    records = {p.stem: json.loads(p.read_text()) for p in (tmp_path / "out" / "runs").glob("*.json")}
    assert records[doomed]["attempts"] == 3 and records[flaky]["attempts"] == 2
    assert records[flaky]["status"] == "ok"
    assert json.loads((tmp_path / "out" / "metadata.json").read_text())["status"] == "complete"


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


def _lock_file(out: Path, **fields) -> None:
    out.mkdir(parents=True, exist_ok=True)
    holder = {"pid": os.getpid(), "host": os.uname().nodename, "started_utc": "2026-01-01T00:00:00+00:00"}
    (out / ".lock").write_text(json.dumps({**holder, **fields}))


def test_lock_holders_that_may_be_alive_are_respected_and_reused_pids_are_not(tmp_path: Path) -> None:
    _lock_file(tmp_path / "remote", host="another-host.example")  # cannot tell: assumed alive
    with pytest.raises(ScenarioError, match=r"another batch .*another-host\.example"):
        BatchFolder(tmp_path / "remote").acquire()
    _lock_file(tmp_path / "reused", pid_started="1")  # this pid, but a process that started at boot
    folder = BatchFolder(tmp_path / "reused")
    folder.acquire()
    assert json.loads(folder.lock.read_text())["pid"] == os.getpid()
    folder.release()
    assert not folder.lock.exists()
    (tmp_path / "starting").mkdir()
    (tmp_path / "starting" / ".lock").write_text("")  # a batch between creating and writing its lock
    with pytest.raises(ScenarioError, match="starting"):
        BatchFolder(tmp_path / "starting").acquire()
    os.utime(tmp_path / "starting" / ".lock", (0, 0))  # long abandoned half-written lock
    BatchFolder(tmp_path / "starting").acquire()


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


def test_metadata_that_cannot_be_written_still_gives_the_one_line(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    import sim.experiments.batch as batch_module
    import sim.experiments.folder as folder_module

    args = ["batch", TOWNSHIP, "--reps", "4", "--days", "5", "--scale", "0.002", "--workers", "1"]
    real = folder_module.write_json
    calls: list[Path] = []

    def full_disk(path: Path, payload: dict) -> None:
        calls.append(path)
        if len(calls) > 3:  # metadata "running", then two run files; then the disk is full
            raise OSError(errno.ENOSPC, "No space left on device")
        real(path, payload)

    monkeypatch.setattr(folder_module, "write_json", full_disk)
    monkeypatch.setattr(batch_module, "write_json", full_disk)
    out = tmp_path / "out"
    assert main([*args, "--out", str(out)]) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("error: ") and "__r002.json" in last and "No space left" in last
    assert json.loads((out / "metadata.json").read_text())["status"] == "running"  # could not say more
    assert not (out / ".lock").exists()
    monkeypatch.undo()
    assert main([*args, "--out", str(out), "--resume"]) == 0
    assert "4/4 runs ok, 0 failed (2 already done)" in capsys.readouterr().out


def test_resume_checks_the_per_run_seeds(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    args = ["batch", TOWNSHIP, "--reps", "2", "--days", "5", "--scale", "0.002", "--workers", "1",
            "--out", str(out)]
    assert main(args) == 0
    meta = json.loads((out / "metadata.json").read_text())
    first = sorted(meta["seeds"])[0]
    edited = {**meta, "seeds": {**meta["seeds"], first: meta["seeds"][first] + 1}}
    (out / "metadata.json").write_text(json.dumps(edited))
    capsys.readouterr()
    assert main([*args, "--resume"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "metadata.json: seeds:" in err
    (out / "metadata.json").write_text(json.dumps(meta))
    run = out / "runs" / f"{first}.json"  # the metadata agrees, but this run was made with another seed
    record = json.loads(run.read_text())
    record["spec"]["seed"] += 1
    run.write_text(json.dumps(record))
    assert main([*args, "--resume"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"{first}.json: seeds:" in err


@pytest.mark.parametrize("run_id", ["../../escape", "/tmp/absolute-escape", "sub/dir", "nul\0byte",
                                    "../runs2/x"])
def test_the_folder_never_writes_a_run_id_outside_itself(run_id: str, tmp_path: Path) -> None:
    out = tmp_path / "deep" / "out"
    folder = BatchFolder(out)
    folder.runs.mkdir(parents=True)
    before = set(tmp_path.rglob("*")) | set(Path("/tmp").glob("absolute-escape*"))
    record = {"run_id": run_id, "status": "ok", "kpis": {}, "spec": {}, "requests_parquet": b"x"}
    with pytest.raises(ScenarioError, match="outside"):
        folder.save(record)
    with pytest.raises(ScenarioError, match="outside"):
        folder.run_file(run_id)
    assert set(tmp_path.rglob("*")) | set(Path("/tmp").glob("absolute-escape*")) == before


def test_slugs_are_safe_and_distinct() -> None:
    names = ["township", "Township", "a/b", "a-b", "a b", "../x", "/etc/passwd", ".hidden", "x" * 300,
             "x" * 301, "名字", "名前", "", "..", "a..b"]
    slugs = [safe_slug(n) for n in names]
    assert len(set(slugs)) == len(names)
    for slug in slugs:
        assert set(slug) <= set("abcdefghijklmnopqrstuvwxyz0123456789-_.") and not slug.startswith(".")
        assert slug not in ("", ".", "..") and len(slug) <= 49
    assert safe_slug("township") == "township" and safe_slug("a/b").startswith("a-b-")


def test_two_names_with_one_slug_are_refused(tmp_path: Path) -> None:
    paths = []
    for i, name in enumerate(["A", safe_slug("A")]):  # the second is already safe, so kept as written
        path = tmp_path / f"s{i}.toml"
        path.write_text(f'extends = "{TOWNSHIP}"\nname = {json.dumps(name)}\n')
        paths.append(str(path))
    with pytest.raises(ScenarioError, match="same file name"):
        plan_batch(paths, 1, [{}], seed=1, scale=0.002, days=5)


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


@pytest.mark.parametrize("address", ["tcp://127.0.0.1:9", "tcp://127.0.0.1:99999", "http://127.0.0.1:8786",
                                     "tcp://host name:1"])
def test_unreachable_or_malformed_scheduler_fails_fast(address: str, capsys: pytest.CaptureFixture[str],
                                                       tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    started = time.monotonic()
    code = main(["batch", TOWNSHIP, "--reps", "1", "--days", "5", "--scale", "0.002",
                 "--scheduler", address, "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and "--scheduler" in err and len(err.strip().splitlines()) == 1
    assert time.monotonic() - started < 10
    with pytest.raises(ScenarioError, match="--scheduler"), executor_for(scheduler=address):
        pass  # the API says the same, for callers that bypass the command line


def test_json_outputs_are_strict(tmp_path: Path) -> None:
    path = tmp_path / "k.json"
    write_json(path, {"a": math.inf, "b": [math.nan, 1.0], "c": {"d": -math.inf}})

    def refuse(token: str) -> None:
        raise ValueError(token)

    expected = {"a": None, "b": [None, 1.0], "c": {"d": None}}
    assert json.loads(path.read_text(), parse_constant=refuse) == expected

    write_json(path, {"np": np.float64("nan"), "f32": np.float32("inf"), "deep": [{"x": (np.float64(2.5),)}],
                      "array": np.array([1.0, np.nan]), "int": np.int64(3)})
    assert json.loads(path.read_text(), parse_constant=refuse) == {
        "np": None, "f32": None, "deep": [{"x": [2.5]}], "array": [1.0, None], "int": 3}

    # a batch whose KPIs are not finite writes strict run files and metadata, and tables that read back
    specs = plan_batch([TOWNSHIP], 1, [{}], seed=1, scale=0.002, days=5)
    identity = batch_identity([TOWNSHIP], specs, [{}], 1, 1, 0.002, 5, None, True)
    folder = BatchFolder(tmp_path / "out")
    folder.check(identity, resume=False)
    kpis = {"cost": np.float64("inf"), "wait": {"p95": math.nan}}
    folder.save({"run_id": specs[0].run_id, "status": "ok", "error": None, "wall_seconds": 0.1,
                 "spec": asdict(specs[0]), "kpis": kpis})
    write_json(folder.metadata, {**identity, "limit": math.inf})
    write_tables(folder, specs)
    for file in (tmp_path / "out").rglob("*.json"):
        json.loads(file.read_text(), parse_constant=refuse)
    row = pd.read_parquet(tmp_path / "out" / "runs.parquet").iloc[0]
    assert row["status"] == "ok" and pd.isna(row["kpi.cost"]) and pd.isna(row["kpi.wait.p95"])


def test_the_command_line_ends_without_teardown_but_with_everything_said(tmp_path: Path) -> None:
    """``run.py`` skips Python's teardown (``end_process``); what it printed to a pipe, its
    exit code and its files are all there, on success and on bad input."""
    scenario = str(SCENARIOS / "longgang-2021.toml")
    buffered = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # as a shell pipe has it
    ok = subprocess.run([sys.executable, str(ROOT / "run.py"), "run", scenario, "--scale", "0.002", "--days",
                         "3", "--out", str(tmp_path / "out")], capture_output=True, text=True, env=buffered,
                        cwd=ROOT, timeout=600)
    assert ok.returncode == 0, ok.stderr
    lines = ok.stdout.strip().splitlines()
    assert lines[0].startswith("KPI") and lines[-1].startswith("wrote ")
    assert json.loads((tmp_path / "out" / "kpis.json").read_text())["requests_created"] >= 0
    bad = run_cli("run", scenario, "--set", "handoff.nope=1")
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1 and "nope" in bad.stderr
