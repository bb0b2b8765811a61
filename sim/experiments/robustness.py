"""``robust``: do the main conclusions survive what we do not know?

Every assumed number with a plausible range in the scenario files (``sim.experiments.ranges``)
is sampled by a Latin hypercube; each sample runs every scenario of the study on one common
seed (so differences between designs are structure, not luck), through the batch machinery
(resumable, any executor). For each conclusion of the conclusions file it reports the share of
samples in which it holds (Wilson 95 % interval), the PRIM box of assumptions where it fails
most (``sim.experiments.prim``), and first-order Sobol indices of the conclusion's margin and
of each KPI it uses, estimated from the same sample (given-data estimator: the share of
variance explained by bins of one assumption, beside the level that noise alone gives).

A conclusion compares one KPI between two scenarios (``ratio_at_most``/``ratio_at_least``:
scenario / baseline) or bounds it in one (``at_most``/``at_least``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import qmc

from sim.errors import ScenarioError
from sim.experiments.batch import RunSpec, derive_seed
from sim.experiments.prim import prim_box
from sim.experiments.ranges import AssumedRange, scenario_ranges
from sim.outputs.files import safe_slug
from sim.scenario.loading import read_toml
from sim.scenario.schema import Field, check_table

TESTS = ("ratio_at_most", "ratio_at_least", "at_most", "at_least")
MIN_FAILURES = 5  # fewer failing samples get no PRIM box (their share and interval still say it)
CONCLUSION = {
    "name": Field("str", None, help="what the conclusion says, in words"),
    "kpi": Field("str", None, help="flattened KPI name (as in runs.parquet, without 'kpi.')"),
    "scenario": Field("str", None, help="scenario name the conclusion is about"),
    "baseline": Field("str", None, help="scenario name it is compared with (ratio tests)"),
    **{test: Field("number", None, help="the bound that makes the conclusion hold") for test in TESTS},
}


@dataclass(frozen=True)
class Conclusion:
    name: str
    kpi: str
    scenario: str
    baseline: str | None
    test: str
    bound: float

    def margin(self, values: dict[str, float]) -> float:
        """Positive when the conclusion holds: the bound's distance from the statistic."""
        value = values[self.scenario]
        stat = value / values[self.baseline] if self.test.startswith("ratio") else value
        return self.bound - stat if self.test.endswith("at_most") else stat - self.bound


def load_conclusions(path: str | Path, scenario_names: list[str]) -> list[Conclusion]:
    path = Path(path)
    if not path.is_file():
        raise ScenarioError(str(path), "", "no such conclusions file")
    cfg = read_toml(path)
    for key in cfg:
        if key != "conclusions":
            raise ScenarioError(str(path), key, "unknown key; allowed: conclusions ([[conclusions]] tables)")
    if not isinstance(cfg.get("conclusions", []), list):
        raise ScenarioError(str(path), "conclusions", "must be [[conclusions]] tables")
    out = []
    for i, raw in enumerate(cfg.get("conclusions", [])):
        key = f"conclusions[{i}]"
        if not isinstance(raw, dict):
            raise ScenarioError(str(path), key, "must be a table ([[conclusions]])")
        c = check_table(raw, CONCLUSION, str(path), f"{key}.")
        for name in ("name", "kpi", "scenario"):
            if c[name] is None:
                raise ScenarioError(str(path), f"{key}.{name}", "is required")
        tests = [t for t in TESTS if c[t] is not None]
        if len(tests) != 1:
            raise ScenarioError(str(path), key, f"needs exactly one of {', '.join(TESTS)}")
        for role in ("scenario", "baseline"):
            if c[role] is not None and c[role] not in scenario_names:
                raise ScenarioError(str(path), f"{key}.{role}", f"unknown scenario '{c[role]}'; this study "
                                    f"runs: {', '.join(scenario_names)}")
        if tests[0].startswith("ratio") and c["baseline"] is None:
            raise ScenarioError(str(path), f"{key}.baseline", f"is required for {tests[0]}")
        if not math.isfinite(c[tests[0]]):
            raise ScenarioError(str(path), f"{key}.{tests[0]}", "must be a finite number")
        test = tests[0]
        out.append(Conclusion(c["name"], c["kpi"], c["scenario"], c["baseline"], test, float(c[test])))
    if not out:
        raise ScenarioError(str(path), "conclusions", "names no conclusion")
    return out


