"""The request catalogue compiled from a scenario: one ``RequestKind`` per kind of matter."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.city.distributions import ServiceTime
from sim.scenario.schema import SEGMENTS


@dataclass(frozen=True)
class RequestKind:
    """What a kind of request is: who makes it, how often, how hard, who may decide it.

    ``functions`` are the steps in order; a kind with ``shares`` has one step whose function is
    drawn from ``functions`` with those weights.
    """

    index: int
    name: str
    category: str
    origin: str
    segment: str
    rate_per_year: float
    complexity: float
    service: ServiceTime
    visit_minutes: float
    in_person: bool
    dispatched: bool
    authority: tuple[str, ...]
    functions: tuple[str, ...]
    shares: np.ndarray | None
    lead_days: tuple[float, ...]
    review_minutes: tuple[float, ...] | None  # back-office review per step (None: at the counter)
    correction_share: float
    correction_days: float
    travel_minutes: float
    sla_hours: float | None
    sla_measure: str
    arrival_calendar: str
    high_frequency: bool
    rate_basis: str = "origin"  # "origin": per origin agent; "residents": per resident (a place's demand)

    @property
    def place_group(self) -> str:
        """Whose point is the request's place: the origin agent's, or, for demand from places
        (``rate_basis = "residents"``), a resident's (the incident happens where people live;
        the grid serving it finds and reports it)."""
        return "resident" if self.rate_basis == "residents" else self.origin

    @property
    def n_steps(self) -> int:
        return 1 if self.shares is not None else len(self.functions)

    def segments(self) -> tuple[int, ...]:
        """Segment codes (index in ``SEGMENTS``) this kind can come from."""
        if self.origin == "firm":
            names = ("small_firm", "above_scale_firm") if self.segment == "any" else (self.segment,)
        else:
            names = {"resident": ("resident",), "grid_worker": ("public",),
                     "upper_division": ("upper",)}[self.origin]
        return tuple(SEGMENTS.index(n) for n in names)


def compile_catalogue(scenario: dict[str, Any]) -> list[RequestKind]:
    """Turn the validated ``[requests]`` tables into ``RequestKind`` objects, in file order."""
    kinds = []
    for index, (name, cfg) in enumerate(scenario["requests"].items()):
        if cfg["function_shares"] is not None:
            functions = tuple(cfg["function_shares"])
            weights = np.array(list(cfg["function_shares"].values()), dtype=float)
            shares = weights / weights.sum()
        else:
            functions, shares = tuple(cfg["steps"]), None
        kinds.append(RequestKind(
            index=index, name=name, category=cfg["category"], origin=cfg["origin"],
            segment=cfg["segment"], rate_per_year=cfg["rate_per_year"],
            complexity=cfg["complexity"], service=ServiceTime(cfg["service_minutes"], cfg["service_cv"]),
            visit_minutes=cfg["visit_minutes"],
            in_person=cfg["in_person"], dispatched=cfg["dispatched"],
            authority=tuple(cfg["authority"]), functions=functions, shares=shares,
            lead_days=tuple(cfg["lead_days"]),
            review_minutes=None if cfg["review_minutes"] is None else tuple(cfg["review_minutes"]),
            correction_share=cfg["correction_share"], correction_days=cfg["correction_days"],
            travel_minutes=cfg["travel_minutes"], rate_basis=cfg["rate_basis"],
            sla_hours=cfg["sla_hours"], sla_measure=cfg["sla_measure"],
            arrival_calendar=cfg["arrival_calendar"], high_frequency=cfg["high_frequency"],
        ))
    return kinds
