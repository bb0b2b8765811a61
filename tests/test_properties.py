"""Property-based tests: invariants of the simulator on small random but valid scenarios.

Hypothesis builds a scenario as TOML text (1-4 unit kinds at a few levels plus a leadership
unit that decides everything, 1-4 request kinds, random hand-offs, calendars and population),
loads it through ``load_scenario`` and runs the model. The properties hold for every run:

1. conservation: every created request is either resolved or open; tables match the engine;
2. causality: a leg starts after it arrives and ends after it starts; a request's next leg
   arrives after the previous one ended; a request is resolved after it was created;
3. capacity: a unit never serves more legs at once (working clock) than it has staff;
4. FCFS: at each unit, service starts in arrival order;
5. open hours: service runs only while the unit's calendar is open;
6. determinism: a seed gives one result; another seed gives another.

The main strategy always includes a busy request kind (arising around the clock), so every
simulated day has requests; ``test_quiet_scenarios_run`` drops it to cover quiet days.
"""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from sim.city.model import GovernanceModel
from sim.engine.calendars import DAY
from sim.outputs.kpis import RunTables, build_tables, compute_kpis
from sim.scenario.loading import load_scenario
from sim.scenario.schema import REQUEST_CATEGORIES
from sim.scenario.toml_writer import dumps

FUNCTIONS = ("f0", "f1", "f2", "f3", "f4")
LOWER_LEVELS = ("grid", "community", "township", "department")
UNIT_LEVELS = ("grid", "community", "township", "department", "department")
CALENDARS = ("always", "office", "custom")
SEGMENT_CHOICES = (["*"], ["*"], ["*"], ["resident"], ["small_firm", "above_scale_firm"],
                   ["public", "upper"], ["resident", "public"], ["above_scale_firm"])
BUSY_PER_DAY = 25.0  # expected requests per day of the busy kind: P(a day without) ~ 1e-11
TOL = 1e-6  # minutes; calendar <-> working-clock conversions round at about 1e-11

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ---------------------------------------------------------------------------------------------
# scenario strategy


def _num(low: float, high: float) -> st.SearchStrategy[float]:
    return st.floats(low, high, allow_nan=False, allow_infinity=False)


@st.composite
def _custom_calendar(draw: st.DrawFn) -> dict[str, Any]:
    open_half = draw(st.integers(0, 46))
    close_half = draw(st.integers(open_half + 1, 48))
    days = draw(st.lists(st.integers(0, 6), min_size=1, max_size=7, unique=True))
    return {"open_hour": open_half / 2, "close_hour": close_half / 2, "work_days": days}


@st.composite
def _units(draw: st.DrawFn) -> dict[str, dict[str, Any]]:
    """0-3 lower unit kinds (one kind per function per level) and a leadership deciding all."""
    units: dict[str, dict[str, Any]] = {}
    taken: dict[str, set[str]] = {level: set() for level in LOWER_LEVELS}
    levels: list[str] = []
    for i in range(draw(st.sampled_from([0, 1, 2, 2, 3, 3]))):
        # a kind may join the level of an earlier one (then hand-offs there can be misrouted)
        level = draw(st.sampled_from([*UNIT_LEVELS, *levels, *levels]))
        levels.append(level)
        wanted = draw(st.lists(st.sampled_from(FUNCTIONS), min_size=1, max_size=4, unique=True))
        functions = [f for f in wanted if f not in taken[level]]
        functions = functions or [f for f in FUNCTIONS if f not in taken[level]][:1]
        if not functions:
            continue
        taken[level].update(functions)
        units[f"u{i}"] = {
            "level": level, "count": draw(st.integers(1, 5)), "staff": draw(st.integers(1, 4)),
            "calendar": draw(st.sampled_from(CALENDARS)), "knowledge": draw(_num(0.0, 1.5)),
            "functions": functions, "segments": draw(st.sampled_from(SEGMENT_CHOICES)),
            "joint_review": draw(st.booleans()),
        }
    units["leadership"] = {"level": "leadership", "staff": draw(st.integers(1, 4)),
                           "calendar": draw(st.sampled_from(CALENDARS)),
                           "knowledge": math.inf, "functions": ["*"]}
    return units


