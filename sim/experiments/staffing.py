"""``run.py staff``: the smallest headcount per unit kind that meets stated service targets.

The decision variables are the staff per instance of each unit kind in scope (by default every
kind not at grid or social level; grid workers and bought social services are a separate
question). Three stages, all on the resolved scenario dict (reforms applied):

1. **Analytic start.** One pilot run at the current staffing gives each unit instance's offered
   load (routing does not depend on queues). Per unit kind, Erlang C and the time budget give
   the smallest headcount meeting the per-unit targets (``staffing_queues``).
2. **Feasibility.** The current, the analytic and a generous staffing (4x the analytic start, at
   least 2x the current) are simulated. A target missed even generously staffed is *not
   attainable by staffing* (hand-off delays, dispatch times and review periods do not shrink
   with headcount): it is reported and left out of the search, which would otherwise buy staff
   for nothing.
3. **Refinement by simulation**, on common random numbers (replication r of every candidate
   runs on the same seed) with R replications, a target counting as met when its replication
   mean is: while a target is missed, add one staff member per instance to the unit kind whose
   increment buys the largest cut of the total normalised shortfall per yuan; then remove one
   at a time, largest saving first, while every target still holds (all removals that pass
   alone are tried together first). Candidates of one round run in parallel on the executor;
   every decision depends only on the results, collected in submission order, so 1 and N
   workers give identical answers.

The answer's uncertainty: the final allocation's targets with 95 % CIs over replications, and
for each unit kind the allocation with one fewer staff member per instance, which targets it
misses and whether by more than the noise.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

from sim.errors import ScenarioError
from sim.experiments.batch import derive_seed
from sim.experiments.staffing_queues import (
    ANALYTIC,
    STABLE_UTILISATION,
    Pilot,
    analytic_headcount,
    measure,
    pilot_loads,
)
from sim.experiments.staffing_targets import Target, Targets, check_available
from sim.outputs.stats import mean_ci
from sim.scenario.schema import MAX_STAFF

EXCLUDED_LEVELS = ("grid", "social")
CEILING_FACTOR = 4  # generous staffing: this many times the analytic start ...
CEILING_OVER_CURRENT = 2  # ... and at least this many times the current staffing
LARGER_STEPS = (2, 4, 8)  # when no single increment helps (a plateau), these are tried before giving up

Allocation = dict[str, int]
Progress = Callable[[str], None]


def default_scope(config: dict[str, Any]) -> list[str]:
    return [name for name, unit in config["units"].items() if unit["level"] not in EXCLUDED_LEVELS]


def check_scope(config: dict[str, Any], units: list[str] | None, where: str = "--units") -> list[str]:
    """The unit kinds to optimise: all but grid and social ones, or those named (a subset)."""
    scope = default_scope(config)
    if units is None:
        return scope
    for name in units:
        if name not in config["units"]:
            raise ScenarioError("command line", where,
                                f"unknown unit kind {name!r}; allowed: {', '.join(scope)}")
        if name not in scope:
            level = config["units"][name]["level"]
            raise ScenarioError("command line", where, f"{name} is a {level}-level unit kind, not "
                                f"optimised (a separate question); allowed: {', '.join(scope)}")
    if not units:
        raise ScenarioError("command line", where, "names no unit kind")
    return [name for name in scope if name in units]


def staffing_run(config: dict[str, Any], staff: Allocation, seed: int, scale: float | None,
                 days: int | None) -> dict[str, float]:
    """One simulation with these headcounts per instance; the measures targets are judged by.
    Module-level so worker processes can import it."""
    from sim.experiments.api import run_scenario
    from sim.experiments.executors import release_run

    scenario = copy.deepcopy(config)
    for kind, headcount in staff.items():
        scenario["units"][kind]["staff"] = int(headcount)
    measures = measure(run_scenario(scenario, seed=seed, scale=scale, days=days))
    release_run()
    return measures


@dataclass
class Evaluation:
    """An allocation's measures in every replication (same seeds for every allocation)."""

    staff: Allocation
    runs: list[dict[str, float]]

    def mean(self, kpi: str) -> float:
        values = [r.get(kpi, math.nan) for r in self.runs]
        values = [v for v in values if not math.isnan(v)]
        return float(sum(values) / len(values)) if values else math.nan

    def ci(self, kpi: str) -> tuple[float, float, float]:
        values = [v for v in (r.get(kpi, math.nan) for r in self.runs) if not math.isnan(v)]
        return mean_ci(values) if values else (math.nan, math.nan, math.nan)

    def shortfall(self, targets: list[Target]) -> float:
        return sum(t.shortfall(self.mean(t.kpi)) for t in targets)

    def missed(self, targets: list[Target]) -> list[Target]:
        return [t for t in targets if not t.met(self.mean(t.kpi))]


