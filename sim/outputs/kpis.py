"""KPIs and the request log of a finished run, computed column-wise from the model's tables."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from sim.city.catalogue import of_origin
from sim.engine.calendars import DAY
from sim.outputs.behaviour_kpis import behaviour_kpis, whistle_kpis
from sim.outputs.map_kpis import map_kpis
from sim.outputs.survival import Resolutions
from sim.scenario.schema import CATEGORIES, LEVELS

REPORTED_LEVELS = ("grid", "community", "township", "district", "department", "leadership", "social")


@dataclass
class RunTables:
    """Everything about a finished run as columns: one entry per request, and per leg."""

    kind: np.ndarray
    category: np.ndarray  # index into CATEGORIES
    origin_of_kind: np.ndarray  # origin group name per request kind (``origin``: per request)
    origin_agent: np.ndarray
    location: np.ndarray
    created: np.ndarray
    resolved: np.ndarray  # NaN while open
    leg_first: np.ndarray  # first leg index per request
    leg_count: np.ndarray
    leg_unit: np.ndarray
    leg_arrive: np.ndarray
    leg_start: np.ndarray
    leg_service: np.ndarray
    leg_trip: np.ndarray
    leg_bounce: np.ndarray
    leg_travel: np.ndarray  # minutes of the leg's service a field team spends reaching the place
    leg_role: np.ndarray  # 0 a visit to a window, 1 a desk's review, 2 a corrected file handed in
    leg_busy: np.ndarray  # server minutes spent on the leg inside the KPI window
    duty_busy: np.ndarray  # per unit: server minutes of duties worked inside the KPI window
    solved_unit: np.ndarray
    solved_level: np.ndarray  # index into LEVELS
    leg_priority: np.ndarray | None = None  # a summons (behaviour.whistle)

    @cached_property
    def first_real_leg(self) -> np.ndarray:
        """Index of each request's first visit that was not a misrouted bounce (a bounce is always
        followed by the right unit, so every request has one). Kept once built: five KPIs use it."""
        if not len(self.leg_first):
            return np.zeros(0, dtype=np.int64)
        index = np.arange(len(self.leg_unit))
        return np.minimum.reduceat(np.where(~self.leg_bounce, index, len(index)), self.leg_first)

    @property
    def origin(self) -> np.ndarray:
        """Origin group name per request (built on demand: an array of 450,000 strings)."""
        return self.origin_of_kind[self.kind]


def build_tables(model: Any) -> RunTables:
    """Collect the model's requests, legs and engine log into ``RunTables``."""
    horizon = model.day * DAY
    # the engine's columns read in place: every table column below is a new array (leg_start copied)
    requests, legs, log = model.requests(), model.legs(), model.engine.log(copy=False)
    n = len(requests)
    leg_count = np.bincount(legs.request, minlength=n)
    leg_first = (np.cumsum(leg_count) - leg_count).astype(np.int64)
    last = leg_first + leg_count - 1
    resolved = np.where(log.ready <= horizon, log.ready, np.nan)
    category_of_kind = np.array([CATEGORIES.index(k.category) for k in model.kinds])
    origin_of_kind = np.array([k.origin for k in model.kinds])
    solved_unit = legs.unit[last]
    return RunTables(
        kind=requests.kind, category=category_of_kind[requests.kind],
        origin_of_kind=origin_of_kind, origin_agent=requests.origin_agent,
        location=requests.location, created=requests.created, resolved=resolved,
        leg_first=leg_first, leg_count=leg_count, leg_unit=legs.unit,
        leg_arrive=np.where(log.leg_arrive <= horizon, log.leg_arrive, np.nan),
        leg_start=log.leg_start.copy(), leg_service=legs.service, leg_trip=legs.trip,
        leg_bounce=legs.bounce, leg_travel=legs.travel, leg_role=legs.role,
        leg_busy=_busy_minutes(model, log, legs.unit),
        duty_busy=_duty_busy(model, *_window(model)),
        solved_unit=solved_unit, solved_level=model.structure.unit_level[solved_unit],
        leg_priority=legs.priority,
    )