def study_ranges(scenarios: list[str]) -> tuple[list[AssumedRange], dict[str, set[str]], dict[str, int]]:
    """The union of the scenarios' ranged assumptions (sorted by key), which keys each scenario
    has, and how many assumed numbers each scenario's files hold in all."""
    union: dict[str, AssumedRange] = {}
    keys, totals = {}, {}
    for path in scenarios:
        ranges, total = scenario_ranges(path)
        keys[path], totals[path] = set(ranges), total
        for key, item in ranges.items():
            if key in union and (union[key].low, union[key].high) != (item.low, item.high):
                raise ScenarioError(item.file, key, f"line {item.line}: range differs from "
                                    f"{union[key].file} line {union[key].line}")
            union.setdefault(key, item)
    if not union:
        raise ScenarioError(scenarios[0], "", "no assumed number has a range; write '(range LOW-HIGH)' "
                            "after an '# assumed:' reason")
    return [union[k] for k in sorted(union)], keys, totals


def sample_points(ranges: list[AssumedRange], n: int, seed: int) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """A Latin hypercube of ``n`` points in the unit cube (rows) and the parameter values."""
    unit = qmc.LatinHypercube(d=len(ranges), rng=np.random.default_rng(seed)).random(n)
    points = []
    for row in unit:
        point = {}
        for u, r in zip(row, ranges, strict=True):
            value = r.low + u * (r.high - r.low)
            point[r.key] = round(value) if r.integer else float(value)
        points.append(point)
    return unit, points


def effective_keys(path: str, ranges: list[AssumedRange], keys: set[str]) -> set[str]:
    """The sampled keys a scenario really runs with: its files' ranged keys, less those a reform
    of it overwrites (the flat design's platform sets the hand-off delay itself: there the
    platform's own ranged delay is what varies). Checked once, at the ranges' midpoints, so
    the runs need not check again: every key judged with the others in place (one build per
    key), then the rest loaded once more with the usual check, which drops a key a reform
    overwrites only once another is gone (none in the presets)."""
    from sim.scenario.loading import build_scenario, load_scenario, read_raw
    from sim.scenario.overrides import overwritten_keys

    mid = {r.key: (round((r.low + r.high) / 2) if r.integer else (r.low + r.high) / 2)
           for r in ranges if r.key in keys}
    built = load_scenario(path, mid, check_kept=False)
    for key in overwritten_keys(read_raw(path), mid, path, build_scenario, built):
        del mid[key]
    while True:
        try:
            load_scenario(path, mid)
            return set(mid)
        except ScenarioError as exc:
            if exc.key not in mid or "would be lost" not in exc.message:
                raise
            del mid[exc.key]


def plan_study(scenarios: list[str], names: list[str], points: list[dict[str, Any]],
               keys: dict[str, set[str]], seed: int, scale: float | None, days: int | None) -> list[RunSpec]:
    """One run per sample and scenario; a scenario gets only the assumptions it runs with
    (``effective_keys``), and every scenario of a sample the same seed."""
    specs = []
    for p, point in enumerate(points):
        run_seed = derive_seed(seed, p, 0)
        for path, name in zip(scenarios, names, strict=True):
            params = {k: v for k, v in point.items() if k in keys[path]}
            specs.append(RunSpec(f"{safe_slug(name)}__p{p:04d}__r000", path, name, p, params, 0, run_seed,
                                 scale, days, kept_checked=True))
    return specs


