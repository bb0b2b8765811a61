"""Maps in the report: per-community choropleths and each organisation drawn on the map.

Drawn from the shapes a batch keeps with each scenario's first run (``sim.outputs.map_shapes``)
and the per-community KPIs of every run (``geography.by_community``, averaged over replications).
"""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.figure import Figure

from sim.report.figure_data import BatchData

CHOROPLETHS = (("citizen_minutes_per_request", "citizen minutes per in-person request", "magma_r"),
               ("resolution_hours", "residents' mean resolution time (h)", "viridis_r"),
               ("centre_load", "service centre: share of open time on requests", "cividis"))
MARKERS = {"community": ("o", "#009E73"), "district": ("s", "#CC79A7"), "township": ("s", "#E69F00"),
           "department": ("^", "#D55E00"), "grid": (".", "#56B4E9"), "social": ("D", "#F0E442"),
           "leadership": ("*", "#000000")}


def _nothing(fig: Figure) -> Figure:
    ax = fig.add_subplot()
    ax.axis("off")
    ax.text(0.5, 0.5, "No scenario of this batch is on a map ([geography] model = \"map\").",
            ha="center", va="center", fontsize=13, transform=ax.transAxes)
    return fig


def flat_rings(areas: list[list[list[list[float]]]]) -> tuple[list[np.ndarray], np.ndarray]:
    """Rings of every area and the area each ring belongs to."""
    rings, owner = [], []
    for i, parts in enumerate(areas):
        for ring in parts:
            rings.append(np.asarray(ring))
            owner.append(i)
    return rings, np.asarray(owner, dtype=int)


def _mean_by_community(runs: list[dict[str, Any]], key: str) -> np.ndarray | None:
    values = [r.get("geography", {}).get("by_community", {}).get(key) for r in runs]
    values = [np.array([np.nan if v is None else v for v in x], dtype=float) for x in values if x]
    if not values:
        return None
    with np.errstate(all="ignore"):
        return np.nanmean(np.vstack(values), axis=0)


def map_choropleths(data: BatchData) -> Figure:
    """9. Per community: citizen time, resolution time and the load of its service centre."""
    scenarios = [s for s in data.scenarios if s in data.maps]
    fig = plt.figure(figsize=(15, 4.2 * max(len(scenarios), 1)), layout="constrained")
    if not scenarios:
        return _nothing(fig)
    fig.suptitle("Per community, mean over replications (grey: no data)")
    for row, scenario in enumerate(scenarios):
        rings, owner = flat_rings(data.maps[scenario]["layers"]["community"])
        runs = data.main_runs(scenario)
        for col, (key, label, cmap) in enumerate(CHOROPLETHS):
            ax = fig.add_subplot(len(scenarios), len(CHOROPLETHS), row * len(CHOROPLETHS) + col + 1)
            values = _mean_by_community(runs, key)
            shown = np.full(len(owner), np.nan) if values is None or len(values) <= owner.max() \
                else values[owner]
            collection = PolyCollection(rings, array=np.ma.masked_invalid(shown),
                                        cmap=plt.get_cmap(cmap).with_extremes(bad="#dddddd"),
                                        edgecolors="white", linewidths=0.3, gid=f"{scenario}:{key}")
            ax.add_collection(collection)
            ax.autoscale_view()
            ax.set_aspect("equal")
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"{scenario}: {label}", fontsize=10)
            if np.isfinite(shown).any():
                fig.colorbar(collection, ax=ax, shrink=0.8)
    return fig


def map_organisation(data: BatchData) -> Figure:
    """10. The organisation on the map: grids, communities, the catchments of grouping units, and
    the offices (or a team's stations) of every unit kind with more than one."""
    scenarios = [s for s in data.scenarios if s in data.maps]
    cols = min(len(scenarios), 2) or 1
    rows = int(np.ceil(len(scenarios) / cols)) or 1
    fig = plt.figure(figsize=(8 * cols, 6.5 * rows), layout="constrained")
    if not scenarios:
        return _nothing(fig)
    fig.suptitle("Organisation on the map: grids (thin), communities, grouping catchments (thick), offices")
    for i, scenario in enumerate(scenarios):
        shapes = data.maps[scenario]
        ax = fig.add_subplot(rows, cols, i + 1)
        layers = shapes["layers"]
        for name, width, colour in (("grid", 0.25, "#bbbbbb"), ("community", 0.7, "#777777")):
            if name in layers:
                rings = flat_rings(layers[name])[0]
                ax.add_collection(LineCollection(rings, linewidths=width, colors=colour))
        for name in shapes["order"]:
            if name.startswith("group_"):
                rings = flat_rings(layers[name])[0]
                ax.add_collection(LineCollection(rings, linewidths=1.8, colors="#222222"))
        for kind, office in shapes["offices"].items():
            if office["level"] == "grid":
                continue
            marker, colour = MARKERS.get(office["level"], ("x", "#000000"))
            pts = np.asarray(office["points"])
            ax.scatter(pts[:, 0], pts[:, 1], s=22 if len(pts) > 50 else 45, marker=marker, color=colour,
                       edgecolors="black", linewidths=0.4, label=f"{kind} ({len(pts)})", zorder=3)
        ax.autoscale_view()
        ax.set_aspect("equal")
        ax.set_xlabel("km")
        ax.set_title(scenario)
        ax.legend(loc="upper left", fontsize=8, framealpha=0.9)
    return fig