RATE_BY_ORIGIN = {"resident": 3.0, "firm": 5.0, "grid_worker": 300.0, "upper_division": 500.0}


@st.composite
def _request(draw: st.DrawFn, origin: str | None = None, rate: float | None = None,
             arrival: str | None = None) -> dict[str, Any]:
    origin = origin or draw(st.sampled_from(tuple(RATE_BY_ORIGIN)))
    lower = draw(st.just(list(LOWER_LEVELS))
                 | st.lists(st.sampled_from(LOWER_LEVELS), unique=True))
    authority = draw(st.permutations([*lower, "leadership"]))
    kind: dict[str, Any] = {
        "category": draw(st.sampled_from(REQUEST_CATEGORIES)), "origin": origin,
        "rate_per_year": rate if rate is not None else draw(_num(0.0, RATE_BY_ORIGIN[origin])),
        "complexity": draw(_num(0.05, 3.0)), "service_minutes": draw(_num(1.0, 120.0)),
        "service_cv": draw(st.sampled_from([0.0, 0.5, 1.0, 2.0])),
        "in_person": draw(st.booleans()), "dispatched": draw(st.booleans()),
        "authority": list(authority), "travel_minutes": draw(st.sampled_from([0.0, 15.0])),
        "arrival_calendar": arrival or draw(st.sampled_from(CALENDARS)),
    }
    if origin == "firm":
        kind["segment"] = draw(st.sampled_from(["any", "small_firm", "above_scale_firm"]))
    if draw(st.booleans()):
        steps = draw(st.lists(st.sampled_from(FUNCTIONS), min_size=1, max_size=3))
        kind["steps"] = steps
        n_steps = len(steps)
    else:
        names = draw(st.lists(st.sampled_from(FUNCTIONS), min_size=1, max_size=3, unique=True))
        kind["function_shares"] = {n: draw(_num(0.1, 1.0)) for n in names}
        n_steps = 1
    if draw(st.booleans()):
        kind["lead_days"] = [draw(st.sampled_from([0.0, 0.5, 2.0])) for _ in range(n_steps)]
    if draw(st.booleans()):
        kind["sla_hours"] = draw(_num(0.5, 72.0))
        kind["sla_measure"] = draw(st.sampled_from(["on_scene", "resolution"]))
    return kind


@st.composite
def scenario_texts(draw: st.DrawFn, busy: bool = True) -> str:
    """TOML text of a small valid scenario; ``busy``: one kind makes ~25 requests every day."""
    residents = draw(st.integers(50, 2000))
    days = draw(st.integers(3, 20))
    requests = {}
    if busy:
        requests["busy"] = draw(_request(origin="resident", arrival="always",
                                         rate=BUSY_PER_DAY * 365.0 / residents))
    for i in range(draw(st.integers(0 if busy else 1, 3))):
        requests[f"r{i}"] = draw(_request())
    delay = draw(st.sampled_from([0.0, 0.1, 2.0, 16.0]))
    return dumps({
        "name": "prop",
        "population": {"residents": residents,
                       "firms": draw(st.sampled_from([0, 1, 2, 50, 300])),
                       "above_scale_share": draw(st.sampled_from([0.0, 0.05, 0.5])),
                       "upper_divisions": draw(st.integers(0, 3))},
        "simulation": {"days": days, "scale": draw(st.sampled_from([1.0, 0.5, 0.1])),
                       "seed": draw(st.integers(0, 2**16)),
                       "warmup_days": draw(st.integers(0, days))},
        "handoff": {"delay_hours": delay,
                    "dispatch_hours": draw(st.sampled_from([None, 0.0, 1.0])),
                    "delay_cv": draw(st.sampled_from([0.0, 0.5, 1.0, 2.0])),
                    "misroute_share": draw(st.sampled_from([0.0, 0.1, 0.5])),
                    "screening_minutes": draw(st.sampled_from([0.0, 10.0])),
                    "forward_without_trip": draw(st.booleans()),
                    "working_time": draw(st.booleans())},
        "calendars": {"custom": draw(_custom_calendar()),
                      # redefining office also moves the review calendar (lead_days)
                      **({"office": draw(_custom_calendar())} if draw(st.booleans()) else {})},
        # a registry of every function, so units may cover functions no drawn request needs
        "functions": {f: f"function {f}" for f in FUNCTIONS},
        "units": draw(_units()),
        "requests": requests,
    })


