"""Mesa agents: the people and bodies of the city.

Agents keep their attributes in the model's columnar ``Population`` (one NumPy array per
attribute) and hold their row. Why: the model creates and reads hundreds of thousands of
agents in bulk (NumPy over whole agent sets), while each agent remains a real Mesa agent
that can be inspected, counted and extended with individual behaviour.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa

if TYPE_CHECKING:
    from sim.city.model import GovernanceModel


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
        """Place along the city, in [0, 1): decides which grid, community, township serve it."""
        return float(self.model.population.location[self.group][self.row])


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
