"""Why an error names the file it names: re-addressing errors along the ``extends`` chain.

A scenario is merged from several files before it is validated, so a bad value in a parent file
(``common/city.toml``) would otherwise be reported against the child the user ran. These helpers
find the file that holds the value and the key as written there.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from sim.errors import ScenarioError
from sim.scenario.overrides import split_key


def blame_reform_unit(exc: ScenarioError, created: dict[str, int]) -> ScenarioError:
    """An error about a unit kind a reform created is the reform's: ``reforms[i]``."""
    parts = exc.key.split(".")
    if len(parts) >= 2 and parts[0] == "units" and parts[1] in created:
        rest = ".".join(parts[2:])
        return ScenarioError(exc.path, f"reforms[{created[parts[1]]}]",
                             f"the unit kind {parts[1]!r} it creates: {rest + ': ' if rest else ''}"
                             f"{exc.message}")
    return exc


def _file_chain(path: str) -> list[tuple[str, dict[str, Any]]]:
    """(file, its own parsed content) along the ``extends`` chain, the root first."""
    chain: list[tuple[str, dict[str, Any]]] = []
    current: Path | None = Path(path)
    while current is not None and current.is_file() and len(chain) < 64:
        data = tomllib.loads(current.read_text(encoding="utf-8"))
        chain.insert(0, (str(current), data))
        parent = data.get("extends")
        current = current.parent / parent if isinstance(parent, str) else None
    return chain


def blame_file(exc: ScenarioError, path: str, overrides: dict[str, Any]) -> ScenarioError:
    """Re-address an error to the file of the ``extends`` chain that holds the bad value, with the
    key as written in that file (a parent's ``reforms[j]`` is its own j-th reform)."""
    if exc.path != path or not exc.key:
        return exc
    if any(exc.key == k or exc.key.startswith(f"{k}.") or exc.key.startswith(f"{k}[")
           for k in overrides):
        return exc  # the value came from the command line or a sweep, not from a file
    try:
        chain = _file_chain(path)
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return exc
    parts = split_key(exc.key)
    if parts and parts[0] == "reforms" and len(parts) > 1 and isinstance(parts[1], int):
        offset = 0
        for file, data in chain:
            own = data.get("reforms") if isinstance(data.get("reforms"), list) else []
            if parts[1] < offset + len(own):
                key = exc.key.replace(f"reforms[{parts[1]}]", f"reforms[{parts[1] - offset}]", 1)
                return ScenarioError(file, key, exc.message)
            offset += len(own)
        return exc
    best, depth = path, 0
    for file, data in reversed(chain):  # the child first: it overrides its parents
        node, found = data, 0
        for part in parts:
            in_table = isinstance(node, dict) and part in node
            in_list = isinstance(node, list) and isinstance(part, int) and part < len(node)
            if in_table or in_list:
                node, found = node[part], found + 1
            else:
                break
        if found > depth:
            best, depth = file, found
    return exc if best == path else ScenarioError(best, exc.key, exc.message)


