"""Leaders move staff toward backlog (issue 13, item 6, first half).

Every ``every_days`` days, in each pool of units (the units of one big department, its modules,
or all instances of one unit kind, as the scenario names them), the leader compares each unit's
queue: the working minutes of visits its servers have taken on, per server. While the most
loaded unit exceeds the least loaded by more than ``min_gap_hours`` per server, one server of
the least loaded moves to the most loaded (the least busy one, who first finishes what they had
taken on), up to ``max_moves`` a round. A unit lends at most its kind's ``flexibility`` share of
its own staff (never its last server) and only flexible kinds borrow; rigid kinds (flexibility 0,
as department sections: one post, one job) neither lend nor borrow, while modules can (E3: "one
grid, many roles; one worker, many posts"). Staff in a pool are conserved.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sim.city.structure import Structure


class Redeployment:
    """The redeployment rule of one run.

    Args:
        cfg: ``behaviour.redeployment``.
        structure: the organisation (units, their kinds and servers).
    """

    def __init__(self, cfg: dict[str, Any], structure: Structure) -> None:
        self.cfg = cfg
        self.base = structure.unit_servers.astype(np.int64)
        flex = np.zeros(structure.n_units)
        self.pools: dict[str, np.ndarray] = {}
        for name, kinds in cfg["pools"].items():
            units = [np.arange(k.first, k.first + k.count) for k in structure.kinds if k.name in kinds]
            self.pools[name] = np.concatenate(units) if units else np.zeros(0, dtype=np.int64)
        for kind in structure.kinds:
            flex[kind.first: kind.first + kind.count] = cfg["flexibility"].get(kind.name, 0.0)
        self.flex = flex
        # a unit lends at most this many of its own servers (and keeps one)
        self.lendable = np.minimum(np.floor(flex * self.base), np.maximum(self.base - 1, 0)).astype(np.int64)
        self.moved: dict[str, int] = {name: 0 for name in self.pools}

        self.spare = np.zeros(len(self.base), dtype=np.int64)
        for units in self.pools.values():
            self.spare[units] = np.where(self.flex[units] > 0, self.lendable[units].sum(), 0)

    def spare_servers(self) -> list[int]:
        """Per unit, the slots borrowed staff may take: its pool's lendable staff (0 if rigid)."""
        return self.spare.tolist()

    def round(self, engine: Any, t: float) -> int:
        """One round at calendar minute ``t``: move staff toward backlog; returns staff moved."""
        servers = engine.servers()
        committed = engine.committed_minutes(t)
        gap = self.cfg["min_gap_hours"] * 60.0
        moved = 0
        for name, units in self.pools.items():
            active = units[self.flex[units] > 0]
            if len(active) < 2:
                continue
            for _ in range(self.cfg["max_moves"]):
                load = committed[active] / np.maximum(servers[active], 1)
                can_lend = servers[active] > self.base[active] - self.lendable[active]
                can_take = servers[active] < self.base[active] + self.spare[active]
                if not can_lend.any() or not can_take.any():
                    break
                lender = active[np.flatnonzero(can_lend)[np.argmin(load[can_lend])]]
                taker = active[np.flatnonzero(can_take)[np.argmax(load[can_take])]]
                if lender == taker or (committed[taker] / servers[taker]
                                       - committed[lender] / servers[lender]) <= gap:
                    break
                engine.move_server(t, int(lender), int(taker))
                servers = engine.servers()
                committed = engine.committed_minutes(t)
                moved += 1
                self.moved[name] += 1
        return moved
