"""The community blows the whistle (issue 13, item 6, second half; F14).

A matter the community passes up to a department summons that department: its visit there is a
priority visit, taken by one of the department's officers on call (``reserved_staff`` of its
servers, which take no other visits) with no paper hand-off (the summons reaches them at once on
the platform) and without a trip for the requester (the officer comes to the community). So a
summons is answered ahead of the department's queue; the deadline (``response_hours``) is
measured, not enforced. Which units are summoned follows from the routing chains: every unit
kind at ``summoned_level`` that directly follows a kind at ``from_level`` on some request's
chain. Assumed: one officer on call per summoned unit, a day's deadline (both in the scenario).
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import numpy as np

from sim.city.catalogue import RequestKind
from sim.city.structure import Structure
from sim.engine.legs import Legs
from sim.scenario.schema import LEVELS, SEGMENTS


class Whistle:
    """Which visits are summons, and the servers each unit keeps on call.

    Args:
        cfg: ``behaviour.whistle``.
        structure: the organisation.
        kinds: the catalogue (their chains say who is summoned).
    """

    def __init__(self, cfg: dict[str, Any], structure: Structure, kinds: list[RequestKind]) -> None:
        self.cfg = cfg
        self.structure = structure
        level = structure.unit_level
        self.from_level = LEVELS.index(cfg["from_level"])
        self.summoned_level = LEVELS.index(cfg["summoned_level"])
        summoned: set[int] = set()
        for kind in kinds:
            for function in kind.functions:
                for segment in kind.segments():
                    chain = structure.chain(function, SEGMENTS[segment], kind.authority)
                    for below, above in pairwise(chain):
                        if (structure.kinds[below].level == cfg["from_level"]
                                and structure.kinds[above].level == cfg["summoned_level"]):
                            summoned.add(above)
        self.summoned_kinds = sorted(summoned)
        self.reserved = np.zeros(structure.n_units, dtype=np.int64)
        for k in self.summoned_kinds:
            spec = structure.kinds[k]
            units = slice(spec.first, spec.first + spec.count)
            self.reserved[units] = np.minimum(cfg["reserved_staff"],
                                              np.maximum(structure.unit_servers[units] - 1, 0))
        self._level = level

    def mark(self, legs: Legs) -> None:
        """Make each visit from a whistle-blowing unit to a summoned one a summons (in place)."""
        if not len(legs) or not self.reserved.any():
            return
        level = self._level[legs.unit]
        after = np.zeros(len(legs), dtype=bool)
        same = legs.request[1:] == legs.request[:-1]
        after[1:] = same & (level[:-1] == self.from_level) & ~legs.bounce[:-1]
        summons = after & (level == self.summoned_level) & (self.reserved[legs.unit] > 0) & ~legs.bounce
        legs.priority = legs.priority | summons
        legs.handoff[summons] = 0.0
        legs.trip[summons] = False