class BudgetExhaustedError(Exception):
    """The run budget (--max-runs) would be exceeded by the next round."""


class Evaluator:
    """Runs allocations x replications on an executor, caching every allocation seen."""

    def __init__(self, config: dict[str, Any], executor: Executor, seeds: list[int], scale: float | None,
                 days: int | None, max_runs: int, progress: Progress) -> None:
        self.config, self.executor, self.seeds = config, executor, seeds
        self.scale, self.days, self.max_runs, self.progress = scale, days, max_runs, progress
        self.cache: dict[tuple[tuple[str, int], ...], list[dict[str, float] | None]] = {}
        self.runs = 0

    @staticmethod
    def key(staff: Allocation) -> tuple[tuple[str, int], ...]:
        return tuple(sorted(staff.items()))

    def seed_result(self, staff: Allocation, rep: int, values: dict[str, float]) -> None:
        self.cache.setdefault(self.key(staff), [None] * len(self.seeds))[rep] = values

    def evaluate(self, allocations: list[Allocation]) -> list[Evaluation]:
        """Every allocation's replications (run in parallel, collected in submission order)."""
        todo, seen = [], set()
        for staff in allocations:
            key = self.key(staff)
            slots = self.cache.setdefault(key, [None] * len(self.seeds))
            for rep, values in enumerate(slots):
                if values is None and (key, rep) not in seen:
                    seen.add((key, rep))
                    todo.append((staff, rep))
        if self.runs + len(todo) > self.max_runs:
            raise BudgetExhaustedError
        futures = [self.executor.submit(staffing_run, self.config, staff, self.seeds[rep], self.scale,
                                        self.days) for staff, rep in todo]
        for (staff, rep), future in zip(todo, futures, strict=True):
            self.cache[self.key(staff)][rep] = future.result()
        self.runs += len(todo)
        return [Evaluation(dict(staff), list(self.cache[self.key(staff)])) for staff in allocations]


@dataclass
class StaffingResult:
    """Everything ``run.py staff`` prints and writes."""

    scenario: str
    targets: Targets
    scope: list[str]
    pilot: Pilot
    seeds: list[int]
    scale: float | None
    days: int | None
    current: Allocation
    analytic: Allocation
    analytic_binding: dict[str, str | None]
    ceiling: Allocation
    required: Allocation
    attainable: list[Target]
    unattainable: list[Target]
    evaluations: dict[str, Evaluation]  # "current", "analytic", "ceiling", "required"
    minus_one: dict[str, Evaluation | None]  # per kind: the required allocation less one per instance
    status: str  # "met" | "budget" | "stalled"
    runs: int
    history: list[dict[str, Any]] = field(default_factory=list)


def _add(staff: Allocation, kind: str, step: int) -> Allocation:
    return {**staff, kind: max(1, min(MAX_STAFF, staff[kind] + step))}


def _cost(pilot: Pilot, kind: str) -> float:
    """Yearly cost of one more staff member in every instance of the kind (at least 1 yuan, so
    unpaid units still compare by headcount)."""
    load = pilot.loads[kind]
    return max(load.cost_per_staff, 1.0) * load.count


def relevant_kinds(target: Target, pilot: Pilot, scope: list[str], sla_kind: dict[str, str]) -> list[str]:
    """Unit kinds in scope whose staffing can move this target: the unit itself for a per-unit
    target, else every unit kind the target's requests visit (pilot run)."""
    from sim.experiments.staffing_targets import BY_TABLE

    spec = BY_TABLE[target.table]
    if spec.scope == "unit":
        visited = {target.key}
    elif spec.scope == "sla":
        visited = pilot.kinds_visited.get(sla_kind[target.key], set())
    else:
        visited = pilot.categories_visited.get(target.key, set())
    return [k for k in scope if k in visited]