# ---------------------------------------------------------------------------------------------
# helpers


# Cases CI property runs found, kept as fixed examples: a visit begun a hair before closing
# (tiny services, service_cv 2) and summed service times a hair past closing (25 x 1.2 min).
HAIR_BEFORE_CLOSING = (
    'name = "prop"\n[population]\nresidents = 50\nfirms = 0\nabove_scale_share = 0.0\n'
    'upper_divisions = 0\n[simulation]\ndays = 3\nscale = 1.0\nseed = 118\nwarmup_days = 0\n[handoff]\n'
    'delay_hours = 0.0\ndelay_cv = 0.0\nmisroute_share = 0.0\nscreening_minutes = 0.0\n'
    'forward_without_trip = false\n[calendars]\n[calendars.custom]\nopen_hour = 0.0\nclose_hour = 0.5\n'
    'work_days = [0]\n[calendars.office]\nopen_hour = 0.0\nclose_hour = 1.0\nwork_days = [0]\n'
    '[functions]\nf0 = "function f0"\nf1 = "function f1"\nf2 = "function f2"\nf3 = "function f3"\n'
    'f4 = "function f4"\n[units]\n[units.u0]\nlevel = "grid"\ncount = 1\nstaff = 1\n'
    'calendar = "office"\nknowledge = 0.0\nfunctions = ["f0"]\nsegments = ["*"]\njoint_review = false\n'
    '[units.leadership]\nlevel = "leadership"\nstaff = 1\ncalendar = "always"\nknowledge = inf\n'
    'functions = ["*"]\n[requests]\n[requests.busy]\ncategory = "personal"\norigin = "resident"\n'
    'rate_per_year = 182.5\ncomplexity = 1.0\nservice_minutes = 1.0\nservice_cv = 2.0\n'
    'in_person = false\ndispatched = false\n'
    'authority = ["grid", "community", "township", "department", "leadership"]\ntravel_minutes = 0.0\n'
    'arrival_calendar = "always"\nsteps = ["f0"]\n'
)
HAIR_PAST_CLOSING = (
    'name = "prop"\n[population]\nresidents = 50\nfirms = 0\nabove_scale_share = 0.0\n'
    'upper_divisions = 0\n[simulation]\ndays = 3\nscale = 1.0\nseed = 0\nwarmup_days = 0\n[handoff]\n'
    'delay_hours = 0.0\ndelay_cv = 0.0\nmisroute_share = 0.0\nscreening_minutes = 0.0\n'
    'forward_without_trip = false\n[calendars]\n[calendars.custom]\nopen_hour = 0.0\nclose_hour = 0.5\n'
    'work_days = [0]\n[functions]\nf0 = "function f0"\nf1 = "function f1"\nf2 = "function f2"\n'
    'f3 = "function f3"\nf4 = "function f4"\n[units]\n[units.leadership]\nlevel = "leadership"\n'
    'staff = 1\ncalendar = "custom"\nknowledge = inf\nfunctions = ["*"]\n[requests]\n[requests.busy]\n'
    'category = "personal"\norigin = "resident"\nrate_per_year = 182.5\ncomplexity = 1.0\n'
    'service_minutes = 1.2000000000000002\nservice_cv = 0.0\nin_person = false\ndispatched = false\n'
    'authority = ["grid", "community", "township", "department", "leadership"]\ntravel_minutes = 0.0\n'
    'arrival_calendar = "always"\nsteps = ["f0"]\n'
)

