"""``calibrate``: fit named parameters to named targets, and record what was fitted to what.

A calibration file says which scenario keys may move (``[parameters.KEY] range``), which KPIs
they should reproduce (``[targets.KPI] value``, with the fact it comes from), and how many
replications each trial runs. Every trial runs the same seeds (common random numbers), so the
loss, the sum of squared relative misses, is a deterministic function of the parameters
(smooth where the KPIs are; a count of discrete events steps): one parameter is fitted by
bounded Brent search, several by a Latin-hypercube scout then Nelder-Mead on the unit cube
(``scipy.optimize``). The result is written as a scenario overlay a preset loads with
``calibration = "FILE"``; its header names the targets, the facts, the loss and the command,
so ``validate`` can call those facts *calibrated* and nothing else.

```toml
scenario = "../township.toml"   # relative to this file
reps = 3
scale = 0.01
days = 180
output = "township-channels.toml"
[parameters."behaviour.channels.online_constant"]
range = [-30.0, 0.0]
[targets."behaviour.online_share"]
value = 0.276
fact = "B4"
```
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import optimize
from scipy.stats import qmc

from sim.errors import ScenarioError
from sim.scenario.loading import read_toml
from sim.scenario.schema import Field, check_table

PARAMETER = {"range": Field("list[number]", None, help="[low, high]"),
             "start": Field("number", None, help="first trial (default: the middle of the range)")}
TARGET = {"value": Field("number", None, help="the figure to reproduce"),
          "fact": Field("str", "", help="fact id in docs/facts.md"),
          "weight": Field("number", 1.0, minimum=0, help="weight in the loss")}
CONFIG = {
    "scenario": Field("str", None, help="scenario file to calibrate, relative to this file"),
    "reps": Field("int", 3, minimum=1, maximum=1_000, help="replications per trial (common seeds)"),
    "seed": Field("int", 1, minimum=0, help="seed of the first replication"),
    "scale": Field("number", 0.01, minimum=0, maximum=1, exclusive_minimum=True, help="agent share"),
    "days": Field("int", None, minimum=1, maximum=3_650, help="days per run (default: the scenario's)"),
    "max_trials": Field("int", 40, minimum=2, maximum=10_000, help="most trials of the optimiser"),
    "tolerance": Field("number", 1e-3, minimum=0, help="stop when parameters move less (share of range)"),
    "output": Field("str", None, help="calibration file to write, relative to this file"),
    "parameters": Field("map", {}, schema=PARAMETER, help="scenario key -> range"),
    "targets": Field("map", {}, schema=TARGET, help="flattened KPI name -> value"),
}


@dataclass(frozen=True)
class Calibration:
    path: Path
    scenario: Path
    output: Path
    names: list[str]
    bounds: list[tuple[float, float]]
    starts: list[float]
    targets: dict[str, dict[str, Any]]
    reps: int
    seed: int
    scale: float
    days: int | None
    max_trials: int
    tolerance: float


def load_calibration(path: str | Path) -> Calibration:
    path = Path(path)
    if not path.is_file():
        raise ScenarioError(str(path), "", "no such calibration file")
    cfg = check_table(read_toml(path), CONFIG, str(path), "")
    for key in ("scenario", "output"):
        if cfg[key] is None:
            raise ScenarioError(str(path), key, "is required")
    if not cfg["parameters"] or not cfg["targets"]:
        raise ScenarioError(str(path), "parameters" if not cfg["parameters"] else "targets",
                            "must name at least one")
    bounds, starts = [], []
    for name, spec in cfg["parameters"].items():
        r = spec["range"]
        if r is None or len(r) != 2 or not all(map(math.isfinite, r)) or not r[0] < r[1]:
            raise ScenarioError(str(path), f"parameters.{name}.range",
                                "must be [low, high], finite, low < high")
        start = spec["start"] if spec["start"] is not None else (r[0] + r[1]) / 2
        if not r[0] <= start <= r[1]:
            raise ScenarioError(str(path), f"parameters.{name}.start", f"must lie in {r}")
        bounds.append((float(r[0]), float(r[1])))
        starts.append(float(start))
    for name, spec in cfg["targets"].items():
        if spec["value"] is None or not math.isfinite(spec["value"]):
            raise ScenarioError(str(path), f"targets.{name}.value", "is required (a finite number)")
    scenario = path.parent / cfg["scenario"]
    if not scenario.is_file():
        raise ScenarioError(str(path), "scenario", f"no such file {scenario}")
    return Calibration(path, scenario, path.parent / cfg["output"], list(cfg["parameters"]), bounds, starts,
                       cfg["targets"], cfg["reps"], cfg["seed"], cfg["scale"], cfg["days"], cfg["max_trials"],
                       cfg["tolerance"])


def loss_function(cal: Calibration, executor: Any, log: Callable[[str], None] | None = None
                  ) -> Callable[[list[float]], tuple[float, dict[str, float]]]:
    """Trial parameters -> (loss, replication-mean KPIs). Each trial runs ``reps`` replications
    on the seeds seed, seed + 1, ... (the same at every trial)."""
    from sim.experiments.batch import RunSpec, execute_run
    from sim.outputs.kpis import flatten

    def trial(values: list[float]) -> tuple[float, dict[str, float]]:
        params = dict(zip(cal.names, (float(v) for v in values), strict=True))
        specs = [RunSpec(f"trial__r{r:03d}", str(cal.scenario), "calibration", 0, params, r, cal.seed + r,
                         cal.scale, cal.days) for r in range(cal.reps)]
        records = list(executor.map(execute_run, specs))
        failed = [r for r in records if r["status"] != "ok"]
        if failed:
            raise ScenarioError(str(cal.path), "parameters", f"a trial run failed: {failed[0]['error']}")
        flats = [flatten(r["kpis"]) for r in records]
        means = {}
        for name in cal.targets:
            if name not in flats[0]:
                raise ScenarioError(str(cal.path), f"targets.{name}", "unknown KPI; e.g. "
                                    + ", ".join(k for k in list(flats[0])[:8]))
            means[name] = float(np.mean([f[name] for f in flats]))
        loss = sum(spec["weight"] * ((means[name] - spec["value"]) / (abs(spec["value"]) or 1.0)) ** 2
                   for name, spec in cal.targets.items())
        if log:
            shown = ", ".join(f"{n}={v:.4g}" for n, v in params.items())
            log(f"trial {shown}: loss {loss:.4g}")
        return float(loss), means

    return trial


def fit(cal: Calibration, executor: Any, log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Minimise the loss; return the fitted values, the KPIs there, the loss and the trials."""
    trial = loss_function(cal, executor, log)
    seen: list[tuple[list[float], float, dict[str, float]]] = []

    def loss(values: list[float]) -> float:
        value, means = trial(values)
        seen.append((list(map(float, values)), value, means))
        return value
    if len(cal.names) == 1:
        (low, high), = cal.bounds
        optimize.minimize_scalar(lambda v: loss([v]), bounds=(low, high), method="bounded",
                                 options={"maxiter": cal.max_trials, "xatol": cal.tolerance * (high - low)})
    else:
        # a KPI counting discrete events is a step function of a share even on common seeds, so a
        # local search from one point stalls on a plateau: first a Latin hypercube of 4 d points
        # (and the start), then Nelder-Mead from the best with a simplex a sixth of the cube wide
        d = len(cal.names)
        lows, highs = np.array([b[0] for b in cal.bounds]), np.array([b[1] for b in cal.bounds])

        def unit_loss(u: np.ndarray) -> float:
            return loss(list(lows + np.clip(u, 0, 1) * (highs - lows)))
        start = (np.array(cal.starts) - lows) / (highs - lows)
        scouts = [start, *qmc.LatinHypercube(d=d, rng=np.random.default_rng(cal.seed)).random(4 * d)]
        scores = [unit_loss(u) for u in scouts]
        best = scouts[int(np.argmin(scores))]
        simplex = [best] + [np.clip(best + np.eye(d)[i] * (1 / 6 if best[i] < 0.5 else -1 / 6), 0, 1)
                            for i in range(d)]
        optimize.minimize(unit_loss, best, method="Nelder-Mead", bounds=[(0.0, 1.0)] * d,
                          options={"maxfev": max(cal.max_trials - len(scouts), d + 1),
                                   "xatol": cal.tolerance, "fatol": 1e-8,
                                   "initial_simplex": np.array(simplex)})
    best = min(seen, key=lambda s: s[1])
    return {"values": dict(zip(cal.names, best[0], strict=True)), "loss": best[1], "kpis": best[2],
            "trials": len(seen)}