def optimise(config: dict[str, Any], targets: Targets, scope: list[str], executor: Executor, reps: int,
             seed: int, scale: float | None, days: int | None, max_runs: int,
             progress: Progress = lambda message: None) -> StaffingResult:
    """Find the smallest headcounts per instance of the ``scope`` unit kinds meeting ``targets``.

    Args:
        config: the resolved scenario dict (``load_scenario``); not modified.
        targets: validated targets (``staffing_targets.load_targets``).
        scope: unit kinds to optimise.
        executor: where replications run (``executors.executor_for``).
        reps, seed: replications; replication r runs on ``derive_seed(seed, 0, r)`` for every
            allocation (common random numbers).
        scale, days: simulation settings (None: the scenario's).
        max_runs: simulations allowed in all; the search stops with status ``budget`` first.
        progress: called with one line per stage and step.
    """
    from sim.experiments.api import run_scenario
    from sim.experiments.staffing_targets import sla_keys

    if max_runs < 3 * reps:  # the pilot with the current, analytic and generous allocations
        raise ScenarioError("command line", "--max-runs", f"the first round needs {3 * reps} "
                            f"simulations ({reps} replications of three allocations); allow at least that "
                            f"(got {max_runs})")
    seeds = [derive_seed(seed, 0, r) for r in range(reps)]
    current = {k: int(config["units"][k]["staff"]) for k in scope}
    evaluator = Evaluator(config, executor, seeds, scale, days, max_runs, progress)
    progress(f"pilot run at the current staffing ({sum(current.values())} staff per instance in scope)")
    pilot_result = run_scenario(copy.deepcopy(config), seed=seeds[0], scale=scale, days=days)
    pilot = pilot_loads(pilot_result)
    first = measure(pilot_result)
    check_available(targets, first)
    evaluator.seed_result(current, 0, first)
    evaluator.runs += 1
    del pilot_result

    analytic, binding = {}, {}
    for kind in scope:
        bounds = {t.table: t.bound for t in targets.targets if t.key == kind and t.table in ANALYTIC}
        analytic[kind], binding[kind] = analytic_headcount(pilot.loads[kind], bounds)
    progress("analytic start (Erlang C, time budget): " + ", ".join(f"{k} {current[k]}->{analytic[k]}"
                                                                       for k in scope))
    ceiling = {k: min(MAX_STAFF, max(CEILING_FACTOR * analytic[k], CEILING_OVER_CURRENT * current[k]))
               for k in scope}
    cur_eval, ana_eval, ceil_eval = evaluator.evaluate([current, analytic, ceiling])
    all_targets = list(targets.targets)
    unattainable = [t for t in all_targets
                    if not t.met(ceil_eval.mean(t.kpi)) and not t.met(cur_eval.mean(t.kpi))]
    attainable = [t for t in all_targets if t not in unattainable]
    sla_kind = sla_keys(config)
    relevance = {t.label: relevant_kinds(t, pilot, scope, sla_kind) for t in attainable}
    for t in [t for t in attainable if not relevance[t.label]]:
        attainable.remove(t)  # nothing in scope moves it (a target on a unit kind not optimised)
        unattainable.append(t)
    for t in unattainable:
        progress(f"not attainable by staffing the units in scope: {t.label} (generous staffing gives "
                 f"{ceil_eval.mean(t.kpi):.4g}, target {'<=' if t.sense == 'max' else '>='} {t.bound:g})")

    staff, status, history = dict(analytic), "met", []
    try:
        staff, status = _greedy_add(staff, ana_eval, attainable, relevance, pilot, evaluator, history,
                                    progress)
        if status == "met":
            staff = _remove(staff, scope, attainable, pilot, evaluator, history, progress)
        minus = _minus_one(staff, scope, pilot, evaluator)
    except BudgetExhaustedError:
        status = "budget"
        progress(f"run budget of {max_runs:,} simulations reached; reporting the best allocation so far")
        minus = {k: _cached(evaluator, _add(staff, k, -1)) if staff[k] > 1 else None for k in scope}
    final = Evaluation(dict(staff), list(evaluator.cache[evaluator.key(staff)]))
    evaluations = {"current": cur_eval, "analytic": ana_eval, "ceiling": ceil_eval, "required": final}
    return StaffingResult(config["name"], targets, scope, pilot, seeds, scale, days, current, analytic,
                          binding, ceiling, staff, attainable, unattainable, evaluations, minus, status,
                          evaluator.runs, history)


def _cached(evaluator: Evaluator, staff: Allocation) -> Evaluation | None:
    runs = evaluator.cache.get(evaluator.key(staff))
    return Evaluation(staff, list(runs)) if runs and all(r is not None for r in runs) else None


def _gains(staff: Allocation, short: float, kinds: list[str], step: int, targets: list[Target],
           pilot: Pilot, evaluator: Evaluator) -> dict[str, tuple[float, Evaluation]]:
    """Cut of the total shortfall per yuan of adding ``step`` per instance to each kind (one
    parallel round)."""
    results = evaluator.evaluate([_add(staff, k, step) for k in kinds])
    return {k: ((short - r.shortfall(targets)) / (_cost(pilot, k) * step), r)
            for k, r in zip(kinds, results, strict=True)}


