"""Declarative schema of a scenario: every key, its type, range and default.

Why declarative: the same table drives validation (one-line errors naming the key path and
what is allowed), default filling and the key reference in ``scenarios/README.md``.
"""

from __future__ import annotations

import math
from typing import Any

from sim.engine.calendars import HOLIDAYS
from sim.errors import ScenarioError
from sim.scenario.behaviour_schema import BEHAVIOUR
from sim.scenario.fields import REQUIRED, Field  # re-exported: the schema's vocabulary

LEVELS = ("grid", "social", "community", "township", "district", "department", "leadership")
"""Organisation levels from the bottom up; a request escalates in this order. Social
organisations sit just above the grid: transferred items go to them first and, when they cannot
finish one, up to the government units on the request's chain."""

GEOGRAPHIC_LEVELS = ("grid", "community", "township", "district")
ORIGINS = ("resident", "firm", "grid_worker", "upper_division")
SEGMENTS = ("resident", "small_firm", "above_scale_firm", "public", "upper")
CATEGORIES = ("personal", "firm", "enforcement", "incident", "dispute", "upper", "follow_up")
"""``follow_up``: a resident chasing a matter (``behaviour.patience``), never a catalogue kind's."""
REQUEST_CATEGORIES = CATEGORIES[:-1]  # what a catalogue kind may be
SLA_MEASURES = ("on_scene", "resolution")


# Upper bounds of plausible values. Why: a value past them is a typo or an attack, never a
# county; each is generous (several times the largest real case) so no real scenario meets it.
MAX_RESIDENTS = 50_000_000  # the largest Chinese prefecture-level cities have about 30 million
MAX_FIRMS = 20_000_000
MAX_COUNT = 20_000  # units of one kind (J6: 1,558 third-level grids; F10: 3,311 micro-grids)
MAX_STAFF = 10_000  # headcount of one unit
MAX_KNOWLEDGE = 1_000.0  # difficulty scale (complexities are about 0.3-2); inf = solves everything
MAX_MINUTES = 43_200.0  # 30 days of staff minutes for one visit
MAX_HOURS = 8_760.0  # one year
MAX_DAYS = 3_650  # ten years
MAX_RATE = 1_000_000.0  # requests per origin agent per year (grid workers: about 365; a synthetic
# test station may put a whole stream on one agent); the memory estimate bounds the total
MAX_COST = 10_000_000.0  # CNY per staff member per year
MAX_SEED = 2**63 - 1
WORKING_DAYS_PER_YEAR = 250.0  # assumed: 52 five-day weeks less W5's 11 public holidays (249), rounded




def _number_text(value: float) -> str:
    """50000000 -> '50,000,000'; 0.5 -> '0.5' (bounds read as a person writes them)."""
    return f"{int(value):,}" if float(value).is_integer() and abs(value) < 2**63 else f"{value:g}"


def _allowed(spec: Field) -> str:
    """Describe what a field accepts, for error messages."""
    if spec.choices:
        return "one of " + ", ".join(spec.choices)
    words = {"int": "an integer", "number": "a number", "bool": "true or false", "str": "a string",
             "table": "a table", "map": "a table of named entries"}
    text = words.get(spec.kind, spec.kind.replace("list[", "a list of ").replace("]", "s"))
    bounds = bounds_text(spec)
    return f"{text} {bounds}" if bounds else text


def bounds_text(spec: Field) -> str:
    """'>= 0 and <= 1,000 (or inf)': a field's numeric range as a person writes it."""
    parts = []
    if spec.minimum is not None:
        parts.append(f"{'>' if spec.exclusive_minimum else '>='} {_number_text(spec.minimum)}")
    if spec.maximum is not None:
        parts.append(f"<= {_number_text(spec.maximum)}")
    return " and ".join(parts) + (" (or inf)" if spec.allow_inf else "")


def _control_character(text: str) -> bool:
    return any(ord(c) < 32 or ord(c) == 127 for c in text)