def _busy_minutes(model: Any, log: Any, unit: np.ndarray) -> np.ndarray:
    """Working minutes each leg occupied a server inside [warm-up end, horizon]."""
    lo, hi = _window(model)
    lo_w = model.engine.unit_to_work(lo)[unit]
    hi_w = model.engine.unit_to_work(hi)[unit]
    # a leg not begun has neither start nor end (NaN): it occupied nobody
    busy = np.minimum(log.leg_end_work, hi_w)
    busy -= np.maximum(log.leg_start_work, lo_w)
    np.clip(busy, 0.0, None, out=busy)
    busy[np.isnan(busy)] = 0.0
    return busy


def _window(model: Any) -> tuple[float, float]:
    """KPI window: after the warm-up, which is capped at ``warmup_cap_share`` of the run (a
    quarter by default) so short runs keep a window."""
    sim = model.config["simulation"]
    warmup = min(sim["warmup_days"], int(model.day * sim["warmup_cap_share"])) * DAY
    return float(warmup), model.day * DAY


QUANTILES = (10, 25, 50, 75, 90)


def _stats(hours: np.ndarray) -> dict[str, float | int | None]:
    """n, mean and the 10/25/50/75/90th percentiles (enough to draw a box plot per run)."""
    if len(hours) == 0:
        return {"n": 0, "mean": None, **{f"p{q}": None for q in QUANTILES}}
    values = np.percentile(hours, QUANTILES)
    return {"n": len(hours), "mean": float(hours.mean()),
            **{f"p{q}": float(v) for q, v in zip(QUANTILES, values, strict=True)}}


