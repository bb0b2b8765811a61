"""Comparison figures: one function per figure, one shared style, one colour per scenario.

Each function takes a ``BatchData`` and returns a matplotlib Figure; missing or empty data
gives a figure that says so instead of an exception. ``render_all`` writes PNG and SVG.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from sim.outputs.stats import mean_ci
from sim.report.figure_data import BatchData, mean_sla, overall_mean_hours
from sim.report.map_figures import map_choropleths, map_organisation
from sim.scenario.schema import LEVELS

# Okabe-Ito: distinguishable with the common colour-vision deficiencies
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]
LEVEL_COLOURS = dict(zip(LEVELS, ["#009E73", "#F0E442", "#56B4E9", "#E69F00", "#CC79A7", "#0072B2",
                                  "#D55E00"], strict=True))
STYLE = {"font.size": 11, "axes.titlesize": 13, "axes.labelsize": 11, "legend.fontsize": 10,
         "figure.dpi": 100, "savefig.dpi": 150, "axes.spines.top": False, "axes.spines.right": False,
         "svg.hashsalt": "sim-figures", "svg.fonttype": "none"}


def scenario_colours(data: BatchData) -> dict[str, str]:
    return {s: PALETTE[i % len(PALETTE)] for i, s in enumerate(data.scenarios)}


def _empty(fig: Figure, message: str) -> Figure:
    ax = fig.add_subplot()
    ax.axis("off")
    ax.text(0.5, 0.5, message, ha="center", va="center", fontsize=13, wrap=True, transform=ax.transAxes)
    return fig


def resolution_times(data: BatchData) -> Figure:
    """1. Resolution time by category, scenarios side by side (boxes from per-run percentiles)."""
    categories = data.categories()
    fig = plt.figure(figsize=(13, 7.5), layout="constrained")
    if not categories:
        return _empty(fig, "No resolved requests in this batch.")
    fig.suptitle("Resolution time by request category (box: 25-75th percentile, whiskers: 10-90th, "
                 "line: median, dot: mean)")
    colours = scenario_colours(data)
    cols = 3
    rows = int(np.ceil(len(categories) / cols))
    for i, category in enumerate(categories):
        ax = fig.add_subplot(rows, cols, i + 1)
        stats, names = [], []
        for scenario in data.scenarios:
            q = {p: np.nanmean(data.values(scenario, "resolution_hours", category, p))
                 for p in ("p10", "p25", "p50", "p75", "p90", "mean")}
            if np.isnan(q["p50"]):
                continue
            stats.append({"whislo": q["p10"], "q1": q["p25"], "med": q["p50"], "q3": q["p75"],
                          "whishi": q["p90"], "mean": q["mean"], "fliers": [], "label": scenario})
            names.append(scenario)
        if not stats:
            ax.axis("off")
            ax.set_title(category)
            ax.text(0.5, 0.5, "no data", ha="center", transform=ax.transAxes)
            continue
        boxes = ax.bxp(stats, showmeans=True, patch_artist=True, widths=0.6,
                       medianprops={"color": "black", "linewidth": 2},
                       meanprops={"marker": "o", "markerfacecolor": "white", "markeredgecolor": "black"})
        for patch, name in zip(boxes["boxes"], names, strict=True):
            patch.set_facecolor(colours[name])
            patch.set_gid(name)
        ax.set_yscale("log")
        ax.set_title(category)
        ax.set_ylabel("hours (log scale)")
        ax.set_xticks(range(1, len(names) + 1), names, rotation=20, ha="right")
    return fig


def share_by_level(data: BatchData) -> Figure:
    """2. Where problems are solved: share resolved at each level, stacked per scenario."""
    fig = plt.figure(figsize=(10, 6), layout="constrained")
    levels = data.levels()
    if not levels:
        return _empty(fig, "No resolved requests in this batch.")
    ax = fig.add_subplot()
    bottom = np.zeros(len(data.scenarios))
    for level in levels:
        shares = np.array([np.nanmean(data.values(s, "share_resolved_by_level", level))
                           for s in data.scenarios])
        bars = ax.bar(data.scenarios, shares, bottom=bottom, color=LEVEL_COLOURS[level], label=level,
                      edgecolor="white")
        for patch in bars:
            patch.set_gid(level)
        for x, (share, low) in enumerate(zip(shares, bottom, strict=True)):
            if share >= 0.05:
                ax.text(x, low + share / 2, f"{share:.0%}", ha="center", va="center", fontsize=9)
        bottom += shares
    ax.set_ylabel("share of resolved requests")
    ax.set_ylim(0, 1)
    ax.set_title("Where requests are solved: share resolved at each level")
    ax.legend(title="level", bbox_to_anchor=(1.01, 1), loc="upper left")
    _colour_ticks(ax, data)
    return fig


def request_flows(data: BatchData) -> Figure:
    """3. Request flow: level entered -> level solved, with hand-offs and bounce-backs."""
    fig = plt.figure(figsize=(5 * min(len(data.scenarios), 4) + 1, 5.5), layout="constrained")
    if not data.scenarios:
        return _empty(fig, "No runs in this batch.")
    fig.suptitle("Request flow: level entered (rows) to level that solved it (columns), share of resolved")
    levels = [lv for lv in LEVELS if lv in data.levels() or any(
        lv in key.split(">")[0] for s in data.scenarios for k in data.main_runs(s)
        for key in k["flow_entry_to_solved"])]
    for i, scenario in enumerate(data.scenarios):
        ax = fig.add_subplot(1, len(data.scenarios), i + 1)
        matrix = np.zeros((len(levels), len(levels)))
        for kpis in data.main_runs(scenario):
            for key, count in kpis["flow_entry_to_solved"].items():
                entry, solved = key.split(">")
                if entry in levels and solved in levels:
                    matrix[levels.index(entry), levels.index(solved)] += count
        total = matrix.sum()
        share = matrix / total if total else matrix
        ax.imshow(share, cmap="Blues", vmin=0, vmax=max(share.max(), 1e-9))
        for (r, c), value in np.ndenumerate(share):
            if value >= 0.005:
                ax.text(c, r, f"{value:.0%}", ha="center", va="center", fontsize=8,
                        color="white" if value > 0.5 * share.max() else "black")
        ax.set_xticks(range(len(levels)), levels, rotation=45, ha="right", fontsize=9)
        ax.set_yticks(range(len(levels)), levels if i == 0 else [""] * len(levels), fontsize=9)
        handoffs = np.nanmean(data.values(scenario, "handoffs_per_request"))
        bounces = np.nanmean(data.values(scenario, "bounces_per_request"))
        ax.set_title(f"{scenario}\n{handoffs:.2f} hand-offs, {bounces:.3f} bounces per request", fontsize=11,
                     color=scenario_colours(data)[scenario])
        ax.set_xlabel("solved at")
        if i == 0:
            ax.set_ylabel("entered at")
    return fig


def staff_vs_service(data: BatchData) -> Figure:
    """4. Staff cost against mean resolution time and SLA attainment (95 % CI whiskers)."""
    fig = plt.figure(figsize=(13, 5.5), layout="constrained")
    if not data.scenarios:
        return _empty(fig, "No runs in this batch.")
    fig.suptitle("Staff versus service: yearly staff cost against resolution time and SLA attainment")
    colours = scenario_colours(data)
    panels = (("mean resolution time, all requests (hours)", overall_mean_hours),
              ("mean SLA attainment (share meeting target)", mean_sla))
    for j, (label, measure) in enumerate(panels):
        ax = fig.add_subplot(1, 2, j + 1)
        for scenario in data.scenarios:
            runs = data.runs[data.runs["scenario"] == scenario]
            everything = data.kpis[scenario]
            if runs["point"].nunique() > 1:  # sweep points as a cloud
                for point in sorted(runs["point"].unique()):
                    group = [k for k, p in zip(everything, runs["point"], strict=True) if p == point]
                    ax.scatter(np.mean([k["staff_cost"] for k in group]) / 1e6,
                               np.mean([measure(k) for k in group]), s=14, alpha=0.35,
                               color=colours[scenario])
            main = data.main_runs(scenario)
            cost = mean_ci([k["staff_cost"] / 1e6 for k in main])
            value = mean_ci([measure(k) for k in main])
            ax.errorbar(cost[0], value[0], yerr=_half(value), xerr=_half(cost), fmt="o", markersize=9,
                        capsize=4, color=colours[scenario], label=scenario, gid=scenario)
        ax.set_xlabel("staff cost (million CNY per year)")
        ax.set_ylabel(label)
        ax.legend(loc="best")
        if j == 1:
            ax.set_ylim(0, 1.05)
    return fig


def backlog(data: BatchData) -> Figure:
    """5. Open requests over the simulated period, mean with the replications' range as a band."""
    fig = plt.figure(figsize=(11, 5.5), layout="constrained")
    series = {s: [k["backlog_by_day"] for k in data.main_runs(s) if k.get("backlog_by_day")]
              for s in data.scenarios}
    if not any(series.values()):
        return _empty(fig, "No backlog series in this batch.")
    ax = fig.add_subplot()
    colours = scenario_colours(data)
    for scenario, runs in series.items():
        if not runs:
            continue
        length = min(len(r) for r in runs)
        values = np.array([r[:length] for r in runs], dtype=float)
        days = np.arange(1, length + 1)
        ax.fill_between(days, values.min(axis=0), values.max(axis=0), color=colours[scenario], alpha=0.25,
                        linewidth=0)
        ax.plot(days, values.mean(axis=0), color=colours[scenario], label=f"{scenario} ({len(runs)} runs)",
                gid=scenario)
    ax.set_xlabel("day")
    ax.set_ylabel("open requests at day's end")
    ax.set_title("Backlog over the simulated period (line: mean; band: range over replications)")
    ax.legend(loc="upper left")
    return fig


