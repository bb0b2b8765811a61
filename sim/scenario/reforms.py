"""Reforms: named, parameterised transformations of a scenario's structure.

A scenario is a base structure plus an ordered list of ``[[reforms]]``; each reform takes the
validated scenario dict and returns a changed copy. So "which reform buys what" is answered by
switching reforms on one at a time (``sim.experiments.attribution``), never by editing code.

Each reform declares its parameters with the same ``Field`` schema as scenario keys, so a bad
parameter gets the same one-line error (file, ``reforms[i].key``, what is allowed).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sim.errors import ScenarioError
from sim.scenario.schema import (
    LEVELS,
    MAX_COST,
    MAX_COUNT,
    MAX_HOURS,
    MAX_KNOWLEDGE,
    MAX_STAFF,
    REQUIRED,
    SEGMENTS,
    UNIT,
    Field,
    check_table,
)

Scenario = dict[str, Any]


@dataclass(frozen=True)
class Context:
    """Where a reform comes from, for error messages."""

    path: str
    key: str

    def error(self, param: str, message: str) -> ScenarioError:
        return ScenarioError(self.path, f"{self.key}.{param}" if param else self.key, message)


@dataclass(frozen=True)
class Reform:
    name: str
    facts: str
    summary: str
    params: dict[str, Field]
    apply: Callable[[Scenario, dict[str, Any], Context], Scenario]


REFORMS: dict[str, Reform] = {}


def reform(reform_name: str, facts: str, summary: str, /, **params: Field) -> Callable:
    """Register a reform function under ``reform_name`` with its parameter schema."""

    def register(func: Callable[[Scenario, dict[str, Any], Context], Scenario]) -> Callable:
        REFORMS[reform_name] = Reform(reform_name, facts, summary, params, func)
        return func

    return register


def apply_reforms(scenario: Scenario, path: str) -> tuple[Scenario, dict[str, int]]:
    """Validate every ``[[reforms]]`` entry and apply them in order.

    Returns the reformed scenario and, for each unit kind a reform created, the index of that
    reform (so a later error about the unit can be blamed on the reform that wrote it)."""
    checked = []
    created: dict[str, int] = {}
    for index, entry in enumerate(scenario["reforms"]):
        key = f"reforms[{index}]"
        name = entry.get("name")
        if not isinstance(name, str) or name not in REFORMS:
            raise ScenarioError(path, f"{key}.name", f"unknown reform {name!r}; allowed: "
                                + ", ".join(sorted(REFORMS)))
        params = check_table({k: v for k, v in entry.items() if k != "name"}, REFORMS[name].params,
                             path, key)
        check_function_params(scenario, params, Context(path, key))
        before = set(scenario["units"])
        scenario = REFORMS[name].apply(copy.deepcopy(scenario), params, Context(path, key))
        created.update({unit: index for unit in scenario["units"] if unit not in before})
        checked.append({"name": name, **params})
    scenario["reforms"] = checked
    return scenario, created


def known_functions(scenario: Scenario) -> set[str]:
    """The functions that exist: the scenario's ``[functions]`` registry when it has one, else
    those some request kind needs (the only names a unit's ``functions`` may then use)."""
    if scenario.get("functions"):
        return set(scenario["functions"])
    return {f for kind in scenario["requests"].values()
            for f in list(kind["steps"] or []) + list(kind["function_shares"] or {})}


def unknown_function_message(name: str, known: set[str]) -> str:
    """'unknown function ...' with the closest known names (or all of them)."""
    import difflib

    close = difflib.get_close_matches(name, sorted(known), n=3, cutoff=0.6)
    hint = ("closest: " + ", ".join(close)) if close else "allowed: " + ", ".join(sorted(known))
    return f"unknown function {name!r}; {hint}"


def check_function_params(scenario: Scenario, params: dict[str, Any], ctx: Context) -> None:
    """Every function a reform names (``functions``, ``roles``, module and unit maps) must exist.

    Why: a typo would otherwise go to a unit that handles nothing, or, where a '*' unit exists,
    silently to the leaders."""
    known = known_functions(scenario)

    def check(names: Any, param: str) -> None:
        for i, name in enumerate(names or []):
            if name != "*" and name not in known:
                raise ctx.error(f"{param}[{i}]", unknown_function_message(name, known))

    for param in ("functions", "roles"):
        check(params.get(param), param)
    for param in ("modules", "units"):
        if isinstance(params.get(param), dict):
            for entry, table in params[param].items():
                check(table.get("functions"), f"{param}.{entry}.functions")


# --- helpers ---------------------------------------------------------------------------------


def units_at(scenario: Scenario, level: str) -> list[str]:
    return [name for name, unit in scenario["units"].items() if unit["level"] == level]


def new_unit(scenario: Scenario, name: str, ctx: Context, **config: Any) -> None:
    """Add a unit kind with defaults filled (as if it had been written in the file)."""
    if name in scenario["units"]:
        raise ctx.error("unit_name", f"a unit kind called {name!r} exists already; choose another name")
    scenario["units"][name] = check_table(config, UNIT, ctx.path, f"{ctx.key}.{name}")


def category_functions(scenario: Scenario, categories: tuple[str, ...],
                       steps_only: bool = False) -> list[str]:
    """Functions used by request kinds of the given categories, in catalogue order."""
    out: list[str] = []
    for kind in scenario["requests"].values():
        if kind["category"] in categories:
            names = list(kind["steps"] or [])
            if not steps_only:
                names += list(kind["function_shares"] or {})
            out += [f for f in names if f not in out]
    return out


def take_functions(scenario: Scenario, functions: list[str], level: str) -> list[str]:
    """Remove functions from the unit kinds at a level; delete kinds left with none.

    Returns the names of the unit kinds that held any of them (the ones merged away)."""
    touched = []
    for name in units_at(scenario, level):
        unit = scenario["units"][name]
        kept = [f for f in unit["functions"] if f not in functions]
        if kept != unit["functions"]:
            touched.append(name)
            if kept or "*" in unit["functions"]:
                unit["functions"] = kept
            else:
                del scenario["units"][name]
    return touched


def add_authority(scenario: Scenario, functions: list[str], level: str) -> None:
    """Let request kinds using these functions be decided at ``level`` too."""
    for kind in scenario["requests"].values():
        uses = set(kind["steps"] or []) | set(kind["function_shares"] or {})
        if uses & set(functions) and level not in kind["authority"]:
            kind["authority"] = [lv for lv in LEVELS if lv in {*kind["authority"], level}]


def staff_of(scenario: Scenario, names: list[str]) -> int:
    return sum(scenario["units"][n]["staff"] * scenario["units"][n]["count"] for n in names)


def check_units_exist(scenario: Scenario, names: list[str], ctx: Context, param: str) -> None:
    for i, name in enumerate(names):
        if name not in scenario["units"]:
            raise ctx.error(f"{param}[{i}]", f"unknown unit {name!r}; allowed: "
                            + ", ".join(scenario["units"]))


def check_calendar(scenario: Scenario, name: str, ctx: Context) -> None:
    if name not in scenario["calendars"]:
        allowed = ", ".join(scenario["calendars"])
        raise ctx.error("calendar", f"unknown calendar {name!r}; allowed: {allowed}")


def _number(default: Any, minimum: float | None = 0.0, maximum: float = MAX_KNOWLEDGE, help: str = "",
            kind: str = "number") -> Field:
    return Field(kind, default, minimum=minimum, maximum=maximum, help=help)


def _int(default: Any, minimum: int = 1, maximum: int = MAX_STAFF, help: str = "") -> Field:
    """A count or headcount (upper bound: ``MAX_STAFF``; counts of units pass ``MAX_COUNT``)."""
    return Field("int", default, minimum=minimum, maximum=maximum, help=help)


def _functions(help: str, default: Any = None) -> Field:
    return Field("list[str]", default, help=help)


# --- the reforms -----------------------------------------------------------------------------


@reform("remove_township_layer", "F7",
        "communities report to the city: township units go; their functions and a share of their "
        "staff move to the community level",
        functions_to=Field("str", "community", choices=("community", "district", "department"),
                           help="level that takes over the township functions"),
        staff_moved=_number(0.0, maximum=1.0,
                            help="share of township staff moved to that level (rest removed)"))
def remove_township_layer(s: Scenario, p: dict[str, Any], ctx: Context) -> Scenario:
    townships = units_at(s, "township")
    if not townships:
        raise ctx.error("", "the structure has no township-level units to remove")
    targets = units_at(s, p["functions_to"])
    if not targets:
        raise ctx.error("functions_to", f"the structure has no {p['functions_to']}-level unit to take "
                        "over the township functions")
    moved = [f for n in townships for f in s["units"][n]["functions"]]
    target = s["units"][targets[0]]
    target["functions"] += [f for f in dict.fromkeys(moved) if f not in target["functions"]]
    extra = p["staff_moved"] * staff_of(s, townships) / target["count"]
    target["staff"] += round(extra)
    for name in townships:
        del s["units"][name]
    add_authority(s, moved, p["functions_to"])
    return s


def _district_unit(s: Scenario, p: dict[str, Any], ctx: Context, functions: list[str], **extra: Any) -> None:
    """A unit kind between communities and departments that may decide these functions."""
    new_unit(s, p["unit_name"], ctx, level="district", count=p["count"], staff=p["staff"],
             knowledge=p["knowledge"], functions=functions, **extra)
    add_authority(s, functions, "district")


@reform("districts", "E2",
        "a quasi-layer of districts between city and communities; departments post staff there",
        count=_int(9, maximum=MAX_COUNT, help="number of districts (E2: 9)"),
        staff=_int(REQUIRED, help="staff per district"),
        knowledge=_number(1.2, help="what a district decides"),
        functions=_functions("functions districts handle (default: personal, dispute and incident "
                             "functions)"),
        staff_from_departments=_number(0.0, maximum=1.0,
                                       help="share of department-level staff posted to districts"),
        unit_name=Field("str", "district", help="name of the new unit kind"))
def districts(s: Scenario, p: dict[str, Any], ctx: Context) -> Scenario:
    functions = p["functions"] or category_functions(s, ("personal", "dispute", "incident"))
    for name in units_at(s, "department"):
        unit = s["units"][name]
        unit["staff"] = max(1, round(unit["staff"] * (1 - p["staff_from_departments"])))
    _district_unit(s, p, ctx, functions)
    return s


@reform("governance_units", "F9, M7",
        "joint grassroots units (service centre + joint work station) between city and communities",
        count=_int(26, maximum=MAX_COUNT, help="number of units (F9: 26)"),
        staff=_int(REQUIRED, help="staff per unit (service centre and station together)"),
        knowledge=_number(1.5, help="what a unit decides"),
        functions=_functions("functions handled (default: dispute, incident and enforcement)"),
        calendar=Field("str", "always", help="working calendar (M7: a patrol team within 15 minutes)"),
        residents_per_unit=Field("list[number]", [], minimum=1, maximum=1e9,
                                 help="on a map: catchments sized by F9's rule, [built-up, elsewhere] "
                                 "residents per unit (F9: 30-40k and 10-20k); empty = equal populations"),
        unit_name=Field("str", "governance_unit", help="name of the new unit kind"))
def governance_units(s: Scenario, p: dict[str, Any], ctx: Context) -> Scenario:
    functions = p["functions"] or category_functions(s, ("dispute", "incident", "enforcement"))
    check_calendar(s, p["calendar"], ctx)
    _district_unit(s, p, ctx, functions, calendar=p["calendar"], residents_per_unit=p["residents_per_unit"])
    return s


@reform("grids", "F10, E3",
        "grid network: full-service and dedicated grids with their workers; one grid, many roles",
        full_service=_int(469, maximum=MAX_COUNT, help="full-service grids (F10: 469)"),
        dedicated=_int(15, minimum=0, maximum=MAX_COUNT, help="dedicated grids (F10: 15)"),
        micro=_int(3311, minimum=0, maximum=MAX_COUNT,
                   help="micro-grids (F10: 3,311); volunteer heads, not staff: "
                   "recorded, not simulated"),
        workers_per_grid=_int(1, help="paid grid workers per grid"),
        knowledge=_number(None, help="what a grid worker settles (default: unchanged)"),
        roles=_functions("functions added to the grid ('one grid, many roles')", []))
def grids(s: Scenario, p: dict[str, Any], ctx: Context) -> Scenario:
    names = units_at(s, "grid")
    if not names:
        raise ctx.error("", "the structure has no grid-level unit to reshape")
    grid = s["units"][names[0]]
    grid["count"] = p["full_service"] + p["dedicated"]
    grid["staff"] = p["workers_per_grid"]
    if p["knowledge"] is not None:
        grid["knowledge"] = p["knowledge"]
    grid["functions"] += [f for f in p["roles"] if f not in grid["functions"]]
    add_authority(s, p["roles"], "grid")
    return s


@reform("community_centre", "E1, F8, F11, F12",
        "what the community service centre can finish, and how many communities there are",
        functions=_functions("functions added to the centre", []),
        items=_int(None, minimum=0, maximum=MAX_COUNT,
                   help="or: finish the N most requested personal-matter functions "
                   "(F11: 159 item types, i.e. all the catalogue has)"),
        count=_int(None, maximum=MAX_COUNT, help="number of communities (E1/F8: 199 merged into 102)"),
        staff=_int(None, help="staff per centre (default: unchanged)"),
        knowledge=_number(None, help="what a centre decides (default: unchanged)"))
def community_centre(s: Scenario, p: dict[str, Any], ctx: Context) -> Scenario:
    names = units_at(s, "community")
    if not names:
        raise ctx.error("", "the structure has no community-level unit")
    centre = s["units"][names[0]]
    functions = list(p["functions"])
    if p["items"] is not None:
        functions += _most_requested(s, ("personal",))[: p["items"]]
    centre["functions"] += [f for f in dict.fromkeys(functions) if f not in centre["functions"]]
    add_authority(s, functions, "community")
    for key in ("count", "staff", "knowledge"):
        if p[key] is not None:
            centre[key] = p[key]
    return s


def _most_requested(s: Scenario, categories: tuple[str, ...]) -> list[str]:
    volume: dict[str, float] = {}
    for kind in s["requests"].values():
        if kind["category"] in categories:
            for f in list(kind["steps"] or []) + list(kind["function_shares"] or {}):
                volume[f] = volume.get(f, 0.0) + kind["rate_per_year"]
    return sorted(volume, key=lambda f: -volume[f])


MODULE = {
    "functions": Field("list[str]", REQUIRED, help="functions the module covers"),
    "staff": Field("int", REQUIRED, minimum=1, maximum=MAX_STAFF, help="module staff"),
    "knowledge": Field("number", 3.0, minimum=0, maximum=MAX_KNOWLEDGE,
                       help="decision power (M1: non-major decisions)"),
    "segments": Field("list[str]", ["*"], choices=(*SEGMENTS, "*"),
                      help="client segments served, e.g. above_scale_firm"),
}


@reform("modules", "M1",
        "department sections replaced by modules, each covering a client segment's whole business",
        modules=Field("map", REQUIRED, schema=MODULE, help="module name -> {functions, staff, knowledge}"))
def modules(s: Scenario, p: dict[str, Any], ctx: Context) -> Scenario:
    # a section loses a function only when the modules together serve every client segment of it;
    # otherwise it keeps serving the rest (and overlapping coverage is reported by validation)
    all_segments = {"resident", "small_firm", "above_scale_firm", "public", "upper"}
    served: dict[str, set[str]] = {}
    for module in p["modules"].values():
        segments = all_segments if "*" in module["segments"] else set(module["segments"])
        for function in module["functions"]:
            served.setdefault(function, set()).update(segments)
    take_functions(s, [f for f, segs in served.items() if segs >= all_segments], "department")
    for name, module in p["modules"].items():
        new_unit(s, name, ctx, level="department", **module)
    return s


@reform("one_seal", "M2, M3",
        "approving departments merged into one bureau under one seal, with joint review",
        staff=_int(26, help="bureau staff (M2: 56 -> 26)"),
        knowledge=_number(3.0, help="decision power"),
        review_overlap=_number(1.0, maximum=1.0,
                               help="under joint review, the share of the shorter statutory waits run "
                               "alongside the longest (1 = notices in parallel)"),
        review_stages=_int(1, maximum=20, help="desks a file passes in the bureau (M2: one seal)"),
        functions=_functions("approval functions merged (default: every step of firm matters)"),
        unit_name=Field("str", "approval_bureau", help="name of the new unit kind"))
def one_seal(s: Scenario, p: dict[str, Any], ctx: Context) -> Scenario:
    functions = p["functions"] or category_functions(s, ("firm",), steps_only=True)
    take_functions(s, functions, "department")
    new_unit(s, p["unit_name"], ctx, level="department", staff=p["staff"], knowledge=p["knowledge"],
             functions=functions, joint_review=True, review_overlap=p["review_overlap"],
             review_stages=p["review_stages"])
    return s


@reform("one_team", "M4",
        "enforcement of several departments merged into one comprehensive team, dispatched in minutes",
        staff=_int(REQUIRED, help="team staff (M4: 78 % leaner than the norm)"),
        knowledge=_number(1.5, help="what field officers settle"),
        calendar=Field("str", "always", help="working calendar of the team"),
        dispatch_minutes=_number(6.0, maximum=1_440,
                                 help="respond + accept + dispatch (M4: 1 + 2 + 3 minutes)"),
        functions=_functions("enforcement functions merged (default: all enforcement functions)"),
        unit_name=Field("str", "enforcement_team", help="name of the new unit kind"))
def one_team(s: Scenario, p: dict[str, Any], ctx: Context) -> Scenario:
    functions = p["functions"] or category_functions(s, ("enforcement",))
    check_calendar(s, p["calendar"], ctx)
    before = {name: s["units"][name].get("duties", {}) for name in units_at(s, "department")}
    merged = [before[name] for name in take_functions(s, functions, "department") if name not in s["units"]]
    new_unit(s, p["unit_name"], ctx, level="department", staff=p["staff"], knowledge=p["knowledge"],
             functions=functions, calendar=p["calendar"], duties=merge_rounds(merged, ctx))
    s["handoff"]["dispatch_hours"] = p["dispatch_minutes"] / 60.0
    s["handoff"]["dispatch_cv"] = 0.0  # a fixed response chain
    return s


def merge_rounds(duties: list[dict[str, dict[str, Any]]], ctx: Context) -> dict[str, dict[str, Any]]:
    """The duties of the unit kinds one team absorbs (M4: rounds merged under one team).

    Duties of one name (e.g. every department's ``inspections``) become one round: each firm is
    visited as often as the most frequent of them asked (``count_per_year`` = the largest) and
    each visit checks every domain, so the check work is kept (sum of count x (minutes - travel))
    and the travel is paid once per visit (the longest). Assumed: a merged team plans one visit
    per firm for all its domains. A duty of a name only one unit had is kept as it was."""
    by_name: dict[str, list[dict[str, Any]]] = {}
    for table in duties:
        for name, duty in table.items():
            by_name.setdefault(name, []).append(duty)
    out = {}
    for name, group in by_name.items():
        if len(group) == 1:
            out[name] = dict(group[0])
            continue
        if len({(d["per"], d["mode"]) for d in group}) > 1:
            raise ctx.error("functions", f"the merged units' '{name}' duties differ in 'per' or 'mode'; "
                            "give them the same, or different names")
        count = max(d["count_per_year"] for d in group)
        travel = max(d["travel_minutes"] for d in group)
        check = sum(d["count_per_year"] * (d["minutes"] - d["travel_minutes"]) for d in group)
        out[name] = {**group[0], "count_per_year": count, "travel_minutes": travel,
                     "minutes": travel + (check / count if count else 0.0),
                     "months": sorted({m for d in group for m in d["months"]})}
    return out


@reform("platform", "M6",
        "digital dispatch platform: hand-offs in minutes, fewer misroutes, documents travel",
        delay_hours=_number(0.1, maximum=MAX_HOURS, help="mean hand-off delay between units"),
        misroute_share=_number(0.02, maximum=1.0, help="share of hand-offs first sent wrong"),
        forward_without_trip=Field("bool", True, help="documents travel, not the requester"),
        sensor_share=_number(0.0, maximum=1.0, help="share of incidents the platform's cameras and sensors "
                             "find at once (behaviour.patrols)"))
def platform(s: Scenario, p: dict[str, Any], ctx: Context) -> Scenario:
    handoff = {k: v for k, v in p.items() if k != "sensor_share"}
    s["handoff"].update(handoff)
    # the platform routes by its item catalogue: the requester no longer picks among windows
    s["handoff"]["misroute_rule"] = "share"
    s.setdefault("behaviour", {}).setdefault("patrols", {})["sensor_share"] = p["sensor_share"]
    return s


@reform("social_transfer", "M5",
        "listed request kinds moved (in part) to social organisations working under purchase contracts",
        kinds=Field("map", REQUIRED, values=Field("number", minimum=0, maximum=1),
                    help="request kind -> share of its volume transferred"),
        staff=_int(REQUIRED, help="staff-equivalents the contracts buy"),
        count=_int(1, maximum=MAX_COUNT, help="number of organisations (staff is per organisation)"),
        knowledge=_number(1.0, help="what the organisations settle; the rest goes back to government"),
        cost_per_staff=_number(100_000.0, maximum=MAX_COST,
                               help="yearly purchase cost per staff-equivalent (CNY)"),
        unit_name=Field("str", "social_organisations", help="name of the new unit kind"))
def social_transfer(s: Scenario, p: dict[str, Any], ctx: Context) -> Scenario:
    functions: list[str] = []
    for kind_name, share in p["kinds"].items():
        if kind_name not in s["requests"]:
            raise ctx.error(f"kinds.{kind_name}",
                            "unknown request kind; allowed: " + ", ".join(s["requests"]))
        kind = s["requests"][kind_name]
        moved = copy.deepcopy(kind)
        moved["rate_per_year"] = kind["rate_per_year"] * share
        kind["rate_per_year"] *= 1.0 - share
        moved["authority"] = ["social", *[lv for lv in kind["authority"] if lv != "social"]]
        s["requests"][f"{kind_name}_social"] = moved
        functions += [f for f in list(kind["steps"] or []) + list(kind["function_shares"] or {})
                      if f not in functions]
    new_unit(s, p["unit_name"], ctx, level="social", count=p["count"], staff=p["staff"],
             knowledge=p["knowledge"], functions=functions, cost_per_staff=p["cost_per_staff"])
    return s


@reform("staff_share", "F6",
        "scale headcounts (all units, or some levels or unit kinds), at least one per unit",
        share=_number(REQUIRED, minimum=0.0, maximum=10.0, help="multiplier, e.g. 0.4"),
        levels=Field("list[str]", None, choices=LEVELS, help="only units at these levels"),
        units=Field("list[str]", None, help="only these unit kinds"))
def staff_share(s: Scenario, p: dict[str, Any], ctx: Context) -> Scenario:
    if p["share"] <= 0:
        raise ctx.error("share", "must be > 0 (a unit needs at least one staff member)")
    names = list(s["units"])
    if p["units"] is not None:
        check_units_exist(s, p["units"], ctx, "units")
        names = p["units"]
    if p["levels"] is not None:
        names = [n for n in names if s["units"][n]["level"] in p["levels"]]
    for name in names:
        unit = s["units"][name]
        unit["staff"] = max(1, round(unit["staff"] * p["share"]))
    return s


UPPER_TARGET = {
    "functions": Field("list[str]", REQUIRED, help="upper-task functions this unit faces"),
    "staff": Field("int", None, minimum=1, maximum=MAX_STAFF,
                   help="its staff after the change (default: unchanged)"),
    "knowledge": Field("number", None, minimum=0, maximum=MAX_KNOWLEDGE,
                       help="its decision power (default: unchanged)"),
}


@reform("upper_mapping", "M1",
        "how tasks from upper divisions map onto local units (one-to-one vs one module to many)",
        units=Field("map", REQUIRED, schema=UPPER_TARGET,
                    help="department-level unit kind -> {functions it faces, staff}"))
def upper_mapping(s: Scenario, p: dict[str, Any], ctx: Context) -> Scenario:
    for name in p["units"]:
        if name not in s["units"] or s["units"][name]["level"] != "department":
            raise ctx.error(f"units.{name}", "must be a department-level unit kind; allowed: "
                            + ", ".join(units_at(s, "department")))
    functions = [f for target in p["units"].values() for f in target["functions"]]
    keep = {name: s["units"][name] for name in p["units"]}
    take_functions(s, functions, "department")
    for name, target in p["units"].items():
        unit = s["units"].setdefault(name, keep[name])  # re-added if it held only upper functions
        unit["functions"] = [f for f in unit["functions"] if f not in functions] + target["functions"]
        for key in ("staff", "knowledge"):
            if target[key] is not None:
                unit[key] = target[key]
    return s


@reform("offices", "002, M7",
        "where a unit kind's offices stand on the map (written by 'run.py place'); a one-unit team's "
        "sites are the stations its field staff leave from",
        unit=Field("str", REQUIRED, help="the unit kind placed"),
        sites=Field("list[point]", [], minimum=-1_000.0, maximum=1_000.0,
                    help="office points [x_km, y_km]; for a kind with several units, one per unit (sets "
                    "count: each unit serves the areas nearest its office)"),
        sites_at=Field("str", "", help="share another kind's offices instead (M7: joint work stations)"))
def offices(s: Scenario, p: dict[str, Any], ctx: Context) -> Scenario:
    if p["unit"] not in s["units"]:
        raise ctx.error("unit", f"unknown unit {p['unit']!r}; allowed: " + ", ".join(s["units"]))
    if bool(p["sites"]) == bool(p["sites_at"]):
        raise ctx.error("sites", "give either sites or sites_at (one of them)")
    unit = s["units"][p["unit"]]
    if p["sites"] and unit["count"] > 1:
        unit["count"] = len(p["sites"])
    unit["sites"], unit["sites_at"] = p["sites"], p["sites_at"]
    return s