def _check_scalar(value: Any, spec: Field, kind: str, path: str, key: str) -> Any:
    if kind == "any":
        if not isinstance(value, str | bool | int | float):
            raise ScenarioError(path, key, f"must be a number, string or true/false (got {value!r})")
        if isinstance(value, float) and not math.isfinite(value):
            raise ScenarioError(path, key, f"must be a finite number (got {value!r})")
        if isinstance(value, str) and _control_character(value):
            raise ScenarioError(path, key, f"must not contain control characters (got {value!r})")
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise ScenarioError(path, key, f"must be true or false (got {value!r})")
        return value
    if kind == "str":
        if not isinstance(value, str):
            raise ScenarioError(path, key, f"must be a string (got {value!r})")
        if _control_character(value):
            raise ScenarioError(path, key, f"must not contain control characters (got {value!r})")
        if spec.choices and value not in spec.choices:
            raise ScenarioError(path, key, f"must be {_allowed(spec)} (got {value!r})")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ScenarioError(path, key, f"must be {_allowed(spec)} (got {value!r})")
    if kind == "int" and not (isinstance(value, int) or (math.isfinite(value) and value == int(value))):
        raise ScenarioError(path, key, f"must be {_allowed(spec)} (got {value!r})")
    if not math.isfinite(value) and not (spec.allow_inf and value == math.inf):
        raise ScenarioError(path, key, f"must be a finite number: {_allowed(spec)} (got {value!r})")
    low_bad = spec.minimum is not None and (
        value <= spec.minimum if spec.exclusive_minimum else value < spec.minimum)
    high_bad = spec.maximum is not None and value > spec.maximum and value != math.inf
    if low_bad or high_bad:
        raise ScenarioError(path, key, f"must be {_allowed(spec)} (got {value!r})")
    return int(value) if kind == "int" else float(value)


def check_value(value: Any, spec: Field, path: str, key: str) -> Any:
    """Validate one value against its field spec and return it normalised (defaults filled)."""
    if spec.kind == "table":
        return check_table(value, spec.schema or {}, path, key)
    if spec.kind == "map":
        if not isinstance(value, dict):
            raise ScenarioError(path, key, f"must be a table of named entries (got {value!r})")
        if spec.values is not None:
            return {name: check_value(item, spec.values, path, f"{key}.{name}")
                    for name, item in value.items()}
        return {name: check_table(item, spec.schema or {}, path, f"{key}.{name}")
                for name, item in value.items()}
    if spec.kind == "reforms":  # parameters are checked against each reform's own schema
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            raise ScenarioError(path, key, "must be a list of [[reforms]] tables")
        return value
    if spec.kind == "list[point]":
        if not isinstance(value, list) or not all(isinstance(p, list) and len(p) == 2 for p in value):
            raise ScenarioError(path, key, f"must be a list of [x_km, y_km] pairs (got {value!r})")
        return [[_check_scalar(c, spec, "number", path, f"{key}[{i}]") for c in p]
                for i, p in enumerate(value)]
    if spec.kind.startswith("list["):
        if not isinstance(value, list):
            raise ScenarioError(path, key, f"must be {_allowed(spec)} (got {value!r})")
        inner = spec.kind[5:-1]
        return [_check_scalar(item, spec, inner, path, f"{key}[{i}]") for i, item in enumerate(value)]
    return _check_scalar(value, spec, spec.kind, path, key)


