"""Sweep files: which scenario keys vary, over what, with which design.

```toml
design = "lhs"          # grid (full factorial) | lhs (Latin hypercube) | sobol (scrambled Sobol')
samples = 16            # points for lhs and sobol (sobol: a power of two)
[parameters."handoff.delay_hours"]
range = [1.0, 24.0]     # continuous: lhs/sobol sample it; grid needs `values` or `steps`
[parameters."reforms.one_seal.staff"]
values = [20, 26, 40]   # discrete: grid takes each; lhs/sobol pick by the sample's position
```

A range whose ends are both integers gives integer values. Points are a pure function of the
sweep and the batch seed, so every worker and every resumed batch sees the same points.
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import qmc

from sim.errors import ScenarioError
from sim.scenario.loading import read_toml
from sim.scenario.schema import Field, check_table

DESIGNS = ("grid", "lhs", "sobol")
MAX_POINTS = 100_000
"""A sweep with more points is refused before any is generated (each point is at least one run)."""
KEY_PIECE = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*(\[\d+\])*$")

PARAMETER = {
    "values": Field("list[any]", None, help="discrete values (numbers, strings or true/false)"),
    "range": Field("list[any]", None, help="[low, high] for a continuous parameter (two integers: integers)"),
    "steps": Field("int", None, minimum=2, maximum=MAX_POINTS,
                   help="grid design: evenly spaced points over the range"),
}

SWEEP = {
    "design": Field("str", "grid", choices=DESIGNS, help="how points are chosen"),
    "samples": Field("int", None, minimum=1, maximum=MAX_POINTS, help="number of points (lhs, sobol)"),
    "scenario": Field("str", None, help="scenario file (sensitivity command), relative to the sweep"),
    "outputs": Field("list[str]", None, help="KPIs to analyse (sensitivity command), flattened names"),
    "parameters": Field("map", {}, schema=PARAMETER, help="scenario key -> values or range"),
}


@dataclass(frozen=True)
class Sweep:
    path: str
    design: str
    names: list[str]
    points: list[dict[str, Any]]
    scenario: str | None
    outputs: list[str] | None
    ranges: dict[str, tuple[float, float]]
    integer: dict[str, bool]


def load_sweep(path: str | Path, seed: int = 0, sensitivity: bool = False) -> Sweep:
    """Read and validate a sweep file and generate its points.

    With ``sensitivity`` the design is not used: every parameter needs a ``range`` and the only
    point is the middle of the ranges (to check the keys against the scenario)."""
    path = Path(path)
    if not path.is_file():
        raise ScenarioError(str(path), "", "no such sweep file")
    raw = read_toml(path)
    cfg = check_table(raw, SWEEP, str(path), "")
    if not cfg["parameters"]:
        raise ScenarioError(str(path), "parameters", "must name at least one scenario key to vary")
    for name, spec in cfg["parameters"].items():
        _check_parameter(str(path), name, spec, "sobol" if sensitivity else cfg["design"])
        if sensitivity and spec["range"] is None:
            raise ScenarioError(str(path), f"parameters.{name}.range", "is required for sensitivity analysis")
    names = list(cfg["parameters"])
    scenario = str(path.parent / cfg["scenario"]) if cfg["scenario"] else None
    ranges = {n: _bounds(s) for n, s in cfg["parameters"].items()}
    integer = {n: s["range"] is not None and _is_int_range(s) for n, s in cfg["parameters"].items()}
    if sensitivity:
        middle = {n: (round(sum(ranges[n]) / 2) if integer[n] else sum(ranges[n]) / 2) for n in names}
        return Sweep(str(path), "sensitivity", names, [middle], scenario, cfg["outputs"], ranges, integer)
    if cfg["design"] != "grid" and cfg["samples"] is None:
        raise ScenarioError(str(path), "samples", f"is required for design '{cfg['design']}'")
    if cfg["design"] == "sobol" and cfg["samples"] & (cfg["samples"] - 1):
        raise ScenarioError(str(path), "samples", f"must be a power of two for sobol (got {cfg['samples']})")
    count = point_count(cfg)
    if count > MAX_POINTS:
        raise ScenarioError(str(path), "parameters", f"the {cfg['design']} design has {count:,} points; "
                            f"at most {MAX_POINTS:,} (fewer values, steps or samples)")
    return Sweep(str(path), cfg["design"], names, _points(cfg, seed), scenario, cfg["outputs"], ranges,
                 integer)


def point_count(cfg: dict[str, Any]) -> int:
    """Points the design will generate, computed without generating them."""
    if cfg["design"] != "grid":
        return int(cfg["samples"])
    return math.prod(len(s["values"]) if s["values"] is not None else s["steps"]
                     for s in cfg["parameters"].values())


def _check_parameter(path: str, name: str, spec: dict[str, Any], design: str) -> None:
    key = f"parameters.{name}"
    if not name or not all(KEY_PIECE.match(piece) for piece in name.split(".")):
        raise ScenarioError(path, f"parameters.{name!r}", "must be a scenario key path such as "
                            "'handoff.delay_hours' or 'reforms.one_seal.staff' (names joined by dots)")
    if (spec["values"] is None) == (spec["range"] is None):
        raise ScenarioError(path, key, "give exactly one of 'values' (a list) or 'range' ([low, high])")
    if spec["values"] is not None and not spec["values"]:
        raise ScenarioError(path, f"{key}.values", "must name at least one value")
    if spec["range"] is not None:
        low_high = spec["range"]
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in low_high):
            raise ScenarioError(path, f"{key}.range", f"must be two numbers (got {low_high})")
        if not all(math.isfinite(v) for v in low_high):
            raise ScenarioError(path, f"{key}.range", f"must be finite numbers (got {low_high})")
        if len(low_high) != 2 or not low_high[0] < low_high[1]:
            raise ScenarioError(path, f"{key}.range", f"must be [low, high] with low < high (got {low_high})")
        if design == "grid" and spec["steps"] is None:
            raise ScenarioError(path, f"{key}.steps", "is required for a range in a grid design")


def _bounds(spec: dict[str, Any]) -> tuple[float, float]:
    if spec["range"] is not None:
        return float(spec["range"][0]), float(spec["range"][1])
    numbers = [v for v in spec["values"] if isinstance(v, int | float) and not isinstance(v, bool)]
    return (float(min(numbers)), float(max(numbers))) if numbers else (0.0, 1.0)


def _is_int_range(spec: dict[str, Any]) -> bool:
    return all(float(v).is_integer() for v in spec["range"]) and all(
        isinstance(v, int) for v in spec["range"])


def _from_unit(spec: dict[str, Any], u: np.ndarray) -> list[Any]:
    """Map unit-interval samples to parameter values."""
    if spec["values"] is not None:
        values = spec["values"]
        return [values[min(int(x * len(values)), len(values) - 1)] for x in u]
    low, high = spec["range"]
    if _is_int_range(spec):
        return [int(min(low + int(x * (high - low + 1)), high)) for x in u]
    return [float(low + x * (high - low)) for x in u]


def _points(cfg: dict[str, Any], seed: int) -> list[dict[str, Any]]:
    specs = cfg["parameters"]
    names = list(specs)
    if cfg["design"] == "grid":
        axes = []
        for spec in specs.values():
            if spec["values"] is not None:
                axes.append(spec["values"])
            else:
                grid = np.linspace(spec["range"][0], spec["range"][1], spec["steps"])
                axes.append([round(v) for v in grid] if _is_int_range(spec) else grid.tolist())
        return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*axes)]
    engine = (qmc.LatinHypercube(d=len(names), rng=np.random.default_rng(seed))
              if cfg["design"] == "lhs" else
              qmc.Sobol(d=len(names), scramble=True, rng=np.random.default_rng(seed)))
    unit = engine.random(cfg["samples"])
    columns = {name: _from_unit(spec, unit[:, j]) for j, (name, spec) in enumerate(specs.items())}
    return [{name: columns[name][i] for name in names} for i in range(cfg["samples"])]


def check_points(sweep_path: str, scenarios: list[str], points: list[dict[str, Any]]) -> None:
    """Every point, as a whole, must make a valid scenario of every file: a point's values can be
    valid one by one and not together (an opening hour after the closing hour), and a batch whose
    runs all fail is a worse answer than one line now. Each file is read once."""
    from sim.scenario.loading import build_scenario, read_raw
    from sim.scenario.overrides import apply_overrides, check_overrides_kept

    for scenario in scenarios:
        raw = read_raw(scenario)
        for index, point in enumerate(points):
            try:
                built = build_scenario(apply_overrides(raw, point, scenario), scenario)
                if index == 0:  # a parameter a reform overwrites is refused, not swept in vain
                    check_overrides_kept(raw, point, scenario, build_scenario, built)
            except ScenarioError as exc:
                values = ", ".join(f"{k} = {v!r}" for k, v in point.items())
                culprit = [k for k in point if exc.key == k or exc.key.startswith((f"{k}.", f"{k}["))]
                key = f"parameters.{culprit[0]}" if culprit else "parameters"
                raise ScenarioError(sweep_path, key, f"point {index} ({values}) does not fit "
                                    f"{scenario}: {exc.key}: {exc.message}") from None


def corner_points(sweep: Sweep, max_corners: int = 1024) -> list[dict[str, Any]]:
    """The middle and the corners of the parameter box (every low/high combination, up to
    ``max_corners``): a sensitivity study samples the whole box, so its extremes must be valid
    together, not only one by one."""
    names = sweep.names
    corners = [dict(zip(names, combo, strict=True)) for combo in itertools.islice(
        itertools.product(*[[_typed(sweep, n, sweep.ranges[n][0]), _typed(sweep, n, sweep.ranges[n][1])]
                            for n in names]), max_corners)]
    return [*sweep.points, *corners]


def _typed(sweep: Sweep, name: str, value: float) -> int | float:
    return int(value) if sweep.integer[name] else float(value)
