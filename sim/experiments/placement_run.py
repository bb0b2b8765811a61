"""``run.py place``: choose a unit kind's sites on the scenario's map, and write them.

Demand points are the map's leaf areas (grids) weighted by residents (firms for a unit whose
work comes from firms); candidate sites are the centres of the areas of one level (communities
by default). The answer is compared with where the kind's offices stand now, and written as
sites, catchments and a scenario file that extends the original with an ``offices`` reform.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sim.city.geo import CityMap, city_map_for
from sim.errors import ScenarioError
from sim.experiments.placement import Placement, max_cover, p_median
from sim.outputs.files import atomic_write_bytes


@dataclass
class PlaceResult:
    unit: str
    objective: str
    mode: str
    candidates: str
    city: CityMap
    placement: Placement
    site_xy: np.ndarray
    demand_weight: np.ndarray
    minutes_now: np.ndarray  # per demand point, to today's nearest office
    minutes_new: np.ndarray

    def summary(self) -> dict[str, Any]:
        w = self.demand_weight / self.demand_weight.sum()
        circle = self.city.circle_minutes
        return {"unit": self.unit, "objective": self.objective, "mode": self.mode,
                "candidates": self.candidates, "count": len(self.site_xy),
                "mean_minutes_now": float(w @ self.minutes_now),
                "mean_minutes_new": float(w @ self.minutes_new),
                "share_within_circle_now": float(w @ (self.minutes_now <= circle)),
                "share_within_circle_new": float(w @ (self.minutes_new <= circle)),
                "circle_minutes": circle}


def place(config: dict[str, Any], unit: str, count: int, objective: str = "time",
          candidates: str = "community", radius: float | None = None) -> PlaceResult:
    """Sites for ``count`` offices (or stations) of ``unit``; see the module docstring."""
    if unit not in config["units"]:
        raise ScenarioError("command line", "--unit", f"unknown unit kind {unit!r}; allowed: "
                            + ", ".join(config["units"]))
    city = city_map_for(config)
    if candidates not in city.layers:
        raise ScenarioError("command line", "--candidates", f"unknown level {candidates!r}; allowed: "
                            + ", ".join(n for n in city.order if n != "city"))
    cand = city.layers[candidates].centre
    if not 1 <= count <= len(cand):
        raise ScenarioError("command line", "--count", f"must be from 1 to the {len(cand)} candidate "
                            f"sites at level {candidates} (got {count})")
    leaf = city.leaf
    mode = "team" if _field_unit(config, unit) else "resident"
    weight = leaf.firms if _firm_unit(config, unit) else leaf.residents
    weight = np.maximum(weight, 1e-9)
    km = np.hypot(leaf.centre[:, None, 0] - cand[None, :, 0], leaf.centre[:, None, 1] - cand[None, :, 1])
    cost = city.travel.minutes(km, mode)
    if objective == "time":
        placement = p_median(weight, cost, count)
    else:
        placement = max_cover(weight, cost, count, radius or city.circle_minutes)
    sites = cand[placement.sites]
    now = city.offices[unit]
    km_now = np.hypot(*(leaf.centre[:, None, :] - now[None, :, :]).transpose(2, 0, 1)).min(axis=1)
    minutes_now = city.travel.minutes(km_now, mode)
    minutes_new = cost[np.arange(len(cost)), placement.sites[placement.assignment]]
    return PlaceResult(unit, objective, mode, candidates, city, placement, sites, weight, minutes_now,
                       minutes_new)


def _covered_kinds(config: dict[str, Any], unit: str) -> list[dict[str, Any]]:
    from sim.scenario.loading import request_functions, unit_covers

    covers = config["units"][unit]
    return [k for k in config["requests"].values()
            if any(unit_covers(covers, f, "resident") or unit_covers(covers, f, "small_firm")
                   for f in request_functions(k))]


def _field_unit(config: dict[str, Any], unit: str) -> bool:
    """A unit whose requests send it out (``travel_minutes``): placed for its team's travel."""
    return any(k["travel_minutes"] > 0 for k in _covered_kinds(config, unit))


def _firm_unit(config: dict[str, Any], unit: str) -> bool:
    kinds = _covered_kinds(config, unit)
    return bool(kinds) and all(k["origin"] == "firm" for k in kinds)


def _write(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def write_placement(result: PlaceResult, out: Path, scenario_path: str, scenario_file: Path,
                    name: str) -> list[Path]:
    """sites.csv, catchments.csv, placement.json and a scenario file using the sites."""
    out.mkdir(parents=True, exist_ok=True)
    leaf = result.city.leaf
    site_of = result.placement.assignment
    rows = ["site,x_km,y_km,candidate,demand_weight,mean_minutes,share_within_circle"]
    for i, (x, y) in enumerate(result.site_xy):
        pick = site_of == i
        w = result.demand_weight[pick]
        rows.append(f"{i},{x:.4f},{y:.4f},{result.placement.sites[i]},{w.sum():.1f},"
                    f"{(w @ result.minutes_new[pick]) / w.sum():.2f},"
                    f"{(w @ (result.minutes_new[pick] <= result.city.circle_minutes)) / w.sum():.4f}")
    _write(out / "sites.csv", "\n".join(rows) + "\n")
    lines = ["leaf_area,community,site,residents,firms,minutes_now,minutes_new"]
    community = result.city.community.of_leaf
    for a in range(len(leaf)):
        lines.append(f"{a},{community[a]},{site_of[a]},{leaf.residents[a]:.1f},{leaf.firms[a]:.1f},"
                     f"{result.minutes_now[a]:.2f},{result.minutes_new[a]:.2f}")
    _write(out / "catchments.csv", "\n".join(lines) + "\n")
    summary = result.summary()
    _write(out / "placement.json", json.dumps(summary, indent=2) + "\n")
    extends = os.path.relpath(Path(scenario_path).resolve(), scenario_file.resolve().parent)
    points = ", ".join(f"[{x:.3f}, {y:.3f}]" for x, y in result.site_xy)
    text = (f"# Written by `run.py place {scenario_path} --unit {result.unit} --count {len(result.site_xy)} "
            f"--objective {result.objective}`:\n# {result.unit}'s offices at the sites chosen "
            f"({summary['mean_minutes_new']:.1f} min mean travel, "
            f"{summary['share_within_circle_new']:.0%} within {result.city.circle_minutes:g} min).\n"
            f'extends = "{extends}"\nname = "{name}-placed"\n\n[geography]\nmodel = "map"\n\n'
            f'[[reforms]]\nname = "offices"\nunit = "{result.unit}"\nsites = [{points}]\n')
    _write(scenario_file, text)
    return [out / "sites.csv", out / "catchments.csv", out / "placement.json", scenario_file]