def check_table(data: Any, schema: dict[str, Field], path: str, key: str) -> dict[str, Any]:
    """Validate a table: no unknown keys, required keys present, defaults filled."""
    if not isinstance(data, dict):
        raise ScenarioError(path, key, f"must be a table (got {data!r})")
    prefix = f"{key}." if key else ""
    for name in data:
        if name not in schema:
            raise ScenarioError(path, f"{prefix}{name}",
                                "unknown key; allowed: " + ", ".join(sorted(schema)))
    out: dict[str, Any] = {}
    for name, spec in schema.items():
        if name in data:
            out[name] = check_value(data[name], spec, path, f"{prefix}{name}")
        elif spec.default is REQUIRED:
            raise ScenarioError(path, f"{prefix}{name}", f"is required ({_allowed(spec)})")
        elif spec.kind in ("table",):
            out[name] = check_table(spec.default or {}, spec.schema or {}, path, f"{prefix}{name}")
        else:
            out[name] = _copy_default(spec.default)
    return out


def _copy_default(value: Any) -> Any:
    if isinstance(value, dict):
        return dict(value)
    if isinstance(value, list):
        return list(value)
    return value


NON_NEGATIVE = {"minimum": 0.0}

CALENDAR = {
    "open_hour": Field("number", 0.0, minimum=0, maximum=24, help="hour the unit opens"),
    "close_hour": Field("number", 24.0, minimum=0, maximum=24, help="hour the unit closes"),
    "work_days": Field("list[int]", [0, 1, 2, 3, 4, 5, 6], minimum=0, maximum=6,
                       help="weekdays open, 0 = Monday"),
    "holidays": Field("str", "none", choices=tuple(HOLIDAYS),
                      help="public holidays (W5): 'cn-2024' closes statutory holidays and opens "
                      "make-up days (day 0 = Monday 1 January 2024); 'none' = every week alike"),
}

DUTY_DRIVERS = ("unit", "staff", "resident", "firm")
DUTY_MODES = ("desk", "away")

DUTY = {
    "per": Field("str", "unit", choices=DUTY_DRIVERS,
                 help="what the count is per: each unit, each staff member, or each resident or firm "
                 "the unit serves (the city's total split equally among the kind's units)"),
    "count_per_year": Field("number", REQUIRED, minimum=0, maximum=MAX_RATE,
                            help="items a year per driver (documents, meetings, inspections)"),
    "minutes": Field("number", REQUIRED, minimum=0, exclusive_minimum=True, maximum=MAX_MINUTES,
                     help="staff minutes per item"),
    "travel_minutes": Field("number", 0.0, minimum=0, maximum=MAX_MINUTES,
                            help="of minutes, the part spent travelling to the place (a field visit); "
                            "rounds merged under one team travel once (one_team)"),
    "mode": Field("str", "desk", choices=DUTY_MODES,
                  help="desk: done in idle time, visitors first (documents, reports); away: staff are "
                  "away for it at the day's start (meetings, reception, field visits)"),
    "months": Field("list[int]", list(range(1, 13)), minimum=1, maximum=12,
                    help="months in which it happens (a campaign's season); the yearly count is spread "
                    "over their open days"),
}

WORKDAY_LEVEL = {
    "leave_days": Field("number", 0.0, minimum=0, maximum=200,
                        help="days a year each staff member of this level is away (leave, training, "
                        "sickness), unless a unit kind says otherwise"),
    "overtime_hours_per_day": Field("number", 0.0, minimum=0, maximum=16,
                                    help="most hours a day staff of this level stay past closing while "
                                    "work is queued, unless a unit kind says otherwise"),
    "duties": Field("map", {}, schema=DUTY,
                    help="duties every unit kind of this level has, whichever design or reform made it"),
}