def compute_kpis(model: Any, tables: RunTables) -> dict[str, Any]:
    """The run's KPIs (see README: KPI reference). Counts are of the real city."""
    lo, hi = _window(model)
    t = tables
    # a resident's follow-up contact is work, not a matter: request counts and times are of
    # originals only (each counted once however often it was chased); staff time counts both
    original = t.category != CATEGORIES.index("follow_up")
    in_window = (t.created >= lo) & original
    done = in_window & ~np.isnan(t.resolved)
    hours = (t.resolved - t.created) / 60.0
    km = Resolutions(t.created, t.resolved, hi, DAY)  # open requests counted as censored, calendar days
    done_by_kind = _split(t.kind, done, [k.index for k in model.kinds])  # (rows of each kind, split once)
    structure = model.structure
    kpis: dict[str, Any] = {
        "requests_created": int(original.sum()),
        "requests_resolved": int((original & ~np.isnan(t.resolved)).sum()),
        "requests_open": int((original & np.isnan(t.resolved)).sum()),
        "requests_follow_up": int((~original).sum()),  # residents' follow-up contacts (behaviour.patience)
        "kpi_window_days": [lo / DAY, hi / DAY],
        "resolution_hours": {CATEGORIES[i]: _stats(hours[rows]) for i, rows in
                             _split(t.category, done, _categories_shown(t)).items()},
        "resolution_hours_by_kind": {model.kinds[i].name: _stats(hours[rows])
                                     for i, rows in done_by_kind.items()},
        "cohort_resolution_days_by_kind": _cohort_days(model, t, lo, hi),
        # open requests counted as censored (Kaplan-Meier), in calendar days
        "resolution_days_km": _by_category(km, t, in_window),
        "resolution_days_km_by_kind": _by_kind(km, t, in_window, model.kinds),
        "resolution_working_days_km": _working_days(model, t, in_window, hi),
        "share_resolved_by_level": _level_shares(t.solved_level[done]),
        "flow_entry_to_solved": _flows(model, t, done),
        "share_grid_entries_solved_on_grid": _grid_front_line(model, t, done),
        "bounces_by_level": _bounces_by_level(model, t, in_window),
        "units": {k.name: {"level": k.level, "count": k.count, "staff": k.staff}
                  for k in model.structure.kinds},
        "handoffs_per_request": _mean(_per_request(t, t.leg_role == 0)[done] - 1),
        "bounces_per_request": _mean(_per_request(t, t.leg_bounce)[done]),
        "trips_per_request": _mean(_per_request(t, t.leg_trip)[done]),
        "staff_minutes_per_request": _mean(_per_request(t, t.leg_service)[done]),
        "staff_total": structure.staff_total(),
        "staff_government": structure.staff_total(exclude=("grid", "social")),
        "staff_by_level": structure.staff_by_level(),
        "approval_staff": _staff_handling(model, ("firm",), steps_only=True),
        "enforcement_staff": _staff_handling(model, ("enforcement",), steps_only=False),
        "staff_cost": structure.staff_cost(),
        "staff_utilisation": _utilisation(model, t, lo, hi),
        "hours_worked_per_week": _hours_worked(model, t, lo, hi),
        "upward_burden": _upward_burden(model, t, lo, hi),
        "utilisation_by_unit": _utilisation_by_unit(model, t, lo, hi),
        "sla_attainment": _sla(model, t, lo, hi),
        "backlog_end": int((original & np.isnan(t.resolved)).sum()),
        "backlog_by_day": _backlog_by_day(model),
        "backlog_growth_per_100_days": _backlog_growth(model),
        "share_high_frequency_in_community": _share_low(model, t, done, high_frequency=True),
        "share_resolved_community_or_below": _share_low(model, t, done, high_frequency=False),
        "share_grassroots_resolved_community_or_below": _share_low(model, t, done, False, GRASSROOTS),
    }
    if model.structure.unit_overtime_minutes.any() or model.structure.unit_has_duties.any():
        kpis["hours_at_work_per_week"] = _hours_at_work(model, lo, hi)
        kpis["overtime_hours_per_week"] = _per_head_week(model, _overtime_minutes(model, lo, hi), lo, hi)
        kpis["desk_backlog_hours"] = _desk_backlog(model)
    if t.leg_role.any():
        kpis["approval_by_kind"] = _approval_by_kind(model, t, done_by_kind)
    if structure.city_map is not None:
        capacity = _server_minutes(model, lo, hi)
        serving = np.bincount(t.leg_unit, weights=t.leg_busy, minlength=structure.n_units)  # requests only
        kpis["geography"] = map_kpis(model, t, lo, hi, serving, capacity, t.first_real_leg)
    if getattr(model, "whistle", None) is not None:
        kpis["whistle"] = whistle_kpis(model, t, lo, hi)
    if getattr(model, "redeployment", None) is not None:
        kpis["redeployment"] = _redeployment(model)
    if getattr(model, "behaviour", None) is not None:
        kpis["behaviour"] = behaviour_kpis(model, t, lo, hi)
    resolved_in_window = int((original & (t.resolved >= lo) & (t.resolved <= hi)).sum())
    years = (hi - lo) / DAY / 365.0
    kpis["cost_per_resolved_request"] = (kpis["staff_cost"] * years / resolved_in_window
                                         if resolved_in_window else None)
    kpis["per_capita"] = _per_capita(model, t, in_window, years, kpis)
    kpis["warmup"] = warmup_check(lo / DAY, kpis["resolution_days_km_by_kind"])
    return kpis


def _working_days(model: Any, t: RunTables, in_window: np.ndarray, hi: float) -> dict[str, Any]:
    """Kaplan-Meier resolution by category in *working* days of the office calendar (a matter
    created Friday afternoon and done Monday morning took under one working day, three calendar
    days): what a service promise ("within 5 working days") is stated in."""
    office = model.structure.calendars["office"]
    created = office.to_work_array(t.created)
    resolved = office.to_work_array(np.where(t.resolved <= hi, t.resolved, np.nan))  # later = open
    end = float(office.to_work_array(np.array([hi]))[0])
    return _by_category(Resolutions(created, resolved, end, office.day_minutes), t, in_window)


def _categories_shown(t: RunTables) -> list[int]:
    """Codes of the categories the run has, follow-ups left out (they are not matters)."""
    present = np.bincount(t.category, minlength=len(CATEGORIES)) > 0
    return [i for i, c in enumerate(CATEGORIES) if present[i] and c != "follow_up"]


