"""The plan the queueing core times: every visit ("leg") a request will make, in order.

It lives with the engine, not with the planner that fills it, because it is the engine's input
format: the city model writes legs, the engine reads them, and the engine must not depend on
the city model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Legs:
    """Legs of a batch of requests, request by request, in visiting order."""

    request: np.ndarray  # batch-local request index
    unit: np.ndarray
    service: np.ndarray  # staff minutes
    lead_days: np.ndarray  # working days of waiting after service, no staff time (statutory waits,
    # in-tray waits, the requester correcting a returned file)
    handoff: np.ndarray  # calendar minutes between the previous leg (or creation) and arrival
    trip: np.ndarray  # requester travels for this leg
    bounce: np.ndarray  # a misrouted visit, sent back
    role: np.ndarray | None = None  # int8: 0 a visit to a window, 1 a desk's review, 2 a
    # corrected file handed in again (``sim.city.approvals``); the engine times all alike
    travel: np.ndarray | None = None  # minutes of ``service`` a field team spends reaching the
    # place (one way), so on-scene time can be told from service; zeros when none
    priority: np.ndarray | None = None  # a summoned visit (the community's whistle): it may take a
    # unit's servers on call (``reserved_servers``), which other visits never take

    def __post_init__(self) -> None:
        if self.role is None:
            self.role = np.zeros(len(self.unit), dtype=np.int8)
        if self.travel is None:
            self.travel = np.zeros(len(self.unit))
        if self.priority is None:
            self.priority = np.zeros(len(self.unit), dtype=bool)

    def __len__(self) -> int:
        return len(self.unit)

    @classmethod
    def empty(cls) -> Legs:
        """No legs (a day without requests)."""
        no_int = np.zeros(0, dtype=np.int64)
        no_float = np.zeros(0)
        no_bool = np.zeros(0, dtype=bool)
        return cls(no_int, no_int, no_float, no_float, no_float, no_bool, no_bool)
