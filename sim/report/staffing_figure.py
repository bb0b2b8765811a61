"""The ``run.py staff`` figure: current against required headcount per unit kind, in the
comparison figures' style (Okabe-Ito colours, ``figures.STYLE``), written as PNG."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from sim.report.figures import PALETTE, STYLE


def staffing_figure(rows: list[dict[str, Any]], totals: dict[str, float], title: str) -> Figure:
    """Horizontal bars per unit kind: total headcount now and required (staff per unit in the
    labels), the binding target beside each pair; log scale, since a kind of 199 village
    committees and one of 15 leaders share the axis."""
    with plt.rc_context(STYLE):
        height = max(3.5, 0.55 * len(rows) + 1.8)
        fig = plt.figure(figsize=(13, height), layout="constrained")
        if not rows:
            ax = fig.add_subplot()
            ax.axis("off")
            ax.text(0.5, 0.5, "No unit kinds in scope.", ha="center", va="center", transform=ax.transAxes)
            return fig
        ax, notes = fig.subplots(1, 2, sharey=True, width_ratios=[3, 1.6])
        y = np.arange(len(rows))[::-1]
        now = [max(r["total_current"], 0.5) for r in rows]
        need = [max(r["total_required"], 0.5) for r in rows]
        ax.barh(y + 0.2, now, height=0.38, color=PALETTE[0], label="current", gid="current")
        ax.barh(y - 0.2, need, height=0.38, color=PALETTE[1], label="required", gid="required")
        for yi, a, b in zip(y, now, need, strict=True):
            ax.text(a * 1.08, yi + 0.2, f"{a:,.0f}", va="center", fontsize=9)
            ax.text(b * 1.08, yi - 0.2, f"{b:,.0f}", va="center", fontsize=9)
        labels = [f"{r['unit']} ({r['instances']} x {r['staff_current']} -> {r['staff_required']})"
                  for r in rows]
        ax.set_yticks(y, labels)
        ax.set_xscale("log")
        ax.set_xlim(0.4, max(max(now), max(need)) * 3)
        ax.set_xlabel("headcount, all instances (log scale)")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncols=2, frameon=False)
        notes.axis("off")
        notes.set_title("binding target", loc="left", fontsize=11)
        for yi, row in zip(y, rows, strict=True):
            notes.text(0.0, yi, row["binding_target"], va="center", fontsize=9, color="#444444",
                       transform=notes.get_yaxis_transform())
        cost_now, cost_need = totals["scope_cost_current"] / 1e6, totals["scope_cost_required"] / 1e6
        fig.suptitle(f"{title}: staff in scope {totals['scope_staff_current']:,.0f} -> "
                     f"{totals['scope_staff_required']:,.0f}; cost {cost_now:,.1f} -> {cost_need:,.1f} "
                     "million CNY a year")
        return fig


def write_staffing_figure(path: Path, rows: list[dict[str, Any]], totals: dict[str, float],
                          title: str) -> Path:
    """Render and write the figure as PNG (atomically: temporary file, then rename)."""
    from sim.outputs.files import atomic_write_bytes

    fig = staffing_figure(rows, totals, title)
    import io

    buffer = io.BytesIO()
    with plt.rc_context(STYLE):
        fig.savefig(buffer, format="png")
    plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())
    return path