def _greedy_add(staff: Allocation, evaluation: Evaluation, targets: list[Target],
                relevance: dict[str, list[str]], pilot: Pilot, evaluator: Evaluator,
                history: list[dict[str, Any]], progress: Progress) -> tuple[Allocation, str]:
    """Add staff, one per instance of one kind at a time, while an attainable target is missed.

    Lazy greedy (Minoux's accelerated greedy): each kind's last measured gain per yuan is kept
    as a bound on its next one (gains diminish as staff are added), so only the kind on top is
    measured again; it is taken when its fresh gain still tops every other kind's bound. Kinds
    never measured are measured together, in one parallel round."""
    bounds: dict[str, float] = {}
    while True:
        missed = evaluation.missed(targets)
        if not missed:
            return staff, "met"
        short = evaluation.shortfall(targets)
        kinds = [k for k in dict.fromkeys(k for t in missed for k in relevance[t.label])
                 if staff[k] < MAX_STAFF]
        fresh = _gains(staff, short, [k for k in kinds if k not in bounds], 1, targets, pilot, evaluator)
        bounds.update({k: g for k, (g, _) in fresh.items()})
        top = max(kinds, key=lambda k: bounds[k]) if kinds else None  # first of equals: scenario order
        while top is not None and top not in fresh:
            fresh.update(_gains(staff, short, [top], 1, targets, pilot, evaluator))
            bounds[top] = fresh[top][0]
            top = max(kinds, key=lambda k: bounds[k])
        if top is None or bounds[top] <= 0:  # stale bounds may hide a gain: measure all, then larger steps
            for step in (1, *LARGER_STEPS):
                fresh = _gains(staff, short, kinds, step, targets, pilot, evaluator)
                bounds.update({k: g for k, (g, _) in fresh.items()})
                top = max(kinds, key=lambda k: bounds[k]) if kinds else None
                if top is not None and bounds[top] > 0:
                    break
            else:
                progress(f"no increment of up to {LARGER_STEPS[-1]} per instance helps "
                         f"{', '.join(t.label for t in missed)}; stopping")
                return staff, "stalled"
        evaluation = fresh[top][1]
        step = evaluation.staff[top] - staff[top]
        staff = evaluation.staff
        history.append({"action": "add", "kind": top, "step": step, "staff": staff[top],
                        "shortfall": evaluation.shortfall(targets), "runs": evaluator.runs})
        progress(f"+{step} {top} -> {staff[top]} per instance: shortfall {short:.4g} -> "
                 f"{evaluation.shortfall(targets):.4g} ({evaluator.runs} runs)")


def removable(pilot: Pilot, staff: Allocation, kind: str) -> bool:
    """One fewer per instance is a candidate: at least one stays, and the work offered stays
    within ``STABLE_UTILISATION`` of what the staff can do with overtime (analytic, exact in load)."""
    return staff[kind] > 1 and pilot.loads[kind].capacity_use(staff[kind] - 1) <= STABLE_UTILISATION


def _remove(staff: Allocation, scope: list[str], targets: list[Target], pilot: Pilot, evaluator: Evaluator,
            history: list[dict[str, Any]], progress: Progress) -> Allocation:
    """Take one staff member per instance off, largest saving first, while every target holds."""
    while True:
        kinds = sorted([k for k in scope if removable(pilot, staff, k)], key=lambda k: -_cost(pilot, k))
        results = evaluator.evaluate([_add(staff, k, -1) for k in kinds])
        passing = [k for k, r in zip(kinds, results, strict=True) if not r.missed(targets)]
        if not passing:
            return staff
        accepted = passing[:1]
        if len(passing) > 1 and all(removable(pilot, staff, k) for k in passing):
            together = {**staff, **{k: staff[k] - 1 for k in passing}}
            if not evaluator.evaluate([together])[0].missed(targets):
                accepted = passing
        for kind in accepted:
            staff = _add(staff, kind, -1)
            history.append({"action": "remove", "kind": kind, "step": -1, "staff": staff[kind],
                            "runs": evaluator.runs})
        progress(f"-1 {', '.join(accepted)}: every target still met ({evaluator.runs} runs)")


def _minus_one(staff: Allocation, scope: list[str], pilot: Pilot,
               evaluator: Evaluator) -> dict[str, Evaluation | None]:
    kinds = [k for k in scope if removable(pilot, staff, k)]
    results = dict(zip(kinds, evaluator.evaluate([_add(staff, k, -1) for k in kinds]), strict=True))
    return {k: results.get(k) for k in scope}