def _split(group: np.ndarray, pick: np.ndarray, values: list[int]) -> dict[int, np.ndarray]:
    """For each of ``values``, the rows where ``pick`` and ``group == value``, in row order (as
    a mask picks them, so a mean over them sums in the same order), from one stable sort."""
    rows = np.flatnonzero(pick)
    codes = group[rows]
    order = np.argsort(codes, kind="stable")
    rows, codes = rows[order], codes[order]
    return {v: rows[np.searchsorted(codes, v, side="left"): np.searchsorted(codes, v, side="right")]
            for v in values}


def _by_category(km: Resolutions, t: RunTables, in_window: np.ndarray) -> dict[str, Any]:
    """Kaplan-Meier summaries of each category present."""
    shown = _categories_shown(t)
    by_code = km.summaries(t.category, in_window, shown)
    return {CATEGORIES[i]: by_code[i] for i in shown}


def _by_kind(km: Resolutions, t: RunTables, in_window: np.ndarray, kinds: list) -> dict[str, Any]:
    by_code = km.summaries(t.kind, in_window, [k.index for k in kinds])
    return {k.name: by_code[k.index] for k in kinds}


def _per_capita(model: Any, t: RunTables, in_window: np.ndarray, years: float, kpis: dict[str, Any]
                ) -> dict[str, float | None]:
    """Figures per resident and per firm, so a county of another size can be compared: demand a
    year per 1,000 of the group that creates it, staff per 10,000 residents, cost per resident
    (the real population of ``[population]``, not the sampled agents)."""
    residents = model.config["population"]["residents"]
    firms = model.config["population"]["firms"]
    def rate(group: str, size: int) -> float | None:
        count = int((in_window & of_origin(model.kinds, t.kind, group)).sum())
        return count / years / (size / 1_000) if size and years > 0 else None
    return {"residents": residents, "firms": firms,
            "resident_requests_per_1000_residents_per_year": rate("resident", residents),
            "firm_requests_per_1000_firms_per_year": rate("firm", firms),
            "staff_per_10000_residents": kpis["staff_total"] / (residents / 10_000),
            "government_staff_per_10000_residents": kpis["staff_government"] / (residents / 10_000),
            "staff_cost_per_resident": kpis["staff_cost"] / residents}


def _per_request(t: RunTables, values: np.ndarray) -> np.ndarray:
    """Sum of a per-leg column over each request's legs."""
    return np.add.reduceat(values.astype(float), t.leg_first) if len(t.leg_first) else np.zeros(0)


def _approval_by_kind(model: Any, t: RunTables, done_by_kind: dict[int, np.ndarray]
                      ) -> dict[str, dict[str, float | None]]:
    """Where an approval's time and work went, per kind reviewed at desks (resolved in the
    window: ``done_by_kind``, rows per kind index): desk reviews and returned files per
    request, trips, the review's staff minutes and the days its files queued for a desk's staff
    (the part that grows with workload)."""
    review = t.leg_role == 1
    queued = np.where(review, np.nan_to_num(t.leg_start - t.leg_arrive), 0.0) / DAY
    columns = {"desk_reviews": review, "returned_files": t.leg_role == 2, "trips": t.leg_trip,
               "review_staff_minutes": np.where(review, t.leg_service, 0.0), "desk_queue_days": queued}
    sums = {name: _per_request(t, values) for name, values in columns.items()}
    return {k.name: {name: _mean(values[done_by_kind[k.index]]) for name, values in sums.items()}
            for k in model.kinds if k.review_minutes is not None}


def _staff_handling(model: Any, categories: tuple[str, ...], steps_only: bool) -> int:
    """Department-level staff in units that handle the functions of these request categories
    (e.g. approval staff: units deciding any step of a firm matter, M2)."""
    functions = set()
    for kind in model.kinds:
        if kind.category in categories and (kind.shares is None or not steps_only):
            functions |= set(kind.functions)
    total = 0
    for kind in model.structure.kinds:
        cfg = model.structure.unit_config[kind.name]
        if kind.level == "department" and set(cfg["functions"]) & functions:
            total += kind.staff * kind.count
    return total


def _entry_level(model: Any, t: RunTables) -> np.ndarray:
    """Level of each request's first visit that was not a misrouted bounce."""
    return model.structure.unit_level[t.leg_unit[t.first_real_leg]].astype(np.int64)