def reform_waterfall(data: BatchData) -> Figure:
    """6. Reform contributions from base to target (Shapley values, else added in order)."""
    fig = plt.figure(figsize=(13, 8), layout="constrained")
    frame = data.attribution
    if frame is None or frame.empty:
        return _empty(fig, "No attribution results in this folder.\nRun: run.py attribute BASE TARGET "
                      "--out <this folder>/attribute")
    method = "shapley" if frame["shapley"].notna().any() else "in_order"
    wanted = ("resolution_hours", "share", "staff")
    metrics = [m for m in dict.fromkeys(frame["metric"]) if m.startswith(wanted)][:4]
    how = method.replace("_", " ")
    if method == "shapley" and "shapley_method" in frame and frame["shapley_method"].notna().any():
        how = f"Shapley, {frame['shapley_method'].dropna().iloc[0]}"
        if how.startswith("Shapley, sampled"):
            how += "; whiskers: 95 % intervals"
    fig.suptitle(f"Reform contributions from base to target ({how})")
    for i, metric in enumerate(metrics):
        ax = fig.add_subplot(2, 2, i + 1)
        rows = frame[(frame["metric"] == metric) & (frame["reform"] != "total")]
        total = frame[(frame["metric"] == metric) & (frame["reform"] == "total")].iloc[0]
        start = total["base"] if "base" in total and not np.isnan(total["base"]) else 0.0
        level = start
        labels = ["base"]
        ax.bar(0, start, color="#999999")
        for j, (_, row) in enumerate(rows.iterrows(), start=1):
            delta = row[method]
            ax.bar(j, delta, bottom=level, color="#009E73" if delta < 0 else "#D55E00", gid=row["reform"])
            half = row.get("shapley_ci95", 0.0) if method == "shapley" else 0.0
            if half and np.isfinite(half):  # sampled Shapley: the interval around the bar's end
                ax.errorbar(j, level + delta, yerr=half, color="black", capsize=3, linewidth=1)
            level += delta
            labels.append(row["reform"].split(":", 1)[-1])
        ax.bar(len(labels), level, color="#0072B2")
        labels.append("target")
        ax.set_xticks(range(len(labels)), labels, rotation=35, ha="right", fontsize=8)
        ax.set_title(metric, fontsize=11)
        ax.set_ylabel(_unit(metric))
    return fig


