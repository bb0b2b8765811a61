"""The central claim as an output: how many government staff each design *needs* for the same
service targets (F6: "40 % of the resources carry 100 % of the functions"), and a fair control.

Why not compare configured headcounts: those are typed in, so their ratio is arithmetic. Here
``run.py staff``'s optimiser (``sim.experiments.staffing``) finds the smallest headcount per unit
kind of ``township`` and of ``longgang-2021`` meeting one targets file, on the same seeds; the
ratio of their required government staff is a prediction.

The fair control replaces "cut every unit to 40 %": it is the township structure with exactly
the flat design's required government staff, shared out as the township itself needs them
(every unit kind scaled from its own requirement by the same factor, in whole staff per unit,
largest remainders first, at least one per unit). So if it does worse than the flat design at
the same total, the structure is to blame, not how a cut was spread.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sim.experiments.staffing import EXCLUDED_LEVELS, Allocation, Evaluation, Evaluator, check_scope, optimise
from sim.experiments.staffing_targets import load_targets
from sim.scenario.loading import load_scenario

BASE, FLAT = "township", "longgang-2021"
OUTCOMES = tuple(f"resolution_hours.{c}.mean" for c in ("personal", "firm", "enforcement", "incident",
                                                          "dispute", "upper"))


def government_staff(config: dict[str, Any], staff: Allocation) -> int:
    """Headcount of the government units (no grid, no social) with ``staff`` per instance where given."""
    return sum(int(staff.get(name, unit["staff"])) * unit["count"] for name, unit in config["units"].items()
               if unit["level"] not in EXCLUDED_LEVELS)


def fair_allocation(config: dict[str, Any], required: Allocation, budget: int) -> tuple[Allocation, bool]:
    """``required`` scaled so the government staff come to ``budget`` (or just under): every kind by
    one factor, floored to whole staff per unit but at least one, the factor as large as the
    budget allows (bisection); then one more per unit to the kinds with the largest remainders
    while the budget allows. Returns the allocation and whether the budget could be met at all
    (a structure of many units may need more than ``budget`` for one person in each)."""
    counts = {k: config["units"][k]["count"] for k in required}
    fixed = government_staff(config, {k: 0 for k in required})  # government units outside the scope

    def staffed(factor: float) -> Allocation:
        return {k: max(1, math.floor(required[k] * factor)) for k in required}

    def total(staff: Allocation) -> int:
        return fixed + sum(staff[k] * counts[k] for k in staff)

    low, high = 0.0, 1.0
    if total(staffed(low)) > budget:
        return staffed(low), False
    for _ in range(60):
        middle = (low + high) / 2
        low, high = (middle, high) if total(staffed(middle)) <= budget else (low, middle)
    staff = staffed(low)
    left = budget - total(staff)
    for kind in sorted(required, key=lambda k: (staff[k] - required[k] * low, k)):  # largest remainder first
        if counts[kind] <= left and staff[kind] < required[kind]:
            staff[kind] += 1
            left -= counts[kind]
    return staff, True


def central_claim(folder: Path, targets_path: str | Path | None, reps: int, seed: int, scale: float,
                  days: int | None, executor: Any, max_runs: int,
                  progress: Callable[[str], None] = lambda message: None) -> dict[str, Any]:
    """Optimise both designs on the same targets, then evaluate the fair control on the same seeds.

    Returns the required allocations, government staff now and required, the ratio, and for the
    fair control and the flat design at equal staff: targets missed and the main outcomes."""
    targets_path = targets_path or folder / "targets" / "default.toml"
    settings = {"simulation.scale": scale, **({"simulation.days": days} if days is not None else {})}
    out: dict[str, Any] = {"targets": str(targets_path), "reps": reps, "seed": seed, "scale": scale}
    results = {}
    for name in (BASE, FLAT):
        config = load_scenario(folder / f"{name}.toml", settings)
        scope = check_scope(config, None)
        targets = load_targets(targets_path, config, scope)
        progress(f"{name}: optimising staff for {targets_path}")
        result = optimise(config, targets, scope, executor, reps, seed, scale, days, max_runs, progress)
        results[name] = (config, result)
        out[name] = {"staff_now": government_staff(config, {}),
                     "staff_required": government_staff(config, result.required),
                     "status": result.status, "runs": result.runs, "required": result.required,
                     "unattainable": [t.label for t in result.unattainable]}
    out["ratio_required"] = out[FLAT]["staff_required"] / out[BASE]["staff_required"]
    out["ratio_configured"] = out[FLAT]["staff_now"] / out[BASE]["staff_now"]
    base_config, base_result = results[BASE]
    flat_result = results[FLAT][1]
    budget = out[FLAT]["staff_required"]
    fair, feasible = fair_allocation(base_config, base_result.required, budget)
    progress(f"fair control: {BASE} with {government_staff(base_config, fair)} government staff "
             f"(the flat design's required {budget}), shared as {BASE} needs them"
             + ("" if feasible else f"; {BASE} cannot have fewer: one person per unit"))
    evaluator = Evaluator(base_config, executor, base_result.seeds, scale, days, max_runs, progress)
    fair_eval = evaluator.evaluate([fair])[0]
    flat_eval = flat_result.evaluations["required"]
    out["fair_control"] = {"staff": government_staff(base_config, fair), "allocation": fair,
                           "budget_met": feasible,
                           **_judged(fair_eval, base_result.attainable)}
    out["flat_at_required"] = {"staff": budget, **_judged(flat_eval, flat_result.attainable)}
    out["fair_scenario"] = _scenario_with(base_config, fair)
    return out


def _judged(evaluation: Evaluation, targets: list[Any]) -> dict[str, Any]:
    missed = evaluation.missed(targets)
    return {"targets": len(targets), "missed": [t.label for t in missed],
            "shortfall": evaluation.shortfall(targets),
            "outcomes": {k: evaluation.mean(k) for k in OUTCOMES}}


def _scenario_with(config: dict[str, Any], staff: Allocation) -> dict[str, Any]:
    """The resolved scenario with these staff, runnable as a file: its reforms are already applied
    (so none are listed) and where it was read from is not a scenario key."""
    scenario = copy.deepcopy(config)
    scenario.pop("source", None)
    scenario["reforms"] = []
    for kind, headcount in staff.items():
        scenario["units"][kind]["staff"] = int(headcount)
    scenario["name"] = "fair-control"
    scenario["description"] = ("The township structure with the flat design's required government staff, "
                               "shared out as the township needs them (generated by validate --staffing).")
    return scenario
