"""Dotted-key overrides (command line, sweeps, ``sim.evaluate``) and the rule that keeps them
honest: an override a reform would overwrite is refused, never silently dropped.

Order: a scenario is read (``extends`` merged), overrides are set on that raw scenario, then it
is validated and its reforms are applied. So an override of a key that a reform later sets (the
``platform`` reform sets ``handoff.delay_hours``) would vanish; ``check_overrides_kept`` finds
such keys and names the reform parameter to use instead (``reforms.platform.delay_hours``).
"""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Callable, Iterator
from typing import Any

from sim.errors import ScenarioError
from sim.scenario.reforms import REFORMS

MISSING = object()


def parse_assignment(item: str, where: str, key: str) -> tuple[str, Any]:
    """``KEY=VALUE`` (``--set``, the explorer's settings lines): the value read as TOML, else as
    text; a line without ``=`` or without a key is refused in one line (file ``where``, ``key``)."""
    name, sep, text = item.partition("=")
    if not sep or not name.strip():
        raise ScenarioError(where, key, f"must be KEY=VALUE (got {item.strip()!r})")
    try:
        return name.strip(), tomllib.loads(f"v = {text.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        return name.strip(), text.strip()


def apply_overrides(raw: dict[str, Any], overrides: dict[str, Any], path: str) -> dict[str, Any]:
    """Set dotted keys on a raw scenario, e.g. from the command line or a sweep.

    A key is a dotted path: ``simulation.scale``, ``units.township_office.staff``. A reform's
    parameter is addressed by position or by name (the first reform of that name):
    ``reforms[3].staff`` or ``reforms.one_seal.staff``.
    """
    out = copy.deepcopy(raw)
    for dotted, value in overrides.items():
        node: Any = out
        parts = split_key(dotted)
        for _i, part in enumerate(parts[:-1]):
            node = _child(node, part, dotted, path, create=True)
        last = parts[-1]
        if isinstance(node, list) or not isinstance(node, dict):
            raise ScenarioError(path, dotted, f"'{last}' cannot be set here")
        node[last] = value
    return out


def split_key(dotted: str) -> list[str | int]:
    parts: list[str | int] = []
    for piece in dotted.split("."):
        name, _, rest = piece.partition("[")
        if name:
            parts.append(name)
        while rest:
            index, _, rest = rest.partition("]")
            parts.append(int(index) if index.isdigit() else index)
            rest = rest.lstrip("[")
    return parts


def _child(node: Any, part: str | int, dotted: str, path: str, create: bool) -> Any:
    if isinstance(node, list):
        if isinstance(part, int):
            if part >= len(node):
                raise ScenarioError(path, dotted, f"index {part} is out of range (the list has {len(node)})")
            return node[part]
        named = [item for item in node if isinstance(item, dict) and item.get("name") == part]
        if not named:
            names = [item.get("name") for item in node if isinstance(item, dict)]
            raise ScenarioError(path, dotted, f"no reform named '{part}'; allowed: "
                                + ", ".join(map(str, names)))
        return named[0]
    if not isinstance(node, dict):
        raise ScenarioError(path, dotted, f"'{part}' is inside a value that is not a table")
    if part not in node:
        if not create:
            raise ScenarioError(path, dotted, f"no key '{part}'")
        node[part] = {}
    return node[part]




def lookup(node: Any, dotted: str) -> Any:
    """The value at a dotted key of a (built) scenario, or ``MISSING``."""
    for part in split_key(dotted):
        in_table = isinstance(node, dict) and part in node
        if in_table or (isinstance(node, list) and isinstance(part, int) and part < len(node)):
            node = node[part]
        else:
            return MISSING
    return node


def _perturbed(value: Any) -> Any:
    """Another valid-looking value of the same type, to see whether the result depends on it."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1 if value < 10 else value - 1
    if isinstance(value, float):
        return value * 0.5 if value else 1.0
    return MISSING


def check_overrides_kept(raw: dict[str, Any], overrides: dict[str, Any], path: str,
                         build: Callable[[dict[str, Any], str], dict[str, Any]],
                         built: dict[str, Any]) -> None:
    """Refuse an override whose key a reform later sets or removes (the first such key, in the
    overrides' order, named with the reform to blame: ``overwritten_keys``).

    Args:
        raw: the merged scenario before overrides.
        overrides: dotted key -> value.
        path: the scenario file, for messages.
        build: ``build_scenario`` (passed in so this module needs no loader).
        built: the scenario already built with every override.
    """
    for key, other in _overwritten(raw, overrides, path, build, built):
        raise _blame(raw, overrides, key, other, path, build)


def overwritten_keys(raw: dict[str, Any], overrides: dict[str, Any], path: str,
                     build: Callable[[dict[str, Any], str], dict[str, Any]],
                     built: dict[str, Any]) -> list[str]:
    """Every overridden key a reform later sets or removes, each judged with all the other
    overrides in place: one build per key. (A study with 190 ranged keys used to find them by
    loading the scenario again after each refusal, some 40,000 builds: minutes before a run.)"""
    return [key for key, _ in _overwritten(raw, overrides, path, build, built)]


def _overwritten(raw: dict[str, Any], overrides: dict[str, Any], path: str,
                 build: Callable[[dict[str, Any], str], dict[str, Any]],
                 built: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """(key, the other value tried) for each overridden key outside ``reforms`` and
    ``simulation`` that the reforms overwrite: built once more with that key set to another
    value, the final scenario holds the same value at the key both times (or the key is gone)."""
    if not raw.get("reforms"):
        return
    for key, value in overrides.items():
        if key.startswith(("reforms", "simulation.")):
            continue
        other = _perturbed(value)
        if other is MISSING:
            try:
                other = lookup(build(apply_overrides(raw, {k: v for k, v in overrides.items() if k != key},
                                                     path), path), key)
            except ScenarioError:
                continue  # without this override the rest do not make a valid scenario: nothing to compare
            if other == value or other is MISSING:
                continue  # nothing to compare against: the file's own value is the same
        try:
            alternative = build(apply_overrides(raw, {**overrides, key: other}, path), path)
        except ScenarioError:
            continue  # the other value is not valid here; nothing can be concluded
        final = lookup(built, key)
        if final is MISSING or final == lookup(alternative, key):
            yield key, other


def _blame(raw: dict[str, Any], overrides: dict[str, Any], key: str, other: Any, path: str,
                 build: Callable[[dict[str, Any], str], dict[str, Any]]) -> ScenarioError:
    """The one-line error naming the reform that overwrites ``key`` and what to set instead."""
    reforms = raw["reforms"]
    index = len(reforms) - 1
    for i in range(len(reforms)):
        head = {**copy.deepcopy(raw), "reforms": reforms[: i + 1]}
        # redeployment pools may name units only later reforms create: not part of this question
        head.get("behaviour", {}).get("redeployment", {}).pop("pools", None)
        head.get("behaviour", {}).get("redeployment", {}).pop("flexibility", None)
        try:
            a = lookup(build(apply_overrides(head, overrides, path), path), key)
            b = lookup(build(apply_overrides(head, {**overrides, key: other}, path), path), key)
        except ScenarioError:
            continue
        if a is MISSING or a == b:
            index = i
            break
    name = reforms[index].get("name")
    leaf = str(split_key(key)[-1])
    params = REFORMS[name].params if name in REFORMS else {}
    same_name = sum(1 for r in reforms if r.get("name") == name)
    address = f"reforms.{name}" if same_name == 1 else f"reforms[{index}]"
    hint = (f"set {address}.{leaf} instead" if leaf in params
            else f"change it through reforms[{index}]'s parameters ({', '.join(params) or 'none'}) "
                 "or drop the reform")
    return ScenarioError(path, key, f"reforms[{index}] ({name}) sets, rebuilds or removes this key after "
                         f"overrides are applied, so the override would be lost; {hint}")
