"""``attribute``: how much each reform contributes to the change from BASE to TARGET.

TARGET must be BASE plus reforms (it ``extends`` BASE, directly or not, and changes nothing
else). For a set S of those reforms, v(S) is the replication mean of a KPI when BASE runs with
the reforms in S applied in TARGET's order. Three answers:
  * in order: reform i gets v(first i) - v(first i-1);
  * reverse order: reform i gets v(last n-i+1) - v(last n-i) (it is the first one removed);
  * Shapley: the average of i's marginal contribution over all orderings. Exact over all 2^n
    subsets for n <= 8; beyond that (or when asked) sampled over antithetic pairs of orderings,
    with a 95 % interval (``sim.experiments.shapley``). Either way the values add up to
    v(all) - v(none).
Replication r of every subset uses seed r (common random numbers): a reform that changes
nothing then gets exactly zero, and differences are not blurred by independent noise.
"""

from __future__ import annotations

import copy
import csv
import io
import itertools
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from sim.errors import ScenarioError
from sim.experiments.executors import Job, run_jobs
from sim.experiments.shapley import (
    all_feasible_orderings,
    exact_shapley,
    feasible_ordering,
    ordering_shapley,
    prefixes,
    sample_feasible_orderings,
    sample_orderings,
    sampled_shapley,
)
from sim.outputs.files import atomic_write_bytes
from sim.scenario.loading import build_scenario, read_raw

MAX_SHAPLEY_REFORMS = 8  # exact Shapley up to this many reforms (2^8 = 256 subsets)
DEFAULT_ORDERINGS = 24  # sampled beyond it: 12 antithetic pairs, about 10 n subsets
IGNORED_KEYS = {"name", "description", "reforms", "extends", "calibration"}  # (its values are compared)
MISSING = object()  # a key one of the two scenarios does not set


SETTING = "setting:"  # name prefix of a change that is not a reform (a table set differently)


