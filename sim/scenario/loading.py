"""Scenario files: read TOML (following ``extends``), fill defaults, validate, cross-check.

A scenario is plain data (a dict). Nothing here builds the model; ``sim.city.structure`` does,
from the validated dict. Every problem becomes a one-line ``ScenarioError``.
"""

from __future__ import annotations

import copy
import hashlib
import json
import tomllib
from pathlib import Path
from typing import Any

from sim.errors import ScenarioError
from sim.scenario.behaviour_schema import AGE_GROUPS
from sim.scenario.blame import blame_file, blame_reform_unit
from sim.scenario.footprint import check_footprint
from sim.scenario.overrides import apply_overrides, check_overrides_kept
from sim.scenario.reforms import apply_reforms, known_functions, unknown_function_message
from sim.scenario.schema import CALENDAR, LEVELS, SCENARIO, check_table

BUILTIN_CALENDARS = {
    "always": {"open_hour": 0.0, "close_hour": 24.0, "work_days": [0, 1, 2, 3, 4, 5, 6]},
    "office": {"open_hour": 9.0, "close_hour": 17.0, "work_days": [0, 1, 2, 3, 4]},
}
"""Calendars every scenario has; a scenario may redefine them. Office: 8 h, Monday-Friday
(assumed: Chinese government offices keep about 8 working hours on working days)."""

