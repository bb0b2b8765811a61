"""One run as a function: scenario in, KPIs (and optionally files) out."""

from __future__ import annotations

import platform
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sim.city.model import GovernanceModel
from sim.outputs.files import request_table, write_json, write_parquet
from sim.outputs.kpis import RunTables, build_tables, compute_kpis, flatten
from sim.scenario.loading import load_scenario
from sim.version import package_version


@dataclass
class RunResult:
    """A finished run: the model (for inspection), its tables, KPIs and metadata."""

    model: GovernanceModel
    tables: RunTables
    kpis: dict[str, Any]
    metadata: dict[str, Any]


def run_scenario(scenario: str | Path | dict[str, Any], *, seed: int | None = None,
                 scale: float | None = None, days: int | None = None,
                 overrides: dict[str, Any] | None = None, check_kept: bool = True,
                 out: str | Path | None = None) -> RunResult:
    """Simulate a scenario and compute its KPIs.

    Args:
        scenario: a scenario file or an already validated scenario dict.
        seed, scale, days: override ``simulation.seed``, ``.scale``, ``.days``.
        overrides: further dotted-key overrides (file scenarios only).
        check_kept: refuse overrides a reform overwrites (see ``load_scenario``).
        out: also write the run's files there (``write_run``): the request log on a second
            thread while the KPIs are computed (Arrow encodes and compresses it without holding
            the interpreter, so on two cores a full-city run's half second of writing is hidden).
    """
    settings = {f"simulation.{k}": v for k, v in
                (("seed", seed), ("scale", scale), ("days", days)) if v is not None}
    if isinstance(scenario, dict):
        config = scenario
        for key, value in settings.items():
            config["simulation"][key.split(".")[1]] = value
    else:
        config = load_scenario(scenario, {**settings, **(overrides or {})}, check_kept=check_kept)
    started = time.perf_counter()
    model = GovernanceModel(config)
    model.run(config["simulation"]["days"])
    tables = build_tables(model)
    with ThreadPoolExecutor(1) as writer:
        log = None if out is None else writer.submit(write_request_log, model, tables, Path(out))
        kpis = compute_kpis(model, tables)
        wall = time.perf_counter() - started
        if log is not None:
            log.result()  # (the writer's error, if any, raised here)
    metadata = {
        "package_version": package_version(),
        "scenario": config["name"],
        "scenario_file": config.get("source", {}).get("path"),
        "scenario_hash": config.get("source", {}).get("hash"),
        "seed": model.seed,
        "scale": model.scale,
        "days": config["simulation"]["days"],
        "agents": len(model.agents),
        "wall_seconds": round(wall, 3),
        "finished_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
    }
    result = RunResult(model, tables, kpis, metadata)
    if out is not None:
        write_summary(result, out)
    return result


def write_run(result: RunResult, out: str | Path) -> None:
    """Write ``requests.parquet``, ``kpis.json`` and ``metadata.json`` into ``out``."""
    write_request_log(result.model, result.tables, Path(out))
    write_summary(result, out)


def write_request_log(model: GovernanceModel, tables: RunTables, out: Path) -> None:
    """``requests.parquet``: one row per request (``sim.outputs.files.request_table``)."""
    table = request_table(tables, [k.name for k in model.kinds], model.structure.unit_names)
    write_parquet(out / "requests.parquet", table)


def write_summary(result: RunResult, out: str | Path) -> None:
    """``kpis.json`` and ``metadata.json``."""
    write_json(Path(out) / "kpis.json", result.kpis)
    write_json(Path(out) / "metadata.json", result.metadata)


def evaluate(scenario: str | Path, seed: int | None = None, **overrides: Any) -> dict[str, float]:
    """The model as a function: named parameters in, scalar KPIs out.

    Overrides are scenario keys; since keyword names cannot hold dots, ``__`` stands for ``.``
    (``handoff__delay_hours=2`` sets ``handoff.delay_hours``); ``scale`` and ``days`` are
    shortcuts for ``simulation.scale`` and ``simulation.days``. Returns flattened KPIs
    (``resolution_hours.personal.mean`` ...), so EMA Workbench, SALib or any sampler can drive it.
    """
    settings = {k: overrides.pop(k) for k in ("scale", "days") if k in overrides}
    dotted = {key.replace("__", "."): value for key, value in overrides.items()}
    return flatten(run_scenario(scenario, seed=seed, overrides=dotted, **settings).kpis)