def sensitivity(data: BatchData) -> Figure:
    """7. Sobol first-order and total indices with 95 % bootstrap intervals."""
    fig = plt.figure(figsize=(12, 6), layout="constrained")
    frame = data.sensitivity
    if frame is None or frame.empty:
        return _empty(fig, "No sensitivity results in this folder.\nRun: run.py sensitivity SWEEP.toml "
                      "--out <this folder>/sensitivity")
    outputs = list(dict.fromkeys(frame["output"]))
    fig.suptitle("Sensitivity: Sobol indices (first order and total, 95 % bootstrap intervals)")
    for i, output in enumerate(outputs):
        ax = fig.add_subplot(1, len(outputs), i + 1)
        rows = frame[frame["output"] == output]
        x = np.arange(len(rows))
        for offset, kind, colour in ((-0.2, "first", "#0072B2"), (0.2, "total", "#E69F00")):
            value = rows[f"{kind}_order" if kind == "total" else "first_order"].to_numpy()
            low, high = rows[f"{kind}_low"].to_numpy(), rows[f"{kind}_high"].to_numpy()
            ax.bar(x + offset, value, width=0.4, color=colour, label=f"{kind} order",
                   yerr=[np.clip(value - low, 0, None), np.clip(high - value, 0, None)], capsize=3)
        ax.set_xticks(x, rows["parameter"], rotation=30, ha="right", fontsize=9)
        ax.set_title(output, fontsize=11)
        ax.set_ylabel("Sobol index (share of output variance)")
        ax.legend()
    return fig