ORIGIN_SEGMENTS = {
    "resident": ("resident",),
    "grid_worker": ("public",),
    "upper_division": ("upper",),
}


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Merge ``override`` into a copy of ``base``: tables merge key by key, everything else replaces
    (``read_raw`` then concatenates ``reforms`` lists along an extends chain)."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def read_toml(path: Path) -> dict[str, Any]:
    """A TOML file as a dict; a broken, non-UTF-8 or unreadable file is one line naming it."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(str(path), "", f"not valid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise ScenarioError(str(path), "", "not a UTF-8 text file") from None
    except OSError as exc:
        raise ScenarioError(str(path), "", f"cannot be read ({exc.strerror or exc})") from None


def read_raw(path: str | Path, _seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """Read a scenario file and the chain of files it ``extends``, merged, not yet validated."""
    path = Path(path)
    if not path.is_file():
        raise ScenarioError(str(path), "", "no such scenario file")
    resolved = path.resolve()
    if resolved in _seen:
        raise ScenarioError(str(path), "extends", "circular extends chain")
    data = read_toml(path)
    _anchor_geography_file(data, path)
    parent = data.pop("extends", None)
    if parent is None:
        return _calibrated(data, path)
    if not isinstance(parent, str):
        raise ScenarioError(str(path), "extends", f"must be a file path string (got {parent!r})")
    parent_path = path.parent / parent
    if not parent_path.is_file():
        raise ScenarioError(str(path), "extends", f"no such file {parent_path}")
    base = read_raw(parent_path, (*_seen, resolved))
    merged = deep_merge(base, data)
    if isinstance(base.get("reforms"), list) and isinstance(data.get("reforms"), list):
        merged["reforms"] = base["reforms"] + data["reforms"]  # reforms accumulate along extends
    return _calibrated(merged, path) if "calibration" in data else merged


def _calibrated(raw: dict[str, Any], path: Path) -> dict[str, Any]:
    """Apply the ``[values]`` of the calibration file this file names (``calibration = "FILE"``,
    relative to it; written by ``run.py calibrate``): after the values it inherits, before
    command-line overrides, so ``--set`` still wins."""
    name = raw.get("calibration")
    if name is None:
        return raw
    if not isinstance(name, str):
        raise ScenarioError(str(path), "calibration", f"must be a file path string (got {name!r})")
    file = (path.parent / name).resolve()
    if not file.is_file():
        raise ScenarioError(str(path), "calibration", f"no such file {file}")
    values = read_toml(file).get("values")
    if not isinstance(values, dict) or not values:
        raise ScenarioError(str(file), "values", "must be a table of dotted scenario keys and fitted values")
    out = apply_overrides({k: v for k, v in raw.items() if k != "calibration"}, values, str(file))
    out["calibration"] = str(file)
    return out


def _anchor_geography_file(data: dict[str, Any], path: Path) -> None:
    """A relative ``geography.file`` is relative to the file naming it: made absolute here, so a
    scenario extending this one from elsewhere (``run.py place`` writes such) still finds it."""
    geo = data.get("geography")
    if isinstance(geo, dict) and isinstance(geo.get("file"), str) and geo["file"] \
            and not Path(geo["file"]).is_absolute():
        geo["file"] = str((path.parent / geo["file"]).resolve())


def load_scenario(path: str | Path, overrides: dict[str, Any] | None = None,
                  check_kept: bool = True) -> dict[str, Any]:
    """Read, merge, override, fill defaults and validate a scenario; return the plain dict.

    Args:
        path: scenario TOML file.
        overrides: dotted key -> value applied after merging (e.g. ``{"simulation.seed": 3}``).
        check_kept: refuse an override a reform would overwrite (a build per key); False when
            the caller checked the same keys once for many runs (``robust``).
    """
    path = str(path)
    overrides = overrides or {}
    raw = read_raw(path)
    try:
        scenario = build_scenario(apply_overrides(raw, overrides, path), path)
    except ScenarioError as exc:
        raise blame_file(exc, path, overrides) from None
    if check_kept:
        check_overrides_kept(raw, overrides, path, build_scenario, scenario)
    return scenario


def build_scenario(raw: dict[str, Any], path: str) -> dict[str, Any]:
    """Validate a raw (merged) scenario dict, apply its reforms and cross-check it.

    An error is reported against the file that holds the bad value (a parent in the ``extends``
    chain, when ``raw`` came from ``read_raw``) with the key as written there."""
    created: dict[str, int] = {}
    try:
        scenario = check_table(raw, SCENARIO, path, "")
        builtin = {name: check_table(cal, CALENDAR, path, f"calendars.{name}")
                   for name, cal in BUILTIN_CALENDARS.items()}
        scenario["calendars"] = {**builtin, **scenario["calendars"]}
        check_unit_functions(scenario, path)
        scenario, created = apply_reforms(scenario, path)
        cross_check(scenario, path)
    except ScenarioError as exc:
        raise blame_reform_unit(exc, created) from None
    check_footprint(scenario, path)
    scenario["source"] = {"path": path, "hash": scenario_hash(scenario)}
    return scenario


def check_unit_functions(scenario: dict[str, Any], path: str) -> None:
    """Every function name a unit or a request uses exists (catches typos).

    With a ``[functions]`` registry, every name on both sides must be in it. Without one, the
    functions requests need define what exists, and units may name only those; a typo in a
    request then goes unnoticed where a '*' unit takes it, which is why the presets keep a
    registry (``scenarios/common/city.toml``).
    """
    if not scenario.get("functions"):
        return  # checked after routing (cross_check): a request's own typo is reported first
    check_unit_function_names(scenario, path)


def _check_behaviour(scenario: dict[str, Any], path: str) -> None:
    """Residents' rules name resident kinds, one share per age group, no clash with follow-ups."""
    rules, requests = scenario["behaviour"], scenario["requests"]
    channels = rules["channels"]
    for name in channels["kinds"]:
        if name not in requests or requests[name]["origin"] != "resident":
            allowed = [n for n, r in requests.items() if r["origin"] == "resident"]
            raise ScenarioError(path, "behaviour.channels.kinds", f"unknown resident request kind "
                                f"'{name}'; allowed: {', '.join(allowed)}")
    for key in ("age_shares", "digital_access"):
        if len(channels[key]) != len(AGE_GROUPS):
            raise ScenarioError(path, f"behaviour.channels.{key}", f"must give {len(AGE_GROUPS)} numbers, "
                                f"one per age group ({', '.join(AGE_GROUPS)})")
    if sum(channels["age_shares"]) <= 0:
        raise ScenarioError(path, "behaviour.channels.age_shares", "must not all be 0")
    for key in ("from_level", "summoned_level"):
        if rules["whistle"][key] not in LEVELS:
            raise ScenarioError(path, f"behaviour.whistle.{key}",
                                f"unknown level; allowed: {', '.join(LEVELS)}")
    moving = rules["redeployment"]
    units = scenario["units"]
    seen: dict[str, str] = {}
    for pool, kinds in moving["pools"].items():
        for kind in kinds:
            if kind not in units:
                raise ScenarioError(path, f"behaviour.redeployment.pools.{pool}", f"unknown unit kind "
                                    f"'{kind}'; allowed: {', '.join(units)}")
            if kind in seen:
                raise ScenarioError(path, f"behaviour.redeployment.pools.{pool}", f"unit kind '{kind}' "
                                    f"is already in pool '{seen[kind]}'; a kind belongs to one pool")
            seen[kind] = pool
    for kind in moving["flexibility"]:
        if kind not in units:
            raise ScenarioError(path, f"behaviour.redeployment.flexibility.{kind}", "unknown unit kind; "
                                f"allowed: {', '.join(units)}")
    if not (channels["enabled"] or rules["patience"]["enabled"]):
        return
    if not channels["kinds"] and not any(r["origin"] == "resident" and r["category"] == "personal"
                                         for r in requests.values()):
        raise ScenarioError(path, "behaviour.channels.kinds", "no resident request kind of category "
                            "personal to decide about; name the kinds")
    if rules["patience"]["enabled"] and "follow_up" in requests:
        raise ScenarioError(path, "requests.follow_up", "is the name of residents' follow-up contacts "
                            "when behaviour.patience is on; rename the kind")
    known = known_functions(scenario)
    for name, kind in scenario["requests"].items():
        needed = [(f"steps[{i}]", f) for i, f in enumerate(kind["steps"] or [])]
        needed += [(f"function_shares.{f}", f) for f in kind["function_shares"] or {}]
        for where, function in needed:
            if function not in known:
                raise ScenarioError(path, f"requests.{name}.{where}",
                                    unknown_function_message(function, known) + " (see [functions])")