# Found by CI with hand-offs in office time: a leg done after office hours, handed on with a
# hair of working time (delay_cv 2 draws some delays near 0), landed at the last closing,
# before it was sent.
HANDED_ON_AFTER_HOURS = (
    'name = "prop"\n[population]\nresidents = 50\nfirms = 0\nabove_scale_share = 0.0\n'
    'upper_divisions = 0\n[simulation]\ndays = 8\nscale = 1.0\nseed = 0\nwarmup_days = 0\n[handoff]\n'
    'delay_hours = 0.1\ndelay_cv = 2.0\nmisroute_share = 0.0\nscreening_minutes = 0.0\n'
    'forward_without_trip = false\nworking_time = true\n[calendars]\n[calendars.custom]\nopen_hour = 0.0\n'
    'close_hour = 0.5\nwork_days = [0]\n[functions]\nf0 = "function f0"\nf1 = "function f1"\n'
    'f2 = "function f2"\nf3 = "function f3"\nf4 = "function f4"\n[units]\n[units.u0]\nlevel = "grid"\n'
    'count = 1\nstaff = 1\ncalendar = "always"\nknowledge = 0.0\nfunctions = ["f0"]\nsegments = ["*"]\n'
    'joint_review = false\n[units.leadership]\nlevel = "leadership"\nstaff = 1\ncalendar = "always"\n'
    'knowledge = inf\nfunctions = ["*"]\n[requests]\n[requests.busy]\ncategory = "personal"\n'
    'origin = "resident"\nrate_per_year = 182.5\ncomplexity = 1.0\nservice_minutes = 1.0\n'
    'service_cv = 0.0\nin_person = false\ndispatched = false\n'
    'authority = ["grid", "community", "township", "department", "leadership"]\ntravel_minutes = 0.0\n'
    'arrival_calendar = "always"\nsteps = ["f0", "f0", "f0"]\n'
)


def load(text: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "scenario.toml"
        path.write_text(text, encoding="utf-8")
        return load_scenario(path)


def simulate(scenario: dict[str, Any], seed: int | None = None) -> GovernanceModel:
    model = GovernanceModel(scenario, seed=seed)
    model.run(scenario["simulation"]["days"])
    return model


def reached(model: GovernanceModel) -> np.ndarray:
    """Legs the engine has timed (arrived by the end of the run)."""
    return ~np.isnan(model.engine.log().leg_arrive)


def check_conservation(model: GovernanceModel) -> None:
    tables = build_tables(model)
    kpis = compute_kpis(model, tables)
    engine, legs = model.engine, model.legs()
    assert kpis["requests_created"] == kpis["requests_resolved"] + kpis["requests_open"]
    assert kpis["requests_created"] == len(tables.kind) == len(model.requests())
    assert len(tables.kind) == engine.n_requests
    assert len(legs) == engine.n_legs == int(tables.leg_count.sum())
    assert np.all(tables.leg_count >= 1)
    # legs of one request are contiguous and in request order, and agree with the engine
    assert np.all(np.diff(legs.request) >= 0)
    np.testing.assert_array_equal(legs.request, engine.leg_request())
    np.testing.assert_array_equal(legs.unit, engine.leg_unit())
    # the Mesa data collector's last row counts the same
    last = model.datacollector.get_model_vars_dataframe().iloc[-1]
    assert last["created"] == kpis["requests_created"]
    assert last["resolved"] == kpis["requests_resolved"]
    assert last["open"] == kpis["requests_open"]


# ---------------------------------------------------------------------------------------------
# properties


@SETTINGS
@given(scenario_texts())
def test_conservation(text: str) -> None:
    model = simulate(load(text))
    check_conservation(model)
    # what the examples exercised (see pytest --hypothesis-show-statistics)
    legs = model.legs()
    event("multi-leg requests", str(len(legs) > model.engine.n_requests))
    event("misrouted legs", str(bool(legs.bounce.any())))
    event("legs still queued at the end", str(not reached(model).all()))
    event("units with a part-time calendar",
          str(any(not c.always_open for c in model.structure.unit_calendar)))


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario_texts(busy=False))
def test_quiet_scenarios_run(text: str) -> None:
    """Scenarios where some days (or all) create no request run and conserve requests too.

    Fails at the time of writing: ``QueueEngine.add`` raises IndexError for a day without
    requests (it reads ``legs.handoff[[0]]`` of an empty batch), and ``build_tables`` gives a
    run without requests one ``leg_first`` entry, on which ``compute_kpis`` raises IndexError.
    """
    check_conservation(simulate(load(text)))


