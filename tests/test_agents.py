"""Agents created in bulk are registered exactly as Mesa's own ``create_agents`` registers them."""

from __future__ import annotations

import mesa
import numpy as np
import shapely

from sim.city.agents import Firm, GovernmentUnit, Resident
from sim.city.model import GovernanceModel
from sim.scenario.loading import load_scenario
from tests.conftest import SCENARIOS


def _registry(model: mesa.Model) -> list[tuple[str, int, int, object]]:
    return [(type(a).__name__, a.unique_id, getattr(a, "row", getattr(a, "unit", None)), a.pos)
            for a in model.agents]


def test_bulk_creation_registers_like_create_agents() -> None:
    bulk, plain = mesa.Model(rng=1), mesa.Model(rng=1)
    for cls, n in ((Resident, 5), (Firm, 3), (GovernmentUnit, 4), (Resident, 2)):
        made = cls.create_in_bulk(bulk, n)
        assert [getattr(a, "row", getattr(a, "unit", None)) for a in made] == list(range(n))
        cls.create_agents(plain, n, np.arange(n))
    assert _registry(bulk) == _registry(plain)
    assert bulk.agent_id_counter == plain.agent_id_counter
    for cls in (Resident, Firm):
        ids = [a.unique_id for a in bulk.agents_by_type[cls]]
        assert ids == [a.unique_id for a in plain.agents_by_type[cls]]
    assert all(a.model is bulk for a in bulk.agents)
    # the sets behave as Mesa's: selection, shuffling and removal work on bulk-made agents
    assert len(bulk.agents.select(lambda a: getattr(a, "row", None) == 0)) == 3
    victim = bulk.agents_by_type[Firm][0]
    victim.remove()
    assert victim not in bulk.agents and len(bulk.agents_by_type[Firm]) == 2


def test_model_agents_are_the_population() -> None:
    config = load_scenario(SCENARIOS / "longgang-2021.toml", {"simulation.scale": 0.002})
    model = GovernanceModel(config)
    residents = model.agents_by_type[Resident]
    assert len(residents) == len(model.population.location["resident"])
    agent = residents[7]
    assert agent.location == model.population.location["resident"][7]
    x, y = agent.point
    assert model.structure.city_map.leaf.polygons[int(agent.location)].distance(shapely.Point(x, y)) < 1e-9


def test_the_models_growing_log_equals_concatenating_its_batches() -> None:
    """``GrowingColumns`` holds what concatenating the batches would (dtypes promoted as
    ``np.concatenate`` does, room reserved midway), and hands out read-only views."""
    import numpy as np
    import pytest

    from sim.city.columns import GrowingColumns

    rng = np.random.default_rng(2)
    store = GrowingColumns(("a", "b"), room=3)
    batches = []
    for i in range(40):
        n = int(rng.integers(0, 9))
        a = rng.integers(0, 100, n).astype(np.int32 if i < 20 else np.int64)
        b = rng.random(n).astype(np.float32 if i % 2 else np.float64)
        batches.append((a, b))
        store.append(a, b)
        if i == 10:
            store.reserve(500)
    for name, j in (("a", 0), ("b", 1)):
        expected = np.concatenate([batch[j] for batch in batches])
        got = store.column(name)
        assert got.dtype == expected.dtype and np.array_equal(got, expected)
        with pytest.raises(ValueError):
            got[:1] = 0
