"""What ``run.py staff`` writes: the per-unit table, totals, ``staffing.csv``, ``staffing.json``
with targets, seeds and confidence intervals, and ``staffed.toml`` (a runnable scenario)."""

from __future__ import annotations

import copy
import csv
import io
import math
from pathlib import Path
from typing import Any

from sim.experiments.staffing import Evaluation, StaffingResult
from sim.experiments.staffing_queues import STABLE_UTILISATION
from sim.experiments.staffing_targets import Target
from sim.outputs.files import atomic_write_bytes, write_json
from sim.scenario.toml_writer import dumps

COLUMNS = ("unit", "level", "instances", "staff_current", "staff_analytic", "staff_required",
           "total_current", "total_required", "utilisation_current", "utilisation_required",
           "hours_worked_current", "hours_worked_required", "hours_at_work_required",
           "capacity_use_current", "capacity_use_required", "wait_probability_required",
           "binding_target", "one_fewer")


def _ci_record(evaluation: Evaluation, target: Target) -> dict[str, Any]:
    mean, low, high = evaluation.ci(target.kpi)
    surely = (high <= target.bound if target.sense == "max" else low >= target.bound) \
        if not math.isnan(low) else target.met(mean)
    return {"mean": mean, "ci95_low": low, "ci95_high": high, "met": target.met(mean), "met_with_ci": surely}


def one_fewer(result: StaffingResult, kind: str) -> dict[str, Any]:
    """Would one staff member fewer per instance of ``kind`` still meet the targets? Which it
    misses, by its replication mean, and whether the 95 % CI still reaches the target (tight)."""
    evaluation = result.minus_one.get(kind)
    if result.required[kind] <= 1:
        return {"possible": False, "summary": "at the minimum (1 per unit)", "missed": [], "tight": False}
    use = result.pilot.loads[kind].capacity_use(result.required[kind] - 1)
    if use > STABLE_UTILISATION:
        return {"possible": False, "missed": [], "tight": False, "summary": f"would be offered {use:.0%} "
                f"of what its staff can do with overtime (at most {STABLE_UTILISATION:.0%}: capacity)"}
    if evaluation is None:
        return {"possible": True, "summary": "not evaluated (run budget)", "missed": [], "tight": False}
    missed = sorted(evaluation.missed(result.attainable), key=lambda t: -t.shortfall(evaluation.mean(t.kpi)))
    records = [{"target": t.label, "bound": t.bound, **_ci_record(evaluation, t)} for t in missed]
    for record, target in zip(records, missed, strict=True):
        low, high = record["ci95_low"], record["ci95_high"]
        record["within_ci"] = not math.isnan(low) and (low <= target.bound <= high)
    tight = any(r["within_ci"] for r in records)
    if not missed:
        summary = "still meets every target"
    else:
        first = records[0]
        summary = (f"misses {first['target']} ({first['mean']:.3g} vs {first['bound']:g}"
                   + (", within the 95 % CI: tight)" if first["within_ci"] else ", beyond the 95 % CI)"))
    return {"possible": True, "summary": summary, "missed": records, "tight": tight}


def unit_rows(result: StaffingResult) -> list[dict[str, Any]]:
    """One row per unit kind in scope (the table on screen and ``staffing.csv``)."""
    now, req = result.evaluations["current"], result.evaluations["required"]
    rows = []
    for kind in result.scope:
        load = result.pilot.loads[kind]
        fewer = one_fewer(result, kind)
        binding = fewer["missed"][0]["target"] if fewer["missed"] else (
            "minimum (1 per unit)" if result.required[kind] <= 1 else
            "capacity (overtime included)" if "of what its staff can do" in fewer["summary"] else "-")
        rows.append({
            "unit": kind, "level": load.level, "instances": load.count,
            "staff_current": result.current[kind], "staff_analytic": result.analytic[kind],
            "staff_required": result.required[kind],
            "total_current": result.current[kind] * load.count,
            "total_required": result.required[kind] * load.count,
            "utilisation_current": now.mean(f"utilisation_by_unit.{kind}"),
            "utilisation_required": req.mean(f"utilisation_by_unit.{kind}"),
            "hours_worked_current": now.mean(f"hours_worked_per_week.by_unit.{kind}"),
            "hours_worked_required": req.mean(f"hours_worked_per_week.by_unit.{kind}"),
            "hours_at_work_required": req.mean(f"hours_at_work_per_week.by_unit.{kind}"),
            "capacity_use_current": now.mean(f"capacity_use.{kind}"),
            "capacity_use_required": req.mean(f"capacity_use.{kind}"),
            "wait_probability_required": req.mean(f"wait_probability.{kind}"),
            "binding_target": binding, "one_fewer": fewer["summary"],
        })
    return rows