@SETTINGS
@given(scenario_texts())
@example(HAIR_BEFORE_CLOSING)
@example(HAIR_PAST_CLOSING)
@example(HANDED_ON_AFTER_HOURS)
def test_causality(text: str) -> None:
    model = simulate(load(text))
    log, legs, requests = model.engine.log(), model.legs(), model.requests()
    on = reached(model)
    assert np.all(log.leg_start[on] >= log.leg_arrive[on] - TOL)
    assert np.all(log.leg_end[on] >= log.leg_start[on])
    assert np.all(log.leg_end_work[on] >= log.leg_start_work[on])
    # a request's first leg arrives after creation; each next leg after the previous one ended
    first = np.ones(len(legs), dtype=bool)
    first[1:] = legs.request[1:] != legs.request[:-1]
    assert np.all(log.leg_arrive[first & on] >= requests.created[legs.request[first & on]])
    following = np.flatnonzero(~first)
    previous = following - 1
    next_on = on[following]
    assert np.all(on[previous][next_on]), "a leg was reached before the one before it"
    assert np.all(log.leg_arrive[following][next_on] >= log.leg_end[previous][next_on] - TOL)
    # resolution: after creation, after its last leg ended, only once every leg was reached
    done = ~np.isnan(log.ready)
    assert np.all(log.ready[done] >= requests.created[done])
    last = np.flatnonzero(np.append(first[1:], True))
    assert np.all(log.ready[done] >= log.leg_end[last][done] - TOL)
    assert np.all(on[last][done])
    tables = build_tables(model)
    resolved = ~np.isnan(tables.resolved)
    assert np.all(tables.resolved[resolved] >= tables.created[resolved])
    assert np.all(tables.resolved[resolved] <= model.day * DAY)


@SETTINGS
@given(scenario_texts())
def test_capacity(text: str) -> None:
    model = simulate(load(text))
    log, unit, on = model.engine.log(), model.engine.leg_unit(), reached(model)
    staff = model.structure.unit_staff
    for u in np.unique(unit[on]):
        pick = on & (unit == u)
        times = np.concatenate([log.leg_start_work[pick], log.leg_end_work[pick]])
        delta = np.concatenate([np.ones(pick.sum()), -np.ones(pick.sum())])
        order = np.lexsort((delta, times))  # at one instant, ends (-1) before starts (+1)
        in_service = np.cumsum(delta[order])
        assert in_service.max() <= staff[u], (model.structure.unit_names[u], in_service.max())


@SETTINGS
@given(scenario_texts())
def test_fcfs(text: str) -> None:
    model = simulate(load(text))
    log, unit, on = model.engine.log(), model.engine.leg_unit(), reached(model)
    for u in np.unique(unit[on]):
        pick = np.flatnonzero(on & (unit == u))
        order = np.lexsort((log.leg_start_work[pick], log.leg_arrive[pick]))
        starts = log.leg_start_work[pick][order]
        assert np.all(np.diff(starts) >= 0), model.structure.unit_names[u]
        # nobody is served before arriving, on the unit's own working clock
        cal = model.structure.unit_calendar[u]
        arrive_w = np.array([cal.to_work(t) for t in log.leg_arrive[pick]])
        assert np.all(log.leg_start_work[pick] >= arrive_w - TOL)


