"""Deferred imports (``sim.lazy_imports``): a run never loads what it does not use, and code
that does use a deferred library gets the real module, whichever way it imports it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _probe(code: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         check=True, timeout=600)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_run_leaves_pandas_and_networkx_unloaded() -> None:
    state = _probe(
        "import json, sys, tempfile, importlib.util\n"
        "from sim.experiments.api import run_scenario, write_run\n"
        "r = run_scenario('scenarios/longgang-2021.toml', scale=0.002, days=5)\n"
        "write_run(r, tempfile.mkdtemp())\n"
        "print(json.dumps({m: m in sys.modules and not isinstance(sys.modules[m], importlib.util._LazyModule)"
        " for m in ('pandas', 'networkx', 'mesa.discrete_space', 'scipy.spatial', 'scipy.linalg',"
        " 'pyarrow.compute')}))")
    assert state == {"pandas": False, "networkx": False, "mesa.discrete_space": False, "scipy.spatial": False,
                     "scipy.linalg": False, "pyarrow.compute": False}


def test_scipy_linalg_works_after_the_kernels_loaded_without_asking_for_it() -> None:
    """``sim.engine.jit`` answers Numba's BLAS probe "no" while the kernels load; later users of
    ``scipy.linalg`` (the staffing optimiser's solvers) import it as usual and it works."""
    state = _probe(
        "import json, sys\n"
        "from sim.engine.compiled import warm_up\n"
        "warm_up()\n"
        "before = 'scipy.linalg' in sys.modules\n"
        "import numpy as np, scipy.linalg\n"
        "from scipy.optimize import linprog\n"
        "x = scipy.linalg.solve(np.array([[2.0, 0.0], [0.0, 4.0]]), np.array([2.0, 2.0]))\n"
        "lp = linprog([1.0], bounds=[(3.0, None)])\n"
        "print(json.dumps({'before': before, 'x': x.tolist(), 'lp': float(lp.x[0])}))")
    assert state == {"before": False, "x": [1.0, 0.5], "lp": 3.0}


def test_deferred_libraries_work_however_they_are_imported() -> None:
    """A plain import, a submodule imported first (which once met the package half made), and
    Mesa's grids, all after Mesa deferred them."""
    state = _probe(
        "import json, sim, mesa\n"
        "import pandas.api.types as types\n"
        "import pandas as pd\n"
        "from mesa.discrete_space import OrthogonalMooreGrid\n"
        "import networkx as nx\n"
        "grid = OrthogonalMooreGrid((3, 3), random=None)\n"
        "print(json.dumps({'frame': int(pd.DataFrame({'a': [1, 2]})['a'].sum()),"
        " 'numeric': bool(types.is_numeric_dtype(pd.Series([1.0]))), 'cells': len(grid.all_cells),"
        " 'graph': nx.path_graph(4).number_of_edges()}))")
    assert state == {"frame": 3, "numeric": True, "cells": 9, "graph": 3}


def test_eager_switch_imports_as_before() -> None:
    state = _probe(
        "import os; os.environ['SIM_EAGER_IMPORTS'] = '1'\n"
        "import json, sys, importlib.util, sim, mesa\n"
        "print(json.dumps({'lazy': isinstance(sys.modules['pandas'], importlib.util._LazyModule)}))")
    assert state == {"lazy": False}


def test_label_strings_are_the_decoded_dictionary() -> None:
    """The request log's plain-text column, built without Arrow's compute module, equals
    decoding the dictionary column (empty, non-ASCII and empty-string labels included)."""
    import numpy as np

    from sim.outputs.files import _label_strings, _labels

    names = ["resident", "firm", "", "grid_worker", "街道-ü"]
    for n in (0, 1, 5_000):
        codes = np.random.default_rng(n).integers(0, len(names), n)
        assert _label_strings(codes, names).equals(_labels(codes, names).dictionary_decode())
