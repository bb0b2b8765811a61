"""Writing a run's outputs: request log (Parquet), KPIs and metadata (JSON), all atomically.

Atomic = written to a temporary file in the same folder, then renamed, so a reader never sees
half a file and an interrupted run leaves earlier results intact.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from sim.outputs.kpis import RunTables
from sim.scenario.schema import CATEGORIES, LEVELS


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def strict(value: Any) -> Any:
    """``value`` with every non-finite float (inf, nan, NumPy floats too) replaced by None and
    NumPy scalars made plain, so the JSON written is strict (no ``Infinity``/``NaN`` tokens)."""
    if isinstance(value, dict):
        return {str(k): strict(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [strict(v) for v in value]
    if isinstance(value, np.ndarray):
        return strict(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def write_json(path: Path, payload: dict[str, Any]) -> None:
    """Strict JSON, atomically (non-finite numbers become null)."""
    text = json.dumps(strict(payload), indent=2, sort_keys=False, allow_nan=False)
    atomic_write_bytes(path, (text + "\n").encode())


def request_table(tables: RunTables, kind_names: list[str], unit_names: list[str]) -> pa.Table:
    """One row per request; hand-offs as list columns (unit visited, arrival hour)."""
    t = tables
    offsets = pa.array(np.append(t.leg_first, len(t.leg_unit)).astype(np.int32))
    units = pa.DictionaryArray.from_arrays(pa.array(t.leg_unit.astype(np.int32)), pa.array(unit_names))
    arrive_h = pa.array(t.leg_arrive / 60.0, from_pandas=True)
    per_request = (lambda col: np.add.reduceat(col, t.leg_first)) if len(t.leg_first) else (
        lambda col: np.zeros(0))
    resolved_h = t.resolved / 60.0
    open_ = np.isnan(t.resolved)
    return pa.table({
        "request_id": pa.array(np.arange(len(t.kind), dtype=np.int64)),
        "kind": pa.DictionaryArray.from_arrays(pa.array(t.kind.astype(np.int32)), pa.array(kind_names)),
        "category": pa.DictionaryArray.from_arrays(pa.array(t.category.astype(np.int32)),
                                                   pa.array(list(CATEGORIES))),
        "origin": pa.array(t.origin.astype(str)),
        "origin_agent": pa.array(t.origin_agent.astype(np.int64)),
        "created_h": pa.array(t.created / 60.0),
        "resolved_h": pa.array(resolved_h, from_pandas=True),
        "solved_level": pa.DictionaryArray.from_arrays(
            pa.array(t.solved_level.astype(np.int32), mask=open_), pa.array(list(LEVELS))),
        "solved_unit": pa.DictionaryArray.from_arrays(
            pa.array(t.solved_unit.astype(np.int32), mask=open_), pa.array(unit_names)),
        "handoffs": pa.array((per_request((t.leg_role == 0).astype(np.int32)) - 1).astype(np.int32)),
        "desk_reviews": pa.array(per_request((t.leg_role == 1).astype(np.int32)).astype(np.int32)),
        "returned_files": pa.array(per_request((t.leg_role == 2).astype(np.int32)).astype(np.int32)),
        "bounces": pa.array(per_request(t.leg_bounce.astype(np.int32)).astype(np.int32)),
        "trips": pa.array(per_request(t.leg_trip.astype(np.int32)).astype(np.int32)),
        "staff_minutes": pa.array(per_request(t.leg_service)),
        "visit_units": pa.ListArray.from_arrays(offsets, units),
        "visit_arrival_h": pa.ListArray.from_arrays(offsets, arrive_h),
    })


def write_parquet(path: Path, table: pa.Table) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        pq.write_table(table, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def safe_slug(name: str, length: int = 40) -> str:
    """A file-name-safe form of a scenario name: the name itself when it is already safe, else a
    cleaned form plus a short hash of the whole name.

    Why: names are free text, but they become file and folder names; a name with ``/``, ``..``
    or an absolute path must never write outside the output folder, and two names that clean up
    alike must not collide (the hash keeps them apart)."""
    import hashlib
    import re

    if re.fullmatch(r"[a-z0-9][a-z0-9._-]*", name) and len(name) <= length and ".." not in name:
        return name  # already safe: kept as written (no other name cleans up to it: those get a hash)
    cleaned = re.sub(r"[^a-z0-9._-]+", "-", name.lower()).strip("-.")[:length] or "scenario"
    return f"{cleaned}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"
