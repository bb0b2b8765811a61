"""Variance-based sensitivity (Sobol indices) of chosen KPIs to the parameters of a sweep file.

Uses ``scipy.stats.sobol_indices`` (Saltelli sampling with the Jansen/Saltelli estimators) and
its bootstrap for confidence intervals. Every model evaluation uses the same seed (common random
numbers), so the indices describe the parameters, not seed noise.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

import numpy as np
from scipy import stats

from sim.errors import ScenarioError


def sobol_analysis(func: Callable[[np.ndarray], np.ndarray], ranges: list[tuple[float, float]], n: int,
                   seed: int = 0, confidence_level: float = 0.95, n_resamples: int = 999
                   ) -> dict[str, np.ndarray]:
    """First-order and total Sobol indices of ``func`` with bootstrap confidence intervals.

    Args:
        func: maps parameters, shape (d, m), to outputs, shape (s, m).
        ranges: (low, high) of each uniform parameter.
        n: base sample size (a power of two); the model is evaluated n * (d + 2) times.
    """
    if len(ranges) == 1:  # scipy squeezes a single parameter's indices to scalars: add an inert one
        inner = func
        ranges = [*ranges, (0.0, 1.0)]

        def func(x: np.ndarray) -> np.ndarray:
            return inner(x[:1])

        full = sobol_analysis(func, ranges, n, seed, confidence_level, n_resamples)
        return {key: value[:, :1] for key, value in full.items()}
    dists = [stats.uniform(loc=low, scale=high - low) for low, high in ranges]
    result = stats.sobol_indices(func=func, n=n, dists=dists, rng=np.random.default_rng(seed))
    boot = result.bootstrap(confidence_level=confidence_level, n_resamples=n_resamples)
    return {
        "first_order": np.atleast_2d(result.first_order), "total_order": np.atleast_2d(result.total_order),
        "first_low": np.atleast_2d(boot.first_order.confidence_interval.low),
        "first_high": np.atleast_2d(boot.first_order.confidence_interval.high),
        "total_low": np.atleast_2d(boot.total_order.confidence_interval.low),
        "total_high": np.atleast_2d(boot.total_order.confidence_interval.high),
    }


def model_function(scenario: str, names: list[str], integer: list[bool], outputs: list[str], seed: int,
                   executor: Executor, days: int | None, scale: float | None,
                   progress: Callable[[int, int], None] | None = None) -> Callable[[np.ndarray], np.ndarray]:
    """Wrap the simulator as ``func`` for ``sobol_analysis``: runs the columns on ``executor``."""
    from sim.experiments.batch import RunSpec, execute_run
    from sim.outputs.kpis import flatten

    def func(x: np.ndarray) -> np.ndarray:
        specs = []
        for j in range(x.shape[1]):
            params = {name: (round(x[i, j]) if integer[i] else float(x[i, j]))
                      for i, name in enumerate(names)}
            specs.append(RunSpec(f"s{j}", scenario, "sensitivity", j, params, 0, seed, scale, days))
        futures = [executor.submit(execute_run, spec) for spec in specs]
        out = np.empty((len(outputs), len(specs)))
        for j, future in enumerate(futures):
            record = future.result()
            if record["status"] != "ok":
                raise ScenarioError(scenario, "", f"a sensitivity run failed: {record['error']}")
            flat = flatten(record["kpis"])
            for k, name in enumerate(outputs):
                if name not in flat:
                    raise ScenarioError(scenario, f"outputs[{k}]", f"unknown KPI '{name}'; e.g. "
                                        + ", ".join(list(flat)[:8]))
                out[k, j] = flat[name]
            if progress:
                progress(j + 1, len(specs))
        return out

    return func


def table_rows(result: dict[str, np.ndarray], names: list[str], outputs: list[str]) -> list[dict[str, Any]]:
    rows = []
    for k, output in enumerate(outputs):
        for i, name in enumerate(names):
            rows.append({"output": output, "parameter": name,
                         "first_order": float(result["first_order"][k, i]),
                         "first_low": float(result["first_low"][k, i]),
                         "first_high": float(result["first_high"][k, i]),
                         "total_order": float(result["total_order"][k, i]),
                         "total_low": float(result["total_low"][k, i]),
                         "total_high": float(result["total_high"][k, i])})
    return rows
