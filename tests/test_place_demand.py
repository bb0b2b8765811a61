"""Demand from places (issue 13, item 5): grid workers' reports arise where people live, so the
number of grid workers no longer changes how many incidents there are."""

from __future__ import annotations

import numpy as np
import pytest

from sim.city.model import GovernanceModel
from sim.scenario.loading import load_scenario
from tests.conftest import SCENARIOS


def _created(grids: int, basis: str) -> dict[str, int]:
    overrides = {"units.grid.count": grids, "simulation.scale": 0.002,
                 "requests.incident.rate_basis": basis, "requests.patrol_case.rate_basis": basis}
    if basis == "origin":  # the per-worker rates the presets had
        overrides.update({"requests.incident.rate_per_year": 365.0,
                          "requests.patrol_case.rate_per_year": 25.0})
    model = GovernanceModel(load_scenario(SCENARIOS / "township.toml", overrides), seed=4)
    model.run(40)
    kinds = model.requests().kind
    return {k.name: int((kinds == k.index).sum()) for k in model.kinds if k.origin == "grid_worker"}


def test_incidents_do_not_depend_on_the_number_of_grid_workers() -> None:
    """From places: the same incidents (same seed, same expected volume) with 484 or 540 grids;
    per worker (the old rule): 540 workers report about 540 / 484 as many."""
    assert _created(484, "residents") == _created(540, "residents")
    few, many = _created(484, "origin"), _created(540, "origin")
    for name in few:
        assert many[name] / few[name] == pytest.approx(540 / 484, rel=0.05)


def test_a_place_request_goes_to_the_grid_holding_the_place() -> None:
    config = load_scenario(SCENARIOS / "longgang-2021.toml", {"simulation.scale": 0.002})
    model = GovernanceModel(config, seed=2)
    model.run(3)
    new, legs = model.requests(), model.legs()
    incident = next(k for k in model.kinds if k.name == "incident")
    assert incident.place_group == "resident"
    rows = np.flatnonzero(new.kind == incident.index)
    first = np.searchsorted(legs.request, rows)  # each request's first leg
    grid = next(i for i, k in enumerate(model.structure.kinds) if k.level == "grid")
    leaf = model.population.location["resident"][new.origin_agent[rows]]
    assert np.array_equal(new.location[rows], leaf)  # the place is a resident's
    expected = model.structure.unit_of_leaf[grid, leaf]  # the grid serving that place
    real = ~legs.bounce[first]
    assert np.array_equal(legs.unit[first][real], expected[real])
