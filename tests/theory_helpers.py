"""Helpers for the queueing-theory tests in ``test_theory.py``.

Queueing formulas written out (Erlang C, M/M/c waiting time), scenario builders for the
test networks, and one function per replication that runs the model and returns only the
few sums a test needs. Replication functions live here, at module level, so that a process
pool can run them in parallel worker processes.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from sim.city.model import GovernanceModel
from sim.city.structure import Structure
from sim.engine.calendars import DAY
from sim.experiments.staffing_queues import erlang_c
from sim.scenario.loading import load_scenario
from sim.scenario.schema import LEVELS

# --------------------------------------------------------------------------------------------
# Theory (``erlang_c`` itself lives in ``sim.experiments.staffing_queues``: the staffing optimiser
# uses it at run time, and the simulator must not import the tests)


def erlang_c_direct(servers: int, offered: float) -> float:
    """Erlang C from the textbook sum (an independent cross-check of ``erlang_c``)."""
    rho = offered / servers
    head = sum(offered**k / math.factorial(k) for k in range(servers))
    tail = offered**servers / math.factorial(servers) / (1.0 - rho)
    return tail / (head + tail)


def mmc_mean_wait(arrival_rate: float, service_mean: float, servers: int) -> float:
    """Mean wait in queue Wq of an M/M/c queue: C(c, a) / (c mu - lambda), in time units."""
    mu = 1.0 / service_mean
    return erlang_c(servers, arrival_rate / mu) / (servers * mu - arrival_rate)


# --------------------------------------------------------------------------------------------
# Scenarios

RESIDENTS = 100
"""Few residents, each with a high yearly rate: demand depends only on their product, and
every resident is a Mesa agent, so few keep set-up cheap."""

HEADER = """
name = "{name}"
[population]
residents = {residents}
[simulation]
days = {days}
seed = 1
warmup_days = {warmup_days}
[handoff]
delay_hours = 0.0
misroute_share = 0.0
"""

UNIT = """
[units.{name}]
level = "{level}"
count = 1
staff = {staff}
hours_per_week = 168.0
calendar = "always"
knowledge = {knowledge}
functions = ["f"]
"""

REQUEST = """
[requests.r]
category = "personal"
origin = "resident"
rate_per_year = {rate_per_year!r}
complexity = {complexity!r}
service_minutes = {service_minutes!r}
service_cv = 1.0
authority = {authority}
steps = ["f"]
arrival_calendar = "always"
"""

def rate_per_year(arrivals_per_minute: float) -> float:
    """Yearly rate per resident that gives ``arrivals_per_minute`` requests in the whole city."""
    return arrivals_per_minute * DAY * 365.0 / RESIDENTS


def _toml_number(value: float) -> str:
    return "inf" if math.isinf(value) else repr(float(value))


def write_scenario(folder: Path, name: str, units: list[tuple[str, str, int, float]],
                   arrivals_per_minute: float, service_minutes: float, complexity: float,
                   days: int, warmup_days: int) -> dict[str, Any]:
    """Write a scenario TOML into ``folder`` and load it through ``sim.scenario.loading.load_scenario``.

    Args:
        folder: where the file goes (pytest's ``tmp_path``).
        name: scenario name (also the file name).
        units: (unit name, level, servers, knowledge) per unit kind, one unit each, open 24/7.
            Staff is headcount; servers on duty = staff x hours_per_week / open hours, so a
            24/7 unit whose staff work 168 hours a week has as many servers as staff (checked).
        arrivals_per_minute: Poisson arrival rate of the single request kind, city-wide.
        service_minutes: mean of its exponential service time, at every unit.
        complexity: mean of the exponential difficulty.
        days, warmup_days: the ``[simulation]`` table.
    """
    text = HEADER.format(name=name, residents=RESIDENTS, days=days, warmup_days=warmup_days)
    for unit_name, level, staff, knowledge in units:
        text += UNIT.format(name=unit_name, level=level, staff=staff,
                            knowledge=_toml_number(knowledge))
    authority = "[" + ", ".join(f'"{level}"' for _, level, _, _ in units) + "]"
    text += REQUEST.format(rate_per_year=rate_per_year(arrivals_per_minute),
                           complexity=complexity, service_minutes=service_minutes,
                           authority=authority)
    path = folder / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    scenario = load_scenario(path)
    servers = Structure.from_scenario(scenario).unit_servers.tolist()
    wanted = [staff for _, _, staff, _ in units]
    if servers != wanted:
        raise AssertionError(f"scenario {name}: the model would run {servers} servers, "
                             f"the test needs {wanted}")
    return scenario


# --------------------------------------------------------------------------------------------
# Replications (run in worker processes)


def _run(scenario: dict[str, Any], seed: int) -> GovernanceModel:
    model = GovernanceModel(scenario, seed=seed)
    model.run(scenario["simulation"]["days"])
    return model


def single_queue_replication(scenario: dict[str, Any], seed: int) -> tuple[float, int, float]:
    """One run of a one-unit scenario: (mean wait in queue, customers, mean service).

    Customers are those arriving after the warm-up and by the end of the run; each one's
    service start is known (first come, first served fixes it on arrival), so none is cut off.
    """
    model = _run(scenario, seed)
    log = model.engine.log()
    legs = model.legs()
    t0 = scenario["simulation"]["warmup_days"] * DAY
    t1 = model.day * DAY
    arrive = np.nan_to_num(log.leg_arrive, nan=np.inf)
    pick = (arrive >= t0) & (arrive < t1)
    wait = log.leg_start[pick] - log.leg_arrive[pick]
    return float(wait.mean()), int(pick.sum()), float(legs.service[pick].mean())


def chain_replication(scenario: dict[str, Any], seed: int) -> dict[str, np.ndarray]:
    """One run of the escalation chain; per level (grid, community, township):

    * ``arrivals``: legs arriving in the window [t0, t1) (t0 = end of warm-up, t1 = horizon);
    * ``sojourn_sum``: sum of (leg_end - leg_arrive) over those legs (queue + service);
    * ``area``: integral over [t0, t1] of the number of legs present at the station, i.e. the
      length of [leg_arrive, leg_end] clipped to the window, summed over all legs;
    * ``window``: t1 - t0 (minutes);
    * ``path_ok``: whether every request's legs visit grid, community, township in order;
    * ``requests``: requests created in the window (each enters at the grid on creation).
    """
    model = _run(scenario, seed)
    log = model.engine.log()
    legs = model.legs()
    t0 = scenario["simulation"]["warmup_days"] * DAY
    t1 = model.day * DAY
    levels = np.array([LEVELS.index(name) for name in ("grid", "community", "township")])
    leg_level = model.structure.unit_level[legs.unit]
    arrive = log.leg_arrive
    reached = ~np.isnan(arrive)
    arrive_or_never = np.nan_to_num(arrive, nan=np.inf)  # NaN: leg not reached by the horizon
    in_window = (arrive_or_never >= t0) & (arrive_or_never < t1)
    overlap = np.clip(np.minimum(log.leg_end[reached], t1) - np.maximum(arrive[reached], t0),
                      0.0, None)
    out: dict[str, Any] = {"arrivals": [], "sojourn_sum": [], "area": []}
    for level in levels:
        at = leg_level == level
        pick = in_window & at
        out["arrivals"].append(int(pick.sum()))
        out["sojourn_sum"].append(float((log.leg_end[pick] - arrive[pick]).sum()))
        out["area"].append(float(overlap[at[reached]].sum()))
    # visiting order: the k-th leg of every request (k = 0, 1, 2) is at the k-th level
    request = legs.request
    first_leg = np.searchsorted(request, request)  # legs of a request are contiguous
    position = np.arange(len(request)) - first_leg
    rank = np.full(len(LEVELS), -1)
    rank[levels] = np.arange(len(levels))
    created = model.requests().created
    result = {key: np.array(value) for key, value in out.items()}
    result["window"] = np.array(t1 - t0)
    result["path_ok"] = np.array(bool(np.all(np.diff(request) >= 0)
                                      and np.all(position == rank[leg_level])))
    result["requests"] = np.array(int(((created >= t0) & (created < t1)).sum()))
    return result