def wilson(successes: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score 95 % interval of a share (good near 0 and 1, where most conclusions are)."""
    if n == 0:
        return math.nan, math.nan
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def first_order_given_data(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    """First-order Sobol indices from one sample: per column, the variance of bin means (equal-
    count bins of that column) over the variance of ``y``. Returns the indices and the level
    an assumption with no effect gets on average, (bins - 1) / (n - 1): read indices near it as 0."""
    n, d = x.shape
    bins = max(2, int(math.sqrt(n)))
    total = float(np.var(y))
    if total == 0 or n < 4:
        return np.zeros(d), (bins - 1) / max(n - 1, 1)
    out = np.zeros(d)
    for j in range(d):
        labels = np.minimum((np.argsort(np.argsort(x[:, j], kind="stable")) * bins) // n, bins - 1)
        counts = np.bincount(labels, minlength=bins)
        means = np.bincount(labels, weights=y, minlength=bins) / np.maximum(counts, 1)
        out[j] = float(np.sum(counts * (means - y.mean()) ** 2) / n / total)
    return out, (bins - 1) / (n - 1)


def analyse(conclusions: list[Conclusion], ranges: list[AssumedRange], unit: np.ndarray,
            kpis: dict[int, dict[str, dict[str, float]]]) -> dict[str, list[dict[str, Any]]]:
    """Rows of the three tables (conclusions, PRIM boxes, Sobol indices) from each sample's
    flattened KPIs per scenario name (``kpis[point][scenario][kpi]``)."""
    points = sorted(kpis)
    x = unit[points]
    tables: dict[str, list[dict[str, Any]]] = {"conclusions": [], "prim": [], "sobol": []}
    for c in conclusions:
        for role in (c.scenario, c.baseline):
            if role is not None and any(c.kpi not in kpis[p][role] for p in points):
                raise ScenarioError("conclusions", c.name, f"unknown or missing KPI '{c.kpi}' for scenario "
                                    f"'{role}'; e.g. " + ", ".join(list(kpis[points[0]][role])[:6]))
        margins = np.array([c.margin({s: kpis[p][s][c.kpi] for s in kpis[p]}) for p in points])
        holds = np.isfinite(margins) & (margins >= 0)
        low, high = wilson(int(holds.sum()), len(points))
        # a box around a handful of failures describes noise, not a cause: none below MIN_FAILURES
        box = prim_box(x, ~holds) if (~holds).sum() >= MIN_FAILURES else None
        tables["conclusions"].append({
            "conclusion": c.name, "kpi": c.kpi, "scenario": c.scenario, "baseline": c.baseline,
            "test": c.test, "bound": c.bound, "samples": len(points), "holds": int(holds.sum()),
            "holds_share": float(holds.mean()), "ci95_low": low, "ci95_high": high,
            "margin_median": float(np.nanmedian(margins)),
            "fails_when": _fails_when(box, ranges, int((~holds).sum())),
            "box_density": None if box is None else box.density,
            "box_coverage": None if box is None else box.coverage,
        })
        if box is not None:
            for j in box.restricted:
                r = ranges[j]
                tables["prim"].append({
                    "conclusion": c.name, "parameter": r.key, "low": _value(r, box.lower[j]),
                    "high": _value(r, box.upper[j]), "range_low": r.low, "range_high": r.high,
                    "density": box.density, "coverage": box.coverage, "support": box.support})
        outputs = {f"margin: {c.name}": margins}
        for role in dict.fromkeys(r for r in (c.scenario, c.baseline) if r is not None):
            outputs[f"{role}: {c.kpi}"] = np.array([kpis[p][role][c.kpi] for p in points], dtype=float)
        for output, y in outputs.items():
            if any(r["output"] == output for r in tables["sobol"]):
                continue
            finite = np.isfinite(y)
            s1, floor = first_order_given_data(x[finite], y[finite])
            for j, r in enumerate(ranges):
                tables["sobol"].append({"output": output, "parameter": r.key, "first_order": float(s1[j]),
                                        "noise_floor": floor})
    return tables


def _fails_when(box: Any, ranges: list[AssumedRange], failures: int) -> str:
    """The PRIM box in words; empty when nothing fails, a note when too little fails."""
    if box is not None:
        return "; ".join(_describe(ranges[j], box.lower[j], box.upper[j]) for j in box.restricted)
    return f"too few failures ({failures}) for a box" if failures else ""


def _value(r: AssumedRange, u: float) -> float | None:
    return r.low + u * (r.high - r.low) if math.isfinite(u) else None


def _describe(r: AssumedRange, lo: float, hi: float) -> str:
    low, high = _value(r, lo), _value(r, hi)
    if low is not None and high is not None:
        return f"{low:.3g} < {r.key} < {high:.3g}"
    return f"{r.key} > {low:.3g}" if low is not None else f"{r.key} < {high:.3g}"


def run_study(scenarios: list[str], conclusions_path: str | Path, n: int, seed: int, scale: float | None,
              days: int | None, out: Path, executor: Any, resume: bool = False,
              progress: bool = True) -> dict[str, Any]:
    """Sample, run (into ``out``, resumable), analyse; write robust.csv, prim.csv,
    sobol_given_data.csv and study.json; return the tables and the study's description."""
    import pandas as pd

    from sim.experiments.batch import batch_identity, run_batch
    from sim.experiments.folder import BatchFolder
    from sim.outputs.files import atomic_write_bytes, write_json
    from sim.outputs.kpis import flatten
    from sim.scenario.loading import load_scenario

    names = [load_scenario(path)["name"] for path in scenarios]
    if len(set(names)) != len(names):
        raise ScenarioError(scenarios[0], "name", "two scenarios of the study share a name")
    conclusions = load_conclusions(conclusions_path, names)
    ranges, keys, totals = study_ranges(scenarios)
    keys = {path: effective_keys(path, ranges, keys[path]) for path in scenarios}
    unit, points = sample_points(ranges, n, seed)
    specs = plan_study(scenarios, names, points, keys, seed, scale, days)
    identity = batch_identity(scenarios, specs, points, 1, seed, scale, days, str(conclusions_path), True)
    summary = run_batch(specs, out, executor, identity, resume=resume, progress=progress, summary=False)
    kpis: dict[int, dict[str, dict[str, float]]] = {}
    failed, errors = [], []
    for record in BatchFolder(out).records([s.run_id for s in specs]):
        point = record["spec"]["point"]
        if record["status"] != "ok":
            failed.append(point)
            errors.append({"run_id": record["run_id"], "error": record.get("error"),
                           "params": record["spec"]["params"]})
            continue
        kpis.setdefault(point, {})[record["spec"]["scenario_name"]] = flatten(record["kpis"])
    complete = {p: v for p, v in kpis.items() if len(v) == len(names) and p not in failed}
    tables = analyse(conclusions, ranges, unit, complete)
    study = {"scenarios": dict(zip(names, scenarios, strict=True)), "samples": n, "seed": seed,
             "scale": scale, "days": days, "complete_samples": len(complete), "runs": summary,
             "failed_runs": errors,
             "design": "Latin hypercube on the assumed ranges; one common seed per sample",
             "assumed_numbers": totals, "ranged": {p: len(keys[p]) for p in scenarios},
             "parameters": [{"key": r.key, "value": r.value, "low": r.low, "high": r.high,
                             "integer": r.integer, "source": f"{r.file}:{r.line}"} for r in ranges]}
    for name, rows in (("robust.csv", tables["conclusions"]), ("prim.csv", tables["prim"]),
                       ("sobol_given_data.csv", tables["sobol"])):
        atomic_write_bytes(out / name, pd.DataFrame(rows).to_csv(index=False).encode())
    write_json(out / "study.json", study)
    return {"tables": tables, "study": study}