UNIT = {
    "level": Field("str", REQUIRED, choices=LEVELS, help="organisation level"),
    "count": Field("int", 1, minimum=1, maximum=MAX_COUNT,
                   help="number of units of this kind (e.g. 102 communities)"),
    "staff": Field("int", REQUIRED, minimum=1, maximum=MAX_STAFF, help="staff (headcount) per unit"),
    "hours_per_week": Field("number", 40.0, minimum=0, exclusive_minimum=True, maximum=168,
                            help="contract hours of one staff member; with the calendar's open hours "
                            "this sets how many serve at once"),
    "leave_days": Field("number", None, minimum=0, maximum=200,
                        help="days a year each staff member is away (annual leave, training, sick "
                        "leave), out of WORKING_DAYS_PER_YEAR; unset = the level's [workday.LEVEL] "
                        "value, else 0"),
    "overtime_hours_per_day": Field("number", None, minimum=0, maximum=16,
                                    help="most hours a day staff stay past closing while work is "
                                    "queued (W1, W2: 9.5-12 h days); the calendar's close_hour plus this "
                                    "must stay within the day; 0 = no overtime; unset = the level's "
                                    "[workday.LEVEL] value, else 0"),
    "duties": Field("map", {}, schema=DUTY,
                    help="work that is not a request, queued at each opening: name -> {per, "
                    "count_per_year, minutes} (see [units.NAME.duties.NAME]); added to the level's "
                    "[workday.LEVEL] duties, replacing one of the same name"),
    "calendar": Field("str", "office", help="name of a calendar in [calendars]"),
    "knowledge": Field("number", REQUIRED, minimum=0, maximum=MAX_KNOWLEDGE, allow_inf=True,
                       help="solves requests whose difficulty is at most this (inf = all)"),
    "functions": Field("list[str]", REQUIRED,
                       help="functions (item classes) this unit may handle; '*' = all"),
    "segments": Field("list[str]", ["*"], choices=(*SEGMENTS, "*"),
                      help="client segments served; '*' = all"),
    "cost_per_staff": Field("number", 150_000.0, minimum=0, maximum=MAX_COST,
                            help="yearly cost of one staff member (CNY)"),
    "joint_review": Field("bool", False,
                          help="consecutive steps merged here share their review periods"),
    "review_overlap": Field("number", 1.0, minimum=0, maximum=1,
                            help="under joint_review: 1 = statutory waits fully parallel (longest "
                            "counts), 0 = one after another"),
    "sites": Field("list[point]", [], minimum=-1_000.0, maximum=1_000.0,
                   help="on a map (ignored on the line): office points [x_km, y_km], one per unit "
                   "(count units), or the stations of a one-unit pooled team (its field staff "
                   "leave from the nearest); "
                   "written by 'run.py place'; empty = each area's population-weighted centre"),
    "sites_at": Field("str", "",
                      help="with a map: share the offices of this unit kind (M7: the enforcement "
                      "team's stations in the governance units' joint work stations)"),
    "residents_per_unit": Field("list[number]", [], minimum=1, maximum=MAX_RESIDENTS,
                                help="with a map: catchments sized by a rule, [built-up, elsewhere] "
                                "residents per unit (F9: 30-40k and 10-20k): count units share the "
                                "residents in proportion to residents / target"),
    "review_stages": Field("int", 1, minimum=1, maximum=20,
                           help="desks (sections, seals) a file passes here, each reviewing its share "
                           "of a step's review_minutes and signing it off (M2: 17 seals over 7 "
                           "departments before reform, one after)"),
}

