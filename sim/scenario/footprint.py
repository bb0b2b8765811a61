"""How much memory a run will need, estimated from the scenario before anything is allocated.

Why: a valid-looking scenario (a rate of 5,000 a year per resident, ten years, a full-scale
city) can ask for more requests than the machine can hold; it should be refused in one line
before the run starts, not die minutes later or take the machine down.

The coefficients are measured (``/usr/bin/time -f %M`` on ``run.py run scenarios/township.toml``):
about 620 MB for a year at scale 0.01 (430,000 requests), 1,170 MB for 1,000 days (1.18 million),
800 MB at full scale (576,000 agents): about 730 bytes a request and 300 an agent over a base of
about 330 MB. The estimate rounds each up.
"""

from __future__ import annotations

import os
from typing import Any

from sim.errors import ScenarioError

BASE_BYTES = 400e6  # interpreter, NumPy, Mesa, Numba and the compiled core
BYTES_PER_REQUEST = 1_000.0  # request and leg columns, engine log, KPI tables, the Parquet writer
BYTES_PER_AGENT = 400.0  # a Mesa agent and its row in the population columns
BYTES_PER_SERVER = 64.0  # the engine's per-server clocks (a list of floats per unit instance)
USABLE_SHARE = 0.8  # leave the rest to the system and other processes


def expected_requests(scenario: dict[str, Any]) -> float:
    """Requests the run will create on average: yearly rate x real origin size x years."""
    population = scenario["population"]
    grid_workers = sum(u["count"] * u["staff"] for u in scenario["units"].values() if u["level"] == "grid")
    size = {"resident": population["residents"], "firm": population["firms"],
            "grid_worker": grid_workers, "upper_division": population["upper_divisions"]}
    def basis(kind: dict[str, Any]) -> str:  # demand from places is per resident
        return "resident" if kind["rate_basis"] == "residents" else kind["origin"]

    per_year = sum(kind["rate_per_year"] * size[basis(kind)] for kind in scenario["requests"].values())
    return per_year * scenario["simulation"]["demand_factor"] * scenario["simulation"]["days"] / 365.0


def expected_agents(scenario: dict[str, Any]) -> float:
    population = scenario["population"]
    units = sum(u["count"] for u in scenario["units"].values())
    sampled = (population["residents"] + population["firms"]) * scenario["simulation"]["scale"]
    return sampled + units + population["upper_divisions"]


def staff_posts(scenario: dict[str, Any]) -> float:
    """Headcount over all unit instances (an upper bound on the engine's servers)."""
    return float(sum(u["count"] * u["staff"] for u in scenario["units"].values()))


def estimated_bytes(scenario: dict[str, Any]) -> float:
    return (BASE_BYTES + BYTES_PER_REQUEST * expected_requests(scenario)
            + BYTES_PER_AGENT * expected_agents(scenario) + BYTES_PER_SERVER * staff_posts(scenario))


def available_bytes() -> float:
    """Memory this process may still use: MemAvailable on Linux, else physical memory."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024.0
    except OSError:
        pass
    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return float("inf")


def check_footprint(scenario: dict[str, Any], path: str, available: float | None = None) -> None:
    """Refuse, in one line, a run that would not fit in memory."""
    need = estimated_bytes(scenario)
    have = (available_bytes() if available is None else available) * USABLE_SHARE
    if need > have:
        raise ScenarioError(path, "requests", (
            f"this run would need about {need / 1e9:.1f} GB ({expected_requests(scenario):,.0f} requests "
            f"over {scenario['simulation']['days']} days, {expected_agents(scenario):,.0f} agents) but "
            f"about {have / 1e9:.1f} GB is available; lower rates, days, population or scale"))
