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
from pathlib import Path
from typing import Any

import numpy as np

from sim.errors import ScenarioError
from sim.experiments.executors import Job, run_jobs
from sim.experiments.shapley import exact_shapley, prefixes, sample_orderings, sampled_shapley
from sim.outputs.files import atomic_write_bytes
from sim.scenario.loading import build_scenario, read_raw

MAX_SHAPLEY_REFORMS = 8  # exact Shapley up to this many reforms (2^8 = 256 subsets)
DEFAULT_ORDERINGS = 24  # sampled beyond it: 12 antithetic pairs, about 10 n subsets
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


def needed_subsets(n: int, shapley: bool, orderings: list[tuple[int, ...]] | None = None
                   ) -> list[tuple[int, ...]]:
    """The chains in order and in reverse, plus every subset (exact Shapley) or the prefixes of
    the sampled orderings."""
    subsets = {tuple(range(i)) for i in range(n + 1)} | {tuple(range(i, n)) for i in range(n + 1)}
    if orderings:
        subsets |= prefixes(orderings)
    elif shapley:
        subsets |= {s for k in range(n + 1) for s in itertools.combinations(range(n), k)}
    return sorted(subsets, key=lambda s: (len(s), s))


def shapley_plan(n: int, orderings: int | None, seed: int) -> list[tuple[int, ...]] | None:
    """The orderings to sample, or None for exact Shapley: exact unless asked for orderings or
    there are more than ``MAX_SHAPLEY_REFORMS`` reforms."""
    if orderings is None and n <= MAX_SHAPLEY_REFORMS:
        return None
    count = DEFAULT_ORDERINGS if orderings is None else orderings
    return sample_orderings(n, count, np.random.default_rng(seed))


def attribute(base: str | Path, target: str | Path, reps: int, scale: float | None = None,
              days: int | None = None, workers: int | None = None, progress: Any = None,
              orderings: int | None = None, seed: int = 0) -> list[dict[str, Any]]:
    """Rows (reform, metric, in_order, reverse, shapley, shapley_ci95, shapley_method) plus a
    ``total`` row per metric.

    Args:
        orderings: sample this many orderings (rounded up to even) for the Shapley values;
            None = exact up to ``MAX_SHAPLEY_REFORMS`` reforms, ``DEFAULT_ORDERINGS`` beyond.
        seed: seed of the orderings' sample (the runs use seeds 1..reps either way).
    """
    base_raw, extra = attributable_reforms(base, target)
    n = len(extra)
    sampled = shapley_plan(n, orderings, seed)
    method = "exact" if sampled is None else f"sampled ({len(sampled)} orderings)"
    subsets = needed_subsets(n, True, sampled)
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
        if sampled is None:
            phi, half = exact_shapley(n, value), [0.0] * n
        else:
            phi, half = (list(map(float, a)) for a in sampled_shapley(n, value, sampled))
        for i, reform in enumerate(extra):
            rows.append({
                "reform": f"{i + 1}:{reform['name']}", "metric": metric,
                "in_order": value[tuple(range(i + 1))] - value[tuple(range(i))],
                "reverse": value[tuple(range(i, n))] - value[tuple(range(i + 1, n))],
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
