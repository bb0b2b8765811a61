"""A self-contained HTML report of a saved batch: scenarios and reforms, KPI table with 95 %
confidence intervals, the figures (embedded), validation results, run metadata. No network."""

from __future__ import annotations

import base64
import html
import json
import math
from pathlib import Path
from typing import Any

from sim.outputs.files import atomic_write_bytes
from sim.outputs.stats import mean_ci
from sim.report.figure_data import BatchData, mean_sla, overall_mean_hours
from sim.report.figures import FIGURES, scenario_colours

KPI_ROWS: list[tuple[str, str, Any]] = [
    ("Requests created per year", "{:,.0f}", lambda k: k["requests_created"] * 365 / _days(k)),
    ("Mean resolution time, all requests (calendar h, resolved only)", "{:.1f}", overall_mean_hours),
    ("Mean resolution time, personal matters (calendar h, resolved only)", "{:.1f}",
     lambda k: _cat(k, "personal")),
    ("Mean resolution time, firm matters (calendar h, resolved only)", "{:.1f}", lambda k: _cat(k, "firm")),
    ("Mean resolution time, enforcement (calendar h, resolved only)", "{:.1f}",
     lambda k: _cat(k, "enforcement")),
    ("Mean resolution time, upper tasks (calendar h, resolved only)", "{:.1f}", lambda k: _cat(k, "upper")),
    ("Personal matters, median (calendar days, open counted)", "{:.2f}",
     lambda k: _km(k, "resolution_days_km", "personal")),
    ("Personal matters, median (working days, open counted)", "{:.2f}",
     lambda k: _km(k, "resolution_working_days_km", "personal")),
    ("Firm matters, median (working days, open counted)", "{:.2f}",
     lambda k: _km(k, "resolution_working_days_km", "firm")),
    ("Firm registration, calendar days (first-half cohort)", "{:.1f}",
     lambda k: (k["cohort_resolution_days_by_kind"].get("firm_registration") or {}).get("mean")),
    ("Firm registration, median (calendar days, open counted)", "{:.1f}",
     lambda k: _km(k, "resolution_days_km_by_kind", "firm_registration")),
    ("Solved at community level or below", "{:.1%}", lambda k: k["share_resolved_community_or_below"]),
    ("High-frequency matters finished in the community", "{:.1%}",
     lambda k: k["share_high_frequency_in_community"]),
    ("Hand-offs per request", "{:.2f}", lambda k: k["handoffs_per_request"]),
    ("Trips per request", "{:.2f}", lambda k: k["trips_per_request"]),
    ("Citizen hours per resident a year (travel, waiting, service; map)", "{:.2f}",
     lambda k: k.get("geography", {}).get("resident_hours_per_year")),
    ("Residents within the service circle (15 min; map)", "{:.1%}",
     lambda k: k.get("geography", {}).get("share_within_circle")),
    ("Field team's travel to the scene, min (map)", "{:.1f}",
     lambda k: k.get("geography", {}).get("field_travel_minutes")),
    ("Mean SLA attainment", "{:.1%}", mean_sla),
    ("Resident requests per 1,000 residents a year", "{:,.0f}",
     lambda k: (k.get("per_capita") or {}).get("resident_requests_per_1000_residents_per_year")),
    ("Firm requests per 1,000 firms a year", "{:,.0f}",
     lambda k: (k.get("per_capita") or {}).get("firm_requests_per_1000_firms_per_year")),
    ("Staff (headcount)", "{:,.0f}", lambda k: k["staff_total"]),
    ("Government staff (no grid, no social)", "{:,.0f}", lambda k: k["staff_government"]),
    ("Government staff per 10,000 residents", "{:,.1f}",
     lambda k: (k.get("per_capita") or {}).get("government_staff_per_10000_residents")),
    ("Staff cost (million CNY / year)", "{:,.1f}", lambda k: k["staff_cost"] / 1e6),
    ("Cost per resolved request (CNY)", "{:,.0f}", lambda k: k["cost_per_resolved_request"]),
    ("Overall staff utilisation", "{:.1%}", lambda k: k["staff_utilisation"]["overall"]),
    ("Backlog at the end (open requests)", "{:,.0f}", lambda k: k["backlog_end"]),
    ("Backlog growth (per 100 days, 2nd half)", "{:,.0f}", lambda k: k["backlog_growth_per_100_days"]),
]


def _days(kpis: dict[str, Any]) -> float:
    return max(len(kpis.get("backlog_by_day") or []), 1)