def attributable_reforms(base: str | Path, target: str | Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The base's raw scenario and the changes TARGET makes to it: its added reforms, in order,
    then each setting it changes besides reforms, as a change of its own named
    ``setting:TABLE.KEY`` (one per key of a table, e.g. ``setting:behaviour.whistle``, or
    ``setting:KEY`` for a plain value). A setting change puts TARGET's value in the base."""
    base_raw, target_raw = read_raw(base), read_raw(target)
    base_reforms = base_raw.get("reforms", [])
    target_reforms = target_raw.get("reforms", [])
    if target_reforms[: len(base_reforms)] != base_reforms:
        raise ScenarioError(str(target), "reforms", f"must start with the reforms of {base}")
    changes = list(target_reforms[len(base_reforms):])
    for key in sorted((set(base_raw) | set(target_raw)) - IGNORED_KEYS):
        old, new = base_raw.get(key, MISSING), target_raw.get(key, MISSING)
        if old == new:
            continue
        if isinstance(old, dict) and isinstance(new, dict):
            changed = [sub for sub in sorted(set(old) | set(new))
                       if old.get(sub, MISSING) != new.get(sub, MISSING)]
            changes += [{"name": f"{SETTING}{key}.{sub}", "path": (key, sub), "value": new.get(sub, MISSING)}
                        for sub in changed]
        else:
            changes.append({"name": f"{SETTING}{key}", "path": (key,), "value": new})
    if not changes:
        raise ScenarioError(str(target), "reforms", f"changes nothing in {base}")
    return base_raw, changes


def _set(raw: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    table = raw
    for key in path[:-1]:
        table = table.setdefault(key, {})
    if value is MISSING:
        table.pop(path[-1], None)
    else:
        table[path[-1]] = copy.deepcopy(value)


def subset_scenario(base_raw: dict[str, Any], extra: list[dict[str, Any]], subset: tuple[int, ...],
                    path: str) -> dict[str, Any]:
    """The base with the changes in ``subset``: settings written in, reforms applied in order."""
    raw = copy.deepcopy(base_raw)
    chosen = [extra[i] for i in subset]
    for change in chosen:
        if change["name"].startswith(SETTING):
            _set(raw, change["path"], change["value"])
    reforms = [c for c in chosen if not c["name"].startswith(SETTING)]
    raw["reforms"] = list(base_raw.get("reforms", [])) + reforms
    raw["name"] = "+".join([base_raw.get("name", "base")] + [c["name"] for c in chosen])
    prune_pools(raw, path)
    return build_scenario(raw, path)


def prune_pools(raw: dict[str, Any], path: str) -> None:
    """Redeployment pools may name unit kinds that only reforms left out of this subset create:
    such kinds leave the pool (a pool left empty goes), as if the target's leaders pooled the
    units that exist."""
    moving = raw.get("behaviour", {}).get("redeployment", {})
    if not (moving.get("pools") or moving.get("flexibility")):
        return
    bare = copy.deepcopy(raw)
    bare["behaviour"]["redeployment"] = {k: v for k, v in moving.items() if k not in ("pools", "flexibility")}
    units = set(build_scenario(bare, path)["units"])
    pools = {name: [k for k in kinds if k in units] for name, kinds in moving.get("pools", {}).items()}
    moving["pools"] = {name: kinds for name, kinds in pools.items() if kinds}
    if "flexibility" in moving:
        moving["flexibility"] = {k: v for k, v in moving["flexibility"].items() if k in units}


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


class SubsetBuilder:
    """Builds each subset's scenario once. A subset whose reforms cannot be applied (one needs a
    unit kind only a reform outside the subset creates) is infeasible."""

    def __init__(self, base_raw: dict[str, Any], changes: list[dict[str, Any]], path: str) -> None:
        self.base_raw, self.changes, self.path = base_raw, changes, path
        self._built: dict[tuple[int, ...], dict[str, Any] | None] = {}

    def scenario(self, subset: tuple[int, ...]) -> dict[str, Any] | None:
        if subset not in self._built:
            try:
                self._built[subset] = subset_scenario(self.base_raw, self.changes, subset, self.path)
            except ScenarioError:
                self._built[subset] = None
        return self._built[subset]

    def feasible(self, subset: tuple[int, ...]) -> bool:
        return self.scenario(subset) is not None


def shapley_plan(n: int, orderings: int | None, seed: int, feasible: Callable[[tuple[int, ...]], bool]
                 ) -> tuple[list[tuple[int, ...]] | None, str]:
    """The orderings Shapley values average over, and the method's name. None = all subsets
    (exact, every ordering feasible). Exact unless asked for orderings or there are more than
    ``MAX_SHAPLEY_REFORMS`` changes; orderings in which a change comes before one it needs are
    left out (``sim.experiments.shapley``)."""
    if orderings is None and n <= MAX_SHAPLEY_REFORMS:
        every = all_feasible_orderings(n, feasible)
        if len(every) == math.factorial(n):
            return None, "exact"
        return every, f"exact over the {len(every)} feasible orderings"
    count = DEFAULT_ORDERINGS if orderings is None else orderings
    rng = np.random.default_rng(seed)
    paired = sample_orderings(n, count, rng)
    if all(feasible_ordering(order, feasible) for order in paired):
        return paired, f"sampled ({len(paired)} orderings, antithetic pairs)"
    drawn = sample_feasible_orderings(n, count, rng, feasible)
    return drawn, f"sampled ({len(drawn)} feasible orderings)"


def attribute(base: str | Path, target: str | Path, reps: int, scale: float | None = None,
              days: int | None = None, workers: int | None = None, progress: Any = None,
              orderings: int | None = None, seed: int = 0) -> list[dict[str, Any]]:
    """Rows (reform, metric, in_order, reverse, shapley, shapley_ci95, shapley_method) plus a
    ``total`` row per metric. An in-order or reverse step through a subset that cannot be built
    is NaN.

    Args:
        orderings: sample this many orderings (rounded up to even) for the Shapley values;
            None = exact up to ``MAX_SHAPLEY_REFORMS`` changes, ``DEFAULT_ORDERINGS`` beyond.
        seed: seed of the orderings' sample (the runs use seeds 1..reps either way).
    """
    base_raw, extra = attributable_reforms(base, target)
    n = len(extra)
    builder = SubsetBuilder(base_raw, extra, str(target))
    plan, method = shapley_plan(n, orderings, seed, builder.feasible)
    chains = {tuple(range(i)) for i in range(n + 1)} | {tuple(range(i, n)) for i in range(n + 1)}
    if plan is None:  # exact: every subset
        wanted = {c for k in range(n + 1) for c in itertools.combinations(range(n), k)}
    else:
        wanted = chains | prefixes(plan)
    subsets = sorted((c for c in wanted | chains if builder.feasible(c)), key=lambda c: (len(c), c))
    jobs = [Job(builder.scenario(c), seed=r + 1, scale=scale, days=days)
            for c in subsets for r in range(reps)]
    results = run_jobs(jobs, workers=workers, progress=progress)
    per_subset = {c: [metrics_of(k) for k in results[i * reps:(i + 1) * reps]]
                  for i, c in enumerate(subsets)}
    metrics = [m for m in per_subset[tuple(range(n))][0] if all(
        m in rep for reps_ in per_subset.values() for rep in reps_)]
    rows = []
    for metric in metrics:
        value = {c: sum(rep[metric] for rep in reps_) / len(reps_) for c, reps_ in per_subset.items()}

        def step(with_: tuple[int, ...], without: tuple[int, ...], value: dict = value) -> float:
            return value.get(with_, math.nan) - value.get(without, math.nan)
        if plan is None:
            phi, half = exact_shapley(n, value), [0.0] * n
        elif method.startswith("exact"):
            phi, half = ordering_shapley(n, value, plan), [0.0] * n
        else:
            phi, half = (list(map(float, a)) for a in sampled_shapley(n, value, plan))
        for i, reform in enumerate(extra):
            rows.append({
                "reform": f"{i + 1}:{reform['name']}", "metric": metric,
                "in_order": step(tuple(range(i + 1)), tuple(range(i))),
                "reverse": step(tuple(range(i, n)), tuple(range(i + 1, n))),
                "shapley": phi[i], "shapley_ci95": half[i], "shapley_method": method,
            })
        total = value[tuple(range(n))] - value[()]
        rows.append({"reform": "total", "metric": metric, "in_order": total, "reverse": total,
                     "shapley": total, "shapley_ci95": 0.0, "shapley_method": method,
                     "base": value[()], "target": value[tuple(range(n))]})
    return rows


def write_attribution_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    fields = ["reform", "metric", "in_order", "reverse", "shapley", "shapley_ci95", "shapley_method",
              "base", "target"]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields)
    writer.writeheader()
    for row in rows:
        writer.writerow({k: row.get(k, "") for k in fields})
    atomic_write_bytes(path, buffer.getvalue().encode())