def write_calibration(cal: Calibration, result: dict[str, Any]) -> Path:
    """The overlay a scenario loads with ``calibration = "FILE"``: the fitted values as dotted
    keys, and a header saying what they were fitted to."""
    from sim.outputs.files import atomic_write_bytes

    lines = ["# Written by run.py calibrate; do not edit by hand (re-run it).",
             f"# command: {' '.join(Path(a).name if i == 0 else a for i, a in enumerate(sys.argv))}",
             f"# scenario: {cal.scenario.name}; {cal.reps} replications on seeds {cal.seed}.."
             f"{cal.seed + cal.reps - 1} (common to every trial), scale {cal.scale}, "
             f"days {cal.days or 'as the scenario'}; {result['trials']} trials; loss {result['loss']:.3g}",
             "# targets (these facts are calibrated, not predicted):"]
    for name, spec in cal.targets.items():
        lines.append(f"#   {name} = {spec['value']:.6g} ({spec['fact'] or 'no fact id'}): "
                     f"fitted {result['kpis'][name]:.6g}")
    lines += ["", "[values]"]
    for name, value in result["values"].items():
        lines.append(f'"{name}" = {value!r}  # calibrated: see the header')
    lines += ["", "[fitted_to]"]
    for name, spec in cal.targets.items():
        lines.append(f'"{name}" = {{ value = {spec["value"]!r}, fact = "{spec["fact"]}", '
                     f'fitted = {result["kpis"][name]!r} }}')
    atomic_write_bytes(cal.output, ("\n".join(lines) + "\n").encode())
    return cal.output
