"""What the explorer page does, without the page: settings -> scenario -> a run watched as it goes.

Why apart from the page: everything a planner sets in the browser becomes an ordinary scenario
(a raw dict built and validated exactly as ``run.py run`` builds a file), so a bad setting gets
the command line's one-line message, and the scenario file the page offers for download
reproduces the page's numbers for the same seed. The page (``sim.explore.app``) only draws.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sim.city.model import GovernanceModel
from sim.engine.calendars import DAY
from sim.experiments.attribution import prune_pools
from sim.experiments.ranges import AssumedRange, scenario_ranges
from sim.outputs.kpis import build_tables, compute_kpis
from sim.outputs.map_shapes import map_shapes
from sim.report.map_figures import flat_rings
from sim.scenario.loading import build_scenario, read_raw
from sim.scenario.overrides import apply_overrides
from sim.scenario.reforms import REFORMS
from sim.scenario.toml_writer import dumps

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
PRESETS = ("township", "longgang-2019", "longgang-2021", "staff-cut-only")
REFERENCE = "longgang-2021"  # where a reform the chosen scenario lacks takes its parameters from
STAFF_LEVELS = ("grid", "community", "township", "district", "department", "leadership")


@dataclass(frozen=True)
class ReformOption:
    """A reform the page can toggle: whether the scenario has it, and its parameters as the
    scenario (or the reference city, or the reform's defaults) sets them."""

    name: str
    summary: str
    facts: str
    on: bool
    entry: dict[str, Any]  # the [[reforms]] table as it would be written
    numbers: dict[str, float]  # its scalar numeric parameters: what the page lets one change


@dataclass
class Settings:
    """Everything the page sets. ``overrides`` are dotted scenario keys, as ``--set`` takes them."""

    scenario: str
    reforms: dict[str, bool] = field(default_factory=dict)
    numbers: dict[str, dict[str, float]] = field(default_factory=dict)
    staff_share: dict[str, float] = field(default_factory=dict)  # level -> multiplier (1 = as is)
    overrides: dict[str, Any] = field(default_factory=dict)
    scale: float = 0.01
    days: int = 365
    seed: int = 1


def scenario_path(name_or_path: str) -> Path:
    """A preset's name (``township``) or a scenario file's path."""
    if name_or_path in PRESETS:
        return SCENARIOS / f"{name_or_path}.toml"
    return Path(name_or_path).expanduser()


def _numbers(entry: dict[str, Any]) -> dict[str, float]:
    return {k: v for k, v in entry.items()
            if k != "name" and isinstance(v, int | float) and not isinstance(v, bool)}


def reform_menu(name_or_path: str) -> list[ReformOption]:
    """Every registered reform, in the order reforms apply: the scenario's own order first, then
    the reference city's, then the rest. Raises ``ScenarioError`` for a file that cannot be read."""
    path = scenario_path(name_or_path)
    own = {r["name"]: r for r in read_raw(path).get("reforms", []) if isinstance(r, dict)}
    reference = {r["name"]: r for r in read_raw(SCENARIOS / f"{REFERENCE}.toml").get("reforms", [])}
    order = list(own) + [n for n in reference if n not in own] + [n for n in REFORMS
                                                                  if n not in own and n not in reference]
    options = []
    for name in order:
        if name not in REFORMS:
            continue  # an unknown name: building the scenario reports it
        spec = REFORMS[name]
        entry = copy.deepcopy(own.get(name) or reference.get(name)
                              or {"name": name, **{k: f.default for k, f in spec.params.items()
                                                   if f.kind in ("int", "number")
                                                   and isinstance(f.default, int | float)}})
        options.append(ReformOption(name, spec.summary, spec.facts, name in own, entry, _numbers(entry)))
    return options


def raw_scenario(settings: Settings) -> dict[str, Any]:
    """The settings as a raw scenario dict (not yet validated): the file's settings, the chosen
    reforms with their numbers, staff multipliers as ``staff_share`` reforms, then overrides."""
    path = scenario_path(settings.scenario)
    raw = read_raw(path)
    raw.pop("calibration", None)  # its values are already in raw; a reload must not re-apply them
    menu = {o.name: o for o in reform_menu(settings.scenario)}
    chosen = []
    for name, option in menu.items():
        if settings.reforms.get(name, option.on):
            entry = copy.deepcopy(option.entry)
            entry.update(settings.numbers.get(name, {}))
            chosen.append(entry)
    for level in STAFF_LEVELS:
        share = settings.staff_share.get(level, 1.0)
        if share != 1.0:
            chosen.append({"name": "staff_share", "share": float(share), "levels": [level]})
    raw["reforms"] = chosen  # staff multipliers last: they scale the structure the reforms built
    sim = raw.setdefault("simulation", {})
    sim.update({"scale": float(settings.scale), "days": int(settings.days), "seed": int(settings.seed)})
    raw = apply_overrides(raw, dict(settings.overrides), str(path))
    prune_pools(raw, str(path))
    return raw


def build(settings: Settings) -> dict[str, Any]:
    """The validated scenario; a bad setting raises ``ScenarioError`` (one line, as on the
    command line)."""
    return build_scenario(raw_scenario(settings), str(scenario_path(settings.scenario)))


def scenario_file(settings: Settings) -> str:
    """A self-contained scenario file of the settings (no ``extends``: it loads from anywhere):
    ``run.py run FILE`` reproduces the page's run for the same seed."""
    raw = raw_scenario(settings)
    build_scenario(copy.deepcopy(raw), str(scenario_path(settings.scenario)))  # refuse to write a bad one
    on = [r["name"] for r in raw.get("reforms", [])]
    header = (f"# Written by the explorer from {settings.scenario}: reforms {', '.join(on) or 'none'}.\n"
              "# Self-contained (its parents' settings and calibrated values are written in).\n")
    return header + dumps(raw)


def assumptions(name_or_path: str) -> list[AssumedRange]:
    """The scenario's ranged assumptions (``# assumed: ... (range LOW-HIGH)``): the page's
    sliders for key assumptions, within the ranges the files give."""
    ranges, _ = scenario_ranges(scenario_path(name_or_path))
    return [r for k, r in sorted(ranges.items()) if not k.startswith("reforms.")]


@dataclass
class Series:
    """Day-by-day series of a run (the model's DataCollector columns and two from the log)."""

    day: list[int] = field(default_factory=list)
    open: list[int] = field(default_factory=list)
    created: list[int] = field(default_factory=list)
    resolved: list[int] = field(default_factory=list)
    staff_hours: list[float] = field(default_factory=list)  # staff hours on requests finished that day
    resolution_hours: list[float] = field(default_factory=list)  # mean over matters resolved that day


class Watch:
    """A run stepped a few days at a time, planned as one run of ``days`` (same results as
    ``run.py run``), with its series and, at the end, its KPIs.

    Args:
        scenario: a validated scenario dict (``build``).
    """

    def __init__(self, scenario: dict[str, Any]) -> None:
        self.scenario = scenario
        self.days = int(scenario["simulation"]["days"])
        self.model = GovernanceModel(scenario)
        self.series = Series()
        self.kpis: dict[str, Any] | None = None
        self.rings: tuple[list[np.ndarray], np.ndarray] | None = None  # the map's communities, drawn once
        self._follow_up = np.array([k.category == "follow_up" for k in self.model.kinds] + [False])

    @property
    def done(self) -> bool:
        return self.model.day >= self.days

    def advance(self, days: int) -> None:
        """Simulate up to ``days`` more days and extend the series; KPIs once the run ends."""
        first = self.model.day
        days = min(days, self.days - first)
        if days <= 0:
            return
        self.model.run(days, until=self.days)
        frame = self.model.datacollector.get_model_vars_dataframe()
        log, service = self.model.engine.log(), self.model.engine.leg_service()
        requests = self.model.requests()
        end = first + days
        hours = _per_day(log.leg_end, service / 60.0, first, end)
        original = ~self._follow_up[requests.kind]
        resolved = original & ~np.isnan(log.ready)
        count = _per_day(log.ready[resolved], np.ones(int(resolved.sum())), first, end)
        waited = _per_day(log.ready[resolved], (log.ready - requests.created)[resolved] / 60.0, first, end)
        for day in range(first, end):
            row = frame.iloc[day]
            self.series.day.append(day + 1)
            self.series.open.append(int(row["open"]))
            self.series.created.append(int(row["created"]))
            self.series.resolved.append(int(row["resolved"]))
            self.series.staff_hours.append(float(hours[day - first]))
            n = count[day - first]
            self.series.resolution_hours.append(float(waited[day - first] / n) if n else float("nan"))
        if self.done:
            self.kpis = compute_kpis(self.model, build_tables(self.model))


def _per_day(times: np.ndarray, weights: np.ndarray, first: int, end: int) -> np.ndarray:
    """Sum of ``weights`` by the day their time falls in, for days first..end-1."""
    day = np.floor(np.nan_to_num(times, nan=-DAY) / DAY).astype(np.int64)
    pick = (day >= first) & (day < end)
    return np.bincount(day[pick] - first, weights=weights[pick], minlength=end - first)


def map_snapshot(watch: Watch) -> tuple[list[np.ndarray], np.ndarray] | None:
    """Community rings and open requests per 1,000 residents in each now (None on the line)."""
    model = watch.model
    city = model.structure.city_map
    if city is None:
        return None
    if watch.rings is None:
        watch.rings = flat_rings(map_shapes(model)["layers"].get("community", []))
    rings, owner = watch.rings
    if not rings:
        return None
    now = model.day * DAY
    requests = model.requests()
    ready = model.engine.log().ready
    open_now = (requests.created < now) & (np.isnan(ready) | (ready > now)) & ~watch._follow_up[requests.kind]
    community = city.community
    area = community.of_leaf[requests.location[open_now].astype(np.int64)]
    counts = np.bincount(area, minlength=len(community))
    per_1000 = np.where(community.residents > 0, counts / np.maximum(community.residents, 1) * 1000, np.nan)
    return rings, per_1000[owner]


def format_headline(figures: dict[str, float | None]) -> dict[str, str]:
    """The headline as the page prints it (the browser test reads these strings)."""
    out = {}
    for label, value in figures.items():
        if value is None:
            out[label] = "-"
        elif "share" in label or "utilisation" in label:
            out[label] = f"{value:.2%}"
        elif isinstance(value, int):
            out[label] = f"{value:,}"
        else:
            out[label] = f"{value:,.3f}"
    return out


def headline(kpis: dict[str, Any]) -> dict[str, float | None]:
    """The figures the page shows for a finished run (and the test compares with ``run.py run``)."""
    def km(key: str, group: str) -> float | None:
        return ((kpis.get(key) or {}).get(group) or {}).get("median")
    return {
        "requests created": kpis["requests_created"],
        "requests open at the end": kpis["requests_open"],
        "personal matters, mean calendar h (resolved)":
            (kpis["resolution_hours"].get("personal") or {}).get("mean"),
        "personal matters, median working days": km("resolution_working_days_km", "personal"),
        "firm registration, median calendar days":
            km("resolution_days_km_by_kind", "firm_registration"),
        "share solved at community level or below": kpis["share_resolved_community_or_below"],
        "staff (headcount)": kpis["staff_total"],
        "government staff per 10,000 residents":
            kpis["per_capita"]["government_staff_per_10000_residents"],
        "overall staff utilisation": kpis["staff_utilisation"]["overall"],
        "staff cost, million CNY a year": kpis["staff_cost"] / 1e6,
    }