def check_unit_function_names(scenario: dict[str, Any], path: str) -> None:
    """Units may name only functions that exist (``known_functions``) or '*'."""
    known = known_functions(scenario)
    for name, unit in scenario["units"].items():
        for i, function in enumerate(unit["functions"]):
            if function != "*" and function not in known:
                raise ScenarioError(path, f"units.{name}.functions[{i}]",
                                    unknown_function_message(function, known))


def scenario_hash(scenario: dict[str, Any]) -> str:
    """SHA-256 of the validated content (so the same scenario hashes the same wherever it lives)."""
    content = {k: v for k, v in scenario.items() if k != "source"}
    text = json.dumps(content, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def request_segments(kind: dict[str, Any]) -> tuple[str, ...]:
    """Client segments a request kind can come from."""
    if kind["origin"] == "firm":
        if kind["segment"] == "any":
            return ("small_firm", "above_scale_firm")
        return (kind["segment"],)
    return ORIGIN_SEGMENTS[kind["origin"]]


def request_functions(kind: dict[str, Any]) -> list[str]:
    """All functions a request kind may need, whatever is drawn."""
    return list(kind["steps"] or []) + list(kind["function_shares"] or {})


def unit_covers(unit: dict[str, Any], function: str, segment: str) -> bool:
    """Whether a unit kind handles this function for this client segment."""
    return ("*" in unit["functions"] or function in unit["functions"]) and (
        "*" in unit["segments"] or segment in unit["segments"])


def cross_check(scenario: dict[str, Any], path: str) -> None:
    """Checks that span keys: references resolve, every request can be routed, ranges agree."""
    calendars = scenario["calendars"]
    for name, cal in calendars.items():
        if cal["close_hour"] <= cal["open_hour"]:
            raise ScenarioError(path, f"calendars.{name}.close_hour",
                                f"must be after open_hour ({cal['open_hour']:g})")
        if not cal["work_days"]:
            raise ScenarioError(path, f"calendars.{name}.work_days", "must name at least one day")
    for level in scenario.get("workday", {}):
        if level not in LEVELS:
            raise ScenarioError(path, f"workday.{level}", f"unknown level; allowed: {', '.join(LEVELS)}")
    units = scenario["units"]
    if not units:
        raise ScenarioError(path, "units", "must define at least one unit kind")
    for name, unit in units.items():
        if unit["calendar"] not in calendars:
            raise ScenarioError(path, f"units.{name}.calendar", f"unknown calendar "
                                f"'{unit['calendar']}'; allowed: {', '.join(sorted(calendars))}")
        if not unit["functions"]:
            raise ScenarioError(path, f"units.{name}.functions", "must name at least one function")
        _check_overtime(name, unit, scenario.get("workday", {}), calendars[unit["calendar"]], path)
        _check_travel(f"units.{name}", unit.get("duties", {}), path)
    _check_geography(scenario, path)
    for level, profile in scenario.get("workday", {}).items():
        _check_travel(f"workday.{level}", profile.get("duties", {}), path)
    if not scenario["requests"]:
        raise ScenarioError(path, "requests", "must define at least one request kind")
    for name, kind in scenario["requests"].items():
        _check_request(name, kind, scenario, path)
    check_unit_function_names(scenario, path)
    _check_behaviour(scenario, path)


def _check_geography(scenario: dict[str, Any], path: str) -> None:
    """Sites match counts; a geography file reads cleanly. Map-only unit keys (sites, sites_at,
    residents_per_unit) are ignored on the line, so one file runs either way."""
    geo, units = scenario["geography"], scenario["units"]
    on_map = geo["model"] == "map"
    for name, unit in units.items():
        if unit["sites"] and unit["count"] > 1 and len(unit["sites"]) != unit["count"]:
            raise ScenarioError(path, f"units.{name}.sites", f"must give one point per unit "
                                f"({unit['count']}), or any number for a one-unit team "
                                f"(got {len(unit['sites'])})")
        if unit["sites_at"] and (unit["sites_at"] not in units or unit["sites_at"] == name
                                 or units[unit["sites_at"]]["sites_at"]):
            raise ScenarioError(path, f"units.{name}.sites_at", "must name another unit kind with offices "
                                f"of its own; allowed: {', '.join(n for n in units if n != name)}")
        if unit["residents_per_unit"] and len(unit["residents_per_unit"]) != 2:
            raise ScenarioError(path, f"units.{name}.residents_per_unit",
                                "must be [built-up, elsewhere] residents per unit (two numbers)")
    if geo["service_centre"] and geo["service_centre"] not in units:
        raise ScenarioError(path, "geography.service_centre",
                            f"unknown unit kind '{geo['service_centre']}'; allowed: {', '.join(units)}")
    if geo["file"]:
        if not on_map:
            raise ScenarioError(path, "geography.file", 'needs the map: set [geography] model = "map"')
        from sim.scenario.geofile import read_communities  # geopandas only when a file is given

        ground = read_communities(geography_path(scenario, path), path)
        for key, stated, total in (("residents", scenario["population"]["residents"], ground.residents.sum()),
                                   ("firms", scenario["population"]["firms"], ground.firms.sum())):
            if abs(total - stated) > 0.01 * max(stated, 1):
                raise ScenarioError(path, f"population.{key}", f"is {stated:,} but the communities of "
                                    f"{geo['file']} hold {total:,.0f}; make them agree (within 1 %)")
        communities = [n for n, u in units.items() if u["level"] == "community" and not u["sites"]]
        for name in communities:
            if units[name]["count"] != len(ground.polygons):
                raise ScenarioError(path, f"units.{name}.count", f"must equal the {len(ground.polygons)} "
                                    f"communities of {geo['file']} (got {units[name]['count']})")


def geography_path(scenario: dict[str, Any], path: str) -> Path:
    """The geography file (made absolute by ``read_raw``; relative to ``path`` if given directly)."""
    file = Path(scenario["geography"]["file"])
    return file if file.is_absolute() else Path(path).resolve().parent / file


def unit_overtime(unit: dict[str, Any], workday: dict[str, Any], close_hour: float) -> float:
    """A unit kind's overtime cap in hours: its own, else its level's ``[workday.LEVEL]`` as far
    as its calendar leaves room before midnight (a team on a 24-hour calendar works shifts, not
    overtime), else 0."""
    if unit.get("overtime_hours_per_day") is not None:
        return float(unit["overtime_hours_per_day"])
    level = float(workday.get(unit["level"], {}).get("overtime_hours_per_day", 0.0))
    return max(0.0, min(level, 24.0 - close_hour))


def unit_leave(unit: dict[str, Any], workday: dict[str, Any]) -> float:
    """A unit kind's leave days: its own, else its level's ``[workday.LEVEL]``, else 0."""
    if unit.get("leave_days") is not None:
        return float(unit["leave_days"])
    return float(workday.get(unit["level"], {}).get("leave_days", 0.0))


def unit_duties(unit: dict[str, Any], workday: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A unit kind's duties: its level's, with the unit's own added (same name: the unit's)."""
    return {**workday.get(unit["level"], {}).get("duties", {}), **unit.get("duties", {})}


def _check_travel(key: str, duties: dict[str, Any], path: str) -> None:
    """A duty's travel is part of its minutes."""
    for name, duty in duties.items():
        if duty["travel_minutes"] > duty["minutes"]:
            raise ScenarioError(path, f"{key}.duties.{name}.travel_minutes",
                                f"must be at most its minutes ({duty['minutes']:g}), the whole visit "
                                f"(got {duty['travel_minutes']:g})")


def _check_overtime(name: str, unit: dict[str, Any], workday: dict[str, Any], calendar: dict[str, Any],
                    path: str) -> None:
    """Overtime extends a day past its closing, so the extended day must end by midnight."""
    extra = unit_overtime(unit, workday, calendar["close_hour"])
    if extra > 0 and calendar["close_hour"] + extra > 24:
        raise ScenarioError(path, f"units.{name}.overtime_hours_per_day",
                            f"must be <= {24 - calendar['close_hour']:g} for unit kind '{name}' (its "
                            f"calendar '{unit['calendar']}' closes at {calendar['close_hour']:g}; overtime "
                            f"must end by midnight) (got {extra:g})")


def _check_request(name: str, kind: dict[str, Any], scenario: dict[str, Any], path: str) -> None:
    key = f"requests.{name}"
    if (kind["steps"] is None) == (kind["function_shares"] is None):
        raise ScenarioError(path, key, "give exactly one of 'steps' (a list of functions) "
                            "or 'function_shares' (function = weight)")
    if kind["steps"] is not None and not kind["steps"]:
        raise ScenarioError(path, f"{key}.steps", "must name at least one function")
    if kind["function_shares"] is not None:
        if sum(kind["function_shares"].values()) <= 0:
            raise ScenarioError(path, f"{key}.function_shares", "weights must sum to more than 0")
        for per_step in ("lead_days", "review_minutes"):
            if kind[per_step] is not None and len(kind[per_step]) != 1:
                raise ScenarioError(path, f"{key}.{per_step}", "a single-step matter takes one value")
    n_steps = len(kind["steps"]) if kind["steps"] is not None else 1
    if kind["lead_days"] is None:
        kind["lead_days"] = [0.0] * n_steps
    for per_step in ("lead_days", "review_minutes"):
        if kind[per_step] is not None and len(kind[per_step]) != n_steps:
            raise ScenarioError(path, f"{key}.{per_step}",
                                f"must have one value per step ({n_steps}), got {len(kind[per_step])}")
    if not kind["authority"]:
        raise ScenarioError(path, f"{key}.authority", "must name at least one level: " + ", ".join(LEVELS))
    if kind["arrival_calendar"] not in scenario["calendars"]:
        raise ScenarioError(path, f"{key}.arrival_calendar", f"unknown calendar "
                            f"'{kind['arrival_calendar']}'; allowed: "
                            f"{', '.join(sorted(scenario['calendars']))}")
    if kind["sla_measure"] == "on_scene" and kind["sla_hours"] is None:
        raise ScenarioError(path, f"{key}.sla_hours", "is required when sla_measure = 'on_scene'")
    for function in request_functions(kind):
        for segment in request_segments(kind):
            _check_route(key, function, segment, kind["authority"], scenario["units"], path)


def _check_route(key: str, function: str, segment: str, authority: list[str],
                 units: dict[str, Any], path: str) -> None:
    """Every function must be handled by some unit at an authority level, and by one kind per level."""
    found = False
    for level in authority:
        covering = [n for n, u in units.items() if u["level"] == level and unit_covers(u, function, segment)]
        if len(covering) > 1:
            raise ScenarioError(path, key, f"function '{function}' for {segment} is covered by "
                                f"several {level} units ({', '.join(covering)}); allowed: one per level")
        found = found or bool(covering)
    if not found:
        raise ScenarioError(path, key, f"function '{function}' for {segment} is handled by no unit "
                            f"at levels {', '.join(authority)}; add it to a unit's functions")
