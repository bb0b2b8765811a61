"""City-governance simulator: residents, firms, grid workers and government units as Mesa agents.

The public API, importable from here (everything else may move between versions):

- ``sim.load_scenario(path, overrides=None) -> dict``: read a scenario file (``extends``,
  defaults, validation, reforms) into the validated dict the model is built from;
- ``sim.GovernanceModel(config)``: the Mesa model of one county for one seed;
- ``sim.run_scenario(scenario, seed=..., scale=..., days=..., overrides=...) -> RunResult``:
  simulate and compute KPIs (the model, its request tables, KPIs and run metadata);
- ``sim.evaluate(scenario, seed=..., **overrides) -> dict[str, float]``: the model as a function
  of named parameters returning named scalar outcomes (EMA Workbench, SALib).

The package is layered, lowest first (a module imports only from its own layer or lower ones;
``tests/test_layers.py`` enforces it): ``errors``/``version`` -> ``engine`` (working calendars
and the queueing core) -> ``scenario`` (schema, loading, reforms) -> ``city`` (the Mesa model)
-> ``outputs`` (KPIs, result files) -> ``experiments`` (runs, batches, sweeps, sensitivity,
attribution, validation) -> ``report`` (figures, HTML, tables) -> ``cli``.

The names are loaded on first use, so ``import sim`` stays cheap (the command line answers
``--help`` and bad input without importing Mesa, NumPy or Numba), and libraries Mesa imports
but a run never uses are deferred until used (``sim.lazy_imports``).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from sim.lazy_imports import defer_heavy_imports

defer_heavy_imports()  # before anything imports Mesa (see sim.lazy_imports)

if TYPE_CHECKING:
    from sim.city.model import GovernanceModel
    from sim.experiments.api import RunResult, evaluate, run_scenario
    from sim.scenario.loading import load_scenario

_PUBLIC = {
    "load_scenario": "sim.scenario.loading",
    "GovernanceModel": "sim.city.model",
    "run_scenario": "sim.experiments.api",
    "RunResult": "sim.experiments.api",
    "evaluate": "sim.experiments.api",
}

__all__ = ["GovernanceModel", "RunResult", "__version__", "evaluate", "load_scenario", "run_scenario"]


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from sim.version import package_version

        return package_version()
    if name in _PUBLIC:
        return getattr(import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'sim' has no attribute {name!r}")
