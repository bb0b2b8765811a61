"""The one type of the declarative schema: a key's kind, default, range and help."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Field:
    """One key: its kind, default (``REQUIRED`` if none), allowed range or choices, and help text."""

    kind: str  # int | number | bool | str | list[str] | list[int] | list[number] | table | map
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] | None = None
    schema: dict[str, Field] | None = None  # for table (fixed keys) and map (name -> table)
    values: Field | None = None  # for map of scalars (name -> number)
    help: str = ""
    exclusive_minimum: bool = False
    allow_inf: bool = False  # +inf is a meaningful value (e.g. knowledge = inf: solves everything)


REQUIRED = object()