def organisation_map(data: BatchData) -> Figure:
    """8. Schematic map of each organisation: levels as rows, unit kinds as boxes sized by staff,
    coloured by utilisation."""
    fig = plt.figure(figsize=(7 * min(len(data.scenarios), 2), 5.5 * int(np.ceil(len(data.scenarios) / 2))),
                     layout="constrained")
    if not data.scenarios:
        return _empty(fig, "No runs in this batch.")
    fig.suptitle("Organisation map: unit kinds by level (box width ~ staff), colour = utilisation")
    cmap = plt.get_cmap("cividis")
    for i, scenario in enumerate(data.scenarios):
        ax = fig.add_subplot(int(np.ceil(len(data.scenarios) / 2)), min(len(data.scenarios), 2), i + 1)
        runs = data.main_runs(scenario)
        units = runs[0]["units"]
        utilisation = {u: np.nanmean([np.nan if r["utilisation_by_unit"].get(u) is None
                                      else r["utilisation_by_unit"][u] for r in runs]) for u in units}
        levels = [lv for lv in LEVELS if any(u["level"] == lv for u in units.values())]
        for row, level in enumerate(levels):
            members = [(n, u) for n, u in units.items() if u["level"] == level]
            widths = np.sqrt([u["count"] * u["staff"] for _, u in members])
            widths = widths / widths.sum() * 0.96
            left = 0.02
            for (name, unit), width in zip(members, widths, strict=True):
                value = utilisation[name]
                ax.add_patch(plt.Rectangle((left, row + 0.1), width - 0.005, 0.8,
                                           color=cmap(0 if np.isnan(value) else min(value, 1.0)),
                                           gid=f"{scenario}:{name}"))
                if width > 0.07:
                    label = name.replace("_", " ")
                    label = label if len(label) * 0.011 < width else label[: max(3, int(width / 0.011))] + "."
                    ax.text(left + width / 2, row + 0.5, f"{label}\n{unit['count']}x{unit['staff']}",
                            ha="center", va="center", fontsize=7,
                            color="white" if (np.isnan(value) or value < 0.5) else "black")
                left += width
        ax.set_xlim(0, 1)
        ax.set_ylim(0, len(levels))
        ax.set_yticks(np.arange(len(levels)) + 0.5, levels)
        ax.set_xticks([])
        ax.set_title(f"{scenario} ({sum(u['count'] * u['staff'] for u in units.values()):,} staff)",
                     color=scenario_colours(data)[scenario])
    fig.colorbar(matplotlib.cm.ScalarMappable(norm=matplotlib.colors.Normalize(0, 1), cmap=cmap),
                 ax=fig.axes, label="utilisation (busy / open server time)", shrink=0.8)
    return fig


