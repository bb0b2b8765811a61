"""A minimal TOML writer: enough for scenario and sweep dicts (tables, arrays of tables, inline
tables, and every scalar including inf and nan). Used by `run.py show` and the tests."""

from __future__ import annotations

import json
import math
from typing import Any

BARE = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


def _key(name: str) -> str:
    return name if name and set(name) <= BARE else json.dumps(name)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # JSON string escapes are valid TOML basic-string escapes
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write {value!r}")


def dumps(data: dict[str, Any], prefix: str = "") -> str:
    lines: list[str] = []
    tables: list[tuple[str, dict[str, Any]]] = []
    arrays: list[tuple[str, list[dict[str, Any]]]] = []
    for name, value in data.items():
        if value is None:
            continue  # TOML has no null: an unset key is simply absent
        full = f"{prefix}{_key(name)}"
        if isinstance(value, dict) and value:
            tables.append((full, value))
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            arrays.append((full, value))
        else:
            lines.append(f"{_key(name)} = {_value(value)}")
    out = "\n".join(lines) + "\n"
    for full, table in tables:
        out += f"\n[{full}]\n" + dumps(table, f"{full}.")
    for full, items in arrays:
        for item in items:
            out += f"\n[[{full}]]\n" + dumps(item, f"{full}.")
    return out