@SETTINGS
@given(scenario_texts())
@example(HAIR_BEFORE_CLOSING)
@example(HAIR_PAST_CLOSING)
def test_service_only_while_open(text: str) -> None:
    model = simulate(load(text))
    log, unit, on = model.engine.log(), model.engine.leg_unit(), reached(model)
    service = model.engine.leg_service()
    cals = model.structure.unit_calendar
    for leg in np.flatnonzero(on):
        cal = cals[unit[leg]]
        start, end = log.leg_start[leg], log.leg_end[leg]
        # the two clocks agree, and exactly the service time of open minutes passes in service
        assert math.isclose(cal.to_work(start), log.leg_start_work[leg], abs_tol=TOL)
        assert math.isclose(cal.to_work(end), log.leg_end_work[leg], abs_tol=TOL)
        assert math.isclose(log.leg_end_work[leg] - log.leg_start_work[leg], service[leg],
                            rel_tol=1e-9, abs_tol=TOL)
        if cal.always_open:
            continue
        # the clock runs just after the start and just before the end: the unit is open
        assert cal.to_work(start + 0.01) > cal.to_work(start), (leg, start)
        if end > start:
            assert cal.to_work(end - 0.01) < cal.to_work(end), (leg, end)
        weekday = int(start // DAY) % 7
        minute = start - (start // DAY) * DAY
        assert weekday in cal.days, (leg, start)
        assert cal.open - TOL <= minute < cal.open + cal.day_minutes + TOL, (leg, start)


def _same_tables(a: RunTables, b: RunTables) -> bool:
    for name in RunTables.__dataclass_fields__:
        x, y = getattr(a, name), getattr(b, name)
        nan_ok = x.dtype.kind == "f" and y.dtype.kind == "f"
        if x.shape != y.shape or not np.array_equal(x, y, equal_nan=nan_ok):
            return False
    return True


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario_texts(), st.integers(0, 2**31 - 1), st.integers(1, 1000))
def test_determinism(text: str, seed: int, step: int) -> None:
    scenario = load(text)
    first, second = simulate(scenario, seed), simulate(scenario, seed)
    tables_1, tables_2 = build_tables(first), build_tables(second)
    assert _same_tables(tables_1, tables_2)
    log_1, log_2 = first.engine.log(), second.engine.log()
    for name in log_1.__dataclass_fields__:
        np.testing.assert_array_equal(getattr(log_1, name), getattr(log_2, name))
    kpis = [json.dumps(compute_kpis(m, t), sort_keys=True)
            for m, t in ((first, tables_1), (second, tables_2))]
    assert kpis[0] == kpis[1]
    # the scenario's own seed is the default
    default = simulate(scenario)
    again = simulate(scenario, scenario["simulation"]["seed"])
    assert _same_tables(build_tables(default), build_tables(again))
    # another seed: another request table (the busy kind guarantees there are requests)
    other = build_tables(simulate(scenario, seed + step))
    assert len(tables_1.created) > 0
    assert not (len(other.created) == len(tables_1.created)
                and np.array_equal(other.created, tables_1.created))



def test_durations_with_a_cv_per_item_are_the_draws_of_one_call_per_cv() -> None:
    """``sample_durations`` with a cv per item (the planner's one draw for a whole batch) gives
    exactly what one call per run of equal cv gives, in order: exponential (cv 1), gamma, fixed."""
    from sim.city.distributions import sample_durations

    means = np.arange(1.0, 13.0)
    cv = np.array([1.0] * 4 + [0.5] * 3 + [0.0] * 2 + [1.0] * 3)
    together = sample_durations(np.random.default_rng(7), means, cv)
    rng = np.random.default_rng(7)
    apart = np.concatenate([sample_durations(rng, means[a:b], float(cv[a])) for a, b in
                            ((0, 4), (4, 7), (7, 9), (9, 12))])
    assert np.array_equal(together, apart)
    assert np.array_equal(together[7:9], means[7:9])  # cv 0: the mean, no draw