REQUEST = {
    "category": Field("str", REQUIRED, choices=REQUEST_CATEGORIES, help="KPI category"),
    "origin": Field("str", REQUIRED, choices=ORIGINS, help="which agents create it"),
    "segment": Field("str", "any", choices=("any", "small_firm", "above_scale_firm"),
                     help="for firm requests: which firms create it"),
    "rate_per_year": Field("number", REQUIRED, minimum=0, maximum=MAX_RATE,
                           help="requests per origin agent per year (per resident with rate_basis = "
                           "\"residents\")"),
    "rate_basis": Field("str", "origin", choices=("origin", "residents"),
                        help="origin: rate per origin agent (grid workers' reports grow with their "
                        "number); residents: rate per resident, each request at a resident's place, "
                        "found by the unit serving it: demand from places, whatever the grid structure"),
    "complexity": Field("number", REQUIRED, minimum=0, exclusive_minimum=True, maximum=MAX_KNOWLEDGE,
                        help="mean difficulty (exponential); compared with unit knowledge"),
    "service_minutes": Field("number", REQUIRED, minimum=0, exclusive_minimum=True, maximum=MAX_MINUTES,
                             help="mean staff minutes per visit"),
    "visit_minutes": Field("number", 0.0, minimum=0, maximum=MAX_MINUTES,
                           help="staff minutes per visit on top of the steps' service (intake, file "
                           "opening); a visit covering several steps pays it once"),
    "service_cv": Field("number", 1.0, minimum=0, maximum=5,
                        help="coefficient of variation of service (1 = exponential, 0 = fixed)"),
    "in_person": Field("bool", False, help="the requester must come in person (a trip)"),
    "dispatched": Field("bool", False,
                        help="reaches its first unit through a hand-off (hotline, platform)"),
    "authority": Field("list[str]", REQUIRED, choices=LEVELS,
                       help="levels that may decide it, any order"),
    "steps": Field("list[str]", None, help="functions handled in sequence (multi-step matters)"),
    "lead_days": Field("list[number]", None, minimum=0, maximum=365,
                       help="statutory waits: working days after each step's decision that take no "
                       "staff time (public notice periods; same length as steps)"),
    "review_minutes": Field("list[number]", None, minimum=0, maximum=MAX_MINUTES,
                            help="back-office staff minutes of file review per step, done after the "
                            "visit at the unit deciding it, shared over its review_stages (same "
                            "length as steps; unset = the step is decided at the counter)"),
    "correction_share": Field("number", 0.0, minimum=0, maximum=0.95,
                              help="chance that a desk returns the file for corrections at each "
                              "review (approval work only)"),
    "correction_days": Field("number", 0.0, minimum=0, maximum=365,
                             help="working days the requester takes to correct a returned file "
                             "before handing it in again"),
    "function_shares": Field("map", None, values=Field("number", minimum=0, maximum=1e6),
                             help="single-step matter: function drawn with these weights"),
    "travel_minutes": Field("number", 0.0, minimum=0, maximum=1_440, help="staff travel before service"),
    "sla_hours": Field("number", None, minimum=0, exclusive_minimum=True, maximum=MAX_HOURS,
                       help="service-level target in hours"),
    "sla_measure": Field("str", "resolution", choices=SLA_MEASURES, help="what the SLA times"),
    "arrival_calendar": Field("str", "always", help="calendar during which requests arise"),
    "high_frequency": Field("bool", False, help="counts as a high-frequency personal matter (F12)"),
}

GEOGRAPHY = {
    "model": Field("str", "line", choices=("line", "map"),
                   help="line: every agent at a point of [0, 1) split evenly per unit kind (no travel); "
                   "map: a nested map of areas with travel times (sim.city.geo)"),
    "file": Field("str", "", help="communities as polygons (GeoJSON or GeoPackage, relative to the "
                  "scenario file) with 'population' and 'firms' attributes; empty = generate the city"),
    "seed": Field("int", 1, minimum=0, maximum=MAX_SEED,
                  help="the map's own seed: one city for every design and replication (runs' seeds "
                  "vary who lives where within it, not the city)"),
    "area_km2": Field("number", 184.0, minimum=0.01, maximum=100_000.0, help="land area of a generated city"),
    "aspect": Field("number", 1.4, minimum=0.1, maximum=10.0, help="width / height of a generated city"),
    "cores": Field("int", 3, minimum=1, maximum=50, help="built-up cores of a generated city"),
    "built_up_share": Field("number", 0.3, minimum=0.01, maximum=0.9,
                            help="share of a generated city's land that is built-up"),
    "built_up_residents": Field("number", 0.75, minimum=0, maximum=1,
                                help="share of residents living on built-up land"),
    "built_up_firms": Field("number", 0.85, minimum=0, maximum=1,
                            help="share of firms on built-up land"),
    "built_up_threshold": Field("number", 0.5, minimum=0, maximum=1,
                                help="an area with at least this built-up share counts as built-up "
                                "(F9's sizing rule)"),
    "micro_grids": Field("int", 0, minimum=0, maximum=MAX_COUNT,
                         help="micro-grids below the finest grid level (F10: 3,311); areas only"),
    "detour": Field("number", 1.3, minimum=1.0, maximum=5.0,
                    help="road distance / straight-line distance"),
    "resident_kmh": Field("number", 15.0, minimum=1.0, maximum=200.0,
                          help="residents' door-to-door speed"),
    "team_kmh": Field("number", 25.0, minimum=1.0, maximum=200.0, help="field teams' speed"),
    "access_minutes": Field("number", 3.0, minimum=0, maximum=120.0,
                            help="fixed minutes per trip (leaving, parking, finding the door)"),
    "circle_minutes": Field("number", 15.0, minimum=0, exclusive_minimum=True, maximum=240.0,
                            help="the service circle: residents within this many minutes of their "
                            "service centre (002: a 15-minute public service circle)"),
    "service_centre": Field("str", "",
                            help="unit kind that is residents' service centre (empty: the lowest-level "
                            "kind taking residents' in-person matters)"),
}

