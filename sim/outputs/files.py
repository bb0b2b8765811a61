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


def _arrow(values: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """A NumPy column as an Arrow array over the same memory, nulls where ``valid`` is False.

    Why not ``pa.array``: on first use it imports pandas (0.4 s, to check whether it was given
    a pandas object), which nothing else in a run needs (issue 16)."""
    values = np.ascontiguousarray(values)
    if values.dtype == np.bool_:  # Arrow packs booleans into bits: these bytes would be misread
        raise TypeError("_arrow takes numbers; count or cast booleans first")
    bitmap, nulls = None, 0
    if valid is not None and not valid.all():
        bitmap = pa.py_buffer(np.packbits(valid, bitorder="little"))
        nulls = int(len(valid) - valid.sum())
    return pa.Array.from_buffers(pa.from_numpy_dtype(values.dtype), len(values),
                                 [bitmap, pa.py_buffer(values)], null_count=nulls)


def _strings(names: list[str]) -> pa.Array:
    """Text labels as an Arrow string array (see ``_arrow``)."""
    encoded = [name.encode() for name in names]
    offsets = np.concatenate(([0], np.cumsum([len(e) for e in encoded]))).astype(np.int32)
    return pa.Array.from_buffers(pa.string(), len(names), [None, pa.py_buffer(offsets),
                                                           pa.py_buffer(b"".join(encoded))])


def _labels(codes: np.ndarray, names: list[str], valid: np.ndarray | None = None) -> pa.Array:
    return pa.DictionaryArray.from_arrays(_arrow(codes.astype(np.int32), valid), _strings(names))


def _label_strings(codes: np.ndarray, names: list[str]) -> pa.Array:
    """``names[code]`` of every code as a plain Arrow string array, as
    ``_labels(...).dictionary_decode()`` gives it, built with NumPy: decoding imports Arrow's
    compute module, 0.1 s of a run that needs nothing else of it."""
    encoded = [name.encode() for name in names]
    length = np.array([len(e) for e in encoded], dtype=np.int64)
    start = np.concatenate(([0], np.cumsum(length)[:-1])).astype(np.int64)
    codes = np.asarray(codes, dtype=np.int64)
    sizes = length[codes]
    offsets = np.zeros(len(codes) + 1, dtype=np.int32)
    np.cumsum(sizes, out=offsets[1:])
    pool = np.frombuffer(b"".join(encoded), dtype=np.uint8)
    data = pool[np.repeat(start[codes] - offsets[:-1], sizes) + np.arange(int(offsets[-1]))]
    return pa.Array.from_buffers(pa.string(), len(codes), [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def request_table(tables: RunTables, kind_names: list[str], unit_names: list[str]) -> pa.Table:
    """One row per request; hand-offs as list columns (unit visited, arrival hour)."""
    t = tables
    offsets = _arrow(np.append(t.leg_first, len(t.leg_unit)).astype(np.int32))
    per_request = (lambda col: np.add.reduceat(col, t.leg_first)) if len(t.leg_first) else (
        lambda col: np.zeros(0, dtype=col.dtype))
    resolved_h = t.resolved / 60.0
    solved = ~np.isnan(t.resolved)
    arrive_h = t.leg_arrive / 60.0

    def count(column: np.ndarray) -> pa.Array:
        return _arrow(per_request(column.astype(np.int32)).astype(np.int32))

    columns = {
        "request_id": _arrow(np.arange(len(t.kind), dtype=np.int64)),
        "kind": _labels(t.kind, kind_names),
        "category": _labels(t.category, list(CATEGORIES)),
        "origin": _label_strings(t.kind, [str(o) for o in t.origin_of_kind]),
        "origin_agent": _arrow(t.origin_agent.astype(np.int64)),
        "created_h": _arrow(t.created / 60.0),
        "resolved_h": _arrow(resolved_h, solved),
        "solved_level": _labels(t.solved_level, list(LEVELS), solved),
        "solved_unit": _labels(t.solved_unit, unit_names, solved),
        "handoffs": _arrow((per_request((t.leg_role == 0).astype(np.int32)) - 1).astype(np.int32)),
        "desk_reviews": count(t.leg_role == 1),
        "returned_files": count(t.leg_role == 2),
        "bounces": count(t.leg_bounce),
        "trips": count(t.leg_trip),
        "staff_minutes": _arrow(per_request(t.leg_service).astype(np.float64)),
        "visit_units": pa.ListArray.from_arrays(offsets, _labels(t.leg_unit, unit_names)),
        "visit_arrival_h": pa.ListArray.from_arrays(offsets, _arrow(arrive_h, ~np.isnan(arrive_h))),
    }
    return pa.Table.from_arrays(list(columns.values()), names=list(columns))


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
