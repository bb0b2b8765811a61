"""``attribute``: how much each reform contributes to the change from BASE to TARGET.

TARGET must be BASE plus reforms (it ``extends`` BASE, directly or not, and changes nothing
else). For a set S of those reforms, v(S) is the replication mean of a KPI when BASE runs with
the reforms in S applied in TARGET's order. Three answers:
  * in order: reform i gets v(first i) - v(first i-1);
  * reverse order: reform i gets v(last n-i+1) - v(last n-i) (it is the first one removed);
  * Shapley: the average of i's marginal contribution over all orderings (exact over all 2^n
    subsets, for n <= 8); the values add up to v(all) - v(none) by construction.
Replication r of every subset uses seed r (common random numbers): a reform that changes
nothing then gets exactly zero, and differences are not blurred by independent noise.
"""

from __future__ import annotations

import copy
import csv
import io
import itertools
import math
from pathlib import Path
from typing import Any

from sim.errors import ScenarioError
from sim.experiments.executors import Job, run_jobs
from sim.outputs.files import atomic_write_bytes
from sim.scenario.loading import build_scenario, read_raw

MAX_SHAPLEY_REFORMS = 8
IGNORED_KEYS = {"name", "description", "reforms", "extends"}


def attributable_reforms(base: str | Path, target: str | Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The base's raw scenario and the reforms TARGET adds to it (checked to be the only change)."""
    base_raw, target_raw = read_raw(base), read_raw(target)
    base_reforms = base_raw.get("reforms", [])
    target_reforms = target_raw.get("reforms", [])
    if target_reforms[: len(base_reforms)] != base_reforms:
        raise ScenarioError(str(target), "reforms", f"must start with the reforms of {base}")
    for key in sorted((set(base_raw) | set(target_raw)) - IGNORED_KEYS):
        if base_raw.get(key) != target_raw.get(key):
            raise ScenarioError(str(target), key, f"differs from {base}; attribution needs a target "
                                "that is the base plus reforms only")
    extra = target_reforms[len(base_reforms):]
    if not extra:
        raise ScenarioError(str(target), "reforms", f"adds no reform to {base}")
    return base_raw, extra


def subset_scenario(base_raw: dict[str, Any], extra: list[dict[str, Any]], subset: tuple[int, ...],
                    path: str) -> dict[str, Any]:
    raw = copy.deepcopy(base_raw)
    raw["reforms"] = list(base_raw.get("reforms", [])) + [extra[i] for i in subset]
    raw["name"] = "+".join([base_raw.get("name", "base")] + [extra[i]["name"] for i in subset])
    return build_scenario(raw, path)


def metrics_of(kpis: dict[str, Any]) -> dict[str, float]:
    """The KPIs attribution reports: mean resolution hours by category, share solved at community
    level or below, staff cost, SLA attainment."""
    out = {f"resolution_hours.{c}": v["mean"] for c, v in kpis["resolution_hours"].items() if v["mean"]}
    out["share_resolved_community_or_below"] = kpis["share_resolved_community_or_below"]
    out["staff_cost"] = kpis["staff_cost"]
    for name, sla in kpis["sla_attainment"].items():
        if sla["attainment"] is not None:
            out[f"sla.{name}"] = sla["attainment"]
    return out


def needed_subsets(n: int, shapley: bool) -> list[tuple[int, ...]]:
    subsets = {tuple(range(i)) for i in range(n + 1)} | {tuple(range(i, n)) for i in range(n + 1)}
    if shapley:
        subsets |= {s for k in range(n + 1) for s in itertools.combinations(range(n), k)}
    return sorted(subsets, key=lambda s: (len(s), s))


def shapley_values(n: int, value: dict[tuple[int, ...], float]) -> list[float]:
    """Exact Shapley values from the value of every subset (keys sorted tuples)."""
    phi = [0.0] * n
    for i in range(n):
        others = [j for j in range(n) if j != i]
        for k in range(n):
            weight = math.factorial(k) * math.factorial(n - k - 1) / math.factorial(n)
            for s in itertools.combinations(others, k):
                with_i = tuple(sorted((*s, i)))
                phi[i] += weight * (value[with_i] - value[s])
    return phi


def attribute(base: str | Path, target: str | Path, reps: int, scale: float | None = None,
              days: int | None = None, workers: int | None = None, progress: Any = None
              ) -> list[dict[str, Any]]:
    """Rows (reform, metric, in_order, reverse, shapley) plus a ``total`` row per metric."""
    base_raw, extra = attributable_reforms(base, target)
    n = len(extra)
    shapley = n <= MAX_SHAPLEY_REFORMS
    subsets = needed_subsets(n, shapley)
    scenarios = [subset_scenario(base_raw, extra, s, str(target)) for s in subsets]
    jobs = [Job(sc, seed=r + 1, scale=scale, days=days) for sc in scenarios for r in range(reps)]
    results = run_jobs(jobs, workers=workers, progress=progress)
    per_subset = {s: [metrics_of(k) for k in results[i * reps:(i + 1) * reps]]
                  for i, s in enumerate(subsets)}
    metrics = [m for m in per_subset[tuple(range(n))][0] if all(
        m in rep for reps_ in per_subset.values() for rep in reps_)]
    rows = []
    for metric in metrics:
        value = {s: sum(rep[metric] for rep in reps_) / len(reps_) for s, reps_ in per_subset.items()}
        phi = shapley_values(n, value) if shapley else [None] * n
        for i, reform in enumerate(extra):
            rows.append({
                "reform": f"{i + 1}:{reform['name']}", "metric": metric,
                "in_order": value[tuple(range(i + 1))] - value[tuple(range(i))],
                "reverse": value[tuple(range(i, n))] - value[tuple(range(i + 1, n))],
                "shapley": phi[i],
            })
        rows.append({"reform": "total", "metric": metric,
                     "in_order": value[tuple(range(n))] - value[()],
                     "reverse": value[tuple(range(n))] - value[()],
                     "shapley": value[tuple(range(n))] - value[()] if shapley else None,
                     "base": value[()], "target": value[tuple(range(n))]})
    return rows


def write_attribution_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    fields = ["reform", "metric", "in_order", "reverse", "shapley", "base", "target"]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields)
    writer.writeheader()
    for row in rows:
        writer.writerow({k: row.get(k, "") for k in fields})
    atomic_write_bytes(path, buffer.getvalue().encode())