SCENARIO = {
    "extends": Field("str", None, help="scenario file this one builds on (relative path)"),
    "calibration": Field("str", None, help="calibration file (written by run.py calibrate) whose "
                         "fitted values this scenario runs with; relative path"),
    "name": Field("str", REQUIRED, help="short name shown in tables"),
    "description": Field("str", "", help="one paragraph"),
    "population": Field("table", {}, schema={
        "residents": Field("int", REQUIRED, minimum=1, maximum=MAX_RESIDENTS, help="resident population"),
        "firms": Field("int", 0, minimum=0, maximum=MAX_FIRMS, help="registered market entities"),
        "above_scale_share": Field("number", 0.0, minimum=0, maximum=1,
                                   help="share of firms that are above-scale industrial firms"),
        "upper_divisions": Field("int", 0, minimum=0, maximum=MAX_COUNT,
                                 help="upper-government divisions tasking the city"),
    }),
    "simulation": Field("table", {}, schema={
        "days": Field("int", 365, minimum=1, maximum=MAX_DAYS, help="simulated days"),
        "scale": Field("number", 1.0, minimum=0, maximum=1, exclusive_minimum=True,
                       help="share of residents and firms instantiated as agents"),
        "seed": Field("int", 1, minimum=0, maximum=MAX_SEED, help="random seed"),
        "engine": Field("str", "compiled", choices=("compiled", "reference"),
                        help="queueing core: compiled (Numba) or the reference Python loop; same results"),
        "warmup_days": Field("int", 0, minimum=0, maximum=MAX_DAYS,
                             help="days excluded from KPIs (capped at warmup_cap_share of the run); "
                             "should cover the slowest cycle (KPI warmup.slowest_cycle_days)"),
        "demand_factor": Field("number", 1.0, minimum=0, maximum=10.0,
                               help="multiplies every request kind's rate_per_year (a what-if on demand; "
                               "firm entry and follow-ups respond to it through their rules)"),
        "warmup_cap_share": Field("number", 0.25, minimum=0, maximum=0.9,
                                  help="most of a run the warm-up may take (short runs keep a window)"),
        "approval_work": Field("bool", True,
                               help="requests with review_minutes are reviewed at desks after the "
                               "visit (queued staff work, desk waits, returned files); false = their "
                               "review is done at the counter during the visit"),
        "working_day": Field("bool", True,
                             help="units' duties, overtime and [workday.LEVEL] profiles take effect; "
                             "false = requests only, every day the contract (as before the working day "
                             "existed)"),
    }),
    "geography": Field("table", {}, schema=GEOGRAPHY),
    "behaviour": Field("table", {}, schema=BEHAVIOUR,
                       help="rules by which residents decide (sim.city.behaviour); each off by default"),
    "handoff": Field("table", {}, schema={
        "delay_hours": Field("number", 0.0, minimum=0, maximum=MAX_HOURS,
                             help="mean hand-off delay between units"),
        "dispatch_hours": Field("number", None, minimum=0, maximum=MAX_HOURS,
                                help="mean delay from report to the first unit for dispatched "
                                "requests (default: delay_hours)"),
        "delay_cv": Field("number", 1.0, minimum=0, maximum=5, help="its coefficient of variation"),
        "working_time": Field("bool", False,
                              help="delay_hours are office working hours (16 = two office days, not "
                              "elapsing over nights and weekends); false = clock hours. Dispatch "
                              "delays stay clock hours (the hotline runs round the clock)"),
        "dispatch_cv": Field("number", None, minimum=0, maximum=5,
                             help="coefficient of variation of dispatch delay (default: delay_cv)"),
        "misroute_rule": Field("str", "share", choices=("share", "per_window"),
                               help="share: misroute_share of visits to a level with other windows "
                               "go to a wrong one first; per_window: each other window at the level "
                               "is mistaken with misroute_per_window, so a visit goes wrong with "
                               "1 - (1 - p)^k for k other windows (more windows, more mistakes)"),
        "misroute_share": Field("number", 0.0, minimum=0, maximum=1,
                                help="share of hand-offs first sent to a wrong unit (misroute_rule share)"),
        "misroute_per_window": Field("number", 0.0, minimum=0, maximum=1,
                                     help="chance of mistaking each other window at the level for "
                                     "the right one (misroute_rule per_window)"),
        "escalated_service": Field("str", "same", choices=("same", "screen_and_decide"),
                                   help="same: every unit on a matter's chain spends the kind's "
                                   "service_minutes on it; screen_and_decide: the deciding unit's time "
                                   "grows with the matter's difficulty (difficulty_elasticity: "
                                   "escalated matters are the hard ones and take their level longer), "
                                   "a unit passing it up spends screen_share of service_minutes"),
        "difficulty_elasticity": Field("number", 0.5, minimum=0, maximum=2,
                                       help="screen_and_decide: the deciding unit's service grows as "
                                       "(difficulty / complexity) ^ this, scaled so the mean over all "
                                       "matters stays service_minutes (0 = the same at every level)"),
        "screen_share": Field("number", 0.3, minimum=0, maximum=1,
                              help="screen_and_decide: share of a kind's service_minutes a unit spends "
                              "on a matter before passing it up"),
        "screening_minutes": Field("number", 10.0, minimum=0, maximum=1_440,
                                   help="staff minutes a wrong unit spends before sending it back"),
        "forward_without_trip": Field("bool", False,
                                      help="documents travel between units, not the requester "
                                      "(also: corrected files are sent in, not brought)"),
        "desk_days": Field("number", 0.0, minimum=0, maximum=30,
                           help="working days a file waits in a desk's in-tray before its review "
                           "(files move between desks in batches)"),
        "max_corrections": Field("int", 2, minimum=0, maximum=10,
                                 help="most times one desk returns the same file"),
    }),
    "functions": Field("map", None, values=Field("str"),
                       help="function name -> description: the functions that exist; when given, "
                       "every function a unit, request or reform names must be one of them"),
    "calendars": Field("map", {}, schema=CALENDAR),
    "workday": Field("map", {}, schema=WORKDAY_LEVEL,
                     help="level name -> overtime and duties for every unit kind of that level "
                     "(one rule for every design, so the designs differ only by their units and staff)"),
    "units": Field("map", REQUIRED, schema=UNIT),
    "requests": Field("map", REQUIRED, schema=REQUEST),
    "reforms": Field("reforms", [], help="ordered list of [[reforms]] tables: name plus parameters"),
}