def _cat(kpis: dict[str, Any], category: str) -> float | None:
    return (kpis["resolution_hours"].get(category) or {}).get("mean")


def _km(kpis: dict[str, Any], key: str, group: str) -> float | None:
    """A Kaplan-Meier median, None for runs older than the KPI or whose curve never got there."""
    return ((kpis.get(key) or {}).get(group) or {}).get("median")


def kpi_table(data: BatchData) -> list[tuple[str, list[tuple[float, float, float] | None]]]:
    """Rows of (label, per scenario (mean, ci_low, ci_high) or None)."""
    rows = []
    for label, _, function in KPI_ROWS:
        cells = []
        for scenario in data.scenarios:
            values = [function(k) for k in data.main_runs(scenario)]
            values = [float(v) for v in values if v is not None and not math.isnan(float(v))]
            cells.append(mean_ci(values) if values else None)
        rows.append((label, cells))
    return rows


def _format(fmt: str, cell: tuple[float, float, float] | None) -> str:
    if cell is None:
        return "&ndash;"
    mean, low, high = cell
    text = fmt.format(mean)
    if not math.isnan(low) and high > low:
        text += f'<br><span class="ci">[{fmt.format(low)}, {fmt.format(high)}]</span>'
    return text


def build_report(data: BatchData, figures: dict[str, Path], out: str | Path) -> Path:
    """Write ``report.html`` with every figure embedded; returns its path."""
    colours = scenario_colours(data)
    parts = [_HEAD, "<h1>City-governance comparison</h1>",
             f"<p class='lead'>{len(data.scenarios)} scenarios, {_reps(data)} replications each. "
             "Each figure's data comes from the batch in this folder; re-render with "
             "<code>run.py plot FOLDER</code>.</p>", "<h2>Scenarios compared</h2>", "<ul>"]
    for scenario in data.scenarios:
        parts.append(f"<li><b style='color:{colours[scenario]}'>{html.escape(scenario)}</b>: "
                     f"{html.escape(_reforms(data, scenario))}</li>")
    parts += ["</ul>", "<h2>Key indicators (mean over replications, 95 % confidence interval)</h2>",
              "<table class='kpi'><tr><th>indicator</th>"
              + "".join(f"<th style='color:{colours[s]}'>{html.escape(s)}</th>" for s in data.scenarios)
              + "</tr>"]
    formats = {label: fmt for label, fmt, _ in KPI_ROWS}
    for label, cells in kpi_table(data):
        parts.append(f"<tr><td>{html.escape(label)}</td>"
                     + "".join(f"<td>{_format(formats[label], c)}</td>" for c in cells) + "</tr>")
    parts.append("</table>")
    parts.append("<h2>Figures</h2>")
    for name, path in figures.items():
        encoded = base64.b64encode(Path(path).read_bytes()).decode()
        caption = FIGURES[name][1]
        parts.append(f"<figure id='{name}'><img alt='{html.escape(caption)}' "
                     f"src='data:image/png;base64,{encoded}'><figcaption>{html.escape(caption)}"
                     "</figcaption></figure>")
    if data.validation is not None:
        parts.append("<h2>Validation against reported facts</h2>" + _validation(data))
    if data.robustness is not None:
        parts.append("<h2>How sure are we</h2>" + _robustness(data))
    parts.append("<h2>Run metadata</h2>" + _metadata(data))
    if data.skipped:
        parts.append("<h2>Not shown</h2><p>These files of the batch could not be read and are left "
                     "out of this report:</p><ul>"
                     + "".join(f"<li>{html.escape(line)}</li>" for line in data.skipped) + "</ul>")
    parts.append("</body></html>")
    target = Path(out) / "report.html"
    atomic_write_bytes(target, "\n".join(parts).encode())
    return target


def _reps(data: BatchData) -> str:
    counts = {len(data.main_runs(s)) for s in data.scenarios}
    return "/".join(str(c) for c in sorted(counts))


def _reforms(data: BatchData, scenario: str) -> str:
    from sim.scenario.loading import load_scenario

    for path in data.metadata.get("scenarios", {}):
        try:
            config = load_scenario(path)
        except Exception:
            continue
        if config["name"] == scenario:
            reforms = [r["name"] for r in config["reforms"]]
            text = config["description"] or scenario
            return text + (f" Reforms: {', '.join(reforms)}." if reforms else " No reforms.")
    return "(scenario file not found)"


