"""Batches: replications x sweep points x scenarios, on any ``concurrent.futures`` executor.

Each run is a pure function of its ``RunSpec`` (scenario file, overrides, seed), so results do
not depend on the executor, the number of workers or the order runs finish in. The driver
writes each finished run at once (``runs/<id>.json``, atomically), keeps only a bounded number
of runs in flight, and rebuilds ``runs.parquet`` and ``summary.csv`` from the run files, so a
batch interrupted anywhere keeps everything it finished and ``--resume`` completes it.
"""

from __future__ import annotations

import contextlib
import math
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
from sim.experiments.executors import release_run
from sim.experiments.folder import BatchFolder, write_error
from sim.outputs.files import atomic_write_bytes, safe_slug, write_json, write_parquet
from sim.outputs.kpis import flatten
from sim.outputs.stats import mean_ci
from sim.version import package_version


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
    kept_checked: bool = False  # the planner checked no reform overwrites these params


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
    started = time.perf_counter()
    try:
        record = _run_record(spec)
    except ScenarioError as exc:
        record = {"status": "failed", "error": exc.one_line(), "kpis": None}
    except Exception as exc:  # a run that raises is recorded, the batch goes on
        record = {"status": "failed", "error": f"{type(exc).__name__}: {exc}",
                  "traceback": traceback.format_exc(limit=5), "kpis": None}
    release_run()  # the model is gone with _run_record's frame; freed now, in the run's wall time
    record.update({"run_id": spec.run_id, "spec": asdict(spec),
                   "wall_seconds": round(time.perf_counter() - started, 3)})
    return record


def _run_record(spec: RunSpec) -> dict[str, Any]:
    from sim.experiments.api import run_scenario
    from sim.outputs.files import request_table

    result = run_scenario(spec.scenario, seed=spec.seed, scale=spec.scale, days=spec.days,
                          overrides={**spec.overrides, **spec.params}, check_kept=not spec.kept_checked)
    record = {"status": "ok", "error": None, "kpis": result.kpis}
    if spec.rep == 0 and spec.point == 0 and result.model.structure.city_map is not None:
        from sim.outputs.map_shapes import map_shapes

        record["map"] = map_shapes(result.model)  # drawn by the report (one copy per scenario)
    if spec.keep_requests:
        import pyarrow as pa
        import pyarrow.parquet as pq

        model = result.model
        table = request_table(result.tables, [k.name for k in model.kinds], model.structure.unit_names)
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink)
        record["requests_parquet"] = sink.getvalue().to_pybytes()
    return record


MAX_ATTEMPTS = 3
"""A run whose worker dies is retried on a fresh pool up to this many attempts in all."""


def run_batch(specs: list[RunSpec], out: str | Path, executor: Executor, identity: dict[str, Any],
              resume: bool = False, in_flight: int = 8, progress: bool = True,
              on_result: Any = None, summary: bool = True) -> dict[str, Any]:
    """Run every spec not yet completed, writing results as they come; return a short summary.

    ``summary``: also write ``summary.csv`` (per scenario and point, over replications); a
    study with one run per point (``robust``) has nothing to summarise there, and its long
    table, every parameter repeated on every KPI's row, was a gigabyte for 500 runs.

    ``on_result(record)`` is called after each run is saved (e.g. to sample memory). The folder
    is locked for the batch (a second batch into it is refused). A write error (disk full,
    read-only folder) stops the batch with one line and status ``interrupted``; ``--resume``
    completes it."""
    folder = BatchFolder(out)
    started = datetime.now(UTC).isoformat(timespec="seconds")
    folder.acquire()
    try:
        return _run_locked(specs, folder, executor, identity, resume, in_flight, progress, on_result, started,
                           summary)
    finally:
        folder.release()


