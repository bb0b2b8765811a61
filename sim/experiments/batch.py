"""Batches: replications x sweep points x scenarios, on any ``concurrent.futures`` executor.

Each run is a pure function of its ``RunSpec`` (scenario file, overrides, seed), so results do
not depend on the executor, the number of workers or the order runs finish in. The driver
writes each finished run at once (``runs/<id>.json``, atomically), keeps only a bounded number
of runs in flight, and rebuilds ``runs.parquet`` and ``summary.csv`` from the run files, so a
batch interrupted anywhere keeps everything it finished and ``--resume`` completes it.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import socket
import sys
import time
import traceback
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.errors import ScenarioError
from sim.outputs.files import atomic_write_bytes, safe_slug, write_json, write_parquet
from sim.outputs.kpis import flatten
from sim.outputs.stats import mean_ci
from sim.version import __version__


@dataclass(frozen=True)
class RunSpec:
    """Everything one run needs; also its identity in the batch folder."""

    run_id: str
    scenario: str  # file path
    scenario_name: str
    point: int
    params: dict[str, Any]
    rep: int
    seed: int
    scale: float | None
    days: int | None
    keep_requests: bool = False
    overrides: dict[str, Any] = field(default_factory=dict)


def derive_seed(batch_seed: int, point: int, rep: int, scenario_key: int | None = None) -> int:
    """Seed of one run from the batch seed, sweep point and replication (and the scenario, if
    seeds are not common across scenarios). Why common by default: replication r of every
    scenario then starts from the same seed, so scenarios with the same catalogue meet the same
    residents and arrivals and differences between them are mostly structure, not luck (common
    random numbers; route draws still diverge where structures differ)."""
    key = (point, rep) if scenario_key is None else (scenario_key, point, rep)
    return int(np.random.SeedSequence(batch_seed, spawn_key=key).generate_state(1)[0])


def execute_run(spec: RunSpec) -> dict[str, Any]:
    """Run one spec in whatever process the executor chose; never raises for a model error."""
    from sim.experiments.api import run_scenario
    from sim.outputs.files import request_table

    started = time.perf_counter()
    try:
        result = run_scenario(spec.scenario, seed=spec.seed, scale=spec.scale, days=spec.days,
                              overrides={**spec.overrides, **spec.params})
        record = {"status": "ok", "error": None, "kpis": result.kpis}
        if spec.keep_requests:
            import pyarrow as pa

            model = result.model
            table = request_table(result.tables, [k.name for k in model.kinds], model.structure.unit_names)
            sink = pa.BufferOutputStream()
            import pyarrow.parquet as pq

            pq.write_table(table, sink)
            record["requests_parquet"] = sink.getvalue().to_pybytes()
    except ScenarioError as exc:
        record = {"status": "failed", "error": exc.one_line(), "kpis": None}
    except Exception as exc:  # a run that raises is recorded, the batch goes on
        record = {"status": "failed", "error": f"{type(exc).__name__}: {exc}",
                  "traceback": traceback.format_exc(limit=5), "kpis": None}
    record.update({"run_id": spec.run_id, "spec": asdict(spec),
                   "wall_seconds": round(time.perf_counter() - started, 3)})
    return record


MAX_ATTEMPTS = 3
"""A run whose worker dies is retried on a fresh pool up to this many attempts in all."""


class BatchFolder:
    """The files of one batch folder (``runs/``, ``runs.parquet``, ``summary.csv``, metadata)."""

    def __init__(self, out: str | Path) -> None:
        self.root = Path(out)
        self.runs = self.root / "runs"
        self.requests = self.root / "requests"
        self.lock = self.root / ".lock"

    def run_file(self, run_id: str) -> Path:
        path = self.runs / f"{run_id}.json"
        if path.resolve().parent != self.runs.resolve():  # run ids are slugs; this is the guarantee
            raise ScenarioError(str(self.root), "run_id", f"{run_id!r} would be written outside the folder")
        return path

    def acquire(self) -> None:
        """Take the folder's lock, or refuse in one line if a live batch holds it.

        A lock whose process is gone (same host, pid not running) is stale and taken over."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _write_error(self.root, exc) from None
        me = {"pid": os.getpid(), "host": socket.gethostname(),
              "started_utc": datetime.now(UTC).isoformat(timespec="seconds")}
        for _ in range(2):
            try:
                fd = os.open(self.lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = _read_lock(self.lock)
                if holder is not None and _alive(holder):
                    who = f"pid {holder.get('pid')} on {holder.get('host')}"
                    raise ScenarioError(str(self.root), "--out", f"another batch ({who}) is writing this "
                                        "folder; wait for it or choose another folder") from None
                self.lock.unlink(missing_ok=True)  # stale: its process is gone
                continue
            except OSError as exc:  # read-only folder or file system, no space
                raise _write_error(self.lock, exc) from None
            with os.fdopen(fd, "w") as handle:
                json.dump(me, handle)
            return
        raise ScenarioError(str(self.root), "--out", "could not take the folder's lock (.lock)")

    def release(self) -> None:
        holder = _read_lock(self.lock)
        if holder is not None and holder.get("pid") == os.getpid():
            self.lock.unlink(missing_ok=True)

    def completed(self) -> set[str]:
        done = set()
        for path in self.runs.glob("*.json") if self.runs.is_dir() else []:
            try:
                if json.loads(path.read_text())["status"] == "ok":
                    done.add(path.stem)
            except (json.JSONDecodeError, KeyError, OSError):
                continue  # unreadable: run again
        return done

    def save(self, record: dict[str, Any]) -> None:
        blob = record.pop("requests_parquet", None)
        if blob is not None:
            atomic_write_bytes(self.requests / f"{record['run_id']}.parquet", blob)
        write_json(self.run_file(record["run_id"]), record)

    def records(self, specs: list[RunSpec]) -> list[dict[str, Any]]:
        out = []
        for spec in specs:
            path = self.run_file(spec.run_id)
            if path.is_file():
                out.append(json.loads(path.read_text()))
        return out


def _read_lock(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _alive(holder: dict[str, Any]) -> bool:
    """Whether the lock's process still runs (a lock from another host is assumed alive)."""
    if holder.get("host") != socket.gethostname():
        return True
    try:
        os.kill(int(holder.get("pid", -1)), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError, OverflowError):
        return True
    return True


def run_batch(specs: list[RunSpec], out: str | Path, executor: Executor, identity: dict[str, Any],
              resume: bool = False, in_flight: int = 8, progress: bool = True,
              on_result: Any = None) -> dict[str, Any]:
    """Run every spec not yet completed, writing results as they come; return a short summary.

    ``on_result(record)`` is called after each run is saved (e.g. to sample memory). A write
    error (disk full, read-only folder) stops the batch with one line and status
    ``interrupted``; ``--resume`` completes it."""
    folder = BatchFolder(out)
    started = datetime.now(UTC).isoformat(timespec="seconds")
    folder.acquire()
    try:
        return _run_locked(specs, folder, executor, identity, resume, in_flight, progress, on_result, started)
    finally:
        folder.release()


def _run_locked(specs: list[RunSpec], folder: BatchFolder, executor: Executor, identity: dict[str, Any],
                resume: bool, in_flight: int, progress: bool, on_result: Any, started: str) -> dict[str, Any]:
    _check_folder(folder, identity, resume)
    done = folder.completed() if resume else set()
    todo = [s for s in specs if s.run_id not in done]
    _write_or_stop(folder.root / "metadata.json", {**identity, "started_utc": started, "finished_utc": None,
                                                   "status": "running"})
    bar = _progress_bar(len(specs), len(specs) - len(todo), progress)
    failures = 0
    status = "complete"
    try:
        failures = _drive(todo, executor, folder, bar, in_flight, on_result)
    except (KeyboardInterrupt, ScenarioError):
        status = "interrupted"
        raise
    except BaseException:
        status = "failed"
        raise
    finally:
        bar.close()
        try:
            tables = write_tables(folder, specs)
            write_json(folder.root / "metadata.json", {
                **identity, "started_utc": started,
                "finished_utc": datetime.now(UTC).isoformat(timespec="seconds"),
                "status": status, "runs_total": len(specs), "runs_ok": tables["ok"],
                "runs_failed": tables["failed"],
                "runs_missing": len(specs) - tables["ok"] - tables["failed"]})
        except OSError:
            if status == "complete":  # nothing else went wrong: this is the error to report
                raise _write_error(folder.root / "runs.parquet", OSError("batch tables")) from None
    return {"total": len(specs), "ran": len(todo), "skipped": len(specs) - len(todo),
            "failed_now": failures, **tables}


def _write_error(path: Path, exc: OSError) -> ScenarioError:
    """One line for a write that failed mid-batch; finished runs stay, --resume completes it."""
    return ScenarioError(str(path), "--out", f"cannot write ({exc.strerror or exc}); the batch stopped "
                         "with its finished runs kept; free space or fix permissions, then run again "
                         "with --resume")


def _write_or_stop(path: Path, payload: dict[str, Any]) -> None:
    try:
        write_json(path, payload)
    except OSError as exc:
        raise _write_error(path, exc) from None


def _drive(todo: list[RunSpec], executor: Executor, folder: BatchFolder, bar: Any, in_flight: int,
           on_result: Any = None) -> int:
    """Submit at most ``in_flight`` runs at a time; save each as it finishes.

    A dead worker breaks a local pool: the pool is replaced (``executor.restart()``) and every
    run it lost goes back in the queue, up to ``MAX_ATTEMPTS`` attempts per run."""
    queue = list(reversed(todo))
    pending: dict[Future, RunSpec] = {}
    attempts: dict[str, int] = {}
    failures = 0
    try:
        while queue or pending:
            while queue and len(pending) < in_flight:
                spec = queue.pop()
                attempts[spec.run_id] = attempts.get(spec.run_id, 0) + 1
                pending[executor.submit(execute_run, spec)] = spec
            finished, _ = wait(list(pending), return_when=FIRST_COMPLETED)
            broken = False
            for future in finished:
                spec = pending.pop(future)
                try:
                    record = future.result()
                except Exception as exc:  # the worker itself died
                    lost = isinstance(exc, BrokenProcessPool)
                    broken = broken or lost
                    if lost and hasattr(executor, "restart") and attempts[spec.run_id] < MAX_ATTEMPTS:
                        queue.append(spec)  # retried on the fresh pool
                        continue
                    record = {"run_id": spec.run_id, "status": "failed", "kpis": None,
                              "error": f"worker lost: {type(exc).__name__}: {exc}", "spec": asdict(spec),
                              "wall_seconds": None}
                record["attempts"] = attempts[spec.run_id]
                try:
                    folder.save(record)
                except OSError as exc:
                    raise _write_error(folder.run_file(spec.run_id), exc) from None
                failures += record["status"] != "ok"
                bar.update(1)
                bar.set_postfix(failed=failures)
                if on_result is not None:
                    on_result(record)
            if broken and hasattr(executor, "restart"):
                for future, spec in list(pending.items()):  # the broken pool lost these too
                    if future.done() and future.exception() is None:
                        continue
                    pending.pop(future)
                    if attempts[spec.run_id] < MAX_ATTEMPTS:
                        queue.append(spec)
                executor.restart()
    except BaseException:
        for future in pending:  # keep what finished; drop the rest
            if future.done() and not future.cancelled() and future.exception() is None:
                with contextlib.suppress(OSError):  # the error being raised says why; resume reruns it
                    folder.save(future.result())
            else:
                future.cancel()
        raise
    return failures


def _check_folder(folder: BatchFolder, identity: dict[str, Any], resume: bool) -> None:
    meta = folder.root / "metadata.json"
    if folder.root.exists() and not folder.root.is_dir():
        raise ScenarioError(str(folder.root), "--out", "exists and is not a folder")
    if not resume and folder.runs.is_dir() and any(folder.runs.iterdir()):
        raise ScenarioError(str(folder.root), "--out", "already holds a batch; add --resume to finish it "
                            "or choose another folder")
    if resume and meta.is_file():
        old = json.loads(meta.read_text())
        for key in ("scenarios", "points", "reps", "seed", "scale", "days", "common_seeds", "seeds"):
            if old.get(key) != identity.get(key):
                raise ScenarioError(str(meta), key, "differs from the batch being resumed; resume with "
                                    "the same scenarios, sweep, reps, seed, scale, days and seeding")
    folder.runs.mkdir(parents=True, exist_ok=True)


def _progress_bar(total: int, initial: int, enabled: bool) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit="run", desc="runs", file=sys.stderr,
                disable=not enabled, dynamic_ncols=True, smoothing=0.1)


def write_tables(folder: BatchFolder, specs: list[RunSpec]) -> dict[str, int]:
    """Rebuild runs.parquet (one row per run) and summary.csv from the run files."""
    rows = []
    for record in folder.records(specs):
        spec = record["spec"]
        row = {"run_id": record["run_id"], "scenario": spec["scenario_name"], "point": spec["point"],
               "rep": spec["rep"], "seed": spec["seed"], "status": record["status"],
               "error": record.get("error"), "wall_seconds": record.get("wall_seconds")}
        row.update({f"param.{k}": v for k, v in spec["params"].items()})
        if record["kpis"] is not None:
            row.update({f"kpi.{k}": v for k, v in flatten(record["kpis"]).items()})
        rows.append(row)
    frame = pd.DataFrame(rows)
    if len(frame):
        import pyarrow as pa

        write_parquet(folder.root / "runs.parquet", pa.Table.from_pandas(frame, preserve_index=False))
        summary = summarise(frame)
        atomic_write_bytes(folder.root / "summary.csv", summary.to_csv(index=False).encode())
    ok = int((frame["status"] == "ok").sum()) if len(frame) else 0
    return {"ok": ok, "failed": len(frame) - ok}


def summarise(frame: pd.DataFrame) -> pd.DataFrame:
    """Per scenario and sweep point: n, mean, std and 95 % CI of every KPI (long format)."""
    ok = frame[frame["status"] == "ok"]
    params = [c for c in frame.columns if c.startswith("param.")]
    kpis = [c for c in frame.columns if c.startswith("kpi.")]
    out = []
    for (scenario, point), group in ok.groupby(["scenario", "point"], sort=False):
        fixed = {p: group[p].iloc[0] for p in params}
        for column in kpis:
            values = group[column].dropna().to_numpy(dtype=float)
            if not len(values):
                continue
            mean, low, high = mean_ci(values)
            out.append({"scenario": scenario, "point": point, **fixed, "kpi": column[4:],
                        "n": len(values), "mean": mean,
                        "std": float(values.std(ddof=1)) if len(values) > 1 else math.nan,
                        "ci95_low": low, "ci95_high": high})
    return pd.DataFrame(out)


def plan_batch(scenarios: list[str], reps: int, points: list[dict[str, Any]], seed: int,
               scale: float | None, days: int | None, keep_requests: bool = False,
               common_seeds: bool = True) -> list[RunSpec]:
    """All runs of a batch, in a fixed order."""
    from sim.scenario.loading import load_scenario

    names = [load_scenario(path)["name"] for path in scenarios]
    if len(set(names)) != len(names):
        raise ScenarioError(scenarios[names.index(next(n for n in names if names.count(n) > 1))], "name",
                            "two scenarios in one batch share this name; names must differ")
    specs = []
    for s_index, (path, name) in enumerate(zip(scenarios, names, strict=True)):
        for p_index, params in enumerate(points or [{}]):
            for rep in range(reps):
                run_seed = derive_seed(seed, p_index, rep, None if common_seeds else s_index)
                run_id = f"{safe_slug(name)}__p{p_index:04d}__r{rep:03d}"
                specs.append(RunSpec(run_id, str(path), name, p_index, params, rep, run_seed, scale, days,
                                     keep_requests))
    return specs


def batch_identity(scenarios: list[str], specs: list[RunSpec], points: list[dict[str, Any]],
                   reps: int, seed: int, scale: float | None, days: int | None, sweep: str | None,
                   common_seeds: bool) -> dict[str, Any]:
    from sim.scenario.loading import load_scenario

    return {"package_version": __version__, "command": " ".join(sys.argv),
            "scenarios": {p: load_scenario(p)["source"]["hash"] for p in scenarios},
            "sweep": sweep, "points": points, "reps": reps, "seed": seed, "scale": scale, "days": days,
            "common_seeds": common_seeds,
            "seed_rule": "SeedSequence(seed, spawn_key=(point, rep)) or (scenario, point, rep)",
            "seeds": {s.run_id: s.seed for s in specs}}