def _validation(data: BatchData) -> str:
    frame = data.validation
    rows = ["<table class='kpi'><tr><th>fact</th><th>check</th><th>kind</th><th>reported</th>"
            "<th>simulated (95 % CI)</th><th>tolerance</th><th>result</th></tr>"]
    for _, r in frame.iterrows():
        ci = "" if math.isnan(r["ci95_low"]) else f" [{r['ci95_low']:.4g}, {r['ci95_high']:.4g}]"
        result = str(r["verdict"]) if "verdict" in r and isinstance(r["verdict"], str) else \
            ("pass" if str(r["pass"]).lower() == "true" else "FAIL")  # (folders written before verdicts)
        kind = html.escape(str(r.get("kind", "")))  # folders written before kinds have none
        rows.append(f"<tr><td>{html.escape(str(r['fact']))}</td><td>{html.escape(str(r['check']))}</td>"
                    f"<td>{kind}</td><td>{html.escape(str(r['reported']))}</td><td>{r['simulated_mean']:.4g}{ci}</td>"
                    f"<td>{html.escape(str(r['tolerance']))}</td><td class='{result}'>{result}</td></tr>")
    return "\n".join(rows) + "</table>"


def _robustness(data: BatchData) -> str:
    """The conclusions of a ``robust`` study: in how many samples of the assumed ranges each
    holds, and which assumptions make it fail (PRIM)."""
    frame = data.robustness
    study_path = Path(frame.attrs.get("path", "")).with_name("study.json")
    lead = ""
    try:
        study = json.loads(study_path.read_text())
        ranged = ", ".join(f"{html.escape(Path(p).stem)}: {study['ranged'][p]} of "
                           f"{study['assumed_numbers'][p]}" for p in study["scenarios"].values())
        lead = (f"<p>{study['complete_samples']} samples (Latin hypercube, seed {study['seed']}) of the "
                f"assumed numbers that have a plausible range in the scenario files ({ranged} assumed "
                "numbers ranged); the others stay at their values, so this is the uncertainty of what "
                "is ranged, not of everything assumed.</p>")
    except (OSError, ValueError, KeyError, TypeError):
        pass
    rows = [lead + "<table class='kpi'><tr><th>conclusion</th><th>holds in</th><th>95 % CI</th>"
            "<th>fails mostly when (PRIM box)</th></tr>"]
    for _, r in frame.iterrows():
        when = r["fails_when"] if isinstance(r["fails_when"], str) and r["fails_when"] else "never fails"
        rows.append(f"<tr><td>{html.escape(str(r['conclusion']))}</td><td>{float(r['holds_share']):.0%}</td>"
                    f"<td>[{float(r['ci95_low']):.0%}, {float(r['ci95_high']):.0%}]</td>"
                    f"<td>{html.escape(when)}</td></tr>")
    return "\n".join(rows) + "</table>"


def _metadata(data: BatchData) -> str:
    meta = data.metadata
    wall = data.runs["wall_seconds"].astype(float)
    items = {
        "package version": meta.get("package_version"), "command": meta.get("command"),
        "batch seed": meta.get("seed"), "common seeds across scenarios": meta.get("common_seeds"),
        "scale": meta.get("scale"), "days": meta.get("days"), "replications": meta.get("reps"),
        "runs ok": len(data.runs), "wall time per run (s, mean)": f"{wall.mean():.1f}" if len(wall) else "",
        "started": meta.get("started_utc"), "finished": meta.get("finished_utc"),
        "scenario hashes": ", ".join(f"{Path(p).name}: {h[:12]}"
                                     for p, h in meta.get("scenarios", {}).items()),
    }
    return "<table class='meta'>" + "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in items.items()
    ) + "</table>"


_HEAD = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>City-governance comparison</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body { font-family: -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; max-width: 1200px; margin: 2em auto;
       padding: 0 1em; color: #222; line-height: 1.4; }
h1 { margin-bottom: 0.2em; } .lead { color: #555; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.92em; }
th, td { border-bottom: 1px solid #ddd; padding: 0.35em 0.7em; text-align: right; vertical-align: top; }
th:first-child, td:first-child { text-align: left; }
.ci { color: #777; font-size: 0.85em; } .FAIL { color: #b00; font-weight: bold; } .pass { color: #070; }
.unsure { color: #a60; font-weight: bold; }
figure { margin: 2em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { color: #444; font-size: 0.95em; margin-top: 0.4em; }
table.meta th { text-align: left; font-weight: normal; color: #555; } table.meta td { text-align: left; }
</style></head><body>"""
