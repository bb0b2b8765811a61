"""Mesa agents: the people and bodies of the city.

Agents keep their attributes in the model's columnar ``Population`` (one NumPy array per
attribute) and hold their row. Why: the model creates and reads hundreds of thousands of
agents in bulk (NumPy over whole agent sets), while each agent remains a real Mesa agent
that can be inspected, counted and extended with individual behaviour.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

import mesa

if TYPE_CHECKING:
    from sim.city.model import GovernanceModel


def register_in_bulk(cls: type[mesa.Agent], model: mesa.Model, n: int, index: str) -> list:
    """``n`` agents of ``cls`` with attribute ``index`` = 0..n-1, registered with the model at once.

    Each ends exactly as ``Agent.__init__`` leaves one (``model``, consecutive ``unique_id``,
    ``pos`` None, in ``model.agents`` and ``model.agents_by_type`` in creation order), but the
    registry is extended once per class instead of once per agent, and no per-agent
    agent-added signal is sent (nothing in this model observes it). Why: registering 576,000
    agents one by one took about 3 s of a 10 s full-city year, and Mesa's ``create_agents``
    imports pandas (0.4 s) to check its arguments. Mesa is pinned to 3.5, whose registry this
    relies on; ``tests/test_agents.py`` checks it against ``create_agents``."""
    if n == 0:
        return []
    first = model.agent_id_counter
    agents = list(map(cls.__new__, itertools.repeat(cls, n)))
    for i, agent in enumerate(agents):  # (a new dict each: a quarter faster than updating the empty one)
        agent.__dict__ = {"model": model, "unique_id": first + i, "pos": None, index: i}
    model.agent_id_counter = first + n
    model._all_agents._agents.update(dict.fromkeys(agents))
    by_type = model._agents_by_type
    if cls in by_type:
        by_type[cls]._agents.update(dict.fromkeys(agents))
    else:
        by_type[cls] = type(model._all_agents)(agents, random=model.random)
    return agents


class PopulationAgent(mesa.Agent):
    """An agent whose attributes live in ``model.population.<group>`` columns at ``row``.

    Args:
        model: the model.
        row: its row in the group's columns.
    """

    group = ""

    def __init__(self, model: GovernanceModel, row: int) -> None:
        super().__init__(model)
        self.row = row

    @property
    def location(self) -> float:
        """Its place: on the map the leaf area holding it, on the line a point of [0, 1); decides
        which grid, community, township serve it."""
        return float(self.model.population.location[self.group][self.row])

    @property
    def point(self) -> tuple[float, float] | None:
        """On the map: where it lives (km east, km north); None on the line."""
        xy = self.model.population.xy
        if xy is None:
            return None
        return float(xy[self.group][self.row, 0]), float(xy[self.group][self.row, 1])

    @classmethod
    def create_in_bulk(cls, model: GovernanceModel, n: int) -> list[PopulationAgent]:
        """``n`` agents with rows 0..n-1, registered with the model in one pass (``register_in_bulk``)."""
        return register_in_bulk(cls, model, n, "row")


class Resident(PopulationAgent):
    """A resident: creates personal matters, disputes and complaints."""

    group = "resident"


class Firm(PopulationAgent):
    """A market entity: creates registrations, licences and investment projects."""

    group = "firm"

    @property
    def above_scale(self) -> bool:
        return bool(self.model.population.above_scale[self.row])


class GridWorker(PopulationAgent):
    """A grid worker: patrols a grid and reports incidents and enforcement cases."""

    group = "grid_worker"


class UpperDivision(PopulationAgent):
    """A division of the upper (prefecture/provincial) government that sends tasks down."""

    group = "upper_division"


class GovernmentUnit(mesa.Agent):
    """One unit instance (a grid, a community centre, a section, a module, a bureau...).

    Args:
        model: the model.
        unit: its index in the structure's unit arrays.
    """

    def __init__(self, model: GovernanceModel, unit: int) -> None:
        super().__init__(model)
        self.unit = unit

    @classmethod
    def create_in_bulk(cls, model: GovernanceModel, n: int) -> list[GovernmentUnit]:
        """``n`` units 0..n-1, registered with the model in one pass (``register_in_bulk``)."""
        return register_in_bulk(cls, model, n, "unit")

    @property
    def name(self) -> str:
        return self.model.structure.unit_names[self.unit]

    @property
    def level(self) -> str:
        return self.model.structure.kinds[self.model.structure.unit_kind[self.unit]].level

    @property
    def staff(self) -> int:
        return int(self.model.structure.unit_staff[self.unit])

    @property
    def servers(self) -> int:
        """Staff on duty at once (see ``Structure.kind_servers``)."""
        return int(self.model.structure.unit_servers[self.unit])
