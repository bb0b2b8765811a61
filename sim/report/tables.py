"""KPI tables for the terminal: the same rows for one run or several side by side."""

from __future__ import annotations

from typing import Any

Row = tuple[str, list[Any]]


def _get(kpis: dict[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = kpis
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def kpi_rows(all_kpis: list[dict[str, Any]]) -> list[Row]:
    """Rows (label, one value per run) covering every KPI any of the runs has."""
    rows: list[Row] = []

    def add(label: str, *path: str, unit: str = "") -> None:
        rows.append((label + (f" ({unit})" if unit else ""), [_get(k, path) for k in all_kpis]))

    for key in ("requests_created", "requests_resolved", "requests_open"):
        add(key, key)
    categories = list(dict.fromkeys(c for k in all_kpis for c in k["resolution_hours"]))
    for category in categories:
        for stat in ("mean", "p50", "p90"):
            add(f"resolution_hours.{category}.{stat}", "resolution_hours", category, stat,
                unit="calendar h, resolved only")
    # open requests counted (Kaplan-Meier): calendar days and working days of the office calendar
    clocks = (("resolution_days_km", "calendar days"), ("resolution_working_days_km", "working days"))
    for key, unit in clocks:
        for category in categories:
            if any(_get(k, (key, category)) for k in all_kpis):
                add(f"{key}.{category}.median", key, category, "median", unit=unit)
                add(f"{key}.{category}.open_share", key, category, "open_share")
    levels = list(all_kpis[0]["share_resolved_by_level"])
    for level in levels:
        if any(_get(k, ("share_resolved_by_level", level)) for k in all_kpis):
            add(f"share_resolved.{level}", "share_resolved_by_level", level)
    for key in ("share_high_frequency_in_community", "share_resolved_community_or_below",
                "handoffs_per_request", "bounces_per_request", "trips_per_request",
                "staff_minutes_per_request", "staff_total", "staff_cost", "cost_per_resolved_request"):
        add(key, key)
    for level in dict.fromkeys(lv for k in all_kpis for lv in k["staff_utilisation"]):
        add(f"staff_utilisation.{level}", "staff_utilisation", level)
    for sla in dict.fromkeys(s for k in all_kpis for s in k["sla_attainment"]):
        add(f"sla.{sla}", "sla_attainment", sla, "attainment")
    if any("geography" in k for k in all_kpis):
        for key in ("resident_hours_per_year", "citizen_minutes_per_visit", "trip_minutes_one_way",
                    "share_within_circle", "field_travel_minutes"):
            add(f"geography.{key}", "geography", key)
    if any("per_capita" in k for k in all_kpis):
        for key in ("resident_requests_per_1000_residents_per_year", "firm_requests_per_1000_firms_per_year",
                    "government_staff_per_10000_residents", "staff_cost_per_resident"):
            add(f"per_capita.{key}", "per_capita", key)
    add("backlog_end", "backlog_end")
    return rows


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if abs(value) >= 1e5:
            return f"{value:,.0f}"
        return f"{value:.3g}" if abs(value) < 1 else f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def render_table(header: list[str], rows: list[Row]) -> str:
    """Plain aligned text table."""
    cells = [header] + [[label, *(_fmt(v) for v in values)] for label, values in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = []
    for n, row in enumerate(cells):
        lines.append("  ".join(c.ljust(widths[0]) if i == 0 else c.rjust(widths[i])
                               for i, c in enumerate(row)))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)