def _flows(model: Any, t: RunTables, done: np.ndarray) -> dict[str, int]:
    """Resolved requests by (level entered, level solved): 'community>department': 1234."""
    entry = _entry_level(model, t)[done]
    solved = t.solved_level[done].astype(np.int64)
    pairs = np.bincount(entry * len(LEVELS) + solved, minlength=len(LEVELS) ** 2)
    return {f"{LEVELS[i // len(LEVELS)]}>{LEVELS[i % len(LEVELS)]}": int(c) for i, c in enumerate(pairs) if c}


def _grid_front_line(model: Any, t: RunTables, done: np.ndarray) -> float | None:
    """Of resolved matters that entered at a grid, the share settled there (E3's "matters settled
    on the front line"); None without grids."""
    grid = LEVELS.index("grid")
    entered = done & (_entry_level(model, t) == grid)
    return float((t.solved_level[entered] == grid).mean()) if entered.any() else None


def _bounces_by_level(model: Any, t: RunTables, in_window: np.ndarray) -> dict[str, int]:
    """Misrouted visits (sent back) by the level of the wrong unit."""
    legs_in = np.repeat(in_window, t.leg_count) & t.leg_bounce
    levels = model.structure.unit_level[t.leg_unit[legs_in]].astype(np.int64)
    counts = np.bincount(levels, minlength=len(LEVELS))
    return {LEVELS[i]: int(c) for i, c in enumerate(counts) if c}


def _cohort_days(model: Any, t: RunTables, lo: float, hi: float) -> dict[str, dict[str, float | None]]:
    """Mean days to resolution of the cohort created in the first half of the KPI window.

    Why: averaging only requests resolved by the end favours quick ones (long ones are still
    open); a cohort that had half the window to finish is far less censored, and the share of it
    still open says how much censoring is left."""
    cohort = (t.created >= lo) & (t.created < lo + (hi - lo) / 2)
    out = {}
    by_kind = _split(t.kind, cohort, [k.index for k in model.kinds])
    for kind in model.kinds:
        rows = by_kind[kind.index]
        resolved = rows[~np.isnan(t.resolved[rows])]
        days = (t.resolved[resolved] - t.created[resolved]) / DAY
        out[kind.name] = {"n": len(rows),
                          "mean": float(days.mean()) if len(days) else None,
                          "resolved_share": float(len(resolved) / len(rows)) if len(rows) else None}
    return out


def _backlog_by_day(model: Any) -> list[int]:
    """Open requests at each day's end, as collected (read from the collector's lists: its
    data-frame view would import pandas, 0.4 s of a run that needs nothing else of it)."""
    return [int(v) for v in model.datacollector.model_vars.get("open", [])]