def _run_locked(specs: list[RunSpec], folder: BatchFolder, executor: Executor, identity: dict[str, Any],
                resume: bool, in_flight: int, progress: bool, on_result: Any, started: str,
                summary: bool = True) -> dict[str, Any]:
    folder.check(identity, resume)
    done = folder.completed() if resume else {}
    for spec in specs:  # the per-run seed map is in the metadata too; the run files must agree with it
        if spec.run_id in done and done[spec.run_id] != spec.seed:
            raise ScenarioError(str(folder.run_file(spec.run_id)), "seeds", f"this run was made with seed "
                                f"{done[spec.run_id]}, the batch being resumed gives it {spec.seed}; "
                                "resume with the same batch or choose another folder")
    todo = [s for s in specs if s.run_id not in done]
    try:
        write_json(folder.metadata, {**identity, "started_utc": started, "finished_utc": None,
                                     "status": "running"})
    except OSError as exc:
        raise write_error(folder.metadata, exc) from None
    bar = _progress_bar(len(specs), len(specs) - len(todo), progress)
    failures, status, error = 0, "complete", None
    problem: ScenarioError | None = None
    try:
        failures = _drive(todo, executor, folder, bar, in_flight, on_result)
    except ScenarioError as exc:  # a write error: finished runs stay, --resume completes the batch
        status, error = "interrupted", exc.one_line()
        raise
    except KeyboardInterrupt:
        status, error = "interrupted", "interrupted (Ctrl-C)"
        raise
    except BaseException as exc:
        status, error = "failed", f"{type(exc).__name__}: {exc}"
        raise
    finally:
        bar.close()
        tables, problem = _close(folder, specs, identity, started, status, error, summary)
    if problem is not None:  # only reached when nothing else went wrong: this is the error to report
        raise problem
    return {"total": len(specs), "ran": len(todo), "skipped": len(specs) - len(todo),
            "failed_now": failures, **tables}


def _close(folder: BatchFolder, specs: list[RunSpec], identity: dict[str, Any], started: str, status: str,
           error: str | None, summary: bool = True) -> tuple[dict[str, int], ScenarioError | None]:
    """Rebuild the tables and write the final metadata, each as far as the disk allows.

    Returns the table counts and the first write error (the metadata says ``interrupted`` then)."""
    problem = None
    try:
        tables = write_tables(folder, specs, summary)
    except ScenarioError as exc:
        problem, tables = exc, {"ok": 0, "failed": 0}
        if status == "complete":
            status, error = "interrupted", exc.one_line()
    try:
        finished = datetime.now(UTC).isoformat(timespec="seconds")
        write_json(folder.metadata, {
            **identity, "started_utc": started, "finished_utc": finished,
            "status": status, "error": error, "runs_total": len(specs), "runs_ok": tables["ok"],
            "runs_failed": tables["failed"], "runs_missing": len(specs) - tables["ok"] - tables["failed"]})
    except OSError as exc:
        problem = problem or write_error(folder.metadata, exc)
    return tables, problem


