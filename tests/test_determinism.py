"""One seed, one result: identical request tables for the same seed, different for another."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sim.experiments.api import run_scenario
from sim.outputs.files import request_table


def _table(path: Path, seed: int):
    result = run_scenario(path, seed=seed)
    model = result.model
    return request_table(result.tables, [k.name for k in model.kinds], model.structure.unit_names)


def test_same_seed_same_request_table(tiny_path: Path) -> None:
    first, second = _table(tiny_path, 7), _table(tiny_path, 7)
    assert first.num_rows > 100
    assert first.equals(second)


def test_different_seed_different_request_table(tiny_path: Path) -> None:
    first, other = _table(tiny_path, 7), _table(tiny_path, 8)
    assert not first.equals(other)


def test_run_does_not_touch_global_random_state(tiny_path: Path) -> None:
    import random

    np.random.seed(0)
    random.seed(0)
    before = (np.random.random(), random.random())
    np.random.seed(0)
    random.seed(0)
    run_scenario(tiny_path, seed=1)
    after = (np.random.random(), random.random())
    assert before == after