def _backlog_growth(model: Any) -> float | None:
    """Slope of open requests over the second half of the run, per 100 days (0 when stable)."""
    series = np.array(_backlog_by_day(model), dtype=float)
    half = series[len(series) // 2:]
    if len(half) < 2:
        return None
    # least squares in closed form: np.polyfit's LAPACK call differs in the last bits between builds
    x = np.arange(len(half), dtype=float) - (len(half) - 1) / 2.0
    slope = float(np.dot(x, half - half.mean()) / np.dot(x, x))
    return slope * 100


def _mean(values: np.ndarray) -> float | None:
    return float(np.mean(values)) if len(values) else None


def _level_shares(levels: np.ndarray) -> dict[str, float]:
    counts = np.bincount(levels.astype(np.int64), minlength=len(LEVELS))
    total = counts.sum()
    return {name: (float(counts[i] / total) if total else 0.0) for i, name in enumerate(LEVELS)}


GRASSROOTS = ("personal", "incident", "dispute")
"""F13's denominator: grassroots problems (incidents, disputes) and services residents request
(personal matters). Not firm approvals or enforcement cases, which no community may decide."""


def _share_low(model: Any, t: RunTables, done: np.ndarray, high_frequency: bool,
               categories: tuple[str, ...] | None = None) -> float | None:
    """Share solved at community level or below: of high-frequency personal matters (F12), of
    the given categories (F13: ``GRASSROOTS``), or of everything but upper-government tasks."""
    if high_frequency:
        wanted = np.array([k.high_frequency for k in model.kinds])[t.kind]
    elif categories is not None:
        wanted = np.array([k.category in categories for k in model.kinds])[t.kind]
    else:
        wanted = np.array([k.category != "upper" for k in model.kinds])[t.kind]
    pick = done & wanted
    if not pick.any():
        return None
    return float(np.mean(t.solved_level[pick] <= LEVELS.index("community")))


def _open_minutes(model: Any, lo: float, hi: float) -> np.ndarray:
    """Working minutes of each unit in [lo, hi): its calendar's, plus overtime where decided."""
    return model.engine.unit_to_work(hi) - model.engine.unit_to_work(lo)


def _redeployment(model: Any) -> dict[str, Any]:
    """Staff moved between units (``behaviour.redeployment``): per pool, and the servers each
    pooled unit kind has at the end against its own."""
    rule, s = model.redeployment, model.structure
    now = model.engine.servers()
    out: dict[str, dict[str, int]] = {}
    for kind in s.kinds:
        if any(kind.first in units for units in rule.pools.values()):
            span = slice(kind.first, kind.first + kind.count)
            own, end = s.unit_servers[span], now[span]
            out[kind.name] = {"own": int(own.sum()), "end": int(end.sum()),
                              "units_above_own": int((end > own).sum())}
    return {"moves": len(model.engine.moves), "moves_by_pool": dict(rule.moved), "servers_end_by_kind": out}


def _server_minutes(model: Any, lo: float, hi: float) -> np.ndarray:
    """Open server minutes of each unit in [lo, hi): its servers x its working minutes, corrected
    for servers moved between units (``behaviour.redeployment``) from the move on."""
    out = _open_minutes(model, lo, hi) * model.structure.unit_servers
    moves = getattr(model.engine, "moves", [])
    if moves:
        end = model.engine.unit_to_work(hi)
        for t, source, target in moves:
            since = model.engine.unit_to_work(max(t, lo))
            out[source] -= end[source] - since[source]
            out[target] += end[target] - since[target]
    return out


def _duty_busy(model: Any, lo: float, hi: float) -> np.ndarray:
    """Server minutes of duties worked inside the window, per unit."""
    busy = np.zeros(model.structure.n_units)
    if not model.structure.unit_has_duties.any():
        return busy
    unit, begin, minutes = model.engine.duty_log()  # (a million entries a year: no copies)
    if len(unit):
        inside = begin + minutes
        np.minimum(inside, model.engine.unit_to_work(hi)[unit], out=inside)
        inside -= np.maximum(begin, model.engine.unit_to_work(lo)[unit])
        np.clip(inside, 0.0, None, out=inside)
        busy += np.bincount(unit, weights=inside, minlength=len(busy))
    return busy


def _busy_by_unit(model: Any, t: RunTables) -> np.ndarray:
    """Server minutes of work (requests and duties) per unit inside the window."""
    busy = np.bincount(t.leg_unit, weights=t.leg_busy, minlength=model.structure.n_units)
    return busy + t.duty_busy if model.structure.unit_has_duties.any() else busy


def _overtime_minutes(model: Any, lo: float, hi: float) -> np.ndarray:
    """Staff minutes of overtime per unit on days opening inside the window: each day's extension
    times the staff on duty (servers are whole; ``Structure.kind_on_duty`` is exact)."""
    structure = model.structure
    out = np.zeros(structure.n_units)
    on_duty = structure.kind_on_duty[structure.unit_kind]
    for unit, (days, _, _, extra) in model.engine.workday_log().clocks.items():
        opening = days * DAY + structure.unit_calendar[unit].open
        out[unit] = extra[(opening >= lo) & (opening < hi)].sum() * on_duty[unit]
    return out


def _desk_backlog(model: Any) -> dict[str, Any]:
    """Desk work (documents, reports) still undone at the end, in staff hours, overall and per unit
    kind: what overtime could not absorb (a growing figure means the duties do not fit)."""
    structure = model.structure
    left = model.engine.workday_log().desk_left / structure.unit_service_factor / 60.0
    per_kind = np.bincount(structure.unit_kind, weights=left, minlength=len(structure.kinds))
    return {"overall": float(per_kind.sum()),
            "by_unit": {k.name: float(per_kind[i]) for i, k in enumerate(structure.kinds) if k.duties}}


def _utilisation(model: Any, t: RunTables, lo: float, hi: float) -> dict[str, float]:
    """Busy server minutes (requests and duties) / open server minutes (overtime included) in the
    KPI window, overall and by level."""
    structure = model.structure
    capacity = _server_minutes(model, lo, hi)
    busy = _busy_by_unit(model, t)
    out = {"overall": float(busy.sum() / capacity.sum()) if capacity.sum() > 0 else None}
    for i, level in enumerate(LEVELS):
        pick = structure.unit_level == i
        if pick.any() and capacity[pick].sum() > 0:
            out[level] = float(busy[pick].sum() / capacity[pick].sum())
    return out


def _per_head_week(model: Any, per_unit_minutes: np.ndarray, lo: float, hi: float) -> dict[str, Any]:
    """Staff minutes per unit -> hours per staff member per week, overall, by level and unit kind."""
    structure = model.structure
    weeks = (hi - lo) / (7 * DAY)
    per_kind = np.bincount(structure.unit_kind, weights=per_unit_minutes, minlength=len(structure.kinds))
    headcount = np.array([k.staff * k.count for k in structure.kinds], dtype=float)
    if getattr(model.engine, "moves", None):  # staff moved between kinds: heads over time
        kinds = len(structure.kinds)
        actual = np.bincount(structure.unit_kind, weights=_server_minutes(model, lo, hi), minlength=kinds)
        nominal = np.bincount(structure.unit_kind, minlength=kinds,
                              weights=_open_minutes(model, lo, hi) * structure.unit_servers)
        headcount *= np.divide(actual, nominal, out=np.ones(kinds), where=nominal > 0)
    level = np.array([LEVELS.index(k.level) for k in structure.kinds])

    def hours(minutes: float, people: float) -> float | None:
        return float(minutes / 60.0 / people / weeks) if people > 0 and weeks > 0 else None

    return {"overall": hours(per_kind.sum(), headcount.sum()),
            "by_level": {lv: hours(per_kind[level == i].sum(), headcount[level == i].sum())
                         for i, lv in enumerate(LEVELS) if np.any(level == i)},
            "by_unit": {k.name: hours(per_kind[i], headcount[i]) for i, k in enumerate(structure.kinds)}}


def _hours_worked(model: Any, t: RunTables, lo: float, hi: float) -> dict[str, Any]:
    """Hours of work per staff member per week in the KPI window, overall, by level and by unit
    kind: requests and duties (server minutes turned back into staff minutes with
    ``unit_service_factor``). Without duties this is request work alone, far below a real week."""
    structure = model.structure
    work = _busy_by_unit(model, t) / structure.unit_service_factor
    return _per_head_week(model, work, lo, hi)


def _hours_at_work(model: Any, lo: float, hi: float) -> dict[str, Any]:
    """Hours at work per staff member per week: the contract less leave, plus overtime (W1 and W2
    report these: presence, not only busy time)."""
    structure = model.structure
    weeks = (hi - lo) / (7 * DAY)
    contract = np.array([k.contract_hours_at_work * k.staff for k in structure.kinds])[structure.unit_kind]
    return _per_head_week(model, contract * 60.0 * weeks + _overtime_minutes(model, lo, hi), lo, hi)


def _upward_burden(model: Any, t: RunTables, lo: float, hi: float) -> dict[str, float | int | None]:
    """How much the upper government weighs on the cadres who answer it (M1): the department
    units that handle upper-task functions, their staff, and per cadre the upper divisions they
    face and the upper tasks they receive a year."""
    cadres = _staff_handling(model, ("upper",), steps_only=False)
    functions = {f for kind in model.kinds if kind.category == "upper" for f in kind.functions}
    facing = [k.name for k in model.structure.kinds if k.level == "department"
              and set(model.structure.unit_config[k.name]["functions"]) & functions]
    upper = CATEGORIES.index("upper")
    years = (hi - lo) / DAY / 365.0
    tasks = int(((t.category == upper) & (t.created >= lo) & (t.created < hi)).sum())
    divisions = model.config["population"]["upper_divisions"]
    return {"facing_units": len(facing), "cadres": cadres,
            "divisions_per_cadre": divisions / cadres if cadres else None,
            "tasks_per_cadre_per_year": tasks / years / cadres if cadres and years > 0 else None}


def _utilisation_by_unit(model: Any, t: RunTables, lo: float, hi: float) -> dict[str, float | None]:
    """Busy / open server minutes per unit kind: where the load sits (org map, bottlenecks)."""
    structure = model.structure
    capacity = np.bincount(structure.unit_kind, weights=_server_minutes(model, lo, hi),
                           minlength=len(structure.kinds))
    busy = np.bincount(structure.unit_kind[t.leg_unit], weights=t.leg_busy, minlength=len(structure.kinds))
    if structure.unit_has_duties.any():
        busy = busy + np.bincount(structure.unit_kind, weights=t.duty_busy, minlength=len(structure.kinds))
    return {k.name: (float(busy[i] / capacity[i]) if capacity[i] > 0 else None)
            for i, k in enumerate(structure.kinds)}


def _sla(model: Any, t: RunTables, lo: float, hi: float) -> dict[str, dict[str, float | None]]:
    """Per request kind with an SLA: share of requests whose outcome is known that met it."""
    out: dict[str, dict[str, float | None]] = {}
    on_scene = _primary_start(t) if any(k.sla_measure == "on_scene" for k in model.kinds) else None
    first_real = t.first_real_leg
    for kind in model.kinds:
        if kind.sla_hours is None:
            continue
        target = kind.sla_hours * 60.0
        pick = (t.kind == kind.index) & (t.created >= lo) & (t.created + target <= hi)
        if kind.sla_measure == "on_scene":
            measure = on_scene[pick] + t.leg_travel[first_real[pick]] - t.created[pick]
        else:
            measure = t.resolved[pick] - t.created[pick]
        met = np.nan_to_num(measure, nan=np.inf) <= target
        out[f"{kind.name}_{kind.sla_measure}_{kind.sla_hours:g}h"] = {
            "target_hours": kind.sla_hours, "n": int(pick.sum()),
            "attainment": float(met.mean()) if pick.any() else None,
            "median_hours": float(np.nanmedian(measure) / 60.0) if np.any(~np.isnan(measure)) else None,
        }
    return out


def _primary_start(t: RunTables) -> np.ndarray:
    """Service start of each request's first real visit (NaN where it was not reached)."""
    first_real = t.first_real_leg
    return np.where(np.isnan(t.leg_arrive[first_real]), np.nan, t.leg_start[first_real])


def flatten(kpis: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """Nested KPIs -> {'a.b.c': number}; lists (time series) are left out."""
    out: dict[str, float] = {}
    for key, value in kpis.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, f"{name}."))
        elif isinstance(value, (bool, int | float)):
            out[name] = float(value)
        elif value is None:
            out[name] = math.nan
    return out


MIN_CYCLE_REQUESTS = 30  # a kind with fewer requests in the window says little about its cycle


def warmup_check(warmup_days: float, by_kind: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Whether the warm-up covered the slowest cycle: the largest Kaplan-Meier median resolution
    (calendar days) over kinds with at least ``MIN_CYCLE_REQUESTS`` in the window. A warm-up
    shorter than that starts the KPIs while the slowest matters still find the empty queues of
    day 0, so their times (and everything that waits on them) come out too short."""
    medians = {k: v["median"] for k, v in by_kind.items()
               if v["n"] >= MIN_CYCLE_REQUESTS and v["median"] is not None}
    if not medians:
        return {"days": warmup_days, "slowest_cycle_days": None, "slowest_kind": None, "covers": None}
    kind = max(medians, key=medians.__getitem__)
    return {"days": warmup_days, "slowest_cycle_days": medians[kind], "slowest_kind": kind,
            "covers": bool(warmup_days >= medians[kind])}