def _drive(todo: list[RunSpec], executor: Executor, folder: BatchFolder, bar: Any, in_flight: int,
           on_result: Any = None) -> int:
    """Submit at most ``in_flight`` runs at a time; save each as it finishes.

    A dead worker breaks a local pool for good (``BrokenProcessPool``): the pool is replaced
    (``executor.restart()``) and every run it lost goes back in the queue, up to
    ``MAX_ATTEMPTS`` attempts per run; a run that exhausts them is recorded as failed ("worker
    lost") and the batch goes on."""
    queue = list(reversed(todo))
    pending: dict[Future, RunSpec] = {}
    attempts: dict[str, int] = {}
    failures = 0
    restartable = hasattr(executor, "restart")

    def finish(spec: RunSpec, record: dict[str, Any]) -> None:
        nonlocal failures
        record["attempts"] = attempts[spec.run_id]
        try:
            folder.save(record)
        except OSError as exc:
            raise write_error(folder.run_file(spec.run_id), exc) from None
        failures += record["status"] != "ok"
        bar.update(1)
        bar.set_postfix(failed=failures)
        if on_result is not None:
            on_result(record)

    def lost(spec: RunSpec, exc: BaseException) -> None:
        if restartable and isinstance(exc, BrokenProcessPool) and attempts[spec.run_id] < MAX_ATTEMPTS:
            queue.append(spec)  # retried first, on the fresh pool
        else:
            finish(spec, _lost_record(spec, exc))

    try:
        while queue or pending:
            broken = False
            while queue and len(pending) < in_flight:
                spec = queue.pop()
                attempts[spec.run_id] = attempts.get(spec.run_id, 0) + 1
                try:
                    pending[executor.submit(execute_run, spec)] = spec
                except BrokenProcessPool as exc:  # the pool broke since the last wait
                    broken = True
                    lost(spec, exc)
                    if restartable:
                        break
            finished, _ = wait(list(pending), return_when=FIRST_COMPLETED)
            for future in [f for f in pending if f in finished]:  # in submission order
                spec = pending.pop(future)
                try:
                    record = future.result()
                except Exception as exc:  # the worker itself died (or the executor failed)
                    broken = broken or isinstance(exc, BrokenProcessPool)
                    lost(spec, exc)
                    continue
                finish(spec, record)
            if broken and restartable:
                for future, spec in list(pending.items()):  # the broken pool lost these too
                    if future.done() and not future.cancelled() and future.exception() is None:
                        continue  # finished before the break: saved on the next pass
                    pending.pop(future)
                    lost(spec, BrokenProcessPool("the pool was replaced after a worker died"))
                executor.restart()
    except BaseException:
        for future in pending:  # keep what finished; drop the rest
            if future.done() and not future.cancelled() and future.exception() is None:
                with contextlib.suppress(OSError, ScenarioError):  # the error raised says why
                    folder.save({**future.result(), "attempts": attempts[pending[future].run_id]})
            else:
                future.cancel()
        raise
    return failures


def _lost_record(spec: RunSpec, exc: BaseException) -> dict[str, Any]:
    return {"run_id": spec.run_id, "status": "failed", "kpis": None, "spec": asdict(spec),
            "error": f"worker lost: {type(exc).__name__}: {exc}", "wall_seconds": None}


def _progress_bar(total: int, initial: int, enabled: bool) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit="run", desc="runs", file=sys.stderr,
                disable=not enabled, dynamic_ncols=True, smoothing=0.1)


def write_tables(folder: BatchFolder, specs: list[RunSpec], summary: bool = True) -> dict[str, int]:
    """Rebuild runs.parquet (one row per run) and (``summary``) summary.csv from the run files
    (a write error is raised as one line naming the file)."""
    rows = []
    for record in folder.records([s.run_id for s in specs]):
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

        path = folder.root / "runs.parquet"
        try:
            write_parquet(path, pa.Table.from_pandas(frame, preserve_index=False))
            if summary:
                path = folder.root / "summary.csv"
                atomic_write_bytes(path, summarise(frame).to_csv(index=False).encode())
        except OSError as exc:
            raise write_error(path, exc) from None
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
        table = group[kpis].to_numpy(dtype=float)  # (one conversion per group, not per KPI)
        for column, all_values in zip(kpis, table.T, strict=True):
            values = all_values[~np.isnan(all_values)]
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
    slugs: dict[str, str] = {}
    for path, name in zip(scenarios, names, strict=True):  # run files are named by slug: one per name
        other = slugs.setdefault(safe_slug(name), name)
        if other != name:
            raise ScenarioError(str(path), "name", f"{name!r} gives the same file name "
                                f"({safe_slug(name)}) as {other!r}; rename one")
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

    return {"package_version": package_version(), "command": " ".join(sys.argv),
            "scenarios": {p: load_scenario(p)["source"]["hash"] for p in scenarios},
            "sweep": sweep, "points": points, "reps": reps, "seed": seed, "scale": scale, "days": days,
            "common_seeds": common_seeds,
            "seed_rule": "SeedSequence(seed, spawn_key=(point, rep)) or (scenario, point, rep)",
            "seeds": {s.run_id: s.seed for s in specs}}