def totals(result: StaffingResult) -> dict[str, float]:
    """Headcount and yearly cost, current vs required: units in scope, government staff
    (without grid and social units, as the KPI ``staff_government``) and all staff cost."""
    loads = result.pilot.loads
    now, req = result.evaluations["current"], result.evaluations["required"]

    def scope_sum(staff: dict[str, int], cost: bool) -> float:
        return float(sum(staff[k] * loads[k].count * (loads[k].cost_per_staff if cost else 1)
                         for k in result.scope))

    out = {"scope_staff_current": scope_sum(result.current, False),
           "scope_staff_required": scope_sum(result.required, False),
           "scope_cost_current": scope_sum(result.current, True),
           "scope_cost_required": scope_sum(result.required, True),
           "staff_government_current": now.mean("staff_government"),
           "staff_government_required": req.mean("staff_government"),
           "staff_cost_current": now.mean("staff_cost"), "staff_cost_required": req.mean("staff_cost")}
    out["staff_government_ratio"] = (out["staff_government_required"] / out["staff_government_current"]
                                     if out["staff_government_current"] else math.nan)
    return out


def summary(result: StaffingResult) -> dict[str, Any]:
    """Everything ``staffing.json`` holds."""
    now, req = result.evaluations["current"], result.evaluations["required"]
    targets = []
    for target in result.targets.targets:
        targets.append({"target": target.label, "kpi": target.kpi, "sense": target.sense,
                        "bound": target.bound, "attainable": target in result.attainable,
                        "current": _ci_record(now, target), "required": _ci_record(req, target),
                        "generous_staffing": _ci_record(result.evaluations["ceiling"], target)})
    return {
        "scenario": result.scenario, "targets_file": result.targets.path, "targets_name": result.targets.name,
        "status": result.status, "replications": len(result.seeds), "seeds": result.seeds,
        "scale": result.scale, "days": result.days, "simulations": result.runs,
        "scope": result.scope, "totals": totals(result), "units": unit_rows(result),
        "one_fewer": {k: one_fewer(result, k) for k in result.scope},
        "targets": targets, "analytic_binding": result.analytic_binding,
        "allocations": {"current": result.current, "analytic": result.analytic, "generous": result.ceiling,
                        "required": result.required},
        "history": result.history,
    }


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(COLUMNS))
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if isinstance(row[k], float) and math.isnan(row[k]) else row[k]
                         for k in COLUMNS})
    atomic_write_bytes(path, buffer.getvalue().encode())


def staffed_text(base: dict[str, Any], result: StaffingResult) -> str:
    """The resolved scenario (as ``run.py show`` prints it) with the required staff: runnable."""
    config = copy.deepcopy(base)
    source = config.pop("source", {})
    reforms = config.pop("reforms", [])
    for kind, staff in result.required.items():
        config["units"][kind]["staff"] = int(staff)
    config["name"] = f"{config['name']}-staffed"
    lines = [f"# {config['name']}: {source.get('path')} resolved (extends merged, defaults filled, "
             f"{len(reforms)} reforms applied) with the staff `run.py staff` requires for",
             f"# {result.targets.path} ({len(result.seeds)} replications, status {result.status}). "
             "Changed staff per unit:"]
    lines += [f"#   {k}: {result.current[k]} -> {result.required[k]}" for k in result.scope
              if result.current[k] != result.required[k]]
    return "\n".join(lines) + "\n\n" + dumps(config)


def write_outputs(result: StaffingResult, base: dict[str, Any], out: Path) -> list[Path]:
    """``staffing.csv``, ``staffing.json`` and ``staffed.toml`` in ``out``, each atomically."""
    written = [out / "staffing.csv", out / "staffing.json", out / "staffed.toml"]
    write_csv(written[0], unit_rows(result))
    write_json(written[1], summary(result))
    atomic_write_bytes(written[2], staffed_text(base, result).encode())
    return written