FIGURES: dict[str, tuple[Callable[[BatchData], Figure], str]] = {
    "resolution_times": (resolution_times, "Resolution time by request category: box = middle half of "
                         "requests, whiskers = 10th-90th percentile, averaged over replications."),
    "share_by_level": (share_by_level, "Share of resolved requests solved at each level."),
    "request_flows": (request_flows, "Where requests enter and where they are finally solved; the "
                      "off-diagonal cells are escalations."),
    "staff_vs_service": (staff_vs_service, "Yearly staff cost against mean resolution time and SLA "
                         "attainment; whiskers are 95 % confidence intervals over replications."),
    "backlog": (backlog, "Open requests at the end of each day; a rising line means the structure "
                "cannot keep up."),
    "reform_waterfall": (reform_waterfall, "How each reform moves the main indicators from the base to "
                         "the target structure."),
    "sensitivity": (sensitivity, "Which uncertain parameters drive the indicators (Sobol indices)."),
    "organisation_map": (organisation_map, "The organisation of each scenario; box width grows with "
                         "staff, colour shows how busy the unit kind is."),
    "map_choropleths": (map_choropleths, "Per community: residents' time per in-person request (travel, "
                        "waiting, service), their requests' resolution time, and how busy the service "
                        "centre serving the community is."),
    "map_organisation": (map_organisation, "Each organisation on the map: grids, communities, the "
                         "catchments of the units that group communities, and the offices or stations."),
}
MAP_FIGURES = ("map_choropleths", "map_organisation")  # drawn only for batches with a scenario on a map


def render_all(data: BatchData, out: str | Path) -> dict[str, Path]:
    """Write every figure as PNG and SVG into ``out``; returns name -> PNG path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    with plt.rc_context(STYLE):
        for name, (function, _) in FIGURES.items():
            if name in MAP_FIGURES and not data.maps:
                continue
            fig = function(data)
            for ext in ("png", "svg"):
                fig.savefig(out / f"{name}.{ext}", metadata=_metadata(ext))
            plt.close(fig)
            paths[name] = out / f"{name}.png"
    return paths


def _metadata(ext: str) -> dict[str, str | None]:
    # no dates or versions in the files, so re-rendering the same batch gives the same bytes
    return {"Software": None} if ext == "png" else {"Date": None, "Creator": None}


def _half(ci: tuple[float, float, float]) -> float:
    return 0.0 if np.isnan(ci[1]) else (ci[2] - ci[1]) / 2


def _unit(metric: str) -> str:
    if metric.startswith("resolution_hours"):
        return "hours"
    if metric == "staff_cost":
        return "CNY per year"
    return "share"


def _colour_ticks(ax: plt.Axes, data: BatchData) -> None:
    colours = scenario_colours(data)
    for label in ax.get_xticklabels():
        label.set_color(colours.get(label.get_text(), "black"))
